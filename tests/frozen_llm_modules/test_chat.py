"""ChatSession: messages set the state and are answered; ±1 ratings reach the conversation, memory and transcript."""

import pytest

from frozen_llm_modules import EmotionSteeringModule
from frozen_llm_modules.chat import ChatSession
from frozen_llm_modules.memory import EmotionalMemory
from frozen_llm_modules.state import EmotionalState, ModuleError


def test_chat_session_lines_answers_ratings_and_quit(tiny_model, tmp_path):
    out: list[str] = []
    with ChatSession(tiny_model, {"steering": EmotionSteeringModule.for_model(tiny_model)}, memory=tmp_path / "m.db",
                     max_new_tokens=2) as s:
        assert s.module_names == ["steering"]
        assert s.handle("+1", out.append) and out == ["feedback: nothing to rate yet"]
        assert s.handle("my code fails\n", out.append) and s.handle("-1", out.append) and s.handle("  ", out.append)
        assert not s.handle("quit", out.append)
    assert out[1].startswith("state: fear=") and out[2].startswith("assistant: ") and out[3] == "feedback -1 recorded"
    assert [set(t) for t in s.transcript] == [{"user", "state", "assistant"}, {"feedback"}]
    assert s.memory is None  # closed on exit
    mem = EmotionalMemory(tmp_path / "m.db", model_name="tiny")
    assert len(mem) == 1
    mem.close()


def test_chat_session_fixed_state_and_best_of_needs_reward(tiny_model):
    s = ChatSession(tiny_model, {}, state=EmotionalState(fear=0.5), max_new_tokens=1)
    states: list[EmotionalState] = []
    s.reply("hi", on_state=states.append)
    assert states == [EmotionalState(fear=0.5)]
    with pytest.raises(ModuleError, match="--best-of > 1 needs a reward module"):
        ChatSession(tiny_model, {}, best_of=2)
