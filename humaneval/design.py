"""Blinded item sets: pairwise A/B, 1–5 naturalness and best–worst tuples of 4, with attention checks and a key.

Every output gets an opaque id (``o017``) and every item one (``q042``), both from a seeded shuffle, so
neither reveals the system. The item set's id is a hash of everything a rater sees (tone, items, texts);
forms and answer files carry it, and scoring refuses answers made for another set. The key (never given
to raters) maps output ids to systems and automatic scores and holds the attention checks' answers.
"""

import hashlib
import itertools
import json
import re
import warnings
from dataclasses import asdict, dataclass, field
from functools import cached_property
from pathlib import Path

import numpy as np

from humaneval.attention import CheckSpec, blinded_expected, check_plan
from humaneval.inputs import SystemOutput, select_systems
from interp.errors import ConfigError, DatasetError, EmotionCircuitsWarning
from interp.io import atomic_write_json, read_json

TASKS = ("pairwise", "bestworst", "naturalness")
"""Item kinds, in the order the form shows them."""
SCALE = (1, 2, 3, 4, 5)
TUPLE_SIZE = 4
KEY_FORMAT = "emotion-circuits-humaneval-key"
_RATER_RE = re.compile(r"^[A-Za-z0-9._-]{1,64}$")


@dataclass(frozen=True)
class Item:
    """One question: its kind, the prompt shown, and the blinded output ids it shows (canonical order)."""

    id: str
    kind: str
    prompt: str
    outputs: tuple[str, ...]


@dataclass(frozen=True)
class ItemSet:
    """What raters see, systems hidden: tone, items and texts (``{output id: text}``), and the set's id."""

    tone: str
    items: tuple[Item, ...]
    texts: dict[str, str]
    id: str

    def by_kind(self, kind: str) -> list[Item]:
        return [it for it in self.items if it.kind == kind]


@dataclass(frozen=True)
class KeyOutput:
    """Who wrote a blinded output: its system (None for an attention check's text), prompt and automatic scores."""

    system: str | None
    prompt: str
    scores: dict[str, float] = field(default_factory=dict)


@dataclass(frozen=True)
class Key:
    """The unblinding key: the item set plus output → system, check answers, raters and the config that made it."""

    item_set: ItemSet
    outputs: dict[str, KeyOutput]
    checks: dict[str, dict]
    systems: tuple[str, ...]
    raters: tuple[str, ...]
    config: dict

    def item(self, item_id: str) -> Item | None:
        return self._items.get(item_id)

    @cached_property
    def _items(self) -> dict[str, Item]:
        return {it.id: it for it in self.item_set.items}

    def to_dict(self) -> dict:
        s = self.item_set
        return {"format": KEY_FORMAT, "version": 1, "item_set": s.id, "tone": s.tone, "systems": list(self.systems),
                "raters": list(self.raters), "config": self.config,
                "items": [{"id": it.id, "kind": it.kind, "prompt": it.prompt, "outputs": list(it.outputs)} for it in s.items],
                "outputs": {oid: {"text": s.texts[oid], **asdict(o)} for oid, o in self.outputs.items()},
                "checks": self.checks}

    def save(self, path: str | Path) -> Path:
        return atomic_write_json(path, self.to_dict())


def item_set_id(tone: str, items: list[Item] | tuple[Item, ...], texts: dict[str, str]) -> str:
    """16 hex digits of SHA-256 over the canonical JSON of what raters see (order of items as stored)."""
    blob = json.dumps({"tone": tone, "items": [[it.id, it.kind, it.prompt, list(it.outputs)] for it in items],
                       "texts": sorted(texts.items())}, sort_keys=True, ensure_ascii=False)
    return hashlib.sha256(blob.encode("utf-8")).hexdigest()[:16]


