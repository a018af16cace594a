import json

import pytest

from interp.datasets import EmotionDataset, EmotionRecord, load_file, load_profile, validate
from interp.errors import DatasetError


def test_shipped_profiles_are_valid_and_balanced():
    base = load_profile("baseline")
    rep = validate(base, expected_per_emotion=70)
    assert rep.ok, rep.problems[:5]
    assert rep.counts == {"gratitude": 70, "anger": 70, "apology": 70, "neutral": 70}
    ext = load_profile("extended")
    rep = validate(ext, expected_per_emotion=170)
    assert rep.ok, rep.problems[:5]
    assert len(ext) == 680


def test_spans_cover_the_emotion_word():
    for r in load_profile("extended").records:
        if r.emotion != "neutral":
            assert len(r.spans) == 1 and r.span_texts()[0].isalpha()


def _ds(*recs):
    return EmotionDataset(tuple(recs), "test")


@pytest.mark.parametrize(
    ("record", "message"),
    [
        (EmotionRecord("n1", "The train is very late and I am furious.", "neutral"), "neutral sentence contains emotion word"),
        (EmotionRecord("n2", "The bus leaves from the corner at nine.", "neutral", ((4, 7),)), "neutral sentence has spans"),
        (EmotionRecord("g1", "Thank you for bringing the boxes upstairs.", "gratitude"), "has no emotion-word span"),
        (EmotionRecord("g2", "Thank you for bringing the boxes upstairs.", "gratitude", ((6, 9),)), "is not a gratitude word"),
        (EmotionRecord("a1", "I am sorry and so angry about the delay.", "apology", ((5, 10),)), "other emotions' word"),
        (EmotionRecord("s1", "Thanks.", "gratitude", ((0, 6),)), "words, outside"),
    ],
)
def test_validate_flags_each_rule(record, message):
    rep = validate(_ds(record))
    assert not rep.ok
    assert any(message in p for p in rep.problems), rep.problems


def test_validate_flags_duplicates_ignoring_case_and_punctuation():
    a = EmotionRecord("n1", "The bus leaves from the corner at nine.", "neutral")
    b = EmotionRecord("n2", "the bus leaves from the corner at nine!", "neutral")
    assert any("duplicate text" in p for p in validate(_ds(a, b)).problems)


def test_load_file_reports_line_and_field(tmp_path):
    good = {"id": "g1", "text": "Thank you for the lovely dinner tonight.", "emotion": "gratitude", "spans": [[0, 5]], "language": "en", "attribute": "emotion"}
    p = tmp_path / "d.jsonl"
    p.write_text(json.dumps(good) + "\n{not json\n")
    with pytest.raises(DatasetError, match="line 2: not valid JSON"):
        load_file(p)
    bad = dict(good, id="g2", text="")
    p.write_text(json.dumps(good) + "\n" + json.dumps(bad) + "\n")
    with pytest.raises(DatasetError, match="line 2: field 'text'"):
        load_file(p)
    p.write_text(json.dumps(dict(good, spans=[[0, 99]])) + "\n")
    with pytest.raises(DatasetError, match="outside the text"):
        load_file(p)


def test_load_file_empty_and_missing(tmp_path):
    p = tmp_path / "empty.jsonl"
    p.write_text("\n\n")
    with pytest.raises(DatasetError, match="empty"):
        load_file(p)
    with pytest.raises(DatasetError, match="does not exist"):
        load_file(tmp_path / "nope.jsonl")


def test_load_csv_with_json_spans(tmp_path):
    p = tmp_path / "d.csv"
    p.write_text('id,text,emotion,spans,language,attribute\ng1,"Thank you for the lovely dinner tonight.",gratitude,"[[0, 5]]",en,emotion\n')
    ds = load_file(p)
    assert ds.records[0].span_texts() == ["Thank"]
    p.write_text("id,words\n1,x\n")
    with pytest.raises(DatasetError, match="header lacks column"):
        load_file(p)


def test_dataset_hash_changes_with_content():
    ds = load_profile("baseline")
    assert ds.hash() == load_profile("baseline").hash()
    assert ds.hash() != ds.subset(limit_per_emotion=69).hash()
