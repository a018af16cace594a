"""The attribute registry (issue 17): built-in attributes and their data, user attributes from a file, errors."""

import json
import re

import pytest

from interp.attributes import (
    Attribute,
    Label,
    LanguageData,
    attribute_names,
    check_scorer_language,
    get_attribute,
    load_attribute_file,
    pair_convention,
    register_attribute,
    unregister_attribute,
)
from interp.confounds import confound_table, matched_pairs
from interp.datasets import EmotionRecord, check_structure, validate
from interp.errors import ConfigError, DatasetError
from interp.lexicon import EMOTION_WORDS

BUILTIN = {
    ("emotion", "en"): (("gratitude", "anger", "apology", "neutral"), "neutral"),
    ("emotion", "ja"): (("gratitude", "anger", "apology", "neutral"), "neutral"),
    ("politeness", "en"): (("neutral", "polite", "impolite"), "neutral"),
    ("politeness", "ja"): (("casual", "teineigo", "sonkeigo", "kenjougo"), "casual"),
    ("formality", "en"): (("formal", "casual"), "formal"),
    ("humour", "en"): (("literal", "humorous"), "literal"),
    ("threat", "en"): (("firm", "threatening"), "firm"),
}


@pytest.fixture
def user_attributes():
    """Unregister whatever a test registered, so the registry is the same for the next test."""
    from interp import attributes

    before = dict(attributes._USER)
    yield
    attributes._USER.clear()
    attributes._USER.update(before)


@pytest.mark.parametrize(("key", "expected"), list(BUILTIN.items()), ids=[f"{a}-{lang}" for a, lang in BUILTIN])
def test_builtin_attribute_round_trips_through_its_data(key, expected):
    """Registry → files → records: the loaded labels are exactly the registered ones, the data validates and
    every record carries the attribute and language it was registered under."""
    name, lang = key
    labels, reference = expected
    spec = get_attribute(name).language(lang)
    assert spec.label_names == labels and spec.reference == reference
    ds = spec.load()
    assert set(ds.emotions) == set(labels)
    assert {(r.attribute, r.language) for r in ds.records} == {key}
    rep = validate(ds, expected_per_emotion=70 if key == ("emotion", "en") else None)
    assert rep.ok, rep.problems[:5]
    assert pair_convention(ds.records)[0] == reference


def test_attribute_names_and_emotion_targets_are_recorded():
    assert attribute_names()[:5] == ["emotion", "politeness", "formality", "humour", "threat"]
    en = get_attribute("emotion").language("en")
    assert en.targets == {"gratitude": "vader_compound", "anger": "vader_neg", "apology": "kw_apology"}
    assert en.masked and en.scorers == ("sentiment", "keywords")
    assert {k: set(v) for k, v in en.lexicons.items()} == {k: set(v) for k, v in EMOTION_WORDS.items()}
    assert get_attribute("emotion").language("ja").targets == {
        "gratitude": "ja_polarity", "anger": "ja_negative", "apology": "ja_kw_apology"}
    assert get_attribute("politeness").language("ja").targets == {
        "teineigo": "keigo_teineigo", "sonkeigo": "keigo_sonkeigo", "kenjougo": "keigo_kenjougo"}
    assert not any(d.masked for a in ("politeness", "formality", "humour", "threat") for d in get_attribute(a).data)


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: get_attribute("sarcasm"), "unknown attribute 'sarcasm'; registered: emotion, politeness, formality, humour, threat"),
        (lambda: get_attribute("formality").language("ja"), "has no data in language 'ja'; languages: en"),
        (lambda: get_attribute("politeness").language("ja").label("polite"), "labels: casual, teineigo, sonkeigo, kenjougo"),
        (lambda: get_attribute("emotion").language("en").target("neutral"), "gratitude=vader_compound"),
        (lambda: register_attribute(get_attribute("emotion")), "already registered; pass replace=True"),
        (lambda: LanguageData("en", (Label("a"), Label("b")), "c", files=("x.jsonl",)), "reference label 'c' is not one of the labels (a, b)"),
        (lambda: LanguageData("en", (Label("a"),), "a"), "exactly one of files"),
        (lambda: Attribute("Bad Name", "", ()), "attribute name must be lower-case"),
    ],
)
def test_bad_names_raise_config_error_listing_the_choices(call, message):
    with pytest.raises(ConfigError, match=re.escape(message)):
        call()


