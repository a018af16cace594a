"""The steering sweep as one analysis: vectors × prompts → :class:`SweepReport`.

``emotion-circuits sweep`` and the study's sweep phase both call :func:`sweep_analysis` and ``save`` its report, so
they write the same ``results.json``, ``figures/sweep_<emotion>.html``, ``results/`` tables and ``examples.json``.
The rules behind every number are in :mod:`steering.sweep`.
"""

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from torch import Tensor

from interp.attributes import check_scorer_language
from interp.errors import ConfigError
from interp.evaluators import make_scorer
from interp.io import atomic_write_json
from interp.report_types import AnalysisReport, Headline, Table
from interp.stats import Estimate
from steering.sweep import SweepConfig, SweepResult, run_sweep
from steering.sweep_figures import sweep_figures
from steering.sweep_stats import BestCell, CellStats
from steering.vectors import EmotionVector

DEFAULT_SCORERS = ("sentiment", "nrc", "keywords", "fluency")
"""Scorers of a sweep: VADER, NRC and keyword rates (each also lexicon-masked), and fluency (perplexity, repetition)."""

def scorers_for(language: str, extra: Sequence[str] = ()) -> tuple[str, ...]:
    """A sweep's scorers for text in ``language``: :data:`DEFAULT_SCORERS` where they all score it (English), else fluency
    alone; plus ``extra`` (the attribute's own scorers, :mod:`interp.attributes`) not already in; fluency last."""
    def scores(name: str) -> bool:
        try:
            check_scorer_language(name, language)
        except ConfigError:
            return False
        return True

    base = DEFAULT_SCORERS if all(scores(n) for n in DEFAULT_SCORERS) else ("fluency",)
    return tuple(dict.fromkeys([*(n for n in base if n != "fluency"), *extra, "fluency"]))


DEFAULT_EXAMPLES = 6
"""Unsteered vs best-cell example pairs kept, over all emotions (the study's ``[report] steering_examples``)."""


def ci(est: Estimate) -> str:
    """``+0.123 [+0.045, +0.201]``: a signed effect with its 95% CI, as the sweep's tables show it."""
    return f"{est:+.3f}"


def check_scorer_names(names: Sequence[str]) -> None:
    """Raise unless ``names`` include ``fluency`` (perplexity and repetition decide the usable window)."""
    if "fluency" not in names:
        raise ConfigError("the sweep's scorers (--scorers) must include 'fluency' (perplexity decides the usable window); "
                          f"got {', '.join(names) or 'none'}")


def sweep_scorers(model, names: Sequence[str] = DEFAULT_SCORERS, *, chat: bool = False,
                  targets: Mapping[str, str] | None = None) -> list:
    """Build the named scorers (``fluency`` on ``model``; required: perplexity decides the usable window) and check that every
    ``targets`` column (emotion -> score column) is one they produce."""
    check_scorer_names(names)
    scorers = [make_scorer(n, model=model, chat=chat) if n == "fluency" else make_scorer(n) for n in names]
    columns = sorted({c for sc in scorers for c in sc.columns})
    for e, col in (targets or {}).items():
        if col not in columns:
            raise ConfigError(f"target score {col!r} for {e!r} ([sweep] targets / --target) is not a score column; "
                              f"allowed: {', '.join(columns)}")
    return scorers


