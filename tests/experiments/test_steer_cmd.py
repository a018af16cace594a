"""``emotion-circuits sweep`` and ``steer``: outputs on the tiny model, a real-model run, and one-line errors with exit code 2."""

import json

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


def _vector_file(tmp_path, d_model, hook, name="v"):
    v = EmotionVector(emotion="gratitude", vector=torch.randn(d_model), hook=hook, layer=1, method="sentence_end",
                      contrast="neutral", model_name="other", model_hash="x", dataset_hash="y")
    return save_vectors([v], tmp_path / f"{name}.safetensors")


@pytest.mark.parametrize("argv,message", [
    (["sweep", "--model", "tiny", "--alphas=0,nan", "--layers", "1"], "finite"),
    (["sweep", "--model", "tiny", "--alphas=0,inf", "--layers", "1"], "finite"),
    (["sweep", "--model", "tiny", "--layers", "0,7"], "out of range"),
    (["sweep", "--model", "tiny", "--emotion", "joy"], "unknown emotion 'joy'"),
    (["steer", "--model", "tiny", "--layer", "9", "abc"], "out of range"),
    (["steer", "--model", "tiny", "--emotion", "joy", "abc"], "unknown emotion"),
    (["steer", "--model", "tiny", "--alpha", "nan", "abc"], "finite"),
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


def test_steer_rejects_vector_from_another_hook(capsys, tmp_path, tiny_model):
    path = _vector_file(tmp_path, tiny_model.cfg.d_model, "blocks.1.hook_resid_post")
    code, _, err = _run(["steer", "--model", "tiny", "--layer", "1", "--vectors", str(path), "--runs-root", str(tmp_path), "abc"], capsys)
    assert code == 2 and "hook_resid_post" in err
    code, out, _ = _run(["steer", "--model", "tiny", "--layer", "1", "--vectors", str(path), "--allow-hook-mismatch",
                         "--max-new-tokens", "3", "--runs-root", str(tmp_path), "--json", "abc"], capsys)
    assert code == 0 and json.loads(out)["steering"]["hook"] == "blocks.1.hook_resid_pre"


def test_sweep_command_writes_tidy_table_and_summary(capsys, tmp_path):
    code, out, _ = _run(["sweep", "--model", "tiny", "--emotion", "gratitude", "--layers", "0,1", "--alphas=-1,0,1",
                         "--n-prompts", "3", "--max-new-tokens", "3", "--runs-root", str(tmp_path), "--json"], capsys)
    assert code == 0
    s = json.loads(out)
    import pandas as pd
    from pathlib import Path

    run = Path(s["run_dir"])
    rows = pd.read_parquet(run / "generations.parquet")
    assert len(rows) == 3 * 2 * 2 + 3 * 2 * 1 + 3 * 2 * 2  # steered + random (|alpha| = 1) + alpha=0 rows per layer and direction
    assert {"prompt", "layer", "alpha", "seed", "text", "vader_compound", "perplexity"} <= set(rows.columns)
    assert (run / "aggregates.csv").exists() and (run / "sweep_gratitude.html").exists()
    assert s["unit"].startswith("alpha x emotion vector")
    best = s["best"]["gratitude"]
    assert best["random_control"]["layer"] == best["cell"]["layer"]


@pytest.mark.real
def test_steer_command_on_real_model_changes_the_continuation(capsys, tmp_path):
    code, out, _ = _run(["steer", "--model", "smollm2-135m", "--emotion", "gratitude", "--layer", "15", "--alpha", "1",
                         "--max-new-tokens", "8", "--runs-root", str(tmp_path), "--json", "I went to the store and"], capsys)
    assert code == 0
    item = json.loads(out)["items"][0]
    assert item["steered"] != item["unsteered"]
    assert item["scores_steered"]["vader_compound"] >= item["scores_unsteered"]["vader_compound"]
