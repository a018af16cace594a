"""Linear maps between two residual spaces, learned on neutral sentences only, judged on held-out data.

Two maps from space A (width d_a) to space B (width d_b), both affine on centred rows:

* **ridge** — least squares ``min ||Xa W − Xb||² + λ||W||²`` (λ = ``alpha`` × mean squared
  row norm of Xa; the dual form is used when there are fewer rows than dimensions).
* **procrustes** — both sides projected to a common dimension c by their own PCA
  (Pa [d_a, c], Pb [d_b, c]), then the orthogonal R minimising ``||Za R − Zb||``;
  ``W = Pa R Pbᵀ``. Works across widths; directions outside the c-dim PCA spans are lost.

Evaluation (:func:`evaluate_map`): the map is fitted on the training neutral rows; every
number is measured on data it never saw — held-out neutral rows (R², cosine) and emotion
vectors built from emotion sentences against the *held-out* neutral mean. "Before" cos²
compares A's and B's vectors directly after zero-padding/truncating to ``max(d_a, d_b)``
(meaningful only for the same space; across models it is a coordinate coincidence). Baselines
for "after": a random Gaussian map (expected cos² ≈ 1/d_b) and the same map fitted on
neutral rows whose A–B pairing is shuffled.
"""

from dataclasses import dataclass

import numpy as np
import torch
from jaxtyping import Float
from torch import Tensor

from interp.errors import ConfigError, DatasetError
from interp.stats import Estimate
from steering.subspace import compare_subspaces, orthonormal, overlap, pad_to, pca_subspace, random_overlap_expected

KINDS = ("ridge", "procrustes")


@dataclass(frozen=True)
class LinearMap:
    """``y = (x − mean_a) @ weight + mean_b``; directions map by ``v @ weight``."""

    kind: str
    weight: Float[Tensor, "d_a d_b"]
    mean_a: Float[Tensor, " d_a"]
    mean_b: Float[Tensor, " d_b"]

    def apply(self, x: Float[Tensor, "n d_a"]) -> Float[Tensor, "n d_b"]:
        return (x - self.mean_a) @ self.weight + self.mean_b

    def apply_direction(self, v: Float[Tensor, "... d_a"]) -> Float[Tensor, "... d_b"]:
        return v @ self.weight


def _check_pair(xa: Tensor, xb: Tensor) -> None:
    if xa.ndim != 2 or xb.ndim != 2 or xa.shape[0] != xb.shape[0]:
        raise DatasetError(f"paired rows needed: got A {tuple(xa.shape)} and B {tuple(xb.shape)}")
    if xa.shape[0] < 2:
        raise DatasetError(f"a map needs at least 2 paired training rows, got {xa.shape[0]}")


def fit_ridge(xa: Float[Tensor, "n_a d_a"], xb: Float[Tensor, "n_b d_b"], *, alpha: float = 1e-2) -> LinearMap:
    """Ridge least-squares map from A rows to B rows (centred)."""
    xa, xb = torch.as_tensor(xa).double(), torch.as_tensor(xb).double()
    _check_pair(xa, xb)
    if not (alpha > 0 and np.isfinite(alpha)):
        raise ConfigError(f"alpha must be a positive finite number, got {alpha}")
    ma, mb = xa.mean(0), xb.mean(0)
    a, b = xa - ma, xb - mb
    lam = alpha * float((a**2).sum(1).mean())
    n, d = a.shape
    if n < d:
        w = a.T @ torch.linalg.solve(a @ a.T + lam * torch.eye(n, dtype=a.dtype), b)
    else:
        w = torch.linalg.solve(a.T @ a + lam * torch.eye(d, dtype=a.dtype), a.T @ b)
    return LinearMap("ridge", w.float(), ma.float(), mb.float())


