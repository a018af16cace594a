"""The head-patching analysis (study phase 7, ``emotion-circuits patch-heads``): per emotion, patch its top head from
emotion sentences into neutral sentences of equal token length, in every mode, vs layer-matched random heads, and
optionally score continuations of the patched neutral sentences. One call, one :class:`HeadPatchingReport`."""

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from circuits.causal_report import DEFAULT_FIX, SCREENED, evaluation_records, p_text, signed
from circuits.generation_effects import GenerationEffect, generation_examples, generation_table, patching_generation_effects
from circuits.head_patching import HeadPatchResult, _check_mode, length_matched_pairs, patch_heads
from circuits.heads import Head, head_name
from circuits.metrics import get_metric
from interp.datasets import EmotionRecord
from interp.errors import ConfigError
from interp.io import atomic_write_json
from interp.report_types import AnalysisReport, Headline, Table
from interp.splits import require_count

Progress = Callable[[float, int], None]
"""``progress(done, total)`` in units of (emotion × mode × [metric, generation])."""


@dataclass(frozen=True)
class EmotionPatching:
    """One emotion's head patching: its pairs (source emotion sentence, target neutral sentence), one result per mode, and
    the generation effects per mode (empty without generation)."""

    emotion: str
    heads: list[Head]
    sources: list[EmotionRecord]
    targets: list[EmotionRecord]
    results: list[HeadPatchResult]
    generation: list[GenerationEffect]
    heads_from: str

    def to_dict(self) -> dict:
        n = len(self.sources)
        return {"emotion": self.emotion, "heads": [head_name(h) for h in self.heads], "n_pairs": n,
                "results": [{**r.to_dict(), "split": {"evaluated_on": "evaluation", "n": n}} for r in self.results],
                "generation": [g.to_dict() for g in self.generation],
                "split": {"evaluated_on": "evaluation", "n_pairs": n, "source_ids": [r.id for r in self.sources],
                          "target_ids": [r.id for r in self.targets], "heads_selected_on": self.heads_from}}

    def headline(self, metric: str) -> list[Headline]:
        n, name = len(self.sources), head_name(self.heads[0])
        rows = [Headline.of(f"{self.emotion}: patch top head ({r.mode}), Δ {metric} (evaluation split, n={n})", r.effect,
                            p=r.p.p if r.p else None,
                            baseline=f"{len(r.random_draw_effects)} layer-matched random heads: {signed(r.random_effect)}"
                            if r.random_effect is not None else "unpatched target",
                            note=f"{name}; source − target gap {signed(r.gap)}; fraction of gap {r.fraction_of_gap:.3f}; {p_text(r.p)}")
                for r in self.results]
        return rows + [g.headline(f"patch top head ({g.config['mode']}) (evaluation split, n={g.n_prompts})") for g in self.generation]


@dataclass(frozen=True)
class HeadPatchingReport(AnalysisReport):
    """Every emotion's :class:`EmotionPatching` and the settings that produced them."""

    emotions: list[EmotionPatching]
    config: dict = field(default_factory=dict)

    def results(self) -> dict:
        return {"config": self.config, "patching": [e.to_dict() for e in self.emotions]}

    def save_extra(self, out: Path) -> None:
        """Per emotion, ``head_patching_<emotion>.json``: its part of results.json."""
        for e in self.emotions:
            atomic_write_json(out / f"head_patching_{e.emotion}.json", e.to_dict())

    def headline(self) -> list[Headline]:
        return [h for e in self.emotions for h in e.headline(self.config["metric"])]

    def tables(self) -> list[Table]:
        gens = [g for e in self.emotions for g in e.generation]
        if not gens:
            return []
        return [generation_table("continuations of evaluation-split neutral sentences with the top head patched on the prompt", gens),
                generation_examples("examples: neutral sentences continued with the top head patched", gens, n=1)]

    def text(self) -> str:
        c = self.config
        gen = (f" Generations: the first {c['generate_prompts']} patched neutral sentences continued greedily for "
               f"{c['max_new_tokens']} tokens (patch on the prompt pass), scored by VADER and emotion keywords, vs "
               f"{c['generate_random']} random heads (p floor {1 / (1 + c['generate_random']):.3g})."
               ) if any(e.generation for e in self.emotions) else ""
        return (f"Head chosen by screening on the selection split; sources and targets from the evaluation split. Per emotion, up "
                f"to {c['n_pairs'] or 'all'} pairs: each emotion sentence with a neutral sentence of equal token length. Modes: "
                f"pattern_v (pattern and values from the source), v_only (values from the source, pattern from the target), "
                f"pattern_only, z (the head's whole output); equal lengths match position i to position i. With grouped-query "
                f"attention one KV head's v is shared by several query heads, so v is swapped only inside this query head's hook_z "
                f"recomputation. Metric {c['metric']} (whole words, patch on the prompt pass only); control: {c['n_random']} "
                f"layer-matched random heads patched the same way, p with its floor.{gen}")


