"""Head patching from a source run (emotion sentence) into a target run (neutral sentence) (phase 7).

Modes, for each chosen query head ``h`` of layer ``l`` (all on ``blocks.l.attn.hook_z``; ``P``
= ``hook_pattern`` [batch head q k], ``V`` = ``hook_v`` [batch pos kv_head d_head]):

* ``z``: the head's whole output ``z_h`` is copied from the source.
* ``pattern_v``: ``z_h = P_src[h] @ V_src[kv(h)]`` (pattern and values from the source). With
  no bias this equals ``z`` mathematically (checked in the tests); it is kept as the phase-7
  name and because it needs equal lengths, whereas ``z`` can also patch only the end.
* ``v_only``: ``z_h = P_tgt[h] @ V_src[kv(h)]`` (values from the source, the target's own pattern).
* ``pattern_only``: ``z_h = P_src[h] @ V_tgt[kv(h)]``.

``P_tgt`` / ``V_tgt`` are read *live* from the patched run (so earlier patched heads propagate).

**Grouped-query attention.** ``hook_v`` holds one value vector per *KV* head (smollm2: 3 KV
heads for 9 query heads; query head ``h`` reads KV head ``kv(h) = h // (n_heads // n_kv_heads)``).
Patching ``hook_v`` itself would change every query head of the group, so ``v_only`` and
``pattern_v`` are computed per query head at ``hook_z``: only head ``h``'s output uses the
source values; the other heads sharing the KV head keep the target values.

**Positions.** ``pattern_v``, ``v_only``, ``pattern_only`` and ``z`` with ``positions="all"``
need each source/target pair to have the same token length (position ``i`` ↔ position ``i``;
a :class:`PatchLengthError` otherwise; use :func:`length_matched_pairs`). ``z`` with
``positions="end"`` patches only the target's last real token with the source's last real
token and accepts any lengths.
"""

from collections.abc import Sequence
from dataclasses import dataclass, field

import torch
from torch import Tensor

from circuits.head_controls import ControlP, HeadDraws, matched_draws, sequential_controls
from circuits.heads import Head, head_name, validate_heads
from circuits.metrics import control_words, emotion_words, get_metric, word_logprobs
from interp.capture import record, store_activation_hook
from interp.errors import ConfigError
from interp.hook_names import block_hook, hook_pattern, hook_z
from interp.positions import tokenize_batch
from interp.stats import Estimate, bootstrap_ci

POSITIONS = ("all", "end")


class PatchLengthError(ConfigError):
    """Source and target of a pair have different token lengths where the mode needs them equal."""


def kv_head(model, h: int) -> int:
    """KV head read by query head ``h`` (grouped-query attention)."""
    n_kv = int(getattr(model.cfg, "n_key_value_heads", None) or model.cfg.n_heads)
    return h // (model.cfg.n_heads // n_kv)


def length_matched_pairs(model, sources: Sequence[str], targets: Sequence[str]) -> list[tuple[int, int]]:
    """Pair each source with a target of the same token length (unused targets first, then reuse); unmatched sources dropped."""
    def n_tok(t):
        return tokenize_batch(model, [t]).lengths[0]

    tl: dict[int, list[int]] = {}
    for j, t in enumerate(targets):
        tl.setdefault(n_tok(t), []).append(j)
    next_use: dict[int, int] = {}
    pairs = []
    for i, s in enumerate(sources):
        n = n_tok(s)
        cands = tl.get(n)
        if cands:
            c = next_use.get(n, 0)
            pairs.append((i, cands[c % len(cands)]))
            next_use[n] = c + 1
    return pairs


# A mode is a function (patcher, layer, head, z) -> the head's patched output [rows pos d_head] (z: the live hook_z).
def _z_value(p: "_HeadPatcher", layer: int, h: int, z: Tensor) -> Tensor:
    """The source's whole ``z_h`` (all positions, or with ``positions="end"`` only the last real token's)."""
    zs = p._src(hook_z(layer), z.shape[0])
    if p.positions != "end":
        return zs[:, :, h]
    n_src = p.src[hook_z(layer)].shape[0]
    val = z[:, :, h].clone()
    for row in range(z.shape[0]):
        r = row % n_src
        te, se = p.tb.padded(r, p.tb.end_positions[r]), p.sb.padded(r, p.sb.end_positions[r])
        val[row, te] = zs[row, se, h]
    return val


