"""Attention-delta head screening (phase 6).

For every head (layer × query head) and emotion ``e``: the attention that query positions
pay to the emotion-word tokens of ``e`` sentences, minus the attention that the matched
query positions of neutral sentences pay to the matched key positions.

Per sentence and head the score is ``mean_{q∈Q} Σ_{k∈K} pattern[head, q, k]``:

* ``K`` (emotion sentence): the emotion-word span tokens (``interp.positions`` offsets).
* ``Q``: ``"end"`` (default) = the last real token; ``"after_span"`` = every position after
  the span's last token (the end only, when the span is the last token).
* Neutral sentences have no emotion word. **Position-matched pairs** (``matching="position"``,
  the default): every emotion sentence is paired with one neutral sentence, and the neutral keys
  sit at the *same token positions* as the emotion span, so a head that attends to a fixed
  position (the first real token, the previous token, …) scores the same in both and Δ ≈ 0.
  The neutral partner is the record whose ``pair_id`` is the emotion sentence's id (a matched
  counterpart) when the dataset has one; otherwise the neutral sentence of the nearest token
  length (ties: the least used so far, then dataset order). When the lengths differ, keys in the
  first half of the emotion sentence keep their position from the start and keys in the second
  half their distance from the end (both clamped to 1 … end, never BOS).
  ``matching="end_distance"`` is the old design (neutral ``j`` ↔ emotion ``j mod n_e``, keys at the
  same distance from the end only); it is confounded by position and kept for comparison.

One forward pass per batch captures all ``blocks.{l}.attn.hook_pattern`` at once and reduces
them inside the hook. Position-matched deltas are paired (emotion − its neutral partner): CIs
are percentile bootstraps over pairs, p-values two-sided sign-flip permutation tests, Holm-
corrected over all heads. The smallest reachable p is ``max(1 / (n_perm + 1), 2^(1 − n_pairs))``
(``config["p_floor"]``; a sign-flip test over n pairs has only 2^n distinct outcomes).
"""

import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from jaxtyping import Float
from torch import Tensor

from circuits.circuit_figures import layer_head_heatmap
from circuits.heads import Head, head_name
from interp.attributes import reference_label
from interp.errors import ConfigError, DatasetError
from interp.figures import save_plotly
from interp.hook_names import hook_pattern
from interp.io import atomic_write_json
from interp.positions import tokenize_batch
from interp.stats import Estimate, holm_bonferroni

QUERY_MODES = ("end", "after_span")
MATCHINGS = ("position", "end_distance")


def _query_positions(keys: list[int], end: int, mode: str) -> list[int]:
    if mode == "end":
        return [end]
    after = list(range(max(keys) + 1, end + 1))
    return after or [end]


def matched_neutral_keys(neutral_len: int, emo_len: int, emo_span: tuple[int, ...]) -> list[int]:
    """Key positions in a neutral sentence of ``neutral_len`` tokens matched to an emotion span (same distance from end)."""
    n_end, e_end = neutral_len - 1, emo_len - 1
    keys = sorted({min(max(1, n_end - (e_end - k)), max(1, n_end)) for k in emo_span})
    return keys


def position_matched_keys(neutral_len: int, emo_len: int, emo_span: tuple[int, ...]) -> list[int]:
    """Neutral key positions matched to an emotion span: the same positions when the lengths agree; otherwise
    first-half keys keep their position from the start, second-half keys their distance from the end (1 … end)."""
    n_end, e_end = neutral_len - 1, emo_len - 1
    if n_end < 1:
        return [max(0, n_end)]
    out = set()
    for k in emo_span:
        m = k if k <= e_end / 2 else n_end - (e_end - k)
        out.add(min(max(1, m), n_end))
    return sorted(out)


def pair_neutrals(emo: list[int], neu: list[int], lens: list[int], records) -> list[int]:
    """For each emotion record index, its neutral partner's index: the ``pair_id`` counterpart, else the nearest length."""
    by_pair = {}
    for j in neu:
        pid = getattr(records[j], "pair_id", None)
        if pid:
            by_pair[pid] = j
    uses = dict.fromkeys(neu, 0)
    out = []
    for i in emo:
        j = by_pair.get(records[i].id)
        if j is None:
            j = min(neu, key=lambda n: (abs(lens[n] - lens[i]), uses[n], n))
        uses[j] += 1
        out.append(j)
    return out


