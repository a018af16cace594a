"""Surface confounds of a labelled dataset: features a probe could read instead of the label.

Per label, the rate of simple surface features (grammatical person, opening, punctuation,
negation) and the mean length; a warning for every feature whose rate differs between a
label and the reference label (``neutral`` for emotion; an attribute's anchor label otherwise,
see :mod:`interp.attributes`) by more than a threshold; and, where the dataset has matched
pairs (``pair_id``), the same features compared within each pair.

English pronouns: first/second person are I/me/my/mine/myself, we/us/our/ours/ourselves and the
you-forms (contractions such as "I'm" count by their first part); third person are the
he/she/they forms. "it" and "its" are left out: they mark no person a speaker addresses and
occur in neutral descriptions of things.

Japanese (:data:`JA_BINARY_FEATURES`, substring rules on the text, no morphological analysis):
first/second person 私/わたし/僕/ぼく/俺/おれ/あなた/あんた/君/きみ/お前/おまえ/我々, third person 彼
(彼女, 彼ら)/あいつ; ``polite_ending``: the sentence, less final punctuation and the particles
よ/ね/か/わ, ends in a です/ます form (です, でした, ます, ました, ません, ましょう, でしょう, ください,
ございます; the set phrase ごめんなさい is plain); ``final_particle``: it ends in よ/ね/な/わ/ぞ/ぜ/さ before the
final punctuation; ``question``/``exclamation`` anywhere and ``ends_question``/``ends_exclamation`` as the
final mark, in full or half width; negation ない/ません/なかった/なく/ずに. Lengths are in characters
(:mod:`interp.textnorm`); "same first word" compares the first two characters.
"""

import json
import math
import re
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from importlib import resources

from interp.datasets import EmotionDataset, EmotionRecord
from interp.errors import DatasetError
from interp.lexicon import EMOTION_WORDS, words
from interp.textnorm import length_unit, text_length, uses_characters

FIRST_SECOND_PERSON: frozenset[str] = frozenset(
    "i me my mine myself we us our ours ourselves you your yours yourself yourselves".split())
THIRD_PERSON: frozenset[str] = frozenset(
    "he him his himself she her hers herself they them their theirs themselves".split())
NEGATIONS: frozenset[str] = frozenset(
    "not no never nothing nobody none neither nor cannot nowhere".split())
_LEXICON: frozenset[str] = frozenset().union(*EMOTION_WORDS.values())


def _stems(text: str) -> list[str]:
    """Word tokens with contractions cut at the apostrophe ("i'm" → "i", "can't" → "can't" kept whole)."""
    out = []
    for w in words(text.replace("\u2019", "'")):
        out.append(w if w.endswith("n't") else w.split("'")[0])
    return out


def _has_negation(text: str) -> bool:
    ws = words(text.replace("\u2019", "'"))
    return any(w in NEGATIONS or w.endswith("n't") for w in ws)


BINARY_FEATURES: dict[str, Callable[[str], bool]] = {
    "first_second_person": lambda t: any(w in FIRST_SECOND_PERSON for w in _stems(t)),
    "third_person": lambda t: any(w in THIRD_PERSON for w in _stems(t)),
    "starts_with_the": lambda t: t.split()[0].lower() == "the" if t.split() else False,
    "comma": lambda t: "," in t,
    "apostrophe": lambda t: "'" in t or "\u2019" in t,
    "question": lambda t: "?" in t,
    "exclamation": lambda t: "!" in t,
    "negation": _has_negation,
}
"""Surface features compared between classes (name → predicate on the text). Their names are the table's columns."""

PAIR_RULE_FEATURES: tuple[str, ...] = ("first_second_person", "third_person", "starts_with_the", "comma",
                                        "apostrophe", "question", "exclamation")
"""Features a matched counterpart must share with its emotion sentence (person, opening, punctuation);
negation is reported within pairs but is not a matching rule."""

LEXICON_FEATURE = "lexicon_word"
"""Reported beside the surface features but never warned on: explicit emotion sentences carry one by design."""

