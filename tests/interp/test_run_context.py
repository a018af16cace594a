"""Run folders stay under the runs root (issue 15, finding 5) and failed commands are marked failed (finding 7)."""

import json

import pytest

from interp.errors import ConfigError
from interp.run_context import RunContext, contained, mark_open_runs_failed, validate_name
from tests.helpers import run_cli

BAD_NAMES = ["../../x", "..", ".", "a/b", "/tmp/abs", "a\\b", "", "x" * 200, "name with space", "*star"]


@pytest.mark.parametrize("name", BAD_NAMES)
def test_unsafe_study_names_are_refused_and_nothing_is_written(tmp_path, name):
    root = tmp_path / "inner" / "runs"
    with pytest.raises(ConfigError, match="not a safe folder name"):
        RunContext.create(name, {}, root=root)
    assert not any(tmp_path.rglob("manifest.json"))


@pytest.mark.parametrize("name", ["emotion-circuits-baseline", "study_1.v2", "A.b-C"])
def test_safe_names_pass(name):
    assert validate_name(name) == name


def test_contained_refuses_paths_resolving_outside_root(tmp_path):
    root = tmp_path / "runs"
    assert contained(root / "s" / "r", root) == (root / "s" / "r").resolve()
    with pytest.raises(ConfigError, match="outside the runs root"):
        contained(root / "s" / ".." / ".." / "x", root)
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    (root).mkdir()
    (root / "link").symlink_to(outside)
    with pytest.raises(ConfigError, match="outside the runs root"):
        contained(root / "link" / "r", root)


def test_run_sub_folder_cannot_leave_the_run(tmp_path):
    ctx = RunContext.create("s", {}, root=tmp_path / "runs")
    with pytest.raises(ConfigError, match="outside"):
        ctx.sub("../../escape")
    assert not (tmp_path / "escape").exists()
    ctx.finish()


def test_study_file_with_escaping_name_is_a_one_line_error(tmp_path, capsys):
    study = tmp_path / "s.toml"
    study.write_text('[study]\nname = "../../x"\nmodel = "tiny"\nphases = ["dataset"]\n')
    code, _, err = run_cli(["run", str(study), "--runs-root", str(tmp_path / "a" / "runs"), "--no-screenshot"], capsys)
    assert code == 2 and err.startswith("error:") and "Traceback" not in err and "[study] name '../../x'" in err
    assert not any(tmp_path.rglob("manifest.json")) and not (tmp_path / "x").exists()


def test_mlflow_artifacts_refuse_an_escaping_study_name(tmp_path):
    from experiments.tracking import log_run, mlflow_available

    if not mlflow_available():
        pytest.skip("mlflow is not installed (tracking extra)")
    run = tmp_path / "runs" / "s" / "r1"
    run.mkdir(parents=True)
    (run / "manifest.json").write_text(json.dumps({"study": "../../../pwn"}))
    with pytest.raises(ConfigError, match="not a safe folder name"):
        log_run(run, runs_root=tmp_path / "runs")
    assert not (tmp_path / "pwn").exists()


def test_failed_command_marks_its_run_failed_in_runs_list(tmp_path, capsys):
    """A sentence too long for the context fails extract after its run folder exists: `runs list` shows the run
    as failed with the error, not as unfinished."""
    long = tmp_path / "long.jsonl"
    long.write_text(json.dumps({"id": "huge-1", "text": "word " * 300, "emotion": "neutral", "spans": []}) + "\n")
    root = tmp_path / "runs"
    code, _, err = run_cli(["extract", "--model", "tiny", "--profile", str(long), "--runs-root", str(root)], capsys)
    assert code == 2 and "record 'huge-1'" in err and "Traceback" not in err
    code, out, _ = run_cli(["runs", "list", "--runs-root", str(root), "--json"], capsys)
    (row,) = json.loads(out)
    assert row["status"] == "failed" and "huge-1" in row["error"] and row["complete"] is False


def test_mark_open_runs_failed_then_resume_clears_it(tmp_path):
    ctx = RunContext.create("s", {}, root=tmp_path)
    assert mark_open_runs_failed("boom") == [ctx.path]
    m = json.loads((ctx.path / "manifest.json").read_text())
    assert m["error"] == "boom" and "failed_utc" in m
    again = RunContext.create("s", {}, root=tmp_path, run_dir=ctx.path)
    assert "failed_utc" not in again.manifest and "error" not in again.manifest
    again.finish()


# --- folders, manifest contents, seeding, bookkeeping ---------------------------------------------------------------


@pytest.fixture
def no_open_runs():
    """The open-run list is process-wide: start and end each test with it empty."""
    from interp.run_context import forget_open_runs

    forget_open_runs()
    yield
    forget_open_runs()


