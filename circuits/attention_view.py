"""circuitsvis attention views of chosen heads on chosen sentences, saved as offline HTML."""

from collections.abc import Sequence
from pathlib import Path

import torch
from jaxtyping import Float
from torch import Tensor

from circuits.heads import Head, head_name, validate_heads
from interp.capture import record
from interp.errors import ConfigError
from interp.figures import save_circuitsvis_view
from interp.hook_names import hook_pattern
from interp.io import ensure_writable_dir


@torch.no_grad()
def head_patterns(model, text: str, heads: Sequence[Head]) -> tuple[Float[Tensor, "head q k"], list[str]]:
    """Attention patterns [n_heads q k] of ``heads`` on ``text`` and its string tokens."""
    heads = validate_heads(model, heads)
    if not text.strip():
        raise ConfigError("attention view needs a non-empty sentence")
    tokens = model.to_tokens(text)
    with record(model, [hook_pattern(l) for l in sorted({l for l, _ in heads})],
                transform=lambda p: p[0].detach().cpu()) as store:
        model(tokens, return_type=None)
    return torch.stack([store[hook_pattern(l)][h] for l, h in heads]), model.to_str_tokens(tokens[0])


def save_attention_view(pattern: Float[Tensor, "head q k"], tokens: list[str], heads: Sequence[Head], path: str | Path, *,
                        text: str, kind: str = "heads") -> Path:
    """Write one offline HTML view (``attention_heads`` or ``attention_patterns``) of ``pattern`` from :func:`head_patterns`.

    The sentence reaches the page's title (HTML-escaped) and its tokens the view's props (script-safe JSON).
    """
    if kind not in ("heads", "patterns"):
        raise ConfigError(f"unknown view kind {kind!r}; choose 'heads' or 'patterns'")
    names = [head_name(h) for h in heads]
    if kind == "heads":
        component, props = "AttentionHeads", {"attention": pattern, "tokens": tokens, "attentionHeadNames": names}
    else:
        component, props = "AttentionPatterns", {"attention": pattern, "tokens": tokens}
    return save_circuitsvis_view(component, props, path, title=f"{', '.join(names)}: {text}")


def attention_view(model, texts: Sequence[str], heads: Sequence[Head], out_dir: str | Path, *, kind: str = "heads") -> list[Path]:
    """Write one HTML file per sentence (``attention_{i:03d}.html``, see :func:`save_attention_view`); returns the paths."""
    if kind not in ("heads", "patterns"):
        raise ConfigError(f"unknown view kind {kind!r}; choose 'heads' or 'patterns'")
    heads = validate_heads(model, heads)
    out = ensure_writable_dir(out_dir)
    return [save_attention_view(*head_patterns(model, text, heads), heads, out / f"attention_{i:03d}.html", text=text, kind=kind)
            for i, text in enumerate(texts)]
