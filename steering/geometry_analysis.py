"""One entry point per geometry analysis — emotion vectors, difference subspaces, cross-model alignment — each
returning a typed :class:`~interp.report_types.AnalysisReport`.

``emotion-circuits vectors | subspace | align`` and the study phases 3 / 3.5 are thin adapters over
:func:`vectors_analysis`, :func:`subspace_analysis` and :func:`align_analysis`: both ``save`` the same report, so
they write the same ``results.json`` and figures by construction. Every entry point runs with one torch thread:
it multiplies small matrices many times, where extra threads only contend.
"""

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from interp.errors import ConfigError
from interp.hook_names import hook_kind
from interp.report_types import AnalysisReport, Headline, Table
from interp.stats import Estimate
from interp.threads import torch_threads
from steering import geometry_figures as gf
from steering.geometry_figures import ci_text
from steering.geometry_report import SubspaceGeometry, VectorGeometry, subspace_geometry, vector_geometry
from steering.reliability import pair_key
from steering.store_alignment import StoreAlignment, align_stores, hook_layer, strongest_layer
from steering.vectors import METHODS, EmotionVector, compute_emotion_vectors, save_vectors

VECTORS_SUBDIR = "vectors"
"""Folder of a vectors run (CLI run folder or study phase folder) holding ``{method}_{contrast}.safetensors``."""
BEFORE_NOTE = ("cos² before = A's and B's vectors zero-padded/truncated to max(d_a, d_b); across models this is a coordinate "
               "coincidence, compare 'after' with the random-map and shuffled-pairs baselines")


def _est(d: dict) -> Estimate:
    return Estimate(d["value"], d["lo"], d["hi"])


def hooks_of_kind(store, kind: str) -> list[str]:
    """The store's hooks whose kind (or full name) is ``kind``, in store order."""
    return [h for h in store.hooks if (hook_kind(h) or h) == kind]


