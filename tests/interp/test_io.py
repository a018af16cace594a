"""interp.io: a write lands complete or not at all, leaves no temporary files, and turns OS failures into StoreError."""

import errno
import json
import os
import tempfile
from pathlib import Path

import numpy as np
import pytest
import torch

import interp.io as io_mod
from interp.errors import EmotionCircuitsError, StoreError
from interp.io import (
    atomic_path,
    atomic_write_bytes,
    atomic_write_json,
    atomic_write_text,
    atomic_write_with,
    ensure_writable_dir,
    read_json,
    write_error,
)


def _names(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir())


def _plain_file_mode() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return 0o666 & ~mask


def test_atomic_write_json_round_trips_and_leaves_only_the_target(tmp_path):
    obj = {"name": "grätitude ✓", "n": 3, "x": [1.5, None, True], "nested": {"a": []}}
    path = atomic_write_json(tmp_path / "sub" / "dir" / "m.json", obj)
    assert path == tmp_path / "sub" / "dir" / "m.json"
    assert read_json(path) == obj == json.loads(path.read_text(encoding="utf-8"))
    assert path.read_text(encoding="utf-8").endswith("}\n")
    assert _names(path.parent) == ["m.json"], "no temporary file is left beside the target"
    assert path.stat().st_mode & 0o777 == _plain_file_mode(), "mode of a plain new file, not mkstemp's 0600"


def test_atomic_write_json_serialises_paths_arrays_tensors_and_scalars(tmp_path):
    obj = {"p": Path("/a/b"), "arr": np.arange(3), "t": torch.tensor([[1.0, 2.0]]), "s": np.float32(0.5), "i": np.int64(7)}
    assert read_json(atomic_write_json(tmp_path / "x.json", obj)) == {"p": "/a/b", "arr": [0, 1, 2], "t": [[1.0, 2.0]],
                                                                      "s": 0.5, "i": 7}


def test_unserialisable_object_raises_and_keeps_the_old_file(tmp_path):
    target = tmp_path / "m.json"
    atomic_write_json(target, {"v": 1})
    with pytest.raises(TypeError, match="cannot serialise object"):
        atomic_write_json(target, {"v": 2, "bad": object()})
    assert read_json(target) == {"v": 1} and _names(tmp_path) == ["m.json"]


def test_atomic_write_text_and_bytes_overwrite_whole_file(tmp_path):
    target = tmp_path / "t.txt"
    atomic_write_text(target, "a much longer first version\n" * 10)
    atomic_write_text(target, "κόσμε\n")
    assert target.read_bytes() == "κόσμε\n".encode("utf-8")  # UTF-8, and no tail of the longer old content
    atomic_write_bytes(target, b"\x00\xff")
    assert target.read_bytes() == b"\x00\xff" and _names(tmp_path) == ["t.txt"]


def test_target_is_untouched_until_the_block_succeeds(tmp_path):
    target = tmp_path / "data.bin"
    target.write_bytes(b"old")
    with atomic_path(target) as tmp:
        assert tmp.parent == tmp_path and tmp != target and tmp.name.endswith(".tmp") and tmp.name.startswith(".data.bin.")
        tmp.write_bytes(b"new, half writ")
        assert target.read_bytes() == b"old", "a reader sees the old file while the new one is being written"
        tmp.write_bytes(b"new, complete")
    assert target.read_bytes() == b"new, complete" and _names(tmp_path) == ["data.bin"]


def test_failing_block_leaves_old_file_or_nothing_and_no_temporary(tmp_path):
    old = tmp_path / "old.json"
    old.write_text('{"v": 1}')
    with pytest.raises(RuntimeError, match="crash"):
        with atomic_path(old) as tmp:
            tmp.write_text('{"v": 2, "tr')  # torn write, then the writer dies
            raise RuntimeError("crash")
    assert read_json(old) == {"v": 1}
    new = tmp_path / "new.json"
    with pytest.raises(RuntimeError):
        with atomic_path(new) as tmp:
            tmp.write_text("{")
            raise RuntimeError("crash")
    assert not new.exists() and _names(tmp_path) == ["old.json"]


def test_atomic_write_with_writer_round_trips_safetensors(tmp_path):
    from safetensors.torch import load_file, save_file

    t = {"w": torch.arange(6.0).reshape(2, 3)}
    path = atomic_write_with(tmp_path / "v.safetensors", lambda p: save_file(t, str(p)))
    torch.testing.assert_close(load_file(str(path))["w"], t["w"], rtol=0, atol=0)

    def broken(p):
        p.write_bytes(b"partial")
        raise ValueError("writer failed")

    with pytest.raises(ValueError):
        atomic_write_with(tmp_path / "w.safetensors", broken)
    assert _names(tmp_path) == ["v.safetensors"]


@pytest.mark.parametrize("code, why", [(errno.ENOSPC, "the disk is full"), (errno.EDQUOT, "quota"),
                                       (errno.EROFS, "read-only"), (errno.EACCES, "permission denied"),
                                       (errno.EPERM, "not permitted"),
                                       (errno.ENOTDIR, "not a folder")])
