"""Emotion sentence sets: records, loading (package profiles or user JSONL/CSV), validation, hashing.

Schema of one record (JSONL line or CSV row): ``id, text, emotion, spans, language, attribute``
and the optional strings ``pair_id``, ``set``, ``trap_emotion``, ``split``.
``emotion`` is the record's label (for other attributes too: ``polite``, ``sonkeigo``, ...).
``spans`` is a list of ``[start, end)`` character offsets (Python ``str`` indices, in every language)
of the explicit emotion word(s) or attribute marker(s); in CSV it is a JSON string (``"[[0, 5]]"``).

Optional fields:

- ``pair_id``: a link between matched sentences. Emotion sets: on a neutral record, the id of the
  emotion sentence it is a *matched counterpart* of (same grammatical person, punctuation, kind of
  opening, length within 2 words); every emotion sentence has at most one counterpart, and in a
  paired dataset (any record has a ``pair_id``) every explicit emotion sentence must have exactly
  one. Attribute sets (:mod:`interp.attributes`, ``pair_direction = "to_reference"``): on each
  labelled record, the id of its unmarked anchor (one counterpart per label per anchor).
- ``set``: ``"implicit"`` (emotion carried without any lexicon word, no spans) or ``"trap"``
  (a neutral sentence using a lexicon word in a neutral sense; ``spans`` cover that word and
  ``trap_emotion`` names the lexicon it comes from).
- ``split``: ``"selection"`` or ``"evaluation"``, where a file fixes the split itself; a pair never
  straddles it.

Languages: the rules read each record's ``language`` and ``attribute`` (:mod:`interp.attributes`).
Duplicates are found on NFKC, case-folded text without punctuation; lengths are words, or
characters for Japanese (:mod:`interp.textnorm`); the lexicon rules use the attribute's lexicon in
that language.

Profiles: ``baseline`` (70 per emotion), ``extended`` (baseline + 100 more per emotion, 680
sentences), ``matched`` (the 210 baseline emotion sentences + one matched neutral each; the
original, confounded baseline neutrals are left out), ``matched-extended`` (the 510 extended
emotion sentences + their matched neutrals), ``implicit`` and ``trap``.
"""

import csv
import hashlib
import io
import json
import unicodedata
from collections import Counter
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from importlib import resources
from pathlib import Path

from interp.errors import DatasetError
from interp.io import read_utf8_text
from interp.lexicon import EMOTION_WORDS, STRONG_AFFECT_WORDS, words
from interp.textnorm import cuts_combining_sequence, duplicate_key, length_unit, text_length, uses_characters

PROFILES: dict[str, tuple[str, ...]] = {
    "baseline": ("emotions_baseline.jsonl",),
    "extended": ("emotions_baseline.jsonl", "emotions_extended.jsonl"),
    "matched": ("emotions_baseline.jsonl", "emotions_matched_baseline.jsonl"),
    "matched-extended": ("emotions_baseline.jsonl", "emotions_extended.jsonl",
                         "emotions_matched_baseline.jsonl", "emotions_matched_extended.jsonl"),
    "implicit": ("emotions_implicit.jsonl",),
    "trap": ("emotions_trap.jsonl",),
}
MATCHED_PROFILES: frozenset[str] = frozenset({"matched", "matched-extended"})
"""Profiles built from matched pairs: neutral records without a ``pair_id`` (the old, confounded
neutrals) are dropped and every emotion sentence must have its counterpart."""
REQUIRED_FIELDS = ("id", "text", "emotion", "spans", "language", "attribute")
OPTIONAL_FIELDS = ("pair_id", "set", "trap_emotion", "split")
RECORD_SETS = ("implicit", "trap")
RECORD_SPLITS = ("selection", "evaluation")
DEFAULT_LENGTHS: dict[str, tuple[int, int]] = {"words": (4, 16), "characters": (8, 40)}
"""Length limits of records whose attribute and language the registry does not know, per length unit."""


