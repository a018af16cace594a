"""``emotion-circuits run STUDY.toml``: the master plan's phases end to end, with a report."""

import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

from experiments.browser import chromium_path
from experiments.browser import screenshot as take
from experiments.cli_common import JsonOpt, RunsRootOpt, console, emit_json, err_console, table
from experiments.pipeline import run_study
from experiments.report import build_report
from experiments.study_config import load_study, validate
from experiments.tracking import log_run


@contextmanager
def study_progress(study: str, *, quiet: bool = False) -> Iterator[tuple]:
    """Rich bars on stderr for :func:`experiments.pipeline.run_study`: one for the study, one per phase being computed.

    Yields its ``(on_phase, on_progress)`` callbacks (``experiments.pipeline.OnPhase``, ``OnProgress``);
    the display starts with the first phase, once the run folder and dataset are ready.
    """
    columns = [SpinnerColumn(), TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn()]
    prog = Progress(*columns, console=err_console, disable=quiet)
    tasks = {}  # None: the study's bar; a phase name: that phase's bar

    def on_phase(phase: str, index: int, n: int, status: str | None) -> None:
        if None not in tasks:
            prog.start()
            tasks[None] = prog.add_task(f"study {study}", total=n)
        if status is None:
            return
        if phase in tasks:
            prog.update(tasks[phase], completed=prog.tasks[tasks[phase]].total or 1, visible=False)
        prog.update(tasks[None], completed=index + 1)

    def on_progress(phase: str, done: int, total: int) -> None:
        if phase not in tasks:
            tasks[phase] = prog.add_task(f"  {phase}", total=1)
        prog.update(tasks[phase], completed=done, total=max(total, 1))

    try:
        yield on_phase, on_progress
    finally:
        if None in tasks:  # started: stop it (a display never started prints nothing, as before)
            prog.stop()


def run(
    study_file: Path = typer.Argument(..., help="Study TOML (see studies/)."),
    runs_root: Path = RunsRootOpt,
    model: str = typer.Option(None, "--model", "-m", help="Run the study on this main model instead of its [study] model "
                              "(sweep layers move to the same relative depth; see StudyConfig.with_model)."),
    new: bool = typer.Option(False, "--new", help="Start a new run instead of resuming an unfinished one with the same config."),
    screenshot: bool = typer.Option(True, "--screenshot/--no-screenshot", help="Save report.png with headless Chromium when installed."),
    json_out: bool = JsonOpt,
) -> None:
    """Run the study's phases in order (resuming and reusing finished phases), then write report.html."""
    cfg, notes = load_study(study_file).with_model(model) if model else (load_study(study_file), [])
    validate(cfg, source=f"{study_file} with --model {model}")
    for n in notes:
        err_console.print(f"note: {n}", markup=False)
    t0 = time.perf_counter()
    with study_progress(cfg.study.name, quiet=json_out) as (on_phase, on_progress):
        ctx, status = run_study(cfg, runs_root=runs_root, resume=not new, on_phase=on_phase, on_progress=on_progress)
    wall = ctx.finish()
    report = build_report(ctx.path)
    shot = None
    if screenshot:
        if chromium_path():
            shot = str(take(report, ctx.path / "report.png"))
    try:
        mlflow_id = log_run(ctx.path, runs_root=runs_root)
    except Exception as exc:  # noqa: BLE001 - tracking is optional: the run is complete and saved either way
        mlflow_id = None
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
