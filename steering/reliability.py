"""How much to trust an emotion vector: bootstrap CIs, split-half stability, shuffled-label baseline.

Everything works on one activation row per sentence (``acts`` [n, d_model], e.g. from
:func:`steering.vectors.reference_rows`) and its labels, so it is the same for the
``sentence_end`` and ``token`` methods.

* **Bootstrap** — resample sentences *within each label* (stratified, so every class keeps
  its size), recompute every vector, and read percentile CIs of L2/L1 norms and of the
  pairwise cosines.
* **Split half** — split each label's sentences in two random halves, build the vector from
  each half, take the cosine; repeated ``n_splits`` times. High means a stable direction.
* **Shuffled labels** — permute the labels and recompute everything: the null each number
  should be compared with. Note that with the ``neutral`` contrast two shuffled vectors share
  the neutral mean, so their null cosine is about 0.5, not 0.

"Neutral" is the reference label: ``neutral`` for emotion, the attribute registry's reference
(:mod:`interp.attributes`) for other attributes, passed as ``reference``.
"""

from dataclasses import dataclass

import numpy as np
import torch
from jaxtyping import Float
from torch import Tensor

from interp.errors import DatasetError
from interp.stats import Estimate
from steering.vectors import contrast_mode


def _groups(labels: list[str], emotions: list[str], contrast: str, reference: str) -> dict[str, list[int]]:
    lab = list(labels)
    groups = {e: [i for i, x in enumerate(lab) if x == e] for e in dict.fromkeys(lab)}
    for e in emotions:
        if len(groups.get(e, [])) < 2:
            raise DatasetError(f"emotion {e!r} has {len(groups.get(e, []))} sentence(s); at least 2 are needed for a vector")
    mode = contrast_mode(contrast, reference)
    if mode == "reference" and len(groups.get(reference, [])) < 2:
        raise DatasetError(f"contrast {reference!r} needs at least 2 {reference} sentences")
    if mode == "others" and len(emotions) < 2:
        raise DatasetError(f"contrast 'others' needs at least 2 labels besides the reference {reference!r}")
    return groups


def _vectors_from_means(means: dict[str, Tensor], emotions: list[str], contrast: str,
                        reference: str = "neutral") -> Float[Tensor, "... e d_model"]:
    """Stack emotion vectors from (possibly batched) class means [..., d]."""
    out = []
    for e in emotions:
        if contrast == reference:
            ref = means[reference]
        else:
            ref = torch.stack([means[o] for o in emotions if o != e]).mean(0)
        out.append(means[e] - ref)
    return torch.stack(out, dim=-2)


def _cos_matrix(v: Float[Tensor, "... e d_model"]) -> Float[Tensor, "... e e"]:
    u = v / v.norm(dim=-1, keepdim=True).clamp_min(1e-12)
    return u @ u.transpose(-1, -2)


def _resample_means(acts: Tensor, idx: list[int], n: int, gen: torch.Generator) -> Float[Tensor, "n d_model"]:
    """``n`` bootstrap means of ``acts[idx]`` via count weights (one matmul, no copies)."""
    m = len(idx)
    draws = torch.randint(0, m, (n, m), generator=gen)
    w = torch.zeros(n, m).scatter_add_(1, draws, torch.ones(n, m)) / m
    return w @ acts[idx]


def _estimate(point: float, samples: np.ndarray, level: float) -> Estimate:
    a = (1 - level) / 2
    return Estimate(float(point), float(np.quantile(samples, a)), float(np.quantile(samples, 1 - a)), level, len(samples))


@dataclass(frozen=True)
class VectorReliability:
    """Norms and cosines of a set of emotion vectors with bootstrap CIs, split-half stability and a null.

    ``*_null`` fields hold the shuffled-label distribution summarised as an Estimate whose
    ``value`` is the null mean and ``lo``/``hi`` its 2.5 / 97.5 percentiles.
    """

    emotions: list[str]
    contrast: str
    norm: dict[str, Estimate]
    l1: dict[str, Estimate]
    cosine: dict[str, Estimate]
    split_half: dict[str, Estimate]
    norm_null: dict[str, Estimate]
    cosine_null: dict[str, Estimate]
    split_half_null: dict[str, Estimate]
    n_boot: int
    n_shuffle: int
    seed: int

    def cosine_matrix(self) -> np.ndarray:
        """[e, e] point cosines in ``emotions`` order."""
        k = len(self.emotions)
        m = np.eye(k)
        for i, a in enumerate(self.emotions):
            for j, b in enumerate(self.emotions):
                if i != j:
                    m[i, j] = self.cosine[pair_key(a, b)].value
        return m

    def signal_ratio(self) -> float:
        """Mean over emotions of ||v||² / mean shuffled-label ||v||²: 1 means no emotion signal."""
        return float(np.mean([self.norm[e].value ** 2 / max(self.norm_null[e].value ** 2, 1e-30) for e in self.emotions]))

    def to_dict(self) -> dict:
        def conv(d):
            return {k: v.to_dict() for k, v in d.items()}

        return {"emotions": self.emotions, "contrast": self.contrast, "norm": conv(self.norm), "l1": conv(self.l1),
                "cosine": conv(self.cosine), "split_half": conv(self.split_half), "norm_null": conv(self.norm_null),
                "cosine_null": conv(self.cosine_null), "split_half_null": conv(self.split_half_null),
                "signal_ratio": self.signal_ratio(), "n_boot": self.n_boot, "n_shuffle": self.n_shuffle, "seed": self.seed}


def pair_key(a: str, b: str) -> str:
    """Canonical key of an emotion pair (sorted, ``"anger~gratitude"``)."""
    return "~".join(sorted((a, b)))


