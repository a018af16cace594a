"""``emotion-circuits vectors | subspace | align``: real runs on stored activations, and bad input → exit code 2."""

import json
import os
import subprocess
import sys

import pytest
from typer.testing import CliRunner

from experiments.cli import app

ENV = {**os.environ, "HF_HUB_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false"}


def _invoke(args):
    res = CliRunner().invoke(app, args)
    assert res.exit_code == 0, (res.output, res.exception)
    return json.loads(res.stdout)


def _cli(args, tmp_path):
    return subprocess.run([sys.executable, "-m", "experiments.cli", *args, "--runs-root", str(tmp_path / "runs")],
                          capture_output=True, text=True, env=ENV, timeout=300)


@pytest.mark.real
def test_vectors_cli_writes_vectors_figures_and_band(baseline_store, tmp_path):
    out = _invoke(["vectors", "--store", str(baseline_store.path), "--layers", "9-11", "--n-boot", "30", "--n-shuffle", "5",
                   "--n-splits", "5", "--methods", "sentence_end,token", "--no-transfer", "--runs-root", str(tmp_path / "runs"), "--json"])
    assert set(out["band"]) <= {9, 10, 11} and len(out["band"]) == 3 and out["centre"] == out["band"][1]
    at_centre = next(r for r in out["records"] if (r["method"], r["contrast"], r["layer"]) == ("sentence_end", "neutral", out["centre"]))
    cos = at_centre["reliability"]["cosine"][out["pair"]]
    assert cos["lo"] <= cos["value"] <= cos["hi"]
    run = tmp_path / "runs" / "vectors"
    run_dir = next(run.iterdir())
    for f in ["results.json", "vectors/sentence_end_neutral.safetensors", "vectors/token_others.json",
              "figures/norm_profiles.html", "figures/cosine_heatmaps.html", "figures/probe_accuracy.html"]:
        assert (run_dir / f).exists(), f
    res = json.loads((run_dir / "results.json").read_text())
    probe = res["probes"][0]["probe"]
    assert probe["accuracy"]["value"] > probe["chance"] + 0.3  # explicit emotion words make the classes separable
    # Band chosen on the selection split, numbers from the disjoint evaluation split; probes next to text baselines.
    assert out["split"]["method"] == "halves" and res["reported_from"] == "evaluation split"
    assert res["n_selection"] + res["n_evaluation"] == 280
    hp = out["headline_probes"]["sentence_end"]
    assert hp["trained_on"] == "selection split" and hp["n_shuffle"] == 200 and hp["p_floor"] == pytest.approx(1 / 201)
    assert hp["lexicon_rule"]["value"] == 1.0  # every baseline emotion sentence holds one lexicon word
    assert hp["bow"]["value"] > 0.6 and hp["activation_minus_lexicon"]["value"] <= 0.0
    from steering.vectors import load_vectors

    vecs = load_vectors(run_dir / "vectors" / "sentence_end_neutral.safetensors")
    assert len(vecs) == 9 and {v.layer for v in vecs} == {9, 10, 11}


@pytest.mark.real
def test_subspace_cli_reports_overlaps_against_shuffled_and_neutral_nulls(baseline_store, tmp_path):
    out = _invoke(["subspace", "--store", str(baseline_store.path), "--layers", "10,11", "--k", "5", "--n-boot", "5",
                   "--n-shuffle", "20", "--layer-shuffles", "10", "--runs-root", str(tmp_path / "runs"), "--json"])
    first = out["records"][0]
    methods, nxt = first["overlap_sentence_end_vs_token_matched"], first["overlap_next_layer"]
    assert methods["random_analytic"] == pytest.approx(5 / 576)
    # The old claim (adjacent layers far above random k/d) holds for any two subspaces of real activations ...
    assert nxt["old_overlap"] > methods["random_analytic"] * 5
    # ... so the new overlaps come with nulls built by the same procedure, and a p whose floor is printed.
    for o in (methods, nxt):
        assert 0 <= o["shuffled_null"]["lo"] <= o["shuffled_null"]["value"] <= o["shuffled_null"]["hi"] <= 1
        assert o["p_floor"] == pytest.approx(1 / 11) and o["p_floor"] <= o["p_shuffled"] <= 1
    assert out["headline"]["split"] == "evaluation" and out["headline"]["layer"] in (10, 11)


@pytest.mark.real
def test_align_cli_between_layers_passes_self_check(baseline_store, tmp_path):
    out = _invoke(["align", "--model-a", "smollm2-135m", "--store-a", str(baseline_store.path), "--layer-a", "10", "--layer-b", "12",
                   "--n-boot", "20", "--k", "5", "--runs-root", str(tmp_path / "runs"), "--json"])
    assert out["layer_a"] == 10 and out["layer_b"] == 12 and out["d_a"] == out["d_b"] == 576
    for kind in ("ridge", "procrustes"):
        ev = out["maps"][kind]
        assert out["rotation_self_check"][kind]["passed"]
        for e in ev["emotions"]:
            assert ev["cos2_after"][e]["lo"] > ev["cos2_random_map"][e]["hi"]


def test_cli_rejects_emotion_with_one_sentence(tmp_path):
    data = tmp_path / "few.jsonl"
    rows = [{"id": f"n{i}", "text": f"The table has {i} legs.", "emotion": "neutral", "spans": []} for i in range(4)]
    rows.append({"id": "g0", "text": "Thank you so much.", "emotion": "gratitude", "spans": [[0, 5]]})
    data.write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    res = _cli(["vectors", "--model", "tiny", "--profile", str(data)], tmp_path)
    assert res.returncode == 2 and "gratitude" in res.stderr and "Traceback" not in res.stderr


def _tiny_store(tmp_path, name, neutral_texts):
    from interp.activations import extract_activations
    from interp.datasets import load_dataset
    from interp.models import load_model

    rows = [{"id": f"n{i}", "text": t, "emotion": "neutral", "spans": []} for i, t in enumerate(neutral_texts)]
    rows += [{"id": f"g{i}", "text": f"Thank you for the {w}.", "emotion": "gratitude", "spans": [[0, 5]]} for i, w in enumerate(["tea", "map", "pen"])]
    rows += [{"id": f"a{i}", "text": f"I am furious about the {w}.", "emotion": "anger", "spans": [[5, 12]]} for i, w in enumerate(["rent", "noise", "delay"])]
    path = tmp_path / f"{name}.jsonl"
    path.write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    return extract_activations(load_model("tiny", device="cpu"), load_dataset(str(path)), tmp_path / name, hooks=["resid_post"])


def test_align_cli_rejects_stores_without_shared_neutral_sentences(tmp_path):
    a = _tiny_store(tmp_path, "a", [f"The box holds {i} cups." for i in range(6)])
    b = _tiny_store(tmp_path, "b", [f"A road runs {i} miles." for i in range(6)])
    res = _cli(["align", "--model-a", "tiny", "--model-b", "tiny", "--store-a", str(a.path), "--store-b", str(b.path),
                "--layer-a", "0", "--layer-b", "1"], tmp_path)
    assert res.returncode == 2 and "share no neutral sentences" in " ".join(res.stderr.split()) and "Traceback" not in res.stderr


def test_subspace_cli_rejects_k_larger_than_samples(tmp_path):
    a = _tiny_store(tmp_path, "a", [f"The box holds {i} cups." for i in range(6)])
    res = _cli(["subspace", "--store", str(a.path), "--k", "50"], tmp_path)
    assert res.returncode == 2 and "k=50" in res.stderr and "Traceback" not in res.stderr
