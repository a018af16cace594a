"""Cross-lingual questions in one model: do English and Japanese share a label's direction, does one language's
vector steer the other's text, and do the two languages' top screened heads overlap?

Three parts, each usable on its own, composed by :func:`crosslingual_analysis` into a :class:`CrossLingualReport`:

* **Cosines** (:func:`crosslingual_cosines`): per label shared by the two languages (the attribute's contrast
  labels in the registry) and per hook, the cosine between the EN and the JA difference-of-means vector
  (label mean − reference mean, one ``sentence_end`` row per sentence, :func:`steering.vectors.reference_rows`).
  Null: the JA labels shuffled ``n_perm`` times (≥ 200, so p < 0.01 is reachable), cos(EN vector, shuffled JA
  vector); one-sided p ``(1 + #{null ≥ cos}) / (1 + n_perm)``. Reference: the cosines of different-label pairs
  (EN a vs JA b, a ≠ b); *specificity* = same-label cos − mean different-label cos. CIs: stratified bootstrap over
  sentences in both languages. The layer is chosen on the selection sentences (largest mean same-label cos);
  every reported number comes from the evaluation sentences.
* **Cross-steering** (:func:`cross_steering`): the JA and the EN vector of each label added while generating
  from prompts of one language, scored with that language's registry target columns
  (:func:`steering.interference.steering_effects`: α = 0 paired CIs and norm-matched random directions). With
  ``scale`` ``unit`` or ``mean_norm`` (default) both languages' vectors add the same norm.
* **Head sharing** (:func:`head_sharing`): per label, overlap (intersection, Jaccard) of the top-k screened heads
  of EN and JA; null: random head sets of the same sizes, i.e. the hypergeometric tail
  ``P(X ≥ shared)`` with ``X ~ Hypergeom(n_heads, k_en, k_ja)`` (exact).
"""

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import plotly.graph_objects as go
import torch
from jaxtyping import Float
from torch import Tensor

from interp.attributes import get_attribute
from interp.errors import ConfigError
from interp.hook_names import parse_hook
from interp.report_types import AnalysisReport, Headline, Table
from interp.splits import split_indices
from interp.stats import Estimate
from steering.generation import GenerationConfig
from steering.hooks import SteeringSpec, mean_resid_norm
from steering.interference import (
    DEFAULT_N_RANDOM,
    EffectMatrix,
    SteerRow,
    check_columns,
    finite,
    registry_scorers,
    steering_effects,
    target_columns,
)
from steering.vectors import reference_rows

MIN_PERM = 200
"""Fewest label shuffles: the p floor 1/(1 + n) must sit below 0.01."""

Head = tuple[int, int]


def store_split(store, *, fraction: float = 0.5, seed: int = 0) -> tuple[list[int], list[int]]:
    """``(selection, evaluation)`` row indices of a store, split per label by seeded hash of the sentence ids."""
    sel, ev = [], []
    labels, ids = store.labels, store.ids
    for lab in dict.fromkeys(labels):
        idx = [i for i, x in enumerate(labels) if x == lab]
        if len(idx) < 4:
            raise ConfigError(f"label {lab!r} has {len(idx)} sentence(s) in the store; at least 4 are needed to split it")
        s, e = split_indices([ids[i] for i in idx], fraction=fraction, seed=seed)
        sel += [idx[i] for i in s]
        ev += [idx[i] for i in e]
    return sorted(sel), sorted(ev)


def _means(rows: Float[Tensor, "n d_model"], labels: list[str], names: Sequence[str]) -> Float[Tensor, "label d_model"]:
    return torch.stack([rows[[i for i, x in enumerate(labels) if x == n]].mean(0) for n in names])


def _unit(v: Tensor) -> Tensor:
    return v / v.norm(dim=-1, keepdim=True).clamp_min(1e-12)


