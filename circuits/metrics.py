"""Logit metrics for circuit experiments.

``emotion_logprob``: log-probability that the next token after a sentence's last real
token is the first token of one of the emotion's words (``interp.lexicon.EMOTION_WORDS``,
each with and without a leading space), i.e. ``logsumexp`` of the log-softmax over that
token set. It measures how strongly the model is set to continue with an emotion word.

``normalised``: ``(patched - corrupted) / (clean - corrupted)``: 0 = corrupted run, 1 = clean run.
"""

from collections.abc import Sequence

import torch
from jaxtyping import Float
from torch import Tensor

from interp.errors import ConfigError
from interp.lexicon import EMOTION_WORDS


def emotion_token_ids(model, emotion: str) -> list[int]:
    """Distinct first-token ids of the emotion's words (with and without a leading space, capitalised too)."""
    if emotion not in EMOTION_WORDS:
        raise ConfigError(f"unknown emotion {emotion!r}; choose one of {', '.join(EMOTION_WORDS)}")
    ids: set[int] = set()
    for w in EMOTION_WORDS[emotion]:
        for form in (w, " " + w, w.capitalize(), " " + w.capitalize()):
            toks = model.tokenizer(form, add_special_tokens=False)["input_ids"]
            if toks:
                ids.add(int(toks[0]))
    return sorted(ids)


def emotion_logprob(logits: Float[Tensor, "batch pos d_vocab"], end_positions: Sequence[int],
                    token_ids: Sequence[int]) -> Float[Tensor, "batch"]:
    """Per row: log P(next token ∈ token_ids) at that row's (padded) end position."""
    rows = torch.arange(logits.shape[0], device=logits.device)
    last = logits[rows, torch.as_tensor(list(end_positions), device=logits.device)].float()
    logp = torch.log_softmax(last, dim=-1)
    return torch.logsumexp(logp[:, list(token_ids)], dim=-1)


def normalised(patched: float | Tensor, clean: float, corrupted: float) -> float | Tensor:
    """0 = corrupted, 1 = clean; raises when clean and corrupted give the same metric."""
    denom = clean - corrupted
    if abs(float(denom)) < 1e-9:
        raise ConfigError("clean and corrupted runs give the same metric; the normalised metric is undefined "
                          "(choose clean/corrupted inputs that differ)")
    return (patched - corrupted) / denom
