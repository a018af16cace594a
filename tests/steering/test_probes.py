"""Cross-validated probes: separable data is found, shuffled labels sit at chance."""

import numpy as np
import pytest

from interp.errors import DatasetError
from steering.probes import probe_accuracy


def _blobs(sep, n=40, d=20, seed=0):
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(4, d)) * sep
    x = np.concatenate([rng.normal(size=(n, d)) + c for c in centres])
    return x, [e for e in ("anger", "apology", "gratitude", "neutral") for _ in range(n)]


def test_probe_accuracy_separable_data_beats_shuffled_labels():
    x, y = _blobs(3.0)
    r = probe_accuracy(x, y, n_shuffle=3)
    assert r.accuracy.value > 0.95 and r.chance == 0.25
    assert abs(r.shuffled.value - 0.25) < 0.12
    assert r.p_value <= 0.25 and r.accuracy.lo > r.shuffled.hi


def test_probe_accuracy_random_labels_near_chance():
    x, y = _blobs(0.0, n=50)
    r = probe_accuracy(x, y, n_shuffle=1)
    assert abs(r.accuracy.value - 0.25) < 0.12 and r.accuracy.lo < 0.25 + 0.1


def test_probe_accuracy_rejects_too_few_sentences_per_class():
    x, y = _blobs(1.0, n=3)
    with pytest.raises(DatasetError, match="folds"):
        probe_accuracy(x, y)


@pytest.mark.real
def test_probe_accuracy_real_layer_separates_emotions(baseline_store):
    from steering.vectors import reference_rows

    r = probe_accuracy(reference_rows(baseline_store, "blocks.15.hook_resid_post", "sentence_end"), baseline_store.labels, n_shuffle=1)
    assert r.accuracy.lo > r.chance + 0.3 and r.accuracy.lo > r.shuffled.hi


def _worded(n, seed=0):
    rng = np.random.default_rng(seed)
    word = {"anger": "furious", "gratitude": "grateful", "apology": "sorry", "neutral": "standing"}
    nouns = ["table", "river", "letter", "garden", "window", "train", "lamp", "book"]
    labels = [e for e in ("anger", "apology", "gratitude", "neutral") for _ in range(n)]
    texts = [f"I am {word[e]} about the {nouns[rng.integers(len(nouns))]} {i}." for i, e in enumerate(labels)]
    return texts, labels


def test_text_baselines_share_folds_and_read_the_lexicon():
    from steering.probes import lexicon_rule, text_baselines

    texts, labels = _worded(20)
    tb = text_baselines(texts, labels, folds=5)
    assert tb.lexicon.value == 1.0 and tb.bow.value > 0.95  # one lexicon word per sentence: the rule alone is perfect
    assert list(lexicon_rule(["Thank you, I am sorry and sorry.", "The lamp is on."])) == ["apology", "neutral"]


def test_heldout_probe_without_activation_signal_loses_to_text_baselines_and_scores_transfer_sets():
    from steering.probes import heldout_probe

    texts, labels = _worded(30)
    rng = np.random.default_rng(1)
    x = rng.normal(size=(len(labels), 16))  # activations carry no class information
    tr = [i for i in range(len(labels)) if i % 2 == 0]
    te = [i for i in range(len(labels)) if i % 2 == 1]
    implicit_texts = ["You really came through for me today.", "This is the third time you broke it!"]
    trap_texts = ["The sorry state of the road was reported.", "Mad River flows north.", "Thanks to the rain, the crop grew."]
    extra = {"implicit": (rng.normal(size=(2, 16)), implicit_texts, ["gratitude", "anger"]),
             "trap": (rng.normal(size=(3, 16)), trap_texts, ["neutral"] * 3), "missing": None}
    r = heldout_probe(x[tr], [labels[i] for i in tr], [texts[i] for i in tr], x[te], [labels[i] for i in te], [texts[i] for i in te],
                      extra=extra, n_shuffle=200, seed=0)
    assert r.lexicon.value == 1.0 and r.bow.value > 0.9 and r.accuracy.value < 0.45
    assert r.vs_lexicon.hi < 0 and r.p_value > 0.05 and r.p_floor == pytest.approx(1 / 201)
    assert r.transfer["implicit"]["lexicon_rule"]["value"] == 0.0  # no lexicon word: the rule says neutral
    assert r.transfer["trap"]["lexicon_rule"]["value"] == 1.0  # every trap sentence trips the rule
    assert r.transfer["trap"]["n"] == 3 and any("missing" in n for n in r.notes)


def test_heldout_probe_with_activation_signal_beats_shuffles():
    from steering.probes import heldout_probe

    x, y = _blobs(2.0, n=30)
    texts = [f"Sentence number {i} is here." for i in range(len(y))]  # texts carry nothing
    tr, te = list(range(0, len(y), 2)), list(range(1, len(y), 2))
    r = heldout_probe(x[tr], [y[i] for i in tr], [texts[i] for i in tr], x[te], [y[i] for i in te], [texts[i] for i in te],
                      n_shuffle=200)
    assert r.accuracy.value > 0.9 and r.p_value < 0.01 and r.vs_bow.lo > 0.3


def test_text_baselines_in_another_attribute_and_language_use_its_lexicon_reference_and_characters():
    from interp.attributes import get_attribute
    from steering.probes import lexicon_rule, text_baselines

    spec = get_attribute("emotion").language("ja")
    ds = spec.load()
    texts, labels = [r.text for r in ds.records], [r.emotion for r in ds.records]
    rule = lexicon_rule(texts, find=spec.find, reference=spec.reference)
    assert set(rule) <= set(spec.label_names) and (rule == np.asarray(labels)).mean() > 0.9  # explicit expressions, by design
    tb = text_baselines(texts, labels, folds=3, n_boot=50, find=spec.find, reference=spec.reference, language="ja")
    assert tb.lexicon.value == pytest.approx((rule == np.asarray(labels)).mean())
    assert tb.bow.value > 1 / len(set(labels))  # character n-grams: the English word analyser finds no words here
