"""Continue token batches under arbitrary forward hooks (the decoding loop steering and circuits share).

``continue_tokens`` runs :meth:`TransformerBridge.generate` with the given ``fwd_hooks`` active
only for the call, and returns each row's new token ids cut at the end-of-sequence token.
With the KV cache the prompt is run once and every later step feeds one new token, so a hook
sees ``pos == prompt width`` on the first call and ``pos == 1`` afterwards.
"""

from collections.abc import Sequence
from importlib.metadata import version

import torch
from jaxtyping import Int
from torch import Tensor

from interp.errors import EmotionCircuitsError


class KVCacheError(EmotionCircuitsError):
    """The bridge's KV-cached forward disagrees with the full forward (a transformers / TransformerLens mismatch)."""


@torch.no_grad()
def require_working_kv_cache(model) -> None:
    """Raise :class:`KVCacheError` unless one cached decoding step reproduces the full forward's logits.

    TransformerLens 4.3's attention bridges read the HF cache from the ``past_key_values`` keyword;
    transformers 5.24 renamed it ``cache``, so the bridge silently skips the cache and every cached
    step attends to the new token alone. The check (two forward passes over 7 tokens) runs once per
    model and is remembered on it.
    """
    ok = getattr(model, "_ec_kv_cache_ok", None)
    if ok is None:
        device = next(model.parameters()).device
        tokens = (torch.arange(7, device=device) * 7 + 11)[None] % model.cfg.d_vocab
        full = model(tokens, return_type="logits")[0, -1].float()
        _, cache = model(tokens[:, :-1], return_type="logits_and_cache", use_cache=True)
        step, _ = model(tokens[:, -1:], return_type="logits_and_cache", past_key_values=cache, use_cache=True)
        err = float((step[0, -1].float() - full).abs().max())
        ok = err <= 1e-2 * max(1.0, float(full.abs().max()))
        model._ec_kv_cache_ok = ok
        model._ec_kv_cache_err = err
    if not ok:
        raise KVCacheError(
            f"cached generation is broken with transformers {version('transformers')} + transformer-lens "
            f"{version('transformer-lens')} (one cached step differs from the full forward by "
            f"{model._ec_kv_cache_err:.3g} in the logits); install a matching pair: "
            "pip install 'transformers>=4.56,<5.24'")


def eos_ids(model) -> set[int]:
    """The model's end-of-sequence token ids (config first, tokenizer otherwise)."""
    ids = getattr(model.cfg, "eos_token_id", None)
    if ids is None:
        ids = model.tokenizer.eos_token_id
    return set(ids) if isinstance(ids, (list, tuple)) else ({int(ids)} if ids is not None else set())


@torch.no_grad()
def continue_tokens(model, tokens: Int[Tensor, "batch pos"], attention_mask: Int[Tensor, "batch pos"], *,
                    fwd_hooks: Sequence = (), max_new_tokens: int = 20, do_sample: bool = False, temperature: float = 1.0,
                    top_k: int | None = None, top_p: float | None = None, seed: int = 0, use_kv_cache: bool = True,
                    stop_at_eos: bool = True) -> list[tuple[int, ...]]:
    """New token ids per row of a (left-padded) prompt batch, generated with ``fwd_hooks`` active.

    Hooks are removed when the call returns or raises. ``seed`` is set right before generating.
    Raises :class:`KVCacheError` when ``use_kv_cache`` and the installed libraries break the cache.
    """
    if use_kv_cache:
        require_working_kv_cache(model)
    device = next(model.parameters()).device
    eos = eos_ids(model) if stop_at_eos else set()
    torch.manual_seed(seed)
    kwargs = dict(max_new_tokens=max_new_tokens, do_sample=do_sample, use_past_kv_cache=use_kv_cache,
                  stop_at_eos=stop_at_eos, verbose=False, return_type="tokens")
    if do_sample:
        kwargs.update(temperature=temperature, top_k=top_k, top_p=top_p)
    with model.hooks(fwd_hooks=list(fwd_hooks)):
        out = model.generate(tokens.to(device), attention_mask=attention_mask.to(device), **kwargs)
    rows = []
    for row in out[:, tokens.shape[1]:].tolist():
        cut = next((i for i, t in enumerate(row) if t in eos), len(row))
        rows.append(tuple(row[:cut]))
    return rows


def decode(model, rows: Sequence[Sequence[int]]) -> list[str]:
    """Decoded text of each row (special tokens dropped)."""
    return [model.tokenizer.decode(list(r), skip_special_tokens=True) for r in rows]