@dataclass(frozen=True)
class EmotionRecord:
    """One sentence with its label and the character spans of its emotion word(s)."""

    id: str
    text: str
    emotion: str
    spans: tuple[tuple[int, int], ...] = ()
    language: str = "en"
    attribute: str = "emotion"
    pair_id: str | None = None
    set: str | None = None
    trap_emotion: str | None = None
    split: str | None = None

    def to_dict(self) -> dict:
        """The record as a JSON object; optional fields appear only when set (so old hashes are unchanged)."""
        d = asdict(self)
        d["spans"] = [list(s) for s in self.spans]
        for key in OPTIONAL_FIELDS:
            if d[key] is None:
                del d[key]
        return d

    def span_texts(self) -> list[str]:
        return [self.text[a:b] for a, b in self.spans]


@dataclass(frozen=True)
class EmotionDataset:
    """An ordered list of records plus where they came from."""

    records: tuple[EmotionRecord, ...]
    source: str
    profile: str | None = None
    meta: dict = field(default_factory=dict, compare=False)

    def __len__(self) -> int:
        return len(self.records)

    @property
    def emotions(self) -> list[str]:
        """Emotions present, in first-seen order."""
        return list(dict.fromkeys(r.emotion for r in self.records))

    @property
    def texts(self) -> list[str]:
        return [r.text for r in self.records]

    @property
    def labels(self) -> list[str]:
        return [r.emotion for r in self.records]

    def by_emotion(self, emotion: str) -> list[EmotionRecord]:
        return [r for r in self.records if r.emotion == emotion]

    def indices(self, emotion: str) -> list[int]:
        return [i for i, r in enumerate(self.records) if r.emotion == emotion]

    def subset(self, emotions: list[str] | None = None, limit_per_emotion: int | None = None) -> "EmotionDataset":
        """Records of the given emotions, at most ``limit_per_emotion`` each, original order kept."""
        keep, seen = [], Counter()
        for r in self.records:
            if emotions is not None and r.emotion not in emotions:
                continue
            if limit_per_emotion is not None and seen[r.emotion] >= limit_per_emotion:
                continue
            seen[r.emotion] += 1
            keep.append(r)
        return EmotionDataset(tuple(keep), self.source, self.profile)

    def hash(self) -> str:
        """SHA-256 of the canonical JSON of all records (order matters)."""
        h = hashlib.sha256()
        for r in self.records:
            h.update(json.dumps(r.to_dict(), sort_keys=True, ensure_ascii=False).encode())
            h.update(b"\n")
        return h.hexdigest()


def _parse_record(obj: object, where: str) -> EmotionRecord:
    if not isinstance(obj, dict):
        raise DatasetError(f"{where}: expected a JSON object with fields {', '.join(REQUIRED_FIELDS)}")
    for key in ("id", "text", "emotion"):
        val = obj.get(key)
        if not isinstance(val, str) or not val.strip():
            raise DatasetError(f"{where}: field {key!r} is missing or not a non-empty string")
    spans_raw = obj.get("spans", [])
    if isinstance(spans_raw, str):
        try:
            spans_raw = json.loads(spans_raw) if spans_raw.strip() else []
        except json.JSONDecodeError:
            raise DatasetError(f"{where}: field 'spans' is not valid JSON (expected e.g. [[0, 5]])") from None
    if not isinstance(spans_raw, list):
        raise DatasetError(f"{where}: field 'spans' must be a list of [start, end] pairs")
    spans = []
    text = obj["text"]
    for s in spans_raw:
        if not (isinstance(s, (list, tuple)) and len(s) == 2 and all(isinstance(x, int) and not isinstance(x, bool) for x in s)):
            raise DatasetError(f"{where}: record {obj['id']!r}: field 'spans' has {s!r}; each span must be [start, end] integers")
        a, b = s
        if not 0 <= a < b <= len(text):
            raise DatasetError(f"{where}: record {obj['id']!r}: field 'spans' has [{a}, {b}] outside the text "
                               f"(length {len(text)} characters); spans are [start, end) character offsets")
        spans.append((a, b))
    for key in ("language", "attribute"):
        if key in obj and not isinstance(obj[key], str):
            raise DatasetError(f"{where}: field {key!r} must be a string")
    optional: dict[str, str | None] = {}
    for key in OPTIONAL_FIELDS:
        val = obj.get(key)
        if val is None or val == "":  # absent, JSON null, or an empty CSV cell
            optional[key] = None
        elif not isinstance(val, str) or not val.strip():
            raise DatasetError(f"{where}: field {key!r} is {val!r}; it must be a non-empty string or absent")
        else:
            optional[key] = val.strip()
    if optional["set"] is not None and optional["set"] not in RECORD_SETS:
        raise DatasetError(f"{where}: field 'set' is {optional['set']!r}; use one of {', '.join(RECORD_SETS)} or leave it out")
    if optional["split"] is not None and optional["split"] not in RECORD_SPLITS:
        raise DatasetError(f"{where}: field 'split' is {optional['split']!r}; use one of {', '.join(RECORD_SPLITS)} or leave it out")
    if optional["trap_emotion"] is not None and optional["trap_emotion"] not in EMOTION_WORDS:
        raise DatasetError(f"{where}: field 'trap_emotion' is {optional['trap_emotion']!r}; use one of {', '.join(EMOTION_WORDS)}")
    return EmotionRecord(
        id=obj["id"], text=text, emotion=obj["emotion"], spans=tuple(spans),
        language=obj.get("language", "en") or "en", attribute=obj.get("attribute", "emotion") or "emotion",
        **optional,
    )


