"""The attribute registry: every labelled property the toolkit studies (emotion, politeness, ...), per language.

An :class:`Attribute` has one :class:`LanguageData` per language: its labels (each with a marker
lexicon and the score column steering toward it should raise), the reference label the others are
contrasted with (``neutral`` for emotion, the unmarked anchor for the other sets), where the sentences
are, how pairs point (emotion: the neutral counterpart names its emotion sentence; the attribute sets:
each labelled sentence names its anchor), the length limits and the pair-matching rule.

>>> get_attribute("politeness").language("ja").reference
'casual'

Users add attributes in code (:func:`register_attribute`) or from a TOML/JSON file
(:func:`load_attribute_file`), with no change to the package::

    name = "sarcasm"
    description = "sarcastic vs sincere remarks"
    [languages.en]
    files = ["sarcasm_en.jsonl"]          # relative to this file, or names of interp/data files
    labels = ["sincere", "sarcastic"]
    reference = "sincere"
    pair_direction = "to_reference"       # labelled records name their anchor in pair_id
    [languages.en.targets]
    sarcastic = "vader_neg"
    [languages.en.lexicons]
    sarcastic = ["yeah right", "oh great"]

Unknown attributes, languages, labels and file keys raise :class:`~interp.errors.ConfigError` listing the choices.

**What reads the registry** (issue 17): study configs (``experiments.study_config``: ``[study] attribute``/``language``
choose the data, the label lists default to the contrast labels, ``[vectors] contrast`` to the reference label,
validation lists the registry's labels and checks the sweep's scorers against the language; ``[study] attribute_files``
registers attribute files; ``[study] attributes`` runs one study per attribute), the study phases and the pipeline's
dataset, the analyses' reference label (``reference=`` in ``steering.vectors``, ``steering.reliability``,
``steering.subspace``, ``steering.probes`` (lexicon rule via :meth:`LanguageData.find`), ``steering.geometry_report``
(pairwise cosines of all contrast labels; the headline pair is the first two), ``steering.store_alignment``; the
circuits' ``head_screening`` and ``ov_qk`` read it off the dataset, :func:`reference_label`), the sweep's target
scores (``steering.sweep.TARGET_SCORES``, ``circuits.generation_effects.TARGET_COLUMN``) and the commands' default
label. **Still English-emotion only**: ``circuits.metrics`` (control words), ``circuits.generation_effects``
and the keyword scorer.
"""

import json
import re
import sys
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from functools import cache
from importlib import resources
from pathlib import Path

from interp.confounds import PAIR_RULE_FEATURES, PairRule, default_pair_rule
from interp.datasets import load_files, load_profile
from interp.errors import ConfigError
from interp.evaluators.japanese import KEIGO_LEXICON, analyse, keigo_markers
from interp.lexicon import EMOTION_WORDS
from interp.textnorm import uses_characters

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

LEXICON_MATCHES = ("words", "substring", "morphology")
"""``words``: whole words or phrases, case-insensitive (English); ``substring``: NFKC substrings (Japanese
expressions); ``morphology``: markers found by :mod:`interp.evaluators.japanese` (needs the ``ja`` extra)."""
PAIR_DIRECTIONS = ("to_label", "to_reference")
"""``to_label``: the reference record's ``pair_id`` names the labelled sentence it matches (emotion sets);
``to_reference``: each labelled record's ``pair_id`` names its reference anchor (attribute sets, several per anchor)."""


@dataclass(frozen=True)
class Label:
    """One label: its marker expressions and the score column that steering toward it should raise (``None``: no scorer)."""

    name: str
    target: str | None = None
    lexicon: tuple[str, ...] = ()


