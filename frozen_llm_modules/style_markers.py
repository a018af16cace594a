"""Style markers of a response: hedges, questions, alternatives, warmth (lexicon rates) and VADER compound."""

import re
from dataclasses import dataclass

HEDGES = ("perhaps", "maybe", "might", "may", "possibly", "probably", "likely", "careful", "carefully", "caution",
          "cautious", "not sure", "unsure", "uncertain", "it depends", "depends", "i think", "i believe",
          "could be", "be safe", "check with", "double-check", "risk")
ALTERNATIVES = ("alternatively", "another option", "another way", "another approach", "instead", "or you could",
                "you could also", "option", "different approach", "try", "other way", "plan b", "if that doesn't")
WARMTH = ("glad", "happy", "wonderful", "great", "love", "delighted", "lovely", "enjoy", "awesome", "fantastic",
          "thank", "pleasure", "excited", "!", "so nice", "amazing", "brilliant")
MARKERS = ("hedges", "questions", "alternatives", "warmth", "vader")
#: The marker each emotion's training should move.
TARGET_MARKER = {"fear": "hedges", "curiosity": "questions", "frustration": "alternatives", "joy": "warmth"}

_WORD = re.compile(r"[a-z']+|[!?]")
_vader = None


def _count(text: str, phrases) -> int:
    t = " ".join(_WORD.findall(text.lower()))
    return sum(len(re.findall(r"(?<!\S)" + re.escape(p) + r"(?!\S)", t)) for p in phrases if p not in "!?") + sum(text.count(p) for p in phrases if p in "!?")


def vader(text: str) -> float:
    global _vader
    if _vader is None:
        from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

        _vader = SentimentIntensityAnalyzer()
    return float(_vader.polarity_scores(text)["compound"])


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


def markers(text: str) -> Markers:
    n = max(len(_WORD.findall(text.lower())), 1)
    per10 = 10.0 / n
    return Markers(hedges=_count(text, HEDGES) * per10, questions=text.count("?") * per10,
                   alternatives=_count(text, ALTERNATIVES) * per10, warmth=_count(text, WARMTH) * per10,
                   vader=vader(text))


def has_marker(text: str, name: str) -> bool:
    """True when the response shows the marker at all (VADER: compound > 0.5)."""
    m = markers(text)
    return m.vader > 0.5 if name == "vader" else m.get(name) > 0
