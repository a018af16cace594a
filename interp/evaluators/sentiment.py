"""Sentiment by VADER (lexicon ships in the ``vadersentiment`` wheel; works offline)."""

from collections.abc import Sequence

from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer


class VaderScorer:
    """VADER polarity per text: ``vader_compound`` in [-1, 1], and the ``vader_pos`` / ``vader_neg`` shares."""

    name = "sentiment"
    columns = ("vader_compound", "vader_pos", "vader_neg")

    def __init__(self) -> None:
        self._analyzer = SentimentIntensityAnalyzer()

    def score(self, texts: Sequence[str], *, prompts: Sequence[str] | None = None) -> dict[str, list[float]]:
        scores = [self._analyzer.polarity_scores(t) for t in texts]
        return {"vader_compound": [s["compound"] for s in scores], "vader_pos": [s["pos"] for s in scores],
                "vader_neg": [s["neg"] for s in scores]}
