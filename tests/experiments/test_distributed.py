"""A study's units on local Ray (2 workers) give the serial numbers, into folders a serial rerun reuses; bad input fails early."""

import hashlib
import json
import socket
import sys
from pathlib import Path

import pytest

from experiments.distributed import check_address, require_ray, run_on_ray, run_serial, study_units
from experiments.study_config import load_study
from interp.errors import ConfigError
from tests.helpers import run_cli

_STUDY = """
[study]
name = "dist"
model = "tiny"
phases = ["dataset", "extract", "vectors"]
[extract]
hooks = ["resid_pre", "resid_post"]
[vectors]
n_boot = 20
probe_folds = 2
probe_shuffles = 20
"""


@pytest.fixture(scope="module")
def study(tmp_path_factory) -> tuple[Path, list[str]]:
    """The study file and two model names: the built-in tiny model and a wider tiny model saved to a folder."""
    from interp.tiny_model import save_tiny_model

    tmp = tmp_path_factory.mktemp("dist")
    (tmp / "s.toml").write_text(_STUDY)
    return tmp / "s.toml", ["tiny", str(save_tiny_model(tmp / "tiny_b", seed=1, d_model=48))]


_TIMING = {"load_seconds", "seconds", "tokens/s"}


def _strip_timing(obj):
    """A phase's JSON without wall-clock fields (and without file hashes, which safetensors' unordered header changes)."""
    if isinstance(obj, dict):
        if "columns" in obj and "rows" in obj:  # a summary table: drop its timing columns
            keep = [i for i, c in enumerate(obj["columns"]) if c not in _TIMING]
            return {**obj, "columns": [obj["columns"][i] for i in keep], "rows": [[r[i] for i in keep] for r in obj["rows"]]}
        return {k: _strip_timing(v) for k, v in obj.items() if k not in _TIMING | {"sha256"}}
    if isinstance(obj, list):
        return [_strip_timing(v) for v in obj]
    return obj


def _numbers(run_dir: str) -> dict:
    """Every file each finished phase wrote, as content: tensors (exact bytes) and header of a .safetensors file, JSON
    without timing fields, and the bytes' SHA-256 of anything else (figures, reports)."""
    from safetensors import safe_open

    out = {}
    for done_file in sorted(Path(run_dir).glob("*/done.json")):
        pdir, done = done_file.parent, json.loads(done_file.read_text())
        files = {}
        for rel, rec in done["files"].items():
            f = pdir / rel
            if f.suffix == ".safetensors":
                with safe_open(str(f), framework="pt") as st:
                    files[rel] = (st.metadata(), {k: hashlib.sha256(st.get_tensor(k).numpy().tobytes()).hexdigest() for k in st.keys()})
            elif f.suffix == ".json":
                files[rel] = _strip_timing(json.loads(f.read_text()))
            else:
                files[rel] = rec["sha256"]
        out[pdir.name] = {"key": done["key"], "files": files}
    return out


def test_run_on_ray_matches_serial_numbers_and_a_serial_rerun_reuses_it(study, tmp_path):
    pytest.importorskip("ray")
    path, models = study
    units = study_units(load_study(path), models)
    assert [u.model for u in units] == models and units[1].cfg.study.model == models[1]
    serial = run_serial(units, runs_root=tmp_path / "serial")
    on_ray = run_on_ray(units, runs_root=tmp_path / "ray", workers=2)
    assert [r.model for r in on_ray] == models
    assert len({r.worker for r in on_ray} | {serial[0].worker}) == 3, "each unit ran in its own worker process"
    for s, r in zip(serial, on_ray):
        assert Path(r.run_dir).parent == tmp_path / "ray" / "dist"  # the serial layout: <runs root>/<study>/<run>
        assert all(v.startswith("computed") for v in r.phases.values()) and list(r.phases) == list(s.phases)
        assert _numbers(r.run_dir) == _numbers(s.run_dir), f"{r.model}: Ray and serial runs differ"
        assert json.loads((Path(r.run_dir) / "manifest.json").read_text())["finished_utc"]
    # The comparison covers the analysis numbers and could fail: the two models' numbers differ.
    first, second = _numbers(serial[0].run_dir), _numbers(serial[1].run_dir)
    assert set(first) == {"dataset", "extract", "vectors"} and "results.json" in first["vectors"]["files"]
    assert first["vectors"]["files"]["results.json"] != second["vectors"]["files"]["results.json"]
    # Resume semantics are the serial ones: a serial rerun into the Ray runs root reuses every phase Ray computed.
    again = run_serial(units, runs_root=tmp_path / "ray")
    for a, r in zip(again, on_ray):
        assert all(v == f"reused from {Path(r.run_dir).name}" for v in a.phases.values()), a.phases


def test_unreachable_ray_address_is_one_error_line_and_writes_nothing(study, tmp_path, capsys):
    pytest.importorskip("ray")
    with socket.socket() as s:  # a port that was free a moment ago: nothing listens there
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    root = tmp_path / "runs"
    code, _, err = run_cli(["run", str(study[0]), "--runs-root", str(root), "--models", "tiny", "--ray-address", f"127.0.0.1:{port}"], capsys)
    assert code == 2 and err.startswith(f"error: cannot reach the Ray cluster at 127.0.0.1:{port}")
    assert "ray start --head" in err and len(err.strip().splitlines()) == 1
    assert not root.exists()


@pytest.mark.parametrize(("address", "message"), [("nohostport", "is not HOST:PORT"), ("host:port", "is not HOST:PORT"),
                                                  ("ray://:10001", "is not HOST:PORT")])
def test_check_address_refuses_malformed_addresses(address, message):
    with pytest.raises(ConfigError, match=message):
        check_address(address, timeout=0.5)


def test_missing_ray_says_how_to_install(study, tmp_path, capsys, monkeypatch):
    monkeypatch.setitem(sys.modules, "ray", None)  # import ray now raises ImportError
    with pytest.raises(ConfigError, match=r"pip install 'emotion-circuits\[distributed\]'"):
        require_ray()
    code, _, err = run_cli(["run", str(study[0]), "--runs-root", str(tmp_path / "runs"), "--ray"], capsys)
    assert code == 2 and "emotion-circuits[distributed]" in err and not (tmp_path / "runs").exists()


@pytest.mark.parametrize(("args", "message"), [
    (["--model", "tiny", "--models", "tiny"], "give --model or --models, not both"),
    (["--models", "tiny,tiny"], "names tiny more than once"),
    (["--ray-address", "127.0.0.1:1", "--ray-workers", "3"], "--ray-workers sizes a local Ray"),
])
def test_run_units_refuses_contradictory_options(study, tmp_path, capsys, args, message):
    code, _, err = run_cli(["run", str(study[0]), "--runs-root", str(tmp_path / "runs"), *args], capsys)
    assert code == 2 and message in err and not (tmp_path / "runs").exists()
