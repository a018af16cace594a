"""Explicit emotion words per emotion: the dataset validator's rules and the keyword scorer's lists."""

import re

EMOTION_WORDS: dict[str, tuple[str, ...]] = {
    "gratitude": ("thank", "thanks", "thankful", "grateful", "gratitude", "appreciate", "appreciated",
                  "appreciative", "appreciation", "thanked", "thanking"),
    "anger": ("angry", "furious", "mad", "enraged", "outraged", "livid", "irate", "annoyed", "infuriated",
              "irritated", "resent", "resentful", "rage", "fuming", "infuriating", "anger", "angrily"),
    "apology": ("sorry", "apologize", "apologise", "apologies", "apology", "apologizing", "apologising",
                "apologized", "apologised", "regret", "forgive"),
}
"""Words whose presence marks an explicit emotion (lower case, whole words)."""

STRONG_AFFECT_WORDS: tuple[str, ...] = (
    "happy", "sad", "love", "hate", "glad", "upset", "afraid", "scared", "joy", "delighted", "miserable",
    "please", "awful", "terrible", "wonderful",
)
"""Other affect-laden words that neutral sentences must avoid."""

EMOTIONS: tuple[str, ...] = ("gratitude", "anger", "apology", "neutral")

_WORD_RE = re.compile(r"[A-Za-z']+")


def words(text: str) -> list[str]:
    """Lower-cased word tokens of ``text`` (letters and apostrophes)."""
    return [w.lower() for w in _WORD_RE.findall(text)]


def emotion_word_hits(text: str) -> dict[str, list[str]]:
    """For each emotion, the emotion words found in ``text``."""
    ws = words(text)
    return {emo: [w for w in ws if w in vocab] for emo, vocab in EMOTION_WORDS.items()}
