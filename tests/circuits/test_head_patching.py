import pytest
import torch

from circuits.head_patching import MODES, PatchLengthError, kv_head, length_matched_pairs, patch_heads, patched_logits
from interp.errors import ConfigError, HookError

SRC = ["thank you a lot", "sorry for this!"]
TGT = ["the cat is here", "a dog sat down!"]


@pytest.mark.parametrize("mode", list(MODES))
def test_patch_heads_source_equals_target_changes_nothing(tiny_model, mode):
    _, tl, pl, _, _ = patched_logits(tiny_model, TGT, TGT, [(0, 1), (1, 3)], mode=mode)
    assert torch.allclose(pl, tl, atol=1e-5)


def test_patch_heads_pattern_v_equals_z_and_differs_from_target(tiny_model):
    _, tl, z, _, _ = patched_logits(tiny_model, SRC, TGT, [(0, 1), (1, 3)], mode="z")
    _, _, pv, _, _ = patched_logits(tiny_model, SRC, TGT, [(0, 1), (1, 3)], mode="pattern_v")
    _, _, vo, _, _ = patched_logits(tiny_model, SRC, TGT, [(0, 1), (1, 3)], mode="v_only")
    assert torch.allclose(z, pv, atol=1e-5)
    assert not torch.allclose(z, tl, atol=1e-4) and not torch.allclose(vo, tl, atol=1e-4)


def test_patch_heads_v_only_is_per_query_head_under_gqa(tiny_model):
    """Heads 0 and 1 share KV head 0; patching head 0's values must leave head 1's output alone."""
    assert kv_head(tiny_model, 0) == kv_head(tiny_model, 1) == 0 and kv_head(tiny_model, 2) == 1
    seen = {}

    def grab(z, hook):
        seen.setdefault("z", []).append(z.clone())
        return z

    from circuits.head_patching import _HeadPatcher  # noqa: PLC2701 - the hooks under test
    from interp.positions import tokenize_batch

    sb, tb = tokenize_batch(tiny_model, SRC), tokenize_batch(tiny_model, TGT)
    src = {}

    def save(n):
        def h(a, hook):
            src[n] = a
            return a
        return h

    names = ["blocks.0.attn.hook_z", "blocks.0.attn.hook_pattern", "blocks.0.attn.hook_v"]
    with tiny_model.hooks(fwd_hooks=[(n, save(n)) for n in names]):
        tiny_model(sb.tokens)
    with tiny_model.hooks(fwd_hooks=[("blocks.0.attn.hook_z", grab)]):
        tiny_model(tb.tokens)
    p = _HeadPatcher(tiny_model, src, sb, tb, "v_only", "all")
    with tiny_model.hooks(fwd_hooks=p.hooks([(0, 0)])):
        with tiny_model.hooks(fwd_hooks=[("blocks.0.attn.hook_z", grab)]):
            tiny_model(tb.tokens)
    clean, patched = seen["z"]
    assert torch.allclose(patched[:, :, 1:], clean[:, :, 1:])
    assert not torch.allclose(patched[:, :, 0], clean[:, :, 0], atol=1e-5)


def test_patch_heads_bad_input(tiny_model):
    with pytest.raises(PatchLengthError, match="equal token length"):
        patched_logits(tiny_model, ["thank you"], ["the cat is here"], [(0, 0)], mode="v_only")
    with pytest.raises(ConfigError, match="unknown head-patching mode"):
        patched_logits(tiny_model, SRC, TGT, [(0, 0)], mode="q_only")
    with pytest.raises(HookError, match="out of range"):
        patched_logits(tiny_model, SRC, TGT, [(0, 9)], mode="z")
    with pytest.raises(ConfigError, match="only works with mode 'z'"):
        patched_logits(tiny_model, SRC, TGT, [(0, 0)], mode="v_only", positions="end")
    # z at the end accepts different lengths
    _, tl, pl, _, _ = patched_logits(tiny_model, ["thank you"], ["the cat is here"], [(1, 0)], mode="z", positions="end")
    assert not torch.allclose(pl[0, -1], tl[0, -1])