def fit_procrustes(xa: Float[Tensor, "n_a d_a"], xb: Float[Tensor, "n_b d_b"], *, common_dim: int | None = None) -> LinearMap:
    """Orthogonal Procrustes after projecting both sides to ``common_dim`` by PCA (default: as many as possible)."""
    xa, xb = torch.as_tensor(xa).double(), torch.as_tensor(xb).double()
    _check_pair(xa, xb)
    limit = min(xa.shape[0] - 1, xa.shape[1], xb.shape[1])
    c = limit if common_dim is None else common_dim
    if not 1 <= c <= limit:
        raise ConfigError(f"common_dim={c} is out of range: with {xa.shape[0]} rows and widths {xa.shape[1]}/{xb.shape[1]} "
                          f"it must be between 1 and {limit}")
    ma, mb = xa.mean(0), xb.mean(0)
    pa = pca_subspace(xa.float(), c).basis.double().T  # [d_a, c]
    pb = pca_subspace(xb.float(), c).basis.double().T
    za, zb = (xa - ma) @ pa, (xb - mb) @ pb
    u, _, vh = torch.linalg.svd(za.T @ zb)
    w = pa @ (u @ vh) @ pb.T
    return LinearMap("procrustes", w.float(), ma.float(), mb.float())


def fit_map(kind: str, xa: Tensor, xb: Tensor, *, alpha: float = 1e-2, common_dim: int | None = None) -> LinearMap:
    if kind == "ridge":
        return fit_ridge(xa, xb, alpha=alpha)
    if kind == "procrustes":
        return fit_procrustes(xa, xb, common_dim=common_dim)
    raise ConfigError(f"unknown map kind {kind!r}; choose one of {', '.join(KINDS)}")


def random_rotation(d: int, *, seed: int = 0) -> Float[Tensor, "d d"]:
    """A Haar-random orthogonal matrix (QR of a Gaussian with sign fix)."""
    g = torch.randn(d, d, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)
    q, r = torch.linalg.qr(g)
    return (q * torch.sign(torch.diagonal(r))).float()


@dataclass(frozen=True)
class AlignmentSide:
    """One model's rows for alignment: neutral train / held-out rows and emotion-sentence rows."""

    train: Float[Tensor, "n_train d_model"]
    test_neutral: Float[Tensor, "n_test d_model"]
    emotion: Float[Tensor, "m d_model"]
    emotion_labels: list[str]

    def vectors(self, idx: dict[str, Tensor] | None = None, neutral_idx: Tensor | None = None) -> Float[Tensor, "e d_model"]:
        """Emotion vectors: emotion-class mean − held-out neutral mean (optionally on resampled indices)."""
        neu = self.test_neutral if neutral_idx is None else self.test_neutral[neutral_idx]
        ref = neu.mean(0)
        out = []
        for e in self.emotions:
            rows = [i for i, x in enumerate(self.emotion_labels) if x == e]
            sel = torch.tensor(rows) if idx is None else idx[e]
            out.append(self.emotion[sel].mean(0) - ref)
        return torch.stack(out)

    @property
    def emotions(self) -> list[str]:
        return list(dict.fromkeys(self.emotion_labels))


def _cos2(u: Tensor, v: Tensor) -> Tensor:
    return torch.nn.functional.cosine_similarity(u, v, dim=-1) ** 2


def _est(point: float, samples: np.ndarray) -> Estimate:
    return Estimate(float(point), float(np.quantile(samples, 0.025)), float(np.quantile(samples, 0.975)), 0.95, len(samples))


@dataclass(frozen=True)
class MapEvaluation:
    """Held-out quality of one map: per-emotion cos² before / after with CIs and baselines, subspace overlaps."""

    kind: str
    emotions: list[str]
    heldout_r2: float
    heldout_cos: float
    cos2_before: dict[str, Estimate]
    cos2_after: dict[str, Estimate]
    cos2_random_map: dict[str, Estimate]
    cos2_shuffled_pairs: dict[str, Estimate]
    overlap_before: dict
    overlap_after: dict
    k: int

    def mean_after(self) -> float:
        return float(np.mean([self.cos2_after[e].value for e in self.emotions]))

    def to_dict(self) -> dict:
        def conv(d):
            return {k: v.to_dict() for k, v in d.items()}

        return {"kind": self.kind, "emotions": self.emotions, "heldout_r2": self.heldout_r2, "heldout_cos": self.heldout_cos,
                "cos2_before": conv(self.cos2_before), "cos2_after": conv(self.cos2_after),
                "cos2_random_map": conv(self.cos2_random_map), "cos2_shuffled_pairs": conv(self.cos2_shuffled_pairs),
                "mean_cos2_after": self.mean_after(), "overlap_before": self.overlap_before,
                "overlap_after": self.overlap_after, "k": self.k}


