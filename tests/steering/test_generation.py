"""Generation under hooks: padding-invariance, seeds, greedy/sampled, chat template, cleanup, and the real-model sign test."""

import pytest
import torch

from interp.errors import ConfigError
from interp.hook_names import resid_pre
from interp.models import weights_hash
from steering.generation import GenerationConfig, generate, prepare_prompts
from steering.hooks import SteeringSpec

CFG = GenerationConfig(max_new_tokens=6, stop_at_eos=False)


def test_generate_left_padded_batch_matches_single_prompts(tiny_model):
    prompts = ["hello there, friend", "hi"]
    batched = generate(tiny_model, prompts, config=CFG)
    singles = [generate(tiny_model, [p], config=CFG).new_tokens[0] for p in prompts]
    assert list(batched.new_tokens) == singles
    assert all(len(t) == 6 for t in batched.new_tokens)


def test_generate_batch_size_split_matches_one_batch(tiny_model):
    prompts = ["abc", "hello world", "x"]
    a = generate(tiny_model, prompts, config=CFG)
    b = generate(tiny_model, prompts, config=GenerationConfig(max_new_tokens=6, stop_at_eos=False, batch_size=1))
    assert a.new_tokens == b.new_tokens


def test_generate_sampling_is_seeded(tiny_model):
    cfg = GenerationConfig(max_new_tokens=8, stop_at_eos=False, do_sample=True, seed=3)
    a, b = generate(tiny_model, ["abc"], config=cfg), generate(tiny_model, ["abc"], config=cfg)
    c = generate(tiny_model, ["abc"], config=GenerationConfig(max_new_tokens=8, stop_at_eos=False, do_sample=True, seed=4))
    assert a.new_tokens == b.new_tokens
    assert a.new_tokens != c.new_tokens


def test_generate_steering_changes_output_and_keeps_weights(tiny_model):
    h0 = weights_hash(tiny_model)
    plain = generate(tiny_model, ["abc", "hello"], config=CFG)
    spec = SteeringSpec(resid_pre(1), torch.randn(tiny_model.cfg.d_model), 50.0, "unit")
    steered = generate(tiny_model, ["abc", "hello"], [spec], config=CFG)
    again = generate(tiny_model, ["abc", "hello"], config=CFG)
    assert steered.new_tokens != plain.new_tokens
    assert again.new_tokens == plain.new_tokens  # hooks gone
    assert weights_hash(tiny_model) == h0
    assert steered.specs[0]["added_norm"] == pytest.approx(50.0, rel=1e-5)


def test_generate_removes_hooks_when_generation_fails(tiny_model, monkeypatch):
    toks = tiny_model.to_tokens("abc")
    clean = tiny_model(toks)

    def broken(*a, **k):
        raise RuntimeError("generation failed")

    monkeypatch.setattr(tiny_model, "generate", broken)
    spec = SteeringSpec(resid_pre(0), torch.randn(tiny_model.cfg.d_model), 9.0, "unit")
    with pytest.raises(RuntimeError):
        generate(tiny_model, ["abc"], [spec], config=CFG)
    monkeypatch.undo()
    torch.testing.assert_close(tiny_model(toks), clean)


def test_generate_chat_needs_a_template(tiny_model):
    with pytest.raises(ConfigError, match="chat template"):
        generate(tiny_model, ["abc"], config=GenerationConfig(max_new_tokens=2, chat=True))


def test_generation_config_validates():
    with pytest.raises(ConfigError):
        GenerationConfig(max_new_tokens=0)
    with pytest.raises(ConfigError):
        GenerationConfig(do_sample=True, temperature=0.0)


def test_prepare_prompts_left_pads(tiny_model):
    b = prepare_prompts(tiny_model, ["abcd", "a"])
    assert b.left_pad == (0, 3)
    assert b.attention_mask.tolist()[1] == [0, 0, 0, 1, 1]


@pytest.mark.real
def test_generate_chat_template_on_real_model(real_model):
    b = prepare_prompts(real_model, ["Say hi."], chat=True)
    text = real_model.tokenizer.decode(b.tokens[0])
    assert text.startswith("<|im_start|>system") and text.rstrip().endswith("<|im_start|>assistant")
    g = generate(real_model, ["Say hi."], config=GenerationConfig(max_new_tokens=8, chat=True))
    assert g.continuations[0].strip()


