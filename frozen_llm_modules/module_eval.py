"""Module evaluation as one call returning a typed report: style markers vs the base, neutral perplexity,
the reward model's reranking effect and trainable-parameter shares."""

from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

from frozen_llm_modules.attach import KINDS, EmotionalLLM, base_parameters, trainable_parameters
from frozen_llm_modules.evaluation import (
    SEED_FRACTIONS,
    PerplexityResult,
    StyleResult,
    all_marker_table,
    generate_conditions,
    neutral_perplexity,
    rerank_results,
    style_results,
)
from frozen_llm_modules.state import ModuleError
from frozen_llm_modules.style_corpus import load_style_corpus, split_corpus, template_copy_rate
from frozen_llm_modules.training import heldout_prompts, neutral_texts
from interp.io import atomic_write_json
from interp.report_types import AnalysisReport, Headline, Table
from interp.stats import Estimate

PROMPTS_NOTE = "held-out topics' prompts (no training row uses these topics); markers from general lexicons"
STYLE_COLUMNS = ["emotion", "marker", "base", "module", "diff [95% CI, prompts]", "diff [95% CI, topics]", "p", "coherence"]
RERANK_COLUMNS = ["emotion", "marker", "candidates", "pick", "diff [95% CI, prompts]", "diff [95% CI, topics]", "p"]


@dataclass(frozen=True)
class ParamShare:
    """A module's trainable parameters, as a fraction of the base model's, and the seed table's figure for its kind."""

    trainable: int
    fraction: float
    seed_table: str

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class ModuleEvalReport(AnalysisReport):
    """What :func:`evaluate_modules` measured.

    ``responses`` (condition → greedy answers: ``base`` and each emotion at 1.0), ``styles``, ``perplexity`` and
    ``markers`` exist when a prefix/adapter/steering module is attached; ``rerank``/``picks`` when a reward module is.
    Marker values are per 10 words.
    """

    modules: list[str]
    n_prompts: int
    params: dict[str, ParamShare]
    config: dict
    responses: dict[str, list[str]] | None = None
    styles: list[StyleResult] = field(default_factory=list)
    styles_legacy: list[StyleResult] = field(default_factory=list)
    markers: dict = field(default_factory=dict)
    perplexity: PerplexityResult | None = None
    template_copy_rate: dict[str, float] = field(default_factory=dict)
    rerank: list[StyleResult] = field(default_factory=list)
    rerank_pool: str | None = None
    rerank_candidates: int | None = None
    picks: dict[str, list[str]] | None = None

    def results(self) -> dict:
        out = {"modules": self.modules, "n_prompts": self.n_prompts, "params": {k: v.to_dict() for k, v in self.params.items()},
               "config": self.config}
        if self.responses is not None:
            out.update(styles=[s.to_dict() for s in self.styles], markers=self.markers, perplexity=self.perplexity.to_dict(),
                       styles_legacy_lexicons=[s.to_dict() for s in self.styles_legacy], prompts_note=PROMPTS_NOTE,
                       template_copy_rate=self.template_copy_rate, examples={k: v[:2] for k, v in self.responses.items()})
        if self.picks is not None:
            out.update(rerank=[s.to_dict() for s in self.rerank], rerank_pool=self.rerank_pool, rerank_candidates=self.rerank_candidates,
                       rerank_examples={k: v[:2] for k, v in self.picks.items() if k != "candidates"})
        return out

    def headline(self) -> list[Headline]:
        rows = [Headline.of(f"{s.emotion}: {s.marker} per 10 words, module at 1.0 − base", s.effect, p=s.p_value,
                            baseline=f"base {s.base_mean:.3g}", note=f"topic CI {s.topic_effect}; coherence {s.coherence:.2f}")
                for s in self.styles]
        if self.perplexity is not None:
            ppl = self.perplexity
            rows.append(Headline.of("neutral-text perplexity ratio (modules / base)", ppl.ratio_estimate, baseline="1 (the base)",
                                    note=f"{ppl.n_texts} held-out neutral sentences; within 5 %: {ppl.within()}"))
        rows += [Headline.of(f"{s.emotion}: {s.marker} per 10 words, reward pick − mean candidate", s.effect, p=s.p_value,
                             baseline=f"candidates {s.base_mean:.3g}", note=f"{self.rerank_pool} pool; topic CI {s.topic_effect}")
                 for s in self.rerank]
        rows += [Headline(f"{k}: trainable fraction of the base", v.fraction, note=f"{v.trainable} parameters; seed table {v.seed_table}")
                 for k, v in self.params.items()]
        return rows

    def text(self) -> str:
        if self.perplexity is None:
            return ""
        ppl = self.perplexity
        return f"base perplexity {ppl.ppl_base:.3f} on {ppl.n_texts} neutral sentences; within 5 %: {ppl.within()}"

    def tables(self) -> list[Table]:
        out = []
        if self.picks is not None:
            out.append(Table(f"reward model: best-of-{self.rerank_candidates} ({self.rerank_pool}) pick under state=1 vs mean "
                             "candidate (per 10 words)", RERANK_COLUMNS, [_style_row(s)[:-1] for s in self.rerank]))
        if self.perplexity is not None:
            ppl = self.perplexity
            out.append(Table("target style markers (module at state=1 vs base, per 10 words)", STYLE_COLUMNS,
                             [_style_row(s) for s in self.styles]))
            out.append(Table("neutral-text perplexity (modules / base)", ["state", "ppl", "ratio [95% CI]"],
                             [["neutral", ppl.ppl_modules, str(ppl.ratio_estimate)]]
                             + [[f"{e}=1", v["ppl"], str(Estimate(v["ratio"], v["ratio_lo"], v["ratio_hi"]))] for e, v in ppl.by_state.items()]))
        out.append(Table("parameters", ["module", "trainable", "fraction", "seed table"],
                         [[k, v.trainable, f"{100 * v.fraction:.4f}%", v.seed_table] for k, v in self.params.items()]))
        return out

    def save_extra(self, out: Path) -> None:
        """``responses.json`` (every generated answer) and ``rerank_responses.json`` (candidates and picks)."""
        if self.responses is not None:
            atomic_write_json(out / "responses.json", self.responses)
        if self.picks is not None:
            atomic_write_json(out / "rerank_responses.json", self.picks)


