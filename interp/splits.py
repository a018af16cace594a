"""Selection / evaluation splits: every selection on one split, every reported effect on the other.

A careful analysis chooses things (the strongest band, the top heads, the best sweep cell, the
usable window, probe settings) on a *selection* split and reports effects on a disjoint
*evaluation* split. This module makes those splits, deterministically from a seed, and checks
that two sets really are disjoint (by id and by normalised text).

Records are assigned by a hash of ``seed`` and their *group key*: a record's ``pair_id`` when it
has one (a matched neutral counterpart follows its emotion sentence into the same split),
otherwise its ``id``. Within each label the records are ordered by that hash and the first
``round(fraction · n)`` go to the selection split, so the split is stable when records are
appended and does not depend on file order. A record that carries its own ``split`` field
(``selection`` or ``evaluation``, validated by :mod:`interp.datasets`) is put there, with its pair; the
seeded hash splits only the records without one.
"""

import hashlib
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass

from interp.datasets import EmotionDataset, EmotionRecord
from interp.errors import DatasetError

SPLIT_NAMES = ("selection", "evaluation")
SPLIT_METHODS = ("halves", "profile")
"""``halves``: split the study's dataset per label by seeded hash; ``profile``: selection = the study's
profile, evaluation = another profile's records not in it (e.g. baseline vs the extended additions)."""


def _rank(seed: int, key: str) -> str:
    return hashlib.sha256(f"{seed}:{key}".encode()).hexdigest()


def normalise_text(text: str) -> str:
    """NFKC, case-folded, whitespace-collapsed text: the identity used for overlap checks."""
    return " ".join(unicodedata.normalize("NFKC", text).casefold().split())


def group_key(r: EmotionRecord) -> str:
    """The key that decides a record's split: its ``pair_id`` where it has one, else its ``id``."""
    return getattr(r, "pair_id", None) or r.id


@dataclass(frozen=True)
class DataSplit:
    """A dataset split into disjoint ``selection`` and ``evaluation`` parts (original order kept in each)."""

    selection: EmotionDataset
    evaluation: EmotionDataset
    method: str
    seed: int
    fraction: float

    def part(self, name: str) -> EmotionDataset:
        """The split called ``name`` (``selection`` or ``evaluation``)."""
        if name not in SPLIT_NAMES:
            raise DatasetError(f"unknown split {name!r}; choose one of {', '.join(SPLIT_NAMES)}")
        return self.selection if name == "selection" else self.evaluation

    def indices(self, name: str, ids: Sequence[str]) -> list[int]:
        """Positions in ``ids`` (e.g. a dataset's or an activation store's record ids) of the records in split ``name``."""
        keep = {r.id for r in self.part(name).records}
        return [i for i, x in enumerate(ids) if x in keep]

    def describe(self) -> dict:
        """What a report states about the split: method, sizes per label, and a hash of each part."""
        def counts(ds: EmotionDataset) -> dict[str, int]:
            return {e: len(ds.by_emotion(e)) for e in ds.emotions}

        return {"method": self.method, "seed": self.seed, "fraction": self.fraction,
                "selection": {"n": len(self.selection), "per_label": counts(self.selection), "hash": self.selection.hash()},
                "evaluation": {"n": len(self.evaluation), "per_label": counts(self.evaluation), "hash": self.evaluation.hash()}}


def check_disjoint(a: Sequence[EmotionRecord], b: Sequence[EmotionRecord], *, what: str = "selection and evaluation splits") -> None:
    """Raise a :class:`DatasetError` naming the first shared ids / texts when ``a`` and ``b`` overlap."""
    ids = {r.id for r in a} & {r.id for r in b}
    texts_a = {normalise_text(r.text): r.id for r in a}
    shared_text = [(texts_a[normalise_text(r.text)], r.id) for r in b if normalise_text(r.text) in texts_a]
    if ids or shared_text:
        shown = sorted(ids)[:3] or [f"{x} = {y}" for x, y in shared_text[:3]]
        n = max(len(ids), len(shared_text))
        raise DatasetError(f"the {what} overlap in {n} record(s) (e.g. {', '.join(shown)}); every reported effect must come from "
                           "sentences that took no part in the selection: use disjoint files or split one dataset with "
                           "interp.splits.split_dataset")


