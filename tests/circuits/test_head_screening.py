import pytest
import torch

from circuits.head_screening import ScreeningResult, matched_neutral_keys, screen_heads
from interp.errors import ConfigError, DatasetError
from tests.circuits.conftest import marked_dataset


def test_screen_heads_ranks_constructed_head_first(marked_model):
    res = screen_heads(marked_model, marked_dataset(), n_boot=200, n_perm=2000)
    top = res.top("gratitude", 3)
    assert (top[0]["layer"], top[0]["head"]) == (0, 0)
    assert top[0]["delta"] > 0.5 and top[0]["lo"] > 0.3
    assert top[0]["delta"] > 3 * abs(top[1]["delta"])
    assert top[0]["p"] < 0.01


def test_screen_heads_after_span_mode_also_finds_head(marked_model):
    res = screen_heads(marked_model, marked_dataset(), query="after_span", n_boot=50, n_perm=50)
    assert res.top_heads("gratitude", 1) == [(0, 0)]


def test_matched_neutral_keys_same_distance_from_end():
    # emotion sentence: 10 tokens, span at 6,7 (3 and 2 back from end 9); neutral: 7 tokens → end 6 → keys 3,4
    assert matched_neutral_keys(7, 10, (6, 7)) == [3, 4]
    # never BOS
    assert matched_neutral_keys(3, 10, (1,)) == [1]


def test_screen_heads_rejects_bad_input(tiny_model):
    with pytest.raises(ConfigError, match="query mode"):
        screen_heads(tiny_model, marked_dataset(), query="middle")
    with pytest.raises(DatasetError, match="unknown emotion"):
        screen_heads(tiny_model, marked_dataset(), emotions=["anger"])


def test_screening_result_save_load_roundtrip(marked_model, tmp_path):
    res = screen_heads(marked_model, marked_dataset(), n_boot=20, n_perm=20)
    res.save(tmp_path)
    assert (tmp_path / "screening_gratitude.html").stat().st_size > 10_000
    back = ScreeningResult.load(tmp_path)
    assert torch.allclose(back.delta, res.delta) and back.top_heads("gratitude", 2) == res.top_heads("gratitude", 2)


@pytest.mark.real
def test_screen_heads_real_score_matches_direct_cache(real_model):
    """The batched, reduced-in-hook score equals the pattern read from run_with_cache for one sentence."""
    from interp.datasets import load_profile
    from interp.positions import tokenize_batch

    ds = load_profile("baseline").subset(["gratitude", "neutral"], limit_per_emotion=4)
    res = screen_heads(real_model, ds, n_boot=20, n_perm=20, batch_size=3)
    rec_g = ds.by_emotion("gratitude")
    rec_n = ds.by_emotion("neutral")
    l, h = 14, 0
    emo, neu = [], []
    for r in rec_g:
        b = tokenize_batch(real_model, [r.text], [r.spans])
        _, cache = real_model.run_with_cache(b.tokens, names_filter=lambda n: n == f"blocks.{l}.attn.hook_pattern")
        emo.append(float(cache[f"blocks.{l}.attn.hook_pattern"][0, h, b.end_positions[0], list(b.span_positions[0])].sum()))
    for j, r in enumerate(rec_n):
        src = rec_g[j % len(rec_g)]
        sb = tokenize_batch(real_model, [src.text], [src.spans])
        b = tokenize_batch(real_model, [r.text])
        keys = matched_neutral_keys(b.lengths[0], sb.lengths[0], sb.span_positions[0])
        _, cache = real_model.run_with_cache(b.tokens, names_filter=lambda n: n == f"blocks.{l}.attn.hook_pattern")
        neu.append(float(cache[f"blocks.{l}.attn.hook_pattern"][0, h, b.end_positions[0], keys].sum()))
    expected = sum(emo) / len(emo) - sum(neu) / len(neu)
    assert res.delta.shape == (1, 30, 9)
    assert abs(float(res.delta[0, l, h]) - expected) < 1e-4
    assert float(res.lo[0, l, h]) <= float(res.delta[0, l, h]) <= float(res.hi[0, l, h])


def test_screen_heads_one_forward_pass_per_batch(tiny_model):
    """All heads of all layers are scored from one forward pass per batch (acceptance 5), not one per head."""
    ds = marked_dataset()  # 16 sentences
    calls = []
    handle = tiny_model.register_forward_pre_hook(lambda mod, args: calls.append(1))
    try:
        screen_heads(tiny_model, ds, n_boot=5, n_perm=5, batch_size=5)
    finally:
        handle.remove()
    assert len(calls) == 4  # ceil(16 / 5); the model has 2 × 4 = 8 heads
