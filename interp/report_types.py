"""The one result type every analysis entry point returns, and the headline row it reports in.

An analysis (geometry, sweep, screening, ablation, patching, OV/QK, module evaluation) is one library
call that returns an :class:`AnalysisReport`. The CLI command and the study phase are thin adapters
over that call: both ``save`` the same report into their folder, so the command and the study write
the same ``results.json`` and figures by construction; the study phase returns :meth:`AnalysisReport.summary`
(what the run report renders) and the CLI prints :meth:`AnalysisReport.headline`.
"""

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from interp.figures import save_plotly
from interp.io import atomic_write_json
from interp.stats import Estimate


@dataclass(frozen=True)
class Headline:
    """One headline number: its value with a CI (``lo``/``hi``) or a permutation ``p``, its baseline and a note."""

    name: str
    value: Any
    lo: float | None = None
    hi: float | None = None
    baseline: str | None = None
    note: str | None = None
    p: float | None = None

    @classmethod
    def of(cls, name: str, est: Estimate, **kw) -> "Headline":
        """A row from an :class:`~interp.stats.Estimate` (its value and CI)."""
        return cls(name, est.value, est.lo, est.hi, **kw)

    def to_dict(self) -> dict:
        """The row as the run report and ``runs compare`` read it (``experiments.phase_registry.row``'s format)."""
        return {"name": self.name, "value": self.value, "lo": self.lo, "hi": self.hi, "baseline": self.baseline,
                "note": self.note, "p": self.p}

    def __str__(self) -> str:
        v = f"{self.value:.4g}" if isinstance(self.value, float) else str(self.value)
        ci = f" [{self.lo:.4g}, {self.hi:.4g}]" if isinstance(self.lo, (int, float)) and isinstance(self.hi, (int, float)) else ""
        p = f" (p {self.p:.3g})" if isinstance(self.p, (int, float)) else ""
        return f"{self.name}: {v}{ci}{p}"


@dataclass
class Table:
    """A small table for the run report: a title, column names and rows of cells."""

    title: str
    columns: list[str]
    rows: list[list] = field(default_factory=list)

    def to_dict(self) -> dict:
        return {"title": self.title, "columns": self.columns, "rows": self.rows}


class AnalysisReport:
    """Base of every analysis's typed report.

    Subclasses implement :meth:`results` (JSON-able, no paths or timings, so two runs of the same inputs
    write identical files), :meth:`figures`, :meth:`headline`, and optionally :meth:`text`, :meth:`tables`
    and :meth:`save_extra` (e.g. vectors as safetensors).
    """

    def results(self) -> dict:
        raise NotImplementedError

    def figures(self) -> dict[str, Any]:
        """``{file stem: plotly figure}``; saved as ``figures/<stem>.html`` (and ``.plotly.json``)."""
        return {}

    def headline(self) -> list[Headline]:
        raise NotImplementedError

    def text(self) -> str:
        return ""

    def tables(self) -> list[Table]:
        return []

    def save_extra(self, out: Path) -> None:
        """Other files (vectors, stores) the analysis writes beside ``results.json``."""

    def save(self, out: str | Path) -> Path:
        """Write ``results.json``, ``figures/*.html`` and :meth:`save_extra`'s files into ``out`` (atomically, file by file)."""
        out = Path(out)
        atomic_write_json(out / "results.json", self.results())
        for stem, fig in self.figures().items():
            save_plotly(fig, out / "figures" / f"{stem}.html")
        self.save_extra(out)
        return out

    def summary(self) -> dict:
        """What a study phase returns: ``{"text", "headline": [row dicts], "tables": [...]}``."""
        return {"text": self.text(), "headline": [h.to_dict() for h in self.headline()],
                "tables": [t.to_dict() for t in self.tables()]}
