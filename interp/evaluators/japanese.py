"""Japanese text scorers: keigo (honorific) markers and sentiment by morphological analysis, emotion keywords by substring.

Morphological analysis uses ``fugashi`` (MeCab wrapper; MIT, MeCab itself BSD-3-Clause) with the
``unidic-lite`` dictionary (UniDic 2.1.2; packaging MIT, dictionary BSD-3-Clause / LGPL / GPL at the
user's choice), an optional extra::

    pip install 'emotion-circuits[ja]'

Without it, building :class:`KeigoScorer` or :class:`JapaneseSentimentScorer` raises a
:class:`~interp.errors.ConfigError` with that command. :class:`JapaneseKeywordScorer` needs nothing.

All three score Japanese only; building one with another ``language`` raises a ConfigError. They
are not maskable (``maskable = False``): :mod:`interp.evaluators.masking` masks English lexicon
words, which a Japanese text does not contain, so a masked twin would only copy the column.

Keigo rules (UniDic lemmas; see :func:`keigo_markers`):

- 丁寧語 (teineigo): the auxiliaries です / ます, ございます (御座る), and the polite request forms
  ください / なさい (命令形 of 下さる / 為さる, e.g. 知らせてください, ごめんなさい).
- 尊敬語 (sonkeigo): いらっしゃる, おっしゃる, 召し上がる, 召す, なさる, くださる (not in the 命令形),
  ご覧 + なる/なさる, お/ご + verb or noun + に + なる (お帰りになる), ご存じ (御 + 存ずる).
- 謙譲語 (kenjougo): 伺う, 参る, 申す, 申し上げる, 申し伝える, いただく, いたす, 承る, 差し上げる, 存ずる
  (without 御), 存じ上げる, おる (居る read オル), 拝見/拝読/拝借/拝聴/拝受/頂戴 + する, お/ご + verb or noun
  + する/いたす/申し上げる (お持ちする, ご案内いたす), お/ご + verb or noun + に + 上がる/かかる (お迎えに上がる,
  お目にかかる).
- Not detected: honorific nouns and adjectives (お住まい, お好きな: UniDic cannot tell them from the
  merely "beautifying" お茶, お昼), and a plain verb used about a superior.
- れる/られる after a verb is counted apart (``keigo_reru``): it is honorific in 書かれた本 (written by a
  superior) but passive or potential just as often, so it does not enter ``keigo_sonkeigo``.

Sentiment: counts of positive and negative expressions from a polarity lexicon matched on lemma
sequences (です/ます ignored), each flipped when a negation (ない, 無い, ず, ぬ) follows it through
auxiliaries only (嬉しくない, 好きじゃない, 嬉しくありません are negated; in 怒りが収まらない the particle
が ends the scope, so 怒り stays negative). The shipped
lexicon ``interp/data/sentiment_lexicon_ja.json`` is hand-made for this project (see
``interp/data/JAPANESE_README.md``); a published dictionary you downloaded yourself (the Tohoku
"Japanese Sentiment Polarity Dictionary" files) can be passed as ``polarity_files=``.
"""

import json
import os
import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache
from importlib import resources
from pathlib import Path

from interp.errors import ConfigError
from interp.evaluators.keywords import select_emotions
from interp.io import read_utf8_text

INSTALL = "pip install 'emotion-circuits[ja]'"
LANGUAGES: tuple[str, ...] = ("ja",)

TEINEIGO_AUXILIARIES: tuple[str, ...] = ("です", "ます")
POLITE_REQUEST_VERBS: tuple[str, ...] = ("下さる", "為さる")
SONKEIGO_VERBS: tuple[str, ...] = ("いらっしゃる", "仰る", "召し上がる", "召す", "為さる", "下さる")
KENJOUGO_VERBS: tuple[str, ...] = ("伺う", "参る", "申す", "申し上げる", "申し伝える", "頂く", "致す", "承る", "差し上げる",
                                   "存ずる", "存じ上げる")
