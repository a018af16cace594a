"""Study configs: a TOML file naming the model(s), the attribute and language, phases and their parameters.

Every section is a dataclass with defaults; unknown sections or keys, unknown phases,
wrong types and phases whose prerequisite is disabled raise a :class:`ConfigError`
that names the key and the allowed values.

The studied property comes from the attribute registry (:mod:`interp.attributes`): ``[study] attribute``
(default ``emotion``) and ``language`` (default ``en``) choose its labels, reference label, data (its profile or
files, unless ``[study] profile`` names a profile or file) and target scores. Per-phase label lists (``emotions``,
or its alias ``labels``) and ``[vectors] contrast`` default to the attribute's contrast labels and reference label.
``[study] attribute_files`` registers attributes from TOML/JSON files first; ``[study] attributes = [...]`` runs the
phases once per attribute (:meth:`StudyConfig.per_attribute`, each into its own study folder).
"""

import copy
import sys
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field, fields
from functools import cache
from pathlib import Path
from typing import Any

from circuits.ablation import MODES as ABLATE_MODES
from circuits.head_patching import MODES as PATCH_MODES
from circuits.metrics import METRICS
from experiments import phase_registry
from interp.attributes import (
    DEFAULT_ATTRIBUTE,
    DEFAULT_LANGUAGE,
    LanguageData,
    check_scorer_language,
    default_data,
    get_attribute,
    is_builtin,
    load_attribute_file,
    register_attribute,
)
from interp.datasets import PROFILES
from interp.errors import ConfigError
from interp.evaluators import available_scorers, make_scorer
from interp.models import parse_dtype
from interp.registry import DEFAULT_MODEL, KNOWN_MODELS, partner_model
from interp.splits import SPLIT_METHODS
from steering.sweep import TARGET_SCORES
from steering.sweep_analysis import scorers_for
from steering.vectors import METHODS, contrasts_for

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

PHASES: tuple[str, ...] = phase_registry.names()
DEFAULT_PHASES: tuple[str, ...] = phase_registry.default_names()
"""Phase names in execution order (declared in :mod:`experiments.phase_registry`)."""

PREREQUISITES: dict[str, tuple[str, ...]] = {p.name: p.prerequisites for p in phase_registry.PHASES}
"""Per phase, the phases it reads (from :mod:`experiments.phase_registry`)."""

SWEEP_LABELS = 2
"""The sweep (the costliest phase) steers the first this many contrast labels with a target score column unless
``[sweep] emotions`` names them."""

LABEL_KEYS: tuple[tuple[str, str], ...] = (("sweep", "emotions"), ("screen", "emotions"), ("ablate", "emotions"),
                                           ("patch_heads", "emotions"), ("ovqk", "emotion"))
"""``(section, key)`` of every per-phase label choice (``labels`` is accepted for ``emotions``)."""


def _contrast_labels():
    """Default factory: the default attribute's contrast labels."""
    return lambda: list(default_data().contrast_labels)


def _sweep_labels(spec: LanguageData) -> list[str]:
    return [e for e in spec.contrast_labels if e in spec.targets][:SWEEP_LABELS]


def _label_defaults(spec: LanguageData) -> dict[tuple[str, str], object]:
    """What every key of :data:`LABEL_KEYS` (and ``[vectors] contrast``) is when a study leaves it out."""
    labels = list(spec.contrast_labels)
    return {("sweep", "emotions"): _sweep_labels(spec), ("screen", "emotions"): labels, ("ablate", "emotions"): labels,
            ("patch_heads", "emotions"): labels, ("ovqk", "emotion"): labels[0] if labels else "",
            ("vectors", "contrast"): spec.reference}


