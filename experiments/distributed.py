"""Run a study's independent units — one per main model and studied attribute — one after another or as Ray tasks.

A unit is exactly what ``emotion-circuits run STUDY --model M`` does for one attribute: :func:`experiments.pipeline.run_study`
on the study moved to model ``M`` (:meth:`~experiments.study_config.StudyConfig.with_model`) and, for a study with
``[study] attributes``, to one attribute (:meth:`~experiments.study_config.StudyConfig.per_attribute`, its runs under
``<runs root>/<study name>/``), then the run's ``finish`` and its report. On Ray each unit is one task calling the same :func:`run_unit` in a worker process, writing into the same
runs root, so the run folders, their ``done.json`` markers and a later rerun's resume and reuse are those of the
serial path. Ray is optional (``pip install 'emotion-circuits[distributed]'``): local by default with ``workers``
CPUs, or a running cluster by address, whose nodes must share the runs root and have this package installed.

Finer units (emotions, sweep cells, random-control draws) run inside a phase and share its outputs, so they would
need the phases to expose them; a study's models and attributes are independent by construction (separate runs,
separate phase keys).
"""

import os
import platform
import socket
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

from experiments.pipeline import run_study
from experiments.study_config import StudyConfig, validate
from interp.errors import ConfigError, EmotionCircuitsError
from interp.run_context import mark_open_runs_failed

RAY_EXTRA = "pip install 'emotion-circuits[distributed]'"
CONNECT_TIMEOUT_S = 5.0


@dataclass(frozen=True)
class StudyUnit:
    """One independent unit: the study config moved to ``model`` (and one attribute), where its runs go, and the
    notes on what moving it changed."""

    model: str
    cfg: StudyConfig
    subdir: str = ""
    """Folder under the runs root that holds this unit's study folder ("" or, with several attributes, the study name)."""
    attribute: str | None = None
    """The attribute of a study with ``[study] attributes``; None for a single-attribute study."""
    notes: tuple[str, ...] = ()

    @property
    def label(self) -> str:
        return self.model if self.attribute is None else f"{self.model}/{self.attribute}"


@dataclass(frozen=True)
class UnitResult:
    """Where a unit's run lives and how each phase settled (the ``run`` command's summary for one model)."""

    model: str
    attribute: str | None
    run_dir: str
    phases: dict[str, str]
    wall_seconds: float
    report: str
    worker: str
    """``host:pid`` of the process that ran it."""

    def to_dict(self) -> dict:
        return asdict(self)


def study_units(cfg: StudyConfig, models: Sequence[str], *, source: str = "study") -> list[StudyUnit]:
    """The study on each of ``models`` (in order) and each of its attributes, validated as ``run --model`` validates it.

    Raises:
        ConfigError: no models, a model named twice, or a config that is invalid on one of the models.
    """
    if not models:
        raise ConfigError("--models is empty; name at least one model, e.g. --models tiny,smollm2-135m")
    twice = sorted({m for m in models if list(models).count(m) > 1})
    if twice:
        raise ConfigError(f"--models names {', '.join(twice)} more than once; each model is one run of the study")
    units = []
    for m in models:
        moved, notes = cfg.with_model(m)
        validate(moved, source=f"{source} with --model {m}")
        several = bool(moved.study.attributes)
        for attr, sub in moved.per_attribute():
            units.append(StudyUnit(model=m, cfg=sub, subdir=moved.study.name if several else "",
                                   attribute=attr if several else None, notes=tuple(notes)))
    return units


def run_unit(unit: StudyUnit, *, runs_root: Path, resume: bool = True) -> UnitResult:
    """Run one unit to the end in this process: the study's phases, then ``finish`` and ``report.html``.

    A failure is recorded in the run's manifest (as the CLI does for a serial run) and raised again.
    """
    from experiments.report import build_report  # noqa: PLC0415 - heavy (plotting; loaded once per worker)

    try:
        ctx, status = run_study(unit.cfg, runs_root=Path(runs_root) / unit.subdir, resume=resume)
        wall = ctx.finish()
        report = build_report(ctx.path)
    except Exception as exc:
        mark_open_runs_failed(f"{type(exc).__name__}: {exc}")
        raise
    return UnitResult(model=unit.model, attribute=unit.attribute, run_dir=str(ctx.path), phases=dict(status), wall_seconds=wall, report=str(report),
                      worker=f"{platform.node()}:{os.getpid()}")


OnDone = Callable[[UnitResult], None]


def run_serial(units: Sequence[StudyUnit], *, runs_root: Path, resume: bool = True,
               on_done: OnDone | None = None) -> list[UnitResult]:
    """Run the units one after another in this process (the reference the Ray path must match)."""
    out = []
    for u in units:
        out.append(run_unit(u, runs_root=Path(runs_root).resolve(), resume=resume))
        if on_done:
            on_done(out[-1])
    return out


