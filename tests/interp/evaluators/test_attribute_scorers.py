"""English attribute scorers on the shipped sentence sets: marker rates, their non-lexical masked twins, registry targets."""

import json
from importlib import resources

import numpy as np
import pytest
from scipy.stats import binomtest

from interp.attributes import Attribute, Label, LanguageData, attribute_names, get_attribute, register_attribute, unregister_attribute
from interp.errors import ConfigError
from interp.evaluators import make_scorer, score_texts
from interp.evaluators.attribute_markers import MarkerScorer
from interp.evaluators.masking import PLACEHOLDER, count_masked, label_lexicon, lexicon_pattern, mask_label_words, mask_texts
from interp.lexicon import words
from interp.stats import bootstrap_ci

MARKERS = [("politeness", "polite", "politeness_markers"), ("humour", "humorous", "humour_markers"),
           ("threat", "threatening", "threat_markers")]


def _pairs(attribute: str, label: str, split: str | None = None) -> list[tuple[str, str]]:
    """``(labelled text, its anchor's text)`` of a shipped English set."""
    text = resources.files("interp").joinpath("data", f"attributes_en_{attribute}.jsonl").read_text(encoding="utf-8")
    recs = [json.loads(line) for line in text.splitlines() if line.strip()]
    by_id = {r["id"]: r for r in recs}
    return [(r["text"], by_id[r["pair_id"]]["text"]) for r in recs
            if r["emotion"] == label and r.get("pair_id") and (split is None or r["split"] == split)]


def _paired(scorer, pairs, label: str, column: str) -> np.ndarray:
    """Labelled − anchor per pair of ``column`` (a ``*_masked`` column is scored on ``label``-masked text)."""
    a = score_texts([p[0] for p in pairs], [scorer], mask_emotion=label)[column]
    b = score_texts([p[1] for p in pairs], [scorer], mask_emotion=label)[column]
    return np.asarray(a) - np.asarray(b)


def _sign_test(d: np.ndarray) -> tuple[int, int, float]:
    up, down = int((d > 0).sum()), int((d < 0).sum())
    return up, down, binomtest(up, up + down, alternative="greater").pvalue if up + down else 1.0


@pytest.mark.parametrize(("attribute", "label", "name"), MARKERS)
def test_marker_scorer_ranks_labelled_sentence_above_its_anchor(attribute, label, name):
    """Raw marker rate: never lower than the anchor, higher on enough pairs for a one-sided sign test (ties dropped)."""
    d = _paired(make_scorer(name), _pairs(attribute, label), label, name)
    up, down, p = _sign_test(d)
    assert down == 0 and p < 0.05, (up, down, p)
    assert bootstrap_ci(d).excludes(0.0)


def test_threat_and_politeness_markers_hold_on_the_held_out_split():
    """The threat additions were written after reading the selection split only; the evaluation split still separates."""
    for attribute, label, name in (MARKERS[0], MARKERS[2]):
        up, down, p = _sign_test(_paired(make_scorer(name), _pairs(attribute, label, "evaluation"), label, name))
        assert down == 0 and p < 0.05, (name, up, down, p)


def test_humour_masked_twin_is_vader_compound_of_masked_text_and_separates_jokes():
    s, vader = make_scorer("humour_markers"), make_scorer("sentiment")
    pairs = _pairs("humour", "humorous")
    texts = [p[0] for p in pairs]
    got = score_texts(texts, [s], mask_emotion="humorous")["humour_markers_masked"]
    assert got == vader.score(mask_texts(texts, "humorous"))["vader_compound"]  # parity with an independent call
    d = _paired(s, pairs, "humorous", "humour_markers_masked")
    up, down, p = _sign_test(d)
    assert up > 3 * down and p < 0.01, (up, down, p)
    held_out = _sign_test(_paired(s, _pairs("humour", "humorous", "evaluation"), "humorous", "humour_markers_masked"))
    assert held_out[2] < 0.05, held_out


def test_threat_masked_twin_is_vader_negative_share_and_misses_veiled_threats():
    """ATTRIBUTES_README.md: once the formulas are masked, VADER sees no more negativity in threats than in firm statements."""
    s, vader = make_scorer("threat_markers"), make_scorer("sentiment")
    pairs = _pairs("threat", "threatening")
    texts = [p[0] for p in pairs]
    assert score_texts(texts, [s], mask_emotion="threatening")["threat_markers_masked"] == \
        vader.score(mask_texts(texts, "threatening"))["vader_neg"]
    assert _sign_test(_paired(s, _pairs("threat", "threatening", "evaluation"), "threatening", "threat_markers_masked"))[2] > 0.05


def test_politeness_masked_twin_shows_the_polite_set_is_formula_insertion():
    """Raw VADER compound is higher on 74 of 75 changed polite pairs; with the formulas masked no tone difference is left."""
    pairs = _pairs("politeness", "polite")
    raw = _sign_test(_paired(make_scorer("sentiment"), pairs, "polite", "vader_compound"))
    masked = _sign_test(_paired(make_scorer("politeness_markers"), pairs, "polite", "politeness_markers_masked"))
    assert raw[1] <= 1 and raw[2] < 1e-10 and masked[2] > 0.05, (raw, masked)


@pytest.mark.parametrize(("attribute", "label", "name"), MARKERS)
def test_masking_replaces_exactly_the_lexicon_words(attribute, label, name):
    """Against an independent word-level count: every word of every (possibly overlapping) occurrence of an expression."""
    exprs = [words(e) for e in label_lexicon(label)]
    pat = lexicon_pattern(label_lexicon(label))
    total = 0
    for text, _ in _pairs(attribute, label):
        ws = words(text)
        hit = [any(ws[j:j + len(e)] == e for e in exprs for j in range(max(0, i - len(e) + 1), i + 1)) for i in range(len(ws))]
        masked = mask_label_words(text, label)
        assert count_masked(text, label) == sum(hit)
        assert words(masked) == [PLACEHOLDER if h else w for w, h in zip(ws, hit)]  # same word count, other words untouched
        assert not pat.search(masked)
        total += sum(hit)
    assert total > 0


