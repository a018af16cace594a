"""PCA emotion subspaces and their overlap, next to the overlap of random subspaces.

Overlap of two subspaces with orthonormal bases A [k1, d] and B [k2, d] is the mean squared
cosine of their ``min(k1, k2)`` principal angles: ``||A Bᵀ||_F² / min(k1, k2)``. It is 1 for
identical subspaces and, for uniformly random subspaces of dimension k1 and k2 in d
dimensions, has expectation ``max(k1, k2) / d`` (``k/d`` when k1 = k2 = k), because
``E||A Bᵀ||_F² = k1·k2/d``.
"""

from dataclasses import dataclass

import numpy as np
import torch
from jaxtyping import Float
from torch import Tensor

from interp.errors import ConfigError, DatasetError
from interp.stats import Estimate


@dataclass(frozen=True)
class Subspace:
    """A k-dimensional PCA subspace: orthonormal ``basis`` rows, their explained-variance ratios, the centre."""

    basis: Float[Tensor, "k d_model"]
    explained: Float[Tensor, "k"]
    mean: Float[Tensor, "d_model"]
    n: int

    @property
    def k(self) -> int:
        return int(self.basis.shape[0])

    @property
    def d(self) -> int:
        return int(self.basis.shape[1])

    def to_dict(self) -> dict:
        return {"k": self.k, "d": self.d, "n": self.n, "explained": self.explained.tolist(),
                "explained_total": float(self.explained.sum())}


def pca_subspace(x: Float[Tensor, "n d_model"], k: int = 10, *, center: bool = True) -> Subspace:
    """Top-``k`` principal directions of the rows of ``x``.

    Raises:
        ConfigError: if ``k`` exceeds what the samples can span (``n - 1`` centred, ``n`` otherwise, or d).
    """
    x = torch.as_tensor(x).float()
    if x.ndim != 2:
        raise DatasetError(f"PCA needs a [n, d] matrix, got shape {tuple(x.shape)}")
    n, d = x.shape
    rank_bound = min(n - 1 if center else n, d)
    if k < 1 or k > rank_bound:
        raise ConfigError(f"k={k} is larger than the {n} samples can span (at most {rank_bound}"
                          f"{' after centring' if center else ''}, d={d}); lower --k or use more sentences")
    mean = x.mean(0) if center else torch.zeros(d)
    xc = x - mean
    _, s, vh = torch.linalg.svd(xc, full_matrices=False)
    var = s**2
    total = var.sum().clamp_min(1e-30)
    return Subspace(basis=vh[:k].contiguous(), explained=(var[:k] / total).contiguous(), mean=mean, n=n)


def orthonormal(rows: Float[Tensor, "k d_model"]) -> Float[Tensor, "k d_model"]:
    """Orthonormal basis of the span of ``rows`` (QR), same number of rows."""
    q, _ = torch.linalg.qr(torch.as_tensor(rows).double().T)
    return q.T.float().contiguous()


def principal_cosines(a: Float[Tensor, "k1 d_a"], b: Float[Tensor, "k2 d_b"]) -> Float[Tensor, "k"]:
    """Cosines of the principal angles between span(a) and span(b) (rows need not be orthonormal)."""
    if a.shape[1] != b.shape[1]:
        raise DatasetError(f"subspaces live in different dimensions ({a.shape[1]} vs {b.shape[1]}); "
                           "pad, truncate or align them first")
    qa, qb = orthonormal(a).double(), orthonormal(b).double()
    return torch.linalg.svdvals(qa @ qb.T).clamp(0, 1).float()


def overlap(a: Float[Tensor, "k1 d_model"], b: Float[Tensor, "k2 d_model"]) -> float:
    """Mean squared cosine of the principal angles (1 = same subspace)."""
    return float((principal_cosines(a, b) ** 2).mean())


def random_overlap_expected(k1: int, k2: int, d: int) -> float:
    """Analytic expected overlap of independent uniformly random subspaces: max(k1, k2)/d."""
    return min(1.0, max(k1, k2) / d)


def random_overlap_sampled(k1: int, k2: int, d: int, *, n: int = 200, seed: int = 0) -> np.ndarray:
    """Overlaps of ``n`` pairs of random subspaces (Gaussian → QR, i.e. Haar-uniform)."""
    gen = torch.Generator().manual_seed(seed)
    return np.array([overlap(torch.randn(k1, d, generator=gen), torch.randn(k2, d, generator=gen)) for _ in range(n)])


