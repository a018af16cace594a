"""``emotion-circuits sweep`` and ``steer``: outputs on the tiny model, a real-model run, and one-line errors with exit code 2."""

import json
from pathlib import Path

import pytest
import torch

from experiments.cli import main
from steering.vectors import EmotionVector, save_vectors


def _run(argv, capsys):
    with pytest.raises(SystemExit) as exc:
        main(argv)
        raise SystemExit(0)
    out = capsys.readouterr()
    return exc.value.code, out.out, out.err


def _vector_file(tmp_path, d_model, hook, name="v", model=None):
    """A vector file; with ``model`` its provenance names that model (name and weight hash), else another model."""
    from interp.models import model_info

    who = (model_info(model).name, model_info(model).source_hash) if model is not None else ("other", "x")
    v = EmotionVector(emotion="gratitude", vector=torch.randn(d_model), hook=hook, layer=1, method="sentence_end",
                      contrast="neutral", model_name=who[0], model_hash=who[1], dataset_hash="y")
    return save_vectors([v], tmp_path / f"{name}.safetensors")


@pytest.mark.parametrize("argv,message", [
    (["sweep", "--model", "tiny", "--alphas=0,nan", "--layers", "1"], "finite"),
    (["sweep", "--model", "tiny", "--alphas=0,inf", "--layers", "1"], "finite"),
    (["sweep", "--model", "tiny", "--layers", "0,7"], "out of range"),
    (["sweep", "--model", "tiny", "--emotion", "joy"], "unknown emotion 'joy'"),
    (["steer", "--model", "tiny", "--layer", "9", "abc"], "out of range"),
    (["steer", "--model", "tiny", "--emotion", "joy", "abc"], "unknown emotion"),
    (["steer", "--model", "tiny", "--alpha", "nan", "abc"], "finite"),
    (["steer", "--model", "tiny", "--alpha", "inf", "abc"], "finite"),
    (["steer", "--model", "tiny", "--alpha", "1e30", "abc"], "|alpha| must be at most 1000"),
    (["sweep", "--model", "tiny", "--alphas=0,1e30", "--layers", "1"], "|alpha| must be at most 1000"),
    (["sweep", "--model", "tiny", "--n-prompts", "1", "--layers", "1"], "selection and evaluation"),
    (["sweep", "--model", "tiny", "--n-random", "5", "--layers", "1"], "--n-random"),
    (["steer", "--model", "tiny", "--scale", "huge", "abc"], "--scale"),
])
def test_steer_commands_reject_bad_input_with_exit_2(argv, message, capsys, tmp_path):
    code, out, err = _run([*argv, "--runs-root", str(tmp_path)], capsys)
    assert code == 2
    assert message in err and "Traceback" not in err


def test_steer_rejects_vector_from_another_model(capsys, tmp_path):
    path = _vector_file(tmp_path, 7, "blocks.1.hook_resid_pre")
    code, _, err = _run(["steer", "--model", "tiny", "--layer", "1", "--vectors", str(path), "--runs-root", str(tmp_path), "abc"], capsys)
    assert code == 2 and "d_model 7" in err


def test_steer_names_the_requested_layer_when_the_file_lacks_it(capsys, tmp_path, tiny_model):
    path = _vector_file(tmp_path, tiny_model.cfg.d_model, "blocks.1.hook_resid_pre")
    code, _, err = _run(["steer", "--model", "tiny", "--layer", "0", "--vectors", str(path), "--runs-root", str(tmp_path), "abc"], capsys)
    assert code == 2 and "at layer 0 (blocks.0.hook_resid_pre)" in err and "gratitude@blocks.1.hook_resid_pre" in err
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1 or err.count("error:") == 1


def test_steer_manifest_records_the_model(capsys, tmp_path):
    code, out, _ = _run(["steer", "--model", "tiny", "--layer", "1", "--max-new-tokens", "2", "--runs-root", str(tmp_path), "--json",
                         "abc"], capsys)
    assert code == 0
    manifest = json.loads((Path(json.loads(out)["run_dir"]) / "manifest.json").read_text())
    assert list(manifest["models"]) == ["tiny"] and manifest["models"]["tiny"]["weight_hash"]