def _style_row(s: StyleResult) -> list:
    return [s.emotion, s.marker, s.base_mean, s.module_mean, str(s.effect), str(s.topic_effect), s.p_value, s.coherence]


def resolve_pool(pool: str | None, modules: dict) -> str:
    """The reranking pool: as given, else ``modules`` when a style module is among ``modules``, else ``hinted``."""
    return pool or ("modules" if any(k in KINDS for k in modules) else "hinted")


def parameter_shares(model, modules: dict) -> dict[str, ParamShare]:
    n_base = base_parameters(model)
    return {k: ParamShare(trainable_parameters(v), trainable_parameters(v) / n_base, SEED_FRACTIONS[k]) for k, v in modules.items()}


def evaluate_modules(model, modules: dict, *, n_prompts: int = 30, n_texts: int = 40, max_new_tokens: int = 20, best_of: int = 4,
                     pool: str | None = None, seed: int = 0, progress: Callable[[int, int], None] | None = None) -> ModuleEvalReport:
    """Evaluate loaded modules (as :func:`~frozen_llm_modules.persistence.load_modules` returns them) behind ``model``.

    Style modules: greedy answers to the first ``n_prompts`` held-out prompts at each emotion's full state vs the base
    (paired bootstrap CIs over prompts and over topics), and perplexity of ``n_texts`` held-out neutral sentences.
    A reward module: its best-of-N pick under each state vs the mean candidate of ``pool`` (see
    :func:`~frozen_llm_modules.evaluation.candidate_pool`; ``best_of`` is N for ``sampled``).
    ``progress(done, total)`` counts generation stages.
    """
    mods = dict(modules)
    rm = mods.pop("reward", None)
    mods.pop("encoder", None)
    if not mods and rm is None:
        raise ModuleError("eval-module needs a prefix, adapter, steering or reward module")
    pool = resolve_pool(pool, mods)
    llm = EmotionalLLM(model, **mods)
    prompts = heldout_prompts()[:n_prompts]
    total = (4 if mods else 0) + (rm is not None)
    config = {"n_prompts": n_prompts, "n_texts": n_texts, "max_new_tokens": max_new_tokens, "best_of": best_of, "pool": pool, "seed": seed}
    all_mods = {**mods, **({"reward": rm} if rm is not None else {})}
    kw = {"modules": sorted(all_mods), "n_prompts": len(prompts), "params": parameter_shares(model, all_mods), "config": config}
    if mods:
        resp = generate_conditions(llm, prompts, max_new_tokens=max_new_tokens, progress=progress and (lambda i: progress(i, total)))
        train_rows = split_corpus(load_style_corpus())[0]
        kw.update(responses=resp, styles=style_results(resp, seed=seed), styles_legacy=style_results(resp, seed=seed, legacy=True),
                  markers=all_marker_table(resp), perplexity=neutral_perplexity(llm, neutral_texts(split="heldout")[:n_texts], seed=seed),
                  template_copy_rate={c: template_copy_rate(v, train_rows) for c, v in resp.items()})
    if rm is not None:
        rerank, picks = rerank_results(llm, rm, prompts, pool=pool, n=best_of, max_new_tokens=max_new_tokens, seed=seed)
        kw.update(rerank=rerank, picks=picks, rerank_pool=pool, rerank_candidates=len(picks["candidates"]) // len(prompts))
        if progress:
            progress(total, total)
    return ModuleEvalReport(**kw)
