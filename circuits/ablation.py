"""Multi-head ablation on ``hook_z`` (zero, mean or resample), its effect on a whole-word emotion metric, and
top-k vs layer-matched random head sets.

``hook_z`` is per *query* head ([batch pos head d_head]). With grouped-query attention
(smollm2: 9 query heads share 3 KV heads) ablating query head ``h`` replaces only that
head's output ``z_h`` before ``W_O``; the shared key/value head keeps feeding the other
query heads of its group unchanged.

**Reference.** ``mean`` and ``resample`` replace ``z_h`` by values taken from *neutral reference
sentences* (the study passes the selection split's neutral sentences: never the evaluated ones), see
:func:`ablation_reference`. The BOS position is excluded from the mean: BOS attends only to itself, so
its ``z`` is the same in every sentence and far from a real token's; the BOS position of an ablated
sentence gets the reference's BOS value (i.e. it is left as it is), every other real position the mean
over the references' real non-BOS tokens. Padding is excluded everywhere.

**Modes** (:data:`MODES`, a table of replacement builders; config values are its keys):

* ``zero``: ``z_h = 0`` at every position (BOS included: the classic definition).
* ``mean``: as above.
* ``resample``: each evaluated sentence gets one reference sentence drawn with a seed (the draw depends on the
  sentence and the seed only, so every head set sees the same draw). If a reference of the same token length
  exists it is drawn among those and position ``i`` takes that sentence's ``z_h`` at position ``i``; otherwise
  (lengths differ) every non-BOS position takes the drawn sentence's position-averaged ``z_h`` (real non-BOS
  tokens). Positions after the prompt (forced word tokens, generated tokens) take the drawn sentence's
  position average too.

**Batched draws.** :func:`ablation_effects` evaluates many head sets in one forward pass: the sentences are
stacked once per set along the batch axis and a per-row head mask says which heads each row ablates; the
metric's continuation rows (whole-word teacher forcing repeats each prompt row) inherit their prompt row's mask.
"""

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import torch
from jaxtyping import Bool, Float
from torch import Tensor

from circuits.circuit_figures import effect_vs_k
from circuits.head_controls import ControlP, HeadDraws, matched_draws, sequential_controls
from circuits.heads import Head, head_name, validate_heads
from circuits.metrics import control_words, emotion_words, get_metric, word_logprobs
from interp.capture import record
from interp.errors import ConfigError, HookError
from interp.hook_names import hook_z
from interp.positions import prepends_bos, tokenize_batch
from interp.stats import Estimate, bootstrap_ci


@dataclass(frozen=True)
class AblationReference:
    """``hook_z`` of neutral reference sentences: what ``mean`` / ``resample`` ablation writes into ablated heads.

    ``mean``: mean over every real non-BOS token of every reference; ``bos``: mean at the BOS position (None when
    the model prepends no BOS); ``samples[i]``: reference ``i``'s real tokens (BOS at 0), ``[layer pos head d_head]``.
    """

    mean: Float[Tensor, "layer head d_head"]
    bos: Float[Tensor, "layer head d_head"] | None
    samples: tuple[Tensor, ...]
    n_tokens: int
    texts: tuple[str, ...] = ()

    @property
    def lengths(self) -> list[int]:
        return [s.shape[1] for s in self.samples]

    def position_mean(self, i: int) -> Float[Tensor, "layer head d_head"]:
        """Reference ``i``'s mean over its real non-BOS tokens."""
        s = self.samples[i]
        start = 1 if self.bos is not None and s.shape[1] > 1 else 0
        return s[:, start:].mean(1)

    def describe(self) -> dict:
        return {"n_sentences": len(self.samples), "n_tokens_in_mean": self.n_tokens, "bos_excluded": self.bos is not None}


