"""Tone dialogue and the module baseline: a scripted user's state over turns sets the reply tone; memory keeps the turns."""

import pytest
import torch

from frozen_llm_modules.memory import EmotionalMemory
from frozen_llm_modules.state import EmotionalState
from frozen_llm_modules.tone_dialogue import ToneDialogue, tone_for_state
from frozen_llm_modules.tone_module import tone_prompts, vector_steering_module
from interp.hook_names import resid_pre
from steering.generation import GenerationConfig
from steering.tone import ToneAgent
from steering.tone_control import LabelControl
from steering.tone_target import ToneTarget


@pytest.fixture
def agent(tiny_model):
    def control(label, col, seed):
        vec = torch.randn(tiny_model.cfg.d_model, generator=torch.Generator().manual_seed(seed))
        return LabelControl(label, vec, 1, resid_pre(1), 4.0, "raw", col, 0.0, 0.5, 1e9, True, "test")

    controls = {"gratitude": control("gratitude", "vader_compound", 0), "anger": control("anger", "vader_neg", 1),
                "apology": control("apology", "kw_apology", 2)}
    return ToneAgent(tiny_model, controls, chat=False, config=GenerationConfig(max_new_tokens=4))


def test_tone_for_state_apologises_to_upset_users_and_never_mirrors_anger():
    assert tone_for_state(EmotionalState(frustration=0.9))["apology"] == 0.9
    assert tone_for_state(EmotionalState(joy=1.0))["gratitude"] == 1.0
    assert all(tone_for_state(EmotionalState(frustration=f, joy=j))["anger"] == 0 for f in (0, 1) for j in (0, 1))


def test_scripted_user_changes_the_target_tone(agent, tmp_path):
    db = tmp_path / "memory.sqlite"
    with ToneDialogue(agent, memory=db, budget=1) as d:
        d.turn("Thank you so much, you are wonderful and this is great!")
        d.turn("This is terrible. It broke again and I am furious!", feedback=-1)
        d.turn("It is still broken, this is awful and I hate it.", feedback=-1)
        first, second, third = (t["target"]["levels"] for t in d.transcript)
        assert first["gratitude"] > first["apology"]  # a pleased user: warm reply
        assert second["apology"] > second["gratitude"] and second["anger"] == 0  # an upset user: apologetic, not angry
        assert third["apology"] >= 0.5
        assert [m["role"] for m in d.history] == ["user", "assistant"] * 3
    mem = EmotionalMemory(db)
    eps = mem.episodes()
    assert len(eps) == 3 and [e.reward for e in eps] == [-1.0, -1.0, 0.0]  # each turn stored with the reaction it got
    assert eps[1].state.frustration > eps[0].state.frustration
    mem.close()


def test_vector_module_baseline_follows_the_target(agent, tiny_model):
    mod = vector_steering_module(tiny_model, agent.controls, max_new_tokens=4)
    agent.module = mod
    assert mod.describe(ToneTarget({"gratitude": 0.5}))["state"]["joy"] == 0.5
    warm, none = agent.baseline("Hello", "gratitude=1", "module"), agent.baseline("Hello", "gratitude=0", "module")
    assert warm.system == "module" and warm.text != none.text
    assert mod.capability_hooks(ToneTarget({"gratitude": 1.0}))


def test_tone_prompts_are_disjoint_by_topic():
    cal, ev = tone_prompts("calibration"), tone_prompts("evaluation")
    assert len(ev) == 30 and len(cal) == 30 and not set(cal) & set(ev)