def _sarcasm_files(tmp_path, *, broken: bool = False):
    recs = []
    for i, (plain, sarcastic, span) in enumerate([
        ("The meeting ran two hours over schedule today.", "Oh great, the meeting ran two hours over today.", (0, 8)),
        ("The printer jammed again this morning at work.", "Wonderful, the printer jammed again this morning.", (0, 9)),
        ("My train was cancelled for the third time.", "Yeah right, my train was cancelled a third time.", (0, 10)),
    ]):
        recs.append({"id": f"s{i}", "text": plain, "emotion": "sincere", "spans": [], "language": "en", "attribute": "sarcasm",
                     "split": "selection"})
        recs.append({"id": f"x{i}", "text": sarcastic, "emotion": "sarcastic", "spans": [list(span)], "language": "en",
                     "attribute": "sarcasm", "pair_id": "x0" if broken and i == 1 else f"s{i}", "split": "selection"})
    data = tmp_path / "sarcasm_en.jsonl"
    data.write_text("".join(json.dumps(r) + "\n" for r in recs), encoding="utf-8")
    toml = tmp_path / "sarcasm.toml"
    toml.write_text('name = "sarcasm"\ndescription = "sarcastic vs sincere remarks"\n'
                    '[languages.en]\nfiles = ["sarcasm_en.jsonl"]\nlabels = ["sincere", "sarcastic"]\nreference = "sincere"\n'
                    'pair_direction = "to_reference"\npair_features = ["first_second_person"]\nmax_gap = 3\n'
                    '[languages.en.targets]\nsarcastic = "vader_neg"\n'
                    '[languages.en.lexicons]\nsarcastic = ["oh great", "yeah right", "wonderful"]\n', encoding="utf-8")
    return toml, data


def test_throwaway_attribute_from_a_toml_file_registers_loads_and_validates(tmp_path, user_attributes):
    toml, _ = _sarcasm_files(tmp_path)
    attr = load_attribute_file(toml)
    assert get_attribute("sarcasm") is attr and "sarcasm" in attribute_names()
    spec = attr.language("en")
    assert spec.target("sarcastic") == "vader_neg" and spec.pair_rule.max_gap == 3
    ds = spec.load()
    assert len(ds) == 6 and validate(ds).ok, validate(ds).problems
    assert [(a.id, b.id) for a, b in matched_pairs(ds)] == [("x0", "s0"), ("x1", "s1"), ("x2", "s2")]
    table = confound_table(ds)
    assert table.reference == "sincere" and [p.emotion for p in table.pair_rows] == ["sarcastic"]
    assert spec.find("Oh GREAT, wonderful.") == {"sarcastic": ["oh great", "wonderful"]}
    unregister_attribute("sarcasm")
    with pytest.raises(ConfigError, match="unknown attribute 'sarcasm'"):
        get_attribute("sarcasm")


def test_throwaway_attribute_from_json_and_its_pair_rules(tmp_path, user_attributes):
    toml, data = _sarcasm_files(tmp_path, broken=True)
    spec = {"name": "sarcasm", "description": "", "languages": {"en": {
        "files": [data.name], "labels": ["sincere", "sarcastic"], "reference": "sincere", "pair_direction": "to_reference"}}}
    path = tmp_path / "sarcasm.json"
    path.write_text(json.dumps(spec))
    attr = load_attribute_file(path)
    with pytest.raises(DatasetError, match=re.escape("pair_id must name a 'sincere' anchor, but x1 -> x0 (sarcastic)")):
        attr.language("en").load()


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('name = "z"\ncolour = "red"\n[languages.en]\nlabels = ["a"]\nreference = "a"\nfiles = ["f.jsonl"]\n', "unknown key 'colour'"),
        ('name = "z"\n[languages.en]\nlabels = ["a"]\nreference = "a"\nfiles = ["f.jsonl"]\nfile = "x"\n', "languages.en: unknown key 'file'"),
        ('name = "z"\n[languages.en]\nlabels = ["a", "b"]\nreference = "a"\nfiles = ["f.jsonl"]\n[languages.en.targets]\nc = "vader_neg"\n',
         "targets names unknown label 'c'; labels: a, b"),
        ('name = "z"\n', "needs a [languages.<code>] table"),
        ('name = "z"\n[languages.en\n', "is not valid TOML"),
    ],
)
def test_attribute_file_errors_name_the_key(tmp_path, text, message, user_attributes):
    p = tmp_path / "z.toml"
    p.write_text(text)
    with pytest.raises(ConfigError, match=re.escape(message)):
        load_attribute_file(p)


