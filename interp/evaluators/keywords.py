"""Explicit emotion-word counts per target emotion (word lists from :mod:`interp.lexicon`)."""

from collections.abc import Mapping, Sequence

from interp.errors import ConfigError
from interp.lexicon import EMOTION_WORDS, words


def select_emotions(lists: Mapping[str, object], emotions: Sequence[str] | None, what: str) -> tuple[str, ...]:
    """``emotions`` (default: every key of ``lists``), each checked to have an entry; :class:`ConfigError` naming the first without."""
    emos = tuple(emotions) if emotions else tuple(lists)
    unknown = [e for e in emos if e not in lists]
    if unknown:
        raise ConfigError(f"no {what} for emotion {unknown[0]!r}; lists exist for {', '.join(lists)}")
    return emos


class KeywordScorer:
    """Per text, how many words belong to each emotion's list (``kw_<emotion>``, whole lower-cased words)."""

    name = "keywords"

    def __init__(self, emotions: Sequence[str] | None = None) -> None:
        emos = self.emotions = select_emotions(EMOTION_WORDS, emotions, "keyword list")
        self.columns = tuple(f"kw_{e}" for e in emos)

    def score(self, texts: Sequence[str], *, prompts: Sequence[str] | None = None) -> dict[str, list[float]]:
        tokenised = [words(t) for t in texts]
        return {f"kw_{e}": [float(sum(w in EMOTION_WORDS[e] for w in ws)) for ws in tokenised] for e in self.emotions}