def split_dataset(ds: EmotionDataset, *, fraction: float = 0.5, seed: int = 0) -> DataSplit:
    """Split ``ds`` per label into selection (``fraction``) and evaluation (the rest) by seeded hash of the group key.

    Records with a ``split`` field (and the records paired with them) go to that split; ``fraction`` applies to the rest.
    """
    if not 0.0 < fraction < 1.0:
        raise DatasetError(f"split fraction must be strictly between 0 and 1 (share of each label used for selection), got {fraction}")
    ids = {r.id for r in ds.records}

    def follows(r: EmotionRecord) -> bool:
        pid = getattr(r, "pair_id", None)
        return bool(pid) and pid != r.id and pid in ids

    fixed: dict[str, str] = {}  # leader id -> the split its record or a follower fixes
    for r in ds.records:
        if getattr(r, "split", None):
            fixed.setdefault(r.pair_id if follows(r) else r.id, r.split)
    leaders: dict[str, list[EmotionRecord]] = {}
    for r in ds.records:
        if not follows(r) and r.id not in fixed:
            leaders.setdefault(r.emotion, []).append(r)
    selected: set[str] = {rid for rid, part in fixed.items() if part == "selection"}
    for rs in leaders.values():
        ranked = sorted(rs, key=lambda r: _rank(seed, r.id))
        selected.update(r.id for r in ranked[:round(fraction * len(rs))])
    selected.update(r.id for r in ds.records if follows(r) and r.pair_id in selected)
    by_label: dict[str, list[EmotionRecord]] = {}
    for r in ds.records:
        by_label.setdefault(r.emotion, []).append(r)
    sel = tuple(r for r in ds.records if r.id in selected)
    ev = tuple(r for r in ds.records if r.id not in selected)
    for label, rs in by_label.items():
        n_sel = sum(r.emotion == label for r in sel)
        if n_sel == 0 or n_sel == len(rs):
            raise DatasetError(f"label {label!r} has {len(rs)} record(s), too few to split into selection and evaluation "
                               f"(fraction {fraction}); add sentences or use --split profile with a second dataset")
    check_disjoint(sel, ev)
    return DataSplit(EmotionDataset(sel, ds.source, ds.profile), EmotionDataset(ev, ds.source, ds.profile), "halves", seed, fraction)


def split_by_profile(selection: EmotionDataset, evaluation: EmotionDataset) -> DataSplit:
    """Selection = ``selection``; evaluation = the records of ``evaluation`` not in it (by id). Checked disjoint by text."""
    sel_ids = {r.id for r in selection.records}
    ev = tuple(r for r in evaluation.records if r.id not in sel_ids)
    if not ev:
        raise DatasetError(f"the evaluation dataset {evaluation.source!r} adds no records to the selection dataset "
                           f"{selection.source!r}; choose an evaluation profile with sentences of its own (e.g. 'extended')")
    check_disjoint(selection.records, ev)
    n = len(selection) + len(ev)
    return DataSplit(selection, EmotionDataset(ev, evaluation.source, evaluation.profile), "profile", 0, len(selection) / n)


def split_indices(keys: Sequence[str], *, fraction: float = 0.5, seed: int = 0) -> tuple[list[int], list[int]]:
    """Split items (e.g. steering prompts, identified by their text) into selection / evaluation index lists.

    Deterministic from ``seed`` and the keys; both lists keep the input order. Duplicate keys are an error
    (a prompt in both halves would leak).
    """
    if len(set(keys)) != len(keys):
        dup = next(k for k in keys if list(keys).count(k) > 1)
        raise DatasetError(f"duplicate item {dup!r}: a repeated prompt or sentence could land in both splits; remove duplicates")
    if len(keys) < 2:
        raise DatasetError(f"{len(keys)} item(s) cannot be split into selection and evaluation; give at least 2")
    if not 0.0 < fraction < 1.0:
        raise DatasetError(f"split fraction must be strictly between 0 and 1, got {fraction}")
    n_sel = min(max(1, round(fraction * len(keys))), len(keys) - 1)
    ranked = sorted(range(len(keys)), key=lambda i: _rank(seed, keys[i]))
    sel = sorted(ranked[:n_sel])
    return sel, sorted(ranked[n_sel:])


def require_count(n_have: int, n_need: int, *, what: str, split: str, fix: str) -> None:
    """Raise a :class:`DatasetError` when a split holds fewer items than an analysis needs."""
    if n_have < n_need:
        raise DatasetError(f"the {split} split has {n_have} {what}; {n_need} are needed; {fix}")