def _mixed_value(pattern_from: str, values_from: str):
    """A mode recomputing ``z_h = P[h] @ V[kv(h)]`` with the pattern and the values each from ``"source"`` or the live ``"target"``."""
    def value(p: "_HeadPatcher", layer: int, h: int, z: Tensor) -> Tensor:
        rows, kv = z.shape[0], kv_head(p.model, h)
        p_name, v_name = hook_pattern(layer), block_hook("v", layer)
        pat = (p._src(p_name, rows) if pattern_from == "source" else p.live[p_name])[:, h]
        v = (p._src(v_name, rows) if values_from == "source" else p.live[v_name])[:, :, kv]
        return torch.einsum("bqk,bkd->bqd", pat.to(v.dtype), v)
    return value


MODES = {"pattern_v": _mixed_value("source", "source"), "v_only": _mixed_value("target", "source"),
         "pattern_only": _mixed_value("source", "target"), "z": _z_value}
"""Head-patching mode → ``fn(patcher, layer, head, z) -> patched z_h``; the allowed config / CLI values are the keys."""


def _check_mode(mode: str, positions: str) -> None:
    if mode not in MODES:
        raise ConfigError(f"unknown head-patching mode {mode!r}; choose one of {', '.join(MODES)}")
    if positions not in POSITIONS:
        raise ConfigError(f"unknown positions {positions!r}; choose one of {', '.join(POSITIONS)}")
    if positions == "end" and mode != "z":
        raise ConfigError(f"positions='end' only works with mode 'z' (mode {mode!r} patches whole patterns/values)")


def _check_lengths(src, tgt, mode: str, positions: str) -> None:
    if mode == "z" and positions == "end":
        return
    for i, (a, b) in enumerate(zip(src.lengths, tgt.lengths)):
        if a != b:
            raise PatchLengthError(f"mode {mode!r} needs source and target of equal token length, but pair {i} has "
                                   f"{a} vs {b} tokens; pair sentences with length_matched_pairs or use mode 'z' with positions 'end'")


