"""Shape aliases from the project glossary: batch pos layer head d_model d_head d_mlp d_vocab.

Import these instead of spelling shapes inline so every module uses the same names.
"""

from jaxtyping import Bool, Float, Int
from torch import Tensor

Resid = Float[Tensor, "batch pos d_model"]
"""Residual-stream-shaped activations (also attn_out / mlp_out)."""
Tokens = Int[Tensor, "batch pos"]
"""Token ids, padded."""
Mask = Int[Tensor, "batch pos"]
"""Attention mask: 1 for real tokens, 0 for padding."""
BoolMask = Bool[Tensor, "batch pos"]
Pattern = Float[Tensor, "batch head query_pos key_pos"]
HeadZ = Float[Tensor, "batch pos head d_head"]
Logits = Float[Tensor, "batch pos d_vocab"]
Direction = Float[Tensor, "d_model"]
SentenceActs = Float[Tensor, "n pos d_model"]
"""Stored activations of n sentences, right-aligned to position 0, zero past each length."""
PointActs = Float[Tensor, "n d_model"]
"""One activation vector per sentence (e.g. at the sentence end)."""
