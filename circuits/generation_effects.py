"""Effects of head ablation and head patching on generated text, scored by the offline evaluators.

The model continues each prompt greedily for ``max_new_tokens`` with and without the
intervention; every continuation is scored by VADER (``vader_compound``, ``vader_neg``) and the
emotion's keyword count (``kw_<emotion>``). The effect is intervened − clean on the *same* prompt
(paired bootstrap CI over prompts, sign-flip permutation p), next to the same intervention on
``n_random`` sets of as many random heads.

* **Ablation** hooks act at every position, prompt and generated: the heads are off in the model.
  Prompts are emotion sentences, where an emotion circuit has something to carry.
* **Head patching** acts on the prompt pass only. Each neutral target prompt is paired with an
  emotion source sentence of the same token length; both are left-padded alike, so position ``i`` of
  the source feeds position ``i`` of the target. Generated positions
  have no source counterpart: they run unpatched and read the patched prompt through the KV cache.
  ``reference_mean`` holds the scores of the sources' own continuations (the "clean" run of phase 7).
"""

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import torch

from circuits.ablation import AblationReference, RowLayout, head_mask, masked_ablation_hooks, resample_choices
from circuits.causal_report import signed
from circuits.head_controls import control_p, headline_p, matched_draws
from circuits.head_patching import _check_lengths, _check_mode, _HeadPatcher, run_source
from circuits.heads import Head, head_name, validate_heads
from interp.attributes import get_attribute
from interp.errors import ConfigError
from interp.evaluators import make_scorer, score_texts
from interp.generation import continue_tokens, decode
from interp.lexicon import EMOTION_WORDS
from interp.positions import tokenize_batch
from interp.report_types import Headline, Table
from interp.stats import Estimate, bootstrap_ci, sign_flip_pvalue

#: Score column an emotion's intervention should move (anger: VADER's negative share, apology: its keywords).
TARGET_COLUMN: dict[str, str] = get_attribute("emotion").language("en").targets
"""Emotion → the score its generation effect leads with: the attribute registry's targets (as the sweep's)."""


def target_column(emotion: str) -> str:
    return TARGET_COLUMN.get(emotion, f"kw_{emotion}")


def score_continuations(texts: Sequence[str], emotion: str) -> dict[str, np.ndarray]:
    """``vader_compound``, ``vader_neg`` and ``kw_<emotion>`` of every text: {column: [n]}."""
    if emotion not in EMOTION_WORDS:
        raise ConfigError(f"unknown emotion {emotion!r}; choose one of {', '.join(EMOTION_WORDS)}")
    cols = score_texts(list(texts), [make_scorer("sentiment"), make_scorer("keywords", emotions=[emotion])])
    return {c: np.asarray(cols[c], dtype=float) for c in ("vader_compound", "vader_neg", f"kw_{emotion}")}


