"""Per-cell statistics of a steering sweep: raw and lexicon-masked effects, repetition, random-direction p-values.

Every effect is a paired difference from α = 0 (same prompt and seed) of a target score and of its masked
twin (the target emotion's lexicon words replaced, :mod:`interp.evaluators.masking`); ``keyword_share =
effect − effect_masked`` is the part of the effect carried by the emotion words themselves. A cell is
*keyword-driven* when its raw effect is positive and significant but its masked effect is not.
"""

import math
from dataclasses import asdict, dataclass

import numpy as np
import pandas as pd

from interp.evaluators.masking import masked_column
from interp.stats import Estimate, bootstrap_ci, bootstrap_diff_ci, holm_bonferroni, sign_flip_pvalue

ALPHA_SIG = 0.05


@dataclass(frozen=True)
class KeywordCheck:
    """Raw vs masked paired effect over α = 0 with CIs and sign-flip p-values; ``keyword_driven`` flags a lexical effect."""

    raw: Estimate
    masked: Estimate
    p_raw: float
    p_masked: float
    n: int

    @property
    def keyword_share(self) -> float:
        return self.raw.value - self.masked.value

    @property
    def keyword_driven(self) -> bool:
        return significant(self.raw.value, self.p_raw) and not significant(self.masked.value, self.p_masked)


def significant(effect: float, p: float) -> bool:
    return bool(effect > 0 and p < ALPHA_SIG)


def keyword_check(y, y0, y_masked, y0_masked, *, n_boot: int = 1000, seed: int = 0) -> KeywordCheck:
    """Paired effects ``y − y0`` (raw score) and ``y_masked − y0_masked`` (masked score), one value per prompt."""
    y, y0, ym, y0m = (np.asarray(a, dtype=float) for a in (y, y0, y_masked, y0_masked))
    raw = bootstrap_diff_ci(y, y0, paired=True, n_boot=n_boot, seed=seed)
    masked = bootstrap_diff_ci(ym, y0m, paired=True, n_boot=n_boot, seed=seed)
    return KeywordCheck(raw, masked, sign_flip_pvalue(y - y0, n_perm=n_boot, seed=seed),
                        sign_flip_pvalue(ym - y0m, n_perm=n_boot, seed=seed), len(y))


@dataclass(frozen=True)
class RandomControl:
    """The emotion vector's effect against ``n`` norm-matched random directions' effects (same prompts, same norm).

    ``p = (1 + #{random effect ≥ effect}) / (1 + n)`` (one-sided: the steer should raise the score); its floor is
    ``1 / (1 + n)``.
    """

    effect: float
    random_effects: tuple[float, ...]

    @property
    def n(self) -> int:
        return len(self.random_effects)

    @property
    def p(self) -> float:
        r = np.asarray(self.random_effects, dtype=float)
        return float((1 + np.sum(r >= self.effect - 1e-12)) / (1 + len(r)))

    @property
    def floor(self) -> float:
        return 1.0 / (1 + self.n)

    @property
    def p95(self) -> float:
        return float(np.quantile(self.random_effects, 0.95))

    @property
    def beats(self) -> bool:
        return self.p < ALPHA_SIG


def _nan_stat(fn, values) -> float:
    x = np.asarray(values, dtype=float)
    return float(fn(x)) if np.isfinite(x).any() else float("nan")


def _ppl(cell, base, n_boot: int) -> Estimate:
    lr = np.log(cell.perplexity.to_numpy(float)) - np.log(base.perplexity.to_numpy(float))
    lr = lr[np.isfinite(lr)]
    return bootstrap_ci(lr, n_boot=n_boot, seed=0) if len(lr) else Estimate(float("nan"), float("nan"), float("nan"))


def _exp(x: float) -> float:
    return math.exp(x) if math.isfinite(x) else float("nan")


