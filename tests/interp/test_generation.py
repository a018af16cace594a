"""The shared decoding loop: KV-cached generation equals uncached, left padding, the cache guard."""

import pytest

from interp.generation import KVCacheError, continue_tokens, require_working_kv_cache
from interp.positions import tokenize_batch

TEXTS = ["the cat is here", "a dog sat down!", "hi"]


def test_cached_generation_equals_uncached(tiny_model):
    """Fails when the installed transformers and TransformerLens disagree on how the cache is passed."""
    for text in TEXTS:
        b = tokenize_batch(tiny_model, [text], padding_side="left")
        cached = continue_tokens(tiny_model, b.tokens, b.attention_mask, max_new_tokens=6, stop_at_eos=False)
        full = continue_tokens(tiny_model, b.tokens, b.attention_mask, max_new_tokens=6, stop_at_eos=False,
                               use_kv_cache=False)
        assert cached == full, text


def test_left_padded_batch_continues_each_row_as_if_alone(tiny_model):
    b = tokenize_batch(tiny_model, TEXTS, padding_side="left")
    both = continue_tokens(tiny_model, b.tokens, b.attention_mask, max_new_tokens=5, stop_at_eos=False)
    for i, text in enumerate(TEXTS):
        one = tokenize_batch(tiny_model, [text], padding_side="left")
        assert continue_tokens(tiny_model, one.tokens, one.attention_mask, max_new_tokens=5, stop_at_eos=False)[0] == both[i]


def test_kv_cache_guard_passes_on_a_working_model(tiny_model):
    require_working_kv_cache(tiny_model)
    assert tiny_model._ec_kv_cache_err < 1e-3


def test_kv_cache_guard_names_the_fix_when_the_cache_is_dropped(tiny_model, monkeypatch):
    """A bridge that ignores the cache (what transformers 5.24 does to TransformerLens 4.3) is refused."""
    real_forward = type(tiny_model).forward

    def forward_dropping_cache(self, *args, **kwargs):
        kwargs.pop("past_key_values", None)
        return real_forward(self, *args, **kwargs)

    monkeypatch.setattr(type(tiny_model), "forward", forward_dropping_cache)
    monkeypatch.setattr(tiny_model, "_ec_kv_cache_ok", None, raising=False)
    b = tokenize_batch(tiny_model, TEXTS[:1], padding_side="left")
    with pytest.raises(KVCacheError, match=r"transformers>=4\.56,<5\.24"):
        continue_tokens(tiny_model, b.tokens, b.attention_mask, max_new_tokens=2)
    monkeypatch.undo()
    tiny_model._ec_kv_cache_ok = None
    require_working_kv_cache(tiny_model)
    assert tiny_model._ec_kv_cache_ok
