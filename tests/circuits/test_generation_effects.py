"""Ablation and head patching scored on generated text: identities, prompt-only patching, errors."""

import pytest

from circuits.generation_effects import ablation_generation_effect, patching_generation_effect, score_continuations
from circuits.head_patching import PatchLengthError, head_patch_hooks, patched_logits, run_source
from interp.errors import ConfigError, HookError
from interp.generation import continue_tokens

SRC = ["thank you a lot", "sorry for this!", "I am so grateful"]
TGT = ["the cat is here", "a dog sat down!", "a bus came by on"]


def test_ablating_a_silent_head_leaves_generations_unchanged(silent_head_model):
    res = ablation_generation_effect(silent_head_model, TGT, "gratitude", [(1, 2)], n_random=1, max_new_tokens=6)
    assert all(e.value == 0 and e.lo == 0 and e.hi == 0 for e in res.effect.values())
    assert all(p == 1.0 for p in res.p.values())
    assert all(x["clean"] == x["intervened"] for x in res.examples)


def test_ablating_a_live_head_changes_generations(tiny_model):
    res = ablation_generation_effect(tiny_model, TGT, "gratitude", [(0, 0), (0, 1), (1, 0), (1, 1)], n_random=1,
                                     max_new_tokens=6)
    assert any(x["clean"] != x["intervened"] for x in res.examples)
    assert len(res.random_draw_effects) == 1 and len(res.random_draw_heads[0]) == 4
    # layer-matched control: two heads per layer, never the ablated ones; the p floor is stated next to the p
    assert sorted(l for l, _ in res.random_draw_heads[0]) == [0, 0, 1, 1]
    assert not set(res.random_draw_heads[0]) & {(0, 0), (0, 1), (1, 0), (1, 1)}
    assert res.config["p_floor"] == 0.5 and "not a headline" in res.config["p_draws_text"]


@pytest.mark.parametrize("mode", ["pattern_v", "v_only", "pattern_only", "z"])
def test_patching_generation_with_source_equal_target_changes_nothing(tiny_model, mode):
    res = patching_generation_effect(tiny_model, TGT, TGT, "gratitude", [(0, 1), (1, 3)], mode=mode, n_random=1,
                                     max_new_tokens=6)
    assert all(e.value == 0 for e in res.effect.values())
    assert res.reference_mean == res.clean_mean


def test_patched_generation_starts_with_the_patched_logits_argmax(tiny_model):
    """The prompt pass of the patched generation is exactly the patched forward pass of the logit metric."""
    src, tgt = ["thank you a lot"], ["the cat is here"]
    heads = [(0, 1), (1, 3)]
    _, tl, pl, sb, tb = patched_logits(tiny_model, src, tgt, heads, mode="v_only")
    _, cache = run_source(tiny_model, sb, [0, 1])
    hooks = head_patch_hooks(tiny_model, cache, sb, tb, heads, "v_only", only_width=tb.tokens.shape[1])
    rows = continue_tokens(tiny_model, tb.tokens, tb.attention_mask, fwd_hooks=hooks, max_new_tokens=3, stop_at_eos=False)
    assert rows[0][0] == int(pl[0, -1].argmax())
    clean = continue_tokens(tiny_model, tb.tokens, tb.attention_mask, max_new_tokens=3, stop_at_eos=False)
    assert clean[0][0] == int(tl[0, -1].argmax())


def test_batched_patched_generation_equals_one_pair_at_a_time(tiny_model):
    """Pairs of different lengths share one left-padded batch; each row continues as if run alone."""
    heads = [(0, 1), (1, 3)]
    both = patching_generation_effect(tiny_model, SRC, TGT, "gratitude", heads, mode="pattern_v", n_random=0, max_new_tokens=5)
    for i in range(len(SRC)):
        one = patching_generation_effect(tiny_model, [SRC[i]], [TGT[i]], "gratitude", heads, mode="pattern_v", n_random=0,
                                         max_new_tokens=5)
        assert one.continuations["intervened"][0] == both.continuations["intervened"][i]
        assert one.continuations["clean"][0] == both.continuations["clean"][i]
    assert both.continuations["clean"] != both.continuations["intervened"]


def test_generation_effect_scores_are_paired_differences():
    s = score_continuations(["I am so thankful, thanks!", "meh"], "gratitude")
    assert s["kw_gratitude"][0] >= 2 and s["kw_gratitude"][1] == 0 and s["vader_compound"][0] > 0.3


def test_generation_effect_bad_input(tiny_model):
    with pytest.raises(PatchLengthError):
        patching_generation_effect(tiny_model, ["a"], ["a much longer sentence"], "gratitude", [(0, 0)], max_new_tokens=2)
    with pytest.raises(ConfigError, match="unknown head-patching mode"):
        patching_generation_effect(tiny_model, TGT, TGT, "gratitude", [(0, 0)], mode="values")
    with pytest.raises(HookError, match="out of range"):
        ablation_generation_effect(tiny_model, TGT, "gratitude", [(0, 9)])
    with pytest.raises(ConfigError, match="unknown emotion"):
        score_continuations(["x"], "boredom")
    with pytest.raises(ConfigError, match="no prompts"):
        ablation_generation_effect(tiny_model, [], "gratitude", [(0, 0)])


@pytest.mark.real
@pytest.mark.slow
def test_patching_every_head_moves_neutral_continuations_toward_gratitude(real_model):
    """On smollm2, patching all 270 heads' outputs (z) from gratitude sentences into equal-length neutral ones
    makes the neutral continuations score like gratitude continuations (VADER compound up, CI above 0)."""
    from circuits.head_patching import length_matched_pairs
    from interp.datasets import load_profile

    ds = load_profile("baseline")
    src_all = [r.text for r in ds.by_emotion("gratitude")]
    tgt_all = [r.text for r in ds.by_emotion("neutral")]
    pairs = length_matched_pairs(real_model, src_all, tgt_all)[:24]
    heads = [(l, h) for l in range(real_model.cfg.n_layers) for h in range(real_model.cfg.n_heads)]
    res = patching_generation_effect(real_model, [src_all[i] for i, _ in pairs], [tgt_all[j] for _, j in pairs], "gratitude",
                                     heads, mode="z", n_random=0, max_new_tokens=12)
    assert res.effect["vader_compound"].lo > 0
    assert res.treated_mean["vader_compound"] > res.clean_mean["vader_compound"]


def test_generation_controls_batched_equal_one_set_per_call(tiny_model):
    """Random head sets stacked along the batch (per-row masks) generate what each set generates alone."""
    from circuits.ablation import ablation_reference

    ref = ablation_reference(tiny_model, ["the cat sat", "a bus came by today"])
    kw = dict(n_random=3, max_new_tokens=5, seed=2)
    a = ablation_generation_effect(tiny_model, TGT, "gratitude", [(1, 0)], mode="mean", reference=ref, max_rows=64, **kw)
    b = ablation_generation_effect(tiny_model, TGT, "gratitude", [(1, 0)], mode="mean", reference=ref, max_rows=3, **kw)
    assert a.continuations == b.continuations and a.random_draw_effects == b.random_draw_effects
    p = patching_generation_effect(tiny_model, SRC, TGT, "gratitude", [(1, 3)], mode="v_only", max_rows=64, **kw)
    q = patching_generation_effect(tiny_model, SRC, TGT, "gratitude", [(1, 3)], mode="v_only", max_rows=3, **kw)
    assert p.continuations == q.continuations and p.random_draw_effects == q.random_draw_effects