@dataclass(frozen=True)
class GenerationEffect:
    """Intervened − clean scores of greedy continuations, per score column, with a random-heads control.

    ``effect[c]`` / ``random_effect[c]``: paired bootstrap CI over prompts (the random one of the
    per-prompt mean over draws); ``p[c]``: sign-flip p of the effect; ``random_draw_effects``: mean
    target-column effect of each layer-matched random draw, and ``p_draws`` the share of draws at least as large in
    absolute value as the real effect, ``(1 + #) / (1 + n_draws)``; ``config["p_floor"]`` its floor and
    ``config["p_draws_text"]`` the p with its floor (marked "not a headline" when the floor is above 0.05).
    """

    emotion: str
    intervention: str
    heads: list[Head]
    target: str
    n_prompts: int
    clean_mean: dict[str, float]
    treated_mean: dict[str, float]
    effect: dict[str, Estimate]
    p: dict[str, float]
    random_effect: dict[str, Estimate]
    random_draw_effects: list[float]
    random_draw_heads: list[list[Head]]
    p_draws: float
    reference_mean: dict[str, float] | None
    examples: list[dict] = field(default_factory=list)
    config: dict = field(default_factory=dict)
    continuations: dict = field(default_factory=dict)  # "clean" / "intervened": every continuation, aligned with the prompts

    @property
    def keyword_total(self) -> dict[str, int]:
        """The emotion's keywords summed over every continuation: ``{"clean": n, "intervened": n}``."""
        kw = f"kw_{self.emotion}"
        return {"clean": round(self.clean_mean[kw] * self.n_prompts), "intervened": round(self.treated_mean[kw] * self.n_prompts)}

    def headline(self, what: str) -> Headline:
        """The target column's effect as a headline row (the random-heads control as its baseline)."""
        t, kw = self.target, self.keyword_total
        r = self.random_effect.get(t)
        return Headline.of(f"{self.emotion}: {what}, Δ {t} of continuations", self.effect[t], p=self.p[t],
                           baseline=f"{len(self.random_draw_effects)} layer-matched random head sets: {signed(r)}" if r is not None
                           else "unintervened continuations",
                           note=f"{self.n_prompts} prompts, greedy {self.config['max_new_tokens']} tokens; clean mean "
                                f"{self.clean_mean[t]:.3f}; {self.emotion} keywords {kw['clean']} → {kw['intervened']}; p = sign "
                                f"flip over prompts; vs random sets: {self.config.get('p_draws_text', '—')}")

    def to_dict(self) -> dict:
        return {"emotion": self.emotion, "intervention": self.intervention, "heads": [head_name(x) for x in self.heads],
                "target": self.target, "n_prompts": self.n_prompts, "clean_mean": self.clean_mean, "treated_mean": self.treated_mean,
                "effect": {c: e.to_dict() for c, e in self.effect.items()}, "p": self.p,
                "random_effect": {c: e.to_dict() for c, e in self.random_effect.items()},
                "random_draw_effects": self.random_draw_effects,
                "random_draw_heads": [[f"L{l}H{h}" for l, h in hs] for hs in self.random_draw_heads], "p_draws": self.p_draws,
                "reference_mean": self.reference_mean,
                "keyword_total": self.keyword_total,
                "examples": self.examples, "config": self.config, "continuations": self.continuations}


def generation_table(title: str, gens: Sequence[GenerationEffect]) -> Table:
    """Every score column of every generation effect: clean and intervened means, Δ with CI, p, random heads' Δ."""
    return Table(title, ["intervention", "score", "clean", "intervened", "Δ (95% CI)", "p", "random heads Δ"],
                 [[g.intervention, c, round(g.clean_mean[c], 4), round(g.treated_mean[c], 4), signed(e), round(g.p[c], 4),
                   signed(g.random_effect[c]) if c in g.random_effect else "—"] for g in gens for c, e in g.effect.items()])


def generation_examples(title: str, gens: Sequence[GenerationEffect], n: int = 2) -> Table:
    """The first ``n`` example continuations of each generation effect, clean and intervened."""
    return Table(title, ["intervention", "prompt", "clean continuation", "intervened continuation"],
                 [[g.intervention, x["prompt"], x["clean"], x["intervened"]] for g in gens for x in g.examples[:n]])


def _summarise(emotion: str, intervention: str, heads: list[Head], prompts: Sequence[str], clean: list[str], treated: list[str],
               randoms: list[list[str]], draws: list[list[Head]], *, reference: list[str] | None, n_boot: int, seed: int,
               config: dict) -> GenerationEffect:
    target = target_column(emotion)
    sc, st = score_continuations(clean, emotion), score_continuations(treated, emotion)
    sr = [score_continuations(r, emotion) for r in randoms]
    effect = {c: bootstrap_ci(st[c] - sc[c], n_boot=n_boot, seed=seed) for c in sc}
    p = {c: sign_flip_pvalue(st[c] - sc[c], seed=seed) for c in sc}
    rand = {c: bootstrap_ci(np.mean([r[c] - sc[c] for r in sr], 0), n_boot=n_boot, seed=seed) for c in sc} if sr else {}
    draw_eff = [float((r[target] - sc[target]).mean()) for r in sr]
    cp = control_p(effect[target].value, draw_eff) if draw_eff else None
    p_draws = cp.p if cp else float("nan")
    config = {**config, "p_floor": cp.p_floor if cp else None, "n_random_draws": len(draw_eff),
              "p_draws_text": headline_p(cp) if cp else "no random draws"}
    ref = {c: float(v.mean()) for c, v in score_continuations(reference, emotion).items()} if reference is not None else None
    examples = [{"prompt": prompts[i], "clean": clean[i], "intervened": treated[i]} for i in range(min(3, len(prompts)))]
    return GenerationEffect(emotion, intervention, heads, target, len(prompts), {c: float(v.mean()) for c, v in sc.items()},
                            {c: float(v.mean()) for c, v in st.items()}, effect, p, rand, draw_eff, draws, float(p_draws), ref,
                            examples, config, {"prompts": list(prompts), "clean": list(clean), "intervened": list(treated)})