def test_masking_covers_overlapping_phrases_and_keeps_word_parts():
    text = "Pay up or you will regret it, Mr Orelse; it's your LAST WARNING."
    assert mask_label_words(text, "threatening") == "Pay up thing thing thing thing it, Mr Orelse; it's your thing thing."
    assert count_masked(text, "threatening") == 6
    assert mask_label_words("Could you, please?", "politeness:polite") == "thing thing, thing?"


@pytest.mark.parametrize(("label", "stuffing", "name"), [
    ("polite", "Please, kindly, if possible, would you mind.", "politeness_markers"),
    ("humorous", "Haha, just kidding, pun intended, lol.", "humour_markers"),
    ("threatening", "Or else, last warning, watch your back, you will be sorry.", "threat_markers"),
])
def test_keyword_stuffing_raises_raw_score_but_not_the_masked_twin(label, stuffing, name):
    s = make_scorer(name)
    attribute = {"polite": "politeness", "humorous": "humour", "threatening": "threat"}[label]
    plain = [anchor for _, anchor in _pairs(attribute, label)][:40]
    stuffed = [f"{t} {stuffing}" for t in plain]
    a, b = score_texts(plain, [s], mask_emotion=label), score_texts(stuffed, [s], mask_emotion=label)
    assert all(y > x for x, y in zip(a[name], b[name]))
    assert all(y <= x + 1e-12 for x, y in zip(a[f"{name}_masked"], b[f"{name}_masked"]))
    vader = make_scorer("sentiment").score(stuffed)["vader_compound" if label != "threatening" else "vader_neg"]
    assert np.mean(vader) > np.mean(make_scorer("sentiment").score(plain)["vader_compound" if label != "threatening" else "vader_neg"])


def test_marker_scorer_counts_per_word_and_refuses_labels_without_markers():
    s = MarkerScorer("formality", "casual")
    assert s.columns == ("casual_markers",)
    assert s.score(["Gonna grab stuff, mate.", "", "Nothing here."])["casual_markers"] == [0.75, 0.0, 0.0]
    with pytest.raises(ConfigError, match="label 'firm' of 'threat' \\(en\\) has no marker lexicon; labels with one: threatening"):
        MarkerScorer("threat", "firm")
    with pytest.raises(ConfigError, match="unknown label 'joking' in en; labels: firm, threatening"):
        MarkerScorer("threat", "joking")
    toy = Attribute("toy_substring", "an English set matched by substrings", (
        LanguageData("en", (Label("plain"), Label("odd", None, ("zz",))), "plain", files=("x.jsonl",), lexicon_match="substring"),))
    register_attribute(toy)
    try:
        with pytest.raises(ConfigError, match="matches its lexicons by 'substring'; marker scorers need 'words'"):
            MarkerScorer("toy_substring", "odd")
    finally:
        unregister_attribute("toy_substring")
    with pytest.raises(ConfigError, match="masked_signal 'bert'; choose one of vader_compound, vader_pos, vader_neg"):
        MarkerScorer("threat", "threatening", masked_signal="bert")


def test_mask_label_errors_name_the_choices():
    with pytest.raises(ConfigError, match="no lexicon to mask for label 'literal'; English word lexicons exist for gratitude, anger, "
                                          "apology, politeness:polite"):
        mask_texts(["hi"], "literal")
    toy = Attribute("toy_tone", "a second attribute with a 'polite' lexicon", (
        LanguageData("en", (Label("plain"), Label("polite", None, ("pray",))), "plain", files=("x.jsonl",)),))
    register_attribute(toy)
    try:
        with pytest.raises(ConfigError, match="label 'polite' has a lexicon in several attributes; write one of politeness:polite, "
                                              "toy_tone:polite"):
            mask_texts(["hi"], "polite")
        assert mask_texts(["I pray you, please"], "toy_tone:polite") == ["I thing you, please"]
    finally:
        unregister_attribute("toy_tone")


@pytest.mark.parametrize("attribute", ["politeness", "formality", "humour", "threat"])
def test_registry_targets_are_columns_of_the_registered_scorers_with_masked_twins(attribute):
    spec = get_attribute(attribute).language("en")
    assert attribute in attribute_names() and spec.targets and spec.scorers
    try:
        scorers = [make_scorer(n) for n in spec.scorers]
    except ConfigError as exc:  # formality's optional spaCy extra
        assert "pip install" in str(exc)
        pytest.skip(str(exc))
    texts = [t for pair in _pairs(attribute, spec.contrast_labels[0])[:3] for t in pair]
    for label, column in spec.targets.items():
        mask = label if label in spec.lexicons else spec.contrast_labels[0]
        out = score_texts(texts, scorers, mask_emotion=mask)
        assert column in out and f"{column}_masked" in out, (label, column, sorted(out))


def test_convokit_politeness_count_ranks_polite_above_neutral():
    """The optional ConvoKit scorer (extra ``politeness``) on the shipped requests: measured 86 up, 1 down of 104."""
    pytest.importorskip("convokit")
    try:
        s = make_scorer("politeness")
    except ConfigError as exc:
        pytest.skip(str(exc))
    up, down, p = _sign_test(_paired(s, _pairs("politeness", "polite"), "polite", "politeness_count"))
    assert up > 20 * down and p < 1e-15, (up, down, p)
