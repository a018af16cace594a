import hashlib
import json
import re

import pytest

from interp.confounds import BINARY_FEATURES, confound_table, matched_pairs, pair_mismatches
from interp.datasets import EmotionDataset, EmotionRecord, check_structure, load_file, load_profile, validate
from interp.errors import DatasetError
from interp.lexicon import EMOTION_WORDS, STRONG_AFFECT_WORDS, words


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


# --- matched pairs, implicit and trap sets (issue 14) ---------------------------------------------

_LEXICON = set().union(*EMOTION_WORDS.values())


def test_baseline_hash_unchanged_by_optional_fields():
    """Records without pair_id/set/trap_emotion hash exactly as the raw JSON lines do (old run manifests stay valid)."""
    from importlib import resources

    raw = resources.files("interp").joinpath("data", "emotions_baseline.jsonl").read_text(encoding="utf-8")
    h = hashlib.sha256()
    for line in raw.splitlines():
        h.update(json.dumps(json.loads(line), sort_keys=True, ensure_ascii=False).encode())
        h.update(b"\n")
    assert load_profile("baseline").hash() == h.hexdigest()
    r = EmotionRecord("n1", "The bus leaves at nine.", "neutral", pair_id="g1")
    assert r.to_dict()["pair_id"] == "g1" and "set" not in r.to_dict() and hash(r) == hash(EmotionRecord(**{**r.__dict__}))


def test_matched_profile_pairs_every_baseline_emotion_sentence_once():
    base, ds = load_profile("baseline"), load_profile("matched")
    emotion_ids = [r.id for r in base.records if r.emotion != "neutral"]
    assert [r.id for r in ds.records if r.emotion != "neutral"] == emotion_ids
    neutrals = ds.by_emotion("neutral")
    assert len(neutrals) == 210 and sorted(r.pair_id for r in neutrals) == sorted(emotion_ids)
    assert not {r.id for r in base.by_emotion("neutral")} & {r.id for r in ds.records}, "old confounded neutrals are left out"
    assert all(r.id == f"neutral-m-{r.pair_id}" for r in neutrals)
    rep = validate(ds)
    assert rep.ok, rep.problems[:5]
    for r in neutrals:  # independent re-check of the matching rules and the vocabulary
        partner = next(e for e in ds.records if e.id == r.pair_id)
        assert abs(len(r.text.split()) - len(partner.text.split())) <= 2, (r.id, r.text)
        assert not set(words(r.text)) & (_LEXICON | set(STRONG_AFFECT_WORDS)), r.text
        for mark in (",", "'", "?", "!"):
            assert (mark in r.text) == (mark in partner.text), (r.id, mark)
    texts = {r.text for r in base.records} | {r.text for r in load_profile("extended").records}
    assert not {r.text for r in neutrals} & texts and len({r.text for r in neutrals}) == 210


def test_confound_table_reproduces_the_baseline_counts_of_issue_14():
    t = confound_table(load_profile("baseline"))
    counts = {r.label: {k: round(v * r.n) for k, v in r.rates.items()} for r in t.rows}
    assert [counts[e]["first_second_person"] for e in ("gratitude", "anger", "apology", "neutral")] == [46, 26, 45, 15]
    assert [counts[e]["starts_with_the"] for e in ("gratitude", "anger", "apology", "neutral")] == [9, 24, 12, 39]
    assert [counts[e]["comma"] for e in ("gratitude", "anger", "apology", "neutral")] == [16, 13, 18, 1]
    assert [counts[e]["apostrophe"] for e in ("gratitude", "anger", "apology", "neutral")] == [9, 14, 17, 2]
    flagged = {(w.feature, w.label) for w in t.warnings}
    assert {("first_second_person", "gratitude"), ("starts_with_the", "gratitude"), ("comma", "apology")} <= flagged
    w = next(w for w in t.warnings if (w.feature, w.label) == ("comma", "apology"))
    assert w.ci_low < w.difference < w.ci_high and w.ci_low > 0 and not t.ok and not t.pair_rows


def test_confound_table_matched_profile_has_no_warning_and_identical_pairs():
    t = confound_table(load_profile("matched"))
    assert t.ok, t.warning_lines()
    assert [p.n_pairs for p in t.pair_rows] == [70, 70, 70]
    for p in t.pair_rows:
        assert all(v == 0.0 for v in p.mismatch.values()) and p.max_abs_word_diff <= 2