def require_ray():
    """The ``ray`` module, or a ConfigError saying how to install it."""
    try:
        import ray  # noqa: PLC0415 - optional
    except ImportError:
        raise ConfigError(f"--ray needs the Ray package, which is not installed; install it with: {RAY_EXTRA}") from None
    return ray


def check_address(address: str, *, timeout: float = CONNECT_TIMEOUT_S) -> str:
    """``address`` (``HOST:PORT`` or ``ray://HOST:PORT``) once a TCP connection to it succeeds within ``timeout`` s.

    Raises:
        ConfigError: a malformed address, or nothing listening there (before anything is written).
    """
    text = address.strip()
    host, sep, port = text.removeprefix("ray://").rpartition(":")
    if not sep or not host or not port.isdigit():
        raise ConfigError(f"--ray-address {address!r} is not HOST:PORT (e.g. 10.0.0.5:6379, or ray://10.0.0.5:10001 for Ray Client)")
    try:
        with socket.create_connection((host.strip("[]"), int(port)), timeout=timeout):
            pass
    except OSError as exc:
        raise ConfigError(f"cannot reach the Ray cluster at {text}: {exc.strerror or exc}; start one with 'ray start --head' "
                          "or drop --ray-address") from None
    return text


def _start_ray(ray, *, address: str | None, workers: int, timeout: float) -> bool:
    """Connect to ``address`` or start a local Ray with ``workers`` CPUs; True when this call started it."""
    if ray.is_initialized():
        return False
    if address is not None:
        target = check_address(address, timeout=timeout)
        try:
            ray.init(address=target, log_to_driver=False)
        except Exception as exc:  # noqa: BLE001 - any connect failure is one user-facing line
            raise ConfigError(f"cannot reach the Ray cluster at {target}: {str(exc).splitlines()[0][:300] if str(exc) else type(exc).__name__}; "
                              "start one with 'ray start --head' or drop --ray-address") from None
        return True
    # "local": always a fresh instance, never a cluster an earlier `ray start` left in /tmp/ray/ray_current_cluster.
    # Results are a few kilobytes; a small object store keeps a laptop's shared memory free.
    ray.init(address="local", num_cpus=workers, include_dashboard=False, log_to_driver=False, configure_logging=False,
             object_store_memory=128 * 2**20)
    return True


def run_on_ray(units: Sequence[StudyUnit], *, runs_root: Path, resume: bool = True, address: str | None = None,
               workers: int = 2, connect_timeout: float = CONNECT_TIMEOUT_S, on_done: OnDone | None = None) -> list[UnitResult]:
    """Run the units as Ray tasks (one CPU each) and return their results in the units' order.

    Args:
        address: a running cluster (``HOST:PORT``, ``ray://HOST:PORT``); None: a local Ray with ``workers`` CPUs.
        workers: CPUs of the local Ray, i.e. units run at once (ignored with ``address``).
        connect_timeout: seconds to wait for the cluster's port before giving up.
        on_done: told of each unit as it finishes (in finishing order).

    Raises:
        ConfigError: Ray missing, the cluster unreachable (both before any run folder exists), ``workers`` < 1.
        EmotionCircuitsError: the first unit that failed, prefixed with its model, after every unit has settled.
    """
    if workers < 1:
        raise ConfigError(f"--ray-workers must be ≥ 1, got {workers}")
    ray = require_ray()
    root = Path(runs_root).resolve()
    started = _start_ray(ray, address=address, workers=workers, timeout=connect_timeout)
    try:
        task = ray.remote(num_cpus=1, max_retries=0)(run_unit)
        pending = {task.remote(u, runs_root=root, resume=resume): i for i, u in enumerate(units)}
        results: dict[int, UnitResult] = {}
        failures: list[tuple[StudyUnit, BaseException]] = []
        while pending:
            ready, _ = ray.wait(list(pending), num_returns=1)
            i = pending.pop(ready[0])
            try:
                results[i] = ray.get(ready[0])
            except Exception as exc:  # noqa: BLE001 - collected: every other unit still finishes and is kept
                failures.append((units[i], getattr(exc, "cause", None) or exc))
                continue
            if on_done:
                on_done(results[i])
    finally:
        if started:
            ray.shutdown()
    if failures:
        unit, exc = failures[0]
        if isinstance(exc, EmotionCircuitsError):
            raise type(exc)(f"{unit.label}: {exc}") from None
        raise RuntimeError(f"{unit.label}: {type(exc).__name__}: {exc}") from exc
    return [results[i] for i in range(len(units))]

