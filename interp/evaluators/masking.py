"""Lexicon-masked text: a label's own marker words replaced, so a score shows what is left beyond them.

A steer that only inserts "thank you" raises VADER compound and the gratitude keyword count without
changing anything else about the text. Scoring the same text with the label's lexicon (whole words or
phrases, case-insensitive, every listed form) masked out separates the two: ``raw effect − masked
effect`` is the part due to the words themselves.

Which lexicon: an emotion label's words in :data:`interp.lexicon.EMOTION_WORDS` (``gratitude``, ``anger``,
``apology``); any other label's English word lexicon in the attribute registry (:mod:`interp.attributes`:
``polite``, ``threatening``, ``casual``, ...). A label name shared by two attributes is written
``attribute:label`` (``politeness:polite``).

Every word of a masked expression is *replaced* by the placeholder :data:`PLACEHOLDER` (``"thing"``;
``"or else"`` → ``"thing thing"``) rather than deleted: a placeholder keeps the word count (NRC scores
are hits per word; distinct-n and VADER's three-word negation and booster windows count words) and the
sentence shape, while ``"thing"`` is in neither the VADER nor the NRC lexicon nor any emotion or
attribute list (checked by the tests), so it adds no score of its own. Overlapping expressions
(``"or you will"``, ``"you will regret"``) are masked as their union.
"""

import re
from collections.abc import Sequence
from functools import cache

from interp.errors import ConfigError
from interp.lexicon import EMOTION_WORDS, words

PLACEHOLDER = "thing"
"""Neutral word that replaces each word of a masked lexicon expression (no VADER valence, no NRC category)."""

MASKED_SUFFIX = "_masked"
"""Suffix of a score column computed on the masked text (``vader_compound`` → ``vader_compound_masked``)."""


def _attribute_lexicons(label: str, attribute: str | None) -> dict[str, tuple[str, ...]]:
    """``{attribute: lexicon}`` of every registered English word lexicon of ``label`` (restricted to ``attribute``)."""
    from interp.attributes import attribute_names, get_attribute  # noqa: PLC0415 - cycle (attributes imports interp.evaluators)

    found = {}
    for name in [attribute] if attribute else attribute_names():
        attr = get_attribute(name)
        if "en" not in attr.languages:
            continue
        spec = attr.language("en")
        if spec.lexicon_match == "words" and spec.lexicons.get(label):
            found[name] = tuple(spec.lexicons[label])
    return found


def maskable_labels() -> list[str]:
    """Every label with an English word lexicon: the emotions, then ``attribute:label`` for the registry's others."""
    from interp.attributes import attribute_names, get_attribute  # noqa: PLC0415 - cycle (attributes imports interp.evaluators)

    out = list(EMOTION_WORDS)
    for name in attribute_names():
        attr = get_attribute(name)
        if name == "emotion" or "en" not in attr.languages or attr.language("en").lexicon_match != "words":
            continue
        out += [f"{name}:{lab}" for lab in attr.language("en").lexicons]
    return out


def label_lexicon(label: str) -> tuple[str, ...]:
    """The marker expressions masked for ``label`` (an emotion, a registry label, or ``attribute:label``)."""
    attribute, _, bare = label.rpartition(":")
    if not attribute and bare in EMOTION_WORDS:
        return EMOTION_WORDS[bare]
    found = _attribute_lexicons(bare, attribute or None) if bare else {}
    if len(found) == 1:
        return next(iter(found.values()))
    if len(found) > 1:
        raise ConfigError(f"label {label!r} has a lexicon in several attributes; write one of "
                          f"{', '.join(f'{a}:{bare}' for a in found)}")
    raise ConfigError(f"no lexicon to mask for label {label!r}; English word lexicons exist for {', '.join(maskable_labels())}")


@cache
def lexicon_pattern(exprs: tuple[str, ...]) -> re.Pattern:
    """Whole-word, case-insensitive pattern of ``exprs`` (longest first), with edges as :func:`interp.lexicon.words` draws them."""
    alts = "|".join(sorted((re.escape(w) for w in exprs), key=len, reverse=True))
    # Word boundaries of interp.lexicon.words (letters and apostrophes), so masking, keyword counts and the registry agree.
    return re.compile(rf"(?<![A-Za-z'])(?:{alts})(?![A-Za-z'])", re.IGNORECASE)


def _spans(text: str, pattern: re.Pattern) -> list[tuple[int, int]]:
    """Character spans covered by any match of ``pattern``, overlapping matches merged."""
    spans: list[tuple[int, int]] = []
    m = pattern.search(text)
    while m is not None:
        a, b = m.span()
        if spans and a <= spans[-1][1]:
            spans[-1] = (spans[-1][0], max(b, spans[-1][1]))
        else:
            spans.append((a, b))
        m = pattern.search(text, a + 1)
    return spans


def _mask(text: str, exprs: tuple[str, ...], placeholder: str) -> tuple[str, int]:
    spans = _spans(text, lexicon_pattern(exprs))
    out, last, n = [], 0, 0
    for a, b in spans:
        k = max(1, len(words(text[a:b])))
        out += [text[last:a], " ".join([placeholder] * k)]
        last, n = b, n + k
    return "".join(out) + text[last:], n


def mask_label_words(text: str, label: str, *, placeholder: str = PLACEHOLDER) -> str:
    """``text`` with every word of every whole-word occurrence of ``label``'s lexicon expressions replaced by ``placeholder``."""
    return _mask(text, label_lexicon(label), placeholder)[0]


mask_emotion_words = mask_label_words
"""The historical name of :func:`mask_label_words` (emotion labels)."""


def count_masked(text: str, label: str) -> int:
    """How many words of ``label``'s lexicon expressions :func:`mask_label_words` replaces in ``text``."""
    return _mask(text, label_lexicon(label), PLACEHOLDER)[1]


def masked_column(column: str) -> str:
    """Name of the masked twin of a score column."""
    return f"{column}{MASKED_SUFFIX}"


def mask_texts(texts: Sequence[str], label: str) -> list[str]:
    """:func:`mask_label_words` of every text (the lexicon is looked up once)."""
    exprs = label_lexicon(label)
    return [_mask(t, exprs, PLACEHOLDER)[0] for t in texts]
