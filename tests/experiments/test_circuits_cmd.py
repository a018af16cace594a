import json
import subprocess
import sys
from pathlib import Path

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
    # The causal commands evaluate on the profile's sentences: give them the screening without its selection ids
    # (as a screening.json from before they were recorded), so their tests do not depend on the split.
    scr = json.loads(Path(d["screening"]).read_text())
    scr["config"].pop("selection_ids")
    (root / "screening_all.json").write_text(json.dumps(scr))
    return root, {**d, "screening_all": str(root / "screening_all.json")}


def test_screen_heads_cmd_json(screening):
    root, d = screening
    res = json.loads(Path(d["results"]).read_text())
    top = res["selection"]["top10"]
    assert set(top) == {"gratitude", "anger"} and len(top["gratitude"]) == 8  # tiny: 2 layers × 4 heads, top 10 capped
    r = top["gratitude"][0]
    assert r["lo"] <= r["delta"] <= r["hi"]
    # the headline is the selection's top head re-measured on the disjoint evaluation split
    sel_ids = set(res["selection"]["config"]["selection_ids"])
    ev = res["evaluation"]["emotions"]["gratitude"]
    assert ev["heads"][0]["name"] == r["name"] and sel_ids and not sel_ids & set(ev["record_ids"])
    assert [h["name"] for h in d["headline"]] == ["gratitude: top head Δattention (evaluation split)",
                                                  "anger: top head Δattention (evaluation split)"]
    assert d["headline"][0]["value"] == ev["heads"][0]["delta"] and d["tables"][0]["title"] == "gratitude: top 10 heads (selection split)"


def _results(out: dict) -> dict:
    """The results.json a causal command wrote (its --json output names it)."""
    return json.loads(Path(out["results"]).read_text())


def test_ablate_cmd_cumulative_and_single(screening, tmp_path):
    root, d = screening
    out = _json(runner.invoke(app, ["ablate", "--model", "tiny", "--emotion", "gratitude", "--screening", d["screening_all"],
                                    "--ks", "1,2", "--n-random", "1", "--limit", "4", "--runs-root", str(tmp_path), "--json"]))
    res = _results(out)["ablations"][0]
    assert [r["k"] for r in res["rows"]] == [1, 2] and [h["name"] for h in out["headline"]][0].startswith("gratitude: zero-ablate top 1")
    assert res["rows"][0]["p_floor"] == 0.5 and res["split"]["n"] == 4
    out = _json(runner.invoke(app, ["ablate", "--model", "tiny", "--emotion", "gratitude", "--screening", d["screening_all"],
                                    "--ks", "1", "--n-random", "3", "--mode", "resample", "--limit", "4", "--runs-root", str(tmp_path),
                                    "--json"]))
    res = _results(out)["ablations"][0]
    assert res["rows"][0]["n_random_draws"] == 3 and res["split"]["reference"] == "neutral reference sentences (n=70)"
    out = _json(runner.invoke(app, ["ablate", "--model", "tiny", "--emotion", "gratitude", "--screening", d["screening_all"],
                                    "--ks", "1,2", "--n-random", "1", "--limit", "4", "--generate", "3", "--max-new-tokens", "3",
                                    "--runs-root", str(tmp_path), "--json"]))
    g = _results(out)["generation"][0]
    assert g["n_prompts"] == 3 and len(g["heads"]) == 2 and set(g["effect"]) == {"vader_compound", "vader_neg", "kw_gratitude"}
    assert len(g["continuations"]["intervened"]) == 3
    # --heads without --ks: the given heads ablated together (k = 2) vs layer-matched random pairs; a readable table.
    r = runner.invoke(app, ["ablate", "--model", "tiny", "--heads", "L0H1,L1H0", "--mode", "mean", "--limit", "4",
                            "--runs-root", str(tmp_path)])
    assert r.exit_code == 0, r.output
    assert "gratitude: mean-ablate top 2 heads" in r.stdout and "layer-matched random 2-head sets" in r.stdout