def _planted(n=20, *, bang_emotion: float, bang_neutral: float) -> EmotionDataset:
    recs = []
    for i in range(n):
        end = "!" if i < bang_emotion * n else "."
        recs.append(EmotionRecord(f"g{i}", f"Thanks for parcel number {i} on the desk{end}", "gratitude", ((0, 6),)))
        end = "!" if i < bang_neutral * n else "."
        recs.append(EmotionRecord(f"n{i}", f"Parcel number {i} is now on the desk{end}", "neutral"))
    return EmotionDataset(tuple(recs), "planted")


def test_confound_table_flags_a_planted_punctuation_confound():
    t = confound_table(_planted(bang_emotion=0.8, bang_neutral=0.1))
    (w,) = [w for w in t.warnings if w.feature == "exclamation"]
    assert w.label == "gratitude" and w.difference == pytest.approx(0.7) and "exclamation" in w.line()
    balanced = confound_table(_planted(bang_emotion=0.5, bang_neutral=0.4))
    assert not [w for w in balanced.warnings if w.feature == "exclamation"]
    assert confound_table(_planted(bang_emotion=0.45, bang_neutral=0.2), threshold=0.3).warnings == ()
    assert [w.feature for w in confound_table(_planted(bang_emotion=0.45, bang_neutral=0.2), threshold=0.2).warnings] == ["exclamation"]
    with pytest.raises(DatasetError, match="threshold"):
        confound_table(_planted(bang_emotion=0.5, bang_neutral=0.2), threshold=1.5)


@pytest.mark.parametrize(
    ("emotion_text", "neutral_text", "broken"),
    [
        ("I'm sorry I missed your call.", "I'm told I missed your call.", []),
        ("I'm sorry I missed your call.", "The call was missed at noon.", ["first_second_person", "starts_with_the", "apostrophe"]),
        ("Thanks, that helps a lot.", "Noted that the bus is late.", ["comma"]),
        ("Why are you so angry?", "Why are you so early.", ["question"]),
        ("She was sorry.", "She was sitting at the back of the hall today.", ["words (+7)"]),
        ("They were mad at the bus.", "It was late for the bus.", ["third_person"]),
    ],
)
def test_pair_mismatches_names_each_broken_rule(emotion_text, neutral_text, broken):
    assert pair_mismatches(emotion_text, neutral_text) == broken


def test_confound_features_handle_contractions_and_possessives():
    f = {k: fn for k, fn in BINARY_FEATURES.items()}
    assert f["first_second_person"]("I'm late.") and f["first_second_person"]("We\u2019ll see.")
    assert not f["first_second_person"]("The team's bus is late.") and f["apostrophe"]("The team's bus is late.")
    assert f["negation"]("She didn't go.") and f["negation"]("Nobody came.") and not f["negation"]("Notes came.")
    assert f["third_person"]("They left.") and not f["third_person"]("It left.")


def _write(tmp_path, recs, name="d.jsonl"):
    p = tmp_path / name
    p.write_text("".join(json.dumps({"spans": [], "language": "en", "attribute": "emotion", **r}) + "\n" for r in recs))
    return p


_G = {"id": "g1", "text": "Thank you for the lovely dinner tonight.", "emotion": "gratitude", "spans": [[0, 5]]}
_N = {"id": "neutral-m-g1", "text": "Tell me about the large dinner tonight.", "emotion": "neutral", "pair_id": "g1"}


@pytest.mark.parametrize(
    ("recs", "message"),
    [
        ([_G, dict(_N, pair_id="g9")], "pair_id names no record of the dataset: neutral-m-g1 -> g9"),
        ([_G, _N, dict(_N, id="n2", text="Tell me about the big lunch today.")], "g1 <- neutral-m-g1 & n2"),
        ([_G, dict(_N, emotion="anger")], "must be labelled 'neutral', but neutral-m-g1 (anger)"),
        ([_G, dict(_N, id="n0", pair_id=None), dict(_N, pair_id="n0")], "must name an emotion sentence, but neutral-m-g1 -> n0"),
        ([_G, _N, dict(_G, id="g2", text="Thanks for the ride home.", spans=[[0, 6]])], "without a matched neutral counterpart: g2"),
        ([dict(_G, id="i1", spans=[], set="implicit")], "implicit record i1 contains the lexicon word 'thank'"),
        ([{"id": "t1", "text": "The parcel is on the desk.", "emotion": "neutral", "set": "trap", "trap_emotion": "anger"}],
         "trap record t1 contains no lexicon word"),
        ([dict(_G, set="bonus")], "field 'set' is 'bonus'"),
        ([dict(_N, pair_id=7), _G], "field 'pair_id' is 7"),
    ],
)
def test_loader_rejects_broken_pairs_and_sets(tmp_path, recs, message):
    with pytest.raises(DatasetError, match=re.escape(message)):
        load_file(_write(tmp_path, recs))


