"""Selection / evaluation splits: disjoint, deterministic, pairs kept together, overlaps refused."""

import dataclasses

import pytest

from interp.datasets import EmotionDataset, EmotionRecord, load_profile
from interp.errors import DatasetError
from interp.splits import check_disjoint, split_by_profile, split_dataset, split_indices


def _ds(n: int = 10) -> EmotionDataset:
    recs = [EmotionRecord(f"{e}-{i}", f"{e} sentence number {i}.", e) for e in ("gratitude", "neutral") for i in range(n)]
    return EmotionDataset(tuple(recs), "mem")


def test_split_dataset_disjoint_and_balanced():
    sp = split_dataset(_ds(10), fraction=0.5, seed=0)
    sel, ev = {r.id for r in sp.selection.records}, {r.id for r in sp.evaluation.records}
    assert not sel & ev and len(sel | ev) == 20
    assert sp.describe()["selection"]["per_label"] == {"gratitude": 5, "neutral": 5}


def test_split_dataset_deterministic_and_seeded():
    a = split_dataset(_ds(10), seed=0)
    b = split_dataset(_ds(10), seed=0)
    c = split_dataset(_ds(10), seed=1)
    assert a.selection.hash() == b.selection.hash()
    assert a.selection.hash() != c.selection.hash()


def test_split_dataset_stable_under_append():
    small = {r.id for r in split_dataset(_ds(10), seed=3).selection.records}
    big = {r.id for r in split_dataset(_ds(40), seed=3).selection.records}
    # appending records never moves an old record from evaluation into selection except by rank; most stay
    assert len(small & big) >= 3


def test_split_dataset_keeps_pairs_together():
    import dataclasses

    @dataclasses.dataclass(frozen=True)
    class Paired(EmotionRecord):
        pair_id: str | None = None

    emo = [Paired(f"g-{i}", f"Thank you for item {i}.", "gratitude") for i in range(12)]
    neu = [Paired(f"n-{i}", f"Here is the item {i}.", "neutral", pair_id=f"g-{i}") for i in range(12)]
    sp = split_dataset(EmotionDataset(tuple(emo + neu), "mem"), seed=0)
    sel = {r.id for r in sp.selection.records}
    for i in range(12):
        assert (f"g-{i}" in sel) == (f"n-{i}" in sel)


def test_split_dataset_record_split_field_overrides_the_hash_and_carries_the_pair():
    base = split_dataset(_ds(10), seed=0)
    flip = [r for r in base.evaluation.records if r.emotion == "gratitude"][:2]
    recs = [dataclasses.replace(r, split="selection") if r in flip else r for r in _ds(10).records]
    recs.append(EmotionRecord("n-pair", "A matched plain sentence.", "neutral", pair_id=flip[0].id))
    sp = split_dataset(EmotionDataset(tuple(recs), "mem"), seed=0)
    sel = {r.id for r in sp.selection.records}
    assert {r.id for r in flip} | {"n-pair"} <= sel
    # the free records of each label are still split by the seeded hash at the fraction
    free = [r for r in recs if r.emotion == "gratitude" and r not in flip and not r.split]
    assert sum(r.id in sel for r in free) == round(0.5 * len(free))
    fixed_ev = [dataclasses.replace(r, split="evaluation") if r.id == sorted(sel)[0] else r for r in recs]
    assert sorted(sel)[0] in {r.id for r in split_dataset(EmotionDataset(tuple(fixed_ev), "mem"), seed=0).evaluation.records}


def test_split_dataset_too_small_is_error():
    recs = (EmotionRecord("a", "Thanks.", "gratitude"), EmotionRecord("b", "Here.", "neutral"), EmotionRecord("c", "There.", "neutral"))
    with pytest.raises(DatasetError, match="too few to split"):
        split_dataset(EmotionDataset(recs, "mem"))


def test_check_disjoint_finds_text_overlap():
    a = [EmotionRecord("x1", "Thank you so much.", "gratitude")]
    b = [EmotionRecord("y1", "thank  you so MUCH.", "gratitude")]
    with pytest.raises(DatasetError, match="overlap"):
        check_disjoint(a, b)


def test_split_by_profile_baseline_vs_extended():
    sp = split_by_profile(load_profile("baseline"), load_profile("extended"))
    assert len(sp.evaluation) == len(load_profile("extended")) - len(load_profile("baseline"))
    with pytest.raises(DatasetError, match="adds no records"):
        split_by_profile(load_profile("baseline"), load_profile("baseline"))


def test_split_indices_disjoint_and_duplicates_refused():
    keys = [f"prompt {i}" for i in range(20)]
    sel, ev = split_indices(keys, seed=0)
    assert not set(sel) & set(ev) and sorted(sel + ev) == list(range(20)) and len(sel) == 10
    with pytest.raises(DatasetError, match="duplicate"):
        split_indices(["a", "b", "a"])


def test_split_indices_of_ids_follow_the_parts():
    ds = _ds(6)
    sp = split_dataset(ds, seed=0)
    ids = [r.id for r in ds.records]
    sel, ev = sp.indices("selection", ids), sp.indices("evaluation", ids)
    assert sorted(sel + ev) == list(range(len(ids)))
    assert {ids[i] for i in sel} == {r.id for r in sp.selection.records}