def aggregate(rows: pd.DataFrame, config) -> pd.DataFrame:
    """One row per (emotion, layer, α, split) of the emotion-vector cells; α = 0 rows are every cell's baseline.

    Columns: raw and masked effect with CIs and p-values (Holm within emotion × split), ``keyword_share``,
    ``keyword_driven``, perplexity ratio, distinct-2 and longest repeat with their α = 0 values,
    ``repetition_ok`` and ``ppl_ok``. The random-direction columns are filled by the sweep.
    """
    out = []
    rows = rows[rows.direction == "emotion"]
    if "split" not in rows.columns:
        rows = rows.assign(split="selection")
    for emotion in config.emotions:
        target = config.target(emotion)
        tm = masked_column(target)
        sub = rows[rows.emotion == emotion]
        for split, part in sub.groupby("split", sort=True):
            base = part[part.alpha == 0].drop_duplicates(["layer", "prompt_idx", "seed"]).set_index(["layer", "prompt_idx", "seed"])
            for (layer, alpha), cell in part.groupby(["layer", "alpha"], sort=True):
                cell = cell.set_index(["layer", "prompt_idx", "seed"])
                cell = cell.loc[base.index.intersection(cell.index)]
                b = base.loc[cell.index]
                y, y0 = cell[target].to_numpy(float), b[target].to_numpy(float)
                ym, y0m = (cell[tm].to_numpy(float), b[tm].to_numpy(float)) if tm in cell.columns else (y, y0)
                mean = bootstrap_ci(y, n_boot=config.n_boot, seed=0)
                if alpha != 0:
                    kc = keyword_check(y, y0, ym, y0m, n_boot=config.n_boot)
                else:
                    z = Estimate(0.0, 0.0, 0.0)
                    kc = KeywordCheck(z, z, 1.0, 1.0, len(y))
                ppl = _ppl(cell, b, config.n_boot)
                d2, d20 = _nan_stat(np.nanmean, cell.distinct_2), _nan_stat(np.nanmean, b.distinct_2)
                lr, lr0 = _nan_stat(np.nanmean, cell.longest_repeat), _nan_stat(np.nanmean, b.longest_repeat)
                out.append({"emotion": emotion, "direction": "emotion", "layer": int(layer), "alpha": float(alpha), "split": split,
                            "target": target, "n": len(y), "added_norm": float(cell.added_norm.iloc[0]),
                            "mean": mean.value, "mean_lo": mean.lo, "mean_hi": mean.hi, "baseline": float(np.mean(y0)),
                            "effect": kc.raw.value, "effect_lo": kc.raw.lo, "effect_hi": kc.raw.hi, "p": kc.p_raw,
                            "effect_masked": kc.masked.value, "effect_masked_lo": kc.masked.lo, "effect_masked_hi": kc.masked.hi,
                            "p_masked": kc.p_masked, "keyword_share": kc.keyword_share,
                            "ppl_ratio": _exp(ppl.value), "ppl_ratio_lo": _exp(ppl.lo), "ppl_ratio_hi": _exp(ppl.hi),
                            "median_ppl": _nan_stat(np.nanmedian, cell.perplexity),
                            "distinct_2": d2, "distinct_2_base": d20, "longest_repeat": lr, "longest_repeat_base": lr0})
    agg = pd.DataFrame(out)
    agg["p_holm"], agg["p_holm_masked"] = 1.0, 1.0
    for (emotion, split), idx in agg[agg.alpha != 0].groupby(["emotion", "split"]).groups.items():
        agg.loc[idx, "p_holm"] = holm_bonferroni(agg.loc[idx, "p"].to_numpy())
        agg.loc[idx, "p_holm_masked"] = holm_bonferroni(agg.loc[idx, "p_masked"].to_numpy())
    sig = (agg.effect > 0) & (agg.p_holm < ALPHA_SIG)
    sig_m = (agg.effect_masked > 0) & (agg.p_holm_masked < ALPHA_SIG)
    agg["keyword_driven"] = sig & ~sig_m
    agg["ppl_ok"] = agg.ppl_ratio <= config.ppl_bound
    agg["repetition_ok"] = (agg.distinct_2 >= agg.distinct_2_base - config.distinct2_drop) & \
                           (agg.longest_repeat <= agg.longest_repeat_base + config.repeat_rise)
    agg["candidate"] = (agg.alpha != 0) & sig & agg.ppl_ok & agg.repetition_ok
    for c in ("random_n", "random_p", "random_p_masked", "random_p95", "random_p95_masked", "random_mean", "random_mean_masked"):
        agg[c] = float("nan")
    agg["random_checked"] = False
    agg["usable"] = False
    return agg


