"""The notebook tone widget: sliders drive the tiny-model tone agent, panes and the scores table show its replies escaped."""

import html
import sys

import pytest

from interp.errors import ConfigError
from steering.tone_widget import ToneWidget, reply_html, scores_html, tone_widget
from tests.interp.test_figures import PAYLOAD
from tests.steering.tone_fixtures import RecordingAgent, tiny_tone_agent

ipywidgets = pytest.importorskip("ipywidgets", reason="the notebook widget needs ipywidgets (pip install 'emotion-circuits[notebook]')")


@pytest.fixture
def agent(tiny_model):
    return RecordingAgent(tiny_tone_agent(tiny_model))


def test_tone_widget_has_a_slider_per_label(agent):
    w = tone_widget(agent, prompt="Thank you")
    assert list(w.sliders) == ["gratitude", "anger"]
    assert all((s.min, s.max, s.value) == (0.0, 1.0, 0.0) for s in w.sliders.values())
    assert isinstance(w.box, ipywidgets.VBox) and w.prompt.value == "Thank you"
    assert w.replies == {} and agent.calls == [], "nothing runs before the user acts"
    assert w._repr_mimebundle_()["application/vnd.jupyter.widget-view+json"]["model_id"] == w.box.model_id, "Jupyter shows the box"


def test_tone_widget_moving_a_slider_replies_and_shows_the_scores(agent):
    w = tone_widget(agent, prompt="Thank you")
    w.sliders["gratitude"].value = 0.5
    assert len(agent.calls) == 1
    prompt, levels, replies = agent.calls[-1]
    assert (prompt, levels) == ("Thank you", {"gratitude": 0.5, "anger": 0.0})
    assert list(w.replies) == ["agent", "none", "prompting"] and list(w.panes) == ["agent", "none", "prompting"]
    assert w.pane_box.children == tuple(w.panes.values())
    for system, reply in replies.items():
        assert w.replies[system] == reply.to_dict()
        assert html.escape(reply.text) in w.panes[system].value
    shown = {s: r.to_dict()["scores"] for s, r in replies.items()}
    for column in shown["agent"]:
        cells = "".join("<td>–</td>" if shown[s].get(column) is None else f"<td>{shown[s][column]:.3f}</td>" for s in shown)
        assert f"<th style='text-align:left'>{column}</th>{cells}</tr>" in w.scores.value
    assert "gratitude=0.50, anger=0.00" in w.status.value


def test_tone_widget_button_uses_the_current_prompt_and_levels(agent):
    w = ToneWidget(agent, auto=False)
    w.sliders["anger"].value = 0.25
    assert agent.calls == [], "auto=False: sliders alone do not reply"
    w.prompt.value = "I am angry that"
    w.button.click()
    assert agent.calls[-1][:2] == ("I am angry that", {"gratitude": 0.0, "anger": 0.25})
    assert [d["label"] for d in w.replies["agent"]["interventions"]] == ["anger"]


def test_tone_widget_shows_a_user_error_instead_of_raising(agent):
    w = ToneWidget(agent, auto=False)
    w.prompt.value = "   "
    assert w.reply() == {} and agent.calls == []
    assert "error: the prompt is empty" in w.status.value


def test_tone_widget_html_escapes_model_text():
    reply = {"text": PAYLOAD, "system": "agent", "interventions": [{"label": PAYLOAD}], "scores": {PAYLOAD: 1.0, "missing": None}}
    pane, table = reply_html(PAYLOAD, reply), scores_html({"agent": reply})
    assert PAYLOAD not in pane and PAYLOAD not in table and "<script" not in pane + table
    assert html.escape(PAYLOAD) in pane and f"<th style='text-align:left'>{html.escape(PAYLOAD)}</th><td>1.000</td>" in table
    assert "<td>–</td>" in table


def test_tone_widget_without_ipywidgets_says_how_to_install(agent, monkeypatch):
    monkeypatch.setitem(sys.modules, "ipywidgets", None)  # makes `import ipywidgets` raise ImportError
    with pytest.raises(ConfigError, match=r"pip install 'emotion-circuits\[notebook\]'"):
        tone_widget(agent)


def test_tone_widget_refuses_a_non_agent():
    with pytest.raises(ConfigError, match="is not a tone agent"):
        tone_widget(object())
