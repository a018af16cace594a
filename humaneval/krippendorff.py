"""Krippendorff's α for nominal, ordinal, interval and ratio data with missing values (own implementation).

α = 1 − D_o / D_e = 1 − (n − 1) · Σ_ck o_ck δ²_ck / Σ_ck n_c n_k δ²_ck, where o is the coincidence matrix
(every ordered pair of values within a unit, weighted 1 / (m_u − 1)), n_c its margins and δ² the metric's
difference (Krippendorff 2011, "Computing Krippendorff's Alpha-Reliability"). Units with fewer than two values
are not pairable and drop out. Computed from per-unit coincidences so that a bootstrap over units is one matmul.
"""

import numpy as np
from jaxtyping import Float, Real

METRICS = ("nominal", "ordinal", "interval", "ratio")


def value_counts(data: Real[np.ndarray, "rater unit"]) -> tuple[Float[np.ndarray, " value"], Float[np.ndarray, "unit value"]]:
    """The distinct values present (sorted) and how often each unit received each (NaN = missing)."""
    present = ~np.isnan(data)
    values = np.unique(data[present])
    counts = np.zeros((data.shape[1], len(values)))
    r, u = np.nonzero(present)
    np.add.at(counts, (u, np.searchsorted(values, data[r, u])), 1.0)
    return values, counts


def unit_coincidences(counts: Float[np.ndarray, "unit value"]) -> Float[np.ndarray, "unit value value"]:
    """Each unit's contribution to the coincidence matrix: (m mᵀ − diag m) / (m_u − 1), zero if m_u < 2."""
    m_u = counts.sum(1)
    w = np.where(m_u >= 2, 1.0 / np.maximum(m_u - 1.0, 1.0), 0.0)
    outer = counts[:, :, None] * counts[:, None, :]
    idx = np.arange(counts.shape[1])
    outer[:, idx, idx] -= counts
    return outer * w[:, None, None]


def delta2(metric: str, values: Float[np.ndarray, " value"],
           margins: Float[np.ndarray, "*batch value"]) -> Float[np.ndarray, "*batch value value"]:
    """Squared difference δ²_ck of the metric (ordinal uses the margins n_c, so it is batched like them)."""
    c, k = values[:, None], values[None, :]
    shape = margins.shape[:-1] + (len(values), len(values))
    if metric == "nominal":
        return np.broadcast_to((c != k).astype(float), shape)
    if metric == "interval":
        return np.broadcast_to((c - k) ** 2, shape)
    if metric == "ratio":
        with np.errstate(invalid="ignore", divide="ignore"):
            d = np.where(c + k == 0, 0.0, ((c - k) / (c + k)) ** 2)
        return np.broadcast_to(d, shape)
    if metric == "ordinal":
        cum = np.cumsum(margins, -1)
        return (cum[..., None, :] - cum[..., :, None] + (margins[..., :, None] - margins[..., None, :]) / 2) ** 2
    raise ValueError(f"unknown metric {metric!r}; choose from {', '.join(METRICS)}")


def alpha_from_coincidences(o: Float[np.ndarray, "*batch value value"], values: Float[np.ndarray, " value"],
                            metric: str) -> Float[np.ndarray, "*batch"]:
    """α from (batched) coincidence matrices; NaN where expected disagreement is zero (one value only)."""
    n_c = o.sum(-1)
    n = n_c.sum(-1)
    d2 = delta2(metric, values, n_c)
    observed = (o * d2).sum((-2, -1))
    expected = (n_c[..., :, None] * n_c[..., None, :] * d2).sum((-2, -1))
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(expected > 0, 1.0 - (n - 1.0) * observed / np.where(expected > 0, expected, 1.0), np.nan)


def krippendorff_alpha(data: Real[np.ndarray, "rater unit"], metric: str = "interval") -> float:
    """Krippendorff's α of a raters × units matrix with NaN for missing values."""
    if metric not in METRICS:
        raise ValueError(f"unknown metric {metric!r}; choose from {', '.join(METRICS)}")
    values, counts = value_counts(np.asarray(data, dtype=float))
    return float(alpha_from_coincidences(unit_coincidences(counts).sum(0), values, metric))


def bootstrap_alpha(data: Real[np.ndarray, "rater unit"], metric: str, unit_draws: Real[np.ndarray, "boot unit"]
                    ) -> Float[np.ndarray, " boot"]:
    """α for each bootstrap draw of units (``unit_draws[b, u]``: how often unit u was drawn)."""
    values, counts = value_counts(np.asarray(data, dtype=float))
    per_unit = unit_coincidences(counts)
    return alpha_from_coincidences(np.einsum("bu,uvw->bvw", unit_draws, per_unit), values, metric)
