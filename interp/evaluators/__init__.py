"""Text scorers for steered generations: one number per text per column, all offline.

A scorer is any object with a ``name``, the ``columns`` it fills and
``score(texts, *, prompts=None) -> {column: [float per text]}``. A scorer whose own score is trivially
zero on lexicon-masked text (a marker count) also provides ``score_masked(masked_texts, *, prompts=None)``:
a different, non-lexical signal of the same columns, used for the ``<column>_masked`` twins. Built-in scorers are
registered by name; users add their own (e.g. a Hugging Face classifier from the hub) with
:func:`register_scorer`:

>>> register_scorer("my_clf", lambda **kw: HFClassifierScorer("path/or/hub-id", **kw))

Built-ins: ``sentiment`` (VADER), ``nrc`` (NRC emotion lexicon), ``keywords`` (emotion words
per target emotion), ``fluency`` (perplexity under an unsteered model + repetition; needs
``model=``), ``politeness`` (ConvoKit politeness strategies; optional extra),
``formality`` (Heylighen–Dewaele F-score from spaCy POS tags; optional extra), the English attribute marker
scorers ``politeness_markers``, ``humour_markers``, ``threat_markers`` and ``markers`` (any registry label;
:mod:`interp.evaluators.attribute_markers`),
``hf_classifier`` (any local or hub sequence classifier; needs ``model_name_or_path=``), and for
Japanese text ``keigo`` (honorific markers) and ``ja_sentiment`` (polarity lexicon), both by
morphological analysis (optional extra ``ja``), and ``ja_keywords`` (emotion expressions).
"""

from collections.abc import Callable, Sequence
from importlib import import_module
from typing import Protocol, runtime_checkable

from interp.errors import ConfigError
from interp.evaluators.masking import mask_texts, masked_column


@runtime_checkable
class Scorer(Protocol):
    """What a scorer provides."""

    name: str
    columns: tuple[str, ...]

    def score(self, texts: Sequence[str], *, prompts: Sequence[str] | None = None) -> dict[str, list[float]]:
        """One float per text for every column (``prompts`` aligned with ``texts`` when a scorer needs context)."""
        ...


_BUILTIN: dict[str, str] = {
    "sentiment": "interp.evaluators.sentiment:VaderScorer",
    "nrc": "interp.evaluators.nrc:NRCScorer",
    "keywords": "interp.evaluators.keywords:KeywordScorer",
    "fluency": "interp.evaluators.fluency:FluencyScorer",
    "politeness": "interp.evaluators.politeness:PolitenessScorer",
    "formality": "interp.evaluators.formality:FormalityScorer",
    "politeness_markers": "interp.evaluators.attribute_markers:PolitenessMarkerScorer",
    "humour_markers": "interp.evaluators.attribute_markers:HumourMarkerScorer",
    "threat_markers": "interp.evaluators.attribute_markers:ThreatMarkerScorer",
    "markers": "interp.evaluators.attribute_markers:MarkerScorer",
    "hf_classifier": "interp.evaluators.hf_classifier:HFClassifierScorer",
    "keigo": "interp.evaluators.japanese:KeigoScorer",
    "ja_sentiment": "interp.evaluators.japanese:JapaneseSentimentScorer",
    "ja_keywords": "interp.evaluators.japanese:JapaneseKeywordScorer",
}
_USER: dict[str, Callable[..., Scorer]] = {}

DEFAULT_SCORERS = ("sentiment", "nrc", "keywords", "fluency")
"""Scorers a sweep uses unless told otherwise (all offline, no optional extras)."""


def register_scorer(name: str, factory: Callable[..., Scorer], *, replace: bool = False) -> None:
    """Make ``factory(**kwargs)`` available as scorer ``name``."""
    if not name or not name.replace("_", "").isalnum():
        raise ConfigError(f"scorer name must be letters, digits and underscores, got {name!r}")
    if (name in _BUILTIN or name in _USER) and not replace:
        raise ConfigError(f"scorer {name!r} is already registered; pass replace=True to override it")
    _USER[name] = factory


def available_scorers() -> list[str]:
    return sorted(set(_BUILTIN) | set(_USER))


def make_scorer(name: str, **kwargs) -> Scorer:
    """Build scorer ``name`` with ``kwargs`` (e.g. ``model=`` for ``fluency``)."""
    if name in _USER:
        factory = _USER[name]
    elif name in _BUILTIN:
        mod, cls = _BUILTIN[name].split(":")
        factory = getattr(import_module(mod), cls)
    else:
        raise ConfigError(f"unknown scorer {name!r}; available: {', '.join(available_scorers())}")
    scorer = factory(**kwargs)
    if not isinstance(scorer, Scorer):
        raise ConfigError(f"scorer {name!r} does not provide name, columns and score(texts, prompts=...)")
    return scorer


def is_maskable(scorer: Scorer) -> bool:
    """Whether a scorer scores the text's content (masked twin computed); fluency sets ``maskable = False``."""
    return bool(getattr(scorer, "maskable", True))


def score_texts(texts: Sequence[str], scorers: Sequence[Scorer], *, prompts: Sequence[str] | None = None,
                mask_emotion: str | None = None) -> dict[str, list[float]]:
    """Run every scorer on ``texts``; return all columns (checked: one value per text, no clashes).

    With ``mask_emotion`` (an emotion or any label with an English word lexicon, see
    :func:`interp.evaluators.masking.label_lexicon`), every maskable scorer also scores the texts with that
    label's lexicon words masked (:mod:`interp.evaluators.masking`); those columns are ``<column>_masked``,
    from the scorer's ``score_masked`` where it has one.
    """
    texts = list(texts)
    if prompts is not None and len(prompts) != len(texts):
        raise ConfigError(f"got {len(prompts)} prompts for {len(texts)} texts")
    masked = mask_texts(texts, mask_emotion) if mask_emotion is not None else None
    out: dict[str, list[float]] = {}

    def put(s: Scorer, cols: dict, suffix) -> None:
        for col, vals in cols.items():
            name = suffix(col)
            if name in out:
                raise ConfigError(f"scorers clash on column {name!r}; give one of them another name")
            if len(vals) != len(texts):
                raise ConfigError(f"scorer {s.name!r} returned {len(vals)} values for {len(texts)} texts in {col!r}")
            out[name] = [float(v) for v in vals]

    for s in scorers:
        put(s, s.score(texts, prompts=prompts), lambda c: c)
        if masked is not None and is_maskable(s):
            put(s, getattr(s, "score_masked", s.score)(masked, prompts=prompts), masked_column)
    return out


__all__ = ["DEFAULT_SCORERS", "Scorer", "available_scorers", "is_maskable", "make_scorer", "register_scorer", "score_texts"]
