"""Surface confounds of an emotion dataset: features a probe could read instead of emotion.

Per label, the rate of simple surface features (grammatical person, opening, punctuation,
negation) and the mean length; a warning for every feature whose rate differs between an
emotion class and ``neutral`` by more than a threshold; and, where the dataset has matched
pairs (``pair_id``), the same features compared within each pair.

Pronouns: first/second person are I/me/my/mine/myself, we/us/our/ours/ourselves and the
you-forms (contractions such as "I'm" count by their first part); third person are the
he/she/they forms. "it" and "its" are left out: they mark no person a speaker addresses and
occur in neutral descriptions of things.
"""

import math
from collections.abc import Callable
from dataclasses import dataclass

from interp.datasets import EmotionDataset, EmotionRecord
from interp.errors import DatasetError
from interp.lexicon import EMOTION_WORDS, words

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

    def line(self) -> str:
        what = "rate" if self.feature in BINARY_FEATURES else "mean"
        return (f"WARNING: {self.feature}: {self.label} {what} {self.value:.2f} vs neutral {self.neutral_value:.2f} "
                f"(difference {self.difference:+.2f}, 95% CI [{self.ci_low:+.2f}, {self.ci_high:+.2f}])")


@dataclass(frozen=True)
class PairRow:
    """Within-pair comparison for one emotion: how often a feature differs between sentence and counterpart."""

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
    or a mean absolute word difference above 2 words (the matching rule).
    """

    source: str
    threshold: float
    rows: tuple[LabelRow, ...]
    warnings: tuple[ConfoundWarning, ...]
    pair_rows: tuple[PairRow, ...]
    pair_warnings: tuple[str, ...]

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
            "source": self.source, "threshold": self.threshold, "ok": self.ok,
            "labels": [{"label": r.label, "n": r.n, **r.rates, **{f"mean_{k}": v for k, v in r.means.items()}} for r in self.rows],
            "warnings": [{"feature": w.feature, "label": w.label, "value": w.value, "neutral_value": w.neutral_value,
                          "difference": w.difference, "ci95": [w.ci_low, w.ci_high], "line": w.line()} for w in self.warnings],
            "pairs": [{"emotion": p.emotion, "n_pairs": p.n_pairs, **{f"mismatch_{k}": v for k, v in p.mismatch.items()},
                       "mean_abs_word_diff": p.mean_abs_word_diff, "max_abs_word_diff": p.max_abs_word_diff,
                       "mean_word_diff": p.mean_word_diff, "same_first_word": p.same_first_word} for p in self.pair_rows],
            "pair_warnings": list(self.pair_warnings),
        }


def text_features(text: str) -> dict[str, bool]:
    """The binary surface features of one sentence (plus ``lexicon_word``)."""
    return {**{k: f(text) for k, f in BINARY_FEATURES.items()}, LEXICON_FEATURE: _lexicon(text)}


def _mean(xs: list[float] | list[int]) -> float:
    return sum(xs) / len(xs) if xs else float("nan")


def _var(xs: list[float]) -> float:
    m = _mean(xs)
    return sum((x - m) ** 2 for x in xs) / (len(xs) - 1) if len(xs) > 1 else 0.0


def _label_row(label: str, texts: list[str]) -> LabelRow:
    feats = [text_features(t) for t in texts]
    rates = {k: _mean([float(f[k]) for f in feats]) for k in (*BINARY_FEATURES, LEXICON_FEATURE)}
    means = {k: _mean([f(t) for t in texts]) for k, f in LENGTH_FEATURES.items()}
    return LabelRow(label, len(texts), rates, means)


def matched_pairs(ds: EmotionDataset) -> list[tuple[EmotionRecord, EmotionRecord]]:
    """``(emotion sentence, neutral counterpart)`` for every record whose ``pair_id`` names a record of ``ds``."""
    by_id = {r.id: r for r in ds.records}
    return [(by_id[r.pair_id], r) for r in ds.records if getattr(r, "pair_id", None) and r.pair_id in by_id]


def pair_mismatches(emotion_text: str, neutral_text: str) -> list[str]:
    """The matching rules a counterpart breaks: each differing :data:`PAIR_RULE_FEATURES`, and a length gap over 2 words."""
    a, b = text_features(emotion_text), text_features(neutral_text)
    out = [k for k in PAIR_RULE_FEATURES if a[k] != b[k]]
    gap = len(neutral_text.split()) - len(emotion_text.split())
    if abs(gap) > 2:
        out.append(f"words ({gap:+d})")
    return out


def confound_table(ds: EmotionDataset, *, threshold: float = 0.2, neutral: str = "neutral") -> ConfoundTable:
    """Per-label surface-feature rates of ``ds``, warnings against ``neutral`` and within-pair mismatches.

    Args:
        ds: any dataset; labels are its records' ``emotion`` values.
        threshold: a rate difference (0–1) above which a feature is flagged; for mean lengths the
            same number is a relative difference of the means.
        neutral: the reference label; without it no label warnings are computed.
    """
    if not 0.0 < threshold < 1.0:
        raise DatasetError(f"confound threshold must be strictly between 0 and 1 (a rate difference), got {threshold}")
    texts: dict[str, list[str]] = {}
    for r in ds.records:
        texts.setdefault(r.emotion, []).append(r.text)
    rows = tuple(_label_row(lab, ts) for lab, ts in texts.items())
    warnings: list[ConfoundWarning] = []
    ref = next((r for r in rows if r.label == neutral), None)
    if ref is not None:
        for row in rows:
            if row is ref:
                continue
            for k in BINARY_FEATURES:
                p1, p0 = row.rates[k], ref.rates[k]
                d = p1 - p0
                if abs(d) > threshold:
                    se = math.sqrt(p1 * (1 - p1) / row.n + p0 * (1 - p0) / ref.n)
                    warnings.append(ConfoundWarning(k, row.label, p1, p0, d, d - 1.96 * se, d + 1.96 * se))
            for k, f in LENGTH_FEATURES.items():
                m1, m0 = row.means[k], ref.means[k]
                d = (m1 - m0) / m0
                if abs(d) > threshold:
                    se = math.sqrt(_var([f(t) for t in texts[row.label]]) / row.n + _var([f(t) for t in texts[neutral]]) / ref.n) / m0
                    warnings.append(ConfoundWarning(k, row.label, m1, m0, d, d - 1.96 * se, d + 1.96 * se))
    pairs = matched_pairs(ds)
    by_emotion: dict[str, list[tuple[EmotionRecord, EmotionRecord]]] = {}
    for e, n in pairs:
        by_emotion.setdefault(e.emotion, []).append((e, n))
    pair_rows, pair_warnings = [], []
    for emo, ps in by_emotion.items():
        fe = [(text_features(e.text), text_features(n.text)) for e, n in ps]
        mismatch = {k: _mean([float(a[k] != b[k]) for a, b in fe]) for k in BINARY_FEATURES}
        gaps = [len(n.text.split()) - len(e.text.split()) for e, n in ps]
        same_first = _mean([float(e.text.split()[0].lower() == n.text.split()[0].lower()) for e, n in ps])
        row = PairRow(emo, len(ps), mismatch, _mean([abs(g) for g in gaps]), max(abs(g) for g in gaps), _mean(gaps), same_first)
        pair_rows.append(row)
        pair_warnings += [f"{emo}: {k} differs within {v:.0%} of pairs (threshold {threshold:.0%})"
                          for k, v in mismatch.items() if v > threshold]
        if row.mean_abs_word_diff > 2:
            pair_warnings.append(f"{emo}: mean |word difference| {row.mean_abs_word_diff:.1f} > 2")
    return ConfoundTable(ds.source, threshold, rows, tuple(warnings), tuple(pair_rows), tuple(pair_warnings))
