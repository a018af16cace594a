"""Interference matrix: steer toward each label, score every attribute's target, read the side effects.

Rows are steered ``(attribute, label)`` directions, columns are the registry's target score columns
(:attr:`interp.attributes.LanguageData.targets` of every attribute in the prompts' language, plus the
lexicon-masked twin where the attribute has one). Cell ``(r, c)`` = mean over prompts of (score of column
``c`` on the text steered toward ``r`` − the same score at α = 0 on the same prompt). The diagonal
(column of the steered label itself) is the on-target effect; everything else is a side effect
(does +anger lower formality?).

Rules (as :mod:`steering.sweep`):

* **α = 0 once**: one unsteered generation of every prompt, shared by every row.
* **Batched**: every steered row in one :func:`~steering.generation.generate_row_vectors` call
  (rows = prompt × direction, each row its own hook), the random directions in another.
* **Split**: prompts are split by text (:func:`interp.splits.split_indices`); the largest side effect is
  *chosen* on the selection prompts (largest \\|paired effect size\\|, unit-free) and every number in the
  matrix and the headline is *reported* on the evaluation prompts.
* **Uncertainty**: paired bootstrap CI of each cell and a sign-flip p (Holm-corrected over the matrix).
* **Random-direction baseline**: ``n_random`` seeded Gaussian directions per hook and added norm
  (:func:`steering.sweep.random_directions`, norm-matched to the row), generated on the evaluation prompts;
  per cell the random effects' mean and 2.5–97.5 % range, and a two-sided rank p
  ``(1 + #{|r − r̄| ≥ |e − r̄|}) / (1 + n_random)`` (floor ``1/(1 + n_random)``).
"""

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from jaxtyping import Float
from torch import Tensor

from interp.attributes import attribute_names, check_scorer_language, get_attribute
from interp.errors import ConfigError
from interp.evaluators import is_maskable, make_scorer, score_texts
from interp.evaluators.masking import mask_texts, masked_column
from interp.hook_names import block_hook, parse_hook, validate_layer
from interp.io import atomic_write_text, atomic_write_with
from interp.lexicon import EMOTION_WORDS
from interp.report_types import AnalysisReport, Headline, Table
from interp.splits import split_indices
from interp.stats import Estimate, bootstrap_ci, holm_bonferroni, sign_flip_pvalue
from steering.generation import GenerationConfig, generate, generate_row_vectors
from steering.hooks import SteeringSpec, mean_resid_norm
from steering.interference_figures import interference_heatmap
from steering.sweep import MIN_RANDOM, random_directions
from steering.vectors import EmotionVector

DEFAULT_N_RANDOM = 100
"""Random directions per hook and added norm: the rank p floor 1/(1 + n) then sits below 0.01."""


@dataclass(frozen=True)
class SteerRow:
    """One steered direction: ``name`` (``attribute:label``, or any tag) and what is added where (its ``spec``)."""

    name: str
    attribute: str
    label: str
    spec: SteeringSpec

    def describe(self) -> dict:
        return {"name": self.name, "attribute": self.attribute, "label": self.label, **self.spec.describe()}


@dataclass(frozen=True)
class ScoreColumn:
    """One scored target: the registry's score ``column`` of ``attribute:label``, on the text with ``mask``'s lexicon masked (or raw)."""

    name: str
    attribute: str
    label: str
    column: str
    mask: str | None = None

    def to_dict(self) -> dict:
        return {"name": self.name, "attribute": self.attribute, "label": self.label, "column": self.column, "mask": self.mask}


def target_columns(language: str, attributes: Sequence[str] | None = None, *, masked: bool = True) -> list[ScoreColumn]:
    """The target score columns of ``attributes`` (default: every registered one with data in ``language``).

    One column per label with a target (:attr:`~interp.attributes.LanguageData.targets`), and its masked twin
    (``<column>_masked``, that label's lexicon masked) where the attribute has masked scores and ``masked``.
    """
    names = list(attributes) if attributes is not None else [a for a in attribute_names() if language in get_attribute(a).languages]
    out = []
    for a in names:
        data = get_attribute(a).language(language)
        for label, col in data.targets.items():
            out.append(ScoreColumn(f"{a}:{label}", a, label, col))
            if masked and data.masked and label in EMOTION_WORDS:
                out.append(ScoreColumn(f"{a}:{label} (masked)", a, label, masked_column(col), label))
    return out