def _random_draws(model, heads: list[Head], n: int, seed: int) -> list[list[Head]]:
    """``n`` layer-matched random head sets (:func:`circuits.head_controls.matched_draws`); none when ``n`` is 0."""
    return matched_draws(heads, n, n_layers=model.cfg.n_layers, n_heads=model.cfg.n_heads, seed=seed).sets if n else []


@torch.no_grad()
def ablation_generation_effect(model, prompts: Sequence[str], emotion: str, heads: Sequence[Head], *, mode: str = "zero",
                               reference: AblationReference | None = None, n_random: int = 20, max_new_tokens: int = 20, batch_size: int = 32,
                               max_rows: int = 128,
                               seed: int = 0, n_boot: int = 1000, progress=None) -> GenerationEffect:
    """Continue ``prompts`` with ``heads`` ablated (``mode`` from :data:`circuits.ablation.MODES` on ``hook_z``, replacements from
    ``reference``) vs intact, next to ``n_random`` layer-matched random head sets; scores per continuation."""
    heads = validate_heads(model, heads)
    prompts = list(prompts)
    if not prompts:
        raise ConfigError("no prompts to generate from")
    draws = _random_draws(model, heads, n_random, seed)
    head_sets = [[], heads, *draws]
    masks = torch.stack([head_mask(model, hs) if hs else torch.zeros(model.cfg.n_layers, model.cfg.n_heads, dtype=torch.bool)
                         for hs in head_sets])
    texts: list[list[str]] = [[] for _ in head_sets]
    done = 0
    for s in range(0, len(prompts), batch_size):
        chunk = prompts[s:s + batch_size]
        b = tokenize_batch(model, chunk, padding_side="left")
        layout = RowLayout.of(model, b, resample_choices(reference, b.lengths, seed=seed) if mode == "resample" else ())
        n = len(chunk)
        d = max(1, max_rows // n)
        for g in range(0, len(head_sets), d):  # several head sets per generate call: per-row head masks
            group = list(range(g, min(len(head_sets), g + d)))
            hooks = masked_ablation_hooks(model, masks[group].repeat_interleave(n, 0), mode, reference, layout.repeat(len(group)))
            rows = continue_tokens(model, b.tokens.repeat(len(group), 1), b.attention_mask.repeat(len(group), 1), fwd_hooks=hooks,
                                   max_new_tokens=max_new_tokens)
            for j, i in enumerate(group):
                texts[i] += decode(model, rows[j * n:(j + 1) * n])
            done += len(group)
            if progress:
                progress(min(done, len(head_sets)), len(head_sets))
    cfg = {"mode": mode, "n_random": n_random, "max_new_tokens": max_new_tokens, "decoding": "greedy", "seed": seed,
           "positions": "every position (prompt and generated)"}
    return _summarise(emotion, f"{mode}-ablate {','.join(f'L{l}H{h}' for l, h in heads)}", heads, prompts, texts[0], texts[1],
                      texts[2:], draws, reference=None, n_boot=n_boot, seed=seed, config=cfg)


@torch.no_grad()
def patching_generation_effects(model, source_texts: Sequence[str], target_texts: Sequence[str], emotion: str,
                                heads: Sequence[Head], *, modes: Sequence[str] = ("pattern_v",), n_random: int = 20,
                                max_new_tokens: int = 20, batch_size: int = 32, max_rows: int = 128, seed: int = 0,
                                n_boot: int = 1000, progress=None) -> list[GenerationEffect]:
    """Continue each target with ``heads`` patched from its equal-length source on the prompt pass, once per mode.

    Sources and targets are left-padded alike (a pair has one length, so its pads match and position ``i``
    of the source feeds position ``i`` of the target). The unpatched target and source continuations are
    shared by every mode; the random head sets (``n_random`` draws of ``len(heads)`` heads) too.
    """
    for mode in modes:
        _check_mode(mode, "all")
    heads = validate_heads(model, heads)
    if len(source_texts) != len(target_texts) or not source_texts:
        raise ConfigError(f"need as many source as target sentences (≥ 1), got {len(source_texts)} and {len(target_texts)}")
    if not modes:
        raise ConfigError("give at least one head-patching mode")
    src, tgt = list(source_texts), list(target_texts)
    draws = _random_draws(model, heads, n_random, seed)
    layers = sorted({l for hs in [heads, *draws] for l, _ in hs})
    sets = ["target", "source"] + [(md, -1) for md in modes] + [(md, i) for md in modes for i in range(len(draws))]
    out: dict = {k: [] for k in sets}
    for start in range(0, len(tgt), batch_size):
        sb = tokenize_batch(model, src[start:start + batch_size], padding_side="left")
        tb = tokenize_batch(model, tgt[start:start + batch_size], padding_side="left")
        for mode in modes:
            _check_lengths(sb, tb, mode, "all")
        _, cache = run_source(model, sb, layers)
        width = tb.tokens.shape[1]
        for k, batch in (("target", tb), ("source", sb)):
            out[k] += decode(model, continue_tokens(model, batch.tokens, batch.attention_mask, max_new_tokens=max_new_tokens))
        n = tb.tokens.shape[0]
        d = max(1, max_rows // n)
        head_sets = [heads, *draws]
        for md in modes:  # the top set and the random sets of one mode share generate calls: per-row head masks
            for g in range(0, len(head_sets), d):
                group = list(range(g, min(len(head_sets), g + d)))
                mask = torch.zeros(len(group) * n, model.cfg.n_layers, model.cfg.n_heads, dtype=torch.bool)
                for j, i in enumerate(group):
                    for l, h in head_sets[i]:
                        mask[j * n:(j + 1) * n, l, h] = True
                union = sorted({x for i in group for x in head_sets[i]})
                hooks = _HeadPatcher(model, cache, sb, tb, md, "all", only_width=width, row_mask=mask).hooks(union)
                rows = continue_tokens(model, tb.tokens.repeat(len(group), 1), tb.attention_mask.repeat(len(group), 1),
                                       fwd_hooks=hooks, max_new_tokens=max_new_tokens)
                for j, i in enumerate(group):
                    out[(md, i - 1)] += decode(model, rows[j * n:(j + 1) * n])
        if progress:
            progress(min(start + batch_size, len(tgt)), len(tgt))
    res = []
    for md in modes:
        cfg = {"mode": md, "n_random": n_random, "max_new_tokens": max_new_tokens, "decoding": "greedy", "seed": seed,
               "positions": "prompt pass only (equal-length pairs, position i to position i); generated steps unpatched"}
        res.append(_summarise(emotion, f"patch {md} {','.join(f'L{l}H{h}' for l, h in heads)}", heads, tgt, out["target"],
                              out[(md, -1)], [out[(md, i)] for i in range(len(draws))], draws, reference=out["source"],
                              n_boot=n_boot, seed=seed, config=cfg))
    return res


def patching_generation_effect(model, source_texts: Sequence[str], target_texts: Sequence[str], emotion: str,
                               heads: Sequence[Head], *, mode: str = "pattern_v", **kwargs) -> GenerationEffect:
    """:func:`patching_generation_effects` for one mode."""
    return patching_generation_effects(model, source_texts, target_texts, emotion, heads, modes=[mode], **kwargs)[0]