def parse_jsonl(text: str, source: str) -> list[EmotionRecord]:
    records = []
    for lineno, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as exc:
            raise DatasetError(f"{source}: line {lineno}: not valid JSON ({exc.msg})") from None
        records.append(_parse_record(obj, f"{source}: line {lineno}"))
    return records


def parse_csv(text: str, source: str) -> list[EmotionRecord]:
    reader = csv.DictReader(io.StringIO(text))
    missing = [f for f in ("id", "text", "emotion") if f not in (reader.fieldnames or [])]
    if missing:
        raise DatasetError(f"{source}: line 1: header lacks column(s) {', '.join(missing)}; expected {', '.join(REQUIRED_FIELDS)}")
    return [_parse_record(row, f"{source}: line {i}") for i, row in enumerate(reader, start=2)]


def _read_records(path: str | Path) -> list[EmotionRecord]:
    p = Path(path)
    text = read_utf8_text(p, "dataset", error=DatasetError)
    records = parse_csv(text, str(p)) if p.suffix.lower() == ".csv" else parse_jsonl(text, str(p))
    if not records:
        raise DatasetError(f"dataset file {str(p)!r} is empty: it holds no records")
    return records


def load_file(path: str | Path) -> EmotionDataset:
    """Load a user dataset (``.jsonl`` / ``.json`` lines or ``.csv``) in the record schema."""
    records = _read_records(path)
    source = str(Path(path))
    _check_unique_ids(records, source)
    check_structure(records, source, require_pairs=any(r.pair_id for r in records))
    return EmotionDataset(tuple(records), source)


def _data_file(name: str) -> Path | None:
    """A shipped data file by bare name (``politeness_ja.jsonl``), or ``None``."""
    if Path(name).name != name:
        return None
    res = resources.files("interp").joinpath("data", name)
    return Path(str(res)) if res.is_file() else None


def load_files(files: Sequence[str | Path], *, source: str | None = None) -> EmotionDataset:
    """One dataset from several files: shipped data files by bare name (``interp/data``) or paths, checked together."""
    if not files:
        raise DatasetError("no dataset files given")
    records: list[EmotionRecord] = []
    names = []
    for f in files:
        shipped = _data_file(str(f)) if not Path(f).exists() else None
        records.extend(_read_records(shipped or f))
        names.append(f"package:{f}" if shipped else str(Path(f)))
    src = source or " + ".join(names)
    _check_unique_ids(records, src)
    check_structure(records, src, require_pairs=any(r.pair_id for r in records))
    return EmotionDataset(tuple(records), src)