@dataclass
class StudySection:
    name: str = "study"
    model: str = DEFAULT_MODEL
    attribute: str = DEFAULT_ATTRIBUTE  # interp.attributes name: labels, reference label, data and targets come from the registry
    language: str = DEFAULT_LANGUAGE  # language code of the attribute's data (the registry's LanguageData)
    attributes: list[str] = field(default_factory=list)  # several attributes: the phases run once per attribute (per_attribute)
    attribute_files: list[str] = field(default_factory=list)  # attribute TOML/JSON files registered first (relative to the study)
    # Dataset: a profile name (interp.datasets.PROFILES) or a dataset file; "" = the registry's data of the attribute.
    profile: str = field(default_factory=lambda: default_data().profile or "")
    seed: int = 0
    phases: list[str] = field(default_factory=lambda: list(DEFAULT_PHASES))
    device: str = "cpu"  # torch device for every model of the study ("auto": cuda if available, else cpu)
    dtype: str = "float32"  # model parameter dtype (interp.models.DTYPES: float32, bfloat16, float16)
    # Selection / evaluation split (interp.splits): "halves" splits the profile per label by seeded hash
    # (split_fraction goes to selection); "profile" selects on `profile` and evaluates on the records that
    # `evaluation_profile` adds to it. Every selection (band, heads, best cell, window) uses the selection split;
    # every reported effect comes from the evaluation split.
    split: str = "halves"
    split_fraction: float = 0.5
    evaluation_profile: str = "extended"


@dataclass
class ExtractSection:
    hooks: list[str] = field(default_factory=lambda: ["resid_pre", "resid_post"])
    batch_size: int = 32
    dtype: str = "float32"


@dataclass
class VectorsSection:
    methods: list[str] = field(default_factory=lambda: ["sentence_end", "token"])
    contrast: str = field(default_factory=lambda: default_data().reference)  # the reference label, or "others"
    hook: str = "resid_post"
    n_boot: int = 200
    probe_folds: int = 5
    probe_shuffles: int = 200  # label shuffles for the band-centre probe's permutation p (floor 1/201)


@dataclass
class SubspaceSection:
    k: int = 10
    n_random: int = 200  # unused since the difference-subspace nulls; kept so older study files still load
    n_shuffle: int = 100  # null draws (label shuffles; neutral pseudo-splits) at the headline layer
    layer_shuffles: int = 20  # null draws per layer (table and the selection-split layer choice)


@dataclass
class AlignSection:
    model_b: str = field(default_factory=lambda: partner_model(DEFAULT_MODEL))  # a second model with packaged weights
    layer_a: int = -1
    layer_b: int = -1
    ridge: float = 1e-2  # relative to the mean squared row norm
    holdout: float = 0.3


@dataclass
class SweepSection:
    emotions: list[str] = field(default_factory=lambda: _sweep_labels(default_data()))
    layers: list[int] = field(default_factory=list)  # empty: steering.sweep.default_sweep_layers of the model's depth
    alphas: list[float] = field(default_factory=lambda: [-2.0, -1.0, -0.5, 0.0, 0.5, 1.0, 2.0])
    n_prompts: int = 30
    max_new_tokens: int = 20
    scale: str = "raw"
    hook_kind: str = "resid_pre"
    ppl_bound: float = 1.5
    method: str = "sentence_end"
    random_control: bool = True
    n_random: int = 20  # norm-matched random directions per controlled cell (p floor 1/21)
    random_max_cells: int = 2  # controlled cells per emotion (top selection candidates; the best cell always)
    distinct2_drop: float = 0.1  # repetition bound: mean distinct-2 at most this below alpha=0's
    repeat_rise: float = 2.0  # repetition bound: mean longest repeated n-gram at most this many words above alpha=0's
    targets: dict = field(default_factory=dict)  # label -> score column (default: the attribute registry's targets)
    scorers: list[str] = field(default_factory=list)  # empty: steering.sweep_analysis.scorers_for the language + the attribute's


@dataclass
class ScreenSection:
    emotions: list[str] = field(default_factory=_contrast_labels())
    # The smallest permutation p is 1/(n_perm+1): Holm over 270 heads reaches p < 0.01 only with n_perm > 27000.
    n_perm: int = 30000
    n_boot: int = 1000