@dataclass(frozen=True)
class OverlapResult:
    """Overlap of two subspaces with its CI (when bootstrapped) and random baselines."""

    overlap: Estimate
    cos2: list[float]
    k1: int
    k2: int
    d: int
    random_analytic: float
    random_sampled: Estimate
    p_value: float

    def to_dict(self) -> dict:
        return {"overlap": self.overlap.to_dict(), "cos2": self.cos2, "k1": self.k1, "k2": self.k2, "d": self.d,
                "random_analytic": self.random_analytic, "random_sampled": self.random_sampled.to_dict(),
                "p_value": self.p_value}


def compare_subspaces(a: Float[Tensor, "k1 d_model"], b: Float[Tensor, "k2 d_model"], *, boot: np.ndarray | None = None,
                      n_random: int = 200, seed: int = 0) -> OverlapResult:
    """Overlap of span(a) and span(b) next to random subspaces of the same sizes.

    Args:
        a, b: basis rows (orthonormalised here).
        boot: optional bootstrap overlaps (e.g. from :func:`bootstrap_overlap`) for the CI (bias-shifted
            percentile interval: the bootstrap spread centred on the point estimate).
        n_random: sampled random pairs; ``p_value`` = share of them at least as overlapping.
    """
    cos2 = (principal_cosines(a, b) ** 2).tolist()
    ov = float(np.mean(cos2))
    k1, k2, d = a.shape[0], b.shape[0], a.shape[1]
    rs = random_overlap_sampled(k1, k2, d, n=n_random, seed=seed)
    if boot is not None and len(boot):
        # Resampled rows repeat, which makes bootstrap subspaces noisier and their overlaps biased low;
        # centre the bootstrap spread on the point estimate (bias-shifted percentile interval).
        shift = ov - float(np.mean(boot))
        est = Estimate(ov, min(1.0, float(np.quantile(boot, 0.025)) + shift), min(1.0, float(np.quantile(boot, 0.975)) + shift), 0.95, len(boot))
    else:
        est = Estimate(ov, ov, ov, 0.95, 0)
    return OverlapResult(overlap=est, cos2=cos2, k1=k1, k2=k2, d=d, random_analytic=random_overlap_expected(k1, k2, d),
                         random_sampled=Estimate(float(rs.mean()), float(np.quantile(rs, 0.025)), float(np.quantile(rs, 0.975)), 0.95, n_random),
                         p_value=float((np.sum(rs >= ov) + 1) / (n_random + 1)))


def bootstrap_overlap(xa: Float[Tensor, "n d_a"], xb: Float[Tensor, "n d_b"], k: int, *, n_boot: int = 100, seed: int = 0,
                      transform=None) -> np.ndarray:
    """Overlaps of PCA subspaces of ``xa`` and ``xb`` over paired resamples of their rows.

    ``transform(basis_a) -> rows in b's space`` maps a's basis first (e.g. an alignment map);
    without it both must share a dimension.
    """
    gen = torch.Generator().manual_seed(seed)
    out = []
    for _ in range(n_boot):
        idx = torch.randint(0, xa.shape[0], (xa.shape[0],), generator=gen)
        sa, sb = pca_subspace(xa[idx], min(k, len(set(idx.tolist())) - 1)), pca_subspace(xb[idx], min(k, len(set(idx.tolist())) - 1))
        ba = transform(sa.basis) if transform is not None else sa.basis
        out.append(overlap(ba, sb.basis))
    return np.array(out)


def emotion_rows(acts: Float[Tensor, "n d_model"], labels: list[str]) -> Float[Tensor, "m d_model"]:
    """Rows of non-neutral sentences minus the neutral mean: the data an emotion subspace is fitted on."""
    lab = list(labels)
    emo = [i for i, x in enumerate(lab) if x != "neutral"]
    neu = [i for i, x in enumerate(lab) if x == "neutral"]
    if len(emo) < 2:
        raise DatasetError(f"an emotion subspace needs at least 2 emotion sentences, got {len(emo)}")
    ref = acts[neu].mean(0) if neu else torch.zeros(acts.shape[1])
    return acts[emo] - ref


def pad_to(x: Float[Tensor, "... d"], d: int) -> Float[Tensor, "... d2"]:
    """Zero-pad or truncate the last axis to ``d`` (how 'before alignment' compares different widths)."""
    if x.shape[-1] >= d:
        return x[..., :d]
    return torch.nn.functional.pad(x, (0, d - x.shape[-1]))