def build_key(records: list[SystemOutput], *, tone: str, raters: list[str], tasks: list[str] | None = None,
              systems: list[str] | None = None, n_checks: int = 3, pairs_per_prompt: int | None = None,
              seed: int = 0) -> Key:
    """Blind ``records`` into an item set and its key.

    Pairwise: every pair of systems per prompt (or ``pairs_per_prompt`` of them at random), sides random.
    Best–worst: per prompt with at least 4 systems, the systems shuffled into tuples of 4 (the last topped up).
    Naturalness: one item per output. ``n_checks`` attention checks are spread over the tasks in turn.
    """
    tasks = _check_tasks(tasks)
    _check_raters(raters)
    if not tone.strip():
        raise ConfigError("--tone is empty; give the quality raters compare, e.g. 'grateful'")
    chosen = select_systems(records, systems)
    records = [r for r in records if r.system in chosen]
    rng = np.random.default_rng(seed)
    by_prompt = _group(records, chosen)
    raw = _raw_items(by_prompt, tasks, pairs_per_prompt, rng)
    if not raw:
        raise DatasetError("no items to rate: each task needs prompts with enough systems (pairwise 2, best–worst 4, "
                           "naturalness 1); check --systems and --tasks")
    prompts = list(by_prompt)
    # Checks go to tasks that have items, each under a real prompt: it stands out only by its texts.
    raw += [(spec.kind, prompts[int(rng.integers(len(prompts)))], spec.texts, spec)
            for spec in check_plan([t for t in tasks if any(kind == t for kind, *_ in raw)], n_checks)]
    return _blind(raw, tone=tone, systems=chosen, raters=raters, rng=rng,
                  config={"tasks": tasks, "n_checks": n_checks, "pairs_per_prompt": pairs_per_prompt, "seed": seed})


def load_key(path: str | Path) -> Key:
    """Read a key written by :meth:`Key.save`; refuse other files and keys whose items no longer match their id."""
    data = read_json(path)
    if not isinstance(data, dict) or data.get("format") != KEY_FORMAT:
        raise DatasetError(f"{str(path)!r} is not a human-evaluation key (no format {KEY_FORMAT!r}); "
                           "give the key.json that `humaneval make` wrote")
    try:
        items = tuple(Item(d["id"], d["kind"], d["prompt"], tuple(d["outputs"])) for d in data["items"])
        texts = {oid: o["text"] for oid, o in data["outputs"].items()}
        outputs = {oid: KeyOutput(o["system"], o["prompt"], dict(o.get("scores") or {})) for oid, o in data["outputs"].items()}
        key = Key(ItemSet(data["tone"], items, texts, data["item_set"]), outputs, dict(data["checks"]),
                  tuple(data["systems"]), tuple(data["raters"]), dict(data.get("config") or {}))
    except (KeyError, TypeError, AttributeError) as exc:
        raise DatasetError(f"key {str(path)!r} is damaged (missing or malformed {exc}); use the key.json that "
                           "`humaneval make` wrote") from None
    if item_set_id(key.item_set.tone, items, texts) != key.item_set.id:
        raise DatasetError(f"key {str(path)!r} was changed after it was made: its items no longer hash to its item set "
                           f"id {key.item_set.id}; use the key.json that `humaneval make` wrote")
    return key


def _check_raters(raters: list[str]) -> None:
    """Rater ids name their form files: safe single file names, unique, at least one."""
    if not raters:
        raise ConfigError("no raters: give --raters alice,bob or --n-raters 5")
    for r in raters:
        if not _RATER_RE.match(r) or r in (".", ".."):
            raise ConfigError(f"rater id {r!r} is not a safe file name; use letters, digits, '.', '_' and '-' (at most 64)")
    dup = sorted({r for r in raters if raters.count(r) > 1})
    if dup:
        raise ConfigError(f"rater id(s) {', '.join(map(repr, dup))} given twice; each rater needs their own id")


def _check_tasks(tasks: list[str] | None) -> list[str]:
    tasks = list(tasks or TASKS)
    bad = [t for t in tasks if t not in TASKS]
    if bad or not tasks:
        raise ConfigError(f"unknown task(s) {', '.join(map(repr, bad))} in --tasks; choose from {', '.join(TASKS)}")
    return [t for t in TASKS if t in tasks]


def _group(records: list[SystemOutput], systems: list[str]) -> dict[str, list[SystemOutput]]:
    """Prompt → its outputs in ``systems`` order (prompts in first-seen order)."""
    out: dict[str, list[SystemOutput]] = {}
    for r in records:
        out.setdefault(r.prompt, []).append(r)
    order = {s: i for i, s in enumerate(systems)}
    return {p: sorted(rs, key=lambda r: order[r.system]) for p, rs in out.items()}


