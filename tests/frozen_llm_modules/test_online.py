"""Online adaptation loop: scripted user, state reacts to feedback, reward-model path updates modules."""

import json

import torch

from frozen_llm_modules import EmotionalRewardModel, EmotionSteeringModule
from frozen_llm_modules.attach import EmotionalLLM
from frozen_llm_modules.online import AdaptationReport, run_adaptation_study, run_online_adaptation, scripted_user


def test_scripted_user_rates_by_marker():
    user = scripted_user("questions")
    assert user("What did you try?") == 1 and user("Do this.") == -1


def test_online_adaptation_runs_with_and_without_reward_model(tiny_model):
    torch.manual_seed(0)
    st = EmotionSteeringModule.for_model(tiny_model)
    with torch.no_grad():
        st.vectors.normal_()
    llm = EmotionalLLM(tiny_model, steering=st)
    rm = EmotionalRewardModel.for_model(tiny_model, hidden=4)
    before_st, before_rm = st.vectors.clone(), [p.clone() for p in rm.parameters()]
    run = run_online_adaptation(llm, ["fix it", "fix it now"], marker="alternatives", reward_model=rm, max_episodes=3,
                                n_candidates=2, max_new_tokens=3)
    n = len(run.feedback)
    assert run.with_reward_model and n == (run.episodes_to_recover or 3)
    for i in range(1, n):  # negative feedback raises fear in the next episode's state
        if run.feedback[i - 1] < 0:
            assert run.states[i]["fear"] >= 0.5 * sum(f < 0 for f in run.feedback[max(0, i - 4):i]) / min(i, 4) - 1e-6
    assert not torch.equal(st.vectors, before_st)
    assert any(not torch.equal(a, b) for a, b in zip(before_rm, rm.parameters()))
    plain = run_online_adaptation(llm, ["fix it"], marker="alternatives", max_episodes=2, max_new_tokens=3)
    assert not plain.with_reward_model and len(plain.answers) == len(plain.feedback) <= 2


def test_online_adaptation_stores_episodes_in_memory_and_novelty_drops(tiny_model, tmp_path):
    from frozen_llm_modules.memory import EmotionalMemory

    llm = EmotionalLLM(tiny_model, steering=EmotionSteeringModule.for_model(tiny_model))
    mem = EmotionalMemory(tmp_path / "m.sqlite", model_name="tiny")
    run = run_online_adaptation(llm, ["fix it"], marker="questions", memory=mem,
                                max_episodes=3, streak=5, max_new_tokens=2)
    assert len(mem) == len(run.feedback) == 3
    assert run.states[0]["curiosity"] == 1.0 and run.states[1]["curiosity"] < 0.01  # same prompt again: not novel


def test_online_loop_reads_the_memory(tiny_model, tmp_path):
    """A frustration episode already stored for the prompt raises the first episode's frustration."""
    from frozen_llm_modules.encoder import query_signals
    from frozen_llm_modules.memory import EmotionalMemory
    from frozen_llm_modules.state import EmotionalState

    llm = EmotionalLLM(tiny_model, steering=EmotionSteeringModule.for_model(tiny_model))
    first = {}
    for name, state in (("frustrated", EmotionalState(frustration=1.0)), ("calm", EmotionalState())):
        mem = EmotionalMemory(tmp_path / f"{name}.sqlite", model_name="tiny")
        mem.add("fix it now", query_signals(tiny_model, "fix it now")[1], state, -1.0)
        run = run_online_adaptation(llm, ["fix it now"], marker="questions", memory=mem, max_episodes=1, max_new_tokens=2)
        first[name] = run.states[0]
    assert first["frustrated"]["frustration"] >= first["calm"]["frustration"] + 0.4


def test_adaptation_study_report_per_condition(tiny_model, tmp_path):
    seen = []
    mods = {"steering": EmotionSteeringModule.for_model(tiny_model), "reward": EmotionalRewardModel.for_model(tiny_model, hidden=4)}
    r = run_adaptation_study(tiny_model, mods, marker="questions", n_runs=1, max_episodes=1, n_candidates=2, max_new_tokens=1,
                             memory_dir=tmp_path, on_run=lambda name, i, run: seen.append((name, i)))
    assert isinstance(r, AdaptationReport) and r.modules == ["steering", "reward"]
    assert seen == [("without_reward_model", 0), ("with_reward_model", 0)]
    assert set(r.episodes_to_recover) == {"without_reward_model", "with_reward_model"}
    assert sorted(p.name for p in tmp_path.glob("memory-*.sqlite")) == ["memory-with_reward_model-0.sqlite",
                                                                       "memory-without_reward_model-0.sqlite"]
    r.save(tmp_path / "out")
    res = json.loads((tmp_path / "out" / "results.json").read_text())
    assert res["runs"]["with_reward_model"][0]["with_reward_model"] and len(r.headline()) == 2
