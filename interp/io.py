"""Atomic file writes: write to a temporary file in the same folder, fsync, rename.

A reader (or a resumed run) therefore sees either the old file or the complete new
one, never a torn write.
"""

import errno
import json
import os
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from interp.errors import StoreError


def ensure_writable_dir(path: str | os.PathLike) -> Path:
    """Create ``path`` (and parents) and check that files can be written in it."""
    p = Path(path)
    if p.exists() and not p.is_dir():
        raise StoreError(f"output folder {str(p)!r} is an existing file; choose a folder path (new or existing) with --out")
    try:
        p.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=p, prefix=".probe-", delete=True):
            pass
    except OSError as exc:
        raise StoreError(
            f"output directory {str(p)!r} is not writable ({exc.strerror or exc}); "
            "choose another folder with --out or fix its permissions"
        ) from None
    return p


WRITE_ERRORS = {errno.ENOSPC: "the disk is full", errno.EDQUOT: "the disk quota is exceeded",
                errno.EROFS: "the file system is read-only", errno.EACCES: "permission denied",
                errno.EPERM: "operation not permitted",
                errno.ENOTDIR: "a parent of the path is a file, not a folder"}


def write_error(exc: OSError, path: str | os.PathLike) -> StoreError | None:
    """A one-line StoreError for a full disk, quota, read-only or permission failure writing ``path``; else None."""
    why = WRITE_ERRORS.get(exc.errno)
    if why is None:
        return None
    return StoreError(f"cannot write {str(path)!r}: {why}; free space or fix permissions (or choose another folder "
                      "with --out / --runs-root), then rerun the same command")


@contextmanager
def atomic_path(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; rename it onto ``path`` if the block succeeds.

    A full disk, quota, read-only folder or permission failure becomes a :class:`StoreError` naming the path.
    """
    target = Path(path)
    tmp_path: Path | None = None
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
        os.close(fd)
        tmp_path = Path(tmp)
        yield tmp_path
        with open(tmp_path, "rb+") as fh:
            os.fsync(fh.fileno())
        os.chmod(tmp_path, 0o666 & ~_UMASK)  # mkstemp makes 0600; give the file a plain new file's mode
        os.replace(tmp_path, target)
    except OSError as exc:
        err = write_error(exc, target)
        if err is None:
            raise
        raise err from None
    finally:
        if tmp_path is not None and tmp_path.exists():
            tmp_path.unlink()


def _read_umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


_UMASK = _read_umask()  # read once at import: os.umask is process-wide, and shards are written from a thread


def atomic_write_bytes(path: str | os.PathLike, data: bytes) -> Path:
    with atomic_path(path) as tmp:
        tmp.write_bytes(data)
    return Path(path)


def atomic_write_text(path: str | os.PathLike, text: str) -> Path:
    return atomic_write_bytes(path, text.encode("utf-8"))


def atomic_write_json(path: str | os.PathLike, obj: Any) -> Path:
    return atomic_write_text(path, json.dumps(obj, indent=2, sort_keys=False, default=_json_default) + "\n")


def atomic_write_with(path: str | os.PathLike, writer: Callable[[Path], None]) -> Path:
    """Call ``writer(tmp_path)`` (e.g. ``safetensors.torch.save_file``) and rename atomically."""
    with atomic_path(path) as tmp:
        writer(tmp)
    return Path(path)


def read_utf8_text(path: str | os.PathLike, what: str, *, error: type[Exception] = StoreError, fix: str = "") -> str:
    """The text of ``path`` (a ``what`` file, e.g. "dataset"); one ``error`` naming it when it is no file or not UTF-8."""
    p = Path(path)
    if not p.is_file():
        raise error(f"{what} file {str(p)!r} does not exist")
    try:
        return p.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise error(f"{what} file {str(p)!r} is not UTF-8 text" + (f"; {fix}" if fix else "")) from None


def read_json(path: str | os.PathLike) -> Any:
    p = Path(path)
    try:
        return json.loads(p.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise StoreError(f"{str(p)!r} does not exist") from None
    except json.JSONDecodeError as exc:
        raise StoreError(f"{str(p)!r} is not valid JSON (line {exc.lineno}: {exc.msg})") from None


def _json_default(obj: Any) -> Any:
    if isinstance(obj, Path):
        return str(obj)
    if hasattr(obj, "tolist"):
        return obj.tolist()
    if hasattr(obj, "item"):
        return obj.item()
    raise TypeError(f"cannot serialise {type(obj).__name__} to JSON")