@dataclass(frozen=True)
class HeadDelta:
    """One head's Δattention (emotion − matched neutral, attention probability) with its 95% bootstrap CI and p-values."""

    layer: int
    head: int
    delta: Estimate
    p: float
    p_holm: float

    @property
    def key(self) -> Head:
        return (self.layer, self.head)

    @property
    def name(self) -> str:
        return head_name(self.key)

    def to_dict(self) -> dict:
        return {"name": self.name, "layer": self.layer, "head": self.head, "delta": self.delta.value, "lo": self.delta.lo,
                "hi": self.delta.hi, "p": self.p, "p_holm": self.p_holm}


@dataclass(frozen=True)
class ScreenedHead(HeadDelta):
    """A :class:`HeadDelta` ranked among every head of a screening, with the two mean attentions it is the difference of."""

    rank: int = 0
    emotion_attn: float | None = None
    neutral_attn: float | None = None

    def to_dict(self) -> dict:
        return {"rank": self.rank, "layer": self.layer, "head": self.head, "name": self.name, "delta": self.delta.value,
                "lo": self.delta.lo, "hi": self.delta.hi, "emotion_attn": self.emotion_attn, "neutral_attn": self.neutral_attn,
                "p": self.p, "p_holm": self.p_holm}


@dataclass(frozen=True)
class ScreeningResult:
    """Per emotion: delta, CI, p and Holm p for every head; arrays are [emotion layer head]."""

    emotions: list[str]
    delta: Float[Tensor, "emotion layer head"]
    lo: Float[Tensor, "emotion layer head"]
    hi: Float[Tensor, "emotion layer head"]
    p: Float[Tensor, "emotion layer head"]
    p_holm: Float[Tensor, "emotion layer head"]
    emotion_mean: Float[Tensor, "emotion layer head"]
    neutral_mean: Float[Tensor, "emotion layer head"]
    n_emotion: list[int]
    n_neutral: int
    config: dict = field(default_factory=dict)

    def _e(self, emotion: str) -> int:
        if emotion not in self.emotions:
            raise ConfigError(f"emotion {emotion!r} was not screened; screened: {', '.join(self.emotions)}")
        return self.emotions.index(emotion)

    def top(self, emotion: str, k: int = 10) -> list[ScreenedHead]:
        """The ``k`` heads with the largest delta for ``emotion``, with CI and p-values (rank 1 first)."""
        e = self._e(emotion)
        n_heads = self.delta.shape[2]
        order = torch.argsort(self.delta[e].flatten(), descending=True)[:k]
        rows = []
        for rank, flat in enumerate(order.tolist(), 1):
            l, h = divmod(flat, n_heads)
            est = Estimate(float(self.delta[e, l, h]), float(self.lo[e, l, h]), float(self.hi[e, l, h]),
                           n_boot=int(self.config.get("n_boot", 0)))
            rows.append(ScreenedHead(l, h, est, float(self.p[e, l, h]), float(self.p_holm[e, l, h]), rank,
                                     _f(self.emotion_mean[e, l, h]), _f(self.neutral_mean[e, l, h])))
        return rows

    def top_heads(self, emotion: str, k: int) -> list[Head]:
        """The (layer, head) pairs of :meth:`top`."""
        return [r.key for r in self.top(emotion, k)]

    def n_significant(self, emotion: str, alpha: float = 0.05) -> int:
        """How many heads have Holm p < ``alpha`` for ``emotion``."""
        return int((self.p_holm[self._e(emotion)] < alpha).sum())

    def to_dict(self) -> dict:
        return {"emotions": self.emotions, "n_emotion": self.n_emotion, "n_neutral": self.n_neutral, "config": self.config,
                "top10": {e: [r.to_dict() for r in self.top(e, 10)] for e in self.emotions},
                "n_significant_holm_05": {e: int((self.p_holm[i] < 0.05).sum()) for i, e in enumerate(self.emotions)},
                "delta": self.delta.tolist(), "lo": self.lo.tolist(), "hi": self.hi.tolist(), "p": self.p.tolist(),
                "p_holm": self.p_holm.tolist()}

    @classmethod
    def load(cls, path: str | Path) -> "ScreeningResult":
        """Load a ``screening.json`` (or the folder holding it) written by :meth:`save`."""
        p = Path(path)
        p = p / "screening.json" if p.is_dir() else p
        try:
            d = json.loads(p.read_text())
            t = {k: torch.tensor(d[k]) for k in ("delta", "lo", "hi", "p_holm")}
        except (OSError, ValueError, KeyError) as exc:
            raise ConfigError(f"cannot read screening results from {str(p)!r} ({type(exc).__name__}); "
                              "pass the screening.json written by 'emotion-circuits screen-heads'") from None
        p_raw = torch.tensor(d["p"]) if "p" in d else t["p_holm"]
        nan = torch.full_like(t["delta"], float("nan"))
        return cls(d["emotions"], t["delta"], t["lo"], t["hi"], p_raw, t["p_holm"], nan, nan, d["n_emotion"], d["n_neutral"], d["config"])

    def save(self, out_dir: str | Path) -> Path:
        out = Path(out_dir)
        atomic_write_json(out / "screening.json", self.to_dict())
        for e in self.emotions:
            save_plotly(self.figure(e), out / f"screening_{e}.html")
        return out

    def figure(self, emotion: str):
        e = self._e(emotion)
        return layer_head_heatmap(self.delta[e], title=f"attention delta to {emotion} tokens (emotion − neutral)",
                                  hover=self.p_holm[e], hover_name="p_holm")


