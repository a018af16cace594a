"""The ``ablate`` / ``patch-heads`` commands and study phases 6 / 7 write identical result files for the same inputs.

The study runs on the tiny model; each command then gets the same screening.json, a profile file holding exactly
the sentences the phase used (the evaluation split's emotion sentences, and the selection split's neutral ones as
the ablation reference / the evaluation split's neutral ones as patching targets) and the same parameters."""

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from experiments.cli import app
from experiments.pipeline import run_study, study_dataset
from experiments.study_config import from_dict

runner = CliRunner()

STUDY = {
    "study": {"name": "parity", "model": "tiny", "phases": ["dataset", "screen", "ablate", "patch_heads"], "seed": 0},
    "screen": {"emotions": ["gratitude"], "n_perm": 20, "n_boot": 20},
    "ablate": {"emotions": ["gratitude"], "max_k": 2, "ks": [1, 2], "n_random": 3, "stop_after": 2, "mode": "mean",
               "n_sentences": 5, "generate_prompts": 2, "generate_random": 1, "max_new_tokens": 2},
    "patch_heads": {"emotions": ["gratitude"], "modes": ["v_only", "z"], "n_pairs": 4, "n_random": 2, "stop_after": 1,
                    "generate_prompts": 2, "generate_random": 1, "max_new_tokens": 2},
}


@pytest.fixture(scope="module")
def study(tmp_path_factory):
    """(run folder of the study, its split, a scratch folder)."""
    tmp = tmp_path_factory.mktemp("parity")
    cfg = from_dict(STUDY)
    ctx, status = run_study(cfg, runs_root=tmp / "study")
    assert all(s.startswith("computed") for s in status.values()), status
    return ctx.path, study_dataset(cfg)[1], tmp


def _profile(path: Path, *parts) -> str:
    path.write_text("".join(json.dumps(r.to_dict()) + "\n" for part in parts for r in part), encoding="utf-8")
    return str(path)


def _cli(args: list[str], runs: Path) -> tuple[Path, dict]:
    r = runner.invoke(app, [*args, "--model", "tiny", "--seed", "0", "--runs-root", str(runs), "--json"])
    assert r.exit_code == 0, r.output
    out = json.loads(r.stdout[r.stdout.index("{"):])
    return Path(out["run_dir"]), out


def _assert_same_files(phase_dir: Path, cli_dir: Path, names: list[str]) -> None:
    """The named files and every file under figures/ hold the same bytes in both folders."""
    figures = sorted(str(p.relative_to(phase_dir)) for p in phase_dir.glob("figures/*"))
    assert figures == sorted(str(p.relative_to(cli_dir)) for p in cli_dir.glob("figures/*"))
    for rel in names + figures:
        assert (phase_dir / rel).read_bytes() == (cli_dir / rel).read_bytes(), rel


def test_ablate_command_and_phase_write_identical_results(study):
    run, split, tmp = study
    profile = _profile(tmp / "ablate.jsonl", split.selection.by_emotion("neutral"), split.evaluation.by_emotion("gratitude"))
    cli_dir, out = _cli(["ablate", "--profile", profile, "--emotion", "gratitude", "--screening", str(run / "screen" / "screening.json"),
                         "--ks", "1,2", "--mode", "mean", "--n-random", "3", "--stop-after", "2", "--limit", "5", "--generate", "2",
                         "--generate-random", "1", "--max-new-tokens", "2"], tmp / "cli")
    _assert_same_files(run / "ablate", cli_dir, ["results.json", "ablation_gratitude.json", "ablation_generation_gratitude.json"])
    assert (cli_dir / "figures" / "ablation_gratitude.html").exists() and (cli_dir / "figures" / "ablation_gratitude.plotly.json").exists()
    assert out["headline"] == json.loads((run / "ablate" / "summary.json").read_text())["headline"]


def test_patch_heads_command_and_phase_write_identical_results(study):
    run, split, tmp = study
    profile = _profile(tmp / "patch.jsonl", split.evaluation.by_emotion("gratitude"), split.evaluation.by_emotion("neutral"))
    cli_dir, out = _cli(["patch-heads", "--profile", profile, "--emotion", "gratitude", "--screening",
                         str(run / "screen" / "screening.json"), "--modes", "v_only,z", "--limit", "4", "--n-random", "2",
                         "--stop-after", "1", "--generate", "2", "--generate-random", "1", "--max-new-tokens", "2"], tmp / "cli")
    _assert_same_files(run / "patch_heads", cli_dir, ["results.json", "head_patching_gratitude.json"])
    assert out["headline"] == json.loads((run / "patch_heads" / "summary.json").read_text())["headline"]
