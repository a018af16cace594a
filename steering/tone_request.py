"""One request to a tone agent from the page or the notebook widget: checked input in, JSON-safe replies out.

A tone agent is any object with ``labels`` (the controllable labels) and ``compare(prompt, target)`` returning
``{system: reply}`` ("agent", "none", "prompting", optionally "module"), each reply with ``to_dict()``
(text, system, interventions, scores, attempts, latency_s) — :class:`steering.tone.ToneAgent` or a stand-in.
"""

import dataclasses
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

from interp.errors import ConfigError
from steering.tone_target import ToneTarget

MAX_PROMPT_CHARS = 4000
REPLY_ORDER = ("agent", "none", "prompting", "module")
"""Systems in the order they are shown; any other system the agent returns follows."""
TITLES = {"agent": "under control", "none": "no control", "prompting": "prompting", "module": "frozen-LLM module"}


@runtime_checkable
class ToneAgentLike(Protocol):
    """What the page and the widget need from a tone agent."""

    @property
    def labels(self) -> list[str]: ...

    def compare(self, prompt: str, target: ToneTarget) -> Mapping[str, Any]: ...


@dataclass(frozen=True)
class ToneRequest:
    """A checked request: the user's prompt and a level in [0, 1] per named label."""

    prompt: str
    levels: dict[str, float]

    def target(self, agent: ToneAgentLike) -> ToneTarget:
        """The :class:`ToneTarget` for ``agent`` (its attribute and language where it names them)."""
        return ToneTarget(dict(self.levels), attribute=getattr(agent, "attribute", "emotion"), language=getattr(agent, "language", "en"))


def agent_labels(agent: object) -> list[str]:
    """The agent's controllable labels; ConfigError when it is not a tone agent."""
    if not isinstance(agent, ToneAgentLike):
        raise ConfigError(f"{type(agent).__name__} is not a tone agent: it needs .labels and .compare(prompt, target); "
                          "build one with steering.tone.ToneAgent")
    labels = list(agent.labels)
    if not labels:
        raise ConfigError("the tone agent controls no labels; calibrate it on at least one label first")
    return labels


def parse_request(data: object, labels: Sequence[str]) -> ToneRequest:
    """Check ``{"prompt": str, "levels": {label: level}}`` (JSON from the page) against the agent's ``labels``."""
    if not isinstance(data, dict):
        raise ConfigError('the request must be a JSON object {"prompt": "...", "levels": {"gratitude": 0.5}}')
    prompt = data.get("prompt")
    if not isinstance(prompt, str) or not prompt.strip():
        raise ConfigError("the prompt is empty; type a message to reply to")
    if len(prompt) > MAX_PROMPT_CHARS:
        raise ConfigError(f"the prompt is {len(prompt)} characters long; shorten it to at most {MAX_PROMPT_CHARS}")
    levels = data.get("levels")
    if not isinstance(levels, dict) or not levels:
        raise ConfigError(f"'levels' must name at least one label with a level in [0, 1]; labels: {', '.join(labels)}")
    clean = {}
    for label, value in levels.items():
        if label not in labels:
            raise ConfigError(f"unknown tone label {label!r}; this agent controls {', '.join(labels)}")
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or not 0 <= value <= 1:
            raise ConfigError(f"tone level {label}={value!r} is not a number in [0, 1]; 0 is no control, 1 the calibrated top")
        clean[label] = float(value)
    return ToneRequest(prompt, clean)


def run_request(agent: ToneAgentLike, request: ToneRequest) -> dict[str, dict]:
    """``agent.compare`` for the request, each reply as a JSON-safe dict, systems in :data:`REPLY_ORDER`."""
    replies = agent.compare(request.prompt, request.target(agent))
    order = [s for s in REPLY_ORDER if s in replies] + [s for s in replies if s not in REPLY_ORDER]
    return {str(s): reply_dict(replies[s]) for s in order}


def reply_dict(reply: object) -> dict:
    """One reply as a dict with at least ``text`` (str) and ``scores`` ({column: float or None}); NaN/inf become None."""
    if hasattr(reply, "to_dict"):
        data = reply.to_dict()
    elif dataclasses.is_dataclass(reply) and not isinstance(reply, type):
        data = dataclasses.asdict(reply)
    elif isinstance(reply, Mapping):
        data = dict(reply)
    else:
        raise ConfigError(f"the tone agent returned a {type(reply).__name__} as a reply; expected an object with to_dict()")
    data = _json_safe(data)
    data["text"] = str(data.get("text", ""))
    data["scores"] = {str(k): v for k, v in (data.get("scores") or {}).items()}
    return data


def _json_safe(obj: Any) -> Any:
    """Plain JSON values: finite floats (non-finite → None), str keys, lists for tuples; others as their str()."""
    if isinstance(obj, bool) or obj is None or isinstance(obj, (str, int)):
        return obj
    if isinstance(obj, float):
        return obj if math.isfinite(obj) else None
    if isinstance(obj, Mapping):
        return {str(k): _json_safe(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_json_safe(v) for v in obj]
    if hasattr(obj, "item") and callable(obj.item):  # numpy / torch scalars
        try:
            return _json_safe(obj.item())
        except (TypeError, ValueError, RuntimeError):
            pass
    return str(obj)
