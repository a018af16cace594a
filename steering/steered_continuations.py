"""Steered next to unsteered continuations of the same prompts, scored: the analysis behind ``emotion-circuits steer``."""

from collections.abc import Sequence
from dataclasses import asdict, dataclass

import numpy as np

from interp.evaluators import make_scorer, score_texts
from interp.report_types import AnalysisReport, Headline, Table
from steering.generation import GenerationConfig, generate
from steering.hooks import SteeringSpec, mean_resid_norm
from steering.vectors import EmotionVector


@dataclass(frozen=True)
class SteeredItem:
    """One prompt's unsteered and steered continuation with their scores (column -> value)."""

    prompt: str
    unsteered: str
    steered: str
    scores_unsteered: dict[str, float]
    scores_steered: dict[str, float]


@dataclass(frozen=True)
class SteerReport(AnalysisReport):
    """What :func:`steered_continuations` measured: the steering term, the vector's provenance and one item per prompt."""

    spec: SteeringSpec
    vector: dict
    positions: str
    columns: tuple[str, ...]
    items: tuple[SteeredItem, ...]

    def results(self) -> dict:
        return {"steering": self.spec.describe(), "vector": self.vector, "positions": self.positions,
                "items": [asdict(it) for it in self.items]}

    def headline(self) -> list[Headline]:
        """Per score column: mean steered − unsteered over the prompts (no CI: a handful of prompts, a demonstration)."""
        n = len(self.items)
        return [Headline(f"Δ {c} (steered − unsteered, mean of {n} prompt{'s' * (n != 1)})",
                         float(np.mean([it.scores_steered[c] - it.scores_unsteered[c] for it in self.items])),
                         baseline=f"unsteered mean {np.mean([it.scores_unsteered[c] for it in self.items]):.4g}")
                for c in self.columns]

    def text(self) -> str:
        d = self.spec.describe()
        return (f"{self.spec.label} at {d['hook']}, α={d['alpha']:g} ({d['unit']}; added norm {d['added_norm']:.3g}), "
                f"positions {self.positions}")

    def tables(self) -> list[Table]:
        return [Table(it.prompt, ["", "continuation", *self.columns],
                      [["unsteered", it.unsteered, *it.scores_unsteered.values()], ["steered", it.steered, *it.scores_steered.values()]])
                for it in self.items]


def steered_continuations(model, prompts: Sequence[str], vector: EmotionVector, hook: str, alpha: float, *, scale: str = "raw",
                          positions: str = "all", config: GenerationConfig = GenerationConfig()) -> SteerReport:
    """Continue ``prompts`` unsteered and with ``alpha`` × ``vector`` added at ``hook``; score both.

    Args:
        vector: the emotion vector (its emotion labels the steering term and picks the keyword column).
        hook: where to add it (its own hook unless a mismatch was allowed).
        alpha: coefficient in the unit of ``scale`` (``mean_norm`` measures the mean residual norm on ``prompts``).
        config: generation settings; the same seed for both runs, so the steering is the only difference.

    Returns:
        a :class:`SteerReport` scored on VADER compound, the emotion's keyword rate and perplexity.
    """
    prompts = list(prompts)
    norm = mean_resid_norm(model, hook, prompts) if scale == "mean_norm" else None
    spec = SteeringSpec(hook, vector.vector, alpha, scale, norm, label=vector.emotion)
    plain = generate(model, prompts, config=config)
    steered = generate(model, prompts, [spec], positions=positions, config=config)
    scorers = [make_scorer("sentiment"), make_scorer("keywords"), make_scorer("fluency", model=model, chat=config.chat)]
    kw = f"kw_{vector.emotion}" if f"kw_{vector.emotion}" in scorers[1].columns else "kw_gratitude"
    cols = ("vader_compound", kw, "perplexity")
    s0 = score_texts(plain.continuations, scorers, prompts=prompts)
    s1 = score_texts(steered.continuations, scorers, prompts=prompts)
    items = tuple(SteeredItem(p, a, b, {c: s0[c][i] for c in cols}, {c: s1[c][i] for c in cols})
                  for i, (p, a, b) in enumerate(zip(prompts, plain.continuations, steered.continuations)))
    return SteerReport(spec, vector.provenance(), positions, cols, items)
