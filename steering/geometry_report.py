"""Emotion geometry with selection and evaluation kept apart: the computations behind :mod:`steering.geometry_analysis`.

* :func:`vector_geometry` — per layer and method, vector reliability on the **selection** split (the
  strongest band is chosen from it) and on the **evaluation** split (the cosines, norms and probe accuracies
  that are reported). At the band centre an activation probe is trained on the selection split and scored on
  the evaluation split next to a bag-of-words probe and the lexicon rule, with ≥ 200 label shuffles, and on
  the implicit / trap sets when they exist.
* :func:`subspace_geometry` — per layer, overlaps of difference subspaces (two methods; adjacent layers) against
  label-shuffled and neutral-only nulls, with the old centred-PCA overlap and k/d beside them; the headline
  layer is chosen on the selection split and reported from the evaluation split.

"Neutral" is the reference label (``reference``: ``neutral`` for emotion, the attribute registry's reference label
otherwise, :mod:`interp.attributes`); ``labels`` gives the contrast labels' order, whose first two make the headline
cosine pair (gratitude ~ anger for emotion).
"""

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import partial
from pathlib import Path

import numpy as np

from interp.activations import extract_activations
from interp.datasets import EmotionDataset, EmotionRecord, load_profile
from interp.errors import DatasetError
from interp.hook_names import parse_hook
from interp.splits import split_dataset
from steering.probes import heldout_probe, probe_accuracy, text_baselines
from steering.reliability import pair_key, strongest_band, vector_reliability
from steering.subspace import overlap_vs_nulls
from steering.vectors import reference_rows

TRANSFER_SETS = ("implicit", "trap")


def _layer(h: str) -> int:
    layer = parse_hook(h)[0]
    return -1 if layer is None else layer


def load_transfer_sets(attribute: str = "emotion", language: str = "en") -> tuple[dict, list[str]]:
    """The ``implicit`` and ``trap`` profiles as ``{name: EmotionDataset}``, and a note per absent one.

    A set whose records are of another attribute or language than the study's is left out (with a note).
    """
    out, notes = {}, []
    for name in TRANSFER_SETS:
        try:
            ds = load_profile(name)
        except DatasetError:
            notes.append(f"{name} set not shipped yet: its probe numbers are skipped")
            continue
        kinds = sorted({f"{r.attribute}/{r.language}" for r in ds.records})
        if kinds != [f"{attribute}/{language}"]:
            notes.append(f"{name} set holds {', '.join(kinds)} sentences, not {attribute}/{language}: its probe numbers are skipped")
            continue
        out[name] = ds
    return out, notes


def transfer_rows(model, sets: dict, hook: str, method: str, work_dir, *, pairs=None, reference: str = "neutral") -> dict:
    """Extract ``sets`` with ``model`` at ``hook`` into ``work_dir`` and return ``{name: (rows, texts, labels)}``.

    ``token_matched`` needs reference sentences in the set; it falls back to ``token`` rows for sets without them.
    """
    out = {}
    for name, ds in sets.items():
        st = extract_activations(model, ds, work_dir / name, hooks=[hook], batch_size=32)
        mth = method if method != "token_matched" or st.labels.count(reference) >= 2 and len(set(st.labels)) > 1 else "token"
        out[name] = (reference_rows(st, hook, mth, pairs=pairs, reference=reference).numpy(), st.texts, st.labels)
    return out


def transfer_extractor(model: Callable[[], object], work_dir: Path, *, pairs: dict | None = None, reference: str = "neutral",
                       attribute: str = "emotion", language: str = "en") -> tuple[Callable | None, list[str]]:
    """The ``transfer`` argument of :func:`vector_geometry` (None when no set is shipped) and a note per absent set.

    ``model`` is called (once per use) for the model to extract the sets with; ``work_dir / method / set`` holds their stores.
    Only sets of ``attribute`` in ``language`` are used (:func:`load_transfer_sets`).
    """
    sets, notes = load_transfer_sets(attribute, language)
    if not sets:
        return None, notes
    return (lambda h, mth: transfer_rows(model(), sets, h, mth, work_dir / mth, pairs=pairs, reference=reference)), notes


@dataclass(frozen=True)
class VectorGeometry:
    """Band chosen on the selection split; per-layer reliability and probes on the evaluation split; headline probes.

    ``pair``: the headline cosine pair (the first two contrast labels; ``""`` with a single label).
    """

    band: list[int]
    centre: int
    band_method: str
    pair: str
    records: list[dict]
    probes: list[dict]
    text_baselines: dict
    headline_probes: dict
    notes: list[str]
    n_selection: int
    n_evaluation: int

    def to_dict(self) -> dict:
        return {"band": self.band, "centre": self.centre, "band_method": self.band_method, "pair": self.pair,
                "band_rule": f"{self.band_method} signal ratio ||v||²/shuffled-label ||v||² on the selection split",
                "reported_from": "evaluation split", "records": self.records, "probes": self.probes,
                "text_baselines": self.text_baselines, "headline_probes": self.headline_probes, "notes": self.notes,
                "n_selection": self.n_selection, "n_evaluation": self.n_evaluation}