def _boot_means(rows: Tensor, labels: list[str], names: Sequence[str], n: int, gen: torch.Generator) -> Float[Tensor, "boot label d_model"]:
    """``n`` bootstrap means per class (resampled within the class), via count weights."""
    out = []
    for name in names:
        idx = [i for i, x in enumerate(labels) if x == name]
        draws = torch.randint(0, len(idx), (n, len(idx)), generator=gen)
        w = torch.zeros(n, len(idx)).scatter_add_(1, draws, torch.ones(n, len(idx))) / len(idx)
        out.append(w @ rows[idx])
    return torch.stack(out, 1)


def _cross(en: Tensor, ja: Tensor) -> Tensor:
    """Cosines ``[..., a, b]`` = cos(EN vector a, JA vector b)."""
    return _unit(en) @ _unit(ja).transpose(-1, -2)


def _specificity(cross: Tensor) -> Tensor:
    """Per label: same-label cos − mean cos with the other labels' JA vectors, ``[..., label]``."""
    n = cross.shape[-1]
    diag = torch.diagonal(cross, dim1=-2, dim2=-1)
    return diag - (cross.sum(-1) - diag) / max(n - 1, 1) if n > 1 else diag * float("nan")


@dataclass(frozen=True)
class CrossLingualCosines:
    """EN–JA cosines per label and layer (evaluation sentences; ``selection_cos`` on the selection sentences).

    Arrays are ``[label layer]`` except ``cross`` (``[layer label label]``: cos(EN a, JA b)).

    Attributes:
        cos, lo, hi: same-label cosine and its bootstrap CI.
        specificity, spec_lo, spec_hi: same-label cos − mean different-label cos, with CI (NaN with one label).
        null_mean, null_hi: mean and 95th percentile of cos(EN, label-shuffled JA); p: one-sided permutation p.
        chosen_layer: the layer with the largest mean same-label cos on the selection sentences.
    """

    labels: tuple[str, ...]
    layers: tuple[int, ...]
    hooks: tuple[str, ...]
    cos: Float[np.ndarray, "label layer"]
    lo: Float[np.ndarray, "label layer"]
    hi: Float[np.ndarray, "label layer"]
    specificity: Float[np.ndarray, "label layer"]
    spec_lo: Float[np.ndarray, "label layer"]
    spec_hi: Float[np.ndarray, "label layer"]
    null_mean: Float[np.ndarray, "label layer"]
    null_hi: Float[np.ndarray, "label layer"]
    p: Float[np.ndarray, "label layer"]
    cross: Float[np.ndarray, "layer label label"]
    selection_cos: Float[np.ndarray, "label layer"]
    chosen_layer: int
    n_perm: int
    n_boot: int
    references: dict
    n_sentences: dict

    @property
    def p_floor(self) -> float:
        return 1.0 / (1 + self.n_perm)

    def estimate(self, label: str, layer: int) -> Estimate:
        i, j = self.labels.index(label), self.layers.index(layer)
        return Estimate(float(self.cos[i, j]), float(self.lo[i, j]), float(self.hi[i, j]), n_boot=self.n_boot)

    def to_dict(self) -> dict:
        rows = [{"label": lab, "layer": layer, "hook": self.hooks[j], "cos": finite(self.cos[i, j]), "lo": finite(self.lo[i, j]),
                 "hi": finite(self.hi[i, j]), "specificity": finite(self.specificity[i, j]), "spec_lo": finite(self.spec_lo[i, j]),
                 "spec_hi": finite(self.spec_hi[i, j]), "null_mean": finite(self.null_mean[i, j]), "null_p95": finite(self.null_hi[i, j]),
                 "p": finite(self.p[i, j]), "selection_cos": finite(self.selection_cos[i, j]),
                 "other_labels": {o: finite(self.cross[j, i, k]) for k, o in enumerate(self.labels) if o != lab}}
                for i, lab in enumerate(self.labels) for j, layer in enumerate(self.layers)]
        return {"labels": list(self.labels), "layers": list(self.layers), "chosen_layer": self.chosen_layer,
                "chosen_on": "selection sentences (largest mean same-label cos)", "reported_on": "evaluation sentences",
                "n_perm": self.n_perm, "p_floor": self.p_floor, "n_boot": self.n_boot, "references": self.references,
                "n_sentences": self.n_sentences, "rows": rows}