class _HeadPatcher:
    """Per-layer live captures of the target run and the hook factories that patch query heads.

    ``row_mask`` ([rows layer head], optional): which heads each row patches, so several head sets share one
    forward pass (the target batch stacked once per set, set-major; the source cache is repeated to match).
    """

    def __init__(self, model, src_cache: dict, src_batch, tgt_batch, mode: str, positions: str, *, only_width: int | None = None,
                 row_mask: Tensor | None = None):
        self.model, self.src, self.mode, self.positions = model, src_cache, mode, positions
        self.sb, self.tb = src_batch, tgt_batch
        self.only_width = only_width  # patch only calls of this many positions (the prompt pass of a cached generation)
        self.row_mask = row_mask
        self.live: dict[str, Tensor] = {}

    def _src(self, name: str, rows: int) -> Tensor:
        x = self.src[name]
        return x if x.shape[0] == rows else x.repeat(rows // x.shape[0], *([1] * (x.ndim - 1)))

    def patch_head_z_hook(self, layer: int, heads: list[int]):
        def hook(z: Tensor, hook) -> Tensor:
            if self.only_width is not None and z.shape[1] != self.only_width:
                return z  # a KV-cached decoding step: no source counterpart, left unpatched
            out = z.clone()
            for h in heads:
                val = MODES[self.mode](self, layer, h, z)
                if self.row_mask is None:
                    out[:, :, h] = val.to(z.dtype)
                else:
                    m = self.row_mask[:, layer, h].to(z.device)[:, None, None]
                    out[:, :, h] = torch.where(m, val.to(z.dtype), z[:, :, h])
            return out
        return hook

    def hooks(self, heads: Sequence[Head]) -> list:
        by_layer: dict[int, list[int]] = {}
        for l, h in heads:
            by_layer.setdefault(l, []).append(h)
        out = []
        for l, hs in sorted(by_layer.items()):
            if self.mode != "z":  # the target's live pattern and values (not detached: the patched run's own)
                out += [(n, store_activation_hook(self.live, n, transform=lambda a: a)) for n in (block_hook("v", l), hook_pattern(l))]
            out.append((hook_z(l), self.patch_head_z_hook(l, hs)))
        return out


def head_patch_hooks(model, src_cache: dict, sb, tb, heads: Sequence[Head], mode: str, positions: str = "all", *,
                     only_width: int | None = None) -> list:
    """``fwd_hooks`` patching ``heads`` of the target run from ``src_cache`` (see :func:`run_source`).

    ``only_width``: patch only forward calls with that many positions (the prompt pass of a KV-cached
    generation), leaving the one-token decoding steps unpatched.
    """
    return _HeadPatcher(model, src_cache, sb, tb, mode, positions, only_width=only_width).hooks(heads)


def _source_names(layers) -> list[str]:
    return [n for l in layers for n in (hook_z(l), hook_pattern(l), block_hook("v", l))]


@torch.no_grad()
def run_source(model, sb, layers) -> tuple[Tensor, dict[str, Tensor]]:
    """Source logits and its ``hook_z`` / ``hook_pattern`` / ``hook_v`` of ``layers`` (one forward pass)."""
    device = next(model.parameters()).device
    with record(model, _source_names(layers)) as cache:
        logits = model(sb.tokens.to(device), attention_mask=sb.attention_mask.to(device))
    return logits, cache


@torch.no_grad()
def _run_patched(model, src_cache: dict, sb, tb, heads: Sequence[Head], mode: str, positions: str) -> Tensor:
    """Target logits with ``heads`` patched from the source cache (which must hold their layers)."""
    device = next(model.parameters()).device
    patcher = _HeadPatcher(model, src_cache, sb, tb, mode, positions)
    with model.hooks(fwd_hooks=patcher.hooks(heads)):
        return model(tb.tokens.to(device), attention_mask=tb.attention_mask.to(device))


def _tokenize_pair(model, source_texts, target_texts, mode: str, positions: str):
    if len(source_texts) != len(target_texts) or not source_texts:
        raise ConfigError(f"need as many source as target sentences (≥ 1), got {len(source_texts)} and {len(target_texts)}")
    sb, tb = tokenize_batch(model, list(source_texts)), tokenize_batch(model, list(target_texts))
    _check_lengths(sb, tb, mode, positions)
    return sb, tb


@torch.no_grad()
def patched_logits(model, source_texts: Sequence[str], target_texts: Sequence[str], heads: Sequence[Head], *,
                   mode: str = "pattern_v", positions: str = "all") -> tuple[Tensor, Tensor, Tensor, object, object]:
    """Run source, target and patched target; returns (source logits, target logits, patched logits, src batch, tgt batch)."""
    _check_mode(mode, positions)
    heads = validate_heads(model, heads)
    sb, tb = _tokenize_pair(model, source_texts, target_texts, mode, positions)
    device = next(model.parameters()).device
    src_logits, src_cache = run_source(model, sb, sorted({l for l, _ in heads}))
    tgt_logits = model(tb.tokens.to(device), attention_mask=tb.attention_mask.to(device))
    return src_logits, tgt_logits, _run_patched(model, src_cache, sb, tb, heads, mode, positions), sb, tb


@dataclass(frozen=True)
class HeadPatchResult:
    """Effect on the target's metric (patched − target, nats), the source − target gap, and a layer-matched random-head control.

    ``random_draw_effects``: mean effect of each random head set patched the same way; ``p``: the top set's effect
    among them (Besag–Clifford, :func:`circuits.head_controls.sequential_p`, with its floor).
    """

    emotion: str
    heads: list[Head]
    mode: str
    positions: str
    effect: Estimate
    gap: Estimate
    fraction_of_gap: float
    random_effect: Estimate | None
    n_pairs: int
    draws: HeadDraws | None = None
    random_draw_effects: list[float] = field(default_factory=list)
    p: ControlP | None = None
    metric: str = "emotion_words"

    @property
    def random_heads(self) -> list[list[Head]]:
        return self.draws.sets if self.draws else []

    def to_dict(self) -> dict:
        return {"emotion": self.emotion, "heads": [head_name(x) for x in self.heads], "mode": self.mode, "metric": self.metric,
                "positions": self.positions, "n_pairs": self.n_pairs, "effect": self.effect.to_dict(),
                "source_minus_target": self.gap.to_dict(), "fraction_of_gap": self.fraction_of_gap,
                "random_head_effect": None if self.random_effect is None else self.random_effect.to_dict(),
                "random_draw_effects": self.random_draw_effects,
                "p_draws": self.p.p if self.p else None, "p_floor": self.p.p_floor if self.p else None,
                "control_p": self.p.to_dict() if self.p else None,
                "control": self.draws.describe() if self.draws else None,
                "random_heads": [[head_name(x) for x in hs] for hs in self.random_heads]}


def _metric(model, tokens, mask, sets, metric: str, *, prompt_hooks=()) -> Tensor:
    v = word_logprobs(model, tokens, mask, sets, prompt_hooks=prompt_hooks, max_elements=1 << 62)
    return v[0] - v[1] if metric == "contrast" else v[0]


@torch.no_grad()
def patch_heads(model, source_texts: Sequence[str], target_texts: Sequence[str], emotion: str, heads: Sequence[Head], *,
                mode: str = "pattern_v", positions: str = "all", n_random: int = 0, metric: str = "emotion_words",
                batch_size: int = 32, max_rows: int = 96, seed: int = 0, stop_after: int = 10) -> HeadPatchResult:
    """Patch ``heads`` from sources into targets (prompt pass); effect on the whole-word emotion metric after the target.

    ``n_random`` > 0 adds a control: up to ``n_random`` layer-matched random head sets of the same size
    (:func:`circuits.head_controls.matched_draws`), patched the same way, several per forward pass, with
    Besag–Clifford stopping after ``stop_after`` draws at least as extreme (0: always every draw).
    """
    get_metric(metric)
    sets = [emotion_words(model, emotion)] + ([control_words(model, emotion)] if metric == "contrast" else [])
    heads = validate_heads(model, heads)
    _check_mode(mode, positions)
    if len(source_texts) != len(target_texts) or not source_texts:
        raise ConfigError(f"need as many source as target sentences (≥ 1), got {len(source_texts)} and {len(target_texts)}")
    draws = matched_draws(heads, n_random, n_layers=model.cfg.n_layers, n_heads=model.cfg.n_heads, seed=seed) if n_random else None
    rand_sets = draws.sets if draws else []
    layers = sorted({l for hs in [heads, *rand_sets] for l, _ in hs})
    batches, eff, gap = [], [], []
    for s in range(0, len(source_texts), batch_size):
        src, tgt = list(source_texts[s:s + batch_size]), list(target_texts[s:s + batch_size])
        sb, tb = tokenize_batch(model, src, padding_side="left"), tokenize_batch(model, tgt, padding_side="left")
        _check_lengths(sb, tb, mode, positions)
        _, cache = run_source(model, sb, layers)
        m_s = _metric(model, sb.tokens, sb.attention_mask, sets, metric)
        m_t = _metric(model, tb.tokens, tb.attention_mask, sets, metric)
        m_p = _metric(model, tb.tokens, tb.attention_mask, sets, metric,
                      prompt_hooks=_HeadPatcher(model, cache, sb, tb, mode, positions).hooks(heads))
        eff.append(m_p - m_t)
        gap.append(m_s - m_t)
        batches.append((sb, tb, cache, m_t))
    e, g = torch.cat(eff).numpy(), torch.cat(gap).numpy()

    def evaluate(req: list[tuple[int, int]]) -> list[Tensor]:
        """Effect [pair] of each requested random set, all batches, ``max_rows`` rows per forward pass."""
        group_sets = [rand_sets[j] for _, j in req]
        parts = []
        for sb, tb, cache, m_t in batches:
            n = tb.tokens.shape[0]
            d = max(1, max_rows // n)
            out = []
            for g0 in range(0, len(group_sets), d):
                group = group_sets[g0:g0 + d]
                mask = torch.zeros(len(group) * n, model.cfg.n_layers, model.cfg.n_heads, dtype=torch.bool)
                for i, hs in enumerate(group):
                    for l, h in hs:
                        mask[i * n:(i + 1) * n, l, h] = True
                union = sorted({x for hs in group for x in hs})
                hooks = _HeadPatcher(model, cache, sb, tb, mode, positions, row_mask=mask).hooks(union)
                v = _metric(model, tb.tokens.repeat(len(group), 1), tb.attention_mask.repeat(len(group), 1), sets, metric,
                            prompt_hooks=hooks)
                out.append(v.view(len(group), n) - m_t[None])
            parts.append(torch.cat(out))  # [draw pair-in-batch]
        return list(torch.cat(parts, 1))

    draw_rows, p = [], None
    if rand_sets:
        (draw_rows,), (p,) = sequential_controls([float(e.mean())], [len(rand_sets)], evaluate, stop_after=stop_after,
                                                 block=max(1, max_rows // min(len(source_texts), batch_size)) * 4,
                                                 value=lambda v: float(v.mean()))
        draws = HeadDraws(draws.heads, draws.sets[:p.n_draws], draws.window, draws.exhaustive)
    r = torch.stack(draw_rows) if draw_rows else None
    draw_eff = [float(x) for x in r.mean(1)] if r is not None else []
    return HeadPatchResult(emotion, heads, mode, positions, bootstrap_ci(e, seed=seed), bootstrap_ci(g, seed=seed),
                           float(e.mean() / g.mean()) if abs(g.mean()) > 1e-9 else float("nan"),
                           bootstrap_ci(r.mean(0).numpy(), seed=seed) if r is not None else None, len(e), draws, draw_eff,
                           p, metric)
