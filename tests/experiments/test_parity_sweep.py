"""The study's sweep phase and ``emotion-circuits sweep`` write identical results for the same vectors, prompts and settings."""

import json
from pathlib import Path

import torch

from experiments.phases_geometry import vectors_file
from experiments.phases_steering import phase_sweep
from experiments.pipeline import StudyState
from experiments.study_config import from_dict
from interp.models import model_info
from interp.run_context import RunContext
from steering.vectors import EmotionVector, save_vectors
from tests.helpers import run_cli

EMOTIONS = ["gratitude", "anger"]
SWEEP = {"emotions": EMOTIONS, "layers": [], "alphas": [-1.0, 0.0, 1.0, 4.0], "n_prompts": 4, "max_new_tokens": 4}
SAME_FILES = ["results.json", "examples.json", "results/summary.json", "results/aggregates.csv", "results/generations.csv",
              "results/random_effects.csv", *(f"figures/sweep_{e}.{ext}" for e in EMOTIONS for ext in ("html", "plotly.json"))]


def _vectors(path: Path, model) -> Path:
    """Large random vectors (the tiny model's text changes under them) at resid_pre of both layers, with the model's provenance."""
    info, g = model_info(model), torch.Generator().manual_seed(0)
    vs = [EmotionVector(e, 20 * torch.randn(model.cfg.d_model, generator=g), f"blocks.{layer}.hook_resid_pre", layer, "sentence_end",
                        "neutral", info.name, info.source_hash, "ds") for e in EMOTIONS for layer in (0, 1)]
    return save_vectors(vs, path)


def test_sweep_phase_and_command_write_identical_results(tmp_path, tiny_model, capsys):
    cfg = from_dict({"study": {"name": "parity", "model": "tiny", "phases": ["dataset", "extract", "vectors", "sweep"]},
                     "sweep": SWEEP, "report": {"steering_examples": 2}})
    state = StudyState(cfg=cfg, ctx=RunContext.create("parity", cfg.to_dict(), root=tmp_path / "runs", seed=0), runs_root=tmp_path / "runs")
    vf = vectors_file(state)
    vf.parent.mkdir(parents=True)
    _vectors(vf, tiny_model)
    phase_dir = tmp_path / "phase"
    summary = phase_sweep(state, phase_dir)

    code, out, err = run_cli(["sweep", "--model", "tiny", "--emotion", ",".join(EMOTIONS), "--alphas=-1,0,1,4", "--n-prompts", "4",
                              "--max-new-tokens", "4", "--vectors", str(vf), "--examples", "2", "--runs-root", str(tmp_path / "cli"),
                              "--json"], capsys)
    assert code == 0, err
    cli = json.loads(out)
    cli_dir = Path(cli["run_dir"])
    for name in SAME_FILES:
        assert (phase_dir / name).read_bytes() == (cli_dir / name).read_bytes(), name
    assert {k: cli[k] for k in ("text", "headline", "tables")} == json.loads(json.dumps(summary))
    # The study default (5 layers at tenths of the depth) reached both: the tiny model's two layers.
    results = json.loads((phase_dir / "results.json").read_text())
    assert results["config"]["layers"] == [0, 1] and results["splits"]["evaluation"]
    assert [h["name"] for h in summary["headline"]] == [f"{e}: {what}" for e in EMOTIONS for what in (
        f"best cell, Δ{results['best'][e]['cell']['target']} over α=0 (evaluation prompts)",
        f"same cell, Δ{results['best'][e]['cell']['target']} with {e} words masked (evaluation prompts)")]
