import pytest
import torch

from circuits.activation_patching import activation_patching, common_length_pairs, patch_activation_hook, patch_all_positions
from circuits.metrics import emotion_logprob, emotion_token_ids, normalised, word_logprob
from interp.errors import ConfigError

CLEAN = ["thank you a lot", "sorry for this!"]
CORR = ["the cat is here", "a dog sat down!"]


def test_activation_patching_clean_equals_corrupted_zero_effect(tiny_model):
    toks = tiny_model.to_tokens(CORR)
    base = tiny_model(toks)
    _, cache = tiny_model.run_with_cache(toks)
    for name in ("blocks.0.hook_resid_pre", "blocks.1.hook_attn_out", "blocks.1.hook_mlp_out"):
        with tiny_model.hooks(fwd_hooks=[(name, patch_activation_hook(cache[name], [3]))]):
            assert torch.equal(tiny_model(toks), base)


def test_activation_patching_cells_where_clean_equals_corrupted_are_zero(tiny_model):
    """Clean and corrupted share their first 12 byte tokens: every cell before the first difference is exactly 0."""
    clean, corr = ["thank you a lot"], ["thank you a dog"]
    res = activation_patching(tiny_model, clean, corr, "gratitude", kinds=["resid_pre", "attn_out", "mlp_out"])
    first_diff = next(i for i, (a, b) in enumerate(zip(tiny_model.to_tokens(clean)[0], tiny_model.to_tokens(corr)[0])) if a != b)
    assert first_diff >= 12
    for kind, v in res.values.items():
        assert v[:, :first_diff].abs().max() < 1e-5, kind  # causal: nothing before the difference can differ
    assert res.values["resid_pre"][0, first_diff:].abs().max() > 0.01  # the differing tokens do matter


def first_token_metric(model, tokens, attention_mask, emotion, *, prompt_hooks=()):
    """The old next-token metric (a function of the sentence's last logits only), for parity with TransformerLens."""
    with model.hooks(fwd_hooks=list(prompt_hooks)):
        logits = model(tokens, attention_mask=attention_mask)
    return emotion_logprob(logits, [tokens.shape[1] - 1] * tokens.shape[0], emotion_token_ids(model, emotion))


def test_activation_patching_final_residual_all_positions_gives_one(tiny_model):
    assert patch_all_positions(tiny_model, CLEAN, CORR, "gratitude", "blocks.0.hook_resid_pre") == pytest.approx(1.0, abs=1e-5)
    # a next-token metric is fixed by the last residual; the whole-word metric is not (later word tokens read
    # every layer's keys and values of the still-corrupted sentence)
    assert patch_all_positions(tiny_model, CLEAN, CORR, "gratitude", "blocks.1.hook_resid_post",
                               metric=first_token_metric) == pytest.approx(1.0, abs=1e-5)
    assert patch_all_positions(tiny_model, CLEAN, CORR, "gratitude", "blocks.1.hook_resid_post") != pytest.approx(1.0, abs=1e-3)


def test_activation_patching_uses_the_whole_word_metric(tiny_model):
    from circuits.metrics import emotion_words

    res = activation_patching(tiny_model, CLEAN, CORR, "gratitude", layers=[0])
    ws = emotion_words(tiny_model, "gratitude")
    ct, rt = tiny_model.to_tokens(CLEAN), tiny_model.to_tokens(CORR)
    assert res.clean_metric == pytest.approx(float(word_logprob(tiny_model, ct, torch.ones_like(ct), ws).mean()), abs=1e-5)
    assert res.corrupted_metric == pytest.approx(float(word_logprob(tiny_model, rt, torch.ones_like(rt), ws).mean()), abs=1e-5)
    assert res.config["metric"] == "emotion_words"
    contrast = activation_patching(tiny_model, CLEAN, CORR, "gratitude", layers=[0], metric="contrast")
    assert contrast.clean_metric != pytest.approx(res.clean_metric, abs=1e-3)
    with pytest.raises(ConfigError, match="unknown metric"):
        activation_patching(tiny_model, CLEAN, CORR, "gratitude", metric="first_token")


def test_activation_patching_agrees_with_transformer_lens_patching(tiny_model):
    """Our layer × position grid equals transformer_lens.patching's on the same bridge, for three quantities."""
    import transformer_lens.patching as tlp

    res = activation_patching(tiny_model, CLEAN, CORR, "gratitude", metric=first_token_metric)
    ids = emotion_token_ids(tiny_model, "gratitude")
    ct, rt = tiny_model.to_tokens(CLEAN), tiny_model.to_tokens(CORR)
    end = [ct.shape[1] - 1] * 2
    _, cache = tiny_model.run_with_cache(ct)
    mc = float(emotion_logprob(tiny_model(ct), end, ids).mean())
    mr = float(emotion_logprob(tiny_model(rt), end, ids).mean())

    def metric(logits):
        return normalised(emotion_logprob(logits, end, ids).mean(), mc, mr)

    for fn, kind in ((tlp.get_act_patch_resid_pre, "resid_pre"), (tlp.get_act_patch_attn_out, "attn_out"),
                     (tlp.get_act_patch_mlp_out, "mlp_out")):
        theirs = fn(tiny_model, rt, cache, metric)
        assert theirs.shape == res.values[kind].shape
        assert torch.allclose(theirs.float(), res.values[kind], atol=1e-5), kind
    assert res.values["resid_pre"].abs().max() > 0.01


def test_activation_patching_bad_input(tiny_model):
    with pytest.raises(ConfigError, match="one token length"):
        activation_patching(tiny_model, ["a", "abcd"], ["b", "efgh"], "gratitude")
    with pytest.raises(ConfigError, match="unknown activation kind"):
        activation_patching(tiny_model, CLEAN, CORR, "gratitude", kinds=["resid_sideways"])
    with pytest.raises(ConfigError, match="same metric"):
        activation_patching(tiny_model, CORR, CORR, "gratitude", layers=[0])


@pytest.mark.real
def test_activation_patching_real_model_end_of_last_layer_is_one(real_model):
    from interp.datasets import load_profile

    ds = load_profile("baseline")
    clean, corr = common_length_pairs(real_model, [r.text for r in ds.by_emotion("gratitude")],
                                      [r.text for r in ds.by_emotion("neutral")], limit=4)
    res = activation_patching(real_model, clean, corr, "gratitude", kinds=["resid_pre"], layers=[0, 29])
    v = res.values["resid_pre"]
    assert res.clean_metric > res.corrupted_metric
    assert torch.isfinite(v).all()
    # at layer 0 the residual at BOS is identical in both runs: patching it does nothing
    assert abs(float(v[0, 0])) < 1e-4
    assert patch_all_positions(real_model, clean, corr, "gratitude", "blocks.0.hook_resid_pre") == pytest.approx(1.0, abs=1e-4)
    assert patch_all_positions(real_model, clean, corr, "gratitude", "blocks.29.hook_resid_post",
                               metric=first_token_metric) == pytest.approx(1.0, abs=1e-4)
