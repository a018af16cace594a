"""``emotion-circuits runs list|compare`` and ``emotion-circuits report RUN_DIR``."""

from pathlib import Path

import typer

from experiments.browser import chromium_path
from experiments.browser import screenshot as take
from experiments.cli_common import JsonOpt, RunsRootOpt, console, emit_json, table
from experiments.report import build_report
from experiments.runs import compare_runs, list_runs

runs_app = typer.Typer(help="List runs and compare their headline numbers.", no_args_is_help=True)


@runs_app.command("list")
def list_cmd(runs_root: Path = RunsRootOpt, json_out: bool = JsonOpt) -> None:
    """Every run under the runs root, newest first."""
    runs = list_runs(runs_root)
    if json_out:
        emit_json([r.to_dict() for r in runs])
        return
    console.print(table(f"runs under {runs_root}", ["run", "study", "started", "wall s", "models", "steps", "status"],
                        [[str(r.path), r.study, r.started[:19], r.wall_seconds, ", ".join(r.models), len(r.phases),
                          r.status + (f": {r.error[:80]}" if r.error else "")] for r in runs]))


@runs_app.command("compare")
def compare_cmd(run_a: Path = typer.Argument(..., help="First run folder."),
                run_b: Path = typer.Argument(..., help="Second run folder."), json_out: bool = JsonOpt) -> None:
    """Headline numbers of two runs side by side (value [CI]) with their difference."""
    rows = compare_runs(run_a, run_b)
    if json_out:
        emit_json(rows)
        return

    def cell(x):
        if not x or x.get("value") is None:
            return "—"
        ci = f" [{x['lo']:.3g}, {x['hi']:.3g}]" if isinstance(x.get("lo"), (int, float)) and isinstance(x.get("hi"), (int, float)) else ""
        return f"{x['value']:.4g}{ci}" if isinstance(x["value"], (int, float)) else str(x["value"])

    console.print(table(f"{run_a.name} vs {run_b.name}", ["measure", "A", "B", "B − A"],
                        [[r["measure"], cell(r["a"]), cell(r["b"]), r["diff"] if r["diff"] is not None else "—"] for r in rows]))


def report_cmd(run_dir: Path = typer.Argument(..., help="A run folder (runs/<study>/<time>-<id>)."),
               screenshot: bool = typer.Option(False, "--screenshot", help="Also save report.png with headless Chromium (if installed)."),
               json_out: bool = JsonOpt) -> None:
    """Rebuild the self-contained report.html of a run from its stored results."""
    path = build_report(run_dir)
    shot = None
    if screenshot:
        if chromium_path():
            shot = str(take(path, Path(run_dir) / "report.png"))
    if json_out:
        emit_json({"report": str(path), "bytes": path.stat().st_size, "screenshot": shot})
    else:
        console.print(f"report: {path}" + (f"\nscreenshot: {shot}" if shot else ""))


def register(app: typer.Typer) -> None:
    app.add_typer(runs_app, name="runs")
    app.command("report")(report_cmd)
