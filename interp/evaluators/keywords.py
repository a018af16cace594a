"""Explicit emotion-word counts per target emotion (word lists from :mod:`interp.lexicon`)."""

from collections.abc import Sequence

from interp.errors import ConfigError
from interp.lexicon import EMOTION_WORDS, words


class KeywordScorer:
    """Per text, how many words belong to each emotion's list (``kw_<emotion>``, whole lower-cased words)."""

    name = "keywords"

    def __init__(self, emotions: Sequence[str] | None = None) -> None:
        emos = tuple(emotions) if emotions else tuple(EMOTION_WORDS)
        unknown = [e for e in emos if e not in EMOTION_WORDS]
        if unknown:
            raise ConfigError(f"no keyword list for emotion {unknown[0]!r}; lists exist for {', '.join(EMOTION_WORDS)}")
        self.emotions = emos
        self.columns = tuple(f"kw_{e}" for e in emos)

    def score(self, texts: Sequence[str], *, prompts: Sequence[str] | None = None) -> dict[str, list[float]]:
        tokenised = [words(t) for t in texts]
        return {f"kw_{e}": [float(sum(w in EMOTION_WORDS[e] for w in ws)) for ws in tokenised] for e in self.emotions}
