"""Attached modules: off ⇒ base logits exactly; neutral ⇒ identity for adapter/steering; gradients reach modules only."""

import pytest
import torch

from frozen_llm_modules import EmotionalPrefix, EmotionalState, EmotionSteeringModule, GatedEmotionAdapter
from frozen_llm_modules.attach import EmotionalLLM, base_parameters, trainable_parameters
from frozen_llm_modules.state import ModuleError
from interp.hook_names import resid_pre


def _llm(model):
    torch.manual_seed(0)
    st = EmotionSteeringModule.for_model(model)
    with torch.no_grad():
        st.vectors.normal_()
    ad = GatedEmotionAdapter.for_model(model, rank=4)
    with torch.no_grad():
        ad.up.normal_(std=0.1)
    return EmotionalLLM(model, prefix=EmotionalPrefix.for_model(model, n_virtual=3), adapter=ad, steering=st)


def test_emotional_llm_all_off_equals_base_exactly(tiny_model):
    llm = _llm(tiny_model)
    b = llm.encode(["hello there", "a longer prompt here"], ["ok", "fine thanks"])
    llm.set_state(EmotionalState(fear=1, joy=0.5))
    assert not torch.equal(llm(b.tokens, b.attention_mask), tiny_model(b.tokens, attention_mask=b.attention_mask))
    llm.disable_all()
    assert torch.equal(llm(b.tokens, b.attention_mask), tiny_model(b.tokens, attention_mask=b.attention_mask))
    assert not tiny_model.hook_dict[resid_pre(0)].fwd_hooks  # no hook left behind


@pytest.mark.real
def test_emotional_llm_all_off_equals_base_on_real_model(real_model):
    llm = _llm(real_model)
    toks = real_model.to_tokens("The committee will meet again next week.")
    llm.set_state(EmotionalState(curiosity=0.7))
    llm.disable_all()
    assert torch.equal(llm(toks), real_model(toks))


@pytest.mark.parametrize("kind", ["adapter", "steering"])
def test_module_neutral_state_is_identity(tiny_model, kind):
    llm = _llm(tiny_model)
    llm.disable_all()
    llm.enable(kind)
    toks = tiny_model.to_tokens("neutral state text")
    llm.set_state(EmotionalState.neutral())
    assert torch.equal(llm(toks), tiny_model(toks))
    llm.set_state(EmotionalState(frustration=0.9))
    assert not torch.allclose(llm(toks), tiny_model(toks))


def test_steering_hook_adds_state_times_vectors(tiny_model):
    llm = _llm(tiny_model)
    llm.disable_all()
    llm.enable("steering")
    st = llm.modules["steering"]
    state = EmotionalState(fear=0.2, curiosity=0.5, frustration=0.0, joy=1.0)
    llm.set_state(state)
    toks = tiny_model.to_tokens("abc")
    name = resid_pre(st.layer)
    _, clean = tiny_model.run_with_cache(toks, names_filter=[name])
    with llm.attached():
        _, steered = tiny_model.run_with_cache(toks, names_filter=[name])
    expected = clean[name] + state.to_tensor() @ st.vectors.detach()
    torch.testing.assert_close(steered[name], expected, rtol=0, atol=1e-6)


def test_module_gradients_reach_modules_not_base(tiny_model):
    llm = _llm(tiny_model)
    llm.set_state(torch.tensor([[1.0, 0, 0, 0], [0, 0, 0, 1.0]]))
    loss = llm.response_nll(["hi", "hello"], ["ok", "sure"]).mean()
    loss.backward()
    for m in llm.modules.values():
        assert any(p.grad is not None and p.grad.abs().sum() > 0 for p in m.parameters())
    assert all(not p.requires_grad and p.grad is None for p in tiny_model.parameters())


def test_module_parameter_fractions_match_design(tiny_model):
    st = EmotionSteeringModule.for_model(tiny_model)
    assert trainable_parameters(st) == 4 * tiny_model.cfg.d_model
    assert base_parameters(tiny_model) <= sum(p.numel() for p in tiny_model.parameters())


def test_emotional_llm_rejects_bad_state_and_kind(tiny_model):
    llm = _llm(tiny_model)
    with pytest.raises(ModuleError, match=r"\[0, 1\]"):
        llm.set_state(torch.tensor([1.5, 0, 0, 0]))
    with pytest.raises(ModuleError, match="no 'reward' module"):
        llm.enable("reward")