@dataclass
class AblateSection:
    emotions: list[str] = field(default_factory=_contrast_labels())
    max_k: int = 10
    # Layer-matched random k-head sets per k: p floor 1/(n_random+1); 100 makes p < 0.01 reachable per test.
    n_random: int = 100
    # Besag–Clifford stopping: a k's control ends once this many draws are as extreme as the top set (0 = all draws).
    stop_after: int = 10
    ks: list[int] = field(default_factory=list)  # tested k's (empty: 1, 2, 5, 10, 20 up to max_k, and max_k)
    n_sentences: int = 0  # > 0: only the first this many evaluation sentences per emotion (split order; 0 = all)
    mode: str = "mean"  # circuits.ablation.MODES: zero | mean | resample (reference: the selection split's neutral sentences)
    metric: str = "emotion_words"  # circuits.metrics.METRICS
    generate_prompts: int = 0  # > 0: also continue this many evaluation emotion sentences with the top max_k heads ablated
    generate_random: int = 20  # random k-head draws for the generation control (p floor 1/21)
    max_new_tokens: int = 20


@dataclass
class PatchHeadsSection:
    emotions: list[str] = field(default_factory=_contrast_labels())
    modes: list[str] = field(default_factory=lambda: ["pattern_v", "v_only", "pattern_only", "z"])
    n_pairs: int = 20
    n_random: int = 100  # layer-matched random heads patched the same way (p floor 1/101)
    stop_after: int = 10  # Besag–Clifford stopping of the random-head control (0 = all draws)
    metric: str = "emotion_words"  # circuits.metrics.METRICS
    generate_prompts: int = 0  # > 0: also continue this many patched neutral sentences per mode
    generate_random: int = 20  # random-head draws per mode for the generation control (p floor 1/21)
    max_new_tokens: int = 20


@dataclass
class OvqkSection:
    emotion: str = field(default_factory=lambda: default_data().contrast_labels[0])
    top_heads: int = 5


@dataclass
class InterferenceSection:
    # Attributes whose labels are steered (each contrast label with a target) and whose targets are scored.
    attributes: list[str] = field(default_factory=lambda: ["emotion", "politeness", "formality", "humour", "threat"])
    layer: int = -1  # -1: 30% of the depth
    alpha: float = 0.5  # in units of `scale`; mean_norm gives every row the same added norm, so one random control serves all
    scale: str = "mean_norm"
    hook_kind: str = "resid_pre"
    n_prompts: int = 30  # steering prompts (split in selection / evaluation halves)
    max_new_tokens: int = 16
    n_boot: int = 1000
    n_random: int = 100  # norm-matched random directions (p floor 1/101)


@dataclass
class CrosslingualSection:
    other_language: str = "en"  # compared with [study] language (English with Japanese)
    hook_kind: str = "resid_post"
    n_perm: int = 1000  # label shuffles of the other language's data for the cosine null
    n_boot: int = 500
    alpha: float = 0.5  # cross-steering coefficient (units of `scale`)
    scale: str = "mean_norm"
    n_prompts: int = 20
    max_new_tokens: int = 16
    n_random: int = 20
    top_heads: int = 10  # top screened heads per label compared across languages (0: skip the head comparison)


@dataclass
class ReportSection:
    attention_views: int = 3
    steering_examples: int = 6


