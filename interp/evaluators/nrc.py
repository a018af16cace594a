"""Emotion categories from the NRC emotion lexicon (``nrclex``), token-list path only.

``NRCLex.load_raw_text`` needs NLTK/TextBlob corpora that are not available offline; we
tokenise with :func:`interp.lexicon.words` and use ``load_token_list``.
"""

from collections.abc import Sequence

from nrclex import NRCLex

from interp.lexicon import words

NRC_CATEGORIES = ("anger", "anticipation", "disgust", "fear", "joy", "negative", "positive", "sadness", "surprise", "trust")


class NRCScorer:
    """Per text and NRC category: lexicon hits per word (``nrc_<category>``, 0 for an empty text)."""

    name = "nrc"
    columns = tuple(f"nrc_{c}" for c in NRC_CATEGORIES)

    def __init__(self) -> None:
        self._nrc = NRCLex()

    def score(self, texts: Sequence[str], *, prompts: Sequence[str] | None = None) -> dict[str, list[float]]:
        out: dict[str, list[float]] = {c: [] for c in self.columns}
        for t in texts:
            ws = words(t)
            self._nrc.load_token_list(ws)
            raw = self._nrc.raw_emotion_scores
            for c in NRC_CATEGORIES:
                out[f"nrc_{c}"].append(raw.get(c, 0) / len(ws) if ws else 0.0)
        return out
