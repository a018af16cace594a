"""Registry and text scorers: VADER, NRC, keywords, politeness (optional extra), HF classifier."""

import importlib.util

import pytest

from interp.errors import ConfigError
from interp.evaluators import available_scorers, make_scorer, register_scorer, score_texts


def test_vader_scorer_orders_positive_above_negative():
    s = make_scorer("sentiment")
    out = s.score(["Thank you so much, this is wonderful!", "The table is brown.", "I hate this, it is awful."])
    c = out["vader_compound"]
    assert c[0] > 0.5 and c[2] < -0.5 and c[1] == pytest.approx(0.0)


def test_nrc_scorer_counts_lexicon_hits_per_word():
    s = make_scorer("nrc")
    out = s.score(["furious anger", "the the", ""])
    assert out["nrc_anger"][0] == pytest.approx(1.0)  # both words are NRC anger words
    assert out["nrc_anger"][1] == 0.0 and out["nrc_anger"][2] == 0.0
    assert set(out) == set(s.columns)


def test_keyword_scorer_counts_whole_words():
    s = make_scorer("keywords", emotions=["gratitude", "anger"])
    out = s.score(["Thanks! I am so grateful, thanks again.", "thanksgiving is mad fun"])
    assert out["kw_gratitude"] == [3.0, 0.0]
    assert out["kw_anger"] == [0.0, 1.0]


def test_keyword_scorer_rejects_unknown_emotion():
    with pytest.raises(ConfigError, match="no keyword list"):
        make_scorer("keywords", emotions=["joy"])


def test_make_scorer_unknown_name_lists_available():
    with pytest.raises(ConfigError, match="sentiment"):
        make_scorer("nope")


def test_register_user_scorer_and_score_texts_merges_columns():
    class Length:
        name = "length"
        columns = ("n_chars",)

        def score(self, texts, *, prompts=None):
            return {"n_chars": [len(t) for t in texts]}

    register_scorer("length_test", Length, replace=True)
    assert "length_test" in available_scorers()
    out = score_texts(["ab", "abcd"], [make_scorer("length_test"), make_scorer("sentiment")])
    assert out["n_chars"] == [2.0, 4.0] and "vader_compound" in out
    with pytest.raises(ConfigError, match="clash"):
        score_texts(["ab"], [make_scorer("length_test"), make_scorer("length_test")])
    with pytest.raises(ConfigError, match="already registered"):
        register_scorer("sentiment", Length)


def test_score_texts_rejects_wrong_length():
    class Bad:
        name = "bad"
        columns = ("x",)

        def score(self, texts, *, prompts=None):
            return {"x": [1.0]}

    with pytest.raises(ConfigError, match="returned 1 values for 2"):
        score_texts(["a", "b"], [Bad()])


@pytest.mark.skipif(importlib.util.find_spec("convokit") is not None, reason="convokit installed")
def test_politeness_scorer_without_convokit_gives_install_command():
    with pytest.raises(ConfigError, match="pip install convokit"):
        make_scorer("politeness")


def test_hf_classifier_scorer_on_a_local_tiny_classifier(tmp_path):
    # A randomly initialised local classifier: checks the loading/scoring path, not its quality.
    import torch
    from transformers import BertConfig, BertForSequenceClassification, BertTokenizerFast

    vocab = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "thank", "you", "i", "am", "angry"]
    (tmp_path / "vocab.txt").write_text("\n".join(vocab))
    tok = BertTokenizerFast(vocab_file=str(tmp_path / "vocab.txt"))
    torch.manual_seed(0)
    cfg = BertConfig(vocab_size=len(vocab), hidden_size=16, num_hidden_layers=1, num_attention_heads=2, intermediate_size=32,
                     num_labels=2, id2label={0: "calm", 1: "angry"}, label2id={"calm": 0, "angry": 1})
    BertForSequenceClassification(cfg).save_pretrained(tmp_path)
    tok.save_pretrained(tmp_path)
    s = make_scorer("hf_classifier", model_name_or_path=str(tmp_path))
    out = s.score(["thank you", "i am angry", "you"])
    assert set(out) == {"hf_calm", "hf_angry"}
    for a, b in zip(out["hf_calm"], out["hf_angry"]):
        assert a + b == pytest.approx(1.0, abs=1e-5)
    assert out["hf_calm"][0] != pytest.approx(out["hf_calm"][1])


def test_hf_classifier_missing_model_is_a_config_error(tmp_path):
    with pytest.raises(ConfigError, match="cannot load classifier"):
        make_scorer("hf_classifier", model_name_or_path=str(tmp_path / "missing"))