def test_patch_heads_and_activations_cmd(tmp_path):
    out = _json(runner.invoke(app, ["patch-heads", "--model", "tiny", "--heads", "L1H2", "--modes", "v_only,z", "--limit", "3",
                                    "--n-random", "0", "--runs-root", str(tmp_path), "--json"]))
    res = _results(out)["patching"][0]
    assert [r["mode"] for r in res["results"]] == ["v_only", "z"] and res["n_pairs"] == 3
    out = _json(runner.invoke(app, ["patch-heads", "--model", "tiny", "--heads", "L1H2", "--modes", "v_only,z", "--limit", "3",
                                    "--n-random", "1", "--generate", "2", "--max-new-tokens", "3", "--runs-root", str(tmp_path), "--json"]))
    gens = _results(out)["patching"][0]["generation"]
    assert [g["config"]["mode"] for g in gens] == ["v_only", "z"] and gens[0]["n_prompts"] == 2
    assert gens[0]["reference_mean"] is not None
    out = _json(runner.invoke(app, ["patch-activations", "--model", "tiny", "--kinds", "resid_pre", "--layers", "1",
                                    "--limit", "2", "--runs-root", str(tmp_path), "--json"]))
    res = json.loads(Path(out["results"]).read_text())
    assert res["strongest"]["resid_pre"]["layer"] == 1 and res["n_pairs"] == 2
    assert out["headline"][0]["name"] == "gratitude: strongest resid_pre cell (normalised)"
    assert out["headline"][0]["value"] == res["strongest"]["resid_pre"]["value"]
    assert (Path(out["run_dir"]) / "figures" / "activation_patching_gratitude_resid_pre.html").exists()


def test_ovqk_and_attention_view_cmd(screening, tmp_path):
    root, d = screening
    out = _json(runner.invoke(app, ["ovqk", "--model", "tiny", "--screening", d["screening"], "--top", "1",
                                    "--runs-root", str(tmp_path), "--json"]))
    res = json.loads(Path(out["results"]).read_text())
    assert [h["name"] for h in res["heads"]] == [d["headline"][0]["note"].split(" ")[0]]  # the top gratitude head
    assert res["emotion"] == "gratitude" and [r["name"] for r in res["roles"]] == [res["heads"][0]["name"]]
    assert out["headline"][0]["name"] == "gratitude head #1: OV write along the emotion vector (emotion − neutral)"
    out = _json(runner.invoke(app, ["ovqk", "--model", "tiny", "--heads", "L0H1,L1H2", "--emotion", "anger",
                                    "--runs-root", str(tmp_path), "--json"]))
    res = json.loads(Path(out["results"]).read_text())
    assert [h["name"] for h in res["heads"]] == ["L0H1", "L1H2"] and res["roles"] == [] and len(res["composition"]) == 1
    assert out["text"].startswith("Heads L0H1, L1H2 (given).")
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
    (["ovqk"], "give --heads"),
    (["ovqk", "--heads", "L0H1", "--emotion", "joy"], "emotion 'joy' has no sentences to report on"),
    (["screen-heads", "--split-fraction", "1.5"], "split fraction must be strictly between 0 and 1"),
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


def test_circuits_cmd_measures_outside_the_screenings_selection(tmp_path):
    """Heads screened on some sentences are measured on the others: the sentences a screening recorded as its selection
    split are left out of what ablate / patch-heads evaluate (so `screen-heads` → `ablate --screening` just works)."""
    from interp.datasets import load_dataset

    ds = load_dataset("baseline")
    ids = [r.id for r in ds.by_emotion("gratitude")][:5] + [r.id for r in ds.by_emotion("neutral")][:3]
    n_l, n_h = 2, 4
    zeros = [[[0.0] * n_h for _ in range(n_l)]]
    delta = [[[0.1 * (l * n_h + h) for h in range(n_h)] for l in range(n_l)]]
    path = tmp_path / "screening.json"
    path.write_text(json.dumps({"emotions": ["gratitude"], "delta": delta, "lo": zeros, "hi": zeros, "p": zeros, "p_holm": zeros,
                                "n_emotion": [70], "n_neutral": 70, "config": {"model": "tiny", "selection_ids": ids}}))
    for cmd in (["ablate", "--ks", "1", "--n-random", "3"], ["patch-heads", "--modes", "z", "--n-random", "3"]):
        r = subprocess.run([sys.executable, "-m", "experiments.cli", *cmd, "--screening", str(path), "--model", "tiny",
                            "--runs-root", str(tmp_path), "--json"], capture_output=True, text=True, timeout=300)
        assert r.returncode == 0, r.stderr
        text = Path(json.loads(r.stdout)["results"]).read_text()
        assert '"gratitude-' in text, "results.json lists the evaluated sentence ids"
        assert not any(f'"{i}"' in text for i in ids), f"{cmd[0]} evaluated a sentence of the screening's selection split"
