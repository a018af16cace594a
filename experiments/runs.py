"""List runs and compare their headline numbers side by side."""

from dataclasses import dataclass
from pathlib import Path

from interp.errors import StoreError
from interp.io import read_json


@dataclass(frozen=True)
class RunSummary:
    path: Path
    study: str
    started: str
    wall_seconds: float | None
    models: list[str]
    phases: list[str]
    complete: bool
    status: str = "unfinished"
    """``finished``, ``failed`` (the command stopped with an error, in ``error``) or ``unfinished`` (killed or running)."""
    error: str | None = None

    def to_dict(self) -> dict:
        return {"path": str(self.path), "study": self.study, "started": self.started, "wall_seconds": self.wall_seconds,
                "models": self.models, "phases": self.phases, "complete": self.complete, "status": self.status,
                "error": self.error}


def list_runs(root: str | Path = "runs") -> list[RunSummary]:
    """Every run folder (one with a manifest.json) under ``root``, newest first."""
    base = Path(root)
    if not base.exists():
        return []
    out = []
    for manifest in base.glob("*/*/manifest.json"):
        try:
            m = read_json(manifest)
        except StoreError:
            continue
        run = manifest.parent
        status = "finished" if "finished_utc" in m else "failed" if "failed_utc" in m else "unfinished"
        out.append(RunSummary(run, m.get("study", run.parent.name), m.get("started_utc", ""), m.get("wall_seconds"),
                              sorted(m.get("models", {})), sorted(m.get("steps", {})), "finished_utc" in m, status, m.get("error")))
    return sorted(out, key=lambda r: r.started, reverse=True)


def headlines(run: str | Path) -> dict[str, dict]:
    """``{"phase: measure": {"value", "lo", "hi", "baseline"}}`` from every phase's summary.json."""
    p = Path(run)
    if not (p / "manifest.json").exists():
        raise StoreError(f"{str(p)!r} is not a run folder (no manifest.json); see `emotion-circuits runs list`")
    out = {}
    for summary in sorted(p.glob("*/summary.json")):
        for row in read_json(summary).get("headline", []):
            out[f"{summary.parent.name}: {row.get('name')}"] = {k: row.get(k) for k in ("value", "lo", "hi", "baseline", "p")}
    return out


def compare_runs(run_a: str | Path, run_b: str | Path) -> list[dict]:
    """Rows of ``{measure, a, b, diff}`` over the union of both runs' headline measures."""
    a, b = headlines(run_a), headlines(run_b)
    rows = []
    for key in list(dict.fromkeys([*a, *b])):
        va = a.get(key, {}).get("value")
        vb = b.get(key, {}).get("value")
        diff = vb - va if isinstance(va, (int, float)) and isinstance(vb, (int, float)) else None
        rows.append({"measure": key, "a": a.get(key), "b": b.get(key), "diff": diff})
    return rows
