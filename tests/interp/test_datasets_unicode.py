"""Unicode-aware dataset rules (issue 17): NFKC duplicates, character lengths and character spans for Japanese,
the shipped Japanese and attribute sets, and Japanese spans on the real tokenizers."""

import json
import re

import pytest

from interp.confounds import confound_table, text_features
from interp.datasets import EmotionDataset, EmotionRecord, load_dataset, load_file, validate
from interp.errors import DatasetError
from interp.textnorm import duplicate_key, text_length
from tests.helpers import run_cli

SHIPPED = ["emotions_ja.jsonl", "politeness_ja.jsonl", "attributes_en_politeness.jsonl", "attributes_en_formality.jsonl",
           "attributes_en_humour.jsonl", "attributes_en_threat.jsonl"]


def _ja(rid, text, label="neutral", spans=(), **kw):
    return EmotionRecord(rid, text, label, tuple(spans), "ja", "emotion", **kw)


def _ds(*recs):
    return EmotionDataset(tuple(recs), "test")


def _write(tmp_path, recs, name="ja.jsonl"):
    p = tmp_path / name
    p.write_text("".join(json.dumps({"spans": [], "language": "ja", "attribute": "emotion", **r}, ensure_ascii=False) + "\n"
                         for r in recs), encoding="utf-8")
    return p


def test_english_duplicate_key_is_unchanged_on_every_shipped_english_sentence():
    """Independent reference: the old rule (lower case, every non [a-z0-9 ] character a space)."""
    old = re.compile(r"[^a-z0-9 ]+")
    texts = [r.text for name in ("extended", "matched-extended", "implicit", "trap") for r in load_dataset(name).records]
    texts += [r.text for name in SHIPPED[2:] for r in load_dataset(name).records]
    assert len(texts) > 2000
    for t in texts:
        assert duplicate_key(t) == " ".join(old.sub(" ", t.lower()).split()), t


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ("今日は雨が降っています。", "今日は雨が降っています！"),      # punctuation only
        ("駅まで歩いて十分です。", "駅まで歩いて十分です."),            # full- vs half-width full stop
        ("ｺｰﾋｰを買いに行きます。", "コーヒーを買いに行きます。"),      # half-width katakana (NFKC)
        ("ＡＢＣ社に電話します。", "abc社に 電話します。"),            # full-width Latin, case, a stray space
    ],
)
def test_nfkc_equal_japanese_records_are_duplicates(a, b):
    assert duplicate_key(a, "ja") == duplicate_key(b, "ja")
    problems = validate(_ds(_ja("n1", a), _ja("n2", b))).problems
    assert "n2: duplicate text of n1" in problems
    assert validate(_ds(_ja("n1", a), _ja("n2", "明日は晴れると天気予報で言っていた。"))).ok


def test_japanese_lengths_are_characters_and_english_stays_words():
    assert text_length("今日は 雨です。", "ja") == 7 and text_length("It is raining today.", "en") == 4
    short, long_ = _ja("n1", "雨です。"), _ja("n2", "あ" * 41)
    problems = validate(_ds(short, long_)).problems
    assert "n1: 4 characters, outside [8, 40]" in problems and "n2: 41 characters, outside [8, 40]" in problems
    assert validate(_ds(short), min_chars=3).ok
    en = EmotionRecord("e1", "The bus is late.", "neutral")
    assert validate(_ds(en)).ok and validate(_ds(en), min_words=5).problems == ("e1: 4 words, outside [5, 16]",)


def test_japanese_span_outside_the_text_names_the_record(tmp_path):
    p = _write(tmp_path, [{"id": "ja-g1", "text": "本当にありがとう。", "emotion": "gratitude", "spans": [[3, 12]]}])
    with pytest.raises(DatasetError, match=re.escape("line 1: record 'ja-g1': field 'spans' has [3, 12] outside the text (length 9 characters)")):
        load_file(p)


def test_japanese_spans_are_character_offsets_and_follow_the_lexicon():
    ok = _ja("g1", "本当にありがとうございます。", "gratitude", [(3, 13)])
    assert ok.span_texts() == ["ありがとうございます"] and validate(_ds(ok)).ok
    cases = {
        _ja("g2", "本当にありがとうございます。", "gratitude", [(3, 8)]): None,  # ありがとう is itself an expression
        _ja("g3", "本当にありがとうございます。", "gratitude", [(2, 8)]): "g3: span [2, 8] = 'にありがとう' is not a gratitude expression",
        _ja("n1", "昨日はありがとう、駅まで送ってくれて。"): "n1: neutral sentence contains emotion expression(s) ['ありがとう']",
        _ja("a1", "遅れてごめん、本当に腹が立つ。", "anger", [(10, 14)]): "a1: anger sentence also contains other emotions' expression(s) ['ごめん']",
        _ja("a2", "あの人の態度には本当に腹が立つ。", "anger"): "a2: anger sentence has no emotion-expression span",
    }
    for rec, message in cases.items():
        problems = validate(_ds(rec)).problems
        assert (message in problems) if message else not problems, (rec.id, problems)


def test_span_through_a_combining_mark_is_a_problem():
    text = "本当にありか\u3099とう。"  # が written as か + combining voiced mark
    rec = _ja("g1", text, "gratitude", [(3, 6)])
    assert any("cuts a character from its combining mark" in p for p in validate(_ds(rec)).problems)


def test_language_without_an_emotion_lexicon_cannot_pass():
    rec = EmotionRecord("d1", "Vielen Dank für die Hilfe heute.", "gratitude", ((0, 10),), "de", "emotion")
    problems = validate(_ds(rec)).problems
    assert problems == ("d1: no emotion lexicon for language 'de' (lexicons: en, ja); its span and neutral rules cannot be "
                        "checked: register the language with interp.attributes.register_attribute",)