def _f(x) -> float | None:
    v = float(x)
    return None if v != v else v


class _PatternReducer:
    """Hook factory state: reduces each layer's pattern with per-row weights into [config batch head] scores."""

    def __init__(self, weights: Tensor, n_layers: int):
        self.weights = weights  # [config batch q k]
        self.scores: list[Tensor | None] = [None] * n_layers

    def reduce_pattern_hook(self, layer: int):
        def hook(pattern: Tensor, hook) -> Tensor:
            self.scores[layer] = torch.einsum("bhqk,cbqk->cbh", pattern.float(), self.weights)
            return pattern

        return hook


def _weights(rows: list[tuple[list[int], list[int]]], width: int, device) -> Tensor:
    w = torch.zeros(len(rows), width, width, device=device)
    for i, (qs, ks) in enumerate(rows):
        for q in qs:
            w[i, q, ks] = 1.0 / len(qs)
    return w


@torch.no_grad()
def screen_heads(model, ds, *, emotions: list[str] | None = None, query: str = "end", matching: str = "position",
                 batch_size: int = 32, n_boot: int = 1000, n_perm: int = 1000, seed: int = 0,
                 progress=None, reference: str | None = None) -> ScreeningResult:
    """Screen every head of ``model`` on dataset ``ds`` (needs emotion and ``neutral`` sentences).

    "Neutral" is the reference label: ``reference``, default the dataset's (:func:`interp.attributes.reference_label`:
    the registry's for its attribute and language, ``neutral`` for emotion).

    Returns:
        :class:`ScreeningResult` with [emotion layer head] deltas (attention probability units).
    """
    if query not in QUERY_MODES:
        raise ConfigError(f"unknown query mode {query!r}; choose one of {', '.join(QUERY_MODES)}")
    if matching not in MATCHINGS:
        raise ConfigError(f"unknown neutral matching {matching!r}; choose one of {', '.join(MATCHINGS)}")
    present = ds.emotions
    neutral = reference or reference_label(ds.records) or "neutral"
    if neutral not in present:
        raise DatasetError(f"screening needs {neutral} sentences (the reference label) for the matched baseline; the dataset has none")
    emotions = emotions or [e for e in present if e != neutral]
    for e in emotions:
        if e not in present or e == neutral:
            raise DatasetError(f"unknown emotion {e!r}; the dataset has: {', '.join(x for x in present if x != neutral)}")
    recs = ds.records
    n_layers, n_heads = model.cfg.n_layers, model.cfg.n_heads
    device = next(model.parameters()).device
    # token lengths and spans of every record (cheap, tokenizer only)
    lens, spans = [], []
    for r in recs:
        tb = tokenize_batch(model, [r.text], [r.spans])
        lens.append(tb.lengths[0])
        spans.append(tb.span_positions[0])
    emo_idx = {e: [i for i, r in enumerate(recs) if r.emotion == e] for e in emotions}
    neu_idx = [i for i, r in enumerate(recs) if r.emotion == neutral]
    # (query, key) positions per (config, record, partner): config c = emotion c; emotion rows use their own span;
    # a neutral row's keys depend on the emotion sentence it is matched to (several partners → several rows)
    qk: dict[tuple[int, int], list[tuple[list[int], list[int]]]] = {}
    partners: dict[str, list[int]] = {}
    for c, e in enumerate(emotions):
        for i in emo_idx[e]:
            ks = list(spans[i])
            qk.setdefault((c, i), []).append((_query_positions(ks, lens[i] - 1, query), ks))
        if matching == "position":
            partners[e] = pair_neutrals(emo_idx[e], neu_idx, lens, recs)
            pairs = list(zip(emo_idx[e], partners[e]))
        else:
            pairs = [(emo_idx[e][j % len(emo_idx[e])], nj) for j, nj in enumerate(neu_idx)]
        match = position_matched_keys if matching == "position" else matched_neutral_keys
        for src, nj in pairs:
            ks = match(lens[nj], lens[src], spans[src])
            qk.setdefault((c, nj), []).append((_query_positions(ks, lens[nj] - 1, query), ks))
    used = sorted({i for (_, i) in qk})
    # a neutral record matched to several emotion sentences gets one score per match (its q/k sets differ)
    slots = max(len(v) for v in qk.values())
    scores = torch.zeros(len(emotions) * slots, len(recs), n_layers, n_heads)
    done = 0
    for start in range(0, len(used), batch_size):
        ids = used[start:start + batch_size]
        batch = tokenize_batch(model, [recs[i].text for i in ids], [recs[i].spans for i in ids])
        width = batch.tokens.shape[1]
        # config axis = (emotion, slot): slot t of a neutral row = its t-th match
        rows = [(qk.get((c, i)) or [([0], [])])[min(t, len(qk.get((c, i)) or [0]) - 1)]
                for c in range(len(emotions)) for t in range(slots) for i in ids]
        w = _weights(rows, width, device).view(len(emotions) * slots, len(ids), width, width)
        red = _PatternReducer(w, n_layers)
        hooks = [(hook_pattern(l), red.reduce_pattern_hook(l)) for l in range(n_layers)]
        with model.hooks(fwd_hooks=hooks):
            model(batch.tokens.to(device), attention_mask=batch.attention_mask.to(device), return_type=None)
        s = torch.stack(red.scores, dim=2).cpu()  # [config batch layer head]
        scores[:, ids] = s
        done += len(ids)
        if progress:
            progress(done, len(used))
    rng = np.random.default_rng(seed)
    out = {k: torch.zeros(len(emotions), n_layers, n_heads) for k in ("delta", "lo", "hi", "p", "p_holm", "em", "nm")}
    for c, e in enumerate(emotions):
        a = scores[c * slots, emo_idx[e]].reshape(len(emo_idx[e]), -1).numpy()
        if matching == "position":
            seen: dict[int, int] = {}
            b_rows = []
            for nj in partners[e]:
                b_rows.append(scores[c * slots + seen.get(nj, 0), nj])
                seen[nj] = seen.get(nj, 0) + 1
            b = torch.stack(b_rows).reshape(len(b_rows), -1).numpy()
            d, lo, hi, p = _paired_stats(a - b, n_boot=n_boot, n_perm=n_perm, rng=rng)
        else:
            b = scores[c * slots, neu_idx].reshape(len(neu_idx), -1).numpy()
            d, lo, hi, p = _delta_stats(a, b, n_boot=n_boot, n_perm=n_perm, rng=rng)
        shape = (n_layers, n_heads)
        out["delta"][c] = torch.tensor(d).view(shape)
        out["lo"][c] = torch.tensor(lo).view(shape)
        out["hi"][c] = torch.tensor(hi).view(shape)
        out["p"][c] = torch.tensor(p).view(shape)
        out["p_holm"][c] = torch.tensor(holm_bonferroni(p)).view(shape)
        out["em"][c] = torch.tensor(a.mean(0)).view(shape)
        out["nm"][c] = torch.tensor(b.mean(0)).view(shape)
    n_pairs_by_id = sum(1 for e in emotions for i, j in zip(emo_idx[e], partners.get(e, []))
                        if getattr(recs[j], "pair_id", None) == recs[i].id)
    cfg = {"query": query, "batch_size": batch_size, "n_boot": n_boot, "n_perm": n_perm, "seed": seed,
           "p_floor": max(1.0 / (n_perm + 1), 2.0 ** (1 - min(len(v) for v in emo_idx.values()))
                          if matching == "position" else 0.0), "matching": matching,
           "neutral_matching": ("each emotion sentence paired with a neutral sentence (its pair_id counterpart, else the "
                                "nearest token length); neutral keys at the same token positions as the emotion span "
                                f"({n_pairs_by_id} pairs by pair_id); paired bootstrap and sign-flip permutation test"
                                if matching == "position" else
                                "same distance from sentence end as the paired emotion sentence's span (j mod n_e)"),
           "record_ids": [recs[i].id for i in used],
           "dataset_hash": ds.hash(), "model": getattr(getattr(model, "ec_info", None), "name", "?")}
    return ScreeningResult(emotions, out["delta"], out["lo"], out["hi"], out["p"], out["p_holm"], out["em"], out["nm"],
                           [len(emo_idx[e]) for e in emotions],
                           len({j for v in partners.values() for j in v}) if matching == "position" else len(neu_idx), cfg)


