"""Tokenise sentences with padding and locate positions from character offsets.

Positions are always reported in *unpadded* coordinates: index 0 is the first token
of the sequence (BOS when the model prepends one), ``end`` is the last real token, and
``spans`` are the tokens whose character offsets overlap an emotion-word span. For a
row of a padded batch, the padded index is ``pos + left_pad[row]``.
"""

from collections.abc import Sequence
from dataclasses import dataclass

import torch
from jaxtyping import Int
from torch import Tensor

from interp.errors import DatasetError


@dataclass(frozen=True)
class TokenizedBatch:
    """A padded batch and, per row, its length, left padding, end position and span positions."""

    tokens: Int[Tensor, "batch pos"]
    attention_mask: Int[Tensor, "batch pos"]
    lengths: tuple[int, ...]
    left_pad: tuple[int, ...]
    span_positions: tuple[tuple[int, ...], ...]
    padding_side: str

    @property
    def end_positions(self) -> tuple[int, ...]:
        """Last real token of each row, unpadded coordinates."""
        return tuple(n - 1 for n in self.lengths)

    def padded(self, row: int, pos: int) -> int:
        """Padded index of unpadded position ``pos`` in ``row``."""
        return pos + self.left_pad[row]


def _bos_id(model) -> int | None:
    tok = model.tokenizer
    if getattr(model.cfg, "default_prepend_bos", True) and tok.bos_token_id is not None:
        return int(tok.bos_token_id)
    return None


def prepends_bos(model) -> bool:
    """True when the model's sequences start with a BOS token."""
    return _bos_id(model) is not None


def token_ids_and_offsets(model, text: str) -> tuple[list[int], list[tuple[int, int]]]:
    """Token ids of ``text`` as the model sees it (BOS prepended if the model does) and char offsets.

    The BOS token gets offset ``(0, 0)``. Matches ``model.to_tokens(text)`` (tested).
    """
    enc = model.tokenizer(text, add_special_tokens=False, return_offsets_mapping=True)
    ids = list(enc["input_ids"])
    offsets = [tuple(o) for o in enc["offset_mapping"]]
    bos = _bos_id(model)
    if bos is not None:
        ids = [bos] + ids
        offsets = [(0, 0)] + offsets
    return ids, offsets


def span_token_positions(offsets: Sequence[tuple[int, int]], spans: Sequence[tuple[int, int]]) -> tuple[int, ...]:
    """Token indices whose character range overlaps any ``[start, end)`` span (zero-width tokens skipped)."""
    out = []
    for i, (a, b) in enumerate(offsets):
        if b <= a:
            continue
        if any(a < s_end and b > s_start for s_start, s_end in spans):
            out.append(i)
    return tuple(out)


def tokenize_batch(model, texts: Sequence[str], spans: Sequence[Sequence[tuple[int, int]]] | None = None,
                   *, padding_side: str = "right") -> TokenizedBatch:
    """Tokenise ``texts`` into one padded batch with per-row positions.

    Args:
        model: a bridge with a HF tokenizer.
        texts: the sentences.
        spans: per text, character spans of emotion words (``None`` → no spans).
        padding_side: ``"right"`` or ``"left"``.
    """
    if padding_side not in ("left", "right"):
        raise DatasetError(f"padding_side must be 'left' or 'right', got {padding_side!r}")
    if not texts:
        raise DatasetError("cannot tokenise an empty list of texts")
    spans = spans if spans is not None else [()] * len(texts)
    rows, span_pos = [], []
    for text, sp in zip(texts, spans, strict=True):
        ids, offsets = token_ids_and_offsets(model, text)
        if not ids:
            raise DatasetError(f"text {text!r} tokenises to nothing")
        positions = span_token_positions(offsets, sp)
        if sp and not positions:
            raise DatasetError(f"no token overlaps the emotion-word span(s) {list(sp)} of {text!r}")
        rows.append(ids)
        span_pos.append(positions)
    tokens, mask, left = pad_rows(model, rows, padding_side=padding_side)
    return TokenizedBatch(tokens, mask, tuple(len(r) for r in rows), left, tuple(span_pos), padding_side)


def pad_rows(model, rows: Sequence[Sequence[int]], *, padding_side: str = "right") -> tuple[Tensor, Tensor, tuple[int, ...]]:
    """Pad token-id rows with the tokenizer's pad id (else EOS): ``(tokens, attention_mask, left_pad)``, each ``[batch pos]``."""
    tok = model.tokenizer
    pad = tok.pad_token_id if tok.pad_token_id is not None else (tok.eos_token_id or 0)
    width = max(len(r) for r in rows)
    tokens = torch.full((len(rows), width), int(pad), dtype=torch.long)
    mask = torch.zeros((len(rows), width), dtype=torch.long)
    left = []
    for i, r in enumerate(rows):
        lp = width - len(r) if padding_side == "left" else 0
        tokens[i, lp : lp + len(r)] = torch.tensor(r)
        mask[i, lp : lp + len(r)] = 1
        left.append(lp)
    return tokens, mask, tuple(left)
