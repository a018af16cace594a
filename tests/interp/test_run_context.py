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