def _paired_stats(d: np.ndarray, *, n_boot: int, n_perm: int, rng) -> tuple:
    """Vectorised over heads (columns) of paired differences ``d`` [pair head]: mean, percentile bootstrap CI,
    two-sided sign-flip permutation p."""
    n = len(d)
    delta = d.mean(0)
    boots = d[rng.integers(0, n, size=(n_boot, n))].mean(1)
    lo, hi = np.quantile(boots, 0.025, axis=0), np.quantile(boots, 0.975, axis=0)
    count = np.zeros(d.shape[1])
    for s in range(0, n_perm, 256):
        signs = rng.choice([-1.0, 1.0], size=(min(256, n_perm - s), n))
        count += (np.abs(signs @ d / n) >= np.abs(delta) - 1e-12).sum(0)
    return delta, lo, hi, (count + 1) / (n_perm + 1)


def _delta_stats(a: np.ndarray, b: np.ndarray, *, n_boot: int, n_perm: int, rng) -> tuple:
    """Vectorised over heads (columns): mean difference, percentile bootstrap CI, permutation p (two-sided)."""
    na, nb = len(a), len(b)
    delta = a.mean(0) - b.mean(0)
    ia = rng.integers(0, na, size=(n_boot, na))
    ib = rng.integers(0, nb, size=(n_boot, nb))
    boots = a[ia].mean(1) - b[ib].mean(1)  # [n_boot heads]
    lo, hi = np.quantile(boots, 0.025, axis=0), np.quantile(boots, 0.975, axis=0)
    pooled = np.concatenate([a, b])
    count = np.zeros(a.shape[1])
    for _ in range(n_perm):
        perm = rng.permutation(na + nb)
        s = pooled[perm[:na]].mean(0) - pooled[perm[na:]].mean(0)
        count += np.abs(s) >= np.abs(delta) - 1e-12
    return delta, lo, hi, (count + 1) / (n_perm + 1)