def crosslingual_cosines(en_store, ja_store, hooks: Sequence[str], *, attribute: str = "emotion", labels: Sequence[str] | None = None,
                         en_split: tuple[Sequence[int], Sequence[int]] | None = None,
                         ja_split: tuple[Sequence[int], Sequence[int]] | None = None, n_perm: int = 1000, n_boot: int = 1000,
                         seed: int = 0) -> CrossLingualCosines:
    """Cosine between the EN and the JA vector of each shared label at each hook, with its null (module docstring).

    Args:
        en_store, ja_store: :class:`~interp.activations.ActivationStore` of the attribute's EN and JA sentences.
        hooks: hooks both stores hold (one per layer).
        labels: labels to compare (default: the contrast labels both languages share in the registry).
        en_split, ja_split: ``(selection, evaluation)`` row indices per store (default :func:`store_split`).
        n_perm: JA label shuffles (≥ 200); n_boot: bootstrap resamples.
    """
    if n_perm < MIN_PERM:
        raise ConfigError(f"n_perm is {n_perm}; use at least {MIN_PERM} label shuffles so p < 0.01 is reachable (floor 1/(1+n))")
    if not hooks:
        raise ConfigError("crosslingual_cosines needs at least one hook")
    attr = get_attribute(attribute)
    en_d, ja_d = attr.language("en"), attr.language("ja")
    shared = [lab for lab in en_d.contrast_labels if lab in ja_d.contrast_labels]
    labels = list(labels) if labels is not None else [x for x in shared if x in en_store.labels and x in ja_store.labels]
    for lab in labels:
        if lab not in shared:
            raise ConfigError(f"label {lab!r} is not a contrast label of {attribute!r} in both en and ja; shared: {', '.join(shared)}")
    if not labels:
        raise ConfigError(f"the stores share no contrast label of {attribute!r} ({', '.join(shared)})")
    for name, st in (("en_store", en_store), ("ja_store", ja_store)):
        missing = [h for h in hooks if h not in st.hooks]
        if missing:
            raise ConfigError(f"{name} lacks hook(s) {', '.join(missing)}; it has {', '.join(st.hooks)}")
    refs = (en_d.reference, ja_d.reference)
    splits = [en_split or store_split(en_store, seed=seed), ja_split or store_split(ja_store, seed=seed)]
    names = [[*labels, refs[0]], [*labels, refs[1]]]
    n_l, n_h = len(labels), len(hooks)
    out = {k: np.zeros((n_l, n_h)) for k in ("cos", "lo", "hi", "spec", "spec_lo", "spec_hi", "null_mean", "null_hi", "p", "sel")}
    cross_all = np.zeros((n_h, n_l, n_l))
    for j, hook in enumerate(hooks):
        gen = torch.Generator().manual_seed(int(seed) * 7919 + j)
        per_split = {}
        all_rows = [reference_rows(st, hook, "sentence_end").float() for st in (en_store, ja_store)]
        for part in (0, 1):  # 0 selection, 1 evaluation
            data = []
            for lang, st in enumerate((en_store, ja_store)):
                rows = all_rows[lang]
                idx = list(splits[lang][part])
                lab = [st.labels[i] for i in idx]
                for n in names[lang]:
                    if lab.count(n) < 2:
                        raise ConfigError(f"label {n!r} has {lab.count(n)} sentence(s) in the {('selection', 'evaluation')[part]} "
                                          f"split of the {('en', 'ja')[lang]} store; at least 2 are needed")
                data.append((rows[idx], lab))
            per_split[part] = data
        (en_sel, en_lab_s), (ja_sel, ja_lab_s) = per_split[0]
        m_en, m_ja = _means(en_sel, en_lab_s, names[0]), _means(ja_sel, ja_lab_s, names[1])
        out["sel"][:, j] = torch.diagonal(_cross(m_en[:-1] - m_en[-1], m_ja[:-1] - m_ja[-1])).numpy()
        (en_ev, en_lab), (ja_ev, ja_lab) = per_split[1]
        m_en, m_ja = _means(en_ev, en_lab, names[0]), _means(ja_ev, ja_lab, names[1])
        v_en, v_ja = m_en[:-1] - m_en[-1], m_ja[:-1] - m_ja[-1]
        cross = _cross(v_en, v_ja)
        cross_all[j] = cross.numpy()
        out["cos"][:, j] = torch.diagonal(cross).numpy()
        out["spec"][:, j] = _specificity(cross).numpy()
        b_en, b_ja = _boot_means(en_ev, en_lab, names[0], n_boot, gen), _boot_means(ja_ev, ja_lab, names[1], n_boot, gen)
        b_cross = _cross(b_en[:, :-1] - b_en[:, -1:], b_ja[:, :-1] - b_ja[:, -1:])  # [boot a b]
        b_diag, b_spec = torch.diagonal(b_cross, dim1=-2, dim2=-1).numpy(), _specificity(b_cross).numpy()
        out["lo"][:, j], out["hi"][:, j] = np.quantile(b_diag, 0.025, axis=0), np.quantile(b_diag, 0.975, axis=0)
        if n_l > 1:
            out["spec_lo"][:, j], out["spec_hi"][:, j] = np.quantile(b_spec, 0.025, axis=0), np.quantile(b_spec, 0.975, axis=0)
        else:
            out["spec_lo"][:, j] = out["spec_hi"][:, j] = np.nan
        # null: the JA labels shuffled, each shuffled label vector against the real EN vector
        lab_arr = np.array(ja_lab)
        perms = torch.argsort(torch.rand(n_perm, len(ja_lab), generator=gen), dim=1).numpy()
        shuffled = lab_arr[perms]  # [perm n]
        ref_w = torch.as_tensor(shuffled == names[1][-1], dtype=torch.float32)
        ref_w = ref_w / ref_w.sum(1, keepdim=True)
        for i, lab in enumerate(labels):
            w = torch.as_tensor(shuffled == lab, dtype=torch.float32)
            null_vecs = (w / w.sum(1, keepdim=True) - ref_w) @ ja_ev  # [perm d]
            null = (_unit(null_vecs) @ _unit(v_en[i])).numpy()
            out["null_mean"][i, j], out["null_hi"][i, j] = null.mean(), np.quantile(null, 0.95)
            out["p"][i, j] = (1 + np.sum(null >= out["cos"][i, j] - 1e-12)) / (1 + n_perm)
    layers = tuple(int(parse_hook(h)[0] if parse_hook(h)[0] is not None else -1) for h in hooks)
    chosen = layers[int(np.argmax(out["sel"].mean(0)))]
    n_sent = {lang: {"selection": len(s[0]), "evaluation": len(s[1])} for lang, s in zip(("en", "ja"), splits)}
    return CrossLingualCosines(tuple(labels), layers, tuple(hooks), out["cos"], out["lo"], out["hi"], out["spec"], out["spec_lo"],
                               out["spec_hi"], out["null_mean"], out["null_hi"], out["p"], cross_all, out["sel"], chosen, n_perm, n_boot,
                               {"en": refs[0], "ja": refs[1]}, n_sent)