def test_sweep_rerun_in_a_copied_folder_with_other_max_new_tokens_recomputes(capsys, tmp_path):
    import shutil

    import pandas as pd

    args = ["sweep", "--model", "tiny", "--emotion", "gratitude", "--layers", "1", "--alphas=0,1", "--n-prompts", "4",
            "--runs-root", str(tmp_path), "--json"]
    code, out, _ = _run([*args, "--max-new-tokens", "8"], capsys)
    assert code == 0
    run = Path(json.loads(out)["run_dir"])
    copy = tmp_path / "copy"
    shutil.copytree(run, copy)
    code, out, _ = _run([*args, "--max-new-tokens", "5", "--run-dir", str(copy)], capsys)
    assert code == 0 and json.loads(out)["run_dir"] == str(copy) and Path(json.loads(out)["generations"]).exists()
    cache = json.loads((copy / "results" / "summary.json").read_text())["cache"]
    assert cache["reused"] == 0 and cache["computed"] >= 3
    assert (pd.read_parquet(copy / "results" / "generations.parquet").n_new_tokens <= 5).all()
    assert all(not p.name.startswith("*") for p in (copy / "cells").iterdir())


def test_steer_rejects_vector_from_another_hook(capsys, tmp_path, tiny_model):
    path = _vector_file(tmp_path, tiny_model.cfg.d_model, "blocks.1.hook_resid_post", model=tiny_model)
    code, _, err = _run(["steer", "--model", "tiny", "--layer", "1", "--vectors", str(path), "--runs-root", str(tmp_path), "abc"], capsys)
    assert code == 2 and "hook_resid_post" in err
    code, out, _ = _run(["steer", "--model", "tiny", "--layer", "1", "--vectors", str(path), "--allow-hook-mismatch",
                         "--max-new-tokens", "3", "--runs-root", str(tmp_path), "--json", "abc"], capsys)
    assert code == 0
    results = json.loads((Path(json.loads(out)["results"])).read_text())
    assert results["steering"]["hook"] == "blocks.1.hook_resid_pre" and results["vector"]["hook"] == "blocks.1.hook_resid_post"


def test_sweep_command_writes_tidy_table_and_summary(capsys, tmp_path):
    code, out, _ = _run(["sweep", "--model", "tiny", "--emotion", "gratitude", "--layers", "0,1", "--alphas=-1,0,1",
                         "--n-prompts", "3", "--max-new-tokens", "3", "--runs-root", str(tmp_path), "--json"], capsys)
    assert code == 0
    import pandas as pd

    run = Path(json.loads(out)["run_dir"])
    s = json.loads((run / "results.json").read_text())
    rows = pd.read_parquet(run / "results" / "generations.parquet")
    # per layer: steered (alpha -1, 1) + alpha=0 rows; plus 20 random directions on the evaluation prompts of the controlled cell
    n_eval = len(s["splits"]["evaluation"])
    assert s["n_random_runs"] == 2  # --random-cells 2 (default): the two best selection cells
    assert len(rows) == 3 * 2 * 2 + 3 * 2 + 2 * 20 * n_eval
    assert {"prompt", "layer", "alpha", "seed", "text", "vader_compound", "perplexity"} <= set(rows.columns)
    assert (run / "results" / "aggregates.csv").exists() and (run / "figures" / "sweep_gratitude.html").exists()
    assert (run / "figures" / "sweep_gratitude.plotly.json").exists() and json.loads((run / "examples.json").read_text())
    assert s["config"]["unit"].startswith("alpha x emotion vector") and "cache" not in s
    best = s["best"]["gratitude"]
    assert best["selection"]["layer"] == best["cell"]["layer"] and best["reported_on"] == "evaluation"
    assert best["random_control"]["n"] == 20


@pytest.mark.real
def test_steer_command_on_real_model_changes_the_continuation(capsys, tmp_path):
    code, out, _ = _run(["steer", "--model", "smollm2-135m", "--emotion", "gratitude", "--layer", "15", "--alpha", "1",
                         "--max-new-tokens", "8", "--runs-root", str(tmp_path), "--json", "I went to the store and"], capsys)
    assert code == 0
    item = json.loads(Path(json.loads(out)["results"]).read_text())["items"][0]
    assert item["steered"] != item["unsteered"]
    assert item["scores_steered"]["vader_compound"] >= item["scores_unsteered"]["vader_compound"]


def test_sweep_and_steer_print_readable_tables(capsys, tmp_path):
    code, out, _ = _run(["sweep", "--model", "tiny", "--layers", "1", "--alphas=0,1", "--n-prompts", "4", "--max-new-tokens", "2",
                         "--runs-root", str(tmp_path)], capsys)
    assert code == 0
    assert "gratitude: best cell, Δvader_compound over α=0" in out and "usable window" in out and "results: " in out
    code, out, _ = _run(["steer", "--model", "tiny", "--layer", "1", "--max-new-tokens", "2", "--runs-root", str(tmp_path), "abc"],
                        capsys)
    assert code == 0 and "Δ vader_compound (steered − unsteered" in out and "unsteered" in out and "steered" in out