def test_create_makes_a_stamped_folder_under_root_with_config_and_manifest(tmp_path, no_open_runs):
    import platform
    import re

    import numpy as np

    from interp.run_context import package_version

    config = {"model": "tiny", "layers": [1, 2], "nested": {"a": "ü"}}
    ctx = RunContext.create("study-1", config, root=tmp_path / "runs", seed=17)
    assert ctx.path.parent == (tmp_path / "runs" / "study-1").resolve()
    assert re.fullmatch(r"\d{8}T\d{6}Z-[0-9a-f]{6}", ctx.path.name)
    assert sorted(p.name for p in ctx.path.iterdir()) == ["config.json", "manifest.json"]
    assert json.loads((ctx.path / "config.json").read_text()) == config
    m = json.loads((ctx.path / "manifest.json").read_text())
    assert m == ctx.manifest
    assert (m["study"], m["seed"], m["models"], m["datasets"], m["steps"]) == ("study-1", 17, {}, {}, {})
    assert m["package_version"] == package_version() and m["cpu_count"] == __import__("os").cpu_count()
    assert m["libraries"]["python"] == platform.python_version() and m["libraries"]["numpy"] == np.__version__
    assert "started_utc" in m and "finished_utc" not in m
    again = RunContext.create("study-1", config, root=tmp_path / "runs")
    assert again.path != ctx.path and again.path.parent == ctx.path.parent, "two runs in one second get distinct folders"


def test_create_seeds_python_numpy_and_torch(tmp_path, no_open_runs):
    import random

    import numpy as np
    import torch

    RunContext.create("s", {}, root=tmp_path, seed=123)
    first = (random.random(), np.random.rand(), torch.rand(3))
    random.seed(0), np.random.seed(0), torch.manual_seed(0)  # disturb every generator
    RunContext.create("s", {}, root=tmp_path, seed=123)
    second = (random.random(), np.random.rand(), torch.rand(3))
    assert first[:2] == second[:2] and torch.equal(first[2], second[2])
    torch.manual_seed(123)
    assert torch.equal(torch.rand(3), first[2]), "torch is seeded with the run's seed itself"


def test_record_step_dataset_and_model_are_saved_immediately(tmp_path, no_open_runs, tiny_model):
    from interp.models import model_info

    ctx = RunContext.create("s", {}, root=tmp_path)
    ctx.record_step("vectors", n=3, layers=[1, 2])
    ds = type("DS", (), {"source": "profile:baseline", "hash": lambda self: "abc123", "__len__": lambda self: 42})()
    ctx.record_dataset("main", ds)
    ctx.record_model(tiny_model)
    on_disk = json.loads((ctx.path / "manifest.json").read_text())
    assert on_disk["steps"] == {"vectors": {"n": 3, "layers": [1, 2]}}
    assert on_disk["datasets"] == {"main": {"source": "profile:baseline", "hash": "abc123", "n": 42}}
    info = model_info(tiny_model)
    (name, rec), = on_disk["models"].items()
    assert name == info.name == "tiny"
    assert (rec["source"], rec["weight_hash"], rec["architecture"]) == (info.source, info.source_hash, info.architecture)
    assert len(rec["weight_hash"]) == 64


def test_finish_records_wall_time_and_closes_the_run(tmp_path, no_open_runs):
    ctx = RunContext.create("s", {}, root=tmp_path)
    wall = ctx.finish()
    m = json.loads((ctx.path / "manifest.json").read_text())
    assert wall >= 0 and m["wall_seconds"] == wall and "finished_utc" in m
    assert mark_open_runs_failed("late error") == [], "a finished run is not marked failed"
    assert "error" not in json.loads((ctx.path / "manifest.json").read_text())


def test_forget_open_runs_stops_tracking_and_mark_failed_covers_every_open_run(tmp_path, no_open_runs):
    from interp.run_context import forget_open_runs

    RunContext.create("s", {}, root=tmp_path)
    forget_open_runs()
    assert mark_open_runs_failed("x") == []
    a, b = RunContext.create("a", {}, root=tmp_path), RunContext.create("b", {}, root=tmp_path)
    assert sorted(mark_open_runs_failed("y" * 5000)) == sorted([a.path, b.path])
    assert len(json.loads((a.path / "manifest.json").read_text())["error"]) == 2000, "the stored error is truncated"


def test_resume_keeps_the_manifest_history_and_rewrites_the_config(tmp_path, no_open_runs):
    ctx = RunContext.create("s", {"v": 1}, root=tmp_path, seed=1)
    ctx.record_step("dataset", n=5)
    started = ctx.manifest["started_utc"]
    again = RunContext.create("s", {"v": 2}, root=tmp_path, run_dir=ctx.path, seed=1)
    assert again.path == ctx.path and again.manifest["steps"] == {"dataset": {"n": 5}}
    assert again.manifest["started_utc"] == started
    assert json.loads((ctx.path / "config.json").read_text()) == {"v": 2}


def test_explicit_run_dir_may_lie_outside_root_and_sub_creates_folders(tmp_path, no_open_runs):
    ctx = RunContext.create("s", {}, root=tmp_path / "runs", run_dir=tmp_path / "chosen")
    assert ctx.path == tmp_path / "chosen" and (ctx.path / "manifest.json").exists()
    assert not (tmp_path / "runs").exists()
    sub = ctx.sub("vectors")
    assert sub == (ctx.path / "vectors").resolve() and sub.is_dir()
    assert ctx.sub("vectors") == sub  # idempotent
