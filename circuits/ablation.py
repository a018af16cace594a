"""Multi-head ablation on ``hook_z`` (zero or mean), its effect on the emotion log-prob metric, and top-k vs random search.

``hook_z`` is per *query* head ([batch pos head d_head]). With grouped-query attention
(smollm2: 9 query heads share 3 KV heads) ablating query head ``h`` replaces only that
head's output ``z_h`` before ``W_O``; the shared key/value head keeps feeding the other
query heads of its group unchanged.

``mean`` ablation replaces ``z_h`` at every position by its mean over all real tokens of a
reference dataset (position-independent mean, padding excluded).
"""

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from torch import Tensor

from circuits.metrics import emotion_logprob, emotion_token_ids
from interp.errors import ConfigError, HookError
from interp.hook_names import hook_z
from interp.io import atomic_write_json
from interp.positions import tokenize_batch
from interp.stats import Estimate, bootstrap_ci

MODES = ("zero", "mean")
Head = tuple[int, int]


def validate_heads(model, heads: Sequence[Head]) -> list[Head]:
    """Check every (layer, head) is in range; raise a :class:`HookError` naming the bad one."""
    n_layers, n_heads = model.cfg.n_layers, model.cfg.n_heads
    out = []
    for item in heads:
        try:
            l, h = (int(x) for x in item)
        except (TypeError, ValueError):
            raise HookError(f"a head must be a (layer, head) pair like (3, 1), got {item!r}") from None
        if not 0 <= l < n_layers:
            raise HookError(f"head L{l}H{h}: layer {l} is out of range; this model has layers 0..{n_layers - 1}")
        if not 0 <= h < n_heads:
            raise HookError(f"head L{l}H{h}: head {h} is out of range; this model has heads 0..{n_heads - 1} per layer")
        out.append((l, h))
    return out


def parse_heads(text: str) -> list[Head]:
    """Parse ``"L3H1,L5H0"`` or ``"3.1,5.0"`` into [(3, 1), (5, 0)]."""
    import re

    out = []
    for part in (p.strip() for p in text.split(",") if p.strip()):
        m = re.fullmatch(r"[Ll]?(\d+)[.Hh:](\d+)", part)
        if not m:
            raise HookError(f"cannot read head {part!r}; write heads like 'L3H1' or '3.1', comma-separated")
        out.append((int(m.group(1)), int(m.group(2))))
    if not out:
        raise HookError("no heads given; write heads like 'L3H1,L5H0'")
    return out


def ablate_heads_hook(heads: list[int], replacement: Tensor | None):
    """Hook on ``hook_z`` that sets the given query heads to zero (``replacement`` None) or to ``replacement[head]``."""

    def hook(z: Tensor, hook) -> Tensor:
        z = z.clone()
        for h in heads:
            z[:, :, h] = 0.0 if replacement is None else replacement[h].to(z.dtype)
        return z

    return hook


@torch.no_grad()
def mean_z(model, texts: Sequence[str], *, batch_size: int = 32) -> Tensor:
    """Mean ``hook_z`` over all real tokens of ``texts``: [layer head d_head]."""
    n_layers = model.cfg.n_layers
    device = next(model.parameters()).device
    total, count = None, 0
    for i in range(0, len(texts), batch_size):
        b = tokenize_batch(model, list(texts[i:i + batch_size]))
        mask = b.attention_mask.to(device).float()
        store: dict[int, Tensor] = {}

        def save(l):
            def hook(z, hook):
                store[l] = torch.einsum("bphd,bp->hd", z.float(), mask)
                return z
            return hook

        with model.hooks(fwd_hooks=[(hook_z(l), save(l)) for l in range(n_layers)]):
            model(b.tokens.to(device), attention_mask=b.attention_mask.to(device), return_type=None)
        s = torch.stack([store[l] for l in range(n_layers)])
        total = s if total is None else total + s
        count += int(mask.sum())
    return total / count


def ablation_hooks(model, heads: Sequence[Head], mode: str, means: Tensor | None = None) -> list:
    """The fwd_hooks that ablate ``heads`` (grouped per layer) in ``mode``."""
    if mode not in MODES:
        raise ConfigError(f"unknown ablation mode {mode!r}; choose one of {', '.join(MODES)}")
    if mode == "mean" and means is None:
        raise ConfigError("mean ablation needs the reference means (mean_z over a reference dataset)")
    by_layer: dict[int, list[int]] = {}
    for l, h in validate_heads(model, heads):
        by_layer.setdefault(l, []).append(h)
    return [(hook_z(l), ablate_heads_hook(hs, None if mode == "zero" else means[l])) for l, hs in sorted(by_layer.items())]