KENJOUGO_NOUNS: tuple[str, ...] = ("拝見", "拝読", "拝借", "拝聴", "拝受", "頂戴")
KEIGO_LEXICON: dict[str, tuple[str, ...]] = {
    "teineigo": ("です", "ます", "ございます", "ください"),
    "sonkeigo": ("いらっしゃる", "おっしゃる", "召し上がる", "なさる", "くださる", "ご覧になる", "お〜になる", "ご存じ"),
    "kenjougo": ("伺う", "参る", "申す", "申し上げる", "申し伝える", "いただく", "いたす", "承る", "差し上げる", "存じる",
                 "おる", "拝見する", "お〜する", "ご〜いたす", "お〜に上がる", "お目にかかる"),
}
"""Readable forms of the markers per politeness level (the rules above match them by lemma and pattern)."""

_NEGATION_LEMMAS = frozenset({"ない", "無い", "ず", "ぬ"})


def check_language(scorer: str, language: str) -> None:
    """Raise :class:`ConfigError` unless ``language`` is one the Japanese scorers support."""
    if language.split("-")[0] not in LANGUAGES:
        raise ConfigError(f"scorer {scorer!r} scores Japanese only (languages: {', '.join(LANGUAGES)}), not {language!r}; "
                          "use an English scorer (sentiment, keywords, nrc, politeness) for English text")


@cache
def _tagger():
    try:
        import fugashi  # noqa: PLC0415 - optional
        import unidic_lite  # noqa: PLC0415 - optional
    except ImportError:
        raise ConfigError(f"the Japanese scorers need fugashi and unidic-lite; install them with: {INSTALL}") from None
    d = unidic_lite.DICDIR
    # Pin unidic-lite (fugashi would prefer a full `unidic` install): the rules are written for its lemmas.
    return fugashi.Tagger(f'-d "{d}" -r "{os.path.join(d, "mecabrc")}"')


@dataclass(frozen=True)
class Morpheme:
    """One morpheme with its UniDic analysis and ``[start, end)`` character offsets in the analysed text."""

    surface: str
    lemma: str
    reading: str
    pos1: str
    pos2: str
    cform: str
    start: int
    end: int


def _base(lemma: str) -> str:
    # UniDic lemmas may carry a gloss or sense tag after a hyphen: 私-代名詞, テスト-test.
    return lemma.split("-", 1)[0] if "-" in lemma[1:] else lemma


def analyse(text: str) -> list[Morpheme]:
    """Morphemes of ``text`` (fugashi + unidic-lite) with character offsets into ``text``."""
    out, pos = [], 0
    for w in _tagger()(text):
        start = text.find(w.surface, pos)
        start = pos + len(w.white_space) if start < 0 else start
        end = start + len(w.surface)
        f = w.feature
        out.append(Morpheme(w.surface, _base(f.lemma or w.surface), f.lForm or "", f.pos1 or "", f.pos2 or "",
                            f.cForm or "", start, end))
        pos = end
    return out


