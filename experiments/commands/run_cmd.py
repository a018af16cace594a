"""``emotion-circuits run STUDY.toml``: the master plan's phases end to end, with a report."""

import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

from experiments.browser import chromium_path
from experiments.browser import screenshot as take
from experiments.cli_common import JsonOpt, RunsRootOpt, console, emit_json, err_console, parse_str_list, table
from experiments.distributed import UnitResult, run_on_ray, run_serial, study_units
from experiments.pipeline import run_study
from experiments.report import build_report
from experiments.study_config import load_study, validate
from experiments.tracking import log_run
from interp.errors import ConfigError


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
    models: str = typer.Option(None, "--models", help="Run the study on each of these main models (comma-separated), one run "
                               "folder each, as --model would; with --ray they run in parallel."),
    ray: bool = typer.Option(False, "--ray", help="Run each model (and attribute) as a Ray task: local Ray unless --ray-address; "
                             "needs pip install 'emotion-circuits[distributed]'."),
    ray_address: str = typer.Option(None, "--ray-address", help="A running Ray cluster, HOST:PORT or ray://HOST:PORT (implies --ray); "
                                    "its nodes must share --runs-root."),
    ray_workers: int = typer.Option(None, "--ray-workers", min=1, help="CPUs of the local Ray, i.e. units at once (default 2)."),
) -> None:
    """Run the study's phases in order (resuming and reusing finished phases), then write report.html.

    A study with ``[study] attributes = [...]`` runs once per attribute, into ``RUNS_ROOT/<study name>/<attribute>/``.
    ``--models`` runs it once per model; ``--ray`` runs those units as parallel tasks into the same folders.
    """
    if models or ray or ray_address:
        _run_units(study_file, runs_root, model=model, models=models, resume=not new, screenshot=screenshot, json_out=json_out,
                   ray=ray or ray_address is not None, address=ray_address, workers=ray_workers)
        return
    cfg, notes = load_study(study_file).with_model(model) if model else (load_study(study_file), [])
    validate(cfg, source=f"{study_file} with --model {model}")
    for n in notes:
        err_console.print(f"note: {n}", markup=False)
    studies = cfg.per_attribute()
    root = runs_root / cfg.study.name if cfg.study.attributes else runs_root
    summaries = [_run_one(sub, root, new=new, screenshot=screenshot, json_out=json_out) for _, sub in studies]
    if json_out:
        emit_json(summaries[0] if not cfg.study.attributes else {"study": cfg.study.name, "runs": dict(zip(cfg.study.attributes, summaries))})


def _run_one(cfg, runs_root: Path, *, new: bool, screenshot: bool, json_out: bool) -> dict:
    """Run one study (one attribute), write its report, print its table unless ``json_out``; its summary."""
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
    if not json_out:
        console.print(table(f"study {cfg.study.name}", ["phase", "status"], [[k, v] for k, v in status.items()]))
        console.print(f"report: {report}")
        console.print(f"wall time: {wall:.1f} s for the run ({elapsed:.1f} s this invocation)")
    return summary


def _finish_unit(r: UnitResult, runs_root: Path, *, screenshot: bool) -> dict:
    """Screenshot and MLflow for one finished unit, here in the driver (when its run folder is visible here)."""
    row, run_dir = r.to_dict(), Path(r.run_dir)
    row["screenshot"] = row["mlflow_run_id"] = None
    if not run_dir.exists():
        return row
    if screenshot and chromium_path():
        row["screenshot"] = str(take(Path(r.report), run_dir / "report.png"))
    try:
        row["mlflow_run_id"] = log_run(run_dir, runs_root=runs_root)
    except Exception as exc:  # noqa: BLE001 - tracking is optional: the run is complete and saved either way
        err_console.print(f"warning: MLflow logging failed ({type(exc).__name__}: {exc}); the run itself is complete", markup=False)
    return row


def _run_units(study_file: Path, runs_root: Path, *, model: str | None, models: str | None, resume: bool, screenshot: bool,
               json_out: bool, ray: bool, address: str | None, workers: int | None) -> None:
    """``run --models`` / ``--ray``: the study per model and attribute (:mod:`experiments.distributed`), serially or on Ray."""
    if model and models:
        raise ConfigError("give --model or --models, not both (--models a,b runs the study once per model)")
    if address is not None and workers is not None:
        raise ConfigError("--ray-workers sizes a local Ray; a cluster given by --ray-address brings its own workers")
    base = load_study(study_file)
    units = study_units(base, parse_str_list(models) or [model or base.study.model], source=str(study_file))
    for n in dict.fromkeys(f"{u.model}: {n}" for u in units for n in u.notes):
        err_console.print(f"note: {n}", markup=False)

    def on_done(r: UnitResult) -> None:
        if not json_out:
            err_console.print(f"{r.model}{'/' + r.attribute if r.attribute else ''}: {r.run_dir} ({r.wall_seconds:.1f} s on {r.worker})",
                              markup=False)

    t0 = time.perf_counter()
    if ray:
        results = run_on_ray(units, runs_root=runs_root, resume=resume, address=address, workers=workers or 2, on_done=on_done)
    else:
        results = run_serial(units, runs_root=runs_root, resume=resume, on_done=on_done)
    rows = [_finish_unit(r, runs_root / u.subdir, screenshot=screenshot) for u, r in zip(units, results)]
    elapsed = round(time.perf_counter() - t0, 1)
    where = (address or f"local Ray, {workers or 2} workers") if ray else None
    if json_out:
        emit_json({"runs": rows, "this_invocation_seconds": elapsed, "ray": where})
        return
    for u, r in zip(units, results):
        console.print(table(f"study {u.label}", ["phase", "status"], [[k, v] for k, v in r.phases.items()]))
        console.print(f"report: {r.report}")
    console.print(f"{len(results)} run(s) in {elapsed:.1f} s" + (f" on {where}" if where else ""))


def register(app: typer.Typer) -> None:
    app.command("run")(run)