@dataclass
class StudyConfig:
    study: StudySection = field(default_factory=StudySection)
    extract: ExtractSection = field(default_factory=ExtractSection)
    vectors: VectorsSection = field(default_factory=VectorsSection)
    subspace: SubspaceSection = field(default_factory=SubspaceSection)
    align: AlignSection = field(default_factory=AlignSection)
    sweep: SweepSection = field(default_factory=SweepSection)
    screen: ScreenSection = field(default_factory=ScreenSection)
    ablate: AblateSection = field(default_factory=AblateSection)
    patch_heads: PatchHeadsSection = field(default_factory=PatchHeadsSection)
    ovqk: OvqkSection = field(default_factory=OvqkSection)
    interference: InterferenceSection = field(default_factory=InterferenceSection)
    crosslingual: CrosslingualSection = field(default_factory=CrosslingualSection)
    report: ReportSection = field(default_factory=ReportSection)

    given = frozenset()
    """``(section, key)`` pairs the study file set (not a field: read by :meth:`per_attribute` to refill the others)."""

    def to_dict(self) -> dict:
        return asdict(self)

    def section(self, name: str) -> dict:
        """The section's keys as hashed into its phase's reuse key: keys added later are left out at their defaults, so
        phases finished before they existed stay reusable."""
        d = asdict(getattr(self, name))
        for (sec, key), default in UNHASHED_DEFAULTS.items():
            if sec == name and d.get(key) == default:
                d.pop(key)
        return d

    def language_data(self) -> LanguageData:
        """The registry's data of ``[study] attribute`` in ``[study] language`` (labels, reference label, targets)."""
        return get_attribute(self.study.attribute).language(self.study.language)

    def per_attribute(self) -> list[tuple[str, "StudyConfig"]]:
        """``[(attribute, config)]``: one validated study per ``[study] attributes`` entry (named after the attribute, its
        label keys refilled from the registry), or this study alone. Each runs into ``<runs root>/<name>/<attribute>/``."""
        if not self.study.attributes:
            return [(self.study.attribute, self)]
        out = []
        for attr in self.study.attributes:
            sub = copy.deepcopy(self)
            sub.study.attribute, sub.study.attributes, sub.study.name = attr, [], attr
            sub.given = self.given
            _apply_attribute(sub, self.given, f"[study] attributes entry {attr!r}")
            validate(sub, source=f"[study] attributes entry {attr!r}")
            out.append((attr, sub))
        return out

    def enabled(self, phase: str) -> bool:
        return phase in self.study.phases

    def with_model(self, model: str) -> tuple["StudyConfig", list[str]]:
        """This study on another main model (``emotion-circuits run STUDY --model NAME``), and notes on what changed.

        Layer-specific keys follow the model: explicit ``[sweep] layers`` move to the same relative depth
        (``round(l · (n_new − 1) / (n_old − 1))``; emptied, i.e. chosen from the depth, when either depth is unknown),
        explicit ``[align]`` layers return to "strongest band"; when ``[align] model_b`` is the new model, the
        alignment partner becomes the study's old model, so the study still aligns two different models.
        """
        cfg = copy.deepcopy(self)
        old, notes = cfg.study.model, []
        if model == old:
            return cfg, notes
        cfg.study.model = model
        if cfg.sweep.layers:
            n_old, n_new = (KNOWN_MODELS[m].n_layers if m in KNOWN_MODELS else None for m in (old, model))
            layers = cfg.sweep.layers
            cfg.sweep.layers = sorted({round(l * (n_new - 1) / max(n_old - 1, 1)) for l in layers}) if n_old and n_new else []
            notes.append(f"[sweep] layers {layers} of {old} → {cfg.sweep.layers or 'chosen from the depth'} in {model} (same relative depth)")
        if cfg.align.layer_a >= 0 or cfg.align.layer_b >= 0:
            cfg.align.layer_a = cfg.align.layer_b = -1
            notes.append("[align] layers → the strongest band of each model (chosen on the selection split)")
        if cfg.align.model_b == model:
            cfg.align.model_b = old
            notes.append(f"[align] model_b {model} is now the main model: aligning with {old} instead")
        return cfg, notes