def keigo_markers(morphemes: Sequence[Morpheme]) -> list[tuple[str, int, int]]:
    """``(level, start, end)`` of every honorific marker: level ``teineigo``, ``sonkeigo``, ``kenjougo`` or ``reru``.

    Each morpheme belongs to at most one marker (お持ちします: one kenjougo for お持ちし, one teineigo for ます).
    """
    ms = list(morphemes)
    used: set[int] = set()
    out: list[tuple[str, int, int]] = []

    def take(level: str, i: int, j: int) -> None:
        used.update(range(i, j + 1))
        out.append((level, ms[i].start, ms[j].end))

    for i, m in enumerate(ms):
        if i in used or m.pos1 != "接頭辞" or m.lemma != "御" or i + 1 >= len(ms):
            continue
        x = ms[i + 1]
        if x.pos1 not in ("動詞", "名詞"):
            continue
        if x.lemma == "存ずる" and not (i + 2 < len(ms) and ms[i + 2].lemma in ("為る", "致す")):
            take("sonkeigo", i, i + 1)  # ご存じ
        elif i + 3 < len(ms) and ms[i + 2].surface == "に" and ms[i + 3].lemma in ("成る", "為さる"):
            take("sonkeigo", i, i + 3)  # お帰りになる, ご覧になる
        elif i + 3 < len(ms) and ms[i + 2].surface == "に" and ms[i + 3].lemma in ("上がる", "掛かる"):
            take("kenjougo", i, i + 3)  # お迎えに上がる, お目にかかる
        else:
            # お持ちする, ご案内いたす; UniDic reads お知らせする as お + 知る + せる + する, hence the optional せる.
            j = i + 3 if i + 3 < len(ms) and ms[i + 2].lemma == "せる" else i + 2
            if j < len(ms) and ms[j].lemma in ("為る", "致す", "申し上げる", "申す"):
                take("kenjougo", i, j)
    for i, m in enumerate(ms):
        if i in used:
            continue
        if m.pos1 == "助動詞" and m.lemma in TEINEIGO_AUXILIARIES:
            take("teineigo", i, i)
        elif m.pos1 == "動詞" and m.lemma == "御座る":
            take("teineigo", i, i)
        elif m.pos1 == "動詞" and m.lemma in POLITE_REQUEST_VERBS and m.cform.startswith("命令形"):
            take("teineigo", i, i)  # ください, なさい: the standard polite request
        elif m.pos1 == "動詞" and m.lemma in SONKEIGO_VERBS:
            take("sonkeigo", i, i)
        elif m.pos1 == "名詞" and m.lemma == "御覧":
            take("sonkeigo", i, i)
        elif m.pos1 == "動詞" and (m.lemma in KENJOUGO_VERBS or (m.lemma == "居る" and m.reading == "オル")):
            take("kenjougo", i, i)
        elif m.pos1 == "名詞" and m.lemma in KENJOUGO_NOUNS and i + 1 < len(ms) and ms[i + 1].lemma in ("為る", "致す"):
            take("kenjougo", i, i + 1)
        elif m.pos1 == "助動詞" and m.lemma in ("れる", "られる") and i > 0 and ms[i - 1].pos1 == "動詞":
            take("reru", i, i)
    return sorted(out, key=lambda t: t[1])


class KeigoScorer:
    """Honorific markers per text: ``keigo_teineigo``, ``keigo_sonkeigo``, ``keigo_kenjougo`` and ``keigo_reru`` (counts),
    and ``keigo_level`` (0 none, 1 です/ます only, 2 any sonkeigo or kenjougo marker)."""

    name = "keigo"
    columns = ("keigo_teineigo", "keigo_sonkeigo", "keigo_kenjougo", "keigo_reru", "keigo_level")
    languages = LANGUAGES
    maskable = False

    def __init__(self, language: str = "ja") -> None:
        check_language(self.name, language)
        _tagger()

    def score(self, texts: Sequence[str], *, prompts: Sequence[str] | None = None) -> dict[str, list[float]]:
        out: dict[str, list[float]] = {c: [] for c in self.columns}
        for t in texts:
            levels = [lv for lv, _, _ in keigo_markers(analyse(t))]
            counts = {lv: float(levels.count(lv)) for lv in ("teineigo", "sonkeigo", "kenjougo", "reru")}
            for lv, n in counts.items():
                out[f"keigo_{lv}"].append(n)
            out["keigo_level"].append(2.0 if counts["sonkeigo"] or counts["kenjougo"] else 1.0 if counts["teineigo"] else 0.0)
        return out


# --- sentiment -------------------------------------------------------------------------------------------