def load_profile(profile: str) -> EmotionDataset:
    """The shipped dataset of a profile (``baseline`` or ``extended``)."""
    if profile not in PROFILES:
        raise DatasetError(f"unknown profile {profile!r}; choose one of: {', '.join(PROFILES)}")
    records: list[EmotionRecord] = []
    for fname in PROFILES[profile]:
        res = resources.files("interp").joinpath("data", fname)
        if not res.is_file():
            raise DatasetError(f"profile {profile!r} needs the data file interp/data/{fname}, which is not installed; "
                               f"reinstall the package or choose another profile ({', '.join(PROFILES)})")
        records.extend(parse_jsonl(res.read_text(encoding="utf-8"), fname))
    matched = profile in MATCHED_PROFILES
    if matched:
        records = [r for r in records if r.emotion != "neutral" or r.pair_id]
    _check_unique_ids(records, profile)
    check_structure(records, profile, require_pairs=matched)
    return EmotionDataset(tuple(records), f"package:{profile}", profile)


def load_dataset(profile_or_path: str | Path) -> EmotionDataset:
    """A profile name (``baseline``/``extended``), a path to a user file, or a shipped data file's name (``emotions_ja.jsonl``)."""
    if str(profile_or_path) in PROFILES:
        return load_profile(str(profile_or_path))
    if not Path(profile_or_path).exists() and _data_file(str(profile_or_path)) is not None:
        return load_files([str(profile_or_path)])
    return load_file(profile_or_path)


def _check_unique_ids(records: list[EmotionRecord], source: str) -> None:
    dup = [k for k, n in Counter(r.id for r in records).items() if n > 1]
    if dup:
        raise DatasetError(f"{source}: duplicate id(s): {', '.join(dup[:5])}; ids must be unique")


def _all_lexicon_words() -> frozenset[str]:
    return frozenset().union(*EMOTION_WORDS.values())


def _ids(rs: list[str]) -> str:
    return ", ".join(rs[:5]) + (f" (+{len(rs) - 5} more)" if len(rs) > 5 else "")


def _emotion_hits(text: str, language: str) -> dict[str, list[str]] | None:
    """Emotion-lexicon expressions per emotion in ``text`` for its language; ``None`` when the language has no lexicon."""
    if language == "en":
        ws = words(text)
        return {emo: [w for w in ws if w in vocab] for emo, vocab in EMOTION_WORDS.items()}
    from interp.attributes import find_language_data  # noqa: PLC0415 - cycle

    spec = find_language_data("emotion", language)
    return spec.find(text) if spec is not None and spec.lexicons else None


def _check_pairs(records: list[EmotionRecord], by_id: dict[str, EmotionRecord], source: str, *, require_pairs: bool) -> None:
    """Pair rules for the records of one attribute and language (see :func:`check_structure`)."""
    from interp.attributes import pair_convention  # noqa: PLC0415 - cycle

    ref, direction = pair_convention(records)
    attribute = records[0].attribute
    what = "emotion sentence" if attribute == "emotion" else f"{attribute} sentence"
    a_what = f"{'an' if what[0] in 'aeiou' else 'a'} {what}"
    linked = [r for r in records if r.pair_id]
    if direction == "to_label":
        not_ref = [f"{r.id} ({r.emotion})" for r in linked if r.emotion != ref]
        if not_ref:
            raise DatasetError(f"{source}: a matched counterpart must be labelled {ref!r}, but {_ids(not_ref)} "
                               f"carry a pair_id; relabel them {ref} or drop their pair_id")
        to_ref = [f"{r.id} -> {r.pair_id}" for r in linked if by_id[r.pair_id].emotion == ref]
        if to_ref:
            raise DatasetError(f"{source}: pair_id must name {a_what}, but {_ids(to_ref)} name {ref} records")
        partners: dict[str, list[str]] = {}
        for r in linked:
            partners.setdefault(r.pair_id, []).append(r.id)
        doubled = [f"{k} <- {' & '.join(v)}" for k, v in partners.items() if len(v) > 1]
        if doubled:
            raise DatasetError(f"{source}: {a_what} may have one matched counterpart, but {_ids(doubled)}; "
                               "keep one counterpart per sentence")
        if require_pairs:
            missing = [r.id for r in records if r.emotion != ref and r.set is None and r.id not in partners]
            if missing:
                raise DatasetError(f"{source}: {what}(s) without a matched {ref} counterpart: {_ids(missing)}; "
                                   f"add a {ref} record with pair_id set to each id, or drop the sentence")
        return
    from_ref = [f"{r.id} ({r.emotion})" for r in linked if r.emotion == ref]
    if from_ref:
        raise DatasetError(f"{source}: in {attribute} data the labelled sentences name their {ref!r} anchor in pair_id, "
                           f"but the anchor(s) {_ids(from_ref)} carry one; drop pair_id from the anchors")
    not_anchor = [f"{r.id} -> {r.pair_id} ({by_id[r.pair_id].emotion})" for r in linked if by_id[r.pair_id].emotion != ref]
    if not_anchor:
        raise DatasetError(f"{source}: pair_id must name a {ref!r} anchor, but {_ids(not_anchor)}; "
                           f"point each labelled sentence at the {ref} sentence it rewrites")
    per_label: dict[tuple[str, str], list[str]] = {}
    for r in linked:
        per_label.setdefault((r.pair_id, r.emotion), []).append(r.id)
    doubled = [f"{k[0]} <- {' & '.join(v)} ({k[1]})" for k, v in per_label.items() if len(v) > 1]
    if doubled:
        raise DatasetError(f"{source}: an anchor may have one counterpart per label, but {_ids(doubled)}; keep one per label")
    if require_pairs:
        missing = [r.id for r in records if r.emotion != ref and r.set is None and not r.pair_id]
        if missing:
            raise DatasetError(f"{source}: {attribute} sentence(s) without a {ref!r} anchor: {_ids(missing)}; "
                               f"set pair_id to the {ref} sentence each one rewrites, or drop the sentence")