@torch.no_grad()
def metric_under_hooks(model, texts: Sequence[str], token_ids: Sequence[int], fwd_hooks: list, *, batch_size: int = 32) -> Tensor:
    """Per-sentence emotion log-prob at the sentence end with ``fwd_hooks`` active: [n], in the order of ``texts``.

    Sentences are batched in order of token length and left-padded, so every row ends at the last position
    and only that position's logits are computed (``logits_to_keep=1``, where the model supports it):
    the same numbers as right padding with full logits, with less padding and no unembedding of other positions.
    """
    device = next(model.parameters()).device
    lengths = tokenize_batch(model, list(texts)).lengths
    order = sorted(range(len(texts)), key=lambda i: lengths[i])
    out = torch.empty(len(texts))
    for i in range(0, len(order), batch_size):
        idx = order[i:i + batch_size]
        b = tokenize_batch(model, [texts[j] for j in idx], padding_side="left")
        with model.hooks(fwd_hooks=fwd_hooks):
            logits = _last_logits(model, b.tokens.to(device), b.attention_mask.to(device))
        out[idx] = emotion_logprob(logits, [logits.shape[1] - 1] * len(idx), token_ids).cpu()
    return out


def _last_logits(model, tokens: Tensor, attention_mask: Tensor) -> Tensor:
    """Logits of the last position only ([batch 1 d_vocab]) when the wrapped model takes ``logits_to_keep``, else all."""
    try:
        return model(tokens, attention_mask=attention_mask, logits_to_keep=1)
    except TypeError:
        return model(tokens, attention_mask=attention_mask)


@dataclass(frozen=True)
class AblationResult:
    """Effect (ablated − clean emotion log-prob, nats) of ablating ``heads``; per-sentence values kept."""

    emotion: str
    heads: list[Head]
    mode: str
    clean: Tensor
    ablated: Tensor
    effect: Estimate
    clean_metric: Estimate

    def to_dict(self) -> dict:
        return {"emotion": self.emotion, "heads": [f"L{l}H{h}" for l, h in self.heads], "mode": self.mode,
                "n": len(self.clean), "effect": self.effect.to_dict(), "clean_metric": self.clean_metric.to_dict()}


def ablate(model, texts: Sequence[str], emotion: str, heads: Sequence[Head], *, mode: str = "zero",
           means: Tensor | None = None, clean: Tensor | None = None, batch_size: int = 32, seed: int = 0) -> AblationResult:
    """Ablate ``heads`` on the emotion prompts ``texts`` and measure the change of the emotion log-prob."""
    ids = emotion_token_ids(model, emotion)
    hooks = ablation_hooks(model, heads, mode, means)
    if clean is None:
        clean = metric_under_hooks(model, texts, ids, [], batch_size=batch_size)
    abl = metric_under_hooks(model, texts, ids, hooks, batch_size=batch_size)
    return AblationResult(emotion, list(heads), mode, clean, abl, bootstrap_ci((abl - clean).numpy(), seed=seed),
                          bootstrap_ci(clean.numpy(), seed=seed))