GRATITUDE_LAYER = 15
GRATITUDE_ALPHA = 1.0  # raw units (alpha x the gratitude vector at resid_pre(15)); sweep: +0.31 / -0.13 VADER vs alpha=0, alpha=2 collapses


@pytest.mark.real
def test_gratitude_steering_moves_vader_with_the_sign_of_alpha(real_model, tmp_path):
    """+gratitude raises mean VADER over alpha=0 and -gratitude lowers it (same prompts, greedy)."""
    from interp.datasets import load_prompts
    from interp.evaluators import make_scorer
    from steering.sweep import extract_emotion_vectors

    hook = resid_pre(GRATITUDE_LAYER)
    vec = extract_emotion_vectors(real_model, tmp_path / "store", ["gratitude"], [GRATITUDE_LAYER])[("gratitude", GRATITUDE_LAYER)]
    prompts = load_prompts()[:30]
    cfg = GenerationConfig(max_new_tokens=20)  # the sweep's setting: this is one sweep cell and its alpha=0 control
    vader = make_scorer("sentiment")
    h0 = weights_hash(real_model)

    def mean_vader(alpha):
        specs = [SteeringSpec(hook, vec.vector, alpha, "raw", label="gratitude")] if alpha else []
        g = generate(real_model, prompts, specs, config=cfg)
        return sum(vader.score(g.continuations)["vader_compound"]) / len(prompts)

    base, plus, minus = mean_vader(0.0), mean_vader(GRATITUDE_ALPHA), mean_vader(-GRATITUDE_ALPHA)
    assert plus > base + 0.1, (base, plus, minus)
    assert minus < base - 0.05, (base, plus, minus)
    assert weights_hash(real_model) == h0


def whole_word_token_ids(tokenizer, words_) -> set[int]:
    """Ids of single tokens that decode to a whole lexicon word (with or without a leading space, lower or capitalised)."""
    ids = set()
    for w in words_:
        for form in (" " + w, " " + w.capitalize(), w.capitalize()):
            t = tokenizer(form, add_special_tokens=False)["input_ids"]
            if len(t) == 1:
                ids.add(t[0])
    return ids


@pytest.mark.real
def test_planted_keyword_insertion_steer_is_flagged_by_the_masked_score(real_model):
    """A hook that only raises the gratitude words' logits lifts VADER compound; masking those words removes the lift."""
    from interp.datasets import load_prompts
    from interp.evaluators import make_scorer, score_texts
    from interp.lexicon import EMOTION_WORDS
    from steering.hooks import boost_token_logits_hook
    from steering.sweep_stats import keyword_check

    ids = whole_word_token_ids(real_model.tokenizer, EMOTION_WORDS["gratitude"])
    decoded = {real_model.tokenizer.decode([i]).strip().lower() for i in ids}
    assert decoded <= set(EMOTION_WORDS["gratitude"]) and len(decoded) >= 5  # whole words only, never " I" or "th"
    prompts = load_prompts()[:16]
    cfg = GenerationConfig(max_new_tokens=16)
    h0 = weights_hash(real_model)
    plain = generate(real_model, prompts, config=cfg)
    planted = generate(real_model, prompts, config=cfg, extra_hooks=[("unembed.hook_out", boost_token_logits_hook(ids, 10.0))])
    assert weights_hash(real_model) == h0
    scorers = [make_scorer("sentiment"), make_scorer("keywords")]
    s0 = score_texts(plain.continuations, scorers, mask_emotion="gratitude")
    s1 = score_texts(planted.continuations, scorers, mask_emotion="gratitude")
    assert sum(s1["kw_gratitude"]) > sum(s0["kw_gratitude"]) + 5  # the plant inserts gratitude words
    kc = keyword_check(s1["vader_compound"], s0["vader_compound"], s1["vader_compound_masked"], s0["vader_compound_masked"], n_boot=2000)
    assert kc.raw.value > 0 and kc.p_raw < 0.05  # the raw score calls it a successful gratitude steer ...
    assert kc.keyword_driven  # ... the masked score does not
    assert kc.keyword_share > kc.masked.value