LENGTH_FEATURES: dict[str, Callable[[str], float]] = {
    "words": lambda t: float(len(t.split())),
    "chars": lambda t: float(len(t)),
}


def _lexicon(t: str) -> bool:
    return any(w in _LEXICON for w in words(t))


# --- Japanese -------------------------------------------------------------------------------------------
JA_FIRST_SECOND_PERSON: tuple[str, ...] = ("私", "わたし", "僕", "ぼく", "俺", "おれ", "あなた", "あんた", "君", "きみ",
                                          "お前", "おまえ", "我々")
JA_THIRD_PERSON: tuple[str, ...] = ("彼", "あいつ")
JA_NEGATIONS: tuple[str, ...] = ("ない", "ません", "なかった", "なく", "ずに")
JA_POLITE_ENDINGS: tuple[str, ...] = ("です", "でした", "ます", "ました", "ません", "ましょう", "でしょう", "ください",
                                     "ございます")
_JA_END_PUNCT = re.compile(r"[\s。．.！!？?…・」』）)]+$")
_JA_TRAILING_PARTICLES = re.compile(r"(よね|よ|ね|か|わ)+$")


def _ja_core(t: str) -> str:
    return _JA_END_PUNCT.sub("", unicodedata.normalize("NFKC", t))


def _ja_final_mark(t: str) -> str:
    m = _JA_END_PUNCT.search(unicodedata.normalize("NFKC", t))
    return m.group(0) if m else ""


def _ja_polite_ending(t: str) -> bool:
    core = _JA_TRAILING_PARTICLES.sub("", _ja_core(t))
    return core.endswith(JA_POLITE_ENDINGS)


@cache
def _ja_lexicon() -> tuple[str, ...]:
    data = json.loads(resources.files("interp").joinpath("data", "emotion_lexicon_ja.json").read_text(encoding="utf-8"))
    return tuple(unicodedata.normalize("NFKC", e) for exprs in data.values() for e in exprs)


JA_BINARY_FEATURES: dict[str, Callable[[str], bool]] = {
    "first_second_person": lambda t: any(p in t for p in JA_FIRST_SECOND_PERSON),
    "third_person": lambda t: any(p in t for p in JA_THIRD_PERSON),
    "polite_ending": _ja_polite_ending,
    "final_particle": lambda t: _ja_core(t).endswith(("よ", "ね", "な", "わ", "ぞ", "ぜ", "さ")),
    "comma": lambda t: any(c in t for c in "、，,"),
    "question": lambda t: any(c in t for c in "？?"),
    "exclamation": lambda t: any(c in t for c in "！!"),
    "ends_question": lambda t: "?" in _ja_final_mark(t),
    "ends_exclamation": lambda t: "!" in _ja_final_mark(t),
    "negation": lambda t: any(n in t for n in JA_NEGATIONS),
}
"""Surface features of Japanese sentences (see the module docstring)."""

JA_PAIR_RULE_FEATURES: tuple[str, ...] = ("polite_ending", "ends_question", "ends_exclamation")
"""What a Japanese matched counterpart must share: politeness level and sentence type (final punctuation)."""


def _ja_lexicon_hit(t: str) -> bool:
    norm = unicodedata.normalize("NFKC", t)
    return any(e in norm for e in _ja_lexicon())


def binary_features(language: str = "en") -> dict[str, Callable[[str], bool]]:
    """The surface features compared for ``language`` (Japanese has its own; every other language uses the English ones)."""
    return JA_BINARY_FEATURES if language.split("-")[0] == "ja" else BINARY_FEATURES


def length_features(language: str = "en") -> dict[str, Callable[[str], float]]:
    """Mean-length columns: words and characters, or characters only where words are not separated by spaces."""
    return {"chars": LENGTH_FEATURES["chars"]} if uses_characters(language) else LENGTH_FEATURES


@dataclass(frozen=True)
class PairRule:
    """What a matched counterpart must share with its partner: these binary features, and a length gap of at most ``max_gap``.

    ``max_gap`` is in the language's length unit (words, or characters for Japanese); ``None`` means no length rule.
    """

    features: tuple[str, ...]
    max_gap: int | None = 2


