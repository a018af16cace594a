"""Japanese scorers (issue 17): keigo markers and sentiment by morphological analysis, emotion keywords, errors."""

import re
import sys

import pytest

from interp.datasets import load_dataset
from interp.errors import ConfigError
from interp.evaluators import make_scorer, score_texts


def _auc(hi: list[float], lo: list[float]) -> float:
    """P(a score from ``hi`` exceeds one from ``lo``), ties counting half (Mann-Whitney AUC)."""
    return sum((x > y) + 0.5 * (x == y) for x in hi for y in lo) / (len(hi) * len(lo))


@pytest.fixture(scope="module")
def keigo():
    pytest.importorskip("fugashi")
    pytest.importorskip("unidic_lite")
    return make_scorer("keigo")


@pytest.fixture(scope="module")
def sentiment():
    pytest.importorskip("fugashi")
    pytest.importorskip("unidic_lite")
    return make_scorer("ja_sentiment")


def test_keigo_ranks_every_keigo_rewrite_above_its_casual_anchor(keigo):
    """Each content of politeness_ja.jsonl comes as casual + teineigo + sonkeigo + kenjougo: the scorer must put
    each keigo rewrite above its own casual anchor, and its level columns must fire only on their own label."""
    ds = load_dataset("politeness_ja.jsonl")
    cols = keigo.score(ds.texts)
    by_id = {r.id: i for i, r in enumerate(ds.records)}
    for i, r in enumerate(ds.records):
        if r.pair_id:
            assert cols["keigo_level"][i] > cols["keigo_level"][by_id[r.pair_id]], (r.id, r.text)
    rate = {lab: {c: sum(cols[c][i] > 0 for i in ds.indices(lab)) / len(ds.indices(lab))
                  for c in ("keigo_teineigo", "keigo_sonkeigo", "keigo_kenjougo")} for lab in ds.emotions}
    assert rate["casual"] == {"keigo_teineigo": 0, "keigo_sonkeigo": 0, "keigo_kenjougo": 0}
    assert rate["teineigo"] == {"keigo_teineigo": 1, "keigo_sonkeigo": 0, "keigo_kenjougo": 0}
    assert rate["sonkeigo"]["keigo_sonkeigo"] >= 0.9 and rate["sonkeigo"]["keigo_kenjougo"] == 0
    assert rate["kenjougo"]["keigo_kenjougo"] >= 0.95 and rate["kenjougo"]["keigo_sonkeigo"] == 0
    level = {lab: [cols["keigo_level"][i] for i in ds.indices(lab)] for lab in ds.emotions}
    assert _auc(level["sonkeigo"] + level["kenjougo"], level["teineigo"]) > 0.9
    assert _auc(level["teineigo"], level["casual"]) == 1.0


def test_keigo_markers_lie_inside_the_hand_marked_spans(keigo):
    """An independent check: the dataset's spans were marked by hand; every marker the analyser finds lies in one."""
    from interp.evaluators.japanese import analyse, keigo_markers

    n = 0
    for r in load_dataset("politeness_ja.jsonl").records:
        for level, a, b in keigo_markers(analyse(r.text)):
            if level != "reru":
                n += 1
                assert any(s <= a and b <= e for s, e in r.spans), (r.id, r.text[a:b])
    assert n > 450


@pytest.mark.parametrize(
    ("text", "levels"),
    [
        ("先生がいらっしゃったら、私がご案内いたします。", ["sonkeigo", "kenjougo", "teineigo"]),
        ("部長がお帰りになりました。", ["sonkeigo", "teineigo"]),
        ("明日、私がお迎えに上がります。", ["kenjougo", "teineigo"]),
        ("社長はご存じですか。", ["sonkeigo", "teineigo"]),
        ("私は会社におります。", ["kenjougo", "teineigo"]),
        ("ここで待っていてください。", ["teineigo"]),
        ("明日また来るね。", []),
        ("先生が書かれた本を読んだ。", ["reru"]),
    ],
)
def test_keigo_markers_by_rule(keigo, text, levels):
    from interp.evaluators.japanese import analyse, keigo_markers

    assert [lv for lv, _, _ in keigo_markers(analyse(text))] == levels


def test_sentiment_separates_gratitude_from_anger_sentences(sentiment):
    ds = load_dataset("emotions_ja.jsonl")
    for split in ("selection", "evaluation"):
        part = [r for r in ds.records if r.split == split]
        cols = sentiment.score([r.text for r in part])
        pol = {lab: [cols["ja_polarity"][i] for i, r in enumerate(part) if r.emotion == lab] for lab in ("gratitude", "anger", "neutral")}
        assert _auc(pol["gratitude"], pol["anger"]) > 0.95, split
        assert sum(p > 0 for p in pol["gratitude"]) >= 0.9 * len(pol["gratitude"])
        assert sum(p < 0 for p in pol["anger"]) >= 0.9 * len(pol["anger"])
        assert sum(p == 0 for p in pol["neutral"]) >= 0.9 * len(pol["neutral"])