def _read_json_lexicon(text: str, source: str) -> list[tuple[str, int]]:
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ConfigError(f"polarity lexicon {source}: not valid JSON ({exc.msg})") from None
    if not isinstance(data, dict) or not {"positive", "negative"} <= set(data):
        raise ConfigError(f"polarity lexicon {source}: expected a JSON object with 'positive' and 'negative' lists")
    return [(e, 1) for e in data["positive"]] + [(e, -1) for e in data["negative"]]


def read_polarity_file(path: str | Path) -> list[tuple[str, int]]:
    """``(expression, +1/-1)`` from a polarity file: our JSON, or a file of the Tohoku Japanese Sentiment Polarity Dictionary.

    Tohoku formats (tab-separated, UTF-8): the noun dictionary ``term<TAB>p|n|e<TAB>category`` (``e`` and
    other tags are skipped) and the predicate dictionary ``ポジ（経験）<TAB>expression`` / ``ネガ（評価）<TAB>…``
    (morphemes of the expression separated by spaces).
    """
    p = Path(path)
    text = read_utf8_text(p, "polarity", error=ConfigError, fix="convert it (e.g. iconv -f EUC-JP -t UTF-8)")
    if p.suffix.lower() == ".json":
        return _read_json_lexicon(text, str(p))
    out = []
    for lineno, line in enumerate(text.splitlines(), start=1):
        cols = [c.strip() for c in line.split("\t")]
        if len(cols) < 2 or not cols[0]:
            continue
        if cols[0].startswith(("ポジ", "ネガ")):
            out.append(("".join(cols[1].split()), 1 if cols[0].startswith("ポジ") else -1))
        elif cols[1] in ("p", "n"):
            out.append((cols[0].strip('"'), 1 if cols[1] == "p" else -1))
    if not out:
        raise ConfigError(f"polarity file {str(p)!r} has no entry in a known format (term<TAB>p|n or ポジ/ネガ<TAB>expression)")
    return out


@cache
def _shipped_lexicon() -> tuple[tuple[str, int], ...]:
    text = resources.files("interp").joinpath("data", "sentiment_lexicon_ja.json").read_text(encoding="utf-8")
    return tuple(_read_json_lexicon(text, "interp/data/sentiment_lexicon_ja.json"))


_NEG = "<neg>"
_POLITE_AUX = frozenset({"ます", "です"})


def _sentiment_tokens(morphemes: Sequence[Morpheme]) -> list[tuple[str, Morpheme]]:
    """``(key, morpheme)`` per morpheme, punctuation and です/ます dropped, every negation keyed ``<neg>``.

    So 許せない and 許せません share the key sequence (許す, <neg>), and a lexicon entry written in one
    politeness level matches the other.
    """
    out = []
    for m in morphemes:
        if m.pos1 in ("補助記号", "空白") or (m.pos1 == "助動詞" and m.lemma in _POLITE_AUX):
            continue
        neg = m.lemma in _NEGATION_LEMMAS and (m.pos1 == "助動詞" or (m.pos1 == "形容詞" and m.pos2 == "非自立可能"))
        out.append((_NEG if neg else m.lemma, m))
    return out


def _continues_predicate(m: Morpheme) -> bool:
    # What may stand between a polar word and the negation that scopes over it: auxiliaries, the
    # non-independent verbs (嬉しくありません: 有る), and the conjunctive て/で. A case or topic particle ends the scope
    # (怒りが収まらない negates 収まる, not 怒り).
    return (m.pos1 == "助動詞" or (m.pos1 == "動詞" and m.pos2 == "非自立可能")
            or (m.pos1 == "助詞" and m.pos2 == "接続助詞" and m.lemma in ("て", "で")))