@dataclass(frozen=True)
class VectorsReport(AnalysisReport):
    """Band, per-layer reliability and probes (:class:`~steering.geometry_report.VectorGeometry`) and the saved vectors.

    ``vectors``: ``{file stem "{method}_{contrast}": vectors from every sentence}``, written under ``vectors/``.
    """

    geometry: VectorGeometry
    hook: str
    methods: tuple[str, ...]
    contrasts: tuple[str, ...]
    n_boot: int
    split: dict
    notes: list[str]
    vectors: dict[str, list[EmotionVector]]

    def results(self) -> dict:
        return {**self.geometry.to_dict(), "split": self.split, "notes": self.notes}

    def figures(self) -> dict:
        g = self.geometry
        return {"norm_profiles": gf.norm_profile_figure(g.records), "probe_accuracy": gf.probe_figure(g.probes),
                "cosine_heatmaps": gf.cosine_heatmaps(gf.centre_cosine_matrices(g.records, g.centre))}

    def headline(self) -> list[Headline]:
        g, out = self.geometry, []
        for mth, hp in g.headline_probes.items():  # the summary leads with the probe vs its text baselines
            out.append(Headline.of(
                f"probe accuracy at band centre ({mth})", _est(hp["accuracy"]), p=hp["p_value"],
                baseline=f"bag of words {ci_text(hp['bow'])}; lexicon rule {ci_text(hp['lexicon_rule'])}; chance {hp['chance']:.3f}; "
                         f"shuffled {hp['shuffled']['value']:.3f}",
                note=f"layer {g.centre}; trained on selection ({hp['n_train']}), scored on evaluation ({hp['n_test']}); "
                     f"activation − BoW {ci_text(hp['activation_minus_bow'])}; {hp['n_shuffle']} label shuffles (p floor {hp['p_floor']:.3g})"))
            out += [Headline.of(f"probe on the {name} set ({mth}): {t['metric']}", _est(t["activation"]),
                                baseline=f"bag of words {ci_text(t['bow'])}; lexicon rule {ci_text(t['lexicon_rule'])}",
                                note=f"{t['n']} sentences; probe trained on the selection split") for name, t in hp["transfer"].items()]
        out.append(Headline("strongest band (layers)", f"{g.band[0]}–{g.band[-1]}",
                            note=f"{g.band_method} signal ratio ||v||²/shuffled-label ||v||² on the selection split, widest 3-layer band"))
        for r in g.records:
            if r["layer"] == g.centre and g.pair:
                c, n = r["reliability"]["cosine"][g.pair], r["reliability"]["cosine_null"][g.pair]
                which = r["method"] if len(self.contrasts) == 1 else f"{r['method']}, vs {r['contrast']}"
                out.append(Headline.of(f"cos {g.pair} at band centre ({which})", _est(c), baseline=f"shuffled labels {ci_text(n)}",
                                       note=f"layer {g.centre}; evaluation split"))
        return out

    def tables(self) -> list[Table]:
        g = self.geometry
        probe = {(p["hook"], p["method"]): p["probe"] for p in g.probes}
        rows = [[r["layer"], round(r["selection_signal_ratio"], 2),
                 *[round(r["reliability"]["norm"][e]["value"], 3) for e in r["reliability"]["emotions"]],
                 round(probe[r["hook"], r["method"]]["accuracy"]["value"], 3)]
                for r in g.records if r["method"] == g.band_method and r["contrast"] == self.contrasts[0]]
        emos = g.records[0]["reliability"]["emotions"]
        pairs = [pair_key(a, b) for i, a in enumerate(emos) for b in emos[i + 1:]]
        cos_rows = [[p, r["method"], r["contrast"], ci_text(r["reliability"]["cosine"][p]), ci_text(r["reliability"]["cosine_null"][p])]
                    for r in g.records if r["layer"] == g.centre for p in pairs]
        out = [Table(f"per layer ({g.band_method}; signal/null on selection, the rest on evaluation)",
                     ["layer", "signal/null (sel.)", *[f"‖{e}‖" for e in emos], "probe acc (CV)"], rows)]
        if cos_rows:
            out.append(Table(f"pairwise cosines at band centre (layer {g.centre}; evaluation split)",
                             ["pair", "method", "contrast", "cosine [95% CI]", "shuffled labels"], cos_rows))
        return out

    def text(self) -> str:
        g, tb = self.geometry, self.geometry.text_baselines
        return (f"Emotion vectors (emotion mean − {'/'.join(self.contrasts)} mean) at {self.hook} of {len({r['hook'] for r in g.records})} "
                f"layers, methods {', '.join(self.methods)}; band chosen on the selection split ({g.n_selection} sentences), every other "
                f"number from the evaluation split ({g.n_evaluation}); CIs from {self.n_boot} stratified bootstrap resamples. "
                f"Text baselines on the evaluation folds: bag of words {ci_text(tb['bow'])}, lexicon rule {ci_text(tb['lexicon_rule'])}. "
                + " ".join(self.notes))

    def save_extra(self, out: Path) -> None:
        for stem, vs in self.vectors.items():
            save_vectors(vs, Path(out) / VECTORS_SUBDIR / f"{stem}.safetensors")

    def summary(self) -> dict:
        """The base summary plus the strongest ``band`` and its ``centre`` layer."""
        return {**super().summary(), "band": self.geometry.band, "centre": self.geometry.centre}