@dataclass(frozen=True)
class HeadOverlap:
    """Overlap of one label's top screened heads in two languages, against random head sets of the same sizes.

    ``p`` = P(X ≥ ``len(shared)``), X ~ Hypergeom(``n_heads``, ``len(en)``, ``len(ja)``); ``expected`` = E[X];
    ``expected_jaccard`` = E[X / (|en| + |ja| − X)].
    """

    label: str
    en: tuple[Head, ...]
    ja: tuple[Head, ...]
    n_heads: int

    @property
    def shared(self) -> tuple[Head, ...]:
        return tuple(h for h in self.en if h in set(self.ja))

    @property
    def jaccard(self) -> float:
        union = len(set(self.en) | set(self.ja))
        return len(self.shared) / union if union else float("nan")

    def _pmf(self) -> list[float]:
        n, a, b = self.n_heads, len(set(self.en)), len(set(self.ja))
        total = math.comb(n, b)
        return [math.comb(a, x) * math.comb(n - a, b - x) / total for x in range(min(a, b) + 1)]

    @property
    def expected(self) -> float:
        return len(set(self.en)) * len(set(self.ja)) / self.n_heads

    @property
    def expected_jaccard(self) -> float:
        a, b = len(set(self.en)), len(set(self.ja))
        return float(sum(q * (x / (a + b - x) if a + b - x else 0.0) for x, q in enumerate(self._pmf())))

    @property
    def p(self) -> float:
        return float(min(1.0, sum(self._pmf()[len(self.shared):])))

    def to_dict(self) -> dict:
        name = "L{}H{}".format
        return {"label": self.label, "k_en": len(self.en), "k_ja": len(self.ja), "n_heads": self.n_heads,
                "shared": [name(*h) for h in self.shared], "n_shared": len(self.shared), "jaccard": self.jaccard,
                "expected_shared": self.expected, "expected_jaccard": self.expected_jaccard, "p": self.p,
                "en": [name(*h) for h in self.en], "ja": [name(*h) for h in self.ja]}