def _r(rid, text, label, pair=None, spans=(), attribute="politeness"):
    return EmotionRecord(rid, text, label, tuple(spans), "en", attribute, pair_id=pair)


def test_anchor_pairs_allow_one_counterpart_per_label_and_orient_pairs_labelled_first():
    anchor = _r("n1", "Send me the report by Friday.", "neutral")
    polite = _r("p1", "Could you send me the report by Friday?", "polite", "n1", [(0, 9)])
    rude = _r("i1", "Send me the report by Friday, for once.", "impolite", "n1", [(28, 36)])
    check_structure([anchor, polite, rude], "t", require_pairs=True)
    twice = _r("p2", "Please send me the report by Friday.", "polite", "n1", [(0, 6)])
    with pytest.raises(DatasetError, match=re.escape("one counterpart per label, but n1 <- p1 & p2 (polite)")):
        check_structure([anchor, polite, twice], "t", require_pairs=True)
    with pytest.raises(DatasetError, match=re.escape("without a 'neutral' anchor: p2")):
        check_structure([anchor, polite, _r("p2", "Please send me the report by Friday.", "polite", spans=[(0, 6)])], "t", require_pairs=True)
    with pytest.raises(DatasetError, match=re.escape("the anchor(s) n2 (neutral) carry one")):
        check_structure([anchor, polite, _r("n2", "Send me the file by Friday.", "neutral", "p1")], "t", require_pairs=False)
    from interp.datasets import EmotionDataset

    pairs = matched_pairs(EmotionDataset((anchor, polite, rude), "t"))
    assert [(a.id, b.id) for a, b in pairs] == [("p1", "n1"), ("i1", "n1")]


def test_validate_checks_attribute_labels_and_marker_spans():
    from interp.datasets import EmotionDataset

    ds = EmotionDataset((_r("n1", "Send me the report by Friday.", "neutral"),
                         _r("p1", "Could you send me the report by Friday?", "polite", "n1"),
                         _r("x1", "Send me the report by Friday, you slob.", "rude", "n1", [(30, 38)])), "t")
    problems = validate(ds).problems
    assert "p1: polite record has no span on its politeness marker" in problems
    assert any(p.startswith("x1: label 'rude' is not a politeness label in en (labels: neutral, polite, impolite)") for p in problems)


def test_shipped_marker_lexicons_fire_on_their_label_not_on_the_anchor():
    """The English marker lists detect what ATTRIBUTES_README.md says: polite formulas in nearly every polite request,
    none in the anchors; the open-class markers (insults, register, threats) in a minority of their sentences."""
    def rate(attribute, label, marker_label):
        spec = get_attribute(attribute).language("en")
        recs = [r for r in spec.load().records if r.emotion == label]
        return sum(bool(spec.find(r.text)[marker_label]) for r in recs) / len(recs)

    assert rate("politeness", "polite", "polite") >= 0.95 and rate("politeness", "neutral", "polite") == 0
    assert rate("politeness", "neutral", "impolite") == 0 and 0 < rate("politeness", "impolite", "impolite") < 0.5
    assert rate("threat", "firm", "threatening") == 0 and rate("threat", "threatening", "threatening") > 0.1
    assert rate("formality", "formal", "casual") == 0 and rate("formality", "casual", "casual") > 0.2


def test_check_scorer_language():
    check_scorer_language("sentiment", "en")
    check_scorer_language("fluency", "ja")
    check_scorer_language("keigo", "ja")
    with pytest.raises(ConfigError, match=re.escape("scorer 'sentiment' scores en text, not 'ja'; scorers for 'ja': fluency")):
        check_scorer_language("sentiment", "ja")
    with pytest.raises(ConfigError, match="scorer 'ja_keywords' scores ja text, not 'en'"):
        check_scorer_language("ja_keywords", "en")