def _check_type(section: str, key: str, value: Any, default: Any) -> Any:
    where = f"[{section}] {key}"
    if isinstance(default, bool):
        if not isinstance(value, bool):
            raise ConfigError(f"{where} must be true or false, got {value!r}")
    elif isinstance(default, int):
        if not isinstance(value, int) or isinstance(value, bool):
            raise ConfigError(f"{where} must be an integer, got {value!r}")
    elif isinstance(default, float):
        if not isinstance(value, (int, float)) or isinstance(value, bool):
            raise ConfigError(f"{where} must be a number, got {value!r}")
        value = float(value)
    elif isinstance(default, str):
        if not isinstance(value, str):
            raise ConfigError(f"{where} must be a string, got {value!r}")
    elif isinstance(default, dict):
        if not isinstance(value, dict) or not all(isinstance(k, str) and isinstance(v, str) for k, v in value.items()):
            raise ConfigError(f"{where} must be a table of names to strings, got {value!r}")
    elif isinstance(default, list):
        if not isinstance(value, list):
            raise ConfigError(f"{where} must be a list, got {value!r}")
        if default and isinstance(default[0], float):
            if not all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in value):
                raise ConfigError(f"{where} must be a list of numbers, got {value!r}")
            value = [float(v) for v in value]
            if any(v != v or v in (float("inf"), float("-inf")) for v in value):
                raise ConfigError(f"{where} contains NaN or inf; every value must be finite")
    return value


UNHASHED_DEFAULTS: dict[tuple[str, str], object] = {("sweep", "scorers"): []}
"""Keys left out of a phase's reuse key while at these defaults (:meth:`StudyConfig.section`)."""

ALIASES: dict[str, str] = {"labels": "emotions"}
"""Other names a section key may be given by (any section with an ``emotions`` key)."""


def from_dict(data: dict, *, source: str = "config", base: Path | None = None) -> StudyConfig:
    """Build and validate a :class:`StudyConfig` from parsed TOML (``base``: the folder ``attribute_files`` are relative to)."""
    cfg = StudyConfig()
    given: set[tuple[str, str]] = set()
    allowed_sections = [f.name for f in fields(StudyConfig)]
    for section, values in data.items():
        if section not in allowed_sections:
            raise ConfigError(f"{source}: unknown section [{section}]; allowed sections: {', '.join(allowed_sections)}")
        if not isinstance(values, dict):
            raise ConfigError(f"{source}: [{section}] must be a table of keys")
        obj = getattr(cfg, section)
        allowed = [f.name for f in fields(obj)]
        for key, value in values.items():
            name = ALIASES.get(key, key) if ALIASES.get(key) in allowed else key
            if name not in allowed:
                raise ConfigError(f"{source}: unknown key {key!r} in [{section}]; allowed keys: {', '.join(allowed)}"
                                  + (" (or labels)" if "emotions" in allowed else ""))
            if (section, name) in given:
                raise ConfigError(f"{source}: [{section}] gives both {name!r} and its alias {key!r}; keep one")
            given.add((section, name))
            setattr(obj, name, _check_type(section, name, value, getattr(obj, name)))
    cfg.given = frozenset(given)
    _register_attribute_files(cfg.study.attribute_files, base, source)
    _apply_attribute(cfg, cfg.given, source)
    validate(cfg, source=source)
    return cfg


def _register_attribute_files(files: list[str], base: Path | None, source: str) -> None:
    """Register each attribute file (a user attribute of the same name is replaced; a built-in one may not be)."""
    for f in files:
        p = Path(f) if Path(f).is_absolute() or base is None else base / f
        attr = load_attribute_file(p, register=False)
        if is_builtin(attr.name):
            raise ConfigError(f"{source}: [study] attribute_files {f!r} defines {attr.name!r}, a built-in attribute; rename it")
        register_attribute(attr, replace=True)


def _apply_attribute(cfg: StudyConfig, given: frozenset, source: str) -> None:
    """Fill the keys the study left out from its attribute and language (profile, label lists, contrast)."""
    st = cfg.study
    if st.attributes:
        for a in st.attributes:
            get_attribute(a).language(st.language)
        fixed = [f"[{sec}] {key}" for sec, key in (*LABEL_KEYS, ("sweep", "targets"), ("study", "profile")) if (sec, key) in given]
        if fixed:
            raise ConfigError(f"{source}: {', '.join(fixed)} cannot be set with [study] attributes (labels and data differ per "
                              "attribute); leave them out to use each attribute's contrast labels and data, or run one study per attribute")
        return
    try:
        spec = cfg.language_data()
    except ConfigError as exc:
        raise ConfigError(f"{source}: [study] attribute/language: {exc}") from None
    if ("study", "profile") not in given:
        st.profile = spec.profile or ""
    for (sec, key), value in _label_defaults(spec).items():
        if (sec, key) not in given:
            setattr(getattr(cfg, sec), key, copy.deepcopy(value))