def registry_scorers(language: str, attributes: Sequence[str] | None = None) -> tuple[list, list[dict]]:
    """Build the registry's scorers of ``attributes`` in ``language``: ``(scorers, skipped)``.

    A scorer that cannot be built here (an optional extra missing, e.g. ``politeness`` without ConvoKit) is
    skipped with its reason, so its columns drop out of the matrix instead of failing the run.
    """
    names = list(attributes) if attributes is not None else [a for a in attribute_names() if language in get_attribute(a).languages]
    wanted = dict.fromkeys(s for a in names for s in get_attribute(a).language(language).scorers)
    scorers, skipped = [], []
    for s in wanted:
        try:
            check_scorer_language(s, language)
            scorers.append(make_scorer(s))
        except ConfigError as exc:
            skipped.append({"scorer": s, "reason": str(exc)})
    return scorers, skipped


def score_columns(texts: Sequence[str], prompts: Sequence[str], columns: Sequence[ScoreColumn],
                  scorers: Sequence) -> Float[np.ndarray, "text scored"]:
    """Score ``texts`` on every column: raw columns in one pass, each masked label's columns on its masked text."""
    texts, prompts = list(texts), list(prompts)
    out = np.full((len(texts), len(columns)), np.nan)
    raw = score_texts(texts, list(scorers), prompts=prompts) if any(c.mask is None for c in columns) else {}
    for k, c in enumerate(columns):
        if c.mask is None:
            out[:, k] = raw[c.column]
    for label in dict.fromkeys(c.mask for c in columns if c.mask is not None):
        scores = score_texts(mask_texts(texts, label), [s for s in scorers if is_maskable(s)], prompts=prompts)
        for k, c in enumerate(columns):
            if c.mask == label:
                out[:, k] = scores[c.column.removesuffix("_masked")]
    return out


def check_columns(columns: Sequence[ScoreColumn], scorers: Sequence) -> tuple[list[ScoreColumn], list[dict]]:
    """``(kept, skipped)``: the columns whose score column the scorers produce (masked twins: a maskable one)."""
    raw = {c for s in scorers for c in s.columns}
    maskable = {c for s in scorers if is_maskable(s) for c in s.columns}
    kept, skipped = [], []
    for c in columns:
        ok = c.column in raw if c.mask is None else c.column.removesuffix("_masked") in maskable
        (kept if ok else skipped).append(c)
    return kept, [{"column": c.name, "score": c.column, "reason": "no scorer here produces it"} for c in skipped]


