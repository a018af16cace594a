"""Style markers of a response: hedges, questions, alternatives, warmth (lexicon rates) and VADER compound.

The lexicons come from general published lists, not from the style corpus (the first lexicons were the
first corpus's template words, so a module that copied its templates scored by construction):

* ``hedges`` — Hyland's (2005, *Metadiscourse*, appendix) list of hedges, single words and short phrases,
  with ``about`` dropped (in responses it is nearly always a preposition);
* ``alternatives`` — the Penn Discourse TreeBank 2.0 connectives of the Expansion.Alternative sense
  (conjunctive, disjunctive, chosen alternative) that are unambiguous in isolation;
* ``warmth`` — every alphabetic entry (≥ 3 letters) of the VADER lexicon (Hutto & Gilbert 2014) with mean
  valence ≥ 2.0, plus ``!``;
* ``questions`` — question marks.

How they relate to the templates is measured, not assumed: :func:`frozen_llm_modules.style_corpus.lexicon_overlap`
(reported by the tests) gives the share of each lexicon present in the templates and the share of template
words that are lexicon entries. The old template-derived lexicons are kept in :data:`LEGACY_LEXICONS` only to
reproduce the old numbers.
"""

import re
from dataclasses import dataclass
from functools import lru_cache

from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

HEDGES = ("almost", "apparent", "apparently", "appear", "appeared", "appears", "approximately", "argue", "argued",
          "argues", "around", "assume", "assumed", "broadly", "certain amount", "certain extent", "certain level",
          "claim", "claimed", "claims", "could", "couldn't", "doubt", "doubtful", "essentially", "estimate",
          "estimated", "fairly", "feel", "feels", "felt", "frequently", "from my perspective", "from our perspective",
          "from this perspective", "generally", "guess", "in general", "in most cases", "in most instances",
          "in my opinion", "in my view", "in this view", "in our view", "indicate", "indicated", "indicates", "largely",
          "likely", "mainly", "may", "maybe", "might", "mostly", "often", "on the whole", "ought", "perhaps",
          "plausible", "plausibly", "possible", "possibly", "postulate", "postulated", "predict", "predicted",
          "presumable", "presumably", "probable", "probably", "quite", "rather", "relatively", "roughly", "seems",
          "should", "sometimes", "somewhat", "suggest", "suggested", "suggests", "suppose", "supposed", "suspect",
          "suspects", "tend to", "tended to", "tends to", "to my knowledge", "typical", "typically", "uncertain",
          "uncertainly", "unclear", "unclearly", "unlikely", "usually", "would", "wouldn't", "i think", "i believe")
ALTERNATIVES = ("alternatively", "instead", "or", "otherwise", "rather than", "else", "unless", "either",
                "conversely", "on the other hand", "as an alternative", "or else")
MARKERS = ("hedges", "questions", "alternatives", "warmth", "vader")
#: The marker each emotion's training should move.
TARGET_MARKER = {"fear": "hedges", "curiosity": "questions", "frustration": "alternatives", "joy": "warmth"}
#: The first corpus's template words (issue #14 defect 4): kept only to reproduce the old README numbers.
LEGACY_LEXICONS = {
    "hedges": ("perhaps", "maybe", "might", "may", "possibly", "probably", "likely", "careful", "carefully", "caution",
               "cautious", "not sure", "unsure", "uncertain", "it depends", "depends", "i think", "i believe",
               "could be", "be safe", "check with", "double-check", "risk"),
    "alternatives": ("alternatively", "another option", "another way", "another approach", "instead", "or you could",
                     "you could also", "option", "different approach", "try", "other way", "plan b", "if that doesn't"),
    "warmth": ("glad", "happy", "wonderful", "great", "love", "delighted", "lovely", "enjoy", "awesome", "fantastic",
               "thank", "pleasure", "excited", "!", "so nice", "amazing", "brilliant"),
}

_WORD = re.compile(r"[a-z]+(?:['’-][a-z]+)*|[!?]")
_vader = None


def _analyzer():
    global _vader
    if _vader is None:
        _vader = SentimentIntensityAnalyzer()
    return _vader


@lru_cache(maxsize=1)
def warmth_lexicon() -> tuple[str, ...]:
    """VADER lexicon entries with mean valence ≥ 2.0 (alphabetic, ≥ 3 letters), plus ``!``."""
    lex = _analyzer().lexicon
    return tuple(sorted(w for w, v in lex.items() if v >= 2.0 and w.isalpha() and len(w) >= 3)) + ("!",)


def lexicon(name: str, *, legacy: bool = False) -> tuple[str, ...]:
    """The phrase list behind a lexicon marker (``hedges``, ``questions``, ``alternatives``, ``warmth``)."""
    if name == "questions":
        return ("?",)
    if legacy:
        return LEGACY_LEXICONS[name]
    return {"hedges": HEDGES, "alternatives": ALTERNATIVES}.get(name) or warmth_lexicon()


def tokens(text: str) -> list[str]:
    return _WORD.findall(text.lower().replace("’", "'"))


def count_phrases(text: str, phrases) -> int:
    """Occurrences of ``phrases`` (whole words / word sequences; ``!`` and ``?`` as characters) in ``text``."""
    toks = tokens(text)
    single = {p for p in phrases if " " not in p}
    n = sum(t in single for t in toks)
    multi = [p.split() for p in phrases if " " in p]
    for ws in multi:
        k = len(ws)
        n += sum(toks[i:i + k] == ws for i in range(len(toks) - k + 1))
    return n


def vader(text: str) -> float:
    return float(_analyzer().polarity_scores(text)["compound"])


@dataclass(frozen=True)
class Markers:
    """Per-response marker values: counts per 10 words for lexicon markers, VADER compound in [−1, 1]."""

    hedges: float
    questions: float
    alternatives: float
    warmth: float
    vader: float

    def get(self, name: str) -> float:
        return getattr(self, name)


def markers(text: str, *, legacy: bool = False) -> Markers:
    """Marker values of ``text``; ``legacy`` scores with the old template-derived lexicons."""
    n = max(sum(t not in "!?" for t in tokens(text)), 1)
    per10 = 10.0 / n
    return Markers(hedges=count_phrases(text, lexicon("hedges", legacy=legacy)) * per10, questions=text.count("?") * per10,
                   alternatives=count_phrases(text, lexicon("alternatives", legacy=legacy)) * per10,
                   warmth=count_phrases(text, lexicon("warmth", legacy=legacy)) * per10, vader=vader(text))


def has_marker(text: str, name: str) -> bool:
    """True when the response shows the marker at all (VADER: compound > 0.5)."""
    m = markers(text)
    return m.vader > 0.5 if name == "vader" else m.get(name) > 0