@torch_threads(1)
def vectors_analysis(store, hooks: list[str], *, selection: list[int], evaluation: list[int], split: dict, methods: Sequence[str],
                     contrasts: Sequence[str] = ("neutral",), vector_hooks: list[str] | None = None, n_boot: int = 200,
                     n_splits: int = 20, n_shuffle: int = 30, folds: int = 5, layer_probe_shuffles: int = 1,
                     probe_shuffles: int = 200, band_width: int = 3, seed: int = 0, pairs: dict | None = None,
                     transfer: Callable | None = None, notes: Sequence[str] = (),
                     progress: Callable[[int, int], None] | None = None, reference: str = "neutral",
                     labels: Sequence[str] | None = None, find: Callable | None = None, language: str = "en") -> VectorsReport:
    """Emotion vectors, their reliability, the strongest band and probes (:func:`~steering.geometry_report.vector_geometry`).

    Args:
        store: an :class:`~interp.activations.ActivationStore`; ``hooks``: hooks of one kind, in layer order.
        selection, evaluation: disjoint sentence indices into the store; ``split``: their description for the results.
        vector_hooks: hooks whose vectors (every method in :data:`~steering.vectors.METHODS`, each of ``contrasts``,
            from every sentence) are saved; default ``hooks``.
        transfer, notes: :func:`~steering.geometry_report.transfer_extractor`'s pair (implicit / trap sets).
        reference, labels, find: the reference label, the contrast labels in registry order (their first two make the
            headline cosine) and the lexicon rule's finder (:mod:`interp.attributes`; defaults: English emotion); ``language``:
            the sentences' (the bag-of-words baseline's tokens).
    """
    geo = vector_geometry(store, hooks, selection=selection, evaluation=evaluation, methods=list(methods), contrasts=tuple(contrasts),
                          n_boot=n_boot, n_splits=n_splits, n_shuffle=n_shuffle, folds=folds, layer_probe_shuffles=layer_probe_shuffles,
                          probe_shuffles=probe_shuffles, band_width=band_width, seed=seed, pairs=pairs, transfer=transfer,
                          progress=progress, reference=reference, labels=labels, find=find, language=language)
    vectors = {f"{m}_{c}": [v for h in (vector_hooks or hooks)
                            for v in compute_emotion_vectors(store, h, method=m, contrast=c, pairs=pairs, reference=reference).values()]
               for m in METHODS for c in contrasts}
    return VectorsReport(geo, hook_kind(hooks[0]) or hooks[0], tuple(methods), tuple(contrasts), n_boot, split,
                         [*notes, *geo.notes], vectors)


@dataclass(frozen=True)
class SubspaceReport(AnalysisReport):
    """Per-layer difference-subspace overlaps of two views vs their nulls; the headline layer's (selection-chosen) overlaps."""

    geometry: SubspaceGeometry
    methods: tuple[str, str]
    layer_shuffles: int
    n_shuffle: int
    split: dict

    @property
    def key(self) -> str:
        return f"overlap_{self.methods[0]}_vs_{self.methods[1]}"

    def results(self) -> dict:
        return {**self.geometry.to_dict(), "methods": list(self.methods), "split": self.split}

    def figures(self) -> dict:
        a, b = self.methods
        bars = [{"label": f"L{r['layer']}", "overlap": r[self.key]} for r in self.geometry.records]
        return {"overlap": gf.nulled_overlap_bars(
            bars, title=f"{a} vs {b} difference subspaces per layer (k={self.geometry.k}, evaluation split)")}

    def headline(self) -> list[Headline]:
        h, out = self.geometry.headline, []
        for name, o in ((f"{self.methods[0]} and {self.methods[1]} subspaces", h["methods"]), ("adjacent layers' subspaces", h.get("next_layer"))):
            if o is not None:
                out.append(Headline.of(
                    f"overlap of {name} (layer {h['layer']})", _est(o["overlap"]), p=o["p_shuffled"],
                    baseline=f"label-shuffled {ci_text(o['shuffled_null'])}; neutral-only {ci_text(o['neutral_null'])} "
                             f"(p {o['p_neutral']:.3g}); old centred PCA {o['old_overlap']:.3f} vs random k/d {o['random_analytic']:.4f}",
                    note=f"evaluation split; layer chosen on the selection split; {o['n_shuffle']} null draws (p floor {o['p_floor']:.3g})"))
        return out

    def tables(self) -> list[Table]:
        def nxt(r: dict) -> str:
            o = r.get("overlap_next_layer")
            return ci_text(o["overlap"]) + f" (shuf {o['shuffled_null']['value']:.3f})" if o else "—"

        rows = [[r["layer"], ci_text(r[self.key]["overlap"]), ci_text(r[self.key]["shuffled_null"]), round(r[self.key]["p_shuffled"], 3),
                 ci_text(r[self.key]["neutral_null"]), round(r[self.key]["old_overlap"], 3), nxt(r)] for r in self.geometry.records]
        return [Table("per layer (evaluation split)", ["layer", "overlap methods", "label-shuffled null", "p", "neutral-only null",
                                                       "old overlap", "overlap next layer"], rows)]

    def text(self) -> str:
        return (f"Difference subspaces (k={self.geometry.k}): PCA with center=False of whitened emotion rows minus the neutral mean; "
                f"overlap = mean cos² of principal angles against label-shuffled and neutral-only subspaces at the same layer "
                f"({self.layer_shuffles} draws per layer, {self.n_shuffle} at the headline layer); 'old' is the centred emotion PCA "
                f"the study reported before (its only baseline was random k/d, which real activations beat by construction).")


