"""A target tone: a level in [0, 1] per label of the attribute registry, parsed from text or a named preset.

``parse_target("gratitude=0.8,anger=0")`` or ``parse_target("warm")``. Labels are the non-reference labels of an
attribute (:mod:`interp.attributes`; English emotion by default: gratitude, anger, apology) that have a target score
column. A level is a point on the calibrated scale of :mod:`steering.tone`: 0 = what the model does without control,
1 = what steering at the top of the label's usable α window does.
"""

import math
from dataclasses import dataclass

from interp.attributes import get_attribute
from interp.errors import ConfigError

PRESETS: dict[str, dict[str, float]] = {
    "neutral": {"gratitude": 0.0, "anger": 0.0, "apology": 0.0},
    "warm": {"gratitude": 0.8, "anger": 0.0},
    "angry": {"anger": 0.8, "gratitude": 0.0},
    "apologetic": {"apology": 0.8, "anger": 0.0},
}
"""Named tones (levels of the English emotion labels). A label a preset leaves out is not controlled."""

ADJECTIVES = {"gratitude": "grateful", "anger": "angry", "apology": "apologetic"}
"""How the prompting baseline names a label in its instruction (labels not listed are named as they are)."""


def tone_labels(attribute: str = "emotion", language: str = "en") -> tuple[str, ...]:
    """Labels a tone may name: the attribute's non-reference labels that have a target score column."""
    spec = get_attribute(attribute).language(language)
    return tuple(lab for lab in spec.contrast_labels if lab in spec.targets)


@dataclass(frozen=True)
class ToneTarget:
    """Wanted level per label, each in [0, 1] (0 = no more than without control, 1 = the window top's effect).

    Attributes:
        levels: label → level; labels not named are left uncontrolled (but their scores are still reported).
        name: a preset's name, or the text it was parsed from.
    """

    levels: dict[str, float]
    name: str = ""
    attribute: str = "emotion"
    language: str = "en"

    def __post_init__(self) -> None:
        allowed = tone_labels(self.attribute, self.language)
        if not self.levels:
            raise ConfigError(f"a tone target needs at least one label; give e.g. 'gratitude=0.8' (labels: {', '.join(allowed)}) "
                              f"or a preset ({', '.join(PRESETS)})")
        clean = {}
        for label, level in self.levels.items():
            if label not in allowed:
                raise ConfigError(f"unknown tone label {label!r}; choose from {', '.join(allowed)} (attribute {self.attribute!r}, "
                                  f"language {self.language!r}) or a preset ({', '.join(PRESETS)})")
            try:
                v = float(level)
            except (TypeError, ValueError):
                raise ConfigError(f"tone level {label}={level!r} is not a number; give a level in [0, 1]") from None
            if not math.isfinite(v) or not 0.0 <= v <= 1.0:
                raise ConfigError(f"tone level {label}={level} is outside [0, 1]; give a level between 0 (no control) and 1 "
                                  "(the top of the calibrated window)")
            clean[label] = v
        object.__setattr__(self, "levels", clean)
        object.__setattr__(self, "name", self.name or ",".join(f"{k}={v:g}" for k, v in clean.items()))

    @property
    def labels(self) -> list[str]:
        return list(self.levels)

    @property
    def main(self) -> str:
        """The label with the highest level (first on ties): the one a single-number summary reports."""
        return max(self.levels, key=lambda k: self.levels[k])

    def instruction(self) -> str:
        """The prompting baseline's system instruction asking for this tone in words."""
        parts = []
        for label, v in self.levels.items():
            adj = ADJECTIVES.get(label, label)
            if v <= 0:
                parts.append(f"not {adj}")
            else:
                parts.append(f"{'very ' if v >= 0.67 else 'slightly ' if v < 0.34 else ''}{adj}")
        return f"You are a helpful assistant. Reply in a tone that is {' and '.join(parts)}."

    def to_dict(self) -> dict:
        return {"name": self.name, "levels": dict(self.levels), "attribute": self.attribute, "language": self.language}


def parse_target(text: str | dict | ToneTarget) -> ToneTarget:
    """A :class:`ToneTarget` from ``"gratitude=0.8,anger=0"``, a preset name (:data:`PRESETS`), a dict or a target."""
    if isinstance(text, ToneTarget):
        return text
    if isinstance(text, dict):
        return ToneTarget(dict(text))
    if not isinstance(text, str) or not text.strip():
        raise ConfigError(f"tone target is empty; give 'LABEL=LEVEL,…' (e.g. 'gratitude=0.8,anger=0') or a preset: {', '.join(PRESETS)}")
    s = text.strip()
    if s in PRESETS:
        return ToneTarget(dict(PRESETS[s]), name=s)
    levels: dict[str, float] = {}
    for part in (p.strip() for p in s.split(",")):
        label, eq, value = part.partition("=")
        if not part or not eq or not label.strip() or not value.strip():
            raise ConfigError(f"tone target {text!r} is malformed; write 'LABEL=LEVEL,…' (e.g. 'gratitude=0.8,anger=0') or a preset: "
                              f"{', '.join(PRESETS)}")
        if label.strip() in levels:
            raise ConfigError(f"tone target {text!r} names {label.strip()!r} twice; give each label once")
        try:
            levels[label.strip()] = float(value)
        except ValueError:
            raise ConfigError(f"tone level {part!r} is not a number; give a level in [0, 1]") from None
    return ToneTarget(levels, name=s)
