import json
import subprocess
import sys

import pytest
from typer.testing import CliRunner

from experiments.cli import app

runner = CliRunner()


def _json(result):
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout[result.stdout.index("{"):])


@pytest.fixture(scope="module")
def screening(tmp_path_factory):
    root = tmp_path_factory.mktemp("runs")
    d = _json(runner.invoke(app, ["screen-heads", "--model", "tiny", "--emotions", "gratitude,anger", "--n-boot", "20",
                                  "--n-perm", "20", "--runs-root", str(root), "--json"]))
    return root, d


def test_screen_heads_cmd_json(screening):
    root, d = screening
    assert set(d["top"]) == {"gratitude", "anger"} and len(d["top"]["gratitude"]) == 8  # tiny: 2 layers × 4 heads, top 10 capped
    r = d["top"]["gratitude"][0]
    assert r["lo"] <= r["delta"] <= r["hi"]


def test_ablate_cmd_cumulative_and_single(screening, tmp_path):
    root, d = screening
    out = _json(runner.invoke(app, ["ablate", "--model", "tiny", "--emotion", "gratitude", "--screening", d["screening"],
                                    "--ks", "1,2", "--n-random", "1", "--limit", "4", "--runs-root", str(tmp_path), "--json"]))
    assert [r["k"] for r in out["rows"]] == [1, 2]
    assert out["rows"][0]["p_floor"] == 0.5 and out["evaluated"]["n"] == 4
    out = _json(runner.invoke(app, ["ablate", "--model", "tiny", "--emotion", "gratitude", "--screening", d["screening"],
                                    "--ks", "1", "--n-random", "3", "--mode", "resample", "--limit", "4", "--runs-root", str(tmp_path),
                                    "--json"]))
    assert out["rows"][0]["n_random_draws"] == 3 and out["evaluated"]["reference"].startswith("70 neutral")
    out = _json(runner.invoke(app, ["ablate", "--model", "tiny", "--emotion", "gratitude", "--screening", d["screening"],
                                    "--ks", "1,2", "--n-random", "1", "--limit", "4", "--generate", "3", "--max-new-tokens", "3",
                                    "--runs-root", str(tmp_path), "--json"]))
    g = out["generation"]
    assert g["n_prompts"] == 3 and len(g["heads"]) == 2 and set(g["effect"]) == {"vader_compound", "vader_neg", "kw_gratitude"}
    assert len(g["continuations"]["intervened"]) == 3
    out = _json(runner.invoke(app, ["ablate", "--model", "tiny", "--heads", "L0H1,L1H0", "--mode", "mean", "--limit", "4",
                                    "--runs-root", str(tmp_path), "--json"]))
    assert out["heads"] == ["L0H1", "L1H0"] and "effect" in out


def test_patch_heads_and_activations_cmd(tmp_path):
    out = _json(runner.invoke(app, ["patch-heads", "--model", "tiny", "--heads", "L1H2", "--modes", "v_only,z", "--limit", "3",
                                    "--n-random", "0", "--runs-root", str(tmp_path), "--json"]))
    assert [r["mode"] for r in out["results"]] == ["v_only", "z"]
    out = _json(runner.invoke(app, ["patch-heads", "--model", "tiny", "--heads", "L1H2", "--modes", "v_only,z", "--limit", "3",
                                    "--n-random", "1", "--generate", "2", "--max-new-tokens", "3", "--runs-root", str(tmp_path), "--json"]))
    assert [g["config"]["mode"] for g in out["generation"]] == ["v_only", "z"] and out["generation"][0]["n_prompts"] == 2
    assert out["generation"][0]["reference_mean"] is not None
    out = _json(runner.invoke(app, ["patch-activations", "--model", "tiny", "--kinds", "resid_pre", "--layers", "1",
                                    "--limit", "2", "--runs-root", str(tmp_path), "--json"]))
    assert out["strongest"]["resid_pre"]["layer"] == 1


