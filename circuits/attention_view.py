"""circuitsvis attention views of chosen heads on chosen sentences, saved as offline HTML."""

from collections.abc import Sequence
from pathlib import Path

import torch

from circuits.heads import Head, validate_heads
from interp.errors import ConfigError
from interp.figures import save_circuitsvis_view
from interp.hook_names import hook_pattern
from interp.io import ensure_writable_dir


@torch.no_grad()
def head_patterns(model, text: str, heads: Sequence[Head]) -> tuple[torch.Tensor, list[str]]:
    """Attention patterns [n_heads q k] of ``heads`` on ``text`` and its string tokens."""
    heads = validate_heads(model, heads)
    if not text.strip():
        raise ConfigError("attention view needs a non-empty sentence")
    tokens = model.to_tokens(text)
    store = {}

    def save(layer):
        def hook(p, hook):
            store[layer] = p[0].detach().cpu()
            return p
        return hook

    layers = sorted({l for l, _ in heads})
    with model.hooks(fwd_hooks=[(hook_pattern(l), save(l)) for l in layers]):
        model(tokens, return_type=None)
    return torch.stack([store[l][h] for l, h in heads]), model.to_str_tokens(tokens[0])


def attention_view(model, texts: Sequence[str], heads: Sequence[Head], out_dir: str | Path, *, kind: str = "heads") -> list[Path]:
    """Write one HTML file per sentence (``attention_heads`` or ``attention_patterns``); returns the paths.

    The sentence reaches the page's title (HTML-escaped) and its tokens the view's props (script-safe JSON).
    """
    if kind not in ("heads", "patterns"):
        raise ConfigError(f"unknown view kind {kind!r}; choose 'heads' or 'patterns'")
    heads = validate_heads(model, heads)
    out = ensure_writable_dir(out_dir)
    names = [f"L{l}H{h}" for l, h in heads]
    paths = []
    for i, text in enumerate(texts):
        pat, toks = head_patterns(model, text, heads)
        if kind == "heads":
            component, props = "AttentionHeads", {"attention": pat, "tokens": toks, "attentionHeadNames": names}
        else:
            component, props = "AttentionPatterns", {"attention": pat, "tokens": toks}
        paths.append(save_circuitsvis_view(component, props, out / f"attention_{i:03d}.html", title=f"{', '.join(names)}: {text}"))
    return paths