@torch.no_grad()
def ablation_reference(model, texts: Sequence[str], *, batch_size: int = 32) -> AblationReference:
    """``hook_z`` of every layer on the reference ``texts`` (neutral sentences of the selection split), padding dropped."""
    texts = list(texts)
    if not texts:
        raise ConfigError("the ablation reference needs at least one neutral sentence; got none")
    n_layers = model.cfg.n_layers
    device = next(model.parameters()).device
    bos = prepends_bos(model)
    samples: list[Tensor] = []
    for i in range(0, len(texts), batch_size):
        b = tokenize_batch(model, texts[i:i + batch_size])  # right padding: real tokens at 0..len-1
        names = [hook_z(l) for l in range(n_layers)]
        with record(model, names, transform=lambda z: z.detach().float().cpu()) as store:
            model(b.tokens.to(device), attention_mask=b.attention_mask.to(device), return_type=None)
        z = torch.stack([store[n] for n in names], 1)  # [batch layer pos head d_head]
        samples += [z[r, :, :n] for r, n in enumerate(b.lengths)]
    start = 1 if bos else 0
    body = [s[:, start:] for s in samples if s.shape[1] > start]
    if not body:
        raise ConfigError("the reference sentences have no token after BOS; give real sentences")
    n_tok = sum(s.shape[1] for s in body)
    mean = torch.cat(body, 1).sum(1) / n_tok
    bos_mean = torch.stack([s[:, 0] for s in samples]).mean(0) if bos else None
    return AblationReference(mean, bos_mean, tuple(samples), n_tok, tuple(texts))


@dataclass(frozen=True)
class RowLayout:
    """Where each prompt row's real tokens sit in a left-padded batch, and its resample draw (reference index)."""

    left_pad: tuple[int, ...]
    lengths: tuple[int, ...]
    width: int
    bos: bool
    resample: tuple[int, ...] = ()

    @classmethod
    def of(cls, model, batch, resample: Sequence[int] = ()) -> "RowLayout":
        return cls(tuple(batch.left_pad), tuple(batch.lengths), int(batch.tokens.shape[1]), prepends_bos(model), tuple(resample))

    def repeat(self, n: int) -> "RowLayout":
        """The layout of the batch stacked ``n`` times along the batch axis."""
        return RowLayout(self.left_pad * n, self.lengths * n, self.width, self.bos, self.resample * n)


def resample_choices(reference: AblationReference | None, lengths: Sequence[int], *, seed: int = 0) -> list[int]:
    """Per sentence, the reference drawn for resample ablation: among those of the same length when any, else any."""
    if reference is None:
        return []
    rng = np.random.default_rng(seed)
    ref_len = reference.lengths
    out = []
    for n in lengths:
        same = [i for i, m in enumerate(ref_len) if m == n]
        pool = same or list(range(len(ref_len)))
        out.append(int(pool[rng.integers(len(pool))]))
    return out


# A replacement builder: (reference, layer, layout) -> (prompt values [rows width head d_head] | None for zeros,
# later-position values [rows head d_head] | None for zeros).
def _zero(reference, layer: int, layout: RowLayout):
    return None, None


def _mean(reference, layer: int, layout: RowLayout):
    rows = len(layout.lengths)
    m = reference.mean[layer]
    prompt = m.expand(rows, layout.width, *m.shape).clone()
    if layout.bos and reference.bos is not None:
        for r, lp in enumerate(layout.left_pad):
            prompt[r, lp] = reference.bos[layer]
    return prompt, m.expand(rows, *m.shape)


def _resample(reference, layer: int, layout: RowLayout):
    if len(layout.resample) != len(layout.lengths):
        raise ConfigError("resample ablation needs a reference draw per sentence (resample_choices)")
    rows = len(layout.lengths)
    prompt = reference.mean[layer].expand(rows, layout.width, *reference.mean.shape[1:]).clone()
    step = torch.empty(rows, *reference.mean.shape[1:])
    for r, (lp, n, i) in enumerate(zip(layout.left_pad, layout.lengths, layout.resample)):
        s = reference.samples[i][layer]  # [pos head d_head]
        avg = reference.position_mean(i)[layer]
        step[r] = avg
        if s.shape[0] == n:
            prompt[r, lp:lp + n] = s
        else:
            prompt[r, lp:lp + n] = avg
            if layout.bos and reference.bos is not None:
                prompt[r, lp] = s[0]
    return prompt, step


MODES = {"zero": _zero, "mean": _mean, "resample": _resample}
"""Ablation mode → replacement builder; the allowed config / CLI values are the keys."""


def check_mode(mode: str, reference: AblationReference | None) -> None:
    if mode not in MODES:
        raise ConfigError(f"unknown ablation mode {mode!r}; choose one of {', '.join(MODES)}")
    if mode != "zero" and reference is None:
        raise ConfigError(f"{mode} ablation needs reference activations (ablation_reference over neutral sentences)")