def default_pair_rule(language: str = "en") -> PairRule:
    """The matching rule of the emotion sets: English person/opening/punctuation within 2 words; Japanese level/type within 4 characters."""
    if language.split("-")[0] == "ja":
        return PairRule(JA_PAIR_RULE_FEATURES, 4)
    return PairRule(PAIR_RULE_FEATURES, 2)


@dataclass(frozen=True)
class LabelRow:
    """One label's feature rates (share of its records, 0–1) and mean lengths."""

    label: str
    n: int
    rates: dict[str, float]
    means: dict[str, float]


@dataclass(frozen=True)
class ConfoundWarning:
    """A feature whose rate (or mean length) differs between ``label`` and neutral by more than the threshold.

    For rates, ``difference`` is ``rate(label) − rate(neutral)`` with a 95 % Wald interval; for
    lengths it is the relative difference of the means, ``(mean(label) − mean(neutral)) / mean(neutral)``,
    with a 95 % normal interval of the difference of means divided by the neutral mean.
    """

    feature: str
    label: str
    value: float
    neutral_value: float
    difference: float
    ci_low: float
    ci_high: float
    scope: str = "labels"
    reference: str = "neutral"

    def line(self) -> str:
        what = "mean" if self.feature in LENGTH_FEATURES else "rate"
        return (f"WARNING: {self.feature}: {self.label} {what} {self.value:.2f} vs {self.reference} {self.neutral_value:.2f} "
                f"(difference {self.difference:+.2f}, 95% CI [{self.ci_low:+.2f}, {self.ci_high:+.2f}])")


@dataclass(frozen=True)
class PairRow:
    """Within-pair comparison for one label: how often a feature differs between its sentence and the reference partner.

    The ``*_word_diff`` fields are in the table's length unit (words; characters for Japanese), signed
    as counterpart − sentence for emotion pairs and labelled − anchor for attribute pairs; ``same_first_word``
    compares the first word (the first two characters in character languages).
    """

    emotion: str
    n_pairs: int
    mismatch: dict[str, float]
    mean_abs_word_diff: float
    max_abs_word_diff: int
    mean_word_diff: float
    same_first_word: float


@dataclass(frozen=True)
class ConfoundTable:
    """The confound table of one dataset: per-label rows, warnings, and (if pairs exist) per-pair rows.

    ``pair_warnings`` flags a surface feature whose within-pair mismatch rate exceeds the threshold,
    or a mean absolute length difference above the pair rule's ``max_gap`` (2 words for the English emotion sets).
    ``reference`` is the label the warnings compare against, ``language`` the records' language and
    ``unit`` the length unit of the pair rows.
    """

    source: str
    threshold: float
    rows: tuple[LabelRow, ...]
    warnings: tuple[ConfoundWarning, ...]
    pair_rows: tuple[PairRow, ...]
    pair_warnings: tuple[str, ...]
    reference: str = "neutral"
    language: str = "en"
    unit: str = "words"

    @property
    def ok(self) -> bool:
        return not self.warnings and not self.pair_warnings

    def row(self, label: str) -> LabelRow:
        for r in self.rows:
            if r.label == label:
                return r
        raise DatasetError(f"label {label!r} is not in {self.source}; labels: {', '.join(r.label for r in self.rows)}")

    def warning_lines(self) -> list[str]:
        return [w.line() for w in self.warnings] + [f"WARNING: pairs: {p}" for p in self.pair_warnings]

    def to_dict(self) -> dict:
        return {
            "source": self.source, "threshold": self.threshold, "ok": self.ok, "reference": self.reference,
            "language": self.language, "length_unit": self.unit,
            "labels": [{"label": r.label, "n": r.n, **r.rates, **{f"mean_{k}": v for k, v in r.means.items()}} for r in self.rows],
            "warnings": [{"feature": w.feature, "label": w.label, "value": w.value, "neutral_value": w.neutral_value,
                          "difference": w.difference, "ci95": [w.ci_low, w.ci_high], "line": w.line()} for w in self.warnings],
            "pairs": [{"emotion": p.emotion, "n_pairs": p.n_pairs, **{f"mismatch_{k}": v for k, v in p.mismatch.items()},
                       "mean_abs_word_diff": p.mean_abs_word_diff, "max_abs_word_diff": p.max_abs_word_diff,
                       "mean_word_diff": p.mean_word_diff, "same_first_word": p.same_first_word} for p in self.pair_rows],
            "pair_warnings": list(self.pair_warnings),
        }