@dataclass(frozen=True)
class LanguageData:
    """An attribute in one language: labels, reference label, data, scorers and the dataset rules.

    Attributes:
        language: language code of the records (``en``, ``ja``).
        labels: the labels, reference included.
        reference: the label the others are contrasted with.
        files: data files (names in ``interp/data`` or paths); or ``profile``, a name of
            :data:`interp.datasets.PROFILES`.
        scorers: scorer names (``interp.evaluators``) whose columns the targets are.
        masked: whether masked score columns exist (the scorers' ``<column>_masked`` twins with the
            label lexicon masked; only English emotion today).
        lexicon_match: how the lexicons are matched (:data:`LEXICON_MATCHES`).
        lexicon_note: what the lexicons can and cannot detect.
        pair_direction: :data:`PAIR_DIRECTIONS`.
        length: ``(min, max)`` sentence length in words, or characters for Japanese.
        pair_rule: what a matched pair must share (features and length gap).
    """

    language: str
    labels: tuple[Label, ...]
    reference: str
    files: tuple[str, ...] = ()
    profile: str | None = None
    scorers: tuple[str, ...] = ()
    masked: bool = False
    lexicon_match: str = "words"
    lexicon_note: str = ""
    pair_direction: str = "to_reference"
    length: tuple[int, int] = (4, 16)
    pair_rule: PairRule = field(default_factory=default_pair_rule)

    def __post_init__(self) -> None:
        names = [lab.name for lab in self.labels]
        where = f"language {self.language!r}"
        if len(set(names)) != len(names) or not names:
            raise ConfigError(f"{where}: labels must be non-empty and distinct, got {names}")
        if self.reference not in names:
            raise ConfigError(f"{where}: reference label {self.reference!r} is not one of the labels ({', '.join(names)})")
        if bool(self.files) == bool(self.profile):
            raise ConfigError(f"{where}: give exactly one of files (data files) or profile (a shipped profile name)")
        if self.lexicon_match not in LEXICON_MATCHES:
            raise ConfigError(f"{where}: lexicon_match {self.lexicon_match!r}; choose one of {', '.join(LEXICON_MATCHES)}")
        if self.pair_direction not in PAIR_DIRECTIONS:
            raise ConfigError(f"{where}: pair_direction {self.pair_direction!r}; choose one of {', '.join(PAIR_DIRECTIONS)}")
        lo, hi = self.length
        if not 0 < lo <= hi:
            raise ConfigError(f"{where}: length must be [min, max] with 0 < min <= max, got {list(self.length)}")

    @property
    def label_names(self) -> tuple[str, ...]:
        return tuple(lab.name for lab in self.labels)

    @property
    def contrast_labels(self) -> tuple[str, ...]:
        """The labels other than the reference, in order."""
        return tuple(n for n in self.label_names if n != self.reference)

    @property
    def targets(self) -> dict[str, str]:
        """Label → target score column, for the labels that have one."""
        return {lab.name: lab.target for lab in self.labels if lab.target}

    @property
    def lexicons(self) -> dict[str, tuple[str, ...]]:
        """Label → marker expressions, for the labels that have any."""
        return {lab.name: lab.lexicon for lab in self.labels if lab.lexicon}

    def label(self, name: str) -> Label:
        for lab in self.labels:
            if lab.name == name:
                return lab
        raise ConfigError(f"unknown label {name!r} in {self.language}; labels: {', '.join(self.label_names)}")

    def target(self, label: str) -> str:
        """The score column steering toward ``label`` should raise; :class:`ConfigError` when it has none."""
        t = self.label(label).target
        if t is None:
            with_t = ", ".join(f"{k}={v}" for k, v in self.targets.items()) or "none"
            raise ConfigError(f"label {label!r} ({self.language}) has no target score column; labels with one: {with_t}")
        return t

    def find(self, text: str) -> dict[str, list[str]]:
        """Per label with a lexicon, the expressions of it found in ``text`` (see :data:`LEXICON_MATCHES`)."""
        if self.lexicon_match == "morphology":
            found: dict[str, list[str]] = {lab: [] for lab in self.lexicons}
            for level, a, b in keigo_markers(analyse(text)):
                if level in found:
                    found[level].append(text[a:b])
            return found
        return {lab: _matcher(self.lexicon_match, exprs)(text) for lab, exprs in self.lexicons.items()}

    def load(self):
        """The dataset of this attribute and language (an :class:`interp.datasets.EmotionDataset`)."""
        return load_profile(self.profile) if self.profile else load_files(self.files)