@dataclass(frozen=True)
class SweepReport(AnalysisReport):
    """A finished sweep (:class:`~steering.sweep.SweepResult`) and how many example pairs it reports.

    ``results()`` is the sweep's summary (config, splits, best cells, usable windows) without the run-specific cache
    counts; ``headline()`` has two rows per emotion (best cell raw and with the emotion's words masked, evaluation prompts).
    """

    result: SweepResult
    n_examples: int = DEFAULT_EXAMPLES

    @property
    def emotions(self) -> list[str]:
        return list(self.result.config["emotions"])

    def best(self, emotion: str) -> BestCell:
        return self.result.best_cell(emotion)

    def results(self) -> dict:
        return {k: v for k, v in self.result.summary().items() if k != "cache"}

    def figures(self) -> dict:
        return sweep_figures(self.result)

    def examples(self) -> list[dict]:
        """Unsteered vs best-cell text of the first evaluation prompts, ``n_examples`` split over the emotions."""
        n = self.n_examples // max(len(self.emotions), 1) or 1
        return [ex for e in self.emotions for ex in steering_examples(self.result, e, n)]

    def save_extra(self, out: Path) -> None:
        self.result.save(out / "results")
        atomic_write_json(out / "examples.json", self.examples())

    def headline(self) -> list[Headline]:
        sp = self.result.extra["splits"]
        rows = []
        for e in self.emotions:
            b = self.best(e)
            c, r, sel = b.cell, b.random_control, b.selection
            rand = (f"{r.n} norm-matched random directions: mean Δ {r.mean:+.3f} (95th pct {r.p95:+.3f}), p = {r.p:.3g}; "
                    f"masked p = {r.p_masked:.3g} (floor {r.p_floor:.3g})") if r else "random control not run"
            rows.append(Headline.of(
                f"{e}: best cell, Δ{c.target} over α=0 (evaluation prompts)", c.effect, p=c.p, baseline=f"α=0 mean {c.baseline:.3f}; {rand}",
                note=f"{c.setting} chosen on the {len(sp['selection'])} selection prompts (Δ {sel.effect.value:+.3f}, Holm p "
                     f"{sel.p_holm:.3g}); reported on the {len(sp['evaluation'])} evaluation prompts (p: paired sign-flip there, one "
                     f"pre-selected cell so no correction); ppl ratio {c.ppl_ratio.value:.2f}; usable: {b.usable}"))
            rows.append(Headline.of(
                f"{e}: same cell, Δ{c.target} with {e} words masked (evaluation prompts)", c.effect_masked, p=c.p_masked,
                baseline=f"keyword insertion (raw − masked) {c.keyword_share:+.3f}",
                note="keyword-driven (raw significant, masked not)" if b.keyword_driven else "not keyword-driven"))
        return rows

    def text(self) -> str:
        c, x, sp = self.result.config, self.result.extra, self.result.extra["splits"]
        gen = c["generation"]
        return (f"{x['n_prompts']} neutral prompts split by text (seed {sp['seed']}) into {len(sp['selection'])} selection and "
                f"{len(sp['evaluation'])} evaluation prompts; {gen['max_new_tokens']} {'sampled' if gen['do_sample'] else 'greedy'} "
                f"tokens, layers {list(c['layers'])}, α {list(c['alphas'])} ({c['unit']}). Effects are paired (same prompt) "
                f"differences from α=0 with bootstrap CIs and Holm-corrected sign-flip p-values, on the raw text and with the "
                f"emotion's lexicon words masked (replaced by 'thing'). The best cell and the window candidates are chosen on the "
                f"selection prompts; every reported effect and the random-direction control ({c['n_random']} directions of the "
                f"same added norm, top {c['random_max_cells']} candidates per emotion) come from the evaluation prompts.")

    def tables(self) -> list[Table]:
        s = self.result.summary()
        window = Table(f"usable window ({s['window_rule']})", ["emotion", "target score", "cells"],
                       [[e, self.best(e).cell.target, str(self.result.usable_window(e))] for e in self.emotions])
        agg = self.result.aggregates
        checked = [CellStats.of(r) for r in agg[agg.random_checked & (agg.split == "evaluation")].to_dict("records")]
        cells = Table("cells with the random-direction control (evaluation prompts)",
                      ["emotion", "layer", "α", "Δ raw [95% CI]", "Δ masked [95% CI]", "keyword share (raw − masked)",
                       "p vs random raw / masked", "usable"],
                      [[x.emotion, f"L{x.layer}", f"{x.alpha:g}", ci(x.effect), ci(x.effect_masked), f"{x.keyword_share:+.3f}",
                        f"{x.record['random_p']:.3g} / {x.record['random_p_masked']:.3g}", bool(x.record["usable"])] for x in checked])
        return [window, cells]


def steering_examples(result: SweepResult, emotion: str, n: int) -> list[dict]:
    """Unsteered vs steered text of ``emotion``'s best cell on its first ``n`` evaluation prompts (first generation seed)."""
    best = result.best_cell(emotion).cell
    df = result.rows
    cell = df[(df.emotion == emotion) & (df.direction == "emotion") & (df.layer == best.layer) & (df.split == "evaluation")]
    target = result.config["targets"].get(emotion) or best.target
    base = cell[cell.alpha == 0].set_index(["prompt_idx", "seed"])
    steered = cell[cell.alpha == best.alpha].set_index(["prompt_idx", "seed"])
    out = []
    for key in list(steered.index)[:n]:
        if key not in base.index:
            continue
        b, s = base.loc[key], steered.loc[key]
        out.append({"prompt": s["prompt"], "setting": f"{emotion} {best.setting}", "unsteered": b["text"], "steered": s["text"],
                    "scores": f"{target}: {b[target]:.3f} → {s[target]:.3f}; perplexity {b['perplexity']:.1f} → {s['perplexity']:.1f}"})
    return out


def sweep_analysis(model, prompts: Sequence[str], vectors: Mapping[tuple[str, int], EmotionVector | Tensor], config: SweepConfig, *,
                   scorers: Sequence[str] = DEFAULT_SCORERS, n_examples: int = DEFAULT_EXAMPLES, cache_dir: str | Path | None = None,
                   progress: Callable[[int, int], None] | None = None) -> SweepReport:
    """Run the layer × α sweep of ``config`` (seeds, split and controls all in it) and wrap it in a :class:`SweepReport`.

    Args:
        model: the bridge (unsteered; hooks live only during each generation).
        prompts: neutral prompts (≥ 2; split into selection and evaluation halves by ``config``).
        vectors: ``(emotion, layer) → [d_model]`` emotion vector (or :class:`~steering.vectors.EmotionVector`) at
            ``config.hook_kind`` of each layer.
        scorers: scorer names (:func:`sweep_scorers`; fluency on ``model``, in the chat template if ``config`` uses it).
        n_examples: example pairs for ``examples.json``, over all emotions.
        cache_dir: verified per-cell files, so an interrupted sweep resumes (:mod:`steering.sweep_cache`).
        progress: ``progress(done, total)`` after each cell.
    """
    built = sweep_scorers(model, scorers, chat=config.generation.chat, targets=config.targets)
    vecs = {k: v.vector if isinstance(v, EmotionVector) else v for k, v in vectors.items()}
    return SweepReport(run_sweep(model, prompts, vecs, config, built, cache_dir=cache_dir, progress=progress), n_examples)
