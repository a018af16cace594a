import pytest

from circuits.causal_report import evaluation_records, p_text, selection_records, signed
from circuits.head_controls import ControlP
from interp.datasets import EmotionRecord
from interp.errors import DatasetError
from interp.stats import Estimate


def _recs(prefix: str, n: int, emotion: str = "gratitude") -> list[EmotionRecord]:
    return [EmotionRecord(f"{prefix}{i}", f"{prefix} sentence number {i}", emotion) for i in range(n)]


def test_signed_and_p_text_formats():
    assert signed(Estimate(0.5, -0.25, 1.0)) == "+0.500 [-0.250, +1.000]"
    assert p_text(None) == "no random control"
    assert p_text(ControlP(1 / 101, 1 / 101, 100, 0, 100)) == "p 0.0099 (floor 0.0099, 100 layer-matched random draws)"
    stopped = p_text(ControlP(0.5, 1 / 101, 20, 10, 100, True))
    assert stopped.startswith("p 0.5 (stopped after 20 of 100") and "not a headline" not in stopped
    assert p_text(ControlP(0.5, 0.5, 1, 0, 1)).endswith("floor above 0.05: not a headline test")


def test_evaluation_records_refuse_overlap_and_shortfall():
    sel, ev = _recs("s", 3), _recs("e", 3)

    class Screening:
        config = {"selection_ids": ["s0", "s2", "missing"]}

    chosen = selection_records(Screening(), sel + ev)
    assert [r.id for r in chosen] == ["s0", "s2"] and selection_records(None, sel) == []
    assert evaluation_records(ev, "gratitude", selected=chosen, need=3) == ev
    with pytest.raises(DatasetError, match="overlap in 1 record"):
        evaluation_records(ev + sel[:1], "gratitude", selected=chosen)
    with pytest.raises(DatasetError, match="has 3 gratitude sentences; 4 are needed; lower it"):
        evaluation_records(ev, "gratitude", need=4, fix="lower it")