def head_patching_analysis(model, heads: Mapping[str, Sequence[Head]], sources: Mapping[str, Sequence[EmotionRecord]],
                           targets: Sequence[EmotionRecord], *, selected: Sequence[EmotionRecord] = (),
                           modes: Sequence[str] = ("pattern_v", "v_only", "pattern_only", "z"), positions: str = "all",
                           n_pairs: int | None = None, n_random: int = 100, stop_after: int = 10, metric: str = "emotion_words",
                           generate_prompts: int = 0, generate_random: int = 20, max_new_tokens: int = 20, seed: int = 0,
                           heads_from: str = SCREENED, fix: str = DEFAULT_FIX,
                           progress: Progress | None = None) -> HeadPatchingReport:
    """Patch each emotion's ``heads`` from its ``sources`` into equal-length neutral ``targets``, in every mode.

    Args:
        heads: emotion → the heads patched together (the study: its top screened head).
        sources, targets: emotion → its sentences, and the neutral sentences (both checked disjoint from ``selected``);
            each source is paired with a target of equal token length (:func:`~circuits.head_patching.length_matched_pairs`),
            the first ``n_pairs`` pairs kept (None: all); at least ``max(2, min(generate_prompts, n_pairs))`` needed.
        modes, positions: keys of :data:`circuits.head_patching.MODES` and ``"all"`` / ``"end"`` (``z`` only).
        n_random, stop_after: layer-matched random heads per mode (0: no control) and Besag–Clifford's stopping count.
        generate_prompts, generate_random, max_new_tokens: continuations of the first patched targets (0: none).
        heads_from, fix: where the heads came from and how to get more sentences (for the report and errors).
    """
    if not modes:
        raise ConfigError("give at least one head-patching mode")
    for mode in modes:
        _check_mode(mode, positions)
    get_metric(metric)
    tgt_recs = evaluation_records(targets, "neutral", selected=selected, fix=fix)
    src_recs = {e: evaluation_records(sources[e], e, selected=selected, fix=fix) for e in heads}
    per, n_emo, done = len(modes) * (2 if generate_prompts else 1), len(heads), 0
    tell = progress or (lambda d, t: None)
    emos = []
    for emotion, hs in heads.items():
        pairs = length_matched_pairs(model, [r.text for r in src_recs[emotion]], [r.text for r in tgt_recs])[: n_pairs or None]
        require_count(len(pairs), max(2, min(generate_prompts, n_pairs or generate_prompts)),
                      what=f"{emotion}/neutral pairs of equal token length", split="evaluation", fix=fix)
        src, tgt = [src_recs[emotion][i] for i, _ in pairs], [tgt_recs[j] for _, j in pairs]
        results = []
        for mode in modes:
            results.append(patch_heads(model, [r.text for r in src], [r.text for r in tgt], emotion, hs, mode=mode, positions=positions,
                                       n_random=n_random, metric=metric, seed=seed, stop_after=stop_after))
            done += 1
            tell(done, per * n_emo)
        gens = []
        if generate_prompts:
            gens = patching_generation_effects(model, [r.text for r in src[:generate_prompts]], [r.text for r in tgt[:generate_prompts]],
                                               emotion, hs, modes=modes, n_random=generate_random, max_new_tokens=max_new_tokens,
                                               seed=seed)
            done += len(modes)
            tell(done, per * n_emo)
        emos.append(EmotionPatching(emotion, list(hs), src, tgt, results, gens, heads_from))
    cfg = {"emotions": list(heads), "modes": list(modes), "positions": positions, "n_pairs": n_pairs, "n_random": n_random,
           "stop_after": stop_after, "metric": metric, "generate_prompts": generate_prompts, "generate_random": generate_random,
           "max_new_tokens": max_new_tokens, "seed": seed}
    return HeadPatchingReport(emos, cfg)