def _est(rec: dict, key: str) -> Estimate:
    return Estimate(rec[key], rec[f"{key}_lo"], rec[f"{key}_hi"])


@dataclass(frozen=True)
class CellStats:
    """One sweep cell (emotion × layer × α) on one prompt split: a row of the aggregates, typed.

    Effects are paired differences from α = 0 of the target score (raw and lexicon-masked) with bootstrap CIs;
    ``baseline`` is the α = 0 mean; ``ppl_ratio`` is the perplexity ratio to α = 0. ``record`` is the whole row.
    """

    emotion: str
    layer: int
    alpha: float
    split: str
    target: str
    added_norm: float
    baseline: float
    effect: Estimate
    effect_masked: Estimate
    ppl_ratio: Estimate
    p: float
    p_masked: float
    p_holm: float
    keyword_share: float
    distinct_2: float
    record: dict

    @classmethod
    def of(cls, rec: dict) -> "CellStats":
        return cls(rec["emotion"], int(rec["layer"]), float(rec["alpha"]), rec.get("split", "selection"), rec["target"],
                   rec["added_norm"], rec["baseline"], _est(rec, "effect"), _est(rec, "effect_masked"), _est(rec, "ppl_ratio"),
                   rec["p"], rec["p_masked"], rec["p_holm"], rec["keyword_share"], rec["distinct_2"], rec)

    @property
    def setting(self) -> str:
        """``L9 α=0.5``."""
        return f"L{self.layer} α={self.alpha:g}"


@dataclass(frozen=True)
class RandomSummary:
    """A cell's norm-matched random-direction control (evaluation prompts): p-values, floor, 95th percentile and mean."""

    n: int
    p: float
    p_masked: float
    p_floor: float
    p95: float
    p95_masked: float
    mean: float
    mean_masked: float
    split: str = "evaluation"

    @classmethod
    def of(cls, rec: dict) -> "RandomSummary":
        n = int(rec["random_n"])
        return cls(n, rec["random_p"], rec["random_p_masked"], 1.0 / (1 + n), rec["random_p95"], rec["random_p95_masked"],
                   rec["random_mean"], rec["random_mean_masked"])

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class BestCell:
    """The best cell of an emotion: chosen on the selection prompts (``selection``), reported on the evaluation ones (``cell``)."""

    emotion: str
    cell: CellStats
    selection: CellStats
    usable: bool
    candidate: bool
    keyword_driven: bool
    random_control: RandomSummary | None
    chosen_on: str = "selection"

    @property
    def reported_on(self) -> str:
        return self.cell.split

    def to_dict(self) -> dict:
        rc = self.random_control
        return {"cell": self.cell.record, "selection": self.selection.record, "usable": self.usable, "candidate": self.candidate,
                "chosen_on": self.chosen_on, "reported_on": self.reported_on, "keyword_driven": self.keyword_driven,
                "random_control": rc.to_dict() if rc is not None else None}


@dataclass(frozen=True)
class UsableWindow:
    """The usable cells ``(layer, α)`` of an emotion (see :data:`steering.sweep.WINDOW_RULE`)."""

    emotion: str
    cells: tuple[tuple[int, float], ...]

    def to_list(self) -> list[list]:
        return [[layer, alpha] for layer, alpha in self.cells]

    def __str__(self) -> str:
        return ", ".join(f"L{layer} α={a:g}" for layer, a in self.cells) or "none"