def _boot_indices(side: AlignmentSide, n_boot: int, gen: torch.Generator) -> list[tuple[dict, Tensor]]:
    out = []
    for _ in range(n_boot):
        idx = {}
        for e in side.emotions:
            rows = torch.tensor([i for i, x in enumerate(side.emotion_labels) if x == e])
            idx[e] = rows[torch.randint(0, len(rows), (len(rows),), generator=gen)]
        nt = side.test_neutral.shape[0]
        out.append((idx, torch.randint(0, nt, (nt,), generator=gen)))
    return out


def evaluate_map(m: LinearMap, a: AlignmentSide, b: AlignmentSide, *, k: int = 10, n_boot: int = 200, n_random: int = 100,
                 n_shuffle: int = 20, alpha: float = 1e-2, common_dim: int | None = None, seed: int = 0) -> MapEvaluation:
    """Judge map ``m`` (A → B) on held-out rows and emotion vectors (see module docstring).

    ``a`` and ``b`` must hold the same sentences in the same order (paired bootstrap).
    """
    if a.emotion_labels != b.emotion_labels or a.test_neutral.shape[0] != b.test_neutral.shape[0]:
        raise DatasetError("the two sides must hold the same sentences in the same order")
    gen = torch.Generator().manual_seed(seed)
    emotions = a.emotions
    d = max(a.emotion.shape[1], b.emotion.shape[1])
    # Held-out neutral rows.
    pred, true = m.apply(a.test_neutral), b.test_neutral
    resid = ((true - pred) ** 2).sum()
    total = ((true - true.mean(0)) ** 2).sum().clamp_min(1e-30)
    r2 = float(1 - resid / total)
    hcos = float(torch.nn.functional.cosine_similarity(pred - m.mean_b, true - m.mean_b, dim=-1).mean())
    # Emotion vectors, point and paired bootstrap.
    va, vb = a.vectors(), b.vectors()
    before_pt, after_pt = _cos2(pad_to(va, d), pad_to(vb, d)), _cos2(m.apply_direction(va), vb)
    boots_before, boots_after = [], []
    for idx, nidx in _boot_indices(a, n_boot, gen):
        ba, bb = a.vectors(idx, nidx), b.vectors(idx, nidx)
        boots_before.append(_cos2(pad_to(ba, d), pad_to(bb, d)))
        boots_after.append(_cos2(m.apply_direction(ba), bb))
    bb_t, ba_t = torch.stack(boots_before).numpy(), torch.stack(boots_after).numpy()
    rand = torch.stack([_cos2(va @ torch.randn(va.shape[1], vb.shape[1], generator=gen), vb) for _ in range(n_random)]).numpy()
    shuf = []
    for _ in range(n_shuffle):
        perm = torch.randperm(b.train.shape[0], generator=gen)
        ms = fit_map(m.kind, a.train, b.train[perm], alpha=alpha, common_dim=common_dim)
        shuf.append(_cos2(ms.apply_direction(va), vb))
    shuf_t = torch.stack(shuf).numpy() if shuf else np.full((1, len(emotions)), np.nan)
    cb, ca, cr, cs = {}, {}, {}, {}
    for j, e in enumerate(emotions):
        cb[e] = _est(before_pt[j].item(), bb_t[:, j])
        ca[e] = _est(after_pt[j].item(), ba_t[:, j])
        cr[e] = _est(float(rand[:, j].mean()), rand[:, j])
        cs[e] = _est(float(np.nanmean(shuf_t[:, j])), shuf_t[:, j])
    # Subspaces of emotion rows (minus held-out neutral mean).
    ea = a.emotion - a.test_neutral.mean(0)
    eb = b.emotion - b.test_neutral.mean(0)
    sa, sb = pca_subspace(ea, k), pca_subspace(eb, k)
    ov_before = compare_subspaces(pad_to(sa.basis, d), pad_to(sb.basis, d), n_random=n_random, seed=seed).to_dict()
    mapped = orthonormal(m.apply_direction(sa.basis))
    boot_after = []
    for _ in range(min(n_boot, 100)):
        i = torch.randint(0, ea.shape[0], (ea.shape[0],), generator=gen)
        boot_after.append(_overlap_mapped(m, ea[i], eb[i], k))
    ov_after = compare_subspaces(mapped, sb.basis, boot=np.array(boot_after), n_random=n_random, seed=seed).to_dict()
    ov_after["random_analytic"] = random_overlap_expected(k, k, b.emotion.shape[1])
    return MapEvaluation(kind=m.kind, emotions=emotions, heldout_r2=r2, heldout_cos=hcos, cos2_before=cb, cos2_after=ca,
                         cos2_random_map=cr, cos2_shuffled_pairs=cs, overlap_before=ov_before, overlap_after=ov_after, k=k)


