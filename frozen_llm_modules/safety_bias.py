"""The seed's ``apply_safety_bias``: above a fear threshold, raise the logits of hedging tokens.

Hedge words (each biased as its first token, with and without a leading space and capitalised):
perhaps, maybe, might, may, possibly, probably, likely, careful, carefully, caution,
cautious, consider, depends, unsure, uncertain, however, generally, usually, seems,
suggest, recommend, safe, safely, risk, check.
"""

from jaxtyping import Float
from torch import Tensor

HEDGE_WORDS = ("perhaps", "maybe", "might", "may", "possibly", "probably", "likely", "careful", "carefully", "caution",
               "cautious", "consider", "depends", "unsure", "uncertain", "however", "generally", "usually", "seems",
               "suggest", "recommend", "safe", "safely", "risk", "check")


def hedge_token_ids(tokenizer, words=HEDGE_WORDS) -> list[int]:
    """First token id of each hedge word in its ' word', 'word', ' Word' and 'Word' spellings (deduplicated)."""
    ids: set[int] = set()
    for w in words:
        for form in (f" {w}", w, f" {w.capitalize()}", w.capitalize()):
            toks = tokenizer(form, add_special_tokens=False)["input_ids"]
            if toks:
                ids.add(int(toks[0]))
    return sorted(ids)


def apply_safety_bias(logits: Float[Tensor, "... d_vocab"], fear: float, token_ids: list[int], *,
                      threshold: float = 0.3, strength: float = 4.0) -> Float[Tensor, "... d_vocab"]:
    """Add ``strength * (fear - threshold) / (1 - threshold)`` to ``token_ids`` when ``fear > threshold``.

    Returns a new tensor; below the threshold the logits come back unchanged (same values).
    """
    if fear <= threshold or not token_ids:
        return logits
    out = logits.clone()
    out[..., token_ids] += strength * (fear - threshold) / (1.0 - threshold)
    return out
