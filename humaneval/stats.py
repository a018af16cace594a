"""Small statistics for scoring: an estimate with its CI, bootstrap draws as unit counts, Spearman's ρ."""

from dataclasses import asdict, dataclass

import numpy as np
from jaxtyping import Float, Int, Real
from scipy.stats import rankdata


@dataclass(frozen=True)
class Estimate:
    """A point value with its 95% percentile-bootstrap interval (NaN where undefined)."""

    value: float
    lo: float
    hi: float

    def to_dict(self) -> dict:
        return asdict(self)

    def __str__(self) -> str:
        return f"{self.value:.3g} [{self.lo:.3g}, {self.hi:.3g}]"


def unit_draws(n_units: int, n_boot: int, rng: np.random.Generator) -> Int[np.ndarray, "boot unit"]:
    """How often each unit is drawn in each of ``n_boot`` resamples of ``n_units`` units with replacement."""
    if n_units == 0:
        return np.zeros((n_boot, 0), dtype=np.int64)
    return rng.multinomial(n_units, np.full(n_units, 1.0 / n_units), size=n_boot)


def estimate(point: float, draws: Float[np.ndarray, " boot"], level: float = 0.95) -> Estimate:
    """``point`` with the percentile interval of the finite ``draws``."""
    finite = draws[np.isfinite(draws)]
    if not np.isfinite(point) or finite.size == 0:
        return Estimate(float(point), float("nan"), float("nan"))
    tail = (1 - level) / 2 * 100
    lo, hi = np.percentile(finite, [tail, 100 - tail])
    return Estimate(float(point), float(lo), float(hi))


def ratio(num: Real[np.ndarray, "*shape"], den: Real[np.ndarray, "*shape"]) -> Float[np.ndarray, "*shape"]:
    """num / den with NaN where den is 0."""
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(den > 0, num / np.where(den > 0, den, 1.0), np.nan)


def spearman(x: Real[np.ndarray, "*batch n"], y: Real[np.ndarray, "*batch n"]) -> Float[np.ndarray, "*batch"]:
    """Spearman's ρ along the last axis (average ranks for ties; NaN where a side is constant)."""
    rx, ry = rankdata(x, axis=-1), rankdata(y, axis=-1)
    rx = rx - rx.mean(-1, keepdims=True)
    ry = ry - ry.mean(-1, keepdims=True)
    den = np.sqrt((rx ** 2).sum(-1) * (ry ** 2).sum(-1))
    return ratio(np.asarray((rx * ry).sum(-1)), np.asarray(den))


def spearman_ci(x: Real[np.ndarray, " n"], y: Real[np.ndarray, " n"], *, n_boot: int,
                rng: np.random.Generator) -> Estimate:
    """ρ(x, y) with a percentile CI from resampling the pairs."""
    if len(x) < 3:
        return Estimate(float("nan"), float("nan"), float("nan"))
    idx = rng.integers(0, len(x), size=(n_boot, len(x)))
    return estimate(float(spearman(x, y)), spearman(x[idx], y[idx]))
