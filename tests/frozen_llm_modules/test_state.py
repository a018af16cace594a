import pytest

from frozen_llm_modules.state import EMOTIONS, EmotionalState, ModuleError


@pytest.mark.parametrize("bad", [-0.1, 1.01, float("nan"), float("inf")])
def test_emotional_state_rejects_values_outside_unit_interval(bad):
    with pytest.raises(ModuleError, match="outside"):
        EmotionalState(fear=bad)


def test_emotional_state_parse_and_tensor_order():
    s = EmotionalState.parse("joy=0.25, fear=1")
    assert s.to_tensor().tolist() == [1.0, 0.0, 0.0, 0.25]
    assert s.dominant() == "fear" and EmotionalState().dominant() == "neutral"
    assert list(s.to_dict()) == list(EMOTIONS)
    for bad in ("anger=0.5", "fear", "fear=x", "fear=2"):
        with pytest.raises(ModuleError):
            EmotionalState.parse(bad)