def check_structure(records: list[EmotionRecord] | tuple[EmotionRecord, ...], source: str, *,
                    require_pairs: bool) -> None:
    """Raise :class:`DatasetError` on broken pairs, splits or sets (the loader calls this; ids must be unique).

    Pairs follow the convention of the records' attribute and language (:func:`interp.attributes.pair_convention`).
    Emotion (``to_label``): a ``pair_id`` must name a record of the dataset that is an emotion sentence
    (not a neutral one), the record carrying it must be labelled neutral, and no sentence may have two
    counterparts; with ``require_pairs`` every explicit emotion sentence (no ``set``) needs one.
    Attribute sets (``to_reference``): a labelled record's ``pair_id`` names a record of the anchor label,
    anchors carry none, and an anchor has at most one counterpart per label; with ``require_pairs`` every
    labelled record needs its anchor. A pair never links two attributes or languages, nor the two splits.
    Sets: an ``implicit`` record is an emotion (not neutral) with no spans and no lexicon word;
    a ``trap`` record is neutral and contains a lexicon word.
    """
    by_id = {r.id: r for r in records}
    dangling = [f"{r.id} -> {r.pair_id}" for r in records if r.pair_id and r.pair_id not in by_id]
    if dangling:
        raise DatasetError(f"{source}: pair_id names no record of the dataset: {_ids(dangling)}; "
                           "set pair_id to the id of the sentence the record is matched with")
    crossing = [f"{r.id} -> {r.pair_id}" for r in records if r.pair_id
                and (by_id[r.pair_id].attribute, by_id[r.pair_id].language) != (r.attribute, r.language)]
    if crossing:
        raise DatasetError(f"{source}: a pair links records of different attributes or languages: {_ids(crossing)}")
    straddling = [f"{r.id} ({r.split}) -> {r.pair_id} ({by_id[r.pair_id].split})" for r in records
                  if r.pair_id and r.split and by_id[r.pair_id].split and r.split != by_id[r.pair_id].split]
    if straddling:
        raise DatasetError(f"{source}: a pair straddles the selection/evaluation split: {_ids(straddling)}; "
                           "give both sentences of a pair the same split")
    groups: dict[tuple[str, str], list[EmotionRecord]] = {}
    for r in records:
        groups.setdefault((r.attribute, r.language), []).append(r)
    for group in groups.values():
        if any(r.pair_id for r in group) or require_pairs:
            _check_pairs(group, by_id, source, require_pairs=require_pairs)
    for r in records:
        if r.set is None:
            continue
        hits = _emotion_hits(r.text, r.language)
        found = [w for ws in hits.values() for w in ws] if hits is not None else None
        if r.set == "implicit":
            if found:
                raise DatasetError(f"{source}: implicit record {r.id} contains the lexicon word {found[0]!r}; "
                                   "an implicit sentence must carry its emotion without any lexicon word, rewrite it")
            if r.emotion == "neutral" or r.spans:
                raise DatasetError(f"{source}: implicit record {r.id} must have an emotion label (not neutral) and no spans, "
                                   f"got emotion={r.emotion!r}, spans={list(r.spans)}")
        elif r.set == "trap":
            if r.emotion != "neutral":
                raise DatasetError(f"{source}: trap record {r.id} is labelled {r.emotion!r}; trap sentences are neutral")
            if found is not None and not found:
                lexicon = _all_lexicon_words()
                raise DatasetError(f"{source}: trap record {r.id} contains no lexicon word; a trap sentence must use one "
                                   f"({', '.join(sorted(lexicon)[:4])}, …) in a neutral sense")