def validate(cfg: StudyConfig, *, source: str = "config") -> None:
    """Check phases, prerequisites, choices, value ranges and cross-section consistency (one ConfigError naming the key)."""
    if cfg.study.attributes:
        for check in (_check_phases, _check_study, _check_minimums):
            check(cfg, source)
        cfg.per_attribute()  # validates each attribute's study
        return
    for check in (_check_phases, _check_study, _check_choices, _check_minimums, _check_hooks_and_models, _check_labels, _check_scorers):
        check(cfg, source)


def _check_phases(cfg: StudyConfig, source: str) -> None:
    for p in cfg.study.phases:
        if p not in PHASES:
            raise ConfigError(f"{source}: [study] phases has unknown phase {p!r}; allowed phases: {', '.join(PHASES)}")
    for p in cfg.study.phases:
        for pre in PREREQUISITES[p]:
            if pre not in cfg.study.phases:
                raise ConfigError(f"{source}: phase {p!r} needs phase {pre!r}, which is disabled; add {pre!r} to [study] phases or remove {p!r}")


def _check_study(cfg: StudyConfig, source: str) -> None:
    st = cfg.study
    if len(set(st.attributes)) != len(st.attributes):
        raise ConfigError(f"{source}: [study] attributes {st.attributes} names an attribute twice")
    for key, prof, needed in (("profile", st.profile, bool(st.profile)), ("evaluation_profile", st.evaluation_profile, st.split == "profile")):
        if needed and prof not in PROFILES and not Path(prof).exists():
            raise ConfigError(f"{source}: [study] {key} must be one of {', '.join(PROFILES)} or an existing dataset file, got {prof!r}")
    parse_dtype(st.dtype, name=f"{source}: [study] dtype")
    if not 0.1 <= st.split_fraction <= 0.9:
        raise ConfigError(f"{source}: [study] split_fraction must be in [0.1, 0.9] (share of each label used for selection), "
                          f"got {st.split_fraction}")


def _choices(cfg: StudyConfig) -> list[tuple[str, list, Iterable[str]]]:
    """``(key, values, allowed)`` for every key whose values come from a table in the library."""
    return [("[study] split", [cfg.study.split], SPLIT_METHODS), ("[vectors] methods", cfg.vectors.methods, METHODS),
            ("[vectors] contrast", [cfg.vectors.contrast], contrasts_for(cfg.language_data().reference)), ("[sweep] scale", [cfg.sweep.scale], ("raw", "unit", "mean_norm")),
            ("[sweep] hook_kind", [cfg.sweep.hook_kind], ("resid_pre", "resid_post")), ("[sweep] method", [cfg.sweep.method], METHODS),
            ("[patch_heads] modes", cfg.patch_heads.modes, PATCH_MODES), ("[ablate] mode", [cfg.ablate.mode], ABLATE_MODES),
            ("[ablate] metric", [cfg.ablate.metric], METRICS), ("[patch_heads] metric", [cfg.patch_heads.metric], METRICS)]


def _check_choices(cfg: StudyConfig, source: str) -> None:
    for key, values, allowed in _choices(cfg):
        allowed = list(allowed)
        for v in values:
            if v not in allowed:
                raise ConfigError(f"{source}: {key} has {v!r}; allowed: {', '.join(allowed)}")


