"""Sweep cell files that check what they hold: the config key that produced them and a checksum of their rows.

A finished cell is written as ``{"format", "key", "checksum", "rows"}``. On resume a cell file is reused only
when its key equals the key of the cell about to run (model and weight hash, prompts, emotion, direction,
layer, hook, α, scale, positions, the vector's bytes, generation settings, seed, scorers…) and its rows hash
to the stored checksum; otherwise (another setting, a damaged or truncated file) the cell is recomputed and
the file replaced. File names use letters, digits, ``_``, ``-``, ``+``, ``.`` only (valid on Windows too).
"""

import hashlib
import json
import re
from dataclasses import dataclass, field
from pathlib import Path

import torch

from interp.io import atomic_write_text

CELL_FORMAT = 1
_SAFE = re.compile(r"[^A-Za-z0-9_.+-]")


def cell_file_name(emotion: str, direction: str, layer: int, alpha: float, seed: int) -> str:
    """``gratitude__emotion__L9__a+0.5__s0.json``; baseline cells have no layer or α."""
    name = f"{emotion}__{direction}__s{seed}" if direction == "none" else f"{emotion}__{direction}__L{layer}__a{alpha:+g}__s{seed}"
    return _SAFE.sub("_", name) + ".json"


def tensor_hash(t: torch.Tensor) -> str:
    """SHA-256 (first 16 hex digits) of a tensor's float32 bytes."""
    return hashlib.sha256(t.detach().float().cpu().contiguous().numpy().tobytes()).hexdigest()[:16]


def texts_hash(texts) -> str:
    return hashlib.sha256(json.dumps(list(texts)).encode()).hexdigest()[:16]


def rows_checksum(rows: list[dict]) -> str:
    return hashlib.sha256(json.dumps(rows, sort_keys=True, allow_nan=True).encode()).hexdigest()


def _normal(key: dict) -> dict:
    return json.loads(json.dumps(key, sort_keys=True, allow_nan=True))


@dataclass
class CellCache:
    """Reads and writes verified cell files under ``folder`` (``None``: no caching); counts what it reused."""

    folder: Path | None
    reused: int = 0
    computed: int = 0
    rejected: list[str] = field(default_factory=list)

    def load(self, name: str, key: dict) -> list[dict] | None:
        """The cell's rows if its file exists, parses, matches ``key`` and its checksum; else ``None``."""
        if self.folder is None:
            return None
        path = self.folder / name
        if not path.exists():
            return None
        try:
            data = json.loads(path.read_text())
            ok_key = data.get("format") == CELL_FORMAT and data.get("key") == _normal(key)
            ok_sum = ok_key and rows_checksum(data["rows"]) == data.get("checksum")
        except (OSError, ValueError, KeyError, TypeError, AttributeError):
            ok_key = ok_sum = False
        if not ok_sum:
            self.rejected.append(f"{name}: {'checksum mismatch or damaged file' if ok_key else 'config key differs or file unreadable'}")
            return None
        self.reused += 1
        return data["rows"]

    def save(self, name: str, key: dict, rows: list[dict]) -> None:
        self.computed += 1
        if self.folder is None:
            return
        rows = json.loads(json.dumps(rows, allow_nan=True))
        atomic_write_text(self.folder / name, json.dumps({"format": CELL_FORMAT, "key": _normal(key),
                                                          "checksum": rows_checksum(rows), "rows": rows}, allow_nan=True))

    def describe(self) -> dict:
        return {"reused": self.reused, "computed": self.computed, "rejected": self.rejected}
