"""Uncertainty helpers: bootstrap confidence intervals, permutation p-values, multiple-testing correction.

All functions take an explicit seed (or ``numpy.random.Generator``) so reruns give the same numbers.
"""

from collections.abc import Callable
from dataclasses import asdict, dataclass

import numpy as np


@dataclass(frozen=True)
class Estimate:
    """A point estimate with its bootstrap confidence interval."""

    value: float
    lo: float
    hi: float
    level: float = 0.95
    n_boot: int = 0

    def to_dict(self) -> dict:
        return asdict(self)

    def excludes(self, x: float = 0.0) -> bool:
        """True when the CI does not contain ``x``."""
        return not (self.lo <= x <= self.hi)

    def __str__(self) -> str:
        return f"{self.value:.4g} [{self.lo:.4g}, {self.hi:.4g}]"

    def __format__(self, spec: str) -> str:
        """``f"{est:+.3f}"`` → ``"+0.123 [-0.045, +0.300]"``: value and CI in one number format (empty: ``str``).

        The one text form of an estimate with its CI; every table and headline note uses it.
        """
        if not spec:
            return str(self)
        return f"{self.value:{spec}} [{self.lo:{spec}}, {self.hi:{spec}}]"


def _rng(seed: int | np.random.Generator) -> np.random.Generator:
    return seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)


def bootstrap_ci(values, statistic: Callable[[np.ndarray], float] = np.mean, *, n_boot: int = 1000,
                 level: float = 0.95, seed: int | np.random.Generator = 0) -> Estimate:
    """Percentile bootstrap CI of ``statistic`` over the first axis of ``values``."""
    x = np.asarray(values, dtype=float)
    if len(x) == 0:
        return Estimate(float("nan"), float("nan"), float("nan"), level, 0)
    rng = _rng(seed)
    point = float(statistic(x))
    idx = rng.integers(0, len(x), size=(n_boot, len(x)))
    boots = np.array([statistic(x[i]) for i in idx], dtype=float)
    a = (1 - level) / 2
    return Estimate(point, float(np.nanquantile(boots, a)), float(np.nanquantile(boots, 1 - a)), level, n_boot)


def bootstrap_diff_ci(a, b, statistic: Callable[[np.ndarray], float] = np.mean, *, n_boot: int = 1000,
                      level: float = 0.95, seed: int | np.random.Generator = 0, paired: bool = False) -> Estimate:
    """CI of ``statistic(a) - statistic(b)``; ``paired`` resamples the same indices in both."""
    x, y = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    rng = _rng(seed)
    point = float(statistic(x) - statistic(y))
    boots = np.empty(n_boot)
    for k in range(n_boot):
        if paired:
            i = rng.integers(0, len(x), len(x))
            boots[k] = statistic(x[i]) - statistic(y[i])
        else:
            boots[k] = statistic(x[rng.integers(0, len(x), len(x))]) - statistic(y[rng.integers(0, len(y), len(y))])
    q = (1 - level) / 2
    return Estimate(point, float(np.quantile(boots, q)), float(np.quantile(boots, 1 - q)), level, n_boot)


def permutation_pvalue(a, b, statistic: Callable[[np.ndarray, np.ndarray], float] | None = None, *,
                       n_perm: int = 1000, seed: int | np.random.Generator = 0, alternative: str = "two-sided") -> float:
    """Permutation p-value for a difference between groups ``a`` and ``b`` (default: difference of means).

    Uses the (count + 1) / (n_perm + 1) estimate, so it is never exactly 0.
    """
    x, y = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    stat = statistic or (lambda u, v: float(u.mean() - v.mean()))
    observed = stat(x, y)
    pooled = np.concatenate([x, y])
    rng = _rng(seed)
    count = 0
    for _ in range(n_perm):
        perm = rng.permutation(pooled)
        s = stat(perm[: len(x)], perm[len(x):])
        if alternative == "greater":
            count += s >= observed
        elif alternative == "less":
            count += s <= observed
        else:
            count += abs(s) >= abs(observed)
    return (count + 1) / (n_perm + 1)


def holm_bonferroni(pvalues) -> np.ndarray:
    """Holm–Bonferroni adjusted p-values (family-wise error), same order as the input."""
    p = np.asarray(pvalues, dtype=float)
    order = np.argsort(p)
    m = len(p)
    adj = np.empty(m)
    running = 0.0
    for rank, i in enumerate(order):
        running = max(running, min(1.0, (m - rank) * p[i]))
        adj[i] = running
    return adj


def sign_flip_pvalue(diff, *, n_perm: int = 5000, seed: int | np.random.Generator = 0) -> float:
    """Two-sided paired permutation (sign-flip) p-value of mean(diff) = 0, (count + 1) / (n_perm + 1).

    Non-finite differences are dropped; all-zero (or empty) differences give p = 1.
    """
    d = np.asarray(diff, dtype=float)
    d = d[np.isfinite(d)]
    if len(d) == 0 or np.all(d == 0):
        return 1.0
    rng = _rng(seed)
    obs = abs(d.mean())
    flips = rng.choice([-1.0, 1.0], size=(n_perm, len(d)))
    return float(((np.abs((flips * d).mean(1)) >= obs - 1e-12).sum() + 1) / (n_perm + 1))
