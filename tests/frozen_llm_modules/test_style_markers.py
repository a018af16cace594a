import pytest

from frozen_llm_modules.style_markers import has_marker, markers


@pytest.mark.parametrize("text,marker", [
    ("Perhaps you might want to be careful here.", "hedges"),
    ("What have you tried? Why?", "questions"),
    ("Alternatively, try another approach instead.", "alternatives"),
    ("I'm so glad, this is wonderful!", "warmth"),
])
def test_markers_detect_their_style_and_not_plain_text(text, marker):
    assert has_marker(text, marker)
    assert not has_marker("The report lists the numbers for each month.", marker)


def test_markers_are_rates_per_ten_words():
    m = markers("maybe maybe one two three four five six seven eight")
    assert m.hedges == pytest.approx(2.0)
    assert markers("I love this wonderful day").vader > 0.5 > markers("This is awful and terrible").vader
