"""Helpers shared by CLI commands: consoles, --json output, list parsing, progress, model loading."""

import json
import math
import os
import re
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn, TimeRemainingColumn
from rich.table import Table

from circuits.heads import Head, parse_heads, screened_heads, validate_heads
from interp.attributes import default_data
from interp.errors import ConfigError, EmotionCircuitsError
from interp.models import dtype_name, load_model, parse_dtype
from interp.placement import check_device, parse_device_map, parse_max_memory
from interp.registry import DEFAULT_MODEL

_RANGE_RE = re.compile(r"^(-?\d+)(?:-(-?\d+))?$")


def _console(*, stderr: bool = False) -> Console:
    """A rich console that does not cut tables at 80 columns when its stream is not a terminal (pipes, files, CI)."""
    stream = sys.stderr if stderr else sys.stdout
    tty = hasattr(stream, "isatty") and stream.isatty()
    return Console(stderr=stderr, width=None if tty else 10_000)


console = _console()
err_console = _console(stderr=True)

ModelOpt = typer.Option(DEFAULT_MODEL, "--model", "-m", help="Known model name or local model directory.")
ProfileOpt = typer.Option("baseline", "--profile", "-p", help="Dataset profile (baseline, extended) or a JSONL/CSV file.")
HeadsOpt = typer.Option(None, "--heads", help="Heads like 'L3H1,L5H0' (or '3.1,5.0').")
ScreeningOpt = typer.Option(None, "--screening", help="screening.json (or its run folder) from screen-heads; its top heads are used.")
DEFAULT_LABEL = default_data().contrast_labels[0]
"""The label commands use unless told (the registry's first contrast label of the default attribute: ``gratitude``)."""
EmotionOpt = typer.Option(DEFAULT_LABEL, "--emotion", "-e", help="Emotion whose sentences/words are used.")
GenerateOpt = typer.Option(0, "--generate", min=0, help="Also score greedy continuations of this many prompts (0 = logit metric only).")
MaxNewTokensOpt = typer.Option(20, "--max-new-tokens", min=1, help="Tokens per continuation with --generate.")
JsonOpt = typer.Option(False, "--json", help="Print a machine-readable JSON summary on stdout instead of tables.")
RunsRootOpt = typer.Option(Path("runs"), "--runs-root", envvar="EMOTION_CIRCUITS_RUNS_ROOT",
                           help="Folder under which run directories are created (env EMOTION_CIRCUITS_RUNS_ROOT).")
SeedOpt = typer.Option(0, "--seed", help="Global random seed (Python, NumPy, torch).")


def _check_device_opt(value: str | None) -> str | None:
    """Refuse a ``--device`` this machine lacks while the arguments are parsed (before a run folder exists)."""
    return value if value in (None, "auto") else check_device(value, name="--device")


DeviceOpt = typer.Option(None, "--device", callback=_check_device_opt,
                         help="torch device: cpu, cuda, cuda:1, … (default: auto, cuda if available, else cpu).")

# Splitting one model over several devices (interp.placement). Every command that loads a model through
# load_model_cli honours the environment variables below; commands that declare these options take them as flags.
DEVICE_MAP_ENV, N_DEVICES_ENV, MAX_MEMORY_ENV = "EMOTION_CIRCUITS_DEVICE_MAP", "EMOTION_CIRCUITS_N_DEVICES", "EMOTION_CIRCUITS_MAX_MEMORY"


def _check_device_map_opt(value: str | None) -> str | None:
    if value is not None:
        parse_device_map(value)
    return value


def _check_max_memory_opt(value: str | None) -> str | None:
    if value is not None:
        parse_max_memory(value)
    return value


DeviceMapOpt = typer.Option(None, "--device-map", envvar=DEVICE_MAP_ENV, callback=_check_device_map_opt,
                            help="Split the model over devices: auto | balanced | sequential (GPUs), or a JSON object / .json file "
                                 "of module name → device (0, cuda:1, cpu, disk). Instead of --device.")
NDevicesOpt = typer.Option(None, "--n-devices", envvar=N_DEVICES_ENV, min=1, help="Split the model evenly over GPUs 0..N-1.")
MaxMemoryOpt = typer.Option(None, "--max-memory", envvar=MAX_MEMORY_ENV, callback=_check_max_memory_opt,
                            help="Per-device budget of a split, e.g. '0=20GiB,1=20GiB,cpu=64GiB'.")


