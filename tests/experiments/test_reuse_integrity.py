"""Study phase reuse verifies what it reuses (issue 15, finding 1): done.json lists every file with size and
SHA-256; a damaged phase folder is recomputed, in the same run and when reused from an earlier run."""

import json
from pathlib import Path

import pytest

from experiments.pipeline import DONE, phase_problem, run_study
from experiments.study_config import load_study

_STUDY = """
[study]
name = "integrity"
model = "tiny"
phases = ["dataset", "extract", "vectors"]
[extract]
hooks = ["resid_post"]
[vectors]
n_boot = 10
probe_folds = 2
"""


@pytest.fixture
def study(tmp_path):
    p = tmp_path / "integrity.toml"
    p.write_text(_STUDY)
    return load_study(p)


def _run(cfg, root, **kw):
    return run_study(cfg, runs_root=root, **kw)


def _damage(path: Path) -> None:
    """Replace the file (new inode, so a hard-linked copy elsewhere stays intact) with one byte changed."""
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0x01
    path.unlink()
    path.write_bytes(bytes(data))


def test_done_json_lists_files_and_damaged_phase_is_recomputed(study, tmp_path):
    root = tmp_path / "runs"
    ctx, status = _run(study, root)
    assert all(s.startswith("computed") for s in status.values()), status
    marker = json.loads((ctx.path / "vectors" / DONE).read_text())
    assert "summary.json" in marker["files"] and all({"bytes", "sha256"} <= set(r) for r in marker["files"].values())
    assert phase_problem(ctx.path / "vectors", marker["key"]) is None

    ctx2, status2 = _run(study, root)
    assert ctx2.path == ctx.path and all(s == "done earlier in this run" for s in status2.values()), status2

    victim = next(p for p in sorted((ctx.path / "vectors").rglob("*")) if p.is_file() and p.name != DONE)
    _damage(victim)
    assert "differs from what was written" in phase_problem(ctx.path / "vectors", marker["key"])
    ctx3, status3 = _run(study, root)
    assert ctx3.path == ctx.path
    assert status3["extract"] == "done earlier in this run"
    assert status3["vectors"].startswith("computed") and "not trusted" in status3["vectors"], status3
    assert phase_problem(ctx.path / "vectors", marker["key"]) is None


def test_new_run_does_not_reuse_a_damaged_phase_of_an_earlier_run(study, tmp_path):
    root = tmp_path / "runs"
    ctx, _ = _run(study, root)
    _damage(ctx.path / "vectors" / "summary.json")
    (ctx.path / "extract" / "summary.json").unlink()
    ctx2, status = _run(study, root, resume=False)
    assert ctx2.path != ctx.path
    assert status["dataset"].startswith("reused from")
    assert status["extract"].startswith("computed"), "a phase folder with a missing file is not reused"
    assert status["vectors"].startswith("computed"), "a phase folder with a damaged file is not reused"