def _point_stats(acts: Tensor, groups: dict[str, list[int]], emotions: list[str], contrast: str, reference: str):
    means = {e: acts[i].mean(0) for e, i in groups.items()}
    v = _vectors_from_means(means, emotions, contrast, reference)
    return v


def _split_half(acts: Tensor, groups: dict[str, list[int]], emotions: list[str], contrast: str, n_splits: int,
                gen: torch.Generator, reference: str) -> Float[Tensor, "s e"]:
    out = []
    for _ in range(n_splits):
        halves = [{}, {}]
        for e, idx in groups.items():
            perm = torch.tensor(idx)[torch.randperm(len(idx), generator=gen)]
            h = len(idx) // 2
            halves[0][e] = acts[perm[:h]].mean(0) if h else acts[perm].mean(0)
            halves[1][e] = acts[perm[h:]].mean(0)
        v1, v2 = (_vectors_from_means(m, emotions, contrast, reference) for m in halves)
        out.append(torch.nn.functional.cosine_similarity(v1, v2, dim=-1))
    return torch.stack(out)


def vector_reliability(acts: Float[Tensor, "n d_model"], labels: list[str], *, contrast: str = "neutral",
                       emotions: list[str] | None = None, n_boot: int = 500, n_splits: int = 50, n_shuffle: int = 100,
                       level: float = 0.95, seed: int = 0, reference: str = "neutral") -> VectorReliability:
    """Bootstrap CIs, split-half cosines and shuffled-label nulls of all emotion vectors.

    Args:
        acts: one activation row per sentence.
        labels: the sentence labels, aligned with ``acts``.
        contrast: ``reference`` (e.g. ``"neutral"``) or ``"others"``.
        emotions: the emotions to build vectors for (default every non-reference label).
        n_boot: bootstrap resamples (stratified by label).
        n_splits: random half splits for split-half cosines.
        n_shuffle: label permutations for the null.
        seed: makes every resample reproducible.
        reference: the reference label (``neutral`` for emotion; :mod:`interp.attributes`).
    """
    acts = torch.as_tensor(acts).float()
    if acts.ndim != 2 or acts.shape[0] != len(labels):
        raise DatasetError(f"acts must be [n, d_model] with one row per label; got shape {tuple(acts.shape)} for {len(labels)} labels")
    emotions = emotions or [e for e in dict.fromkeys(labels) if e != reference]
    groups = _groups(labels, emotions, contrast, reference)
    gen = torch.Generator().manual_seed(seed)
    pairs = [(a, b) for i, a in enumerate(emotions) for b in emotions[i + 1:]]
    ij = [(emotions.index(a), emotions.index(b)) for a, b in pairs]

    v = _point_stats(acts, groups, emotions, contrast, reference)
    cos = _cos_matrix(v)
    boot_means = {e: _resample_means(acts, idx, n_boot, gen) for e, idx in groups.items()}
    vb = _vectors_from_means(boot_means, emotions, contrast, reference)  # [B, e, d]
    cb = _cos_matrix(vb)
    sh = _split_half(acts, groups, emotions, contrast, n_splits, gen, reference)

    # Null: permute labels over all sentences used (class sizes kept).
    used = sorted(i for e, idx in groups.items() if e in emotions or (contrast == reference and e == reference) for i in idx)
    used_labels = [labels[i] for i in used]
    used_acts = acts[used]
    null_v, null_sh = [], []
    for _ in range(n_shuffle):
        perm = torch.randperm(len(used), generator=gen).tolist()
        shuffled = [used_labels[p] for p in perm]
        g = {e: [i for i, x in enumerate(shuffled) if x == e] for e in dict.fromkeys(shuffled)}
        null_v.append(_point_stats(used_acts, g, emotions, contrast, reference))
        null_sh.append(_split_half(used_acts, g, emotions, contrast, 1, gen, reference)[0])
    null_v_t = torch.stack(null_v)
    null_c = _cos_matrix(null_v_t)
    null_sh_t = torch.stack(null_sh)

    def null_est(samples: np.ndarray) -> Estimate:
        return _estimate(float(samples.mean()), samples, level)

    norm, l1, split, nn, snull = {}, {}, {}, {}, {}
    for k, e in enumerate(emotions):
        norm[e] = _estimate(v[k].norm().item(), vb[:, k].norm(dim=-1).numpy(), level)
        l1[e] = _estimate(v[k].abs().sum().item(), vb[:, k].abs().sum(-1).numpy(), level)
        s = sh[:, k].numpy()
        split[e] = _estimate(float(s.mean()), s, level)
        nn[e] = null_est(null_v_t[:, k].norm(dim=-1).numpy())
        snull[e] = null_est(null_sh_t[:, k].numpy())
    cosine, cnull = {}, {}
    for (a, b), (i, j) in zip(pairs, ij):
        cosine[pair_key(a, b)] = _estimate(cos[i, j].item(), cb[:, i, j].numpy(), level)
        cnull[pair_key(a, b)] = null_est(null_c[:, i, j].numpy())
    return VectorReliability(emotions=list(emotions), contrast=contrast, norm=norm, l1=l1, cosine=cosine,
                             split_half=split, norm_null=nn, cosine_null=cnull, split_half_null=snull,
                             n_boot=n_boot, n_shuffle=n_shuffle, seed=seed)


def strongest_band(values: list[float] | list[int], layers: list[int], *, width: int = 3) -> list[int]:
    """The ``width`` consecutive layers (in ``layers`` order) with the highest mean of ``values``."""
    if len(values) != len(layers) or not layers:
        raise DatasetError("strongest_band needs one value per layer and at least one layer")
    w = min(width, len(layers))
    best = max(range(len(layers) - w + 1), key=lambda i: (float(np.mean(values[i:i + w])), -i))
    return list(layers[best:best + w])
