"""The ablation analysis (study phase 6, ``emotion-circuits ablate``): per emotion, ablate its top-k ranked heads together
vs layer-matched random k-head sets on the evaluated sentences (Besag–Clifford stopping, Holm over every (emotion, k)),
and optionally score greedy continuations with the top heads ablated. One call, one :class:`AblationReport`."""

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from circuits.ablation import MODES, CumulativeAblation, ablation_reference, cumulative_ablation
from circuits.causal_report import DEFAULT_FIX, SCREENED, evaluation_records, p_text, signed
from circuits.generation_effects import GenerationEffect, ablation_generation_effect, generation_examples, generation_table
from circuits.heads import Head, head_name
from circuits.metrics import get_metric
from interp.datasets import EmotionRecord
from interp.errors import ConfigError
from interp.io import atomic_write_json
from interp.report_types import AnalysisReport, Headline, Table
from interp.stats import holm_bonferroni

Progress = Callable[[float, int], None]
"""``progress(done, total)`` in units of (emotion × [ablation, generation steps]); ``done`` may be fractional."""


def default_ks(max_k: int, ks: Sequence[int] | None = None) -> list[int]:
    """The tested k's: ``ks`` sorted, or 1, 2, 5, 10, 20 up to ``max_k`` and ``max_k`` itself."""
    return sorted(set(ks)) if ks else sorted({k for k in (1, 2, 5, 10, 20) if k <= max_k} | {max_k})


@dataclass(frozen=True)
class EmotionAblation:
    """One emotion's cumulative ablation on its evaluated sentences, its Holm p per k, and its generation effect."""

    emotion: str
    records: list[EmotionRecord]
    result: CumulativeAblation
    p_holm: list[float]
    generation: GenerationEffect | None
    heads_from: str
    n_reference: int

    def to_dict(self) -> dict:
        d = self.result.to_dict()
        for r, ph in zip(d["rows"], self.p_holm):
            r["p_holm"] = ph
        d["split"] = {"evaluated_on": "evaluation", "n": len(self.records), "ids": [r.id for r in self.records],
                      "heads_selected_on": self.heads_from, "reference": f"neutral reference sentences (n={self.n_reference})"}
        return d

    def generation_dict(self) -> dict | None:
        if self.generation is None:
            return None
        return {**self.generation.to_dict(), "split": {"evaluated_on": "evaluation", "n": self.generation.n_prompts}}


@dataclass(frozen=True)
class AblationReport(AnalysisReport):
    """Every emotion's :class:`EmotionAblation` and the settings that produced them."""

    emotions: list[EmotionAblation]
    config: dict = field(default_factory=dict)

    @property
    def n_tests(self) -> int:
        return sum(len(e.p_holm) for e in self.emotions)

    def results(self) -> dict:
        return {"config": self.config, "ablations": [e.to_dict() for e in self.emotions],
                "generation": [g for e in self.emotions if (g := e.generation_dict()) is not None]}

    def figures(self) -> dict:
        return {f"ablation_{e.emotion}": e.result.figure() for e in self.emotions}

    def save_extra(self, out: Path) -> None:
        """Per emotion, ``ablation_<emotion>.json`` (and ``ablation_generation_<emotion>.json``): its part of results.json."""
        for e in self.emotions:
            atomic_write_json(out / f"ablation_{e.emotion}.json", e.to_dict())
            if e.generation is not None:
                atomic_write_json(out / f"ablation_generation_{e.emotion}.json", e.generation_dict())

    def headline(self) -> list[Headline]:
        c, rows = self.config, []
        for e in self.emotions:
            res, n = e.result, len(e.records)
            for i, k in enumerate(res.ks):
                cp, draws = res.p[i], res.random_draw_effects[i]
                rows.append(Headline.of(
                    f"{e.emotion}: {c['mode']}-ablate top {k} heads, Δ {c['metric']} (evaluation split, n={n})", res.top[i], p=cp.p,
                    baseline=f"{cp.n_draws} layer-matched random {k}-head sets: {signed(res.random[i])}; draws range "
                             f"[{min(draws):+.3f}, {max(draws):+.3f}]",
                    note=f"top − random {signed(res.diff[i])}; {p_text(cp)}; Holm p {e.p_holm[i]:.3g} over {self.n_tests} tests; "
                         f"heads from {e.heads_from}"))
        return rows + [e.generation.headline(f"{c['mode']}-ablate top {len(e.result.heads)} heads (evaluation split, "
                                             f"n={e.generation.n_prompts})") for e in self.emotions if e.generation is not None]

    def tables(self) -> list[Table]:
        out = [Table(f"{e.emotion}: ranked heads (selection split)", ["rank", "head"],
                     [[j + 1, head_name(h)] for j, h in enumerate(e.result.heads)]) for e in self.emotions]
        gens = [e.generation for e in self.emotions if e.generation is not None]
        if gens:
            out += [generation_table("continuations of evaluation-split emotion sentences with the top heads ablated (paired by prompt)",
                                     gens), generation_examples("examples: continuations with the top heads ablated", gens)]
        return out

    def text(self) -> str:
        c, n = self.config, self.n_tests
        floor = n / (1 + c["n_random"])
        gen = (f" Generations: up to {c['generate_prompts']} evaluation-split emotion sentences per emotion continued greedily for "
               f"{c['max_new_tokens']} tokens with the top {c['max_k']} heads ablated at every position, scored by VADER and emotion "
               f"keywords, vs {c['generate_random']} layer-matched random {c['max_k']}-head sets (p floor "
               f"{1 / (1 + c['generate_random']):.3g}).") if any(e.generation for e in self.emotions) else ""
        return (f"Heads selected by screening on the selection split; every effect measured on the evaluation split. {c['mode']} "
                f"ablation on hook_z (per query head; a KV head shared with other query heads is left intact); mean/resample "
                f"values from {c['n_reference']} neutral reference sentences (in a study, the selection split's), BOS and padding "
                f"excluded. Metric {c['metric']}: log P(the next word is an emotion word), whole words teacher-forced, nats; "
                f"ablated − clean, bootstrap CI over sentences; control: up to {c['n_random']} layer-matched random head sets per "
                f"k, p = (1 + #draws with |effect| ≥ top's) / (1 + draws), floor 1/(1 + draws), with Besag–Clifford stopping "
                f"once {c['stop_after']} draws are as extreme (then p = {c['stop_after']}/draws); Holm over all emotions × ks "
                f"({n} tests: the smallest reachable Holm p is {floor:.3g}"
                f"{'' if floor < 0.01 else f'; Holm p < 0.01 needs n_random ≥ {100 * n}'}).{gen}")


