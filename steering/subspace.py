"""PCA emotion subspaces and their overlap, next to nulls that real activations do not beat by construction.

Two kinds of emotion subspace live here:

* **difference subspace** (:func:`difference_subspace`, the one to report): the top principal directions of
  the emotion rows *minus the neutral mean*, **not re-centred** (``center=False``), after *whitening* by the
  (shrunk) covariance of all sentences of that view. Not re-centring keeps each emotion's offset from neutral
  (the class-mean difference); centring again (the old method) removes exactly that offset and leaves the top
  PCs of emotional sentences, i.e. mostly the residual stream's anisotropy. Whitening is needed because a few
  residual directions have variances orders of magnitude above the rest: without it they still top the
  un-centred PCA whatever the labels (tested). The whitener is label-free, so it is the same for every null
  draw; directions are mapped back (``W u``, the LDA-style discriminant directions) and orthonormalised.
  Centred-on-neutral rows rather than bare class-mean differences: those span only ``n_emotions`` (3)
  dimensions, fewer than the study's k.
* **centred emotion PCA** (the old method, :func:`emotion_rows` + :func:`pca_subspace`), kept side by side.

Because anisotropy still contributes to the difference subspace, its overlaps are judged against
**label-shuffled** subspaces (same procedure on permuted emotion/neutral labels) and **neutral-only**
subspaces (same procedure and k with neutral sentences split into pseudo-classes), at the same layer:
:func:`overlap_vs_nulls`. The uniformly random baseline (below) is printed only for the old method.
"Neutral" is the reference label: every function takes ``reference`` (``neutral`` for emotion, the attribute
registry's reference label for other attributes, :mod:`interp.attributes`).

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
    mean: Float[Tensor, " d_model"]
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
    if n < d:
        # Eigen-decomposition of the n x n Gram matrix: same top directions as the SVD, ~3x faster for n << d
        # (the nulls below fit hundreds of subspaces).
        xd = xc.double()
        evals, evecs = torch.linalg.eigh(xd @ xd.T)
        evals, evecs = evals.flip(0).clamp_min(0), evecs.flip(1)
        s_top = evals[:k].sqrt().clamp_min(1e-12)
        basis = ((evecs[:, :k].T @ xd) / s_top[:, None]).float()
        var = evals.float()
    else:
        _, sv, vh = torch.linalg.svd(xc, full_matrices=False)
        basis, var = vh[:k], sv**2
    total = var.sum().clamp_min(1e-30)
    return Subspace(basis=basis.contiguous(), explained=(var[:k] / total).contiguous(), mean=mean, n=n)


def orthonormal(rows: Float[Tensor, "k d_model"]) -> Float[Tensor, "k d_model"]:
    """Orthonormal basis of the span of ``rows`` (QR), same number of rows."""
    q, _ = torch.linalg.qr(torch.as_tensor(rows).double().T)
    return q.T.float().contiguous()


def principal_cosines(a: Float[Tensor, "k1 d_a"], b: Float[Tensor, "k2 d_b"]) -> Float[Tensor, " k"]:
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


def emotion_rows(acts: Float[Tensor, "n d_model"], labels: list[str], *, reference: str = "neutral") -> Float[Tensor, "m d_model"]:
    """Rows of non-neutral sentences minus the neutral mean.

    Fit with ``center=False`` (:func:`difference_subspace`); a centred PCA of these rows (the old method)
    undoes the subtraction.
    """
    lab = list(labels)
    emo = [i for i, x in enumerate(lab) if x != reference]
    neu = [i for i, x in enumerate(lab) if x == reference]
    if len(emo) < 2:
        raise DatasetError(f"an emotion subspace needs at least 2 emotion sentences, got {len(emo)}")
    ref = acts[neu].mean(0) if neu else torch.zeros(acts.shape[1])
    return acts[emo] - ref


def pad_to(x: Float[Tensor, "... d"], d: int) -> Float[Tensor, "... d2"]:
    """Zero-pad or truncate the last axis to ``d`` (how 'before alignment' compares different widths)."""
    if x.shape[-1] >= d:
        return x[..., :d]
    return torch.nn.functional.pad(x, (0, d - x.shape[-1]))


SHRINK = 0.1
"""Ledoit-Wolf-style shrinkage of the whitening covariance towards its mean variance (n < d makes it singular)."""


def whitener(x: Float[Tensor, "n d_model"], *, shrink: float = SHRINK) -> Float[Tensor, "d_model d_model"]:
    """``W = Σ^{-1/2}`` of the shrunk covariance ``(1 - shrink)·S + shrink·mean(diag S)·I`` of the rows of ``x``."""
    x = torch.as_tensor(x).double()
    xc = x - x.mean(0)
    cov = xc.T @ xc / max(x.shape[0] - 1, 1)
    m = float(torch.diagonal(cov).mean().clamp_min(1e-30))
    evals, evecs = torch.linalg.eigh((1 - shrink) * cov + shrink * m * torch.eye(cov.shape[0], dtype=cov.dtype))
    return ((evecs * evals.clamp_min(1e-30 * m).rsqrt()) @ evecs.T).float()


def difference_subspace(acts: Float[Tensor, "n d_model"], labels: list[str], k: int, *,
                        white: Float[Tensor, "d_model d_model"] | None = None, reference: str = "neutral") -> Subspace:
    """Emotion-vs-neutral difference subspace (see module docstring).

    Args:
        acts: one row per sentence, all labels.
        labels: sentence labels (``reference`` is the reference).
        k: dimension.
        white: whitening matrix (default :func:`whitener` of ``acts``); pass it when fitting many label draws.
    """
    acts = torch.as_tensor(acts).float()
    w = whitener(acts) if white is None else white
    sub = pca_subspace(emotion_rows(acts, labels, reference=reference) @ w, k, center=False)
    return Subspace(basis=orthonormal(sub.basis @ w), explained=sub.explained, mean=sub.mean, n=sub.n)


def centred_emotion_subspace(acts: Float[Tensor, "n d_model"], labels: list[str], k: int, *,
                             reference: str = "neutral") -> Subspace:
    """The old emotion subspace: centred PCA of the emotion rows (the neutral-mean subtraction cancels)."""
    return pca_subspace(emotion_rows(acts, labels, reference=reference), k, center=True)


def _neutral_pseudo_labels(labels: list[str], gen: torch.Generator, reference: str = "neutral") -> tuple[list[int], list[str]]:
    """Reference sentences only, randomly split in halves labelled ``pseudo`` (any other name) / ``reference``."""
    neu = [i for i, x in enumerate(labels) if x == reference]
    perm = torch.randperm(len(neu), generator=gen).tolist()
    half = len(neu) // 2
    lab = [reference] * len(neu)
    for j in perm[:half]:
        lab[j] = "pseudo" if reference != "pseudo" else "pseudo-other"
    return neu, lab


def _null_estimate(samples: np.ndarray) -> Estimate:
    return Estimate(float(samples.mean()), float(np.quantile(samples, 0.025)), float(np.quantile(samples, 0.975)), 0.95, len(samples))


@dataclass(frozen=True)
class NulledOverlap:
    """Overlap of two emotion difference subspaces next to its label-shuffled and neutral-only nulls (and the old method).

    ``p_shuffled`` / ``p_neutral``: share of null overlaps at least as large, ``(hits + 1) / (n + 1)``;
    ``p_floor`` is the smallest p the shuffle count can give. ``old_overlap`` is the centred emotion-PCA overlap
    the study reported before, next to its uniformly random baseline ``random_analytic`` (= k/d).
    """

    overlap: Estimate
    shuffled_null: Estimate
    p_shuffled: float
    neutral_null: Estimate
    p_neutral: float
    neutral_k: int
    old_overlap: float
    random_analytic: float
    k: int
    d: int
    n_shuffle: int
    n_rows: int

    @property
    def p_floor(self) -> float:
        return 1.0 / (self.n_shuffle + 1)

    @property
    def excess(self) -> float:
        """Overlap above the label-shuffled null mean (0 = no more shared structure than shuffled labels give)."""
        return self.overlap.value - self.shuffled_null.value

    def to_dict(self) -> dict:
        return {"overlap": self.overlap.to_dict(), "shuffled_null": self.shuffled_null.to_dict(), "p_shuffled": self.p_shuffled,
                "neutral_null": self.neutral_null.to_dict(), "p_neutral": self.p_neutral, "neutral_k": self.neutral_k,
                "excess_over_shuffled": self.excess, "p_floor": self.p_floor, "old_overlap": self.old_overlap,
                "random_analytic": self.random_analytic, "k": self.k, "d": self.d, "n_shuffle": self.n_shuffle,
                "n_rows": self.n_rows, "method": "PCA (center=False) of whitened emotion rows minus the neutral mean; nulls: "
                                                  "label-shuffled and neutral-only subspaces of the same k at the same layer"}


def overlap_vs_nulls(view_a: Float[Tensor, "n d_model"], view_b: Float[Tensor, "n d_model"], labels: list[str], k: int, *,
                     n_shuffle: int = 100, n_boot: int = 0, seed: int = 0, reference: str = "neutral") -> NulledOverlap:
    """Overlap of the difference subspaces of two views of the same sentences (two methods, two layers) vs nulls.

    Args:
        view_a, view_b: one row per sentence (all labels, neutral included), rows aligned.
        labels: sentence labels.
        k: subspace dimension (the neutral-only null uses ``min(k, neutral_count // 2)``).
        n_shuffle: draws of each null (label permutations; random neutral half-splits).
        n_boot: optional paired bootstrap resamples (stratified by label) for the overlap's CI.
        reference: the reference label (the neutral-only null splits its sentences).
    """
    a, b = torch.as_tensor(view_a).float(), torch.as_tensor(view_b).float()
    lab = list(labels)
    if a.shape[0] != len(lab) or b.shape[0] != len(lab):
        raise DatasetError(f"views must have one row per label: got {a.shape[0]} and {b.shape[0]} rows for {len(lab)} labels")
    n_neu = lab.count(reference)
    n_emo = len(lab) - n_neu
    if k < 1 or k > min(n_emo, a.shape[1]):
        raise ConfigError(f"k={k} is larger than the {n_emo} emotion sentences can span (d={a.shape[1]}); lower --k or use more sentences")
    if n_neu < 4:
        raise DatasetError(f"the reference-only null needs at least 4 {reference} sentences, got {n_neu}; add {reference} sentences")
    gen = torch.Generator().manual_seed(seed)
    wa, wb = whitener(a), whitener(b)  # label-free: one per view, shared by every null draw

    def ov(labs, idx=None, kk=k):
        xa, xb = (a, b) if idx is None else (a[idx], b[idx])
        return overlap(difference_subspace(xa, labs, kk, white=wa, reference=reference).basis,
                       difference_subspace(xb, labs, kk, white=wb, reference=reference).basis)

    point = ov(lab)
    shuffled = np.array([ov([lab[j] for j in torch.randperm(len(lab), generator=gen).tolist()]) for _ in range(n_shuffle)])
    k_neu = min(k, n_neu // 2)
    neutral = []
    for _ in range(n_shuffle):
        idx, pl = _neutral_pseudo_labels(lab, gen, reference)
        neutral.append(ov(pl, idx, k_neu))
    neutral = np.array(neutral)
    if n_boot:
        groups = {e: [i for i, x in enumerate(lab) if x == e] for e in dict.fromkeys(lab)}
        boots = []
        for _ in range(n_boot):
            idx = [g[j] for g in groups.values() for j in torch.randint(0, len(g), (len(g),), generator=gen).tolist()]
            boots.append(ov([lab[i] for i in idx], idx))
        boots = np.array(boots)
        shift = point - float(boots.mean())  # resampled duplicates bias bootstrap overlaps; centre the spread on the point
        est = Estimate(point, float(np.quantile(boots, 0.025)) + shift, min(1.0, float(np.quantile(boots, 0.975)) + shift), 0.95, n_boot)
    else:
        est = Estimate(point, point, point, 0.95, 0)
    old = overlap(centred_emotion_subspace(a, lab, k, reference=reference).basis,
                  centred_emotion_subspace(b, lab, k, reference=reference).basis)
    return NulledOverlap(
        overlap=est, shuffled_null=_null_estimate(shuffled), p_shuffled=float((np.sum(shuffled >= point) + 1) / (n_shuffle + 1)),
        neutral_null=_null_estimate(neutral), p_neutral=float((np.sum(neutral >= point) + 1) / (n_shuffle + 1)), neutral_k=k_neu,
        old_overlap=old, random_analytic=random_overlap_expected(k, k, a.shape[1]), k=k, d=int(a.shape[1]),
        n_shuffle=n_shuffle, n_rows=len(lab))