def test_write_failures_become_one_store_error_naming_the_path(tmp_path, code, why):
    target = tmp_path / "out" / "m.json"

    def full_disk(p):
        p.write_bytes(b"x" * 10)
        raise OSError(code, os.strerror(code))

    with pytest.raises(StoreError) as exc:
        atomic_write_with(target, full_disk)
    msg = str(exc.value)
    assert why in msg and repr(str(target)) in msg and "rerun" in msg and "\n" not in msg
    assert exc.value.__cause__ is None and exc.value.__suppress_context__, "no chained traceback for a user error"
    assert not target.exists() and _names(target.parent) == [], "the temporary file is removed"


def test_rename_failure_is_a_store_error_and_cleans_up(tmp_path, monkeypatch):
    def refuse(src, dst):
        raise PermissionError(errno.EACCES, "Permission denied")

    monkeypatch.setattr(io_mod.os, "replace", refuse)
    with pytest.raises(StoreError, match="permission denied"):
        atomic_write_json(tmp_path / "m.json", {"a": 1})
    assert _names(tmp_path) == []


def test_unmapped_os_errors_propagate_unchanged(tmp_path):
    def io_error(p):
        raise OSError(errno.EIO, "Input/output error")

    with pytest.raises(OSError) as exc:
        atomic_write_with(tmp_path / "m.bin", io_error)
    assert not isinstance(exc.value, EmotionCircuitsError) and exc.value.errno == errno.EIO
    assert _names(tmp_path) == []


def test_write_error_maps_known_errnos_only():
    err = write_error(OSError(errno.ENOSPC, "No space left"), "/x/y.json")
    assert isinstance(err, StoreError) and "'/x/y.json'" in str(err) and "disk is full" in str(err)
    assert write_error(OSError(errno.EIO, "I/O"), "/x") is None
    assert write_error(OSError("no errno"), "/x") is None


@pytest.mark.skipif(hasattr(os, "geteuid") and os.geteuid() == 0, reason="root ignores folder permissions")
def test_real_read_only_folder_is_a_store_error(tmp_path):
    ro = tmp_path / "ro"
    ro.mkdir()
    ro.chmod(0o500)
    try:
        with pytest.raises(StoreError, match="permission denied"):
            atomic_write_json(ro / "m.json", {})
        with pytest.raises(StoreError, match="not writable"):
            ensure_writable_dir(ro)
    finally:
        ro.chmod(0o700)


def test_ensure_writable_dir_creates_nested_folders_and_leaves_no_probe(tmp_path):
    p = ensure_writable_dir(tmp_path / "a" / "b" / "c")
    assert p == tmp_path / "a" / "b" / "c" and p.is_dir() and _names(p) == []
    assert ensure_writable_dir(str(p)) == p  # existing folder is fine; str accepted


def test_ensure_writable_dir_refuses_a_file_and_a_path_under_a_file(tmp_path):
    f = tmp_path / "f.txt"
    f.write_text("x")
    with pytest.raises(StoreError, match="is an existing file"):
        ensure_writable_dir(f)
    with pytest.raises(StoreError, match="is not writable"):
        ensure_writable_dir(f / "sub")  # mkdir fails with ENOTDIR
    assert f.read_text() == "x"


def test_ensure_writable_dir_turns_permission_failures_into_store_error(tmp_path, monkeypatch):
    def denied(*a, **k):
        raise PermissionError(errno.EACCES, "Permission denied")

    monkeypatch.setattr(io_mod.tempfile, "NamedTemporaryFile", denied)
    with pytest.raises(StoreError, match=r"not writable \(Permission denied\).*--out"):
        ensure_writable_dir(tmp_path / "out")


def test_read_json_errors_name_the_file_and_line(tmp_path):
    with pytest.raises(StoreError, match="does not exist"):
        read_json(tmp_path / "missing.json")
    bad = tmp_path / "bad.json"
    bad.write_text('{\n  "a": 1,\n  "b": \n}\n')
    with pytest.raises(StoreError, match=r"bad\.json' is not valid JSON \(line 4"):
        read_json(bad)


def test_io_uses_the_target_folder_for_temporaries(tmp_path, monkeypatch):
    """Temporaries live beside the target (same file system, so the rename is atomic), not in the system temp dir."""
    seen = []
    real = tempfile.mkstemp

    def spy(*a, **k):
        seen.append(Path(k["dir"]))
        return real(*a, **k)

    monkeypatch.setattr(io_mod.tempfile, "mkstemp", spy)
    atomic_write_text(tmp_path / "deep" / "x.txt", "hi")
    assert seen == [tmp_path / "deep"]


def test_read_utf8_text_reads_and_names_the_file_in_one_error(tmp_path):
    from interp.errors import DatasetError
    from interp.io import read_utf8_text

    ok = tmp_path / "ok.txt"
    ok.write_text("ありがとう\n", encoding="utf-8")
    assert read_utf8_text(ok, "dataset") == "ありがとう\n"
    bad = tmp_path / "bad.txt"
    bad.write_bytes("ありがとう".encode("euc-jp"))
    with pytest.raises(DatasetError, match=r"^dataset file '.*bad\.txt' is not UTF-8 text; convert it$"):
        read_utf8_text(bad, "dataset", error=DatasetError, fix="convert it")
    for missing in (tmp_path / "none.txt", tmp_path):  # absent, or a folder: no file to read
        with pytest.raises(StoreError, match=r"^polarity file .* does not exist$"):
            read_utf8_text(missing, "polarity")
