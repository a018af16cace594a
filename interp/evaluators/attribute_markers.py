"""Attribute marker scorers: a registry label's marker expressions per word, with a non-lexical masked twin.

The marker lists are the attribute registry's English lexicons (:mod:`interp.attributes`, shipped in
``interp/data/attribute_markers_en.json``), so adding a marker is a data change. A marker count on text
whose markers were masked is zero by construction, so the masked twin (``<column>_masked``, computed by
:func:`interp.evaluators.score_texts` on the label-masked text) is a different, non-lexical signal: one of
:data:`MASKED_SIGNALS`, chosen per label and documented in ``interp/data/ATTRIBUTES_README.md``.

Built-ins (column ← lexicon, masked twin):

- ``politeness_markers`` ← politeness/polite; VADER compound of the masked text (tone left once the
  request formulas are gone).
- ``humour_markers`` ← humour/humorous; VADER compound of the masked text (a joke about a nuisance is
  worded more positively than the plain complaint: higher on 33 of 41 changed pairs of the shipped set).
- ``threat_markers`` ← threat/threatening; VADER negative share of the masked text (overt hostility left
  once the threat formulas are gone; it does not see veiled threats).
"""

from collections.abc import Callable, Sequence
from functools import cache

from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

from interp.attributes import get_attribute
from interp.errors import ConfigError
from interp.evaluators.masking import lexicon_pattern
from interp.lexicon import words


@cache
def _vader() -> SentimentIntensityAnalyzer:
    return SentimentIntensityAnalyzer()


def _vader_field(field: str) -> Callable[[Sequence[str]], list[float]]:
    def signal(texts: Sequence[str]) -> list[float]:
        return [float(_vader().polarity_scores(t)[field]) for t in texts]
    return signal


MASKED_SIGNALS: dict[str, Callable[[Sequence[str]], list[float]]] = {
    "vader_compound": _vader_field("compound"),
    "vader_pos": _vader_field("pos"),
    "vader_neg": _vader_field("neg"),
}
"""Non-lexical signals a marker scorer reports on masked text: VADER compound in [-1, 1], positive / negative share in [0, 1]."""


def marker_rate(texts: Sequence[str], exprs: tuple[str, ...]) -> list[float]:
    """Per text, whole-word matches of ``exprs`` (non-overlapping, longest first) per word (0 for a text without words)."""
    pat = lexicon_pattern(exprs)
    return [len(pat.findall(t)) / n if (n := len(words(t))) else 0.0 for t in texts]


class MarkerScorer:
    """``<column>``: marker expressions of ``attribute``'s English ``label`` per word; masked twin: a :data:`MASKED_SIGNALS` entry.

    Args:
        attribute: a registered attribute with English data matched by words (``politeness``, ``threat``, ...).
        label: a label of it with a marker lexicon.
        column: column name (default ``<label>_markers``).
        masked_signal: key of :data:`MASKED_SIGNALS` reported as ``<column>_masked``.
    """

    name = "markers"
    languages = ("en",)

    def __init__(self, attribute: str, label: str, *, column: str | None = None, masked_signal: str = "vader_compound") -> None:
        spec = get_attribute(attribute).language("en")
        if spec.lexicon_match != "words":
            raise ConfigError(f"attribute {attribute!r} (en) matches its lexicons by {spec.lexicon_match!r}; marker scorers need 'words'")
        exprs = spec.label(label).lexicon
        if not exprs:
            with_lex = ", ".join(spec.lexicons) or "none"
            raise ConfigError(f"label {label!r} of {attribute!r} (en) has no marker lexicon; labels with one: {with_lex}")
        if masked_signal not in MASKED_SIGNALS:
            raise ConfigError(f"masked_signal {masked_signal!r}; choose one of {', '.join(MASKED_SIGNALS)}")
        self.attribute, self.label, self.exprs, self.masked_signal = attribute, label, tuple(exprs), masked_signal
        self.columns: tuple[str, ...] = (column or f"{label}_markers",)

    def score(self, texts: Sequence[str], *, prompts: Sequence[str] | None = None) -> dict[str, list[float]]:
        return {self.columns[0]: marker_rate(texts, self.exprs)}

    def score_masked(self, texts: Sequence[str], *, prompts: Sequence[str] | None = None) -> dict[str, list[float]]:
        """The non-lexical masked signal of already-masked ``texts`` (the marker rate there would be zero)."""
        return {self.columns[0]: MASKED_SIGNALS[self.masked_signal](texts)}


class PolitenessMarkerScorer(MarkerScorer):
    """``politeness_markers``: polite request formulas per word; masked twin: VADER compound."""

    name = "politeness_markers"

    def __init__(self) -> None:
        super().__init__("politeness", "polite", column="politeness_markers", masked_signal="vader_compound")


class HumourMarkerScorer(MarkerScorer):
    """``humour_markers``: explicit joke, laughter and irony markers per word; masked twin: VADER compound."""

    name = "humour_markers"

    def __init__(self) -> None:
        super().__init__("humour", "humorous", column="humour_markers", masked_signal="vader_compound")


class ThreatMarkerScorer(MarkerScorer):
    """``threat_markers``: conventional threat formulas per word; masked twin: VADER negative share."""

    name = "threat_markers"

    def __init__(self) -> None:
        super().__init__("threat", "threatening", column="threat_markers", masked_signal="vader_neg")