def test_loader_accepts_pairs_and_csv_empty_optional_cells(tmp_path):
    ds = load_file(_write(tmp_path, [_G, _N]))
    assert [(e.id, n.id) for e, n in matched_pairs(ds)] == [("g1", "neutral-m-g1")]
    p = tmp_path / "d.csv"
    p.write_text('id,text,emotion,spans,language,attribute,pair_id,set,trap_emotion\n'
                 'g1,"Thank you for the lovely dinner tonight.",gratitude,"[[0, 5]]",en,emotion,,,\n')
    assert load_file(p).records[0].pair_id is None
    check_structure(load_profile("matched").records, "matched", require_pairs=True)


def test_validate_flags_unmatched_counterpart_and_set_rules():
    g = EmotionRecord("g1", "Thank you, I really needed the ride.", "gratitude", ((0, 5),))
    n = EmotionRecord("n1", "The ride leaves from the station at nine today.", "neutral", pair_id="g1")
    assert any("n1: counterpart of g1 differs in first_second_person, starts_with_the, comma" in p for p in validate(_ds(g, n)).problems)
    trap = EmotionRecord("t1", "We kayaked down the Mad River on Sunday.", "neutral", ((20, 23),), set="trap", trap_emotion="gratitude")
    assert any("'Mad' is not a gratitude word" in p for p in validate(_ds(trap)).problems)
    imp = EmotionRecord("i1", "I am so sorry about the wait.", "apology", set="implicit")
    assert any("implicit sentence contains lexicon word(s) ['sorry']" in p for p in validate(_ds(imp)).problems)


def test_trap_profile_uses_each_lexicon_in_a_neutral_sense():
    ds = load_profile("trap")
    rep = validate(ds)
    assert rep.ok, rep.problems[:5]
    per = {e: sum(r.trap_emotion == e for r in ds.records) for e in EMOTION_WORDS}
    assert len(ds) >= 30 and all(n >= 10 for n in per.values()), per
    for r in ds.records:
        assert r.emotion == "neutral" and r.set == "trap" and r.span_texts()[0].lower() in EMOTION_WORDS[r.trap_emotion]
    assert confound_table(ds).row("neutral").rates["lexicon_word"] == 1.0


def test_implicit_profile_has_no_lexicon_word():
    ds = load_profile("implicit")
    assert {r.emotion for r in ds.records} <= set(EMOTION_WORDS) and all(r.set == "implicit" and not r.spans for r in ds.records)
    assert all(not set(words(r.text)) & _LEXICON for r in ds.records)


def test_matched_extended_profile_pairs_all_510_emotion_sentences():
    ds = load_profile("matched-extended")
    assert len(ds.by_emotion("neutral")) == len(ds) - len(ds.by_emotion("neutral")) == 510
    assert validate(ds).ok and all(p.max_abs_word_diff <= 2 for p in confound_table(ds).pair_rows)


def test_matched_counterparts_match_length_in_real_tokens(real_model):
    """Under the real tokenizer a counterpart is as long as its sentence (±3 tokens, mean gap < 1.5)."""
    from interp.positions import token_ids_and_offsets

    gaps = [len(token_ids_and_offsets(real_model, n.text)[0]) - len(token_ids_and_offsets(real_model, e.text)[0])
            for e, n in matched_pairs(load_profile("matched"))]
    assert len(gaps) == 210 and max(abs(g) for g in gaps) <= 4
    assert abs(sum(gaps) / len(gaps)) < 1.0 and sum(abs(g) for g in gaps) / len(gaps) < 1.5