@dataclass(frozen=True)
class EffectMatrix:
    """Steering effects of every row on every column (evaluation prompts unless named ``selection_*``).

    Arrays are ``[steered scored]`` (``baseline``: ``[scored]``; ``added_norm``: ``[steered]``), in score units.

    Attributes:
        effect, lo, hi: mean paired difference from α = 0 and its bootstrap CI.
        p, p_holm: sign-flip p of the mean difference, and Holm-corrected over every cell.
        baseline: α = 0 mean score per column.
        random_mean, random_lo, random_hi: mean and 2.5 / 97.5 percentiles of the random directions' effects.
        random_p: two-sided rank p of the effect among the random effects (module docstring).
        selection_effect, selection_dz: the same effect on the selection prompts, and its paired effect size
            mean / sd of the differences (unit-free; what the largest side effect is chosen by).
    """

    rows: tuple[str, ...]
    columns: tuple[str, ...]
    effect: Float[np.ndarray, "steered scored"]
    lo: Float[np.ndarray, "steered scored"]
    hi: Float[np.ndarray, "steered scored"]
    p: Float[np.ndarray, "steered scored"]
    p_holm: Float[np.ndarray, "steered scored"]
    baseline: Float[np.ndarray, " scored"]
    random_mean: Float[np.ndarray, "steered scored"]
    random_lo: Float[np.ndarray, "steered scored"]
    random_hi: Float[np.ndarray, "steered scored"]
    random_p: Float[np.ndarray, "steered scored"]
    selection_effect: Float[np.ndarray, "steered scored"]
    selection_dz: Float[np.ndarray, "steered scored"]
    added_norm: Float[np.ndarray, " steered"]
    n_random: int
    n_selection: int
    n_evaluation: int

    @property
    def p_floor(self) -> float:
        return 1.0 / (1 + self.n_random)

    def estimate(self, r: int, c: int) -> Estimate:
        return Estimate(float(self.effect[r, c]), float(self.lo[r, c]), float(self.hi[r, c]))

    def cell(self, r: int, c: int) -> dict:
        """One cell as a JSON row."""
        f = {k: finite(getattr(self, k)[r, c]) for k in ("effect", "lo", "hi", "p", "p_holm", "random_mean", "random_lo", "random_hi",
                                                         "random_p", "selection_effect", "selection_dz")}
        return {"steered": self.rows[r], "scored": self.columns[c], **f, "baseline": finite(self.baseline[c])}


def finite(x) -> float | None:
    """``x`` as a float, or ``None`` when it is NaN or infinite (strict JSON has neither)."""
    v = float(x)
    return v if np.isfinite(v) else None


def _rank_p(effect: float, random_effects: np.ndarray) -> float:
    centre = float(random_effects.mean())
    return float((1 + np.sum(np.abs(random_effects - centre) >= abs(effect - centre) - 1e-12)) / (1 + len(random_effects)))


def _dz(d: np.ndarray) -> float:
    sd = float(d.std(ddof=1)) if len(d) > 1 else 0.0
    m = float(d.mean())
    return m / sd if sd > 0 else (0.0 if m == 0 else float(np.sign(m)) * np.inf)


def _norm_key(norm: float) -> float:
    """An added norm to 6 significant digits: rows whose norms differ only by float rounding share random directions."""
    return float(f"{norm:.6g}")


def _layer(hook: str) -> int:
    layer, _ = parse_hook(hook)
    return -1 if layer is None else int(layer)


