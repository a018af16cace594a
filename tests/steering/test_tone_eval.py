"""evaluate_tone on the tiny model: systems × tones, CIs, disjointness, capability and the saved run folder."""

import json

import numpy as np
import pytest
import torch

from interp.errors import ConfigError
from interp.hook_names import resid_pre
from steering.generation import GenerationConfig
from steering.tone import ToneAgent
from steering.tone_control import LabelControl
from steering.tone_eval import evaluate_tone


@pytest.fixture
def agent(tiny_model):
    def control(label, col, seed):
        vec = torch.randn(tiny_model.cfg.d_model, generator=torch.Generator().manual_seed(seed))
        return LabelControl(label, vec, 1, resid_pre(1), 4.0, "raw", col, 0.0, 0.5, 1e9, True, "test")

    controls = {"gratitude": control("gratitude", "vader_compound", 0), "anger": control("anger", "vader_neg", 1)}
    return ToneAgent(tiny_model, controls, chat=False, config=GenerationConfig(max_new_tokens=5))


def test_evaluate_tone_reports_every_system_and_tone(agent, tmp_path):
    prompts = ["Hello there", "How do I cook rice?", "Tell me about trains"]
    rep = evaluate_tone(agent, prompts, ["gratitude=0.8", "anger=0.5,gratitude=0"], budget=2, calibration_prompts=["Other prompt"],
                        capability_texts=["The bus leaves at noon.", "Rain is expected later."], n_boot=50)
    assert {(s.system, s.tone) for s in rep.stats} == {(s, t) for s in ("agent", "none", "prompting")
                                                       for t in ("gratitude=0.8", "anger=0.5,gratitude=0")}
    none = rep.stat("none", "gratitude=0.8")
    assert none.effect_raw.value == 0 and none.ppl_ratio.value == pytest.approx(1.0)  # no control vs itself
    agent_stats = rep.stat("agent", "gratitude=0.8")
    assert 1 <= agent_stats.attempts.value <= 2 and agent_stats.hit_rate.lo <= agent_stats.hit_rate.value <= agent_stats.hit_rate.hi
    assert len(rep.replies) == 3 * 2 * 3 and len(rep.comparisons) == 2 * 2
    cap = {(r["tone"], r["system"]): r for r in rep.capability["rows"]}
    assert cap[("gratitude=0.8", "none")]["ratio"]["value"] == pytest.approx(1.0)
    assert cap[("gratitude=0.8", "agent")]["ratio"]["value"] != pytest.approx(1.0)  # steering moves held-out perplexity
    out = rep.save(tmp_path / "run")
    res = json.loads((out / "results.json").read_text())
    assert res["config"]["n_prompts"] == 3 and len((out / "replies.jsonl").read_text().splitlines()) == 18
    assert rep.headline() and all(len(t.rows) for t in rep.tables()[:2])


def test_evaluate_tone_refuses_calibration_prompts_and_bad_systems(agent):
    with pytest.raises(ConfigError, match="calibration prompts"):
        evaluate_tone(agent, ["Hello there"], ["warm"], calibration_prompts=["  hello THERE "])
    with pytest.raises(ConfigError, match="systems"):
        evaluate_tone(agent, ["Hello there"], ["warm"], systems=["agent", "none", "module"])
    with pytest.raises(ConfigError, match="repeat"):
        evaluate_tone(agent, ["Hello there"], ["warm", "warm"])
    with pytest.raises(ConfigError, match="budget"):
        evaluate_tone(agent, ["Hello there"], ["warm"], budget=0)


def test_evaluate_tone_none_is_shared_across_tones(agent):
    rep = evaluate_tone(agent, ["Hello there", "Good morning"], ["gratitude=1", "anger=1"], systems=["agent", "none"], n_boot=20)
    texts = {t: [r["text"] for r in rep.replies if r["system"] == "none" and r["tone"] == t] for t in ("gratitude=1", "anger=1")}
    assert texts["gratitude=1"] == texts["anger=1"]
    assert np.isfinite(rep.stat("agent", "anger=1").tone_error.value)