def _minimums(cfg: StudyConfig) -> list[tuple[str, int, int]]:
    """``(key, value, smallest allowed)`` of every integer key with a lower bound."""
    a, ph = cfg.ablate, cfg.patch_heads
    return [("[extract] batch_size", cfg.extract.batch_size, 1), ("[subspace] k", cfg.subspace.k, 1),
            ("[sweep] n_prompts", cfg.sweep.n_prompts, 1), ("[sweep] max_new_tokens", cfg.sweep.max_new_tokens, 1),
            ("[vectors] n_boot", cfg.vectors.n_boot, 10), ("[ovqk] top_heads", cfg.ovqk.top_heads, 1),
            ("[ablate] max_k", a.max_k, 1), ("[ablate] n_random", a.n_random, 1), ("[ablate] generate_prompts", a.generate_prompts, 0),
            ("[ablate] n_sentences", a.n_sentences, 0), ("[ablate] generate_random", a.generate_random, 0),
            ("[ablate] max_new_tokens", a.max_new_tokens, 1), ("[ablate] stop_after", a.stop_after, 0),
            ("[patch_heads] n_pairs", ph.n_pairs, 2), ("[patch_heads] n_random", ph.n_random, 0),
            ("[patch_heads] generate_prompts", ph.generate_prompts, 0), ("[patch_heads] generate_random", ph.generate_random, 0),
            ("[patch_heads] max_new_tokens", ph.max_new_tokens, 1), ("[patch_heads] stop_after", ph.stop_after, 0)]


def _check_minimums(cfg: StudyConfig, source: str) -> None:
    for key, val, lo in _minimums(cfg):
        if val < lo:
            raise ConfigError(f"{source}: {key} must be ≥ {lo}, got {val}")
    bad_ks = [k for k in cfg.ablate.ks if not 1 <= k <= cfg.ablate.max_k]
    if bad_ks:
        raise ConfigError(f"{source}: [ablate] ks {bad_ks} must lie in 1..max_k={cfg.ablate.max_k} (the ranked heads ablated)")
    if not 0.05 <= cfg.align.holdout <= 0.9:
        raise ConfigError(f"{source}: [align] holdout must be in [0.05, 0.9], got {cfg.align.holdout}")


def _check_hooks_and_models(cfg: StudyConfig, source: str) -> None:
    stored = set(cfg.extract.hooks)
    needs = [("vectors", "[vectors] hook", cfg.vectors.hook), ("subspace", "[vectors] hook", cfg.vectors.hook),
             ("align", "[vectors] hook", cfg.vectors.hook), ("sweep", "[sweep] hook_kind", cfg.sweep.hook_kind),
             ("ovqk", "the ovqk phase's vectors", "resid_post")]
    for phase, what, kind in needs:
        if cfg.enabled(phase) and kind not in stored:
            raise ConfigError(f"{source}: {what} is {kind!r} but [extract] hooks {sorted(stored)} does not store it; "
                              f"add {kind!r} to [extract] hooks")
    if cfg.align.model_b == cfg.study.model and cfg.enabled("align"):
        raise ConfigError(f"{source}: [align] model_b is the study's own model {cfg.study.model!r}; "
                          f"name a second model (e.g. {partner_model(cfg.study.model)})")


def _check_labels(cfg: StudyConfig, source: str) -> None:
    spec = cfg.language_data()
    known, what = spec.contrast_labels, f"attribute {cfg.study.attribute!r} ({cfg.study.language})"
    for e in cfg.sweep.targets:
        if e not in cfg.sweep.emotions:
            raise ConfigError(f"{source}: [sweep] targets names {e!r}, which is not in [sweep] emotions {cfg.sweep.emotions}")
    for sec, emos in (("sweep", cfg.sweep.emotions), ("screen", cfg.screen.emotions),
                      ("ablate", cfg.ablate.emotions), ("patch_heads", cfg.patch_heads.emotions), ("ovqk", [cfg.ovqk.emotion])):
        for e in emos:
            if e not in known:
                raise ConfigError(f"{source}: [{sec}] has unknown label {e!r} for {what}; allowed: {', '.join(known)} "
                                  f"(the reference label {spec.reference!r} is what the others are contrasted with)")
    for sec, emos in (("ablate", cfg.ablate.emotions), ("patch_heads", cfg.patch_heads.emotions), ("ovqk", [cfg.ovqk.emotion])):
        if not emos:
            raise ConfigError(f"{source}: [{sec}] emotions is empty; name at least one of {', '.join(known)}")
        missing = [e for e in emos if e not in cfg.screen.emotions]
        if cfg.enabled(sec) and missing:
            raise ConfigError(f"{source}: [{sec}] needs the screening of {', '.join(missing)}, which [screen] emotions "
                              f"{cfg.screen.emotions} leaves out; add it there")
    if cfg.enabled("sweep"):
        if not cfg.sweep.emotions:
            raise ConfigError(f"{source}: [sweep] emotions is empty; name at least one of {', '.join(known)}")
        for e in cfg.sweep.emotions:
            if e not in cfg.sweep.targets and e not in spec.targets:
                with_t = ", ".join(f"{k}={v}" for k, v in spec.targets.items()) or "none"
                raise ConfigError(f"{source}: [sweep] label {e!r} of {what} has no target score column in the attribute registry "
                                  f"(labels with one: {with_t}); set [sweep] targets = {{{e} = \"<column>\"}} or steer another label")


