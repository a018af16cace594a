"""CLI: train-module / chat / eval-module on the tiny model, and bad input → one line, exit code 2."""

import json
import os
import subprocess
import sys

import pytest

ENV = {**os.environ, "HF_HUB_OFFLINE": "1"}


def _cli(*args, stdin: str | None = None):
    return subprocess.run([sys.executable, "-m", "experiments.cli", *args], input=stdin, capture_output=True, text=True,
                          env=ENV, timeout=300)


@pytest.fixture(scope="module")
def steering_dir(tmp_path_factory):
    root = tmp_path_factory.mktemp("mods")
    r = _cli("train-module", "--kind", "steering", "--model", "tiny", "--steps", "2", "--batch-size", "2",
             "--out", str(root / "steering"), "--runs-root", str(root / "runs"), "--json")
    assert r.returncode == 0, r.stderr
    report = json.loads(r.stdout)
    assert report["weights_unchanged"] and report["trainable_params"] == 4 * 32 and report["steps"] == 2
    return root / "steering"


def test_train_module_unknown_kind_exits_2():
    r = _cli("train-module", "--kind", "lora", "--model", "tiny")
    assert r.returncode == 2 and "--kind must be one of" in r.stderr and "Traceback" not in r.stderr


def test_chat_piped_stdin_shows_state_and_takes_feedback(steering_dir, tmp_path):
    r = _cli("chat", "--modules", str(steering_dir), "--max-new-tokens", "3", "--memory", str(tmp_path / "m.db"),
             "--runs-root", str(tmp_path / "runs"), stdin="my code fails\n-1\nmy code fails\n+1\nquit\n")
    assert r.returncode == 0, r.stderr
    assert r.stdout.count("state: fear=") == 2 and "feedback -1 recorded" in r.stdout and "feedback +1 recorded" in r.stdout
    # chat writes a run folder: a manifest naming the model and a transcript of every turn
    (run,) = (tmp_path / "runs" / "chat").iterdir()
    manifest = json.loads((run / "manifest.json").read_text())
    assert manifest["models"] and "finished_utc" in manifest
    turns = json.loads((run / "transcript.json").read_text())
    assert [t.get("user") for t in turns if "user" in t] == ["my code fails", "my code fails"]
    assert [t["feedback"] for t in turns if "feedback" in t] == [-1, 1]
    assert all(set(t["state"]) >= {"fear", "frustration"} for t in turns if "user" in t)
    states = [line for line in r.stdout.splitlines() if line.startswith("state:")]
    frus = [float(s.split("frustration=")[1].split()[0]) for s in states]
    assert frus[1] > frus[0]  # the repeated, unsatisfied query raises frustration


def test_chat_state_outside_unit_interval_exits_2(steering_dir, tmp_path):
    r = _cli("chat", "--modules", str(steering_dir), "--state", "fear=1.5", "--runs-root", str(tmp_path / "runs"), stdin="hi\n")
    assert r.returncode == 2 and "outside [0, 1]" in r.stderr and "Traceback" not in r.stderr


def test_eval_module_corrupt_module_file_exits_2(steering_dir, tmp_path):
    import shutil

    bad = tmp_path / "bad"
    shutil.copytree(steering_dir, bad)
    (bad / "modules.safetensors").write_bytes(b"garbage")
    r = _cli("eval-module", "--modules", str(bad))
    assert r.returncode == 2 and "corrupt" in r.stderr and "Traceback" not in r.stderr


def test_eval_module_reports_styles_perplexity_and_params(steering_dir, tmp_path):
    r = _cli("eval-module", "--modules", str(steering_dir), "--n-prompts", "3", "--max-new-tokens", "2", "--n-texts", "2",
             "--runs-root", str(tmp_path / "runs"), "--json")
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    assert [s["marker"] for s in out["styles"]] == ["hedges", "questions", "alternatives", "warmth"]
    assert all(s["lo"] <= s["diff"] <= s["hi"] and s["topic_lo"] <= s["diff"] <= s["topic_hi"] for s in out["styles"])
    assert set(out["perplexity"]["by_state"]) == {"fear", "curiosity", "frustration", "joy"}
    assert out["perplexity"]["ratio"] == 1.0  # steering at the neutral state is the base model
    assert out["perplexity"]["n_texts"] == 2 and out["params"]["steering"]["trainable"] == 128
    assert out["template_copy_rate"]["base"] == 0.0 and len(out["styles_legacy_lexicons"]) == 4


@pytest.fixture(scope="module")
def reward_dir(tmp_path_factory):
    root = tmp_path_factory.mktemp("reward")
    r = _cli("train-module", "--kind", "reward", "--model", "tiny", "--steps", "5", "--out", str(root / "reward"),
             "--runs-root", str(root / "runs"), "--json")
    assert r.returncode == 0, r.stderr
    report = json.loads(r.stdout)
    assert report["weights_unchanged"] and 0 <= report["heldout"]["auc"]["value"] <= 1
    assert report["heldout"]["chance"] == 0.5 and "auc" in report["shuffled_label_control"]
    return root / "reward"


