"""The tone page as a notebook widget (ipywidgets): a slider per label, a prompt, and the three replies with their scores.

``tone_widget(agent)`` shows it in Jupyter; releasing a slider or pressing Reply runs ``agent.compare`` once (see
:mod:`steering.tone_request`) and fills one pane per system and a scores table. Model text is HTML-escaped.
ipywidgets is optional: ``pip install 'emotion-circuits[notebook]'``.
"""

import html
import json
from collections.abc import Mapping

from interp.errors import ConfigError, EmotionCircuitsError
from steering.tone_page import DEFAULT_PROMPT, SLIDER_STEP
from steering.tone_request import TITLES, agent_labels, parse_request, run_request


def _ipywidgets():
    try:
        import ipywidgets  # noqa: PLC0415 - optional
    except ImportError:
        raise ConfigError("the tone widget needs ipywidgets; pip install 'emotion-circuits[notebook]' (or pip install ipywidgets)") from None
    return ipywidgets


class ToneWidget:
    """Sliders (one per label, 0–1), a prompt box, a Reply button, one pane per system and a scores table.

    Attributes:
        sliders: {label: FloatSlider}.
        prompt: the Textarea holding the prompt.
        panes: {system: HTML} for the systems of the last reply.
        replies: the last replies ({system: reply dict}); empty before the first or after an error.
        box: the top-level widget (displayed by Jupyter when the object is the cell's value).
    """

    def __init__(self, agent, *, prompt: str = DEFAULT_PROMPT, auto: bool = True) -> None:
        w = _ipywidgets()
        self._w = w
        self.agent = agent
        self.labels = agent_labels(agent)
        self.sliders = {lab: w.FloatSlider(value=0.0, min=0.0, max=1.0, step=SLIDER_STEP, description=lab, continuous_update=False,
                                           readout_format=".2f") for lab in self.labels}
        self.prompt = w.Textarea(value=prompt, description="prompt", layout=w.Layout(width="100%"))
        self.button = w.Button(description="Reply", button_style="primary")
        self.status = w.HTML("move a slider or press Reply")
        self.panes: dict[str, object] = {}
        self.pane_box = w.HBox([])
        self.scores = w.HTML("")
        self.replies: dict[str, dict] = {}
        self.button.on_click(lambda _b: self.reply())
        if auto:
            for s in self.sliders.values():
                s.observe(lambda _change: self.reply(), names="value")
        self.box = w.VBox([self.prompt, *self.sliders.values(), w.HBox([self.button, self.status]), self.pane_box, self.scores])

    def levels(self) -> dict[str, float]:
        """The sliders' levels, {label: level in [0, 1]}."""
        return {lab: float(s.value) for lab, s in self.sliders.items()}

    def reply(self) -> dict[str, dict]:
        """Run the agent for the current prompt and levels and show the replies; a user error is shown, not raised."""
        try:
            req = parse_request({"prompt": self.prompt.value, "levels": self.levels()}, self.labels)
            self.status.value = "replying…"
            self.replies = run_request(self.agent, req)
        except EmotionCircuitsError as exc:
            self.replies = {}
            self.status.value = f"<span style='color:#b02a26'>error: {html.escape(str(exc))}</span>"
            return {}
        self.panes = {s: self._w.HTML(reply_html(s, r), layout=self._w.Layout(flex="1 1 0")) for s, r in self.replies.items()}
        self.pane_box.children = tuple(self.panes.values())
        self.scores.value = scores_html(self.replies)
        self.status.value = html.escape("replied for " + ", ".join(f"{k}={v:.2f}" for k, v in req.levels.items()))
        return self.replies

    def _repr_mimebundle_(self, **kwargs):
        return self.box._repr_mimebundle_(**kwargs)


def tone_widget(agent, *, prompt: str = DEFAULT_PROMPT, auto: bool = True) -> ToneWidget:
    """A :class:`ToneWidget` over ``agent``; ``auto`` replies whenever a slider is released (else only on Reply)."""
    return ToneWidget(agent, prompt=prompt, auto=auto)


def reply_html(system: str, reply: Mapping) -> str:
    """One system's pane: title, the reply text (escaped) and, folded, its interventions (one per line)."""
    iv = reply.get("interventions") or []
    details = "<br>".join(html.escape(json.dumps(x) if isinstance(x, dict) else str(x)) for x in iv) if iv else "no interventions"
    return (f"<div class='tone-reply' data-system='{html.escape(system, quote=True)}'><b>{html.escape(TITLES.get(system, system))}</b>"
            f"<div style='white-space:pre-wrap;background:#f4f6f9;padding:6px;border-radius:4px'>{html.escape(reply['text'])}</div>"
            f"<details><summary>interventions</summary><small>{details}</small></details></div>")


def scores_html(replies: Mapping[str, Mapping]) -> str:
    """A table: one row per score column, one column per system, values to 3 decimals (– where missing)."""
    columns = list(dict.fromkeys(c for r in replies.values() for c in r.get("scores", {})))
    head = "".join(f"<th>{html.escape(TITLES.get(s, s))}</th>" for s in replies)
    rows = "".join(f"<tr><th style='text-align:left'>{html.escape(c)}</th>"
                   + "".join(f"<td>{_fmt(r.get('scores', {}).get(c))}</td>" for r in replies.values()) + "</tr>" for c in columns)
    return f"<table class='tone-scores'><thead><tr><th>score</th>{head}</tr></thead><tbody>{rows}</tbody></table>"


def _fmt(v: object) -> str:
    return f"{v:.3f}" if isinstance(v, (int, float)) and not isinstance(v, bool) else "–"