@cache
def _matcher(mode: str, exprs: tuple[str, ...]):
    if mode == "substring":
        norm = tuple(unicodedata.normalize("NFKC", e) for e in exprs)
        pat = re.compile("|".join(re.escape(e) for e in sorted(norm, key=len, reverse=True)))
        return lambda t: pat.findall(unicodedata.normalize("NFKC", t))
    alts = "|".join(re.escape(e) for e in sorted(exprs, key=len, reverse=True))
    # Word edges as interp.lexicon.words draws them (letters and apostrophes), so single words match as there.
    pat = re.compile(rf"(?<![A-Za-z'])(?:{alts})(?![A-Za-z'])", re.IGNORECASE)
    return lambda t: [m.lower() for m in pat.findall(t)]


@dataclass(frozen=True)
class Attribute:
    """A studied property with its data per language."""

    name: str
    description: str
    data: tuple[LanguageData, ...]

    def __post_init__(self) -> None:
        if not re.fullmatch(r"[a-z][a-z0-9_\-]*", self.name or ""):
            raise ConfigError(f"attribute name must be lower-case letters, digits, '_' or '-', got {self.name!r}")
        langs = [d.language for d in self.data]
        if not langs or len(set(langs)) != len(langs):
            raise ConfigError(f"attribute {self.name!r}: needs at least one language, each once; got {langs}")

    @property
    def languages(self) -> tuple[str, ...]:
        return tuple(d.language for d in self.data)

    @property
    def labels(self) -> tuple[str, ...]:
        """Every label of any language, first-seen order."""
        return tuple(dict.fromkeys(n for d in self.data for n in d.label_names))

    def language(self, language: str) -> LanguageData:
        for d in self.data:
            if d.language == language:
                return d
        raise ConfigError(f"attribute {self.name!r} has no data in language {language!r}; languages: {', '.join(self.languages)}")


# --- built-in attributes --------------------------------------------------------------------------------------

def _package_json(name: str) -> dict:
    return json.loads(resources.files("interp").joinpath("data", name).read_text(encoding="utf-8"))


_EN_ATTRIBUTE_RULE = PairRule(("first_second_person", "third_person"), 3)
_EN_ATTRIBUTE_LENGTH = (4, 20)
_JA_LENGTH = (8, 40)


