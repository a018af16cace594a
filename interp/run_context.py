"""Run folders, manifests, profiles and seeds.

A run is ``runs/<study>/<UTC timestamp>-<short id>/`` holding ``config.json`` (the
resolved config) and ``manifest.json`` (model name + weight hash, dataset hash, package
version, seed, wall time). Every file is written atomically.
"""

import os
import platform
import random
import secrets
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from importlib import metadata
from pathlib import Path

import numpy as np
import torch

from interp.io import atomic_write_json, ensure_writable_dir, read_json

PROFILES = ("baseline", "extended")


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
        """Make ``root/study/<UTC>-<id>/`` (or use ``run_dir``) and write config + manifest."""
        if run_dir is None:
            stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%SZ")
            run_dir = Path(root) / study / f"{stamp}-{secrets.token_hex(3)}"
        path = ensure_writable_dir(run_dir)
        ctx = cls(path=path, study=study, seed=seed, config=config)
        if (path / "manifest.json").exists():
            ctx.manifest = read_json(path / "manifest.json")
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
        return ctx

    def record_model(self, model) -> None:
        from interp.models import model_info

        info = model_info(model)
        self.manifest["models"][info.name] = {"source": info.source, "weight_hash": info.source_hash,
                                              "architecture": info.architecture, "compat_numerics": info.compat_numerics}
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
        return wall

    def save(self) -> None:
        atomic_write_json(self.path / "manifest.json", self.manifest)

    def sub(self, name: str) -> Path:
        """A sub-folder of the run (created)."""
        return ensure_writable_dir(self.path / name)