def test_steering_init_from_emotion_vectors(tiny_model):
    from steering.vectors import EmotionVector

    st = EmotionSteeringModule.for_model(tiny_model, layer=1)
    d = tiny_model.cfg.d_model
    vecs = [EmotionVector(e, torch.randn(d), resid_pre(1), 1, "sentence_end", "neutral", tiny_model.ec_info.name,
                          tiny_model.ec_info.source_hash, "x") for e in ("gratitude", "anger", "apology")]
    st.init_from_vectors(vecs, scale=2.0)
    torch.testing.assert_close(st.vectors[3], 2 * vecs[0].vector)  # joy ← gratitude
    torch.testing.assert_close(st.vectors[2], 2 * vecs[1].vector)  # frustration ← anger
    assert st.vectors[1].abs().sum() == 0  # curiosity has no source vector
    wrong = [EmotionVector("gratitude", torch.randn(d), resid_pre(0), 0, "sentence_end", "neutral", "tiny", "h", "x")]
    with pytest.raises(ModuleError, match="resid_pre"):
        st.init_from_vectors(wrong, mapping={"joy": "gratitude"})


def test_prefix_neutral_state_adds_no_virtual_tokens(tiny_model):
    llm = _llm(tiny_model)
    llm.disable_all()
    llm.enable("prefix")
    with torch.no_grad():
        llm.modules["prefix"].delta.normal_()
    b = llm.encode(["hello there", "a longer prompt here"])
    base = tiny_model(b.tokens, attention_mask=b.attention_mask)
    llm.set_state(EmotionalState.neutral())
    assert llm.n_prefix == 0 and torch.equal(llm(b.tokens, b.attention_mask), base)
    llm.set_state(torch.tensor([[0.0, 0, 0, 0], [1.0, 0, 0, 0]]))  # mixed batch: row 0's virtual tokens are masked
    out = llm(b.tokens, b.attention_mask)
    real = b.attention_mask.bool()
    torch.testing.assert_close(out[0][real[0]], base[0][real[0]], rtol=1e-4, atol=1e-4)
    assert not torch.allclose(out[1][real[1]], base[1][real[1]], atol=1e-3)


def test_prefix_hook_leaves_cached_decoding_steps_alone(tiny_model):
    from frozen_llm_modules.prefix import replace_prefix_hook

    p = EmotionalPrefix(tiny_model.cfg.d_model, n_virtual=3)
    hook = replace_prefix_hook(p, lambda: EmotionalState(fear=1).to_tensor())
    one = torch.randn(2, 1, tiny_model.cfg.d_model)
    assert torch.equal(hook(one, None), one)
    full = torch.randn(2, 5, tiny_model.cfg.d_model)
    out = hook(full, None)
    assert torch.equal(out[:, 3:], full[:, 3:]) and torch.equal(out[:, :3], p.embeddings(torch.tensor([1.0, 0, 0, 0])).expand(2, -1, -1))


@pytest.mark.real
def test_kv_cached_generation_matches_full_recompute_on_real_model(real_model):
    torch.manual_seed(0)
    pf = EmotionalPrefix.for_model(real_model, n_virtual=4)
    st = EmotionSteeringModule.for_model(real_model)
    with torch.no_grad():
        pf.delta.normal_(std=0.02)
        st.vectors.normal_(std=0.5)
    llm = EmotionalLLM(real_model, prefix=pf, steering=st)
    prompts = ["How do I choose a laptop?", "Can you help me reduce food waste?"]
    outs = {}
    for state in (EmotionalState.neutral(), EmotionalState(fear=1.0, joy=0.5)):
        llm.set_state(state)
        cached = llm.generate(prompts, max_new_tokens=8)
        assert cached == llm.generate(prompts, max_new_tokens=8, use_kv_cache=False)
        outs[str(state)] = cached
    llm.disable_all()
    assert llm.generate(prompts, max_new_tokens=8) == outs[str(EmotionalState.neutral())]  # neutral ≡ base
    assert outs[str(EmotionalState(fear=1.0, joy=0.5))] != outs[str(EmotionalState.neutral())]


@pytest.mark.real
def test_base_parameters_counts_tied_embeddings_once_on_real_model(real_model):
    """SmolLM2-135M ties its word embeddings: 134,515,008 parameters, though the bridge holds a separate unembedding."""
    in_memory = sum(p.numel() for p in real_model.parameters())
    assert base_parameters(real_model) == 134_515_008 < in_memory