def _builtin() -> dict[str, Attribute]:
    ja_emotion = _package_json("emotion_lexicon_ja.json")
    markers = _package_json("attribute_markers_en.json")
    def en_set(attr: str, labels: Sequence[str], reference: str, targets: dict | None = None, scorers=()) -> LanguageData:
        lex = markers.get(attr, {})
        return LanguageData(
            "en", tuple(Label(n, (targets or {}).get(n), tuple(lex.get(n, ()))) for n in labels), reference,
            files=(f"attributes_en_{attr}.jsonl",), scorers=tuple(scorers), lexicon_match="words",
            lexicon_note="hand-made conventional markers (interp/data/attribute_markers_en.json); coverage in ATTRIBUTES_README.md",
            pair_direction="to_reference", length=_EN_ATTRIBUTE_LENGTH, pair_rule=_EN_ATTRIBUTE_RULE)

    emotion = Attribute("emotion", "explicit gratitude, anger and apology against matched neutral sentences", (
        LanguageData(
            "en", (Label("gratitude", "vader_compound", EMOTION_WORDS["gratitude"]), Label("anger", "vader_neg", EMOTION_WORDS["anger"]),
                   Label("apology", "kw_apology", EMOTION_WORDS["apology"]), Label("neutral")),
            "neutral", profile="baseline", scorers=("sentiment", "keywords"), masked=True, lexicon_match="words",
            lexicon_note="interp.lexicon.EMOTION_WORDS: explicit emotion words only, no paraphrase or implicit emotion",
            pair_direction="to_label", length=(4, 16), pair_rule=PairRule(PAIR_RULE_FEATURES, 2)),
        LanguageData(
            "ja", (Label("gratitude", "ja_polarity", tuple(ja_emotion["gratitude"])), Label("anger", "ja_negative", tuple(ja_emotion["anger"])),
                   Label("apology", "ja_kw_apology", tuple(ja_emotion["apology"])), Label("neutral")),
            "neutral", files=("emotions_ja.jsonl",), scorers=("ja_sentiment", "ja_keywords"), masked=False, lexicon_match="substring",
            lexicon_note="interp/data/emotion_lexicon_ja.json: the explicit expressions of the shipped sentences (surface forms)",
            pair_direction="to_label", length=_JA_LENGTH, pair_rule=default_pair_rule("ja")),
    ))
    politeness = Attribute("politeness", "requests with and without politeness marking (en); keigo levels (ja)", (
        en_set("politeness", ("neutral", "polite", "impolite"), "neutral", {"polite": "politeness_markers"}, ("politeness_markers",)),
        LanguageData(
            "ja", (Label("casual"), Label("teineigo", "keigo_teineigo", KEIGO_LEXICON["teineigo"]),
                   Label("sonkeigo", "keigo_sonkeigo", KEIGO_LEXICON["sonkeigo"]),
                   Label("kenjougo", "keigo_kenjougo", KEIGO_LEXICON["kenjougo"])),
            "casual", files=("politeness_ja.jsonl",), scorers=("keigo",), masked=False, lexicon_match="morphology",
            lexicon_note="keigo markers by UniDic lemma and pattern (interp.evaluators.japanese); misses honorific nouns/adjectives",
            pair_direction="to_reference", length=_JA_LENGTH, pair_rule=PairRule(("ends_question", "ends_exclamation"), None)),
    ))
    formality = Attribute("formality", "formal written vs casual spoken register", (
        en_set("formality", ("formal", "casual"), "formal", {"formal": "formality_f", "casual": "informality_f"}, ("formality",)),))
    humour = Attribute("humour", "literal statements vs the same situation as a joke", (
        en_set("humour", ("literal", "humorous"), "literal", {"humorous": "humour_markers"}, ("humour_markers",)),))
    threat = Attribute("threat", "firm lawful consequences vs intimidating threats", (
        en_set("threat", ("firm", "threatening"), "firm", {"threatening": "threat_markers"}, ("threat_markers",)),))
    return {a.name: a for a in (emotion, politeness, formality, humour, threat)}


_BUILTIN: dict[str, Attribute] = {}
_USER: dict[str, Attribute] = {}

DEFAULT_ATTRIBUTE = "emotion"
DEFAULT_LANGUAGE = "en"
"""What a study, command or analysis works on unless told otherwise."""


def default_data() -> LanguageData:
    """The registry's data of :data:`DEFAULT_ATTRIBUTE` in :data:`DEFAULT_LANGUAGE` (labels, reference, profile, targets)."""
    return get_attribute(DEFAULT_ATTRIBUTE).language(DEFAULT_LANGUAGE)


def is_builtin(name: str) -> bool:
    """Whether ``name`` is a built-in attribute (a user file may not redefine it)."""
    _registry()
    return name in _BUILTIN


def _registry() -> dict[str, Attribute]:
    if not _BUILTIN:
        _BUILTIN.update(_builtin())
    return {**_BUILTIN, **_USER}


def attribute_names() -> list[str]:
    """Registered attribute names (built-in first, then user ones)."""
    return list(_registry())


def get_attribute(name: str) -> Attribute:
    """The registered attribute ``name``; :class:`ConfigError` listing the names otherwise."""
    reg = _registry()
    if name not in reg:
        raise ConfigError(f"unknown attribute {name!r}; registered: {', '.join(reg)} "
                          "(add one with interp.attributes.register_attribute or load_attribute_file)")
    return reg[name]


def register_attribute(attribute: Attribute, *, replace: bool = False) -> Attribute:
    """Make ``attribute`` available by name; a name already taken needs ``replace=True``."""
    if not isinstance(attribute, Attribute):
        raise ConfigError(f"register_attribute needs an Attribute, got {type(attribute).__name__}")
    if attribute.name in _registry() and not replace:
        raise ConfigError(f"attribute {attribute.name!r} is already registered; pass replace=True to override it")
    _USER[attribute.name] = attribute
    return attribute


def unregister_attribute(name: str) -> None:
    """Remove a user-registered attribute (built-in ones come back if a user one replaced them)."""
    if name not in _USER:
        raise ConfigError(f"attribute {name!r} was not registered by the user; user attributes: {', '.join(_USER) or 'none'}")
    del _USER[name]