@torch.no_grad()
def steering_effects(model, prompts: Sequence[str], rows: Sequence[SteerRow], columns: Sequence[ScoreColumn], scorers: Sequence, *,
                     generation: GenerationConfig | None = None, positions: str = "all", n_boot: int = 1000,
                     n_random: int = DEFAULT_N_RANDOM, random_seed: int = 1234, seed: int = 0, selection_fraction: float = 0.5,
                     split_seed: int = 0) -> tuple[EffectMatrix, pd.DataFrame]:
    """Generate every row on every prompt (and α = 0 once, and the random directions), score, and compare.

    Args:
        prompts: prompts to continue (≥ 4 distinct: split into selection and evaluation halves).
        rows: steered directions (their ``spec`` fixes hook, α and scale).
        columns: scored targets; scorers: the :class:`~interp.evaluators.Scorer` objects that produce them.
        n_random: random directions per (hook, added norm) (≥ 20), on the evaluation prompts.
        seed: seed of the bootstraps and sign flips; random_seed: of the random directions (+ 1000 × layer, as the sweep).

    Returns:
        ``(matrix, generations)``: the :class:`EffectMatrix` and one tidy row per generated text with its scores.
    """
    prompts, rows, columns = list(prompts), list(rows), list(columns)
    if not rows or not columns:
        raise ConfigError(f"need at least one steered row and one scored column, got {len(rows)} and {len(columns)}")
    if n_random < MIN_RANDOM:
        raise ConfigError(f"n_random is {n_random}; use at least {MIN_RANDOM} random directions (p floor 1/(1+n))")
    if len(prompts) < 4:
        raise ConfigError(f"got {len(prompts)} prompts; give at least 4 (they are split into selection and evaluation halves)")
    sel, ev = split_indices(prompts, fraction=selection_fraction, seed=split_seed)
    cfg = generation or GenerationConfig()
    big = GenerationConfig(**{**cfg.to_dict(), "batch_size": max(cfg.batch_size, 96)})
    n_r, n_p, n_c = len(rows), len(prompts), len(columns)

    base_gen = generate(model, prompts, [], positions=positions, config=cfg)
    base = score_columns(base_gen.continuations, prompts, columns, scorers)  # [prompt col]
    g = generate_row_vectors(model, prompts, [r.spec.hook for r in rows], torch.stack([r.spec.added_vector() for r in rows]),
                             positions=positions, config=big)
    steered_all = score_columns(g.continuations, g.prompts, columns, scorers)  # rows prompt-major: i * n_r + j
    steered = steered_all.reshape(n_p, n_r, n_c).transpose(1, 0, 2)  # [row prompt col]

    groups = list(dict.fromkeys((r.spec.hook, _norm_key(r.spec.added_norm)) for r in rows))
    rand_vecs = torch.cat([random_directions(n_random, model.cfg.d_model, random_seed + 1000 * _layer(h)) * norm for h, norm in groups])
    rand_hooks = [h for h, _ in groups for _ in range(n_random)]
    ev_prompts = [prompts[i] for i in ev]
    gr = generate_row_vectors(model, ev_prompts, rand_hooks, rand_vecs, positions=positions, config=big)
    rand_all = score_columns(gr.continuations, gr.prompts, columns, scorers)
    rand = rand_all.reshape(len(ev), len(groups), n_random, n_c).transpose(1, 2, 0, 3)  # [group dir prompt col]
    rand_eff = rand.mean(2) - base[ev].mean(0)  # [group dir col]

    rng = np.random.default_rng(seed)
    shape = (n_r, n_c)
    eff, lo, hi, p = (np.zeros(shape) for _ in range(4))
    r_mean, r_lo, r_hi, r_p, s_eff, s_dz = (np.zeros(shape) for _ in range(6))
    for j, row in enumerate(rows):
        gi = groups.index((row.spec.hook, _norm_key(row.spec.added_norm)))
        for c in range(n_c):
            d_ev = steered[j, ev, c] - base[ev, c]
            est = bootstrap_ci(d_ev, n_boot=n_boot, seed=rng)
            eff[j, c], lo[j, c], hi[j, c] = est.value, est.lo, est.hi
            p[j, c] = sign_flip_pvalue(d_ev, n_perm=max(2000, 10 * n_random), seed=rng)
            re = rand_eff[gi, :, c]
            r_mean[j, c], r_lo[j, c], r_hi[j, c] = re.mean(), np.quantile(re, 0.025), np.quantile(re, 0.975)
            r_p[j, c] = _rank_p(est.value, re)
            d_sel = steered[j, sel, c] - base[sel, c]
            s_eff[j, c], s_dz[j, c] = d_sel.mean(), _dz(d_sel)
    matrix = EffectMatrix(tuple(r.name for r in rows), tuple(c.name for c in columns), eff, lo, hi, p,
                          holm_bonferroni(p.ravel()).reshape(shape), base[ev].mean(0), r_mean, r_lo, r_hi, r_p, s_eff, s_dz,
                          np.array([r.spec.added_norm for r in rows]), n_random, len(sel), len(ev))

    split_of = {i: "selection" for i in sel} | {i: "evaluation" for i in ev}
    recs = [{"direction": "none", "steered": "", "direction_idx": -1, "prompt_idx": i, "split": split_of[i], "prompt": prompts[i],
             "text": base_gen.continuations[i], **dict(zip((c.name for c in columns), base[i]))} for i in range(n_p)]
    recs += [{"direction": "steered", "steered": rows[k % n_r].name, "direction_idx": -1, "prompt_idx": k // n_r,
              "split": split_of[k // n_r], "prompt": g.prompts[k], "text": g.continuations[k], **dict(zip((c.name for c in columns), steered_all[k]))}
             for k in range(len(g.continuations))]
    n_gd = len(groups) * n_random
    recs += [{"direction": "random", "steered": f"{groups[(k % n_gd) // n_random][0]}|{groups[(k % n_gd) // n_random][1]:g}",
              "direction_idx": k % n_random, "prompt_idx": ev[k // n_gd], "split": "evaluation", "prompt": gr.prompts[k],
              "text": gr.continuations[k], **dict(zip((c.name for c in columns), rand_all[k]))} for k in range(len(gr.continuations))]
    return matrix, pd.DataFrame(recs)


@dataclass(frozen=True)
class InterferenceReport(AnalysisReport):
    """The interference matrix: steered labels × scored targets, on-target diagonal and side effects (module docstring)."""

    matrix: EffectMatrix
    rows: tuple[SteerRow, ...]
    columns: tuple[ScoreColumn, ...]
    generations: pd.DataFrame
    config: dict
    skipped: tuple[dict, ...] = ()
    split: dict = field(default_factory=dict)

    def on_target(self, r: int, c: int) -> bool:
        """Whether column ``c`` is the target of row ``r``'s own label (the diagonal)."""
        row, col = self.rows[r], self.columns[c]
        return (row.attribute, row.label) == (col.attribute, col.label)

    def side_effect(self) -> tuple[int, int] | None:
        """The off-diagonal cell with the largest \\|paired effect size\\| on the *selection* prompts (``None``: no off-diagonal cell)."""
        m = self.matrix
        cells = [(abs(m.selection_dz[r, c]) if np.isfinite(m.selection_dz[r, c]) else 1e300, r, c)
                 for r in range(len(self.rows)) for c in range(len(self.columns)) if not self.on_target(r, c)]
        return max(cells, key=lambda t: (t[0], -t[1], -t[2]))[1:] if cells else None

    def n_side_effects(self) -> int:
        """Off-diagonal cells whose CI excludes 0 and which beat the random directions (rank p < 0.05), evaluation prompts."""
        m = self.matrix
        return sum(1 for r in range(len(self.rows)) for c in range(len(self.columns))
                   if not self.on_target(r, c) and m.estimate(r, c).excludes(0.0) and m.random_p[r, c] < 0.05)

    def results(self) -> dict:
        m, side = self.matrix, self.side_effect()
        return {"config": self.config, "split": self.split, "rows": [r.describe() for r in self.rows],
                "columns": [c.to_dict() for c in self.columns], "skipped": list(self.skipped),
                "n_random": m.n_random, "p_floor": m.p_floor,
                "cells": [{**m.cell(r, c), "on_target": self.on_target(r, c)} for r in range(len(self.rows)) for c in range(len(self.columns))],
                "largest_side_effect": None if side is None else {**m.cell(*side), "chosen_on": "selection", "reported_on": "evaluation"},
                "n_side_effects": self.n_side_effects()}

    def figures(self) -> dict:
        return {"interference": interference_heatmap(self.matrix, on_target=[[self.on_target(r, c) for c in range(len(self.columns))]
                                                                             for r in range(len(self.rows))])}

    def headline(self) -> list[Headline]:
        m, out = self.matrix, []
        rand = "{n} norm-matched random directions: mean Δ {mean:+.3f} [{lo:+.3f}, {hi:+.3f}]"
        for r, row in enumerate(self.rows):
            for c, col in enumerate(self.columns):
                if self.on_target(r, c):
                    out.append(Headline.of(f"{row.name}: on-target Δ{col.column} over α=0 (evaluation prompts)", m.estimate(r, c),
                                           p=float(m.random_p[r, c]),
                                           baseline=f"α=0 mean {m.baseline[c]:.3f}; " + rand.format(
                                               n=m.n_random, mean=m.random_mean[r, c], lo=m.random_lo[r, c], hi=m.random_hi[r, c]),
                                           note=f"p: rank among the random directions (floor {m.p_floor:.3g}); sign-flip Holm p "
                                                f"{m.p_holm[r, c]:.3g}; {self.rows[r].spec.hook}, α {row.spec.alpha:g} ({row.spec.scale})"))
        side = self.side_effect()
        if side is not None:
            r, c = side
            out.append(Headline.of(f"largest side effect: {self.rows[r].name} → Δ{self.columns[c].name} ({self.columns[c].column})",
                                   m.estimate(r, c), p=float(m.random_p[r, c]),
                                   baseline=f"α=0 mean {m.baseline[c]:.3f}; " + rand.format(
                                       n=m.n_random, mean=m.random_mean[r, c], lo=m.random_lo[r, c], hi=m.random_hi[r, c]),
                                   note=f"chosen on the {m.n_selection} selection prompts (|effect size| {abs(m.selection_dz[r, c]):.3g}), "
                                        f"reported on the {m.n_evaluation} evaluation prompts; sign-flip Holm p {m.p_holm[r, c]:.3g}"))
        n_off = sum(1 for r in range(len(self.rows)) for c in range(len(self.columns)) if not self.on_target(r, c))
        out.append(Headline("side effects beyond chance (evaluation prompts)", self.n_side_effects(),
                            baseline=f"of {n_off} off-diagonal cells",
                            note="CI excludes 0 and rank p < 0.05 among the random directions (not corrected across cells)"))
        return out

    def tables(self) -> list[Table]:
        m = self.matrix
        rows = [[m.rows[r], m.columns[c], self.columns[c].column, "on target" if self.on_target(r, c) else "side",
                 f"{m.estimate(r, c):+.3f}", f"{m.baseline[c]:.3f}", f"{m.random_mean[r, c]:+.3f}", f"{m.random_p[r, c]:.3g}",
                 f"{m.p_holm[r, c]:.3g}"] for r in range(len(self.rows)) for c in range(len(self.columns))]
        return [Table("interference matrix (evaluation prompts)",
                      ["steered", "scored", "score column", "cell", "Δ over α=0 [95% CI]", "α=0 mean", "random mean Δ",
                       "p vs random", "Holm p (sign-flip)"], rows)]

    def text(self) -> str:
        m, g = self.matrix, self.config.get("generation", {})
        skipped = f" Skipped: {'; '.join(s.get('column', s.get('scorer', '?')) for s in self.skipped)}." if self.skipped else ""
        return (f"{len(self.rows)} steered directions × {len(self.columns)} target scores on {m.n_selection + m.n_evaluation} prompts "
                f"({m.n_selection} selection / {m.n_evaluation} evaluation, split by text), {g.get('max_new_tokens', '?')} new tokens. "
                f"Each cell: mean paired difference from the shared α=0 generation with a bootstrap CI, sign-flip p (Holm over "
                f"the matrix) and the rank among {m.n_random} norm-matched random directions per hook (evaluation prompts). The "
                f"largest side effect is chosen on the selection prompts by |mean/sd| of the differences.{skipped}")

    def save_extra(self, out: Path) -> None:
        atomic_write_with(out / "generations.parquet", lambda p: self.generations.to_parquet(p, index=False))
        atomic_write_text(out / "cells.csv", pd.DataFrame(self.results()["cells"]).to_csv(index=False))


def interference_analysis(model, vectors: Mapping[tuple[str, str], Tensor | EmotionVector], prompts: Sequence[str], *,
                          layer: int | Mapping[tuple[str, str], int], alpha: float, scale: str = "raw", hook_kind: str = "resid_pre",
                          language: str = "en", attributes: Sequence[str] | None = None, scorers: Sequence | None = None,
                          masked: bool = True, generation: GenerationConfig | None = None, positions: str = "all",
                          n_boot: int = 1000, n_random: int = DEFAULT_N_RANDOM, seed: int = 0, random_seed: int = 1234,
                          selection_fraction: float = 0.5, split_seed: int = 0) -> InterferenceReport:
    """Steer toward every ``(attribute, label)`` of ``vectors`` and score every target column of ``language``.

    Args:
        vectors: ``(attribute, label) → [d_model]`` direction (or :class:`~steering.vectors.EmotionVector`) at ``hook_kind``
            of its layer.
        prompts: prompts in ``language`` (≥ 4; split into selection and evaluation halves).
        layer: one layer for every row, or ``{(attribute, label): layer}``.
        alpha, scale: the coefficient and its unit (:mod:`steering.hooks`: ``raw`` × vector, ``unit``, ``mean_norm`` ×
            the mean residual norm at the hook over ``prompts``), the same for every row.
        attributes: scored attributes (default: every registered one with data in ``language``).
        scorers: :class:`~interp.evaluators.Scorer` objects (default: the registry's scorers of those attributes; ones
            that cannot be built here are skipped, recorded in ``skipped``). Columns no scorer produces are skipped too.
        masked: add the lexicon-masked twin of each column whose attribute has one.
        n_boot: bootstrap resamples per cell; n_random: random directions per (hook, added norm) (≥ 20; 100 puts the p
            floor below 0.01).

    Returns:
        :class:`InterferenceReport`; effects in each score column's units.
    """
    if not vectors:
        raise ConfigError("interference_analysis needs at least one steered (attribute, label) vector")
    rows = []
    norms: dict[str, float] = {}
    for (attr, label), vec in vectors.items():
        if label not in get_attribute(attr).labels:
            raise ConfigError(f"label {label!r} is not a label of attribute {attr!r}; labels: {', '.join(get_attribute(attr).labels)}")
        lay = layer.get((attr, label)) if isinstance(layer, Mapping) else layer
        if lay is None:
            raise ConfigError(f"no layer for steered row {attr}:{label}; give layer={{({attr!r}, {label!r}): <layer>}}")
        hook = block_hook(hook_kind, validate_layer(lay, model.cfg.n_layers))
        v = (vec.vector if isinstance(vec, EmotionVector) else torch.as_tensor(vec)).detach().float()
        if v.shape != (model.cfg.d_model,):
            raise ConfigError(f"vector {attr}:{label} has shape {tuple(v.shape)}; the model needs [{model.cfg.d_model}]")
        if scale == "mean_norm" and hook not in norms:
            norms[hook] = mean_resid_norm(model, hook, list(prompts))
        rows.append(SteerRow(f"{attr}:{label}", attr, label, SteeringSpec(hook, v, alpha, scale, norms.get(hook), label=f"{attr}:{label}")))
    skipped: list[dict] = []
    if scorers is None:
        scorers, skipped = registry_scorers(language, attributes)
    columns, dropped = check_columns(target_columns(language, attributes, masked=masked), scorers)
    skipped += dropped
    if not columns:
        raise ConfigError(f"no target score column of {', '.join(attributes or attribute_names())} in {language!r} can be scored here; "
                          f"skipped: {skipped}")
    gen = generation or GenerationConfig()
    matrix, gens = steering_effects(model, prompts, rows, columns, scorers, generation=gen, positions=positions, n_boot=n_boot,
                                    n_random=n_random, random_seed=random_seed, seed=seed, selection_fraction=selection_fraction,
                                    split_seed=split_seed)
    sel = sorted(set(gens[gens.split == "selection"].prompt_idx))
    ev = sorted(set(gens[gens.split == "evaluation"].prompt_idx))
    config = {"language": language, "alpha": alpha, "scale": scale, "hook_kind": hook_kind, "positions": positions, "n_boot": n_boot,
              "n_random": n_random, "seed": seed, "random_seed": random_seed, "generation": gen.to_dict(),
              "mean_resid_norms": norms, "scorers": [s.name for s in scorers]}
    split = {"method": "interp.splits.split_indices by prompt text", "seed": split_seed, "selection_fraction": selection_fraction,
             "selection": sel, "evaluation": ev, "chosen_on": "selection (largest side effect)",
             "reported_on": "evaluation (every cell, random control)"}
    return InterferenceReport(matrix, tuple(rows), tuple(columns), gens, config, tuple(skipped), split)