def _normalise(text: str, language: str = "en") -> str:
    return duplicate_key(text, language)


@dataclass(frozen=True)
class ValidationReport:
    """Problems found by :func:`validate`; ``ok`` when there are none."""

    n_records: int
    counts: dict[str, int]
    problems: tuple[str, ...]

    @property
    def ok(self) -> bool:
        return not self.problems


def _english_emotion_problems(r: EmotionRecord) -> list[str]:
    """The English emotion rules (lexicon words, spans, strong-affect words, trap and implicit sets)."""
    problems: list[str] = []
    ws = set(words(r.text))
    if r.set == "trap":
        lex = sorted(ws & _all_lexicon_words())
        if not lex:
            problems.append(f"{r.id}: trap sentence contains no lexicon word")
        if not r.spans:
            problems.append(f"{r.id}: trap sentence has no span on its lexicon word")
        pool = set(EMOTION_WORDS.get(r.trap_emotion, ())) if r.trap_emotion else set(_all_lexicon_words())
        for a, b in r.spans:
            if r.text[a:b].lower() not in pool:
                problems.append(f"{r.id}: span [{a}, {b}] = {r.text[a:b]!r} is not a {r.trap_emotion or 'lexicon'} word")
        affect = sorted(ws & set(STRONG_AFFECT_WORDS))
        if affect:
            problems.append(f"{r.id}: trap sentence contains strong-affect word(s) {affect}")
    elif r.set == "implicit":
        lex = sorted(ws & _all_lexicon_words())
        if lex:
            problems.append(f"{r.id}: implicit sentence contains lexicon word(s) {lex}")
        if r.spans:
            problems.append(f"{r.id}: implicit sentence has spans {list(r.spans)}")
    elif r.emotion == "neutral":
        if r.spans:
            problems.append(f"{r.id}: neutral sentence has spans {list(r.spans)}")
        bad = sorted(ws & (set().union(*EMOTION_WORDS.values()) | set(STRONG_AFFECT_WORDS)))
        if bad:
            problems.append(f"{r.id}: neutral sentence contains emotion word(s) {bad}")
    elif r.emotion in EMOTION_WORDS:
        own = set(EMOTION_WORDS[r.emotion])
        if not r.spans:
            problems.append(f"{r.id}: {r.emotion} sentence has no emotion-word span")
        for a, b in r.spans:
            if r.text[a:b].lower() not in own:
                problems.append(f"{r.id}: span [{a}, {b}] = {r.text[a:b]!r} is not a {r.emotion} word")
        others = sorted(ws & set().union(*(v for k, v in EMOTION_WORDS.items() if k != r.emotion)))
        if others:
            problems.append(f"{r.id}: {r.emotion} sentence also contains other emotions' word(s) {others}")
    elif not r.spans:
        problems.append(f"{r.id}: emotion {r.emotion!r} record has no span")
    return problems


