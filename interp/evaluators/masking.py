"""Lexicon-masked text: the target emotion's own words replaced, so a score shows what is left beyond them.

A steer that only inserts "thank you" raises VADER compound and the gratitude keyword count without
changing anything else about the text. Scoring the same text with the emotion's lexicon words
(:data:`interp.lexicon.EMOTION_WORDS`, whole words, case-insensitive, every listed inflection)
masked out separates the two: ``raw effect − masked effect`` is the part due to the words themselves.

Masked words are *replaced* by the placeholder :data:`PLACEHOLDER` (``"thing"``) rather than deleted:
a placeholder keeps the word count (NRC scores are hits per word; distinct-n and VADER's three-word
negation and booster windows count words) and the sentence shape, while ``"thing"`` is in neither the
VADER nor the NRC lexicon nor any emotion list (checked by the tests), so it adds no score of its own.
"""

import re
from collections.abc import Sequence

from interp.errors import ConfigError
from interp.lexicon import EMOTION_WORDS

PLACEHOLDER = "thing"
"""Neutral word that replaces each masked lexicon word (no VADER valence, no NRC category)."""

MASKED_SUFFIX = "_masked"
"""Suffix of a score column computed on the masked text (``vader_compound`` → ``vader_compound_masked``)."""

_PATTERNS: dict[str, re.Pattern] = {}


def _pattern(emotion: str) -> re.Pattern:
    if emotion not in EMOTION_WORDS:
        raise ConfigError(f"no lexicon to mask for emotion {emotion!r}; lexicons exist for {', '.join(EMOTION_WORDS)}")
    if emotion not in _PATTERNS:
        alts = "|".join(sorted((re.escape(w) for w in EMOTION_WORDS[emotion]), key=len, reverse=True))
        # Word boundaries as interp.lexicon.words draws them (letters and apostrophes), so masking and keyword counts agree.
        _PATTERNS[emotion] = re.compile(rf"(?<![A-Za-z'])(?:{alts})(?![A-Za-z'])", re.IGNORECASE)
    return _PATTERNS[emotion]


def mask_emotion_words(text: str, emotion: str, *, placeholder: str = PLACEHOLDER) -> str:
    """``text`` with every whole-word occurrence of ``emotion``'s lexicon words replaced by ``placeholder``."""
    return _pattern(emotion).sub(placeholder, text)


def count_masked(text: str, emotion: str) -> int:
    """How many lexicon words of ``emotion`` :func:`mask_emotion_words` replaces in ``text``."""
    return len(_pattern(emotion).findall(text))


def masked_column(column: str) -> str:
    """Name of the masked twin of a score column."""
    return f"{column}{MASKED_SUFFIX}"


def mask_texts(texts: Sequence[str], emotion: str) -> list[str]:
    return [mask_emotion_words(t, emotion) for t in texts]
