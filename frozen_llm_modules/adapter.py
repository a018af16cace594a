"""Module 2: bottleneck adapters on chosen layers whose channels are gated by the emotional state."""

import torch
from jaxtyping import Float
from torch import Tensor, nn

from frozen_llm_modules.state import EMOTIONS
from interp.hook_names import resid_post, validate_layer


class GatedEmotionAdapter(nn.Module):
    """Per layer: ``resid + (gelu(resid @ down + b) * (s @ G)) @ up`` — emotional gating of the bottleneck.

    ``G`` [4, rank] starts block-diagonal (each emotion opens its own ``rank / 4`` channels), so the
    emotions begin with separate adapters that share ``down``; it is trained with the rest. ``up`` starts
    at zero and the gate is linear in the state without bias, so the neutral state (all zeros) leaves
    the residual stream bit-identical. (A first version gated the whole output by one scalar per layer and
    added the state to the bottleneck input; on smollm2 it learned the styles but ignored the state.)
    """

    kind = "adapter"

    def __init__(self, d_model: int, layers: list[int], n_layers: int, rank: int = 32):
        super().__init__()
        for layer in layers:
            validate_layer(layer, n_layers)
        self.d_model, self.layers, self.n_layers, self.rank = d_model, list(layers), n_layers, rank
        k = len(EMOTIONS)
        self.down = nn.Parameter(torch.randn(len(layers), d_model, rank) / d_model**0.5)
        self.down_bias = nn.Parameter(torch.zeros(len(layers), rank))
        self.up = nn.Parameter(torch.zeros(len(layers), rank, d_model))
        block = torch.zeros(k, rank) if rank >= k else torch.ones(k, rank)  # below k channels every emotion shares them
        if rank >= k:
            for j in range(rank):
                block[j * k // rank, j] = 1.0
        self.gate = nn.Parameter(block.expand(len(layers), -1, -1).clone())

    def config(self) -> dict:
        return {"d_model": self.d_model, "layers": self.layers, "n_layers": self.n_layers, "rank": self.rank}

    @classmethod
    def for_model(cls, model, *, layers: list[int] | None = None, rank: int = 32) -> "GatedEmotionAdapter":
        n = model.cfg.n_layers
        return cls(model.cfg.d_model, list(range(n // 3, n)) if layers is None else layers, n, rank)

    def hooks(self, get_state) -> list[tuple[str, object]]:
        return [(resid_post(layer), gated_adapter_hook(self, i, get_state)) for i, layer in enumerate(self.layers)]


def gated_adapter_hook(adapter: GatedEmotionAdapter, i: int, get_state):
    """Hook applying the ``i``-th layer's adapter, its channels gated by ``get_state()`` ([4] or [batch, 4])."""

    def apply_gated_adapter(resid: Float[Tensor, "batch pos d_model"], hook) -> Float[Tensor, "batch pos d_model"]:
        s = get_state().to(resid.device, resid.dtype)
        s2 = s if s.dim() == 2 else s[None].expand(resid.shape[0], -1)
        h = torch.nn.functional.gelu(resid @ adapter.down[i].to(resid.dtype) + adapter.down_bias[i].to(resid.dtype))
        gate = (s2 @ adapter.gate[i].to(resid.dtype))[:, None, :]
        return resid + (h * gate) @ adapter.up[i].to(resid.dtype)

    return apply_gated_adapter