def ablate_heads_hook(mask: Bool[Tensor, "rows head"], prompt: Tensor | None, step: Tensor | None, width: int):
    """Hook on ``hook_z``: row ``r`` ablates the heads where ``mask[r]``, writing ``prompt`` (the prompt pass) or
    ``step`` (later positions); ``None`` writes zeros. A call with ``k × rows`` rows (continuation rows of a
    teacher-forced word, repeated per prompt row) maps row ``j`` to prompt row ``j // k``."""
    rows = mask.shape[0]

    def hook(z: Tensor, hook) -> Tensor:
        n = z.shape[0]
        if n % rows:
            raise HookError(f"ablation hook built for {rows} rows got a batch of {n}; rebuild the hooks for this batch")
        k = n // rows
        m = mask.to(z.device)
        if k == 1 and z.shape[1] == width:
            repl = None if prompt is None else prompt.to(z.device, z.dtype)
        else:
            if k > 1:
                m = m.repeat_interleave(k, 0)
            repl = None if step is None else step.to(z.device, z.dtype)
            if repl is not None:
                repl = (repl.repeat_interleave(k, 0) if k > 1 else repl)[:, None].expand(-1, z.shape[1], -1, -1)
        if repl is None:
            repl = torch.zeros((), dtype=z.dtype, device=z.device)
        return torch.where(m[:, None, :, None], repl, z)

    return hook


def masked_ablation_hooks(model, masks: Bool[Tensor, "rows layer head"], mode: str, reference: AblationReference | None,
                          layout: RowLayout) -> list:
    """``fwd_hooks`` ablating, per row, the heads set in ``masks`` (only layers where some row ablates)."""
    check_mode(mode, reference)
    out = []
    for l in range(model.cfg.n_layers):
        if bool(masks[:, l].any()):
            prompt, step = MODES[mode](reference, l, layout)
            out.append((hook_z(l), ablate_heads_hook(masks[:, l], prompt, step, layout.width)))
    return out


def head_mask(model, heads: Sequence[Head]) -> Bool[Tensor, "layer head"]:
    m = torch.zeros(model.cfg.n_layers, model.cfg.n_heads, dtype=torch.bool)
    for l, h in validate_heads(model, heads):
        m[l, h] = True
    return m


def ablation_hooks(model, heads: Sequence[Head], mode: str, reference: AblationReference | None = None, *,
                   layout: RowLayout | None = None, batch=None, seed: int = 0) -> list:
    """``fwd_hooks`` ablating ``heads`` in every row of a batch (``layout`` or the tokenized ``batch``; neither: one
    unpadded row, BOS at 0)."""
    check_mode(mode, reference)
    if layout is None and batch is not None:
        layout = RowLayout.of(model, batch, resample_choices(reference, batch.lengths, seed=seed) if mode == "resample" else ())
    if layout is None:
        raise ConfigError("ablation_hooks needs the batch layout (pass batch= the tokenized batch, or layout=)")
    masks = head_mask(model, heads)[None].expand(len(layout.lengths), -1, -1)
    return masked_ablation_hooks(model, masks, mode, reference, layout)


def _word_sets(model, emotion: str, metric: str):
    get_metric(metric)
    return [emotion_words(model, emotion)] + ([control_words(model, emotion)] if metric == "contrast" else [])


def _metric_from_sets(values: Tensor, metric: str) -> Tensor:
    return values[0] - values[1] if metric == "contrast" else values[0]