def head_sharing(en_heads: Mapping[str, Sequence[Head]], ja_heads: Mapping[str, Sequence[Head]], n_heads: int) -> list[HeadOverlap]:
    """Per label present in both, the overlap of its EN and JA top heads (``(layer, head)`` pairs out of ``n_heads``)."""
    out = []
    for label in en_heads:
        if label not in ja_heads:
            continue
        en, ja = tuple(tuple(map(int, h)) for h in en_heads[label]), tuple(tuple(map(int, h)) for h in ja_heads[label])
        if len(set(en)) > n_heads or len(set(ja)) > n_heads:
            raise ConfigError(f"label {label!r}: more top heads ({len(set(en))}, {len(set(ja))}) than heads in the model ({n_heads})")
        out.append(HeadOverlap(label, en, ja, int(n_heads)))
    return out


def top_heads(screening, labels: Sequence[str], k: int) -> dict[str, list[Head]]:
    """``{label: top-k heads}`` from a :class:`circuits.head_screening.ScreeningResult` (or anything with ``top_heads(label, k)``)."""
    return {lab: [tuple(h) for h in screening.top_heads(lab, k)] for lab in labels if lab in screening.emotions}


@dataclass(frozen=True)
class CrossSteering:
    """Both languages' vectors steering prompts of ``prompt_language``, scored with that language's targets."""

    prompt_language: str
    matrix: EffectMatrix
    rows: tuple[SteerRow, ...]
    columns: tuple

    def cells(self) -> list[dict]:
        """Per steered row and the raw target column of the row's own label: the effect, its CI and the random baseline."""
        out = []
        for r, row in enumerate(self.rows):
            for c, col in enumerate(self.columns):
                if col.label == row.label and col.mask is None:
                    vec_lang = row.name.split(":")[0]
                    out.append({**self.matrix.cell(r, c), "vector_language": vec_lang, "prompt_language": self.prompt_language,
                                "label": row.label, "transfer": vec_lang != self.prompt_language, "column": col.column})
        return out

    def to_dict(self) -> dict:
        m = self.matrix
        return {"prompt_language": self.prompt_language, "rows": [r.describe() for r in self.rows],
                "columns": [c.to_dict() for c in self.columns], "n_random": m.n_random, "p_floor": m.p_floor,
                "n_selection": m.n_selection, "n_evaluation": m.n_evaluation, "cells": self.cells(),
                "all_cells": [m.cell(r, c) for r in range(len(m.rows)) for c in range(len(m.columns))]}