def _overlap_mapped(m: LinearMap, ea: Tensor, eb: Tensor, k: int) -> float:
    return overlap(orthonormal(m.apply_direction(pca_subspace(ea, k).basis)), pca_subspace(eb, k).basis)


def split_train_test(n: int, *, test_fraction: float = 0.3, seed: int = 0) -> tuple[list[int], list[int]]:
    """Random split of ``n`` neutral sentences into train / held-out indices (each side ≥ 2)."""
    if not 0 < test_fraction < 1:
        raise ConfigError(f"test_fraction must be between 0 and 1, got {test_fraction}")
    n_test = int(round(n * test_fraction))
    if n < 4 or n_test < 2 or n - n_test < 2:
        raise DatasetError(f"{n} shared neutral sentence(s) cannot be split into ≥ 2 training and ≥ 2 held-out sentences; "
                           "use a dataset with more neutral sentences")
    perm = np.random.default_rng(seed).permutation(n).tolist()
    return sorted(perm[n_test:]), sorted(perm[:n_test])


def rotation_self_check(a: AlignmentSide, *, kind: str = "ridge", alpha: float = 1e-2, common_dim: int | None = None,
                        seed: int = 0) -> dict:
    """Align side ``a`` with a randomly rotated copy of itself (B = A·Q); the map should recover Q.

    A map learned from neutral rows can only carry the part of a vector that lies in the span
    of those rows, so three numbers are returned: ``mean_cos2`` (raw cos² of mapped emotion
    vectors with their rotated copies), ``span_ceiling`` (mean share of each vector's squared
    norm inside the training span, the most any map can reach) and ``mean_cos2_in_span``
    (cos² for the in-span part of each vector, ≈ 1 when the fit is right). ``passed`` requires
    the in-span cos² > 0.99 and the raw cos² within 0.05 of the ceiling.
    """
    q = random_rotation(a.train.shape[1], seed=seed)
    b = AlignmentSide(a.train @ q, a.test_neutral @ q, a.emotion @ q, a.emotion_labels)
    m = fit_map(kind, a.train, b.train, alpha=alpha, common_dim=common_dim)
    va, vb = a.vectors(), b.vectors()
    c2 = _cos2(m.apply_direction(va), vb)
    centred = a.train - a.train.mean(0)
    _, s, vh = torch.linalg.svd(centred, full_matrices=False)
    basis = vh[s > s[0] * 1e-4] if m.kind == "ridge" else vh[:_rank(m)]
    inside = (va @ basis.T) @ basis
    ceiling = (inside**2).sum(-1) / (va**2).sum(-1)
    c2_in = _cos2(m.apply_direction(inside), inside @ q)
    passed = bool(c2_in.min() > 0.99 and (ceiling - c2).abs().max() < 0.05)
    return {"kind": kind, "mean_cos2": float(c2.mean()), "min_cos2": float(c2.min()), "span_ceiling": float(ceiling.mean()),
            "mean_cos2_in_span": float(c2_in.mean()), "passed": passed, "n_train_rows": int(a.train.shape[0]),
            "d": int(a.train.shape[1])}


def _rank(m: LinearMap) -> int:
    return int(torch.linalg.matrix_rank(m.weight.double()))
