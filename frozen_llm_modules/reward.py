"""Module 5: emotional reward model — a small head on frozen features predicting feedback; best-of-N reranking."""

import numpy as np
import torch
from jaxtyping import Float
from sklearn.metrics import balanced_accuracy_score, roc_auc_score
from torch import Tensor, nn

from frozen_llm_modules.state import EMOTIONS, EmotionalState
from frozen_llm_modules.style_corpus import STYLE_EMOTION
from interp.hook_names import resid_post
from interp.stats import bootstrap_ci


@torch.no_grad()
def response_features(llm, prompts: list[str], responses: list[str]) -> Float[Tensor, "batch d_model"]:
    """Mean final-layer residual over each response's tokens, from the frozen base (modules off)."""
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

    def forward(self, feats: Float[Tensor, "batch d_model"], states: Float[Tensor, "batch 4"]) -> Float[Tensor, " batch"]:
        """Logit of positive feedback."""
        return self.net(torch.cat([feats / self.scale, states], -1))[:, 0]

    def fit(self, feats: Tensor, states: Tensor, labels: Tensor, *, steps: int = 300, lr: float = 3e-3,
            weight_decay: float = 1e-3, set_scale: bool = True, balance: bool = False) -> list[float]:
        """Full-batch logistic training on (features, state, label∈{0,1}); returns the loss curve.

        ``balance`` weighs positives by #negatives / #positives, so that 0 on the logit scale separates the
        classes even when (as in the style corpus) three of four states are negatives.
        """
        if set_scale:
            with torch.no_grad():
                self.scale.copy_(feats.std(0).clamp_min(1e-3))
        opt = torch.optim.AdamW(self.parameters(), lr=lr, weight_decay=weight_decay)
        y = labels.float()
        pos_weight = ((1 - y).sum() / y.sum().clamp_min(1)).reshape(1) if balance else None
        losses = []
        for _ in range(steps):
            loss = nn.functional.binary_cross_entropy_with_logits(self(feats, states), y, pos_weight=pos_weight)
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


def reward_training_data(rows: list[dict]) -> tuple[list[str], list[str], Tensor, Tensor]:
    """Pairs for the reward model: (prompt, response of style s) is positive under state s, negative under the others."""
    prompts, responses, states, labels = [], [], [], []
    for r in rows:
        for e in EMOTIONS:
            prompts.append(r["prompt"])
            responses.append(r["response"])
            states.append(EmotionalState.only(e, 1.0).to_tensor())
            labels.append(float(STYLE_EMOTION[r["style"]] == e))
    return prompts, responses, torch.stack(states), torch.tensor(labels)


def corpus_features(llm, rows: list[dict]) -> tuple[Tensor, Tensor, Tensor]:
    """Reward-model inputs from style-corpus rows: (features [n·4, d_model], states [n·4, 4], labels [n·4]).

    Every (prompt, response) pair appears under each emotion's full state, labelled 1 when the state is
    the response's own style; features are computed once per pair.
    """
    p, r, s, y = reward_training_data(rows)
    uniq = list(dict.fromkeys(zip(p, r)))
    f = torch.cat([response_features(llm, [a for a, _ in uniq[i:i + 32]], [b for _, b in uniq[i:i + 32]])
                   for i in range(0, len(uniq), 32)])
    index = {k: i for i, k in enumerate(uniq)}
    return f[[index[k] for k in zip(p, r)]], s, y


def heldout_metrics(rm: EmotionalRewardModel, feats: Tensor, states: Tensor, labels: Tensor, *, seed: int = 0) -> dict:
    """Balanced accuracy and ROC AUC of ``rm`` on held-out rows, each with a bootstrap CI (chance: 0.5)."""
    with torch.no_grad():
        logit = rm(feats, states).numpy()
    y = labels.numpy().astype(int)
    xy = np.column_stack([logit, y])

    def auc(a):
        return roc_auc_score(a[:, 1], a[:, 0]) if 0 < a[:, 1].sum() < len(a) else float("nan")

    def bacc(a):
        return balanced_accuracy_score(a[:, 1], a[:, 0] > 0)

    return {"auc": bootstrap_ci(xy, auc, n_boot=1000, seed=seed).to_dict(),
            "balanced_accuracy": bootstrap_ci(xy, bacc, n_boot=1000, seed=seed).to_dict(), "chance": 0.5,
            "n_heldout": int(len(y)), "positives": int(y.sum())}