@dataclass(frozen=True)
class HeadMeasurement:
    """Δattention of chosen heads re-measured on another split (the reportable number), with CI and p-values."""

    emotion: str
    heads: list[tuple[int, int]]
    delta: list[float]
    lo: list[float]
    hi: list[float]
    p: list[float]
    p_holm: list[float]  # Holm over the measured heads only
    n_emotion: int
    n_neutral: int
    record_ids: list[str]
    config: dict = field(default_factory=dict)

    def rows(self) -> list[HeadDelta]:
        """One :class:`HeadDelta` per measured head, in the order given (Holm over these heads only)."""
        n_boot = int(self.config.get("n_boot", 0))
        return [HeadDelta(l, h, Estimate(d, lo, hi, n_boot=n_boot), p, ph)
                for (l, h), d, lo, hi, p, ph in zip(self.heads, self.delta, self.lo, self.hi, self.p, self.p_holm)]

    def to_dict(self) -> dict:
        return {"emotion": self.emotion, "heads": [r.to_dict() for r in self.rows()], "n_emotion": self.n_emotion, "n_neutral": self.n_neutral,
                "record_ids": self.record_ids, "config": self.config}


def measure_heads(model, ds, heads: list[tuple[int, int]], emotion: str, *, query: str = "end",
                  matching: str = "position", batch_size: int = 32, n_boot: int = 1000, n_perm: int = 1000,
                  seed: int = 0) -> HeadMeasurement:
    """Δattention of ``heads`` for ``emotion`` on ``ds`` (e.g. the evaluation split), Holm-corrected over ``heads``."""
    if not heads:
        raise ConfigError("heads is empty; pass at least one (layer, head) to measure")
    res = screen_heads(model, ds, emotions=[emotion], query=query, matching=matching, batch_size=batch_size,
                       n_boot=n_boot, n_perm=n_perm, seed=seed)
    for l, h in heads:
        if not (0 <= l < res.delta.shape[1] and 0 <= h < res.delta.shape[2]):
            raise ConfigError(f"head L{l}H{h} is out of range for this model "
                              f"({res.delta.shape[1]} layers × {res.delta.shape[2]} heads)")
    get = lambda t: [float(t[0, l, h]) for l, h in heads]  # noqa: E731
    p = get(res.p)
    return HeadMeasurement(emotion, [tuple(x) for x in heads], get(res.delta), get(res.lo), get(res.hi), p,
                           [float(x) for x in holm_bonferroni(np.array(p))], res.n_emotion[0], res.n_neutral,
                           list(res.config["record_ids"]), {k: v for k, v in res.config.items() if k != "record_ids"})