class JapaneseSentimentScorer:
    """Polarity expressions per text: ``ja_positive`` and ``ja_negative`` (counts after negation) and
    ``ja_polarity`` = (pos − neg) / (pos + neg), 0 when neither occurs (in [-1, 1], like VADER's compound)."""

    name = "ja_sentiment"
    columns = ("ja_polarity", "ja_positive", "ja_negative")
    languages = LANGUAGES
    maskable = False

    def __init__(self, language: str = "ja", *, polarity_files: Sequence[str | Path] | None = None) -> None:
        check_language(self.name, language)
        entries = [e for f in polarity_files for e in read_polarity_file(f)] if polarity_files else list(_shipped_lexicon())
        self._entries: dict[tuple[str, ...], int] = {}
        for expr, sign in entries:
            key = tuple(k for k, _ in _sentiment_tokens(analyse(unicodedata.normalize("NFKC", expr))))
            if key:
                self._entries.setdefault(key, sign)
        self._max_len = max((len(k) for k in self._entries), default=0)

    def polarity_hits(self, text: str) -> list[tuple[str, int]]:
        """``(matched expression, ±1 after negation)`` for every lexicon expression in ``text`` (longest match first)."""
        toks = _sentiment_tokens(analyse(unicodedata.normalize("NFKC", text)))
        keys = [k for k, _ in toks]
        hits, i = [], 0
        while i < len(toks):
            for n in range(min(self._max_len, len(toks) - i), 0, -1):
                sign = self._entries.get(tuple(keys[i:i + n]))
                if sign is None:
                    continue
                negated = False
                for k, m in toks[i + n:i + n + 4]:
                    if k == _NEG:
                        negated = True
                        break
                    if not _continues_predicate(m):
                        break
                hits.append(("".join(m.surface for _, m in toks[i:i + n]), -sign if negated else sign))
                i += n
                break
            else:
                i += 1
        return hits

    def score(self, texts: Sequence[str], *, prompts: Sequence[str] | None = None) -> dict[str, list[float]]:
        pol, pos, neg = [], [], []
        for t in texts:
            signs = [s for _, s in self.polarity_hits(t)]
            p, n = float(signs.count(1)), float(signs.count(-1))
            pos.append(p)
            neg.append(n)
            pol.append((p - n) / (p + n) if p + n else 0.0)
        return {"ja_polarity": pol, "ja_positive": pos, "ja_negative": neg}


# --- emotion keywords -------------------------------------------------------------------------------------

@cache
def emotion_lexicon_ja() -> dict[str, tuple[str, ...]]:
    """The Japanese emotion expressions per emotion (``interp/data/emotion_lexicon_ja.json``), NFKC-normalised."""
    data = json.loads(resources.files("interp").joinpath("data", "emotion_lexicon_ja.json").read_text(encoding="utf-8"))
    return {emo: tuple(unicodedata.normalize("NFKC", e) for e in exprs) for emo, exprs in data.items()}


class JapaneseKeywordScorer:
    """Per text, how many expressions of each emotion's Japanese lexicon occur (``ja_kw_<emotion>``).

    Matching is on the NFKC text, longest expression first and without overlaps, so ありがとうございます
    counts once, not also as ありがとう. The lexicon lists the explicit expressions of the shipped
    Japanese sentences; it does not see paraphrases or implicit emotion.
    """

    name = "ja_keywords"
    languages = LANGUAGES
    maskable = False

    def __init__(self, emotions: Sequence[str] | None = None, language: str = "ja") -> None:
        check_language(self.name, language)
        lex = emotion_lexicon_ja()
        emos = self.emotions = select_emotions(lex, emotions, "Japanese keyword list")
        self.columns = tuple(f"ja_kw_{e}" for e in emos)
        self._patterns = {e: re.compile("|".join(re.escape(x) for x in sorted(lex[e], key=len, reverse=True))) for e in emos}

    def score(self, texts: Sequence[str], *, prompts: Sequence[str] | None = None) -> dict[str, list[float]]:
        norm = [unicodedata.normalize("NFKC", t) for t in texts]
        return {f"ja_kw_{e}": [float(len(p.findall(t))) for t in norm] for e, p in self._patterns.items()}