_FILE_KEYS = ("name", "description", "languages")
_LANGUAGE_KEYS = ("files", "profile", "labels", "reference", "scorers", "masked", "lexicon_match", "lexicon_note",
                  "pair_direction", "length", "pair_features", "max_gap", "targets", "lexicons")


def _unknown(keys: Iterable[str], allowed: Sequence[str], where: str) -> None:
    bad = [k for k in keys if k not in allowed]
    if bad:
        raise ConfigError(f"{where}: unknown key {bad[0]!r}; allowed: {', '.join(allowed)}")


def attribute_from_dict(data: dict, *, base: Path | None = None, source: str = "attribute") -> Attribute:
    """Build an :class:`Attribute` from the TOML/JSON structure (see the module docstring); relative files resolve against ``base``."""
    if not isinstance(data, dict):
        raise ConfigError(f"{source}: expected a table with keys {', '.join(_FILE_KEYS)}")
    _unknown(data, _FILE_KEYS, source)
    langs = data.get("languages")
    if not isinstance(langs, dict) or not langs:
        raise ConfigError(f"{source}: needs a [languages.<code>] table for at least one language")
    out = []
    for code, spec in langs.items():
        where = f"{source}: languages.{code}"
        if not isinstance(spec, dict):
            raise ConfigError(f"{where}: expected a table")
        _unknown(spec, _LANGUAGE_KEYS, where)
        labels = spec.get("labels")
        if not isinstance(labels, list) or not all(isinstance(x, str) and x for x in labels):
            raise ConfigError(f"{where}: 'labels' must be a list of label names")
        for key in ("targets", "lexicons"):
            table = spec.get(key, {})
            if not isinstance(table, dict):
                raise ConfigError(f"{where}: {key!r} must be a table label -> value")
            unknown = [k for k in table if k not in labels]
            if unknown:
                raise ConfigError(f"{where}: {key} names unknown label {unknown[0]!r}; labels: {', '.join(labels)}")
        files = spec.get("files", [])
        if isinstance(files, str) or not isinstance(files, list):
            raise ConfigError(f"{where}: 'files' must be a list of paths")
        resolved = tuple(str((base / f).resolve()) if base is not None and not Path(f).is_absolute() and (base / f).exists() else f
                         for f in files)
        rule_default = default_pair_rule(code)
        length = spec.get("length", (8, 40) if uses_characters(code) else (4, 16))
        if not (isinstance(length, (list, tuple)) and len(length) == 2 and all(isinstance(x, int) for x in length)):
            raise ConfigError(f"{where}: 'length' must be [min, max] integers, got {length!r}")
        out.append(LanguageData(
            code,
            tuple(Label(n, spec.get("targets", {}).get(n), tuple(spec.get("lexicons", {}).get(n, ()))) for n in labels),
            spec.get("reference", ""), files=resolved, profile=spec.get("profile"), scorers=tuple(spec.get("scorers", ())),
            masked=bool(spec.get("masked", False)), lexicon_match=spec.get("lexicon_match", "substring" if uses_characters(code) else "words"),
            lexicon_note=spec.get("lexicon_note", ""), pair_direction=spec.get("pair_direction", "to_reference"),
            length=tuple(length), pair_rule=PairRule(tuple(spec.get("pair_features", rule_default.features)),
                                                      spec.get("max_gap", rule_default.max_gap))))
    return Attribute(data.get("name", ""), data.get("description", ""), tuple(out))


def load_attribute_file(path: str | Path, *, register: bool = True, replace: bool = False) -> Attribute:
    """Read an attribute from a ``.toml`` or ``.json`` file and (by default) register it."""
    p = Path(path)
    if not p.is_file():
        raise ConfigError(f"attribute file {str(p)!r} does not exist")
    text = p.read_text(encoding="utf-8")
    try:
        data = json.loads(text) if p.suffix.lower() == ".json" else tomllib.loads(text)
    except (json.JSONDecodeError, tomllib.TOMLDecodeError) as exc:
        raise ConfigError(f"attribute file {str(p)!r} is not valid {'JSON' if p.suffix.lower() == '.json' else 'TOML'}: {exc}") from None
    attr = attribute_from_dict(data, base=p.parent, source=str(p))
    return register_attribute(attr, replace=replace) if register else attr