def sweep_targets(cfg: StudyConfig) -> dict[str, str]:
    """The sweep's ``targets`` for :class:`~steering.sweep.SweepConfig`: ``[sweep] targets`` over the registry's, kept only where
    they differ from :data:`steering.sweep.TARGET_SCORES` (so English emotion studies record no targets, as before)."""
    spec = cfg.language_data()
    merged = {e: cfg.sweep.targets.get(e) or spec.targets[e] for e in cfg.sweep.emotions}
    return {e: t for e, t in merged.items() if e in cfg.sweep.targets or TARGET_SCORES.get(e) != t}


def sweep_scorer_names(cfg: StudyConfig) -> tuple[str, ...]:
    """``[sweep] scorers``, or the scorers for the study's language plus its attribute's own (:func:`scorers_for`)."""
    return tuple(cfg.sweep.scorers) or scorers_for(cfg.study.language, cfg.language_data().scorers)


@cache
def _scorer_columns(name: str) -> tuple[str, ...]:
    return tuple(make_scorer(name).columns)  # builds it: a missing optional extra raises its install command


def _check_scorers(cfg: StudyConfig, source: str) -> None:
    """The sweep's scorers exist, score the dataset's language (naming both) and make every target column."""
    if not cfg.enabled("sweep"):
        return
    names, lang = sweep_scorer_names(cfg), cfg.study.language
    if "fluency" not in names:
        raise ConfigError(f"{source}: [sweep] scorers must include 'fluency' (perplexity decides the usable window); got {', '.join(names)}")
    columns = set()
    for n in names:
        if n not in available_scorers():
            raise ConfigError(f"{source}: [sweep] scorers has unknown scorer {n!r}; available: {', '.join(available_scorers())}")
        try:
            check_scorer_language(n, lang)
        except ConfigError as exc:
            raise ConfigError(f"{source}: the dataset of {cfg.study.attribute!r} is in {lang!r} but {exc}; "
                              "set [sweep] scorers to ones for that language") from None
        if n != "fluency":
            try:
                columns.update(_scorer_columns(n))
            except ConfigError as exc:
                raise ConfigError(f"{source}: [sweep] scorer {n!r}: {exc}") from None
    spec = cfg.language_data()
    for e in cfg.sweep.emotions:
        col = cfg.sweep.targets.get(e) or spec.targets[e]
        if col not in columns:
            raise ConfigError(f"{source}: the target score {col!r} of {e!r} is made by none of the sweep's scorers "
                              f"({', '.join(names)}); add its scorer to [sweep] scorers")


def load_study(path: str | Path) -> StudyConfig:
    """Read and validate a study TOML file."""
    p = Path(path)
    if not p.exists():
        raise ConfigError(f"study file {str(p)!r} does not exist; see studies/ for examples")
    try:
        data = tomllib.loads(p.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{p}: not valid TOML ({exc})") from None
    return from_dict(data, source=str(p), base=p.parent)
