"""Behavioural training: base weights hash unchanged, base never requires grad, the module moves toward its targets."""

import pytest
import torch

from frozen_llm_modules import EmotionalPrefix, EmotionalState, EmotionSteeringModule, GatedEmotionAdapter
from frozen_llm_modules.attach import EmotionalLLM
from frozen_llm_modules.training import heldout_prompts, load_style_corpus, reward_training_data, split_corpus, train_behaviour
from interp.models import weights_hash


def test_style_corpus_has_100_per_style_and_heldout_topics():
    rows = load_style_corpus()
    counts = {s: sum(r["style"] == s for r in rows) for s in ("fear", "curiosity", "frustration", "joy")}
    assert min(counts.values()) >= 100
    train, held = split_corpus(rows)
    assert not {r["prompt"] for r in train} & {r["prompt"] for r in held} and len(heldout_prompts()) == 30
    p, r, s, y = reward_training_data(held[:2])
    assert len(p) == 8 and y.sum() == 2 and s.shape == (8, 4)


@pytest.mark.parametrize("kind", ["prefix", "adapter", "steering"])
def test_train_behaviour_keeps_base_frozen_and_lowers_loss(tiny_model, kind):
    mod = {"prefix": lambda: EmotionalPrefix.for_model(tiny_model, n_virtual=2),
           "adapter": lambda: GatedEmotionAdapter.for_model(tiny_model, rank=4),
           "steering": lambda: EmotionSteeringModule.for_model(tiny_model)}[kind]()
    llm = EmotionalLLM(tiny_model, **{kind: mod})
    rows = [r for r in load_style_corpus() if r["style"] == "joy"][:4]
    before = {k: v.clone() for k, v in mod.state_dict().items()}

    def nll() -> float:  # the training rows at the top of the training state range
        llm.set_state(EmotionalState.only("joy"))
        with torch.no_grad():
            return float(llm.response_nll([r["prompt"] for r in rows], [r["response"] for r in rows]).mean())

    nll0 = nll()
    rep = train_behaviour(llm, kind, rows, steps=15, batch_size=2, lr=0.05)
    assert rep.base_hash_before == rep.base_hash_after == weights_hash(tiny_model)
    assert not any(p.requires_grad for p in tiny_model.parameters())
    assert any(not torch.equal(before[k], v) for k, v in mod.state_dict().items())
    assert nll() < nll0


@pytest.mark.real
def test_train_steering_on_real_model_keeps_weights_hash(real_model):
    h0 = weights_hash(real_model)
    mod = EmotionSteeringModule.for_model(real_model)
    llm = EmotionalLLM(real_model, steering=mod)
    rows = load_style_corpus()[:8]
    rep = train_behaviour(llm, "steering", rows, steps=2, batch_size=1)
    assert rep.base_hash_before == h0 == rep.base_hash_after == weights_hash(real_model)
    assert mod.vectors.abs().sum() > 0 and rep.fraction < 1e-4
    llm.set_state(EmotionalState.neutral())
    toks = real_model.to_tokens("No hooks are left behind.")
    assert torch.equal(real_model(toks), llm.model(toks))


def test_train_behaviour_batches_take_styles_in_turn(tiny_model):
    mod = EmotionSteeringModule.for_model(tiny_model)
    llm = EmotionalLLM(tiny_model, steering=mod)
    train_behaviour(llm, "steering", load_style_corpus(), steps=1, batch_size=4, lr=0.05)
    assert (mod.vectors.abs().sum(-1) > 0).all()  # one step touched every emotion's vector


@pytest.mark.real
def test_trained_steering_conditions_on_state_on_real_model(real_model):
    """A few steps on the real model make fear-style answers likelier under fear than under joy or the base, on
    held-out templates (unseen wording, unseen topics), on average over 12 responses. (With 6 steps and per-row
    assertions this held on the old corpus, whose held-out rows reused training templates; on unseen templates
    6 steps separate fear from the base but not from joy.)"""
    rows = load_style_corpus()
    train, held = split_corpus(rows)
    mod = EmotionSteeringModule.for_model(real_model)
    llm = EmotionalLLM(real_model, steering=mod)
    train_behaviour(llm, "steering", train, steps=12, batch_size=4, lr=0.05)
    fear = [r for r in held if r["style"] == "fear"][:12]
    prompts, responses = [r["prompt"] for r in fear], [r["response"] for r in fear]
    nll = {}
    with torch.no_grad():
        for name, state in (("base", EmotionalState.neutral()), ("fear", EmotionalState.only("fear")),
                            ("joy", EmotionalState.only("joy"))):
            llm.set_state(state)
            nll[name] = llm.response_nll(prompts, responses)
    assert nll["fear"].mean() < nll["base"].mean() and nll["fear"].mean() < nll["joy"].mean(), nll


def test_kl_anchor_keeps_an_active_module_close_to_the_base(tiny_model):
    """Same data, steps and seed: the KL-anchored adapter moves the anchor texts' distribution less than the plain one."""
    from frozen_llm_modules.training import kl_to_base

    rows = [r for r in load_style_corpus() if r["style"] == "joy"][:8]
    anchor = ["the cat sat on the mat", "a bus came by at noon", "rain is due later today", "the shop opens at nine"]
    kls = {}
    for w in (0.0, 5.0):
        torch.manual_seed(0)
        mod = GatedEmotionAdapter.for_model(tiny_model, rank=4)
        llm = EmotionalLLM(tiny_model, adapter=mod)
        rep = train_behaviour(llm, "adapter", rows, steps=12, batch_size=2, lr=0.05, kl_weight=w, kl_texts=anchor)
        assert rep.kl_weight == w and (w == 0) == (rep.kl_last != rep.kl_last)  # kl_last is NaN without the anchor
        llm.set_state(EmotionalState.only("joy"))
        with torch.no_grad():
            kls[w] = float(kl_to_base(llm, anchor))
    assert kls[5.0] < kls[0.0]


def test_kl_to_base_is_zero_with_the_module_off_or_neutral(tiny_model):
    from frozen_llm_modules.training import kl_to_base

    mod = GatedEmotionAdapter.for_model(tiny_model, rank=4)
    with torch.no_grad():
        mod.up.normal_()
    llm = EmotionalLLM(tiny_model, adapter=mod)
    llm.set_state(EmotionalState.neutral())
    with torch.no_grad():
        assert float(kl_to_base(llm, ["hello there"])) == 0.0
        llm.set_state(EmotionalState.only("fear"))
        assert float(kl_to_base(llm, ["hello there"])) > 0.0


def test_neutral_text_splits_are_disjoint():
    from frozen_llm_modules.training import N_PERPLEXITY_TEXTS, neutral_texts

    held, anchor = neutral_texts(split="heldout"), neutral_texts(split="anchor")
    assert len(held) == N_PERPLEXITY_TEXTS and anchor and not set(held) & set(anchor)