def _check_dtype(value: str) -> str:
    """Refuse a bad ``--dtype`` while the arguments are parsed (before a run folder exists); keep its canonical name."""
    return dtype_name(parse_dtype(value, name="--dtype"))


DtypeOpt = typer.Option("float32", "--dtype", callback=_check_dtype,
                        help="Model parameter dtype: float32, bfloat16 or float16 (also fp32, bf16, fp16).")


def emit_json(obj: Any) -> None:
    """Write ``obj`` as JSON to stdout (NaN/inf become null)."""
    sys.stdout.write(json.dumps(_clean(obj), indent=2, default=_default) + "\n")


def _clean(obj: Any) -> Any:
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    if isinstance(obj, dict):
        return {str(k): _clean(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_clean(v) for v in obj]
    return obj


def _default(obj: Any) -> Any:
    if isinstance(obj, Path):
        return str(obj)
    if hasattr(obj, "tolist"):
        return _clean(obj.tolist())
    if hasattr(obj, "to_dict"):
        return _clean(obj.to_dict())
    return str(obj)


def table(title: str, columns: list[str], rows: list[list[Any]]) -> Table:
    t = Table(title=title, title_justify="left")
    for c in columns:
        t.add_column(c)
    for r in rows:
        t.add_row(*[fmt(v) for v in r])
    return t


def fmt(v: Any) -> str:
    if isinstance(v, float):
        return f"{v:.4g}"
    return str(v)


def parse_int_list(text: str | None, *, name: str, default: list[int] | None = None, minimum: int | None = 0) -> list[int] | None:
    """Parse ``"0,3,5-9"`` into ``[0, 3, 5, 6, 7, 8, 9]``; raise a ConfigError naming ``name``.

    Values below ``minimum`` (default 0) are refused: ``--layers -1`` is an error, not "the last layer"
    (layers count from 0; name the last one by its number). A range must ascend (``5-2`` is an error).
    """
    if text is None or text == "":
        return default
    out: list[int] = []
    for part in (p.strip() for p in text.split(",")):
        if not part:
            continue
        m = _RANGE_RE.match(part)
        if m is None:
            raise ConfigError(f"{name} must be integers or ranges like '0,3,5-9', got {text!r}")
        a, b = int(m.group(1)), int(m.group(2) or m.group(1))
        if minimum is not None and min(a, b) < minimum:
            raise ConfigError(f"{name} value {min(a, b)} in {text!r} is below {minimum}; negative indices are not supported, "
                              f"count from {minimum} (e.g. the last of 30 layers is 29)")
        if b < a:
            raise ConfigError(f"{name} range {part!r} is descending; write it low-high, e.g. '{b}-{a}'")
        out.extend(range(a, b + 1))
    if not out:
        raise ConfigError(f"{name} is empty ({text!r}); give integers or ranges like '0,3,5-9'")
    return out


def parse_float_list(text: str | None, *, name: str, default: list[float] | None = None) -> list[float] | None:
    """Parse ``"-2,-1,0,1"`` into floats; reject NaN/inf with a ConfigError naming ``name``."""
    if text is None or text == "":
        return default
    try:
        vals = [float(p) for p in text.split(",") if p.strip()]
    except ValueError:
        raise ConfigError(f"{name} must be numbers like '-1,0,0.5,1', got {text!r}") from None
    bad = [v for v in vals if not math.isfinite(v)]
    if bad:
        raise ConfigError(f"{name} contains {bad[0]}; every value must be a finite number")
    return vals


def parse_str_list(text: str | None, *, default: list[str] | None = None) -> list[str] | None:
    if text is None or text == "":
        return default
    return [p.strip() for p in text.split(",") if p.strip()]


@contextmanager
def progress_bar(description: str, total: int, *, quiet: bool = False) -> Iterator:
    """A rich progress bar on stderr; yields ``advance_to(done)``."""
    if quiet:
        yield lambda done, total=None: None
        return
    with Progress(
        SpinnerColumn(), TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
        TimeElapsedColumn(), TimeRemainingColumn(), console=err_console, transient=False,
    ) as prog:
        task = prog.add_task(description, total=total)

        def update(done: int, total_: int | None = None) -> None:
            prog.update(task, completed=done, total=total_ or total)

        yield update


GLOBAL_SPLIT: dict = {}
"""The top-level ``emotion-circuits --device-map/--n-devices/--max-memory`` values of this invocation (set by the app
callback in :mod:`experiments.cli`, cleared by ``main``): every command that loads a model through :func:`load_model_cli`
splits it so."""


def placement_from_env(device_map: str | None = None, n_devices: int | None = None, max_memory: str | None = None) -> dict:
    """The split options given, else the top-level options (:data:`GLOBAL_SPLIT`), else ``$EMOTION_CIRCUITS_DEVICE_MAP`` /
    ``_N_DEVICES`` / ``_MAX_MEMORY``, as :func:`interp.models.load_model` keywords."""
    device_map = device_map if device_map is not None else GLOBAL_SPLIT.get("device_map")
    n_devices = n_devices if n_devices is not None else GLOBAL_SPLIT.get("n_devices")
    max_memory = max_memory if max_memory is not None else GLOBAL_SPLIT.get("max_memory")
    env_n = os.environ.get(N_DEVICES_ENV, "").strip()
    if n_devices is None and env_n:
        if not env_n.isdigit():
            raise ConfigError(f"{N_DEVICES_ENV} is {env_n!r}; set it to a whole number of GPUs, e.g. 2")
        n_devices = int(env_n)
    return {"device_map": device_map if device_map is not None else os.environ.get(DEVICE_MAP_ENV) or None,
            "n_devices": n_devices, "max_memory": max_memory if max_memory is not None else os.environ.get(MAX_MEMORY_ENV) or None}


def load_model_cli(name: str, device: str | None = None, dtype: str = "float32", *, quiet: bool = False,
                   device_map: str | None = None, n_devices: int | None = None, max_memory: str | None = None):
    """Load a model (``dtype`` by name, see :func:`interp.models.parse_dtype`) with a spinner on stderr.

    ``device_map`` / ``n_devices`` / ``max_memory`` split it over devices (:func:`interp.placement.resolve_placement`);
    each defaults to its environment variable (:func:`placement_from_env`).
    """
    dt = parse_dtype(dtype, name="--dtype")
    split = placement_from_env(device_map, n_devices, max_memory)
    if quiet:
        return load_model(name, device=device, dtype=dt, **split)
    with err_console.status(f"loading model {name} …"):
        model = load_model(name, device=device, dtype=dt, **split)
    info = model.ec_info
    where = f" over {info.n_devices} devices" if info.n_devices > 1 else ""
    err_console.print(f"loaded {info.name} ({info.n_layers} layers, d_model {info.d_model}, {info.dtype}){where} in "
                      f"{info.load_seconds:.1f} s" + (" from cache" if info.from_cache else ""))
    return model


def fail(message: str) -> None:
    """Raise a user error from a command."""
    raise EmotionCircuitsError(message)


def show_report(report, run_dir: Path, *, json_out: bool, **paths: Path) -> None:
    """Print an :class:`~interp.report_types.AnalysisReport`'s headline and tables (rich), or with ``--json`` its
    summary (``text``, ``headline`` rows, ``tables``) with ``run_dir``, ``results`` and the named ``paths``."""
    files = {"run_dir": str(run_dir), "results": str(Path(run_dir) / "results.json"), **{k: str(v) for k, v in paths.items()}}
    if json_out:
        emit_json({**files, **report.summary()})
        return
    console.print(table("headline", ["number", "baseline", "note"], [[str(h), h.baseline or "", h.note or ""] for h in report.headline()]))
    for t in report.tables():
        console.print(table(t.title, t.columns, t.rows))
    console.print(f"results: {run_dir}")


def chosen_heads(model, heads: str | None, screening, emotions: list[str], k: int) -> list[Head]:
    """``--heads`` checked against ``model``, else the top-``k`` heads per emotion of the loaded ``--screening``
    (a :class:`~circuits.head_screening.ScreeningResult`); neither: one error line saying what to give."""
    if heads:
        return validate_heads(model, parse_heads(heads))
    if screening is None:
        fail("give --heads (e.g. 'L3H1,L5H0') or --screening <screening.json from screen-heads>")
    return screened_heads(model, screening, emotions, k)
