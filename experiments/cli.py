"""The ``emotion-circuits`` command line: a thin typer shell over the library.

Each module in :mod:`experiments.commands` defines ``register(app)``; they are found
automatically, so adding a command never edits this file. User errors
(:class:`interp.errors.EmotionCircuitsError`) print one line and exit with code 2.
"""

import importlib
import os
import pkgutil
import sys
import warnings

import typer
from rich.markup import escape

from experiments import commands
from experiments.cli_common import GLOBAL_SPLIT, DeviceMapOpt, MaxMemoryOpt, NDevicesOpt, err_console
from interp.errors import EmotionCircuitsError, EmotionCircuitsWarning
from interp.io import write_error
from interp.run_context import forget_open_runs, mark_open_runs_failed

app = typer.Typer(
    name="emotion-circuits",
    help="Find, trace and steer emotion circuits in language models (TransformerLens TransformerBridge).",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode="rich",
)


@app.callback()
def _model_placement(device_map: str | None = DeviceMapOpt, n_devices: int | None = NDevicesOpt, max_memory: str | None = MaxMemoryOpt) -> None:
    """Options before the command split every model it loads over devices (README "Scale")."""
    GLOBAL_SPLIT.update({k: v for k, v in (("device_map", device_map), ("n_devices", n_devices), ("max_memory", max_memory)) if v is not None})


def _register_all() -> None:
    for mod in sorted(pkgutil.iter_modules(commands.__path__), key=lambda m: m.name):
        module = importlib.import_module(f"{commands.__name__}.{mod.name}")
        register = getattr(module, "register", None)
        if register is not None:
            register(app)


_register_all()


def main(argv: list[str] | None = None) -> int:
    """Entry point: run the app, turning user errors into one line and exit code 2."""
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    warnings.filterwarnings("ignore")
    warnings.filterwarnings("always", category=EmotionCircuitsWarning)
    warnings.showwarning = _show_warning
    command = typer.main.get_command(app)
    forget_open_runs()
    GLOBAL_SPLIT.clear()
    try:
        rv = command.main(args=argv, prog_name="emotion-circuits", standalone_mode=False)
    except EmotionCircuitsError as exc:
        _user_error(str(exc))
    except typer.Exit as exc:
        if exc.exit_code:
            mark_open_runs_failed(f"exit code {exc.exit_code}")
        sys.exit(exc.exit_code)
    except (typer.Abort, KeyboardInterrupt):
        err_console.print("interrupted; rerun the same command to resume")
        sys.exit(130)
    except OSError as exc:
        # A full disk, quota, read-only folder or permission failure outside the atomic writers.
        err = write_error(exc, exc.filename or "an output file")
        if err is None:
            mark_open_runs_failed(f"{type(exc).__name__}: {exc}")
            raise
        _user_error(str(err))
    except Exception as exc:
        # typer vendors click; its usage errors carry .show() and .exit_code.
        if hasattr(exc, "show") and hasattr(exc, "exit_code"):
            exc.show()
            sys.exit(exc.exit_code)
        mark_open_runs_failed(f"{type(exc).__name__}: {exc}")
        raise
    sys.exit(rv if isinstance(rv, int) else 0)


def _show_warning(message, category, *args, **kwargs) -> None:
    """Our warnings as one ``warning: …`` line on stderr; every other library's warning stays silent."""
    if issubclass(category, EmotionCircuitsWarning):
        err_console.print(f"warning: {message}", markup=False, highlight=False, soft_wrap=True)


def _user_error(message: str) -> None:
    """Print ``error: message`` on one line, mark this process's unfinished runs failed, exit 2."""
    mark_open_runs_failed(message)
    err_console.print(f"[bold red]error:[/] {escape(message)}", highlight=False, soft_wrap=True)
    sys.exit(2)


if __name__ == "__main__":
    main()