RawItem = tuple[str, str, tuple, CheckSpec | None]
"""(kind, prompt, outputs: SystemOutput records or check texts, check spec or None)."""


def _raw_items(by_prompt: dict[str, list[SystemOutput]], tasks: list[str], pairs_per_prompt: int | None,
               rng: np.random.Generator) -> list[RawItem]:
    out: list[RawItem] = []
    for prompt, recs in by_prompt.items():
        if "pairwise" in tasks:
            out += [("pairwise", prompt, pair, None) for pair in _pairs(recs, pairs_per_prompt, rng)]
        if "bestworst" in tasks:
            out += [("bestworst", prompt, tup, None) for tup in _tuples(recs, rng)]
        if "naturalness" in tasks:
            out += [("naturalness", prompt, (r,), None) for r in recs]
    for task in tasks:
        if not any(kind == task for kind, *_ in out):
            need = {"pairwise": 2, "bestworst": TUPLE_SIZE}.get(task, 1)
            warnings.warn(f"no {task} items: no prompt has outputs from {need} of the chosen systems", EmotionCircuitsWarning)
    return out


def _pairs(recs: list[SystemOutput], limit: int | None, rng: np.random.Generator) -> list[tuple]:
    pairs = list(itertools.combinations(recs, 2))
    if limit is not None and limit < len(pairs):
        pairs = [pairs[i] for i in sorted(rng.choice(len(pairs), size=limit, replace=False))]
    return [p[::-1] if rng.random() < 0.5 else p for p in pairs]


def _tuples(recs: list[SystemOutput], rng: np.random.Generator) -> list[tuple]:
    if len(recs) < TUPLE_SIZE:
        return []
    perm = [recs[i] for i in rng.permutation(len(recs))]
    chunks = [perm[i:i + TUPLE_SIZE] for i in range(0, len(perm), TUPLE_SIZE)]
    last = chunks[-1]
    if len(last) < TUPLE_SIZE:
        others = [r for r in perm if r not in last]
        last += [others[i] for i in rng.choice(len(others), size=TUPLE_SIZE - len(last), replace=False)]
    return [tuple(c) for c in chunks]


def _blind(raw: list[RawItem], *, tone: str, systems: list[str], raters: list[str], rng: np.random.Generator,
           config: dict) -> Key:
    """Give outputs and items shuffled opaque ids; split what raters see from the key."""
    handles = [_handles(i, outs, spec) for i, (_, _, outs, spec) in enumerate(raw)]
    source = {h: src for hs, (_, _, outs, _) in zip(handles, raw) for h, src in zip(hs, outs)}
    unique = list(source)
    width = max(3, len(str(len(unique))))
    oid = {unique[i]: f"o{n + 1:0{width}d}" for n, i in enumerate(rng.permutation(len(unique)))}
    iwidth = max(3, len(str(len(raw))))
    items, checks = [], {}
    for n, i in enumerate(rng.permutation(len(raw))):
        kind, prompt, _, spec = raw[i]
        ids = tuple(oid[h] for h in handles[i])
        items.append(Item(f"q{n + 1:0{iwidth}d}", kind, prompt, ids))
        if spec is not None:
            checks[items[-1].id] = blinded_expected(spec, list(ids))
    items.sort(key=lambda it: it.id)
    texts = {oid[h]: src if isinstance(src, str) else src.output for h, src in source.items()}
    outputs = {oid[h]: KeyOutput(None, "", {}) if isinstance(src, str) else KeyOutput(src.system, src.prompt, dict(src.scores))
               for h, src in source.items()}
    item_set = ItemSet(tone, tuple(items), dict(sorted(texts.items())), item_set_id(tone, items, texts))
    return Key(item_set, dict(sorted(outputs.items())), dict(sorted(checks.items())), tuple(systems), tuple(raters), config)


def _handles(index: int, outs: tuple, spec: CheckSpec | None) -> list[tuple]:
    """Hashable handles of an item's outputs: one per record (shared across its items), or per check text."""
    if spec is not None:
        return [("check", index, j) for j in range(len(outs))]
    return [("output", id(r)) for r in outs]
