"""Module 1: learned virtual-token prefix produced from the emotional state.

The attached model prepends ``n_virtual`` placeholder tokens; a hook on ``hook_embed``
replaces their embeddings with ``base + state @ delta`` (per virtual token).
"""

import torch
from jaxtyping import Float
from torch import Tensor, nn

from frozen_llm_modules.state import EMOTIONS


class EmotionalPrefix(nn.Module):
    """Virtual-token embeddings ``P(s) = base + sum_e s_e * delta_e`` of shape [n_virtual, d_model]."""

    kind = "prefix"
    hook_name = "hook_embed"

    def __init__(self, d_model: int, n_virtual: int = 8):
        super().__init__()
        self.d_model, self.n_virtual = d_model, n_virtual
        self.base = nn.Parameter(torch.zeros(n_virtual, d_model))
        self.delta = nn.Parameter(torch.zeros(len(EMOTIONS), n_virtual, d_model))

    def config(self) -> dict:
        return {"d_model": self.d_model, "n_virtual": self.n_virtual}

    @classmethod
    def for_model(cls, model, *, n_virtual: int = 8, init_text: str = " Answer the question in a few sentences.") -> "EmotionalPrefix":
        """Start ``base`` from the embeddings of ``init_text`` (repeated/truncated), ``delta`` at zero."""
        p = cls(model.cfg.d_model, n_virtual)
        ids = model.tokenizer(init_text, add_special_tokens=False)["input_ids"] or [0]
        ids = (ids * n_virtual)[:n_virtual]
        with torch.no_grad():
            p.base.copy_(model.W_E[torch.tensor(ids)].float())
        return p

    def embeddings(self, state: Tensor) -> Float[Tensor, "batch n_virtual d_model"]:
        s = state if state.dim() == 2 else state[None]
        return self.base[None] + torch.einsum("be,end->bnd", s.to(self.base.dtype), self.delta)

    def hooks(self, get_state) -> list[tuple[str, object]]:
        return [(self.hook_name, replace_prefix_hook(self, get_state))]


def replace_prefix_hook(prefix: EmotionalPrefix, get_state):
    """Hook overwriting the first ``n_virtual`` positions of the token embeddings with the prefix.

    A call with at most ``n_virtual`` positions is a KV-cached decoding step (the prefix is already in
    the cache), and passes through unchanged.
    """

    def replace_prefix(emb: Float[Tensor, "batch pos d_model"], hook) -> Float[Tensor, "batch pos d_model"]:
        if emb.shape[1] <= prefix.n_virtual:
            return emb
        p = prefix.embeddings(get_state().to(emb.device)).to(emb.dtype).expand(emb.shape[0], -1, -1)
        return torch.cat([p, emb[:, prefix.n_virtual:]], dim=1)

    return replace_prefix
