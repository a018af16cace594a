"""Emotion encoder: documented signals of a conversation → an :class:`EmotionalState`, with a trainable map.

Signals (each in [0, 1]):

* ``entropy`` — mean next-token predictive entropy of the frozen model over the query, / ln(d_vocab);
* ``negative_feedback`` / ``positive_feedback`` — share of −1 / +1 among the last ``window`` feedbacks;
* ``novelty`` — 1 − max cosine similarity of the query embedding to the memory's episodes;
* ``repeat_unsatisfied`` — max cosine similarity of the query to recent queries that got −1;
* ``failures`` — share of the last ``window`` turns reported as failures;
* ``recalled_fear`` … ``recalled_joy``, ``recalled_negative`` — what the emotional memory recalls for this
  context (:meth:`~frozen_llm_modules.memory.EmotionalMemory.recall`: the stored states of the episodes
  whose text is nearest, scaled by that similarity, and the same weighting of their negative rewards);
  0 without a memory or when nothing similar is stored.

Default rule (the trainable linear map's initial weights, output clipped to [0, 1]):
fear = 0.5·entropy + 0.5·negative_feedback + 0.5·recalled_fear + 0.25·recalled_negative;
curiosity = novelty (a recalled context is by definition not novel, so recalled_curiosity starts at weight 0);
frustration = 0.6·repeat_unsatisfied + 0.4·failures + 0.5·recalled_frustration; joy = positive_feedback + 0.5·recalled_joy.
Encoders saved before the recall signals existed load with zero weights on them.
Phase 1 (:meth:`EmotionEncoder.fit`) refits the map on labelled (signals, state) pairs.
"""

import math
from dataclasses import dataclass, field

import numpy as np
import torch
from torch import nn

from frozen_llm_modules.memory import Recall
from frozen_llm_modules.state import EMOTIONS, EmotionalState
from interp.hook_names import resid_post

RECALL_SIGNALS = ("recalled_fear", "recalled_curiosity", "recalled_frustration", "recalled_joy", "recalled_negative")
SIGNALS = ("entropy", "negative_feedback", "positive_feedback", "novelty", "repeat_unsatisfied", "failures", *RECALL_SIGNALS)
RULE = {"fear": {"entropy": 0.5, "negative_feedback": 0.5, "recalled_fear": 0.5, "recalled_negative": 0.25},
        "curiosity": {"novelty": 1.0},
        "frustration": {"repeat_unsatisfied": 0.6, "failures": 0.4, "recalled_frustration": 0.5},
        "joy": {"positive_feedback": 1.0, "recalled_joy": 0.5}}


@dataclass
class Conversation:
    """Running context the encoder reads: past (query embedding, feedback, failed) turns."""

    window: int = 4
    turns: list = field(default_factory=list)  # (embedding np.ndarray, feedback int, failed bool)

    def record(self, embedding, feedback: int = 0, failed: bool = False) -> None:
        self.turns.append((np.asarray(embedding, dtype=np.float32), int(feedback), bool(failed)))


@torch.no_grad()
def query_signals(model, text: str, layer: int | None = None) -> tuple[float, np.ndarray]:
    """(normalised predictive entropy, mean resid_post embedding) of ``text`` under the frozen model."""
    layer = model.cfg.n_layers // 2 if layer is None else layer
    toks = model.to_tokens(text)
    name = resid_post(layer)
    logits, cache = model.run_with_cache(toks, names_filter=[name])
    lp = torch.log_softmax(logits[0].float(), -1)
    ent = float(-(lp.exp() * lp).sum(-1).mean()) / math.log(logits.shape[-1])
    return min(max(ent, 0.0), 1.0), cache[name][0, 1:].float().mean(0).numpy()


def _cos(a: np.ndarray, b: np.ndarray) -> float:
    return float(a @ b / (np.linalg.norm(a) * np.linalg.norm(b) + 1e-12))


class EmotionEncoder(nn.Module):
    """Linear map signals [6] → state [4], initialised to :data:`RULE`, output clipped to [0, 1]."""

    kind = "encoder"

    def __init__(self):
        super().__init__()
        self.linear = nn.Linear(len(SIGNALS), len(EMOTIONS))
        with torch.no_grad():
            self.linear.weight.zero_()
            self.linear.bias.zero_()
            for i, e in enumerate(EMOTIONS):
                for s, w in RULE[e].items():
                    self.linear.weight[i, SIGNALS.index(s)] = w

    def config(self) -> dict:
        return {"signals": list(SIGNALS)}

    def forward(self, signals: torch.Tensor) -> torch.Tensor:
        return self.linear(signals).clamp(0.0, 1.0)

    def signals(self, model, text: str, conv: Conversation, memory=None) -> dict[str, float]:
        """The signals of :data:`SIGNALS` for ``text`` (plus ``_embedding`` and ``_recall``, the memory's :class:`Recall`)."""
        ent, emb = query_signals(model, text)
        rec = memory.recall(text) if memory is not None else Recall.nothing()
        recent = conv.turns[-conv.window:]
        n = max(len(recent), 1)
        unsat = [t[0] for t in conv.turns[-conv.window:] if t[1] < 0]
        return {
            "entropy": ent,
            "negative_feedback": sum(t[1] < 0 for t in recent) / n,
            "positive_feedback": sum(t[1] > 0 for t in recent) / n,
            "novelty": memory.novelty(emb) if memory is not None else 1.0,
            "repeat_unsatisfied": max((max(_cos(emb, u), 0.0) for u in unsat), default=0.0),
            "failures": sum(t[2] for t in recent) / n,
            **{f"recalled_{e}": getattr(rec.state, e) for e in EMOTIONS},
            "recalled_negative": rec.negative,
            "_embedding": emb,
            "_recall": rec,
        }

    @torch.no_grad()
    def encode(self, signals: dict[str, float]) -> EmotionalState:
        x = torch.tensor([[float(signals.get(s, 0.0)) for s in SIGNALS]])
        v = self(x)[0].tolist()
        return EmotionalState(**{e: float(min(max(x_, 0.0), 1.0)) for e, x_ in zip(EMOTIONS, v)})

    def fit(self, signals: torch.Tensor, targets: torch.Tensor, *, steps: int = 500, lr: float = 0.05) -> list[float]:
        """Phase 1: least squares (Adam) from labelled signals [n, 6] to target states [n, 4]."""
        opt = torch.optim.Adam(self.parameters(), lr=lr)
        losses = []
        for _ in range(steps):
            loss = ((self.linear(signals) - targets) ** 2).mean()
            opt.zero_grad()
            loss.backward()
            opt.step()
            losses.append(float(loss.detach()))
        return losses
