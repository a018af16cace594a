"""Language-aware text identity and length: NFKC keys for duplicate checks, words or characters as length units.

English (and any language written with spaces) is measured in whitespace-separated words, exactly as
before. Languages written without spaces between words (:data:`CHARACTER_LANGUAGES`: Japanese,
Chinese) are measured in characters: the non-whitespace code points of the text as written (so
punctuation counts, NFKC is not applied, and a full-width ``！`` is one character like ``!``).
Spans are always ``[start, end)`` offsets into the Python ``str`` (code points), in every language.
"""

import unicodedata

CHARACTER_LANGUAGES: frozenset[str] = frozenset({"ja", "zh"})
"""Language codes whose sentences have no spaces between words: lengths in characters, duplicates ignore spaces."""


def uses_characters(language: str) -> bool:
    """True when ``language`` is measured in characters rather than words."""
    return language.split("-")[0].lower() in CHARACTER_LANGUAGES


def length_unit(language: str) -> str:
    """``"characters"`` or ``"words"``: the unit of :func:`text_length` for ``language``."""
    return "characters" if uses_characters(language) else "words"


def text_length(text: str, language: str) -> int:
    """Length of ``text`` in its language's unit (whitespace-separated words, or non-whitespace characters)."""
    if uses_characters(language):
        return sum(1 for ch in text if not ch.isspace())
    return len(text.split())


def _is_punct_or_symbol(ch: str) -> bool:
    return unicodedata.category(ch)[0] in "PS"


def duplicate_key(text: str, language: str = "en") -> str:
    """The identity used to find duplicate texts: NFKC, case-folded, punctuation and symbols removed.

    Words stay separated by single spaces; for character languages all spaces are dropped, so
    ``"ありがとう！"``, ``"ありがとう!"`` and ``"ありがとう 。"`` share one key, as do half- and
    full-width katakana. For ASCII English the key equals the old one (lower case, every
    non-alphanumeric character a space).
    """
    norm = unicodedata.normalize("NFKC", text).casefold()
    cleaned = "".join(" " if _is_punct_or_symbol(ch) else ch for ch in norm)
    return "".join(cleaned.split()) if uses_characters(language) else " ".join(cleaned.split())


def cuts_combining_sequence(text: str, offset: int) -> bool:
    """True when a span boundary at ``offset`` would separate a character from a combining mark that follows it.

    Decomposed text (``か`` + U+3099 for ``が``, ``e`` + U+0301) is valid input, but a span
    ending between the base and its mark points at half a character.
    """
    return 0 < offset < len(text) and unicodedata.combining(text[offset]) != 0