def _lexicon_emotion_problems(r: EmotionRecord, spec) -> list[str]:
    """The emotion rules with a registered lexicon of another language (Japanese: expressions matched as NFKC substrings)."""
    problems: list[str] = []
    lexicons = {k: {unicodedata.normalize("NFKC", e) for e in v} for k, v in spec.lexicons.items()}
    hits = spec.find(r.text)
    found = sorted({w for ws in hits.values() for w in ws})
    if r.set == "trap":
        if not found:
            problems.append(f"{r.id}: trap sentence contains no lexicon expression")
        if not r.spans:
            problems.append(f"{r.id}: trap sentence has no span on its lexicon expression")
        pool = set(lexicons.get(r.trap_emotion, ())) if r.trap_emotion else {e for v in lexicons.values() for e in v}
        for a, b in r.spans:
            if unicodedata.normalize("NFKC", r.text[a:b]) not in pool:
                problems.append(f"{r.id}: span [{a}, {b}] = {r.text[a:b]!r} is not a {r.trap_emotion or 'lexicon'} expression")
    elif r.set == "implicit":
        if found:
            problems.append(f"{r.id}: implicit sentence contains lexicon expression(s) {found}")
        if r.spans:
            problems.append(f"{r.id}: implicit sentence has spans {list(r.spans)}")
    elif r.emotion == spec.reference:
        if r.spans:
            problems.append(f"{r.id}: {r.emotion} sentence has spans {list(r.spans)}")
        if found:
            problems.append(f"{r.id}: {r.emotion} sentence contains emotion expression(s) {found}")
    elif r.emotion in lexicons:
        if not r.spans:
            problems.append(f"{r.id}: {r.emotion} sentence has no emotion-expression span")
        for a, b in r.spans:
            if unicodedata.normalize("NFKC", r.text[a:b]) not in lexicons[r.emotion]:
                problems.append(f"{r.id}: span [{a}, {b}] = {r.text[a:b]!r} is not a {r.emotion} expression")
        others = sorted({w for k, ws in hits.items() if k != r.emotion for w in ws})
        if others:
            problems.append(f"{r.id}: {r.emotion} sentence also contains other emotions' expression(s) {others}")
    elif not r.spans:
        problems.append(f"{r.id}: emotion {r.emotion!r} record has no span")
    return problems


def validate(ds: EmotionDataset, *, min_words: int | None = None, max_words: int | None = None,
             min_chars: int | None = None, max_chars: int | None = None,
             expected_per_emotion: int | None = None) -> ValidationReport:
    """Check the dataset rules.

    Every record: unique text (NFKC, case- and punctuation-insensitive; spaces ignored in Japanese),
    length within the limits of its attribute and language (the registry's; else 4–16 words, or
    8–40 characters for Japanese and Chinese; ``min_words``/``max_words`` and ``min_chars``/``max_chars``
    override them), no span boundary inside a combining-character sequence.

    Emotion records (English): every non-neutral record of a known emotion has ≥1 span, each span
    covers a word of that emotion's lexicon and the text has no other emotion's words; neutral
    records have no spans and no emotion or strong-affect words. Sets: an ``implicit`` record has no
    lexicon word and no span; a ``trap`` record is neutral, has a span on a lexicon word (of
    ``trap_emotion`` when given) and no strong-affect word. Emotion records in another language use
    that language's registered lexicon (Japanese: the same rules with expressions); a language without
    one is a problem (its rules cannot be checked). Other registered attributes: every label is one of
    the attribute's, and every non-reference record has a span on its marker.

    Pairs: a counterpart matches its partner on every feature of the pair rule of the attribute and
    language (English emotion: :data:`interp.confounds.PAIR_RULE_FEATURES` — person, opening with
    "The", punctuation — within 2 words) and within its length gap. Optionally an exact count per label.
    """
    from interp.attributes import find_language_data, pair_rule_for  # noqa: PLC0415 - cycle
    from interp.confounds import pair_mismatches  # noqa: PLC0415 - cycle

    specs: dict[tuple[str, str], object] = {}
    problems: list[str] = []
    seen: dict[str, str] = {}
    for r in ds.records:
        key_ = (r.attribute, r.language)
        if key_ not in specs:
            specs[key_] = find_language_data(*key_)
        spec = specs[key_]
        key = _normalise(r.text, r.language)
        if key in seen:
            problems.append(f"{r.id}: duplicate text of {seen[key]}")
        seen.setdefault(key, r.id)
        unit = length_unit(r.language)
        lo, hi = spec.length if spec is not None else DEFAULT_LENGTHS[unit]
        if uses_characters(r.language):
            lo, hi = (min_chars if min_chars is not None else lo), (max_chars if max_chars is not None else hi)
        else:
            lo, hi = (min_words if min_words is not None else lo), (max_words if max_words is not None else hi)
        n = text_length(r.text, r.language)
        if not lo <= n <= hi:
            problems.append(f"{r.id}: {n} {unit}, outside [{lo}, {hi}]")
        for a, b in r.spans:
            if cuts_combining_sequence(r.text, a) or cuts_combining_sequence(r.text, b):
                problems.append(f"{r.id}: span [{a}, {b}] cuts a character from its combining mark; move the boundary")
        if r.attribute == "emotion":
            if r.language == "en":
                problems += _english_emotion_problems(r)
            elif spec is not None and spec.lexicons:
                problems += _lexicon_emotion_problems(r, spec)
            else:
                from interp.attributes import get_attribute  # noqa: PLC0415 - cycle

                have = ", ".join(d.language for d in get_attribute("emotion").data if d.lexicons)
                problems.append(f"{r.id}: no emotion lexicon for language {r.language!r} (lexicons: {have}); "
                                "its span and neutral rules cannot be checked: register the language with "
                                "interp.attributes.register_attribute")
        elif spec is not None:
            if r.emotion not in spec.label_names:
                problems.append(f"{r.id}: label {r.emotion!r} is not a {r.attribute} label in {r.language} "
                                f"(labels: {', '.join(spec.label_names)})")
            elif r.emotion != spec.reference and not r.spans:
                problems.append(f"{r.id}: {r.emotion} record has no span on its {r.attribute} marker")
    by_id = {r.id: r for r in ds.records}
    rules: dict[tuple[str, str], object] = {}
    for r in ds.records:
        if r.pair_id and r.pair_id in by_id:
            key_ = (r.attribute, r.language)
            if key_ not in rules:
                rules[key_] = pair_rule_for([r])
            broken = pair_mismatches(by_id[r.pair_id].text, r.text, language=r.language, rule=rules[key_])
            if broken:
                problems.append(f"{r.id}: counterpart of {r.pair_id} differs in {', '.join(broken)}")
    counts = dict(Counter(r.emotion for r in ds.records))
    if expected_per_emotion is not None:
        for emo, n in counts.items():
            if n != expected_per_emotion:
                problems.append(f"emotion {emo!r}: {n} records, expected {expected_per_emotion}")
    return ValidationReport(len(ds), counts, tuple(problems))