def ablation_analysis(model, ranked: Mapping[str, Sequence[Head]], records: Mapping[str, Sequence[EmotionRecord]], *,
                      ks: Sequence[int], reference_texts: Sequence[str] = (), selected: Sequence[EmotionRecord] = (),
                      mode: str = "mean", metric: str = "emotion_words", n_random: int = 100, stop_after: int = 10,
                      n_sentences: int | None = None, generate_prompts: int = 0, generate_random: int = 20,
                      max_new_tokens: int = 20, seed: int = 0, heads_from: str = SCREENED,
                      fix: str = DEFAULT_FIX, progress: Progress | None = None) -> AblationReport:
    """Cumulative top-k vs layer-matched random ablation per emotion, with optional generation effects.

    Args:
        ranked: emotion → its heads, best first (the first ``max(ks)`` are ablated cumulatively; generation ablates all).
        records: emotion → the sentences to evaluate on (checked disjoint from ``selected``, at least
            ``max(2, generate_prompts)``; with ``n_sentences`` only the first ``max(n_sentences, 2, generate_prompts)``).
        ks: numbers of top heads ablated together (see :func:`default_ks`).
        reference_texts: neutral sentences whose ``hook_z`` mean/resample ablation writes (unused for ``zero``).
        selected: the sentences the heads were selected on (screening's); overlap with ``records`` is an error.
        mode, metric: keys of :data:`circuits.ablation.MODES` and :data:`circuits.metrics.METRICS`.
        n_random, stop_after: random k-head sets per k and Besag–Clifford's stopping count (0: every draw).
        generate_prompts, generate_random, max_new_tokens: continuations scored with the top heads ablated (0: none).
        heads_from, fix: where the heads came from and how to get more sentences (for the report and errors).
    """
    if mode not in MODES:
        raise ConfigError(f"unknown ablation mode {mode!r}; choose one of {', '.join(MODES)}")
    get_metric(metric)
    need = max(2, generate_prompts)
    recs = {e: evaluation_records(records[e], e, selected=selected, need=need, fix=fix) for e in ranked}
    if n_sentences:
        recs = {e: r[: max(n_sentences, 2, generate_prompts)] for e, r in recs.items()}
    reference = ablation_reference(model, reference_texts) if mode != "zero" else None
    per, n_emo = 1 + (2 + generate_random if generate_prompts else 0), len(ranked)
    tell = progress or (lambda done, total: None)
    done: list[tuple[str, CumulativeAblation, GenerationEffect | None]] = []
    for i, (emotion, heads) in enumerate(ranked.items()):
        texts = [r.text for r in recs[emotion]]
        res = cumulative_ablation(model, texts, emotion, heads, ks, mode=mode, reference=reference, n_random=n_random,
                                  metric=metric, seed=seed, stop_after=stop_after,
                                  progress=lambda d, t, b=i * per: tell(b + d / max(t, 1), per * n_emo))
        gen = ablation_generation_effect(model, texts[:generate_prompts], emotion, heads, mode=mode, reference=reference,
                                         n_random=generate_random, max_new_tokens=max_new_tokens, seed=seed,
                                         progress=lambda d, t, b=i * per + 1: tell(b + d, per * n_emo)) if generate_prompts else None
        done.append((emotion, res, gen))
    flat = [p for _, res, _ in done for p in res.p_draws]
    holm = iter([float(p) for p in holm_bonferroni(flat)] if flat else [])
    emos = [EmotionAblation(e, recs[e], res, [next(holm) for _ in res.ks], gen, heads_from, len(reference_texts)) for e, res, gen in done]
    cfg = {"emotions": list(ranked), "ks": list(ks), "max_k": max(len(h) for h in ranked.values()), "mode": mode, "metric": metric,
           "n_random": n_random, "stop_after": stop_after, "n_sentences": n_sentences, "generate_prompts": generate_prompts,
           "generate_random": generate_random, "max_new_tokens": max_new_tokens, "seed": seed,
           "n_reference": len(reference_texts)}
    return AblationReport(emos, cfg)
