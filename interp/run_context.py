"""Run folders, manifests, profiles and seeds.

A run is ``runs/<study>/<UTC timestamp>-<short id>/`` holding ``config.json`` (the
resolved config) and ``manifest.json`` (model name + weight hash, dataset hash, package
version, seed, wall time). Every file is written atomically.
"""

import os
import platform
import random
import re
import secrets
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from importlib import metadata
from pathlib import Path

import numpy as np
import torch

from interp.errors import ConfigError
from interp.io import atomic_write_json, ensure_writable_dir, read_json
from interp.models import model_info

PROFILES = ("baseline", "extended")
_NAME_RE = re.compile(r"^[A-Za-z0-9._-]+$")
_OPEN_RUNS: list["RunContext"] = []
"""Runs created in this process and not yet finished; :func:`mark_open_runs_failed` closes them on an error."""


def validate_name(name: str, *, what: str = "study name") -> str:
    """Return ``name`` if it is a safe single folder name: ``[A-Za-z0-9._-]+``, not ``.`` or ``..``.

    Study and run names become folders under the runs root; a separator, an absolute path or ``..``
    would write outside it.
    """
    if not isinstance(name, str) or not _NAME_RE.match(name) or name in (".", "..") or len(name) > 128:
        raise ConfigError(f"{what} {name!r} is not a safe folder name; use only letters, digits, '.', '_' and '-' "
                          "(no '/', no '..', at most 128 characters)")
    return name


def contained(path: str | os.PathLike, root: str | os.PathLike, *, what: str = "path") -> Path:
    """``path`` resolved, after checking it lies under ``root`` (resolved); else a ConfigError naming both."""
    p, r = Path(path).resolve(), Path(root).resolve()
    if not p.is_relative_to(r):
        raise ConfigError(f"{what} {str(path)!r} resolves to {str(p)!r}, outside the runs root {str(r)!r}; "
                          "choose a name without '..' or separators, or another --runs-root")
    return p


def forget_open_runs() -> None:
    """Stop tracking runs opened so far (the CLI calls this as each command starts)."""
    _OPEN_RUNS.clear()


def mark_open_runs_failed(message: str) -> list[Path]:
    """Record ``message`` as the failure of every run this process opened and did not finish; return their folders."""
    out = []
    while _OPEN_RUNS:
        ctx = _OPEN_RUNS.pop()
        try:
            ctx.manifest["failed_utc"] = datetime.now(timezone.utc).isoformat()
            ctx.manifest["error"] = message[:2000]
            ctx.save()
            out.append(ctx.path)
        except Exception:  # noqa: BLE001 - best effort: the original error is what the user must see
            pass
    return out


def set_seed(seed: int) -> None:
    """Seed Python, NumPy and torch (CPU and CUDA) RNGs."""
    random.seed(seed)
    np.random.seed(seed % (2**32))
    torch.manual_seed(seed)


def package_version() -> str:
    try:
        return metadata.version("emotion-circuits")
    except metadata.PackageNotFoundError:
        return "0+unknown"


def library_versions() -> dict[str, str]:
    out = {"python": platform.python_version()}
    for pkg in ("torch", "transformer-lens", "transformers", "numpy"):
        try:
            out[pkg] = metadata.version(pkg)
        except metadata.PackageNotFoundError:
            pass
    return out


@dataclass
class RunContext:
    """One invocation's folder and manifest."""

    path: Path
    study: str
    seed: int
    config: dict
    started: float = field(default_factory=time.time)
    manifest: dict = field(default_factory=dict)

    @classmethod
    def create(cls, study: str, config: dict, *, root: str | Path = "runs", seed: int = 0,
               run_dir: str | Path | None = None) -> "RunContext":
        """Make ``root/study/<UTC>-<id>/`` (or use ``run_dir``) and write config + manifest.

        ``study`` must be a safe folder name (:func:`validate_name`); a ``run_dir`` given explicitly may be
        anywhere the user chooses, a generated one always lies under ``root``.
        """
        validate_name(study)
        if run_dir is None:
            stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%SZ")
            run_dir = contained(Path(root) / study / f"{stamp}-{secrets.token_hex(3)}", root, what=f"run folder of study {study!r}")
        path = ensure_writable_dir(run_dir)
        ctx = cls(path=path, study=study, seed=seed, config=config)
        if (path / "manifest.json").exists():
            ctx.manifest = read_json(path / "manifest.json")
            ctx.manifest.pop("failed_utc", None)  # a resumed run is running again
            ctx.manifest.pop("error", None)
        else:
            ctx.manifest = {
                "study": study,
                "seed": seed,
                "package_version": package_version(),
                "libraries": library_versions(),
                "host": platform.node(),
                "cpu_count": os.cpu_count(),
                "started_utc": datetime.now(timezone.utc).isoformat(),
                "models": {},
                "datasets": {},
                "steps": {},
            }
        atomic_write_json(path / "config.json", config)
        set_seed(seed)
        ctx.save()
        _OPEN_RUNS.append(ctx)
        return ctx

    def record_model(self, model) -> None:
        info = model_info(model)
        self.manifest["models"][info.name] = {"source": info.source, "weight_hash": info.source_hash,
                                              "architecture": info.architecture, "compat_numerics": info.compat_numerics,
                                              "dtype": info.dtype}
        self.save()

    def record_dataset(self, name: str, ds) -> None:
        self.manifest["datasets"][name] = {"source": ds.source, "hash": ds.hash(), "n": len(ds)}
        self.save()

    def record_step(self, name: str, **info) -> None:
        self.manifest["steps"][name] = info
        self.save()

    def finish(self) -> float:
        wall = round(time.time() - self.started, 2)
        self.manifest["wall_seconds"] = wall
        self.manifest["finished_utc"] = datetime.now(timezone.utc).isoformat()
        self.save()
        _OPEN_RUNS[:] = [c for c in _OPEN_RUNS if c is not self]
        return wall

    def save(self) -> None:
        atomic_write_json(self.path / "manifest.json", self.manifest)

    def sub(self, name: str) -> Path:
        """A sub-folder of the run (created); ``name`` may not leave the run folder."""
        return ensure_writable_dir(contained(self.path / name, self.path, what=f"sub-folder {name!r}"))