@pytest.mark.parametrize("name", SHIPPED)
def test_shipped_sets_load_validate_and_keep_pairs_inside_one_split(name):
    ds = load_dataset(name)
    rep = validate(ds)
    assert rep.ok, rep.problems[:5]
    by_id = {r.id: r for r in ds.records}
    assert all(r.split in ("selection", "evaluation") for r in ds.records)
    assert all(by_id[r.pair_id].split == r.split for r in ds.records if r.pair_id)


def test_split_field_is_parsed_and_a_pair_may_not_straddle_it(tmp_path):
    g = {"id": "g1", "text": "本当にありがとうございます。", "emotion": "gratitude", "spans": [[3, 13]], "split": "selection"}
    n = {"id": "n1", "text": "本当に駅まで歩いて行きます。", "emotion": "neutral", "pair_id": "g1", "split": "evaluation"}
    with pytest.raises(DatasetError, match=re.escape("straddles the selection/evaluation split: n1 (evaluation) -> g1 (selection)")):
        load_file(_write(tmp_path, [g, n]))
    with pytest.raises(DatasetError, match="field 'split' is 'test'"):
        load_file(_write(tmp_path, [dict(g, split="test")]))
    ds = load_file(_write(tmp_path, [g, dict(n, split="selection")]))
    assert [r.split for r in ds.records] == ["selection", "selection"] and ds.records[0].to_dict()["split"] == "selection"


def test_japanese_confound_table_uses_japanese_features_and_characters():
    t = confound_table(load_dataset("emotions_ja.jsonl"))
    assert t.reference == "neutral" and t.language == "ja" and t.unit == "characters"
    rates = {r.label: r.rates["polite_ending"] for r in t.rows}
    # JAPANESE_README.md: です/ます endings 29 % anger, 47 % gratitude, 60 % apology.
    assert (round(rates["anger"], 2), round(rates["gratitude"], 2), round(rates["apology"], 2)) == (0.29, 0.47, 0.60)
    assert all(p.max_abs_word_diff <= 4 and p.mismatch["polite_ending"] == 0 for p in t.pair_rows)
    assert text_features("掃除当番を忘れてた、ごめんなさい。", "ja")["polite_ending"] is False
    assert text_features("先生が受け取ったら、私にも知らせてください。", "ja")["polite_ending"] is True


def test_dataset_cli_prints_the_confound_table_for_japanese_and_attribute_files(capsys):
    from interp.datasets import _data_file

    for args in (["-d", "emotions_ja.jsonl"], ["-d", str(_data_file("politeness_ja.jsonl"))], ["-a", "threat"],
                 ["-a", "politeness", "-l", "ja"]):
        code, out, err = run_cli(["dataset", "validate", *args], capsys)
        assert code == 0 and "valid" in out, err
        code, out, err = run_cli(["dataset", "stats", *args, "--json"], capsys)
        conf = json.loads(out)["confounds"]
        assert code == 0 and conf["pairs"], err
    assert conf["reference"] == "casual" and conf["length_unit"] == "characters"
    assert [p["emotion"] for p in conf["pairs"]] == ["teineigo", "sonkeigo", "kenjougo"]
    code, out, _ = run_cli(["dataset", "stats", "-a", "politeness", "-l", "ja"], capsys)
    assert code == 0 and "です/ます ending" in out and "WARNING: polite_ending: teineigo rate 1.00 vs casual 0.00" in out
    code, _, err = run_cli(["dataset", "stats", "-a", "politeness", "-l", "de"], capsys)
    assert code == 2 and err.strip() == "error: attribute 'politeness' has no data in language 'de'; languages: en, ja"


@pytest.mark.real
@pytest.mark.parametrize("model_name", ["smollm2-135m", "gemma3-270m"])
def test_japanese_spans_point_at_the_right_characters_after_tokenisation(model_name):
    """On the real tokenizers, every Japanese span is covered by the tokens that interp.positions picks for it, those
    tokens decode to exactly the characters their offsets name, and the ids are what the model itself tokenises."""
    from interp.models import load_model
    from interp.positions import span_token_positions, token_ids_and_offsets, tokenize_batch
    from interp.registry import KNOWN_MODELS

    if not KNOWN_MODELS[model_name].package_installed():
        pytest.skip(f"{model_name} not installed: {KNOWN_MODELS[model_name].install}")
    model = load_model(model_name, device="cpu")
    exact = total = 0
    for name in ("emotions_ja.jsonl", "politeness_ja.jsonl"):
        records = [r for r in load_dataset(name).records if r.spans]
        for r in records[::5]:
            ids, offsets = token_ids_and_offsets(model, r.text)
            assert ids == model.to_tokens(r.text)[0].tolist()
            for a, b in r.spans:
                pos = span_token_positions(offsets, [(a, b)])
                lo, hi = min(offsets[p][0] for p in pos), max(offsets[p][1] for p in pos)
                assert lo <= a and b <= hi and pos == tuple(range(pos[0], pos[-1] + 1)), (r.id, r.text[a:b])
                assert model.tokenizer.decode([ids[p] for p in pos]) == r.text[lo:hi], (r.id, r.text[a:b])
                exact += (lo, hi) == (a, b)
                total += 1
        batch = tokenize_batch(model, [r.text for r in records[:8]], [r.spans for r in records[:8]])
        assert all(batch.span_positions[i] for i in range(8))
    # smollm2 splits every span at its edges; gemma3 merges keigo endings into the verb (します is one token).
    assert exact == total if model_name == "smollm2-135m" else exact >= 0.25 * total
