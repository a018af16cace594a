"""Module 5: emotional reward model — a small head on frozen features predicting feedback; best-of-N reranking."""

import torch
from jaxtyping import Float
from torch import Tensor, nn

from frozen_llm_modules.state import EMOTIONS


@torch.no_grad()
def response_features(llm, prompts: list[str], responses: list[str]) -> Float[Tensor, "batch d_model"]:
    """Mean final-layer residual over each response's tokens, from the frozen base (modules off)."""
    from interp.hook_names import resid_post

    model = llm.model
    b = llm.encode(prompts, responses)
    name = resid_post(model.cfg.n_layers - 1)
    _, cache = model.run_with_cache(b.tokens, attention_mask=b.attention_mask, names_filter=[name])
    acts = cache[name].float()
    m = b.loss_mask.roll(1, dims=1)  # positions of the response tokens themselves
    m[:, 0] = 0
    return (acts * m[..., None]).sum(1) / m.sum(1, keepdim=True).clamp_min(1)


class EmotionalRewardModel(nn.Module):
    """``P(positive feedback | features, state)`` = sigmoid(MLP([features / scale, state]))."""

    kind = "reward"

    def __init__(self, d_model: int, hidden: int = 64):
        super().__init__()
        self.d_model, self.hidden = d_model, hidden
        self.register_buffer("scale", torch.ones(d_model))
        self.net = nn.Sequential(nn.Linear(d_model + len(EMOTIONS), hidden), nn.GELU(), nn.Linear(hidden, 1))

    def config(self) -> dict:
        return {"d_model": self.d_model, "hidden": self.hidden}

    @classmethod
    def for_model(cls, model, *, hidden: int = 64) -> "EmotionalRewardModel":
        return cls(model.cfg.d_model, hidden)

    def forward(self, feats: Float[Tensor, "batch d_model"], states: Float[Tensor, "batch 4"]) -> Float[Tensor, "batch"]:
        """Logit of positive feedback."""
        return self.net(torch.cat([feats / self.scale, states], -1))[:, 0]

    def fit(self, feats: Tensor, states: Tensor, labels: Tensor, *, steps: int = 300, lr: float = 3e-3,
            weight_decay: float = 1e-3, set_scale: bool = True) -> list[float]:
        """Full-batch logistic training on (features, state, label∈{0,1}); returns the loss curve."""
        if set_scale:
            with torch.no_grad():
                self.scale.copy_(feats.std(0).clamp_min(1e-3))
        opt = torch.optim.AdamW(self.parameters(), lr=lr, weight_decay=weight_decay)
        losses = []
        for _ in range(steps):
            loss = nn.functional.binary_cross_entropy_with_logits(self(feats, states), labels.float())
            opt.zero_grad()
            loss.backward()
            opt.step()
            losses.append(float(loss.detach()))
        return losses

    def update(self, feats: Tensor, states: Tensor, labels: Tensor, *, steps: int = 20, lr: float = 1e-2) -> float:
        """Online update from a few new feedback labels (keeps the feature scale)."""
        return self.fit(feats, states, labels, steps=steps, lr=lr, set_scale=False)[-1]

    @torch.no_grad()
    def score(self, feats: Tensor, states: Tensor) -> Tensor:
        return torch.sigmoid(self(feats, states))


def best_of_n(llm, rm: EmotionalRewardModel, prompt: str, *, n: int = 4, max_new_tokens: int = 24,
              temperature: float = 0.9, seed: int = 0, safety_bias: bool = False) -> tuple[str, list[str], list[float]]:
    """Sample ``n`` candidates under the current state/modules, return (best, candidates, scores)."""
    cands = llm.generate([prompt] * n, max_new_tokens=max_new_tokens, temperature=temperature, seed=seed,
                         safety_bias=safety_bias)
    feats = response_features(llm, [prompt] * n, cands)
    st = llm.state_tensor().reshape(-1, len(EMOTIONS))[:1].expand(n, -1)
    scores = rm.score(feats, st).tolist()
    best = max(range(n), key=lambda i: scores[i])
    return cands[best], cands, scores
