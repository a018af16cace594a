"""The outputs to be rated: one record per (prompt, system) with the system's text and optional automatic scores.

File format: JSONL (one object per line) or JSON (a list of objects, or ``{"items": [...]}``). Each object has
``prompt`` (the shared prompt every system answered; shown to raters), ``system`` (e.g. ``none``, ``prompting``,
``steering``, ``module``; never shown), ``output`` (the text rated) and optionally ``scores``
(``{"vader": 0.41, ...}``: automatic scorers to compare with the raters).
"""

import json
import math
from dataclasses import dataclass, field
from pathlib import Path

from interp.errors import ConfigError, DatasetError

FIELDS = ("prompt", "system", "output")


@dataclass(frozen=True)
class SystemOutput:
    """One system's text for one prompt, with its automatic scores (``{scorer: value}``)."""

    prompt: str
    system: str
    output: str
    scores: dict[str, float] = field(default_factory=dict)


def load_outputs(path: str | Path) -> list[SystemOutput]:
    """Read and check an outputs file; raise DatasetError naming the line (or entry) and field."""
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise DatasetError(f"outputs file {str(p)!r} does not exist") from None
    except UnicodeDecodeError:
        raise DatasetError(f"outputs file {str(p)!r} is not UTF-8 text") from None
    rows = _json_rows(text, str(p))
    if not rows:
        raise DatasetError(f"outputs file {str(p)!r} is empty: it holds no items; give one object per (prompt, system) "
                           "with fields prompt, system, output")
    records = [_record(obj, where) for where, obj in rows]
    _check_unique(records, str(p))
    return records


def select_systems(records: list[SystemOutput], systems: list[str] | None, *, source: str = "the outputs file") -> list[str]:
    """The systems to rate, in order: ``systems`` if given (each must occur in ``records``), else all in first-seen order."""
    present = list(dict.fromkeys(r.system for r in records))
    if not systems:
        return present
    unknown = [s for s in systems if s not in present]
    if unknown:
        raise ConfigError(f"unknown system name(s) {', '.join(map(repr, unknown))} in --systems; "
                          f"{source} has: {', '.join(present)}")
    if len(set(systems)) != len(systems):
        raise ConfigError(f"--systems lists a system twice ({','.join(systems)}); name each once")
    return list(systems)


def _json_rows(text: str, source: str) -> list[tuple[str, object]]:
    """(where, object) pairs from a JSON list, ``{"items": [...]}`` or JSONL."""
    if not text.strip():
        return []
    try:
        data = json.loads(text)
    except json.JSONDecodeError:
        data = None  # not one JSON document: read it as JSONL
    if isinstance(data, dict) and isinstance(data.get("items"), list):
        data = data["items"]
    if isinstance(data, list):
        return [(f"{source}: entry {i + 1}", obj) for i, obj in enumerate(data)]
    rows = []
    for lineno, line in enumerate(text.splitlines(), 1):
        if line.strip():
            try:
                rows.append((f"{source}: line {lineno}", json.loads(line)))
            except json.JSONDecodeError as exc:
                raise DatasetError(f"{source}: line {lineno}: not valid JSON ({exc.msg})") from None
    return rows


def _record(obj: object, where: str) -> SystemOutput:
    if not isinstance(obj, dict):
        raise DatasetError(f"{where}: expected a JSON object with fields {', '.join(FIELDS)}")
    for key in FIELDS:
        val = obj.get(key)
        if not isinstance(val, str) or not val.strip():
            raise DatasetError(f"{where}: field {key!r} is missing or not a non-empty string")
    scores = obj.get("scores", {}) or {}
    if not isinstance(scores, dict):
        raise DatasetError(f"{where}: field 'scores' must be an object like {{\"vader\": 0.4}}")
    clean = {}
    for name, val in scores.items():
        if isinstance(val, bool) or not isinstance(val, (int, float)) or not math.isfinite(val):
            raise DatasetError(f"{where}: scores[{name!r}] is {val!r}; each score must be a finite number (leave it out if unknown)")
        clean[str(name)] = float(val)
    return SystemOutput(obj["prompt"], obj["system"].strip(), obj["output"], clean)


def _check_unique(records: list[SystemOutput], source: str) -> None:
    seen: set[tuple[str, str]] = set()
    for r in records:
        key = (r.prompt, r.system)
        if key in seen:
            raise DatasetError(f"{source}: system {r.system!r} has two outputs for prompt {r.prompt[:60]!r}; "
                               "keep one output per (prompt, system)")
        seen.add(key)
