"""Checks that a file on disk is the one that was written: size, SHA-256, safetensors header.

Resumed and reused work (activation shards, study phase folders) records these when it is
written and verifies them before it is trusted; anything that does not verify is recomputed.
"""

import hashlib
import json
import os
import struct
from pathlib import Path

_CHUNK = 1 << 22


def sha256_file(path: str | os.PathLike) -> str:
    """Hex SHA-256 of a file's bytes."""
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        while chunk := fh.read(_CHUNK):
            h.update(chunk)
    return h.hexdigest()


def file_record(path: str | os.PathLike) -> dict:
    """``{"bytes", "sha256"}`` of a file."""
    return {"bytes": os.path.getsize(path), "sha256": sha256_file(path)}


def safetensors_problem(path: str | os.PathLike, *, expected_metadata: dict[str, str] | None = None) -> str | None:
    """Why ``path`` is not a whole safetensors file (or lacks ``expected_metadata``), or None if it is.

    Checks the 8-byte header length, that the JSON header parses, and that the file is exactly as
    long as the header's last tensor offset says: a truncated or padded file fails.
    """
    p = Path(path)
    try:
        size = p.stat().st_size
        with open(p, "rb") as fh:
            raw = fh.read(8)
            if len(raw) < 8:
                return f"{size} bytes, shorter than a safetensors header"
            (n,) = struct.unpack("<Q", raw)
            if n > size - 8:
                return f"header length {n} exceeds the file's {size} bytes"
            header = json.loads(fh.read(n))
    except FileNotFoundError:
        return "missing"
    except (OSError, ValueError) as exc:
        return f"unreadable header ({type(exc).__name__})"
    ends = [int(v["data_offsets"][1]) for k, v in header.items() if k != "__metadata__"]
    if 8 + n + max(ends, default=0) != size:
        return f"{size} bytes, but its header describes {8 + n + max(ends, default=0)} (truncated or damaged)"
    meta = header.get("__metadata__") or {}
    for k, v in (expected_metadata or {}).items():
        if meta.get(k) != v:
            return f"written for another config ({k} {meta.get(k)!r}, expected {v!r})"
    return None


def tree_records(folder: str | os.PathLike, *, exclude: tuple[str, ...] = ()) -> dict[str, dict]:
    """``{relative path: file_record}`` of every regular file under ``folder`` (hidden temp files and ``exclude`` skipped)."""
    root = Path(folder)
    out = {}
    for p in sorted(root.rglob("*")):
        rel = p.relative_to(root).as_posix()
        if p.is_file() and not p.name.startswith(".") and rel not in exclude:
            out[rel] = file_record(p)
    return out


def tree_problem(folder: str | os.PathLike, records: dict[str, dict]) -> str | None:
    """The first file of ``records`` under ``folder`` that is missing or differs (size, then SHA-256), or None."""
    root = Path(folder)
    for rel, rec in records.items():
        p = root / rel
        if not p.is_file():
            return f"{rel} is missing"
        if p.stat().st_size != rec.get("bytes"):
            return f"{rel} has {p.stat().st_size} bytes, {rec.get('bytes')} were written"
    for rel, rec in records.items():
        if sha256_file(root / rel) != rec.get("sha256"):
            return f"{rel} differs from what was written (SHA-256)"
    return None