def text_features(text: str, language: str = "en") -> dict[str, bool]:
    """The binary surface features of one sentence (plus ``lexicon_word``: an emotion-lexicon word of that language)."""
    lexicon = _ja_lexicon_hit if language.split("-")[0] == "ja" else _lexicon
    return {**{k: f(text) for k, f in binary_features(language).items()}, LEXICON_FEATURE: lexicon(text)}


def _mean(xs: list[float] | list[int]) -> float:
    return sum(xs) / len(xs) if xs else float("nan")


def _var(xs: list[float]) -> float:
    m = _mean(xs)
    return sum((x - m) ** 2 for x in xs) / (len(xs) - 1) if len(xs) > 1 else 0.0


def _label_row(label: str, texts: list[str], language: str = "en") -> LabelRow:
    feats = [text_features(t, language) for t in texts]
    rates = {k: _mean([float(f[k]) for f in feats]) for k in (*binary_features(language), LEXICON_FEATURE)}
    means = {k: _mean([f(t) for t in texts]) for k, f in length_features(language).items()}
    return LabelRow(label, len(texts), rates, means)


def matched_pairs(ds: EmotionDataset, *, reference: str | None = None) -> list[tuple[EmotionRecord, EmotionRecord]]:
    """``(labelled sentence, reference partner)`` for every record whose ``pair_id`` names a record of ``ds``.

    Emotion sets link a neutral counterpart to its emotion sentence (the neutral carries ``pair_id``);
    attribute sets link each labelled sentence to its anchor (the labelled one carries it). Either way
    the pair comes back with the reference-labelled record (``reference``, by default the dataset's, see
    :func:`interp.attributes.reference_label`) second.
    """
    if reference is None:
        from interp.attributes import reference_label  # noqa: PLC0415 - cycle

        reference = reference_label(ds.records) or "neutral"
    by_id = {r.id: r for r in ds.records}
    out = []
    for r in ds.records:
        if getattr(r, "pair_id", None) and r.pair_id in by_id:
            t = by_id[r.pair_id]
            out.append((t, r) if r.emotion == reference else (r, t))
    return out


def pair_mismatches(emotion_text: str, neutral_text: str, *, language: str = "en", rule: PairRule | None = None) -> list[str]:
    """The matching rules a counterpart breaks: each differing feature of ``rule`` and a length gap over ``rule.max_gap``.

    The default rule is :func:`default_pair_rule` (English emotion sets: :data:`PAIR_RULE_FEATURES`, 2 words).
    """
    rule = rule or default_pair_rule(language)
    a, b = text_features(emotion_text, language), text_features(neutral_text, language)
    out = [k for k in rule.features if a[k] != b[k]]
    gap = text_length(neutral_text, language) - text_length(emotion_text, language)
    if rule.max_gap is not None and abs(gap) > rule.max_gap:
        out.append(f"{length_unit(language)} ({gap:+d})")
    return out


def _opening(text: str, language: str) -> str:
    if uses_characters(language):
        return "".join(text.split())[:2]
    parts = text.split()
    return parts[0].lower() if parts else ""


def dataset_language(ds: EmotionDataset) -> str:
    """The one language of ``ds``'s records; :class:`DatasetError` when they mix languages."""
    langs = list(dict.fromkeys(r.language for r in ds.records))
    if len(langs) > 1:
        raise DatasetError(f"{ds.source} mixes languages {', '.join(langs)}; surface features differ by language, "
                           "so compute the confound table for one language at a time")
    return langs[0] if langs else "en"