def test_ovqk_and_attention_view_cmd(screening, tmp_path):
    root, d = screening
    out = _json(runner.invoke(app, ["ovqk", "--model", "tiny", "--screening", d["screening"], "--top", "1",
                                    "--runs-root", str(tmp_path), "--json"]))
    assert out["heads"] and "roles" in out
    out = _json(runner.invoke(app, ["attention-view", "--model", "tiny", "--heads", "L0H1", "--text", "thank you",
                                    "--runs-root", str(tmp_path), "--json"]))
    assert out["files"][0].endswith(".html")


@pytest.mark.parametrize("args, msg", [
    (["ablate", "--heads", "L0H9"], "out of range"),
    (["ablate", "--heads", "L0H1", "--mode", "shuffle"], "unknown ablation mode"),
    (["ablate", "--heads", "L0H1", "--generate", "500"], "the evaluation split has 70 gratitude sentences; 500 are needed"),
    (["patch-heads", "--heads", "L0H1", "--generate", "500"], "the evaluation split has"),
    (["patch-heads", "--heads", "L0H1", "--modes", "q_only"], "unknown head-patching mode"),
    (["patch-heads", "--heads", "L0H1", "--modes", "v_only", "--positions", "end"], "only works with mode 'z'"),
])
def test_circuits_cmd_bad_input_one_line_exit_2(args, msg, tmp_path):
    r = subprocess.run([sys.executable, "-m", "experiments.cli", *args, "--model", "tiny", "--runs-root", str(tmp_path)],
                       capture_output=True, text=True, timeout=300)
    assert r.returncode == 2, r.stderr
    assert msg in r.stderr and "Traceback" not in r.stderr


def test_circuits_cmd_screening_of_another_model_fails_clearly(tmp_path):
    """A screening.json made on a 30-layer model, used with the 2-layer tiny model: one error line naming the cause."""
    n_l, n_h = 30, 9
    delta = [[[0.0] * n_h for _ in range(n_l)]]
    delta[0][14][0] = 0.1
    zeros = [[[0.0] * n_h for _ in range(n_l)]]
    path = tmp_path / "screening.json"
    path.write_text(json.dumps({"emotions": ["gratitude"], "delta": delta, "lo": zeros, "hi": zeros, "p": zeros, "p_holm": zeros,
                                "n_emotion": [70], "n_neutral": 70, "config": {"model": "smollm2-135m"}}))
    for cmd in (["ablate", "--ks", "1"], ["patch-heads"]):
        r = subprocess.run([sys.executable, "-m", "experiments.cli", *cmd, "--screening", str(path), "--model", "tiny",
                            "--runs-root", str(tmp_path)], capture_output=True, text=True, timeout=300)
        assert r.returncode == 2, r.stderr
        assert "L14H0" in r.stderr and "smollm2-135m" in r.stderr and "Traceback" not in r.stderr


def test_circuits_cmd_evaluation_overlapping_selection_fails(tmp_path):
    """A screening that selected heads on the very sentences to be evaluated: one error line, exit 2."""
    from interp.datasets import load_dataset

    ids = [r.id for r in load_dataset("baseline").by_emotion("gratitude")][:5]
    n_l, n_h = 2, 4
    zeros = [[[0.0] * n_h for _ in range(n_l)]]
    delta = [[[0.1 * (l * n_h + h) for h in range(n_h)] for l in range(n_l)]]
    path = tmp_path / "screening.json"
    path.write_text(json.dumps({"emotions": ["gratitude"], "delta": delta, "lo": zeros, "hi": zeros, "p": zeros, "p_holm": zeros,
                                "n_emotion": [70], "n_neutral": 70, "config": {"model": "tiny", "selection_ids": ids}}))
    for cmd in (["ablate", "--ks", "1"], ["patch-heads"]):
        r = subprocess.run([sys.executable, "-m", "experiments.cli", *cmd, "--screening", str(path), "--model", "tiny",
                            "--runs-root", str(tmp_path)], capture_output=True, text=True, timeout=300)
        assert r.returncode == 2, r.stderr
        assert "overlap" in r.stderr and ids[0] in r.stderr and "Traceback" not in r.stderr