@torch_threads(1)
def subspace_analysis(store, hooks: list[str], *, selection: list[int], evaluation: list[int], split: dict, k: int = 10,
                      methods: tuple[str, str] = ("sentence_end", "token_matched"), layer_shuffles: int = 20, n_shuffle: int = 100,
                      n_boot: int = 20, seed: int = 0, pairs: dict | None = None,
                      progress: Callable[[int, int], None] | None = None, reference: str = "neutral") -> SubspaceReport:
    """Difference-subspace overlaps vs label-shuffled and reference-only nulls (:func:`~steering.geometry_report.subspace_geometry`;
    ``reference``: the reference label, ``neutral`` for emotion)."""
    geo = subspace_geometry(store, hooks, selection=selection, evaluation=evaluation, k=k, methods=methods, layer_shuffles=layer_shuffles,
                            n_shuffle=n_shuffle, n_boot=n_boot, seed=seed, pairs=pairs, progress=progress, reference=reference)
    return SubspaceReport(geo, tuple(methods), layer_shuffles, n_shuffle, split)


@dataclass(frozen=True)
class AlignReport(AnalysisReport):
    """Ridge and Procrustes maps from model A's layer into model B's, judged on held-out neutral rows and emotion vectors."""

    alignment: StoreAlignment
    model_a: str
    model_b: str
    layer_a: int
    layer_b: int
    method: str

    def results(self) -> dict:
        return {**self.alignment.to_dict(), "model_a": self.model_a, "model_b": self.model_b, "layer_a": self.layer_a,
                "layer_b": self.layer_b, "split": {"layers_chosen_on": "selection", "emotion_vectors_judged_on": "evaluation"},
                "method": self.method, "before_note": BEFORE_NOTE}

    def figures(self) -> dict:
        res, where = self.alignment, f"{self.model_a} L{self.layer_a} → {self.model_b} L{self.layer_b}"
        figs = {f"alignment_{k}": gf.alignment_bars(ev.to_dict(), title=f"{where} ({k})") for k, ev in res.evaluations.items()}
        bars = [{"label": "before (zero-padded)", "overlap": res.evaluations["ridge"].overlap_before}]
        bars += [{"label": f"after {k}", "overlap": ev.overlap_after} for k, ev in res.evaluations.items()]
        return {**figs, "overlap": gf.overlap_bars(bars, title=f"emotion subspace overlap {where} (k={res.evaluations['ridge'].k})")}

    def headline(self) -> list[Headline]:
        ridge = self.alignment.evaluations["ridge"]
        out = [Headline.of(f"cos² {e} after ridge map", ridge.cos2_after[e],
                           baseline=f"before {ridge.cos2_before[e].value:.3f}; random map {ridge.cos2_random_map[e].value:.3f}; "
                                    f"shuffled pairs {ridge.cos2_shuffled_pairs[e].value:.3f}") for e in ridge.emotions]
        ov = ridge.overlap_after
        out.append(Headline.of(f"subspace overlap after ridge (k={ridge.k})", _est(ov["overlap"]),
                               baseline=f"before {ridge.overlap_before['overlap']['value']:.3f}; random k/d {ov['random_analytic']:.4f}"))
        return out

    def tables(self) -> list[Table]:
        res = self.alignment
        rows = [[k, round(ev.heldout_r2, 3), round(ev.mean_after(), 3), round(res.checks[k]["mean_cos2_in_span"], 4),
                 res.checks[k]["passed"]] for k, ev in res.evaluations.items()]
        return [Table("maps", ["map", "held-out R²", "mean cos² after", "self-check cos² in span", "self-check passed"], rows)]

    def text(self) -> str:
        res = self.alignment
        return (f"{self.model_a} L{self.layer_a} (d={res.d_a}) → {self.model_b} L{self.layer_b} (d={res.d_b}); maps fitted on "
                f"{res.n_neutral_train} neutral sentences, judged on {res.n_neutral_test} held-out neutral sentences and "
                f"{res.n_emotion_sentences} evaluation-split emotion sentences (layers chosen on the selection split). "
                "'Before' pads the vectors to a common size: a coordinate coincidence.")


