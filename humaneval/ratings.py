"""Rating files: read, check against the key, and sort into usable files and skipped ones.

Policy: a file for another item set, or two files from one rater, stops scoring (DatasetError: the wrong key
or a doubled rater would silently change every number). A malformed file (not JSON, wrong format, an unknown
item, an impossible answer, a rater the key does not list) is skipped whole with a warning naming it and why;
every other rater's answers are scored. No usable file at all is an error.
"""

import json
import warnings
from dataclasses import asdict, dataclass
from pathlib import Path

from humaneval.design import SCALE, Item, Key
from humaneval.form import ANSWER_FORMAT
from interp.errors import DatasetError, EmotionCircuitsWarning


@dataclass(frozen=True)
class RatingFile:
    """One rater's checked answers (each a dict as the form writes it: item, kind, shown and the answer)."""

    path: str
    rater: str
    answers: tuple[dict, ...]

    def by_item(self) -> dict[str, dict]:
        return {a["item"]: a for a in self.answers}


@dataclass(frozen=True)
class SkippedFile:
    """A malformed rating file left out of scoring, and why."""

    path: str
    reason: str

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class Ratings:
    """The usable rating files (one per rater) and the malformed ones that were skipped."""

    files: tuple[RatingFile, ...]
    skipped: tuple[SkippedFile, ...]


class MalformedRating(DatasetError):
    """A rating file that cannot be used; the message says why (scoring skips it, the answers receiver rejects it)."""


def rating_paths(paths: list[str | Path]) -> list[Path]:
    """Files as given, folders expanded to their ``*.json`` files (sorted); a missing path is an error."""
    out: list[Path] = []
    for p in map(Path, paths):
        if p.is_dir():
            out += sorted(q for q in p.glob("*.json") if q.is_file())
        elif p.is_file():
            out.append(p)
        else:
            raise DatasetError(f"rating file {str(p)!r} does not exist; give answer files or folders holding them")
    if not out:
        raise DatasetError("no rating files given (folders held no *.json); give the answers-*.json files the forms saved")
    return out


def load_ratings(key: Key, paths: list[str | Path]) -> Ratings:
    """Read every rating file; raise on another item set or a doubled rater, skip (and warn about) malformed ones."""
    files, skipped = [], []
    for p in rating_paths(paths):
        try:
            files.append(_read(p, key))
        except MalformedRating as exc:
            skipped.append(SkippedFile(str(p), str(exc)))
    _refuse_duplicates(files)
    for s in skipped:
        warnings.warn(f"skipped malformed rating file {s.path!r}: {s.reason}; the other files are scored", EmotionCircuitsWarning)
    if not files:
        raise DatasetError(f"none of the {len(skipped)} rating file(s) is usable (first: {skipped[0].path!r}: {skipped[0].reason})")
    return Ratings(tuple(files), tuple(skipped))


def _read(path: Path, key: Key) -> RatingFile:
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise MalformedRating(f"not valid JSON ({exc})") from None
    return parse_rating(text, key, source=str(path))


def parse_rating(text: str, key: Key, *, source: str) -> RatingFile:
    """One rating file's JSON text checked against ``key``; ``source`` names it in messages and as the result's path.

    Raises MalformedRating (why it cannot be used) or DatasetError (it was made for another item set).
    """
    items = {it.id: it for it in key.item_set.items}
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise MalformedRating(f"not valid JSON ({exc.msg})") from None
    if not isinstance(data, dict) or data.get("format") != ANSWER_FORMAT:
        raise MalformedRating(f"not an answer file (no format {ANSWER_FORMAT!r})")
    if "item_set" in data and data["item_set"] != key.item_set.id:
        raise DatasetError(f"rating file {source!r} is for item set {data['item_set']!r}, not {key.item_set.id!r} "
                           "(this key's); score it with the key.json made with its forms")
    rater = data.get("rater")
    if not isinstance(rater, str) or not rater:
        raise MalformedRating("field 'rater' is missing")
    if rater not in key.raters:
        raise MalformedRating(f"rater {rater!r} is not one of the key's raters ({', '.join(key.raters)})")
    if "item_set" not in data:
        raise MalformedRating("field 'item_set' is missing")
    answers = data.get("answers")
    if not isinstance(answers, list):
        raise MalformedRating("field 'answers' is missing or not a list")
    seen: set[str] = set()
    for n, a in enumerate(answers, 1):
        _check_answer(a, items, n)
        if a["item"] in seen:
            raise MalformedRating(f"answer {n}: item {a['item']!r} is answered twice")
        seen.add(a["item"])
    return RatingFile(source, rater, tuple(answers))


def _check_answer(a: object, items: dict[str, Item], n: int) -> None:
    if not isinstance(a, dict) or not isinstance(a.get("item"), str) or a["item"] not in items:
        item = a.get("item") if isinstance(a, dict) else None
        raise MalformedRating(f"answer {n}: item {item!r} is not in the item set")
    item = items[a["item"]]
    if a.get("kind", item.kind) != item.kind:
        raise MalformedRating(f"answer {n}: item {item.id} is a {item.kind} item, not {a.get('kind')!r}")
    shown = a.get("shown", list(item.outputs))
    if not isinstance(shown, list) or sorted(map(str, shown)) != sorted(item.outputs):
        raise MalformedRating(f"answer {n}: 'shown' is not an ordering of item {item.id}'s outputs")
    problem = _ANSWER_CHECKS[item.kind](a, item)
    if problem:
        raise MalformedRating(f"answer {n} (item {item.id}): {problem}")


def _pairwise(a: dict, item: Item) -> str | None:
    return None if a.get("choice") in item.outputs else f"choice {a.get('choice')!r} is not one of {', '.join(item.outputs)}"


def _naturalness(a: dict, item: Item) -> str | None:
    r = a.get("rating")
    return None if type(r) is int and r in SCALE else f"rating {r!r} is not an integer {SCALE[0]}–{SCALE[-1]}"


def _bestworst(a: dict, item: Item) -> str | None:
    best, worst = a.get("best"), a.get("worst")
    if best not in item.outputs or worst not in item.outputs:
        return f"best {best!r} / worst {worst!r} must both be among {', '.join(item.outputs)}"
    return "best and worst are the same text" if best == worst else None


_ANSWER_CHECKS = {"pairwise": _pairwise, "naturalness": _naturalness, "bestworst": _bestworst}


def _refuse_duplicates(files: list[RatingFile]) -> None:
    first: dict[str, str] = {}
    for f in files:
        if f.rater in first:
            raise DatasetError(f"rater {f.rater!r} has two rating files: {first[f.rater]!r} and {f.path!r}; "
                               "keep one (each rater is counted once)")
        first[f.rater] = f.path
