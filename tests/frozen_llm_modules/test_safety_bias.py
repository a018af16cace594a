import pytest
import torch

from frozen_llm_modules.safety_bias import HEDGE_WORDS, apply_safety_bias, hedge_token_ids


def test_apply_safety_bias_only_above_threshold_and_only_hedge_ids():
    logits = torch.randn(2, 50)
    assert torch.equal(apply_safety_bias(logits, 0.3, [1, 2]), logits)
    out = apply_safety_bias(logits, 1.0, [1, 2], strength=4.0)
    assert torch.allclose(out[:, [1, 2]] - logits[:, [1, 2]], torch.full((2, 2), 4.0))
    mask = torch.ones(50, dtype=torch.bool)
    mask[[1, 2]] = False
    assert torch.equal(out[:, mask], logits[:, mask])
    half = apply_safety_bias(logits, 0.65, [1], strength=4.0)
    assert half[0, 1] - logits[0, 1] == pytest.approx(2.0)


@pytest.mark.real
def test_hedge_token_ids_decode_to_hedge_words(real_model):
    ids = hedge_token_ids(real_model.tokenizer)
    words = {real_model.tokenizer.decode([i]).strip().lower() for i in ids}
    assert {"perhaps", "maybe", "might", "careful"} <= words
    assert all(any(w.startswith(x) or x.startswith(w) for x in HEDGE_WORDS) for w in words if w)
