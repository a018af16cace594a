"""The emotional state: four intensities in [0, 1] that condition every module."""

import math
from dataclasses import asdict, dataclass

import torch

from interp.errors import ConfigError

EMOTIONS = ("fear", "curiosity", "frustration", "joy")


class ModuleError(ConfigError):
    """A module file, kind, state or base-model mismatch is invalid (message says how to fix it)."""


class ModuleProvenanceError(ModuleError):
    """A module meets a base model other than the one it was trained on (name, source hash or weight hash)."""


@dataclass(frozen=True)
class EmotionalState:
    """Fear, curiosity, frustration and joy, each in [0, 1]; all zero is the neutral state."""

    fear: float | int = 0.0
    curiosity: float | int = 0.0
    frustration: float | int = 0.0
    joy: float | int = 0.0

    def __post_init__(self) -> None:
        for name in EMOTIONS:
            v = getattr(self, name)
            if not isinstance(v, (int, float)) or not math.isfinite(v) or not 0.0 <= v <= 1.0:
                raise ModuleError(f"emotional state {name}={v!r} is outside [0, 1]; give a number between 0 and 1")
            object.__setattr__(self, name, float(v))

    @classmethod
    def neutral(cls) -> "EmotionalState":
        return cls()

    @classmethod
    def only(cls, emotion: str, level: float = 1.0) -> "EmotionalState":
        """State with one emotion at ``level`` and the others at 0."""
        if emotion not in EMOTIONS:
            raise ModuleError(f"unknown emotion {emotion!r}; choose one of {', '.join(EMOTIONS)}")
        return cls(**{emotion: level})

    @classmethod
    def from_dict(cls, d: dict) -> "EmotionalState":
        bad = set(d) - set(EMOTIONS)
        if bad:
            raise ModuleError(f"unknown emotion(s) {sorted(bad)} in state; valid: {', '.join(EMOTIONS)}")
        return cls(**{k: float(v) for k, v in d.items()})

    @classmethod
    def parse(cls, text: str) -> "EmotionalState":
        """Parse ``"fear=0.8,joy=0.1"`` (CLI form)."""
        d = {}
        for part in (p.strip() for p in text.split(",") if p.strip()):
            if "=" not in part:
                raise ModuleError(f"--state must look like 'fear=0.8,joy=0.1', got {text!r}")
            k, v = part.split("=", 1)
            try:
                d[k.strip()] = float(v)
            except ValueError:
                raise ModuleError(f"--state value for {k.strip()!r} must be a number in [0, 1], got {v!r}") from None
        return cls.from_dict(d)

    def to_tensor(self) -> torch.Tensor:
        """Shape [4] float32 in the order of :data:`EMOTIONS`."""
        return torch.tensor([getattr(self, e) for e in EMOTIONS], dtype=torch.float32)

    def to_dict(self) -> dict:
        return asdict(self)

    def dominant(self) -> str:
        vals = self.to_dict()
        best = max(vals, key=vals.get)
        return best if vals[best] > 0 else "neutral"

    def __str__(self) -> str:
        return " ".join(f"{e}={getattr(self, e):.2f}" for e in EMOTIONS)
