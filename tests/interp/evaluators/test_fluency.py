"""Fluency: repetition measures and perplexity under the unsteered model (parity with a direct computation)."""

import math

import pytest
import torch

from interp.errors import ConfigError
from interp.evaluators import make_scorer
from interp.evaluators.fluency import distinct_n, longest_repeated_ngram, text_tokens


@pytest.mark.parametrize("text,d1,d2,rep", [
    ("a b c d", 1.0, 1.0, 0),
    ("a b a b", 0.5, 2 / 3, 2),
    ("I. I. I. I.", 0.25, 2 / 7, 6),
])
def test_repetition_measures(text, d1, d2, rep):
    t = text_tokens(text)
    assert distinct_n(t, 1) == pytest.approx(d1)
    assert distinct_n(t, 2) == pytest.approx(d2)
    assert longest_repeated_ngram(t) == rep


def test_distinct_n_of_short_text_is_nan():
    assert math.isnan(distinct_n(["a"], 2))


def test_fluency_needs_a_model():
    with pytest.raises(ConfigError, match="unsteered model"):
        make_scorer("fluency")


def test_perplexity_matches_direct_computation(tiny_model):
    s = make_scorer("fluency", model=tiny_model)
    prompts, texts = ["hello", "a much longer prompt here"], [" world", " and more"]
    ppl = s.perplexities(texts, prompts)
    for p, t, got in zip(prompts, texts, ppl):
        ids = tiny_model.to_tokens(p + t)
        n_ctx = tiny_model.to_tokens(p).shape[1]
        logp = torch.log_softmax(tiny_model(ids)[0, :-1].float(), -1).gather(-1, ids[0, 1:, None])[:, 0]
        want = math.exp(float(-logp[n_ctx - 1 :].mean()))
        assert got == pytest.approx(want, rel=1e-4)  # batched + padded = unpadded


def test_perplexity_of_empty_text_is_nan(tiny_model):
    s = make_scorer("fluency", model=tiny_model)
    out = s.score(["", "abc"], prompts=["x", "y"])
    assert math.isnan(out["perplexity"][0]) and out["perplexity"][1] > 1


@pytest.mark.real
def test_perplexity_ranks_fluent_below_scrambled_on_real_model(real_model):
    s = make_scorer("fluency", model=real_model)
    ppl = s.perplexities([" it will rain in the afternoon.", " afternoon rain the will in it."], ["The weather report says"] * 2)
    assert ppl[0] < ppl[1]