def test_adapt_module_reports_episodes_with_and_without_reward_model(steering_dir, reward_dir, tmp_path):
    r = _cli("adapt-module", "--modules", str(steering_dir), "--modules", str(reward_dir), "--marker", "questions",
             "--n-runs", "1", "--max-episodes", "2", "--n-candidates", "2", "--max-new-tokens", "3",
             "--runs-root", str(tmp_path / "runs"), "--json")
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    assert set(out["episodes_to_recover"]) == {"without_reward_model", "with_reward_model"}
    assert sorted(out["modules"]) == ["reward", "steering"] and (tmp_path / "runs").exists()


def test_adapt_module_unknown_marker_exits_2(steering_dir):
    r = _cli("adapt-module", "--modules", str(steering_dir), "--marker", "sarcasm")
    assert r.returncode == 2 and "--marker must be one of" in r.stderr and "Traceback" not in r.stderr


def test_train_module_bad_corpus_exits_2(tmp_path):
    bad = tmp_path / "c.jsonl"
    bad.write_text('{"style": "anger", "prompt": "p", "response": "r"}\n')
    r = _cli("train-module", "--kind", "steering", "--model", "tiny", "--corpus", str(bad))
    assert r.returncode == 2 and "style corpus line 1" in r.stderr and "Traceback" not in r.stderr


def test_eval_module_scores_reward_module_by_reranking(reward_dir, tmp_path):
    r = _cli("eval-module", "--modules", str(reward_dir), "--n-prompts", "3", "--max-new-tokens", "2", "--best-of", "2",
             "--runs-root", str(tmp_path / "runs"), "--json")
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    assert [s["marker"] for s in out["rerank"]] == ["hedges", "questions", "alternatives", "warmth"]
    assert "styles" not in out and out["params"]["reward"]["trainable"] > 0
    assert out["rerank_pool"] == "hinted" and out["rerank_candidates"] == 5


def test_eval_module_reranks_the_style_modules_answers_when_given_one(steering_dir, reward_dir, tmp_path):
    r = _cli("eval-module", "--modules", str(steering_dir), "--modules", str(reward_dir), "--n-prompts", "3",
             "--max-new-tokens", "2", "--n-texts", "2", "--runs-root", str(tmp_path / "runs"), "--json")
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    assert out["rerank_pool"] == "modules" and out["rerank_candidates"] == 5 and len(out["styles"]) == 4
    r = _cli("eval-module", "--modules", str(reward_dir), "--pool", "modules", "--n-prompts", "3")
    assert r.returncode == 2 and "needs a prefix, adapter or steering module" in r.stderr and "Traceback" not in r.stderr


def test_chat_reads_stored_frustration_from_memory(steering_dir, tmp_path, tiny_model):
    """chat's first turn already carries the frustration of a stored episode for the same message."""
    from frozen_llm_modules.encoder import query_signals
    from frozen_llm_modules.memory import EmotionalMemory
    from frozen_llm_modules.state import EmotionalState

    frus = {}
    for name, state in (("frustrated", EmotionalState(frustration=1.0)), ("calm", EmotionalState())):
        db = tmp_path / f"{name}.db"
        mem = EmotionalMemory(db, model_name="tiny")
        mem.add("my code fails", query_signals(tiny_model, "my code fails")[1], state, -1.0)
        mem.close()
        r = _cli("chat", "--modules", str(steering_dir), "--max-new-tokens", "2", "--memory", str(db),
                 "--runs-root", str(tmp_path / "runs"), stdin="my code fails\nquit\n")
        assert r.returncode == 0, r.stderr
        line = next(x for x in r.stdout.splitlines() if x.startswith("state:"))
        frus[name] = float(line.split("frustration=")[1].split()[0])
    assert frus["frustrated"] >= frus["calm"] + 0.4


def test_module_provenance_refused_unless_allow_other_model(steering_dir, tmp_path):
    import shutil

    other = tmp_path / "other"
    shutil.copytree(steering_dir, other)
    cfg = json.loads((other / "modules.json").read_text())
    (other / "modules.json").write_text(json.dumps(dict(cfg, base_weights_hash="f" * 64)))
    r = _cli("eval-module", "--modules", str(other), "--n-prompts", "3", "--max-new-tokens", "1", "--n-texts", "2",
             "--runs-root", str(tmp_path / "runs"))
    assert r.returncode == 2 and "weights have changed" in r.stderr and "--allow-other-model" in r.stderr
    assert "Traceback" not in r.stderr
    r = _cli("eval-module", "--modules", str(other), "--allow-other-model", "--n-prompts", "3", "--max-new-tokens", "1",
             "--n-texts", "2", "--runs-root", str(tmp_path / "runs"), "--json")
    assert r.returncode == 0, r.stderr