def _hook_at(hooks: list[str], layer: int, kind: str) -> str:
    hit = [h for h in hooks if hook_layer(h) == layer]
    if not hit:
        raise ConfigError(f"layer {layer} is not in the stored {kind} layers {[hook_layer(h) for h in hooks]}; "
                          "choose one of them (or leave the layer unset to choose the strongest)")
    return hit[0]


@torch_threads(1)
def align_analysis(sa, sb, *, hook: str = "resid_post", layer_a: int | None = None, layer_b: int | None = None,
                   match_depth: bool = False, selection_a: list[int] | None = None, selection_b: list[int] | None = None,
                   evaluate_on: set[str] | None = None, method: str = "sentence_end", rows: Sequence[str] = ("end", "mean"),
                   k: int = 10, alpha: float = 1e-2, common_dim: int | None = None, test_fraction: float = 0.3, n_boot: int = 200,
                   seed: int = 0, progress: Callable[[int, int], None] | None = None, reference: str = "neutral") -> AlignReport:
    """Map store ``sa``'s residual space at one layer into ``sb``'s (:func:`~steering.store_alignment.align_stores`).

    Args:
        hook: the hook kind read on both sides.
        layer_a, layer_b: layers; None = the centre of the store's emotion-strongest band on its ``selection_*`` rows
            (B: the layer at A's relative depth with ``match_depth``).
        evaluate_on: texts of the emotion sentences the vectors are judged on (the evaluation split); None = all.
        reference: the reference label the maps are fitted on (``neutral`` for emotion).
    """
    ha_all, hb_all = hooks_of_kind(sa, hook), hooks_of_kind(sb, hook)
    la = layer_a if layer_a is not None else strongest_layer(sa, ha_all, seed=seed, rows=selection_a, reference=reference)
    if layer_b is None and match_depth:
        nla, nlb = sa.manifest["model_info"]["n_layers"], sb.manifest["model_info"]["n_layers"]
        layer_b = int(round(la * (nlb - 1) / max(nla - 1, 1)))
    lb = layer_b if layer_b is not None else strongest_layer(sb, hb_all, seed=seed, rows=selection_b, reference=reference)
    ha, hb = _hook_at(ha_all, la, hook), _hook_at(hb_all, lb, hook)
    res = align_stores(sa, sb, ha, hb, method=method, rows=rows, k=k, alpha=alpha, common_dim=common_dim, test_fraction=test_fraction,
                       n_boot=n_boot, seed=seed, evaluate_on=evaluate_on, progress=progress, reference=reference)
    return AlignReport(res, sa.model_name, sb.model_name, la, lb, method)
