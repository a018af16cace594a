import numpy as np
import pytest
import torch

from frozen_llm_modules.encoder import SIGNALS, Conversation, EmotionEncoder
from frozen_llm_modules.memory import EmotionalMemory
from frozen_llm_modules.state import EmotionalState


def test_encoder_default_rule():
    enc = EmotionEncoder()
    s = enc.encode({"entropy": 0.4, "negative_feedback": 1.0, "positive_feedback": 0.0, "novelty": 0.2,
                    "repeat_unsatisfied": 1.0, "failures": 0.5})
    assert s.fear == pytest.approx(0.7) and s.curiosity == pytest.approx(0.2)
    assert s.frustration == pytest.approx(0.8) and s.joy == 0.0


def test_encoder_fit_learns_labelled_contexts():
    torch.manual_seed(0)
    x = torch.rand(200, len(SIGNALS))
    w = torch.rand(4, len(SIGNALS)) * 0.3
    y = (x @ w.T).clamp(0, 1)
    enc = EmotionEncoder()
    before = float(((enc.linear(x) - y) ** 2).mean().detach())
    enc.fit(x, y, steps=400)
    assert float(((enc.linear(x) - y) ** 2).mean().detach()) < before / 10


def test_encoder_signals_from_conversation_and_memory(tiny_model, tmp_path):
    enc = EmotionEncoder()
    conv = Conversation()
    mem = EmotionalMemory(tmp_path / "m.db")
    s0 = enc.signals(tiny_model, "my printer is broken", conv, mem)
    assert s0["novelty"] == 1.0 and s0["repeat_unsatisfied"] == 0.0 and 0 < s0["entropy"] <= 1
    conv.record(s0["_embedding"], feedback=-1)
    mem.add("my printer is broken", s0["_embedding"], EmotionalState(), -1.0)
    s1 = enc.signals(tiny_model, "my printer is broken", conv, mem)
    assert s1["repeat_unsatisfied"] == pytest.approx(1.0, abs=1e-5) and s1["novelty"] == pytest.approx(0.0, abs=1e-5)
    assert s1["negative_feedback"] == 1.0 and enc.encode(s1).fear >= 0.5
    assert isinstance(s1["_embedding"], np.ndarray)