def vector_geometry(store, hooks: list[str], *, selection: list[int], evaluation: list[int], methods: list[str],
                   contrasts: tuple[str, ...] = ("neutral",), n_boot: int = 200, n_splits: int = 20, n_shuffle: int = 30,
                   folds: int = 5, layer_probe_shuffles: int = 1, probe_shuffles: int = 200, band_width: int = 3,
                   seed: int = 0, pairs: dict | None = None, transfer=None, progress=None, reference: str = "neutral",
                   labels: Sequence[str] | None = None, find=None, language: str = "en") -> VectorGeometry:
    """Vectors, reliability, band and probes with selection / evaluation kept apart (module docstring).

    Args:
        store: an :class:`~interp.activations.ActivationStore`.
        hooks: hooks of one kind, in layer order (the band is a run of consecutive entries).
        selection, evaluation: disjoint sentence indices into the store.
        transfer: ``callable(hook, method) -> {name: (rows, texts, labels)}`` for the implicit / trap sets, or None.
        reference: the reference label; ``labels``: the contrast labels in registry order (default first-seen order);
            ``find``: the lexicon rule's finder (:func:`steering.probes.lexicon_rule`); ``language``: the sentences' (BoW probe).
    """
    if set(selection) & set(evaluation):
        raise DatasetError(f"selection and evaluation share {len(set(selection) & set(evaluation))} sentence(s); use disjoint splits")
    order, (labels, texts) = labels, (store.labels, store.texts)
    lab_s, lab_e = [labels[i] for i in selection], [labels[i] for i in evaluation]
    records, probes, rows_cache = [], [], {}
    total, done = len(hooks) * len(methods), 0
    for h in hooks:
        for mth in methods:
            rows = reference_rows(store, h, mth, pairs=pairs, reference=reference)
            rows_cache[(h, mth)] = rows
            sel = vector_reliability(rows[selection], lab_s, contrast=reference, n_boot=10, n_splits=1, n_shuffle=n_shuffle, seed=seed,
                                     reference=reference)
            for con in contrasts:
                ev = vector_reliability(rows[evaluation], lab_e, contrast=con, n_boot=n_boot, n_splits=n_splits, n_shuffle=n_shuffle,
                                        seed=seed, reference=reference)
                records.append({"hook": h, "layer": _layer(h), "method": mth, "contrast": con, "split": "evaluation",
                                "selection_signal_ratio": sel.signal_ratio(), "reliability": ev.to_dict()})
            pr = probe_accuracy(rows[evaluation].numpy(), lab_e, folds=folds, n_shuffle=layer_probe_shuffles, seed=seed)
            probes.append({"hook": h, "layer": _layer(h), "method": mth, "split": "evaluation (cross-validated)", "probe": pr.to_dict()})
            done += 1
            if progress:
                progress(done, total + len(methods))
    band_method = "sentence_end" if "sentence_end" in methods else methods[0]
    sig = [r for r in records if r["method"] == band_method and r["contrast"] == contrasts[0]]
    band = strongest_band([r["selection_signal_ratio"] for r in sig], [r["layer"] for r in sig], width=band_width)
    centre = band[len(band) // 2]
    pair = headline_pair(sig[0]["reliability"]["emotions"], order)
    tb = text_baselines([texts[i] for i in evaluation], lab_e, folds=folds, seed=seed, find=find, reference=reference, language=language)
    centre_hook = next(r["hook"] for r in sig if r["layer"] == centre)
    heads, notes = {}, []
    for mth in methods:
        rows = rows_cache[(centre_hook, mth)]
        extra = transfer(centre_hook, mth) if transfer is not None else {}
        hp = heldout_probe(rows[selection].numpy(), lab_s, [texts[i] for i in selection], rows[evaluation].numpy(), lab_e,
                           [texts[i] for i in evaluation], extra=extra, n_shuffle=probe_shuffles, seed=seed, find=find,
                           reference=reference, language=language)
        heads[mth] = {"hook": centre_hook, "layer": centre, "trained_on": "selection split", "scored_on": "evaluation split",
                      **hp.to_dict()}
        done += 1
        if progress:
            progress(done, total + len(methods))
    return VectorGeometry(band=band, centre=centre, band_method=band_method, pair=pair, records=records, probes=probes,
                         text_baselines={"split": "evaluation (same folds as the per-layer probes)", **tb.to_dict()},
                         headline_probes=heads, notes=notes, n_selection=len(selection), n_evaluation=len(evaluation))


def headline_pair(present: Sequence[str], order: Sequence[str] | None = None) -> str:
    """The headline cosine pair: the first two of ``present`` in ``order`` (the registry's contrast labels), else in
    ``present`` order; ``""`` when fewer than two labels."""
    ranked = [e for e in (order or ()) if e in present] + [e for e in present if e not in (order or ())]
    return pair_key(ranked[0], ranked[1]) if len(ranked) >= 2 else ""


@dataclass(frozen=True)
class SubspaceGeometry:
    """Per-layer overlaps (evaluation split) and the headline layer chosen on the selection split."""

    k: int
    records: list[dict]
    headline_layer: int
    headline: dict
    n_selection: int
    n_evaluation: int

    def to_dict(self) -> dict:
        return {"k": self.k, "records": self.records, "headline_layer": self.headline_layer, "headline": self.headline,
                "headline_rule": "layer with the largest methods-overlap excess over the label-shuffled null on the selection split",
                "reported_from": "evaluation split", "n_selection": self.n_selection, "n_evaluation": self.n_evaluation}


def subspace_geometry(store, hooks: list[str], *, selection: list[int], evaluation: list[int], k: int = 10,
                    methods: tuple[str, str] = ("sentence_end", "token_matched"), layer_shuffles: int = 20,
                    n_shuffle: int = 100, n_boot: int = 20, seed: int = 0, pairs: dict | None = None, progress=None,
                    reference: str = "neutral") -> SubspaceGeometry:
    """Difference-subspace overlaps vs label-shuffled and reference-only nulls (module docstring)."""
    labels = store.labels
    lab_s, lab_e = [labels[i] for i in selection], [labels[i] for i in evaluation]
    a_m, b_m = methods
    views = {h: {m: reference_rows(store, h, m, pairs=pairs, reference=reference) for m in methods} for h in hooks}
    ovn = partial(overlap_vs_nulls, reference=reference)
    recs, excess_sel = [], []
    for i, h in enumerate(hooks):
        va, vb = views[h][a_m], views[h][b_m]
        sel = ovn(va[selection], vb[selection], lab_s, k, n_shuffle=layer_shuffles, seed=seed)
        excess_sel.append(sel.excess)
        rec = {"hook": h, "layer": _layer(h), "selection_excess": sel.excess,
               f"overlap_{a_m}_vs_{b_m}": ovn(va[evaluation], vb[evaluation], lab_e, k, n_shuffle=layer_shuffles, seed=seed).to_dict()}
        if i + 1 < len(hooks):
            nxt = views[hooks[i + 1]][a_m]
            rec["overlap_next_layer"] = {"next": hooks[i + 1], **ovn(va[evaluation], nxt[evaluation], lab_e, k,
                                                                     n_shuffle=layer_shuffles, seed=seed).to_dict()}
        recs.append(rec)
        if progress:
            progress(i + 1, len(hooks) + 1)
    best = int(np.argmax(excess_sel))
    h = hooks[best]
    head = {"layer": _layer(h), "hook": h, "split": "evaluation",
            "methods": ovn(views[h][a_m][evaluation], views[h][b_m][evaluation], lab_e, k, n_shuffle=n_shuffle,
                           n_boot=n_boot, seed=seed).to_dict()}
    if best + 1 < len(hooks):
        head["next_layer"] = ovn(views[h][a_m][evaluation], views[hooks[best + 1]][a_m][evaluation], lab_e, k,
                                 n_shuffle=n_shuffle, n_boot=n_boot, seed=seed).to_dict()
    if progress:
        progress(len(hooks) + 1, len(hooks) + 1)
    return SubspaceGeometry(k=k, records=recs, headline_layer=_layer(h), headline=head, n_selection=len(selection),
                          n_evaluation=len(evaluation))


def store_split(store, *, fraction: float = 0.5, seed: int = 0, records=None) -> tuple[list[int], list[int], dict]:
    """Selection / evaluation indices into ``store`` by :func:`interp.splits.split_dataset` (pairs kept together).

    ``records`` (the dataset's records, aligned with the store) carry ``pair_id`` when present; without them the
    records are rebuilt from the store's ids, texts and labels.
    """
    recs = tuple(records) if records is not None else tuple(
        EmotionRecord(i, t, lab) for i, t, lab in zip(store.ids, store.texts, store.labels))
    sp = split_dataset(EmotionDataset(recs, str(store.path)), fraction=fraction, seed=seed)
    return sp.indices("selection", store.ids), sp.indices("evaluation", store.ids), sp.describe()