def cross_steering(model, vectors: Mapping[tuple[str, str], Tensor], prompts: Mapping[str, Sequence[str]], *, hook: str, alpha: float,
                   attribute: str = "emotion", scale: str = "mean_norm", generation: GenerationConfig | None = None,
                   n_boot: int = 1000, n_random: int = DEFAULT_N_RANDOM, seed: int = 0, random_seed: int = 1234,
                   split_seed: int = 0) -> tuple[list[CrossSteering], list[dict]]:
    """Steer prompts of each language with every language's vectors; ``(results, skipped)``.

    Args:
        vectors: ``(language, label) → [d_model]`` vector at ``hook``.
        prompts: ``{language: prompts}`` (≥ 4 each); a language whose scorers cannot be built here (the ``ja`` extra
            missing) is skipped with its reason.
        alpha, scale: as :class:`~steering.hooks.SteeringSpec`; ``mean_norm`` uses the mean residual norm at ``hook`` over
            that language's prompts, so every vector adds the same norm within a prompt language.
    """
    results, skipped = [], []
    for lang, ps in prompts.items():
        scorers, bad = registry_scorers(lang, [attribute])
        columns, dropped = check_columns(target_columns(lang, [attribute]), scorers)
        skipped += [{**b, "prompt_language": lang} for b in [*bad, *dropped]]
        if not columns:
            continue
        norm = mean_resid_norm(model, hook, list(ps)) if scale == "mean_norm" else None
        rows = [SteerRow(f"{vl}:{label}", attribute, label, SteeringSpec(hook, torch.as_tensor(v).detach().float(), alpha, scale, norm,
                                                                         label=f"{vl}:{label}"))
                for (vl, label), v in vectors.items()]
        matrix, _ = steering_effects(model, ps, rows, columns, scorers, generation=generation, n_boot=n_boot, n_random=n_random,
                                     random_seed=random_seed, seed=seed, split_seed=split_seed)
        results.append(CrossSteering(lang, matrix, tuple(rows), tuple(columns)))
    return results, skipped


def store_vectors(store, hook: str, labels: Sequence[str], reference: str, *, rows: Sequence[int] | None = None) -> dict[str, Tensor]:
    """``{label: label mean − reference mean}`` of a store's ``sentence_end`` rows at ``hook`` (all sentences, or only ``rows``)."""
    idx = list(range(store.n)) if rows is None else list(rows)
    acts, lab = reference_rows(store, hook, "sentence_end")[idx].float(), [store.labels[i] for i in idx]
    m = _means(acts, lab, [*labels, reference])
    return {x: m[i] - m[-1] for i, x in enumerate(labels)}


