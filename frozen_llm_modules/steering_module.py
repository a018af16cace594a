"""Module 3: one trainable steering vector per emotion, added to the residual stream scaled by the state."""

import torch
from jaxtyping import Float
from torch import Tensor, nn

from frozen_llm_modules.state import EMOTIONS, ModuleError
from interp.hook_names import resid_pre, validate_layer

#: Default map from the geometry issue's dataset emotions to the module's emotions.
DEFAULT_VECTOR_MAP = {"joy": "gratitude", "frustration": "anger", "fear": "apology"}


class EmotionSteeringModule(nn.Module):
    """``resid_pre(layer) += state @ V`` with ``V`` [4, d_model]; zero state is an exact no-op (~0.002 % of params)."""

    kind = "steering"

    def __init__(self, d_model: int, layer: int, n_layers: int):
        super().__init__()
        validate_layer(layer, n_layers)
        self.d_model, self.layer, self.n_layers = d_model, layer, n_layers
        self.vectors = nn.Parameter(torch.zeros(len(EMOTIONS), d_model))

    def config(self) -> dict:
        return {"d_model": self.d_model, "layer": self.layer, "n_layers": self.n_layers}

    @classmethod
    def for_model(cls, model, *, layer: int | None = None) -> "EmotionSteeringModule":
        n = model.cfg.n_layers
        return cls(model.cfg.d_model, n // 3 if layer is None else layer, n)

    def init_from_vectors(self, vectors, *, mapping: dict[str, str] | None = None, model=None, scale: float = 1.0) -> None:
        """Copy ``steering.vectors.EmotionVector``s into the rows named by ``mapping`` (module emotion → vector emotion)."""
        mapping = DEFAULT_VECTOR_MAP if mapping is None else mapping
        by_emotion = {v.emotion: v for v in vectors}
        with torch.no_grad():
            for target, source in mapping.items():
                if target not in EMOTIONS:
                    raise ModuleError(f"mapping target {target!r} is not one of {EMOTIONS}")
                if source not in by_emotion:
                    raise ModuleError(f"no vector for emotion {source!r}; the file has {sorted(by_emotion)}")
                v = by_emotion[source]
                if v.d_model != self.d_model or v.layer != self.layer or v.hook != resid_pre(self.layer):
                    raise ModuleError(f"vector {source!r} is for {v.hook} (d_model {v.d_model}); this module steers "
                                      f"{resid_pre(self.layer)} (d_model {self.d_model}); compute vectors at that hook")
                if model is not None:
                    v.check_compatible(model, v.hook)
                self.vectors[list(EMOTIONS).index(target)] = v.vector.float() * scale

    def hooks(self, get_state) -> list[tuple[str, object]]:
        return [(resid_pre(self.layer), add_state_vector_hook(self.vectors, get_state))]


def add_state_vector_hook(vectors: Float[Tensor, "emotion d_model"], get_state):
    """Hook adding ``state @ vectors`` at every position; ``get_state()`` returns a [4] or [batch, 4] tensor."""

    def add_state_vector(resid: Float[Tensor, "batch pos d_model"], hook) -> Float[Tensor, "batch pos d_model"]:
        s = get_state().to(resid.device, resid.dtype)
        delta = s @ vectors.to(resid.dtype)
        return resid + (delta[:, None, :] if delta.dim() == 2 else delta)

    return add_state_vector
