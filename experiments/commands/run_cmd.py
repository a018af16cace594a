"""``emotion-circuits run STUDY.toml``: the master plan's phases end to end, with a report."""

import time
from pathlib import Path

import typer

from experiments.cli_common import JsonOpt, RunsRootOpt, console, emit_json, table


def run(
    study_file: Path = typer.Argument(..., help="Study TOML (see studies/)."),
    runs_root: Path = RunsRootOpt,
    new: bool = typer.Option(False, "--new", help="Start a new run instead of resuming an unfinished one with the same config."),
    screenshot: bool = typer.Option(True, "--screenshot/--no-screenshot", help="Save report.png with headless Chromium when installed."),
    json_out: bool = JsonOpt,
) -> None:
    """Run the study's phases in order (resuming and reusing finished phases), then write report.html."""
    from experiments.study_config import load_study

    cfg = load_study(study_file)
    from experiments.phases import PHASE_FUNCTIONS
    from experiments.pipeline import run_study
    from experiments.report import build_report
    from experiments.tracking import log_run

    t0 = time.perf_counter()
    ctx, status = run_study(cfg, runs_root=runs_root, phases=PHASE_FUNCTIONS, resume=not new, quiet=json_out)
    wall = ctx.finish()
    report = build_report(ctx.path)
    shot = None
    if screenshot:
        from experiments.browser import chromium_path, screenshot as take

        if chromium_path():
            shot = str(take(report, ctx.path / "report.png"))
    try:
        mlflow_id = log_run(ctx.path, runs_root=runs_root)
    except Exception as exc:  # noqa: BLE001 - tracking is optional: the run is complete and saved either way
        mlflow_id = None
        from experiments.cli_common import err_console

        err_console.print(f"warning: MLflow logging failed ({type(exc).__name__}: {exc}); the run itself is complete", markup=False)
    elapsed = round(time.perf_counter() - t0, 1)
    summary = {"run_dir": str(ctx.path), "report": str(report), "screenshot": shot, "wall_seconds": wall,
               "this_invocation_seconds": elapsed, "phases": status, "mlflow_run_id": mlflow_id}
    if json_out:
        emit_json(summary)
        return
    console.print(table(f"study {cfg.study.name}", ["phase", "status"], [[k, v] for k, v in status.items()]))
    console.print(f"report: {report}")
    console.print(f"wall time: {wall:.1f} s for the run ({elapsed:.1f} s this invocation)")


def register(app: typer.Typer) -> None:
    app.command("run")(run)
