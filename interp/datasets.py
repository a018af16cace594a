"""Emotion sentence sets: records, loading (package profiles or user JSONL/CSV), validation, hashing.

Schema of one record (JSONL line or CSV row): ``id, text, emotion, spans, language, attribute``.
``spans`` is a list of ``[start, end)`` character offsets of the explicit emotion word(s);
in CSV it is a JSON string (``"[[0, 5]]"``). Profiles: ``baseline`` (70 per emotion) and
``extended`` (baseline + 100 more per emotion, 680 sentences).
"""

import csv
import hashlib
import io
import json
import re
from collections import Counter
from dataclasses import asdict, dataclass, field
from importlib import resources
from pathlib import Path

from interp.errors import DatasetError
from interp.lexicon import EMOTION_WORDS, STRONG_AFFECT_WORDS, words

PROFILES: dict[str, tuple[str, ...]] = {
    "baseline": ("emotions_baseline.jsonl",),
    "extended": ("emotions_baseline.jsonl", "emotions_extended.jsonl"),
}
REQUIRED_FIELDS = ("id", "text", "emotion", "spans", "language", "attribute")


@dataclass(frozen=True)
class EmotionRecord:
    """One sentence with its label and the character spans of its emotion word(s)."""

    id: str
    text: str
    emotion: str
    spans: tuple[tuple[int, int], ...] = ()
    language: str = "en"
    attribute: str = "emotion"

    def to_dict(self) -> dict:
        d = asdict(self)
        d["spans"] = [list(s) for s in self.spans]
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
        if not (isinstance(s, (list, tuple)) and len(s) == 2 and all(isinstance(x, int) for x in s)):
            raise DatasetError(f"{where}: field 'spans' has {s!r}; each span must be [start, end] integers")
        a, b = s
        if not 0 <= a < b <= len(text):
            raise DatasetError(f"{where}: field 'spans' has [{a}, {b}] outside the text (length {len(text)})")
        spans.append((a, b))
    for key in ("language", "attribute"):
        if key in obj and not isinstance(obj[key], str):
            raise DatasetError(f"{where}: field {key!r} must be a string")
    return EmotionRecord(
        id=obj["id"], text=text, emotion=obj["emotion"], spans=tuple(spans),
        language=obj.get("language", "en") or "en", attribute=obj.get("attribute", "emotion") or "emotion",
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


def load_file(path: str | Path) -> EmotionDataset:
    """Load a user dataset (``.jsonl`` / ``.json`` lines or ``.csv``) in the record schema."""
    p = Path(path)
    if not p.exists():
        raise DatasetError(f"dataset file {str(p)!r} does not exist")
    try:
        text = p.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise DatasetError(f"dataset file {str(p)!r} is not UTF-8 text") from None
    records = parse_csv(text, str(p)) if p.suffix.lower() == ".csv" else parse_jsonl(text, str(p))
    if not records:
        raise DatasetError(f"dataset file {str(p)!r} is empty: it holds no records")
    _check_unique_ids(records, str(p))
    return EmotionDataset(tuple(records), str(p))


def load_profile(profile: str) -> EmotionDataset:
    """The shipped dataset of a profile (``baseline`` or ``extended``)."""
    if profile not in PROFILES:
        raise DatasetError(f"unknown profile {profile!r}; choose one of: {', '.join(PROFILES)}")
    records: list[EmotionRecord] = []
    for fname in PROFILES[profile]:
        text = resources.files("interp").joinpath("data", fname).read_text(encoding="utf-8")
        records.extend(parse_jsonl(text, fname))
    _check_unique_ids(records, profile)
    return EmotionDataset(tuple(records), f"package:{profile}", profile)


def load_dataset(profile_or_path: str | Path) -> EmotionDataset:
    """A profile name (``baseline``/``extended``) or a path to a user file."""
    if str(profile_or_path) in PROFILES:
        return load_profile(str(profile_or_path))
    return load_file(profile_or_path)


def _check_unique_ids(records: list[EmotionRecord], source: str) -> None:
    dup = [k for k, n in Counter(r.id for r in records).items() if n > 1]
    if dup:
        raise DatasetError(f"{source}: duplicate id(s): {', '.join(dup[:5])}; ids must be unique")


_NORM_RE = re.compile(r"[^a-z0-9 ]+")


def _normalise(text: str) -> str:
    return " ".join(_NORM_RE.sub(" ", text.lower()).split())


@dataclass(frozen=True)
class ValidationReport:
    """Problems found by :func:`validate`; ``ok`` when there are none."""

    n_records: int
    counts: dict[str, int]
    problems: tuple[str, ...]

    @property
    def ok(self) -> bool:
        return not self.problems


def validate(ds: EmotionDataset, *, min_words: int = 4, max_words: int = 16,
             expected_per_emotion: int | None = None) -> ValidationReport:
    """Check the dataset rules.

    Rules: unique ids and texts (case/punctuation-insensitive); every non-neutral record
    of a known emotion has ≥1 span, each span covers a word of that emotion's lexicon and
    the text has no other emotion's words; neutral records have no spans and no emotion or
    strong-affect words; word counts within [min_words, max_words]; optionally an exact
    count per emotion.
    """
    problems: list[str] = []
    seen: dict[str, str] = {}
    for r in ds.records:
        key = _normalise(r.text)
        if key in seen:
            problems.append(f"{r.id}: duplicate text of {seen[key]}")
        seen.setdefault(key, r.id)
        n_words = len(r.text.split())
        if not min_words <= n_words <= max_words:
            problems.append(f"{r.id}: {n_words} words, outside [{min_words}, {max_words}]")
        ws = set(words(r.text))
        if r.emotion == "neutral":
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
        elif not r.spans and r.attribute == "emotion":
            problems.append(f"{r.id}: emotion {r.emotion!r} record has no span")
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


def load_prompts(path: str | Path | None = None) -> list[str]:
    """Neutral generation prompts: the shipped set, or a user JSONL (``text`` field) / plain-text file."""
    if path is None:
        text = resources.files("interp").joinpath("data", "steering_prompts.jsonl").read_text(encoding="utf-8")
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
