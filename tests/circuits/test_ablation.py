import pytest
import torch

from circuits.ablation import ablate, ablation_hooks, cumulative_ablation, mean_z, parse_heads, validate_heads
from interp.errors import ConfigError, HookError

TEXTS = ["thank you so much", "I am grateful today", "we appreciate it!"]


def _logits(model, hooks):
    toks = model.to_tokens(TEXTS[0])
    with model.hooks(fwd_hooks=hooks):
        return model(toks)


def test_ablate_silent_head_changes_nothing(silent_head_model):
    base = _logits(silent_head_model, [])
    means = mean_z(silent_head_model, TEXTS)
    for mode in ("zero", "mean"):
        out = _logits(silent_head_model, ablation_hooks(silent_head_model, [(1, 2)], mode, means))
        assert torch.allclose(out, base, atol=1e-6)
    # a head that does write changes the logits, so the check above can fail
    assert not torch.allclose(_logits(silent_head_model, ablation_hooks(silent_head_model, [(1, 1)], "zero")), base, atol=1e-4)


def test_ablate_multi_head_zero_sets_only_chosen_heads(tiny_model):
    seen = {}

    def grab(z, hook):
        seen["z"] = z.clone()
        return z

    toks = tiny_model.to_tokens(TEXTS[1])
    hooks = ablation_hooks(tiny_model, [(0, 1), (0, 3), (1, 0)], "zero") + [("blocks.0.attn.hook_z", grab)]
    with tiny_model.hooks(fwd_hooks=hooks):
        tiny_model(toks)
    z = seen["z"]
    assert z[:, :, [1, 3]].abs().max() == 0 and z[:, :, [0, 2]].abs().max() > 0


def test_ablate_mean_replaces_with_reference_mean(tiny_model):
    means = mean_z(tiny_model, TEXTS)
    assert means.shape == (2, 4, 8)
    seen = {}

    def grab(z, hook):
        seen["z"] = z.clone()
        return z

    with tiny_model.hooks(fwd_hooks=ablation_hooks(tiny_model, [(1, 2)], "mean", means) + [("blocks.1.attn.hook_z", grab)]):
        tiny_model(tiny_model.to_tokens(TEXTS[2]))
    assert torch.allclose(seen["z"][0, :, 2], means[1, 2].expand_as(seen["z"][0, :, 2]))


def test_ablate_bad_input_errors(tiny_model):
    with pytest.raises(HookError, match="head 4 is out of range"):
        validate_heads(tiny_model, [(0, 4)])
    with pytest.raises(HookError, match="layer 2 is out of range"):
        validate_heads(tiny_model, [(2, 0)])
    with pytest.raises(ConfigError, match="unknown ablation mode"):
        ablation_hooks(tiny_model, [(0, 0)], "resample")
    with pytest.raises(HookError, match="cannot read head"):
        parse_heads("L3-H1")
    assert parse_heads("L3H1, 5.0") == [(3, 1), (5, 0)]


def test_cumulative_ablation_reports_top_and_random(tiny_model):
    res = cumulative_ablation(tiny_model, TEXTS, "gratitude", [(0, 0), (1, 1), (0, 2)], [1, 3], n_random=2)
    d = res.to_dict()
    assert [r["k"] for r in d["rows"]] == [1, 3]
    for r in d["rows"]:
        assert r["top_effect"]["lo"] <= r["top_effect"]["value"] <= r["top_effect"]["hi"]
        assert len(r["random_draw_effects"]) == 2 and len(r["random_draw_heads"]) == 2
        assert r["random_draw_min"] <= r["random_effect"]["value"] <= r["random_draw_max"]
        assert 1 / 3 <= r["p_draws"] <= 1
    assert all(len(hs) == 3 for hs in d["rows"][1]["random_draw_heads"])
    # the random effect is the mean of the draws
    assert res.random[0].value == pytest.approx(sum(res.random_draw_effects[0]) / 2, abs=1e-5)
    with pytest.raises(ConfigError, match="ks must be"):
        cumulative_ablation(tiny_model, TEXTS, "gratitude", [(0, 0)], [2])


@pytest.mark.real
def test_ablate_real_model_leaves_weights_and_hooks_untouched(real_model):
    from interp.models import weights_hash

    before = weights_hash(real_model)
    toks = real_model.to_tokens(TEXTS[0])
    ref = real_model(toks)
    res = ablate(real_model, TEXTS, "gratitude", [(l, h) for l in range(3) for h in range(9)], mode="zero")
    assert weights_hash(real_model) == before
    assert torch.equal(real_model(toks), ref)
    assert res.effect.value != 0 and len(res.ablated) == 3
    assert torch.allclose(res.clean, ablate(real_model, TEXTS, "gratitude", [(0, 0)]).clean)


def test_metric_under_hooks_matches_right_padded_full_logits(tiny_model):
    """Length-sorted, left-padded, last-position-only evaluation gives the plain computation's numbers, in input order."""
    from circuits.ablation import metric_under_hooks
    from circuits.metrics import emotion_logprob, emotion_token_ids
    from interp.positions import tokenize_batch

    texts = ["a much longer sentence than the others here", "hi", "thank you so much", "ok then", "sorry!"]
    ids = emotion_token_ids(tiny_model, "gratitude")
    hooks = ablation_hooks(tiny_model, [(0, 1)], "zero")
    got = metric_under_hooks(tiny_model, texts, ids, hooks, batch_size=2)
    b = tokenize_batch(tiny_model, texts)
    with torch.no_grad(), tiny_model.hooks(fwd_hooks=hooks):
        want = emotion_logprob(tiny_model(b.tokens, attention_mask=b.attention_mask), b.end_positions, ids)
    torch.testing.assert_close(got, want, atol=1e-4, rtol=1e-4)