def test_patch_heads_bad_input_counts_and_modes(tiny_model):
    with pytest.raises(ConfigError, match="as many source as target"):
        patch_heads(tiny_model, SRC, TGT[:1], "gratitude", [(0, 0)], mode="z")
    with pytest.raises(ConfigError, match="unknown head-patching mode"):
        patch_heads(tiny_model, SRC, TGT, "gratitude", [(0, 0)], mode="pattern")
    with pytest.raises(PatchLengthError, match="pair 0 has"):
        patch_heads(tiny_model, ["thank you"], ["the cat is here"], "gratitude", [(0, 0)], mode="pattern_v")
    with pytest.raises(HookError, match="layer 5 is out of range"):
        patch_heads(tiny_model, SRC, TGT, "gratitude", [(5, 0)], mode="z")


@pytest.mark.parametrize("mode", ["v_only", "z", "pattern_only"])
def test_patch_heads_batched_random_control_equals_one_set_at_a_time(tiny_model, mode):
    """The random-head control (draws stacked along the batch, per-row head masks) equals patching each set alone."""
    res = patch_heads(tiny_model, SRC, TGT, "gratitude", [(1, 2)], mode=mode, n_random=3, batch_size=2, seed=3)
    assert len(res.random_heads) == 3 and all(len(hs) == 1 and hs[0] != (1, 2) for hs in res.random_heads)
    for hs, eff in zip(res.random_heads, res.random_draw_effects):
        assert patch_heads(tiny_model, SRC, TGT, "gratitude", hs, mode=mode).effect.value == pytest.approx(eff, abs=1e-5)
    assert res.p.p_floor == pytest.approx(1 / 4) and res.p.p >= res.p.p_floor


def test_patch_heads_effect_matches_word_metric_of_patched_logits(tiny_model):
    """The effect equals the whole-word metric of a patched run computed independently (hooks on the prompt only)."""
    from circuits.head_patching import _HeadPatcher, run_source  # noqa: PLC2701
    from circuits.metrics import emotion_words, word_logprob
    from interp.positions import tokenize_batch

    res = patch_heads(tiny_model, SRC, TGT, "gratitude", [(0, 1), (1, 3)], mode="z")
    sb, tb = tokenize_batch(tiny_model, SRC, padding_side="left"), tokenize_batch(tiny_model, TGT, padding_side="left")
    _, cache = run_source(tiny_model, sb, [0, 1])
    ws = emotion_words(tiny_model, "gratitude")
    p = word_logprob(tiny_model, tb.tokens, tb.attention_mask, ws,
                     prompt_hooks=_HeadPatcher(tiny_model, cache, sb, tb, "z", "all").hooks([(0, 1), (1, 3)]))
    t = word_logprob(tiny_model, tb.tokens, tb.attention_mask, ws)
    assert res.effect.value == pytest.approx(float((p - t).mean()), abs=1e-5) and res.effect.value != 0


def test_length_matched_pairs_equal_lengths(tiny_model):
    pairs = length_matched_pairs(tiny_model, ["abc", "abcd", "xyzzy"], ["qqq", "rrrr", "s"])
    assert pairs == [(0, 0), (1, 1)]


@pytest.mark.real
def test_patch_heads_real_model_effect_and_identity(real_model):
    from interp.datasets import load_profile

    ds = load_profile("baseline")
    src_all = [r.text for r in ds.by_emotion("gratitude")]
    tgt_all = [r.text for r in ds.by_emotion("neutral")]
    pairs = length_matched_pairs(real_model, src_all, tgt_all)[:6]
    src, tgt = [src_all[i] for i, _ in pairs], [tgt_all[j] for _, j in pairs]
    same = patch_heads(real_model, tgt, tgt, "gratitude", [(14, 0)], mode="v_only")
    assert abs(same.effect.value) < 1e-4
    res = patch_heads(real_model, src, tgt, "gratitude", [(14, 0), (13, 6)], mode="z", n_random=4)
    assert res.n_pairs == len(pairs) and res.effect.value != 0 and len(res.random_draw_effects) == 4
    assert res.gap.value > 0  # gratitude sentences make gratitude words likelier than neutral ones
    assert res.random_effect is not None