@torch.no_grad()
def ablation_effects(model, texts: Sequence[str], emotion: str, head_sets: Sequence[Sequence[Head]], *, mode: str = "zero",
                     reference: AblationReference | None = None, metric: str = "emotion_words", max_rows: int = 96,
                     seed: int = 0) -> Float[Tensor, "n_sets n"]:
    """The metric after each of ``texts`` with each head set ablated; row 0 of the result is *no* ablation when
    ``head_sets[0]`` is empty. Several sets share one forward pass (at most ``max_rows`` rows: sentences × sets)."""
    texts = list(texts)
    if not texts:
        raise ConfigError("no sentences to ablate on; the evaluation split is empty")
    check_mode(mode, reference)
    sets = _word_sets(model, emotion, metric)
    masks = torch.stack([head_mask(model, hs) if hs else torch.zeros(model.cfg.n_layers, model.cfg.n_heads, dtype=torch.bool)
                         for hs in head_sets])  # [set layer head]
    lengths = tokenize_batch(model, texts).lengths
    choices = resample_choices(reference, lengths, seed=seed) if mode == "resample" else []
    order = sorted(range(len(texts)), key=lambda i: lengths[i])
    per_chunk = max(1, min(len(texts), max_rows))
    out = torch.empty(len(head_sets), len(texts))
    for c in range(0, len(order), per_chunk):
        idx = order[c:c + per_chunk]
        b = tokenize_batch(model, [texts[j] for j in idx], padding_side="left")
        layout = RowLayout.of(model, b, [choices[j] for j in idx] if choices else ())
        d = max(1, max_rows // len(idx))
        for s in range(0, len(head_sets), d):
            group = list(range(s, min(len(head_sets), s + d)))
            rows_mask = masks[group].repeat_interleave(len(idx), 0)  # [len(group)·len(idx) layer head], set-major
            hooks = masked_ablation_hooks(model, rows_mask, mode, reference, layout.repeat(len(group)))
            vals = word_logprobs(model, b.tokens.repeat(len(group), 1), b.attention_mask.repeat(len(group), 1), sets,
                                 fwd_hooks=hooks, max_elements=1 << 62)
            m = _metric_from_sets(vals, metric).view(len(group), len(idx))
            out[torch.tensor(group)[:, None], torch.tensor(idx)[None, :]] = m.float()
    return out


@dataclass(frozen=True)
class AblationResult:
    """Effect (ablated − clean metric, nats) of ablating ``heads``; per-sentence values kept."""

    emotion: str
    heads: list[Head]
    mode: str
    clean: Tensor
    ablated: Tensor
    effect: Estimate
    clean_metric: Estimate
    metric: str = "emotion_words"

    def to_dict(self) -> dict:
        return {"emotion": self.emotion, "heads": [head_name(x) for x in self.heads], "mode": self.mode, "metric": self.metric,
                "n": len(self.clean), "effect": self.effect.to_dict(), "clean_metric": self.clean_metric.to_dict()}


def ablate(model, texts: Sequence[str], emotion: str, heads: Sequence[Head], *, mode: str = "zero",
           reference: AblationReference | None = None, metric: str = "emotion_words", seed: int = 0) -> AblationResult:
    """Ablate ``heads`` on ``texts`` and measure the change of the metric (clean and ablated share one batched pass)."""
    heads = validate_heads(model, heads)
    v = ablation_effects(model, texts, emotion, [[], heads], mode=mode, reference=reference, metric=metric, seed=seed)
    clean, abl = v[0], v[1]
    return AblationResult(emotion, list(heads), mode, clean, abl, bootstrap_ci((abl - clean).numpy(), seed=seed),
                          bootstrap_ci(clean.numpy(), seed=seed), metric)


@dataclass(frozen=True)
class CumulativeAblation:
    """Top-k screened heads ablated together vs layer-matched random k-head sets, per k.

    ``top[i]``: bootstrap CI over sentences of the top-k effect; ``random[i]``: of the per-sentence mean over
    the draws; ``diff[i]``: paired top − random. ``random_draw_effects[i]``: each draw's mean effect; ``p[i]``:
    the top effect's Besag–Clifford p among them (:func:`circuits.head_controls.sequential_p`, with its floor).
    """

    emotion: str
    mode: str
    ks: list[int]
    top: list[Estimate]
    random: list[Estimate]
    diff: list[Estimate]
    heads: list[Head]
    draws: list[HeadDraws]
    random_draw_effects: list[list[float]]
    p: list[ControlP]
    config: dict = field(default_factory=dict)

    @property
    def p_draws(self) -> list[float]:
        return [x.p for x in self.p]

    def to_dict(self) -> dict:
        rows = []
        for i, (k, t, r, d) in enumerate(zip(self.ks, self.top, self.random, self.diff)):
            draws = self.random_draw_effects[i]
            rows.append({"k": k, "top_effect": t.to_dict(), "random_effect": r.to_dict(), "top_minus_random": d.to_dict(),
                         "random_draw_effects": draws, "random_draw_min": min(draws), "random_draw_max": max(draws),
                         "p_draws": self.p[i].p, "p_floor": self.p[i].p_floor, "n_random_draws": self.p[i].n_draws,
                         "n_random_planned": self.p[i].n_planned, "stopped_early": self.p[i].stopped_early,
                         "control": self.draws[i].describe(),
                         "random_draw_heads": [[head_name(x) for x in hs] for hs in self.draws[i].sets]})
        return {"emotion": self.emotion, "mode": self.mode, "ks": self.ks,
                "ranked_heads": [head_name(x) for x in self.heads], "config": self.config, "rows": rows}

    def figure(self):
        """Top-k effect vs the random k-head sets' (CI bars, each draw a dot) against k."""
        return effect_vs_k(self.ks, [t.value for t in self.top], [t.lo for t in self.top], [t.hi for t in self.top],
                           [r.value for r in self.random], [r.lo for r in self.random], [r.hi for r in self.random],
                           title=f"{self.emotion}: {self.mode}-ablating top-k screened heads vs layer-matched random k-head sets",
                           draws=self.random_draw_effects or None)


def cumulative_ablation(model, texts: Sequence[str], emotion: str, ranked_heads: Sequence[Head], ks: Sequence[int], *,
                        mode: str = "zero", reference: AblationReference | None = None, n_random: int = 100,
                        metric: str = "emotion_words", max_rows: int = 96, seed: int = 0, stop_after: int = 10,
                        progress=None) -> CumulativeAblation:
    """For each k: effect of ablating the first k of ``ranked_heads`` and of up to ``n_random`` layer-matched random k-head sets.

    The clean run and the top-k sets are evaluated first; the random draws then run in rounds with Besag–Clifford
    stopping (``stop_after`` draws at least as extreme ends a k's control; 0 = always all ``n_random``), every
    set of a round evaluated by :func:`ablation_effects`, several per forward pass.
    """
    ranked = validate_heads(model, ranked_heads)
    if not ks or min(ks) < 1 or max(ks) > len(ranked):
        raise ConfigError(f"ks must be in 1..{len(ranked)} (the number of ranked heads), got {list(ks)}")
    if n_random < 1:
        raise ConfigError(f"n_random must be ≥ 1 (random k-head draws per k), got {n_random}")
    draws = [matched_draws(ranked[:k], n_random, n_layers=model.cfg.n_layers, n_heads=model.cfg.n_heads, seed=seed + k)
             for k in ks]

    def run(sets: list[list[Head]]) -> Tensor:
        return ablation_effects(model, texts, emotion, sets, mode=mode, reference=reference, metric=metric,
                                max_rows=max_rows, seed=seed)

    base = run([[]] + [ranked[:k] for k in ks])
    clean = base[0]
    tops = [base[1 + i] - clean for i in range(len(ks))]
    planned = sum(dr.n for dr in draws)
    seen = [0]

    def evaluate(req: list[tuple[int, int]]) -> list[Tensor]:
        vals = run([draws[i].sets[j] for i, j in req]) - clean
        seen[0] += len(req)
        if progress:
            progress(min(seen[0], planned), planned)
        return list(vals)

    per_k, ps = sequential_controls([float(t.mean()) for t in tops], [dr.n for dr in draws], evaluate,
                                    stop_after=stop_after, block=max(1, max_rows // max(1, len(texts))) * 4,
                                    value=lambda v: float(v.mean()))
    top, rand, diff, draw_eff = [], [], [], []
    for t, rs in zip(tops, per_k):
        r = torch.stack(rs).mean(0)
        top.append(bootstrap_ci(t.numpy(), seed=seed))
        rand.append(bootstrap_ci(r.numpy(), seed=seed))
        diff.append(bootstrap_ci((t - r).numpy(), seed=seed))
        draw_eff.append([float(x.mean()) for x in rs])
    used = [HeadDraws(dr.heads, dr.sets[:p.n_draws], dr.window, dr.exhaustive) for dr, p in zip(draws, ps)]
    cfg = {"n_sentences": len(texts), "seed": seed, "metric": metric, "n_random": n_random, "stop_after": stop_after,
           "n_draws_evaluated": sum(p.n_draws for p in ps), "n_draws_planned": planned,
           "metric_text": "log P(the next word is an emotion word), whole words teacher-forced" if metric == "emotion_words"
           else "log P(emotion word) − log P(matched control word), whole words teacher-forced",
           "reference": reference.describe() if reference is not None else None,
           "random_ci": "bootstrap over sentences of the per-sentence mean over draws (draw spread: random_draw_effects)",
           "p_rule": "Besag–Clifford sequential Monte Carlo p (circuits.head_controls)" if stop_after else "(1 + k) / (1 + n)"}
    return CumulativeAblation(emotion, mode, list(ks), top, rand, diff, ranked, used, draw_eff, ps, cfg)