@pytest.mark.parametrize(
    ("text", "signs"),
    [
        ("とても嬉しい。", [1]),
        ("全然嬉しくない。", [-1]),
        ("嬉しくありません。", [-1]),
        ("あんなやり方は許せません。", [-1]),
        ("ひどい言葉で、怒りが収まらない。", [-1, -1]),  # が ends the negation's scope: 怒り stays negative
        ("本当にありがとうございました。", [1]),
    ],
)
def test_sentiment_negation_scope(sentiment, text, signs):
    assert [s for _, s in sentiment.polarity_hits(text)] == signs


def test_sentiment_reads_tohoku_format_polarity_files(tmp_path):
    pytest.importorskip("fugashi")
    from interp.evaluators.japanese import JapaneseSentimentScorer, read_polarity_file

    nouns = tmp_path / "pn.csv.m3.120408.trim"
    nouns.write_text("快晴\tp\t〜である・になる（状態）客観\n曇天\tn\t〜である・になる（状態）客観\n会議\te\t〜する（出来事）\n", encoding="utf-8")
    verbs = tmp_path / "wago.121808.pn"
    verbs.write_text("ポジ（評価）\t晴れ晴れ する\nネガ（経験）\tどんより する\n", encoding="utf-8")
    assert read_polarity_file(nouns) == [("快晴", 1), ("曇天", -1)]
    assert read_polarity_file(verbs) == [("晴れ晴れする", 1), ("どんよりする", -1)]
    s = JapaneseSentimentScorer(polarity_files=[nouns, verbs])
    assert s.score(["今日は快晴で晴れ晴れした。", "曇天でどんよりしている。", "嬉しい。"]) == {
        "ja_polarity": [1.0, -1.0, 0.0], "ja_positive": [2.0, 0.0, 0.0], "ja_negative": [0.0, 2.0, 0.0]}
    bad = tmp_path / "bad.tsv"
    bad.write_text("just some text\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="no entry in a known format"):
        read_polarity_file(bad)
    euc = tmp_path / "euc.tsv"
    euc.write_bytes("快晴\tp\n".encode("euc_jp"))
    with pytest.raises(ConfigError, match="not UTF-8 text; convert it"):
        read_polarity_file(euc)


def test_keywords_count_longest_expressions_and_need_no_extra():
    s = make_scorer("ja_keywords")
    cols = s.score(["本当にありがとうございます！ありがとう。", "遅れてごめんなさい。", "駅まで歩きます。"])
    assert cols["ja_kw_gratitude"] == [2.0, 0.0, 0.0] and cols["ja_kw_apology"] == [0.0, 1.0, 0.0]
    ds = load_dataset("emotions_ja.jsonl")
    cols = s.score(ds.texts)
    for lab in ("gratitude", "anger", "apology"):
        assert all(cols[f"ja_kw_{lab}"][i] > 0 for i in ds.indices(lab))
    assert all(sum(cols[c][i] for c in s.columns) == 0 for i in ds.indices("neutral"))
    with pytest.raises(ConfigError, match="no Japanese keyword list for emotion 'joy'; lists exist for gratitude, anger, apology"):
        make_scorer("ja_keywords", emotions=["joy"])


def test_japanese_scorers_refuse_other_languages_and_are_not_masked():
    with pytest.raises(ConfigError, match=re.escape("scorer 'ja_keywords' scores Japanese only (languages: ja), not 'en'")):
        make_scorer("ja_keywords", language="en")
    s = make_scorer("ja_keywords")
    cols = score_texts(["ありがとう。"], [s], mask_emotion="gratitude")
    assert set(cols) == set(s.columns)  # maskable = False: no *_masked twin of an English-lexicon mask


def test_keigo_and_sentiment_refuse_english(keigo, sentiment):
    for name in ("keigo", "ja_sentiment"):
        with pytest.raises(ConfigError, match=f"scorer '{name}' scores Japanese only"):
            make_scorer(name, language="en")


def test_missing_extra_names_the_install_command(monkeypatch):
    from interp.evaluators import japanese

    japanese._tagger.cache_clear()
    monkeypatch.setitem(sys.modules, "fugashi", None)
    try:
        for name in ("keigo", "ja_sentiment"):
            with pytest.raises(ConfigError, match=re.escape("install them with: pip install 'emotion-circuits[ja]'")):
                make_scorer(name)
    finally:
        japanese._tagger.cache_clear()