def require_min_per_emotion(ds: EmotionDataset, emotions: list[str], minimum: int = 2) -> None:
    """Raise unless every emotion in ``emotions`` has at least ``minimum`` records."""
    for emo in emotions:
        n = len(ds.by_emotion(emo))
        if n < minimum:
            raise DatasetError(f"emotion {emo!r} has {n} sentence(s) in {ds.source}; at least {minimum} are needed")


PROMPT_FILES: dict[str, str] = {"en": "steering_prompts.jsonl", "ja": "steering_prompts_ja.jsonl"}
"""The shipped neutral steering prompts per language."""


def load_prompts(path: str | Path | None = None, *, language: str = "en") -> list[str]:
    """Neutral generation prompts: the shipped set of ``language``, or a user JSONL (``text`` field) / plain-text file."""
    if path is None:
        if language not in PROMPT_FILES:
            raise DatasetError(f"no shipped steering prompts in language {language!r} (shipped: {', '.join(PROMPT_FILES)}); "
                               "give a prompt file")
        text = resources.files("interp").joinpath("data", PROMPT_FILES[language]).read_text(encoding="utf-8")
        return [json.loads(line)["text"] for line in text.splitlines() if line.strip()]
    p = Path(path)
    if not p.exists():
        raise DatasetError(f"prompt file {str(p)!r} does not exist")
    lines = [ln for ln in p.read_text(encoding="utf-8").splitlines() if ln.strip()]
    if not lines:
        raise DatasetError(f"prompt file {str(p)!r} is empty")
    if p.suffix.lower() == ".jsonl":
        out = []
        for i, ln in enumerate(lines, start=1):
            try:
                out.append(json.loads(ln)["text"])
            except (json.JSONDecodeError, KeyError, TypeError):
                raise DatasetError(f"{p}: line {i}: expected a JSON object with a 'text' field") from None
        return out
    return lines