def confound_table(ds: EmotionDataset, *, threshold: float = 0.2, neutral: str | None = None,
                   pair_rule: PairRule | None = None) -> ConfoundTable:
    """Per-label surface-feature rates of ``ds``, warnings against the reference label and within-pair mismatches.

    Args:
        ds: any dataset of one language; labels are its records' ``emotion`` values.
        threshold: a rate difference (0–1) above which a feature is flagged; for mean lengths the
            same number is a relative difference of the means.
        neutral: the reference label (default: the dataset's, from the attribute registry or its pairs,
            else ``"neutral"``); without it in the data no label warnings are computed.
        pair_rule: the length gap that warns on pairs (default: the registry's rule for the dataset's
            attribute and language, else :func:`default_pair_rule`).
    """
    if not 0.0 < threshold < 1.0:
        raise DatasetError(f"confound threshold must be strictly between 0 and 1 (a rate difference), got {threshold}")
    from interp.attributes import pair_rule_for, reference_label  # noqa: PLC0415 - cycle

    language = dataset_language(ds)
    neutral = neutral or reference_label(ds.records) or "neutral"
    pair_rule = pair_rule or pair_rule_for(ds.records)
    feats, lens = binary_features(language), length_features(language)
    texts: dict[str, list[str]] = {}
    for r in ds.records:
        texts.setdefault(r.emotion, []).append(r.text)
    rows = tuple(_label_row(lab, ts, language) for lab, ts in texts.items())
    warnings: list[ConfoundWarning] = []
    ref = next((r for r in rows if r.label == neutral), None)
    if ref is not None:
        for row in rows:
            if row is ref:
                continue
            for k in feats:
                p1, p0 = row.rates[k], ref.rates[k]
                d = p1 - p0
                if abs(d) > threshold:
                    se = math.sqrt(p1 * (1 - p1) / row.n + p0 * (1 - p0) / ref.n)
                    warnings.append(ConfoundWarning(k, row.label, p1, p0, d, d - 1.96 * se, d + 1.96 * se, reference=neutral))
            for k, f in lens.items():
                m1, m0 = row.means[k], ref.means[k]
                d = (m1 - m0) / m0
                if abs(d) > threshold:
                    se = math.sqrt(_var([f(t) for t in texts[row.label]]) / row.n + _var([f(t) for t in texts[neutral]]) / ref.n) / m0
                    warnings.append(ConfoundWarning(k, row.label, m1, m0, d, d - 1.96 * se, d + 1.96 * se, reference=neutral))
    pairs = matched_pairs(ds, reference=neutral)
    by_label: dict[str, list[tuple[EmotionRecord, EmotionRecord]]] = {}
    for e, n in pairs:
        by_label.setdefault(e.emotion, []).append((e, n))
    unit = length_unit(language)
    pair_rows, pair_warnings = [], []
    for lab, ps in by_label.items():
        fe = [(text_features(e.text, language), text_features(n.text, language)) for e, n in ps]
        mismatch = {k: _mean([float(a[k] != b[k]) for a, b in fe]) for k in feats}
        # Emotion pairs: counterpart − sentence (as before); attribute pairs: labelled − anchor.
        gaps = [(text_length(n.text, language) - text_length(e.text, language)) * (1 if n.pair_id == e.id else -1) for e, n in ps]
        same_first = _mean([float(_opening(e.text, language) == _opening(n.text, language)) for e, n in ps])
        row = PairRow(lab, len(ps), mismatch, _mean([abs(g) for g in gaps]), max(abs(g) for g in gaps), _mean(gaps), same_first)
        pair_rows.append(row)
        pair_warnings += [f"{lab}: {k} differs within {v:.0%} of pairs (threshold {threshold:.0%})"
                          for k, v in mismatch.items() if v > threshold]
        if pair_rule.max_gap is not None and row.mean_abs_word_diff > pair_rule.max_gap:
            what = "word" if unit == "words" else "character"
            pair_warnings.append(f"{lab}: mean |{what} difference| {row.mean_abs_word_diff:.1f} > {pair_rule.max_gap}")
    return ConfoundTable(ds.source, threshold, rows, tuple(warnings), tuple(pair_rows), tuple(pair_warnings),
                         reference=neutral, language=language, unit=unit)