# --- what a dataset's records imply ----------------------------------------------------------------------------

def find_language_data(attribute: str, language: str) -> LanguageData | None:
    """The registered data of ``attribute`` in ``language``, or ``None`` (no error: datasets may be unregistered)."""
    attr = _registry().get(attribute)
    if attr is None:
        return None
    return next((d for d in attr.data if d.language == language), None)


def _groups(records) -> set[tuple[str, str]]:
    return {(r.attribute, r.language) for r in records}


def infer_pairs(records) -> tuple[str, str] | None:
    """``(reference label, pair direction)`` read off the pairs of unregistered data, or ``None`` when ambiguous.

    All pair-carrying records share one label not found among their partners: that label is the reference
    (``to_label``); else all partners share one label not found among the carriers: the anchor (``to_reference``).
    """
    by_id = {r.id: r for r in records}
    links = [(r, by_id[r.pair_id]) for r in records if r.pair_id and r.pair_id in by_id]
    if not links:
        return None
    carriers, targets = {r.emotion for r, _ in links}, {t.emotion for _, t in links}
    if len(carriers) == 1 and not carriers & targets:
        return next(iter(carriers)), "to_label"
    if len(targets) == 1 and not targets & carriers:
        return next(iter(targets)), "to_reference"
    return None


def pair_convention(records) -> tuple[str, str]:
    """``(reference label, pair direction)`` of records of one attribute and language: registry first, then the pairs,
    else emotion's convention (``neutral``, ``to_label``)."""
    groups = _groups(records)
    if len(groups) == 1:
        spec = find_language_data(*next(iter(groups)))
        if spec is not None:
            return spec.reference, spec.pair_direction
    return infer_pairs(records) or ("neutral", "to_label")


def reference_label(records) -> str | None:
    """The reference label of a dataset (registry, then pairs, then ``neutral`` when present), or ``None``."""
    groups = _groups(records)
    if len(groups) == 1:
        spec = find_language_data(*next(iter(groups)))
        if spec is not None:
            return spec.reference
    inferred = infer_pairs(records)
    if inferred:
        return inferred[0]
    return "neutral" if any(r.emotion == "neutral" for r in records) else None


def pair_rule_for(records) -> PairRule:
    """The pair-matching rule of a dataset: the registry's for its attribute and language, else the language default."""
    groups = _groups(records)
    if len(groups) == 1:
        attribute, language = next(iter(groups))
        spec = find_language_data(attribute, language)
        return spec.pair_rule if spec is not None else default_pair_rule(language)
    return default_pair_rule()


SCORER_LANGUAGES: dict[str, tuple[str, ...] | None] = {
    "sentiment": ("en",), "nrc": ("en",), "keywords": ("en",), "politeness": ("en",), "formality": ("en",),
    "politeness_markers": ("en",), "humour_markers": ("en",), "threat_markers": ("en",), "markers": ("en",),
    "fluency": None, "hf_classifier": None,
    "keigo": ("ja",), "ja_sentiment": ("ja",), "ja_keywords": ("ja",),
}
"""Languages each built-in scorer can score (``None``: any, e.g. perplexity). A scorer's own ``languages`` attribute wins."""


def check_scorer_language(scorer, language: str) -> None:
    """Raise :class:`ConfigError` when ``scorer`` (a name or a scorer object) cannot score text in ``language``."""
    name = scorer if isinstance(scorer, str) else getattr(scorer, "name", type(scorer).__name__)
    langs = getattr(scorer, "languages", None) if not isinstance(scorer, str) else None
    langs = langs if langs is not None else SCORER_LANGUAGES.get(name)
    if langs is not None and language.split("-")[0] not in langs:
        fits = [n for n, ls in SCORER_LANGUAGES.items() if ls is None or language.split("-")[0] in ls]
        raise ConfigError(f"scorer {name!r} scores {', '.join(langs)} text, not {language!r}; scorers for {language!r}: {', '.join(fits)}")
