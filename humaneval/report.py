"""The scoring report: per-system estimates with CIs, agreement, attention checks; JSON, tables and a plotly figure."""

from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
from jaxtyping import Float

from humaneval.figure import summary_figure
from humaneval.ratings import SkippedFile
from humaneval.stats import Estimate, ratio
from interp.figures import save_plotly
from interp.io import atomic_write_json, ensure_writable_dir

BOOTSTRAP_OVER = ("raters", "prompts")


@dataclass(frozen=True)
class ScoreConfig:
    """How to score: bootstrap draws and unit, attention-check exclusion, BT prior, seed."""

    n_boot: int = 1000
    bootstrap_over: str = "raters"
    exclude_failed: bool = True
    max_failed: int = 0
    prior: float = 0.5
    seed: int = 0

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class SystemScore:
    """One system: BT log-strength (mean 0 over systems), share of pairwise wins, mean naturalness (1–5),
    best–worst score ((best − worst) / appearances, −1..1); each with its CI and number of judgements."""

    system: str
    strength: Estimate
    win_rate: Estimate
    n_comparisons: int
    naturalness: Estimate
    n_ratings: int
    best_worst: Estimate
    n_tuples: int

    def to_dict(self) -> dict:
        return {k: (v.to_dict() if isinstance(v, Estimate) else v) for k, v in self.__dict__.items()}


@dataclass(frozen=True)
class AlphaResult:
    """Krippendorff's α of one task under one metric; CI from resampling items (the reliability units)."""

    task: str
    metric: str
    alpha: Estimate
    n_units: int
    n_values: int

    def to_dict(self) -> dict:
        return {**asdict(self), "alpha": self.alpha.to_dict()}


@dataclass(frozen=True)
class Agreement:
    """Spearman's ρ between an automatic scorer and a per-output human measure; CI from resampling outputs."""

    scorer: str
    measure: str
    rho: Estimate
    n: int

    def to_dict(self) -> dict:
        return {**asdict(self), "rho": self.rho.to_dict()}


@dataclass(frozen=True)
class RaterCheck:
    """One rater's attention checks (an unanswered check counts as failed) and whether they were left out."""

    rater: str
    path: str
    n_answers: int
    n_checks: int
    n_failed: int
    failed_items: tuple[str, ...]
    excluded: bool

    @property
    def failure_rate(self) -> float:
        return self.n_failed / self.n_checks if self.n_checks else float("nan")

    def to_dict(self) -> dict:
        return {**asdict(self), "failed_items": list(self.failed_items), "failure_rate": self.failure_rate}


@dataclass(frozen=True)
class HumanEvalReport:
    """Everything ``humaneval score`` found; ``scores`` ranked by BT strength (best–worst, then naturalness, where
    no pairwise items were rated), ``wins`` in key system order."""

    item_set: str
    tone: str
    systems: tuple[str, ...]
    scores: tuple[SystemScore, ...]
    wins: Float[np.ndarray, "system system"]
    position_a_rate: Estimate
    alphas: tuple[AlphaResult, ...]
    agreement: tuple[Agreement, ...]
    raters: tuple[RaterCheck, ...]
    skipped: tuple[SkippedFile, ...]
    config: ScoreConfig = field(default_factory=ScoreConfig)

    def ranking(self) -> list[str]:
        return [s.system for s in self.scores]

    def win_rates(self) -> Float[np.ndarray, "system system"]:
        """Share of i-vs-j comparisons that i won (NaN where the pair was never compared)."""
        return ratio(self.wins, self.wins + self.wins.T)

    def to_dict(self) -> dict:
        return {"item_set": self.item_set, "tone": self.tone, "systems": list(self.systems), "ranking": self.ranking(),
                "scores": [s.to_dict() for s in self.scores], "wins": self.wins.tolist(),
                "win_rates": self.win_rates().tolist(), "position_a_rate": self.position_a_rate.to_dict(),
                "alphas": [a.to_dict() for a in self.alphas], "agreement": [a.to_dict() for a in self.agreement],
                "raters": [r.to_dict() for r in self.raters], "skipped": [s.to_dict() for s in self.skipped],
                "config": self.config.to_dict()}

    def save(self, out_dir: str | Path) -> dict[str, Path]:
        """Write ``report.json`` and ``summary.html`` (offline plotly, plus ``summary.plotly.json``)."""
        folder = ensure_writable_dir(out_dir)
        return {"report": atomic_write_json(folder / "report.json", _finite(self.to_dict())),
                "figure": save_plotly(self.figure(), folder / "summary.html", title=f"human evaluation {self.item_set}")}

    def figure(self):
        """Six panels: BT strengths, win-rate matrix, naturalness, best–worst, α per task, attention-check failures."""
        return summary_figure(self)


def _finite(obj):
    """NaN/inf → None, recursively (JSON has no NaN)."""
    if isinstance(obj, float):
        return obj if np.isfinite(obj) else None
    if isinstance(obj, dict):
        return {k: _finite(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_finite(v) for v in obj]
    return obj