@dataclass(frozen=True)
class CrossLingualReport(AnalysisReport):
    """Cosines with their null, cross-steering and head sharing (module docstring); empty parts were not run (``skipped``)."""

    cosines: CrossLingualCosines
    steering: tuple[CrossSteering, ...] = ()
    heads: tuple[HeadOverlap, ...] = ()
    attribute: str = "emotion"
    config: dict = field(default_factory=dict)
    skipped: tuple[dict, ...] = ()

    def results(self) -> dict:
        return {"attribute": self.attribute, "config": self.config, "cosines": self.cosines.to_dict(),
                "steering": [s.to_dict() for s in self.steering], "heads": [h.to_dict() for h in self.heads],
                "skipped": list(self.skipped)}

    def figures(self) -> dict:
        c = self.cosines
        fig = go.Figure()
        for i, lab in enumerate(c.labels):
            fig.add_scatter(x=list(c.layers), y=c.cos[i].tolist(), name=f"{lab}: cos(EN, JA)", mode="lines+markers",
                            error_y={"type": "data", "symmetric": False, "array": (c.hi[i] - c.cos[i]).tolist(),
                                     "arrayminus": (c.cos[i] - c.lo[i]).tolist()})
            fig.add_scatter(x=list(c.layers), y=c.null_hi[i].tolist(), name=f"{lab}: shuffled-JA null 95th pct", mode="lines",
                            line={"dash": "dot"})
        off = [[float(np.mean([c.cross[j, a, b] for a in range(len(c.labels)) for b in range(len(c.labels)) if a != b]))
                if len(c.labels) > 1 else float("nan") for j in range(len(c.layers))]]
        fig.add_scatter(x=list(c.layers), y=off[0], name="different-label pairs (mean)", mode="lines", line={"dash": "dash"})
        fig.update_layout(title=f"EN–JA cosine of the same label per layer (evaluation sentences; chosen layer {c.chosen_layer})",
                          xaxis_title="layer", yaxis_title="cosine")
        return {"crosslingual_cosines": fig}

    def headline(self) -> list[Headline]:
        c, out = self.cosines, []
        j = c.layers.index(c.chosen_layer)
        for i, lab in enumerate(c.labels):
            out.append(Headline.of(f"{lab}: cos(EN, JA vector) at layer {c.chosen_layer} (evaluation sentences)", c.estimate(lab, c.chosen_layer),
                                   p=float(c.p[i, j]),
                                   baseline=f"shuffled-JA-label null mean {c.null_mean[i, j]:+.3f} (95th pct {c.null_hi[i, j]:+.3f}); "
                                            f"same − different-label cos {c.specificity[i, j]:+.3f} [{c.spec_lo[i, j]:+.3f}, {c.spec_hi[i, j]:+.3f}]",
                                   note=f"layer chosen on the selection sentences; {c.n_perm} shuffles (p floor {c.p_floor:.3g})"))
        for s in self.steering:
            for cell in s.cells():
                if not cell["transfer"]:
                    continue
                native = next((x for x in s.cells() if x["label"] == cell["label"] and not x["transfer"]), None)
                out.append(Headline(f"{cell['label']}: {cell['vector_language']} vector on {s.prompt_language} prompts, Δ{cell['column']}",
                                    cell["effect"], cell["lo"], cell["hi"], p=cell["random_p"],
                                    baseline=f"α=0 mean {cell['baseline']:.3f}; random mean Δ {cell['random_mean']:+.3f}"
                                             + (f"; native vector Δ {native['effect']:+.3f}" if native else ""),
                                    note=f"evaluation prompts ({s.matrix.n_evaluation}); p: rank among {s.matrix.n_random} random directions"))
        for h in self.heads:
            out.append(Headline(f"{h.label}: top-{len(h.en)} heads shared EN/JA", len(h.shared), p=h.p,
                                baseline=f"random head sets: expected {h.expected:.2f} shared (Jaccard {h.expected_jaccard:.3f})",
                                note=f"Jaccard {h.jaccard:.3f}; hypergeometric p over {h.n_heads} heads"))
        return out

    def tables(self) -> list[Table]:
        c = self.cosines
        rows = [[lab, layer, f"{c.cos[i, j]:+.3f} [{c.lo[i, j]:+.3f}, {c.hi[i, j]:+.3f}]", f"{c.null_mean[i, j]:+.3f} / {c.null_hi[i, j]:+.3f}",
                 f"{c.p[i, j]:.3g}", f"{c.specificity[i, j]:+.3f}"] for i, lab in enumerate(c.labels) for j, layer in enumerate(c.layers)]
        out = [Table("EN–JA cosine per label and layer (evaluation sentences)",
                     ["label", "layer", "cos [95% CI]", "null mean / 95th pct", "p", "same − different-label cos"], rows)]
        if self.steering:
            out.append(Table("cross-steering (evaluation prompts)", ["vector", "prompts", "label", "score", "Δ [95% CI]", "random mean Δ", "p vs random"],
                             [[x["vector_language"], x["prompt_language"], x["label"], x["column"],
                               f"{x['effect']:+.3f} [{x['lo']:+.3f}, {x['hi']:+.3f}]", f"{x['random_mean']:+.3f}", f"{x['random_p']:.3g}"]
                              for s in self.steering for x in s.cells()]))
        if self.heads:
            out.append(Table("top screened heads shared EN/JA", ["label", "k", "shared", "Jaccard", "expected shared", "p"],
                             [[h.label, len(h.en), len(h.shared), round(h.jaccard, 3), round(h.expected, 2), f"{h.p:.3g}"] for h in self.heads]))
        return out

    def text(self) -> str:
        c = self.cosines
        return (f"{self.attribute}: EN and JA difference-of-means vectors (label − {c.references['en']} / {c.references['ja']}, sentence end) "
                f"at {len(c.layers)} layers; layer {c.chosen_layer} chosen on the selection sentences, numbers from the evaluation sentences "
                f"({c.n_sentences['en']['evaluation']} EN, {c.n_sentences['ja']['evaluation']} JA); null: {c.n_perm} JA label shuffles; "
                f"CIs: {c.n_boot} stratified bootstraps. {len(self.steering)} cross-steering prompt language(s); "
                f"{len(self.heads)} labels with head overlap." + (f" Skipped: {len(self.skipped)} part(s), see results.json." if self.skipped else ""))


