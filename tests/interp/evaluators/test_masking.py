"""Lexicon masking: whole words, every listed inflection, case-insensitive; a neutral placeholder; masked score columns."""

import pytest

from interp.errors import ConfigError
from interp.evaluators import make_scorer, score_texts
from interp.evaluators.masking import PLACEHOLDER, count_masked, label_lexicon, mask_emotion_words, maskable_labels
from interp.lexicon import EMOTION_WORDS, words


@pytest.mark.parametrize("emotion", sorted(EMOTION_WORDS))
def test_mask_emotion_words_removes_every_listed_word_in_any_case(emotion):
    for w in EMOTION_WORDS[emotion]:
        for form in (w, w.upper(), w.capitalize()):
            text = f"Well, {form}! I said {form}."
            masked = mask_emotion_words(text, emotion)
            assert not any(x in EMOTION_WORDS[emotion] for x in words(masked)), (form, masked)
            assert masked == f"Well, {PLACEHOLDER}! I said {PLACEHOLDER}."
            assert len(words(masked)) == len(words(text))  # the placeholder keeps the word count


def test_mask_emotion_words_keeps_other_words_and_word_parts():
    text = "Thanksgiving was madness; the madam was not mad, thanks."
    assert mask_emotion_words(text, "gratitude") == "Thanksgiving was madness; the madam was not mad, thing."
    assert mask_emotion_words(text, "anger") == "Thanksgiving was madness; the madam was not thing, thanks."
    assert count_masked(text, "anger") == 1


def test_placeholder_is_neutral_for_every_scorer():
    out = score_texts([PLACEHOLDER, f"the {PLACEHOLDER} is here"], [make_scorer("sentiment"), make_scorer("nrc"), make_scorer("keywords")])
    for col, vals in out.items():
        assert vals == [0.0, 0.0], col
    assert all(PLACEHOLDER not in ws for ws in EMOTION_WORDS.values())
    assert all(PLACEHOLDER not in words(e) for lab in maskable_labels() for e in label_lexicon(lab))  # attribute lexicons too


def test_score_texts_adds_masked_twins_for_content_scorers_only(tiny_model):
    texts = ["Thank you so much, I am grateful.", "The table is brown."]
    scorers = [make_scorer("sentiment"), make_scorer("keywords"), make_scorer("fluency", model=tiny_model)]
    out = score_texts(texts, scorers, prompts=["a", "b"], mask_emotion="gratitude")
    assert "vader_compound_masked" in out and "kw_gratitude_masked" in out and "kw_anger_masked" in out
    assert "perplexity_masked" not in out and "distinct_2_masked" not in out
    assert out["kw_gratitude"] == [2.0, 0.0] and out["kw_gratitude_masked"] == [0.0, 0.0]
    assert out["vader_compound"][0] > 0.5 and out["vader_compound_masked"][0] == pytest.approx(0.0)
    assert out["vader_compound"][1] == out["vader_compound_masked"][1]  # nothing to mask: same score
    assert "vader_compound_masked" not in score_texts(texts, scorers[:1])


def test_mask_unknown_emotion_is_an_error():
    with pytest.raises(ConfigError, match="no lexicon to mask for label 'joy'; English word lexicons exist for gratitude, anger, apology, "):
        mask_emotion_words("hi", "joy")


def test_emotion_labels_resolve_to_the_emotion_lexicon_and_others_to_the_registry():
    assert label_lexicon("gratitude") is EMOTION_WORDS["gratitude"]
    assert "or else" in label_lexicon("threatening") and label_lexicon("threat:threatening") == label_lexicon("threatening")
    assert maskable_labels()[:3] == list(EMOTION_WORDS) and "formality:casual" in maskable_labels()