@dataclass(frozen=True)
class CumulativeAblation:
    """Top-k screened heads ablated together vs k random heads, per k, with CIs.

    ``random`` is the per-sentence mean over ``n_random`` draws of k heads; its CI bootstraps
    sentences only, so it ignores *which* heads were drawn. ``random_draw_effects`` (the mean
    effect of each draw) carries that spread, and ``p_draws`` is the fraction
    ``(1 + #draws with |effect| ≥ |top effect|) / (1 + n_random)``: how unusual the top-k
    effect is among k-head sets drawn at random (resolution 1 / (1 + n_random)).
    """

    emotion: str
    mode: str
    ks: list[int]
    top: list[Estimate]
    random: list[Estimate]
    diff: list[Estimate]
    heads: list[Head]
    n_random: int
    random_draw_effects: list[list[float]] = field(default_factory=list)
    random_draw_heads: list[list[list[Head]]] = field(default_factory=list)
    p_draws: list[float] = field(default_factory=list)
    config: dict = field(default_factory=dict)

    def to_dict(self) -> dict:
        rows = []
        for i, (k, t, r, d) in enumerate(zip(self.ks, self.top, self.random, self.diff)):
            draws = self.random_draw_effects[i] if self.random_draw_effects else []
            rows.append({"k": k, "top_effect": t.to_dict(), "random_effect": r.to_dict(), "top_minus_random": d.to_dict(),
                         "random_draw_effects": draws,
                         "random_draw_min": min(draws) if draws else None, "random_draw_max": max(draws) if draws else None,
                         "p_draws": self.p_draws[i] if self.p_draws else None,
                         "random_draw_heads": [[f"L{l}H{h}" for l, h in hs] for hs in self.random_draw_heads[i]]
                         if self.random_draw_heads else []})
        return {"emotion": self.emotion, "mode": self.mode, "ks": self.ks, "n_random_draws": self.n_random,
                "ranked_heads": [f"L{l}H{h}" for l, h in self.heads], "config": self.config, "rows": rows}

    def figure(self):
        from circuits.circuit_figures import effect_vs_k

        return effect_vs_k(self.ks, [t.value for t in self.top], [t.lo for t in self.top], [t.hi for t in self.top],
                           [r.value for r in self.random], [r.lo for r in self.random], [r.hi for r in self.random],
                           title=f"{self.emotion}: {self.mode}-ablating top-k screened heads vs k random heads",
                           draws=self.random_draw_effects or None)

    def save(self, out_dir: str | Path) -> Path:
        from interp.figures import save_plotly

        out = Path(out_dir)
        atomic_write_json(out / f"ablation_{self.emotion}.json", self.to_dict())
        save_plotly(self.figure(), out / f"ablation_{self.emotion}.html")
        return out


def cumulative_ablation(model, texts: Sequence[str], emotion: str, ranked_heads: Sequence[Head], ks: Sequence[int], *,
                        mode: str = "zero", means: Tensor | None = None, n_random: int = 3, batch_size: int = 32,
                        seed: int = 0, progress=None) -> CumulativeAblation:
    """For each k: effect of ablating the first k of ``ranked_heads`` and of k uniformly random heads (``n_random`` draws).

    CIs bootstrap over sentences; the random effect per sentence is the mean over draws, and
    ``diff`` is the paired (same sentences) top − random effect. Each draw's mean effect and
    heads are kept (``random_draw_effects``, ``random_draw_heads``) with ``p_draws``.
    """
    ranked = validate_heads(model, ranked_heads)
    if not ks or min(ks) < 1 or max(ks) > len(ranked):
        raise ConfigError(f"ks must be in 1..{len(ranked)} (the number of ranked heads), got {list(ks)}")
    if n_random < 1:
        raise ConfigError(f"n_random must be ≥ 1 (random k-head draws per k), got {n_random}")
    ids = emotion_token_ids(model, emotion)
    clean = metric_under_hooks(model, texts, ids, [], batch_size=batch_size)
    all_heads = [(l, h) for l in range(model.cfg.n_layers) for h in range(model.cfg.n_heads)]
    rng = np.random.default_rng(seed)
    top, rand, diff, draw_eff, draw_heads, p_draws = [], [], [], [], [], []
    total = len(ks) * (1 + n_random)
    done = 0
    for k in ks:
        t = metric_under_hooks(model, texts, ids, ablation_hooks(model, ranked[:k], mode, means), batch_size=batch_size) - clean
        done += 1
        rs, picks = [], []
        for _ in range(n_random):
            pick = [all_heads[i] for i in rng.choice(len(all_heads), size=k, replace=False)]
            picks.append(pick)
            rs.append(metric_under_hooks(model, texts, ids, ablation_hooks(model, pick, mode, means), batch_size=batch_size) - clean)
            done += 1
            if progress:
                progress(done, total)
        r = torch.stack(rs).mean(0)
        top.append(bootstrap_ci(t.numpy(), seed=seed))
        rand.append(bootstrap_ci(r.numpy(), seed=seed))
        diff.append(bootstrap_ci((t - r).numpy(), seed=seed))
        means_k = [float(x.mean()) for x in rs]
        draw_eff.append(means_k)
        draw_heads.append(picks)
        t_abs = abs(float(t.mean()))
        p_draws.append((1 + sum(abs(m) >= t_abs for m in means_k)) / (1 + n_random))
    return CumulativeAblation(emotion, mode, list(ks), top, rand, diff, ranked, n_random, draw_eff, draw_heads, p_draws,
                              {"n_sentences": len(texts), "seed": seed, "metric": "log P(next token is an emotion word) at sentence end",
                               "random_ci": "bootstrap over sentences of the per-sentence mean over draws (draw spread: random_draw_effects)"})