def crosslingual_analysis(en_store, ja_store, hooks: Sequence[str], *, attribute: str = "emotion", labels: Sequence[str] | None = None,
                          en_split: tuple[Sequence[int], Sequence[int]] | None = None,
                          ja_split: tuple[Sequence[int], Sequence[int]] | None = None, n_perm: int = 1000, n_boot: int = 1000,
                          seed: int = 0, model=None, prompts: Mapping[str, Sequence[str]] | None = None, alpha: float | None = None,
                          scale: str = "mean_norm", steer_hook: str | None = None, vectors: Mapping[tuple[str, str], Tensor] | None = None,
                          generation: GenerationConfig | None = None, n_random: int = DEFAULT_N_RANDOM,
                          en_heads: Mapping[str, Sequence[Head]] | None = None, ja_heads: Mapping[str, Sequence[Head]] | None = None,
                          n_heads: int | None = None) -> CrossLingualReport:
    """Cosines (always), cross-steering (when ``model``, ``prompts`` and ``alpha`` are given) and head sharing (when both head sets are).

    Args:
        en_store, ja_store, hooks, labels, en_split, ja_split, n_perm, n_boot, seed: :func:`crosslingual_cosines`.
        prompts: ``{language: prompts}`` to steer (e.g. ``{"en": load_prompts()[:20], "ja": [...]}``).
        steer_hook: hook to steer at (default: the cosine's chosen layer's hook, chosen on the selection sentences).
        vectors: ``(language, label) → [d_model]`` at ``steer_hook`` (default: :func:`store_vectors` of each store).
        en_heads, ja_heads: ``{label: top-k (layer, head)}`` (e.g. :func:`top_heads` of each language's screening);
            n_heads: heads in the model (default ``n_layers × n_heads`` of ``model``).
    """
    cos = crosslingual_cosines(en_store, ja_store, hooks, attribute=attribute, labels=labels, en_split=en_split, ja_split=ja_split,
                               n_perm=n_perm, n_boot=n_boot, seed=seed)
    skipped: list[dict] = []
    steering: list[CrossSteering] = []
    hook = steer_hook or cos.hooks[cos.layers.index(cos.chosen_layer)]
    if model is not None and prompts and alpha is not None:
        attr = get_attribute(attribute)
        if vectors is None:
            vectors = {(lang, lab): v for lang, st in (("en", en_store), ("ja", ja_store))
                       for lab, v in store_vectors(st, hook, cos.labels, attr.language(lang).reference).items()}
        steering, bad = cross_steering(model, vectors, prompts, hook=hook, alpha=alpha, attribute=attribute, scale=scale,
                                       generation=generation, n_boot=n_boot, n_random=n_random, seed=seed, random_seed=seed + 1234)
        skipped += bad
    else:
        skipped.append({"part": "cross-steering", "reason": "needs model, prompts and alpha"})
    heads: list[HeadOverlap] = []
    if en_heads and ja_heads:
        total = n_heads or (model.cfg.n_layers * model.cfg.n_heads if model is not None else None)
        if total is None:
            raise ConfigError("head sharing needs n_heads (heads in the model) when no model is given")
        heads = head_sharing(en_heads, ja_heads, total)
    else:
        skipped.append({"part": "head sharing", "reason": "needs en_heads and ja_heads (top screened heads per label)"})
    config = {"hooks": list(hooks), "steer_hook": hook if steering else None, "alpha": alpha, "scale": scale, "n_perm": n_perm,
              "n_boot": n_boot, "n_random": n_random, "seed": seed, "generation": (generation or GenerationConfig()).to_dict()}
    return CrossLingualReport(cos, tuple(steering), tuple(heads), attribute, config, tuple(skipped))
