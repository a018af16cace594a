"""Item sets: counts per task, blinding, stable ids, per-rater shuffles, attention checks, the key file."""

import json
import math
import warnings
from collections import Counter

import pytest

from humaneval.design import build_key, load_key
from humaneval.form import rater_items, render_form
from humaneval.inputs import SystemOutput, load_outputs
from interp.errors import ConfigError, DatasetError, EmotionCircuitsWarning
from tests.humaneval import simulate as sim

SYSTEMS = ["none", "prompting", "steering", "module"]


def _records(n_prompts=5, systems=SYSTEMS):
    return [SystemOutput(f"prompt {p}", s, f"text {p} by {s}", {"auto": float(i)}) for p in range(n_prompts)
            for i, s in enumerate(systems)]


def test_design_item_counts_per_task():
    key = build_key(_records(5), tone="grateful", raters=["a"], n_checks=3)
    kinds = Counter(it.kind for it in key.item_set.items if it.id not in key.checks)
    assert kinds == {"pairwise": 5 * math.comb(4, 2), "bestworst": 5, "naturalness": 20}
    assert Counter(key.item_set.items[i].kind for i in range(len(key.item_set.items))
                   if key.item_set.items[i].id in key.checks) == {"pairwise": 1, "bestworst": 1, "naturalness": 1}


def test_design_pairs_cover_every_system_pair_and_tuples_every_system():
    key = build_key(_records(3, [f"s{i}" for i in range(6)]), tone="calm", raters=["a"], n_checks=0)
    sys_of = {o: k.system for o, k in key.outputs.items()}
    pairs = Counter(frozenset(sys_of[o] for o in it.outputs) for it in key.item_set.by_kind("pairwise"))
    assert len(pairs) == 15 and set(pairs.values()) == {3}
    for prompt in {it.prompt for it in key.item_set.items}:
        tuples = [it for it in key.item_set.by_kind("bestworst") if it.prompt == prompt]
        assert len(tuples) == 2 and all(len(set(it.outputs)) == 4 for it in tuples)
        assert {sys_of[o] for it in tuples for o in it.outputs} == {f"s{i}" for i in range(6)}


def test_design_pairs_per_prompt_limits_pairwise_items():
    key = build_key(_records(4), tone="grateful", raters=["a"], n_checks=0, pairs_per_prompt=2, tasks=["pairwise"])
    assert len(key.item_set.items) == 8


def test_design_is_blind_and_stable():
    recs = _records(4)
    key = build_key(recs, tone="grateful", raters=["a", "b"], seed=3)
    again = build_key(recs, tone="grateful", raters=["a", "b"], seed=3)
    assert key.item_set.id == again.item_set.id and len(key.item_set.id) == 16
    other = build_key(recs[:-1] + [SystemOutput(recs[-1].prompt, recs[-1].system, "changed text")], tone="grateful",
                      raters=["a", "b"], seed=3)
    assert other.item_set.id != key.item_set.id
    hidden = ["SysAlpha", "SysBeta", "SysGamma", "SysDelta"]
    secret = build_key([SystemOutput(f"prompt {p}", s, f"text {p}.{i}") for p in range(3) for i, s in enumerate(hidden)],
                       tone="grateful", raters=["a"])
    page = render_form(secret, "a", seed=3)
    assert "text 2.3" in page and not any(s in page for s in hidden), "a system name leaked into the form"
    assert all(oid.startswith("o") and oid[1:].isdigit() for oid in key.outputs)


def test_design_each_rater_sees_their_own_order_of_the_same_items():
    key = build_key(_records(6), tone="grateful", raters=["a", "b"], seed=0)
    a, b = rater_items(key, "a"), rater_items(key, "b")
    assert [it.id for it, _ in a] != [it.id for it, _ in b]
    assert sorted(it.id for it, _ in a) == sorted(it.id for it, _ in b) == sorted(it.id for it in key.item_set.items)
    assert [kind for kind in dict.fromkeys(it.kind for it, _ in a)] == ["pairwise", "bestworst", "naturalness"]
    assert rater_items(key, "a") == a, "a rater's order is reproducible"
    firsts = Counter(order[0] == it.outputs[0] for it, order in a if it.kind == "pairwise")
    assert firsts[True] > 0 and firsts[False] > 0, "sides are shuffled per rater"


def test_design_checks_have_their_expected_answers_in_blinded_ids():
    key = build_key(_records(2), tone="grateful", raters=["a"], n_checks=4)
    assert len(key.checks) == 4
    for item_id, exp in key.checks.items():
        item = key.item(item_id)
        assert all(key.outputs[o].system is None for o in item.outputs)
        if item.kind == "pairwise":
            assert "choose this text" in key.item_set.texts[exp["choice"]]
        if item.kind == "bestworst":
            assert "as MOST" in key.item_set.texts[exp["best"]] and "as LEAST" in key.item_set.texts[exp["worst"]]


def test_design_warns_when_a_task_has_no_items():
    with pytest.warns(EmotionCircuitsWarning, match="no bestworst items"):
        key = build_key(_records(2, SYSTEMS[:3]), tone="grateful", raters=["a"])
    assert not key.item_set.by_kind("bestworst"), "no lone best–worst attention check either"
    assert len(key.checks) == 3


def test_key_round_trips_and_refuses_edits(tmp_path):
    key = build_key(_records(3), tone="grateful", raters=["a", "b"])
    path = key.save(tmp_path / "key.json")
    back = load_key(path)
    assert back.item_set == key.item_set and back.outputs == key.outputs and back.checks == key.checks
    data = json.loads(path.read_text())
    first = next(iter(data["outputs"]))
    data["outputs"][first]["text"] = "edited"
    path.write_text(json.dumps(data))
    with pytest.raises(DatasetError, match="changed after it was made"):
        load_key(path)
    (tmp_path / "other.json").write_text("{}")
    with pytest.raises(DatasetError, match="not a human-evaluation key"):
        load_key(tmp_path / "other.json")


def test_inputs_reject_unknown_systems_duplicates_and_empty_files(tmp_path):
    with pytest.raises(ConfigError, match="unknown system name.*'nope'.*has: none, prompting"):
        build_key(_records(2), tone="grateful", raters=["a"], systems=["none", "nope"])
    empty = tmp_path / "empty.jsonl"
    empty.write_text("\n")
    with pytest.raises(DatasetError, match="holds no items"):
        load_outputs(empty)
    dup = tmp_path / "dup.json"
    dup.write_text(json.dumps([{"prompt": "p", "system": "a", "output": "x"}, {"prompt": "p", "system": "a", "output": "y"}]))
    with pytest.raises(DatasetError, match="two outputs for prompt"):
        load_outputs(dup)
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"prompt": "p", "system": "a", "output": "x"}\n{"prompt": "p", "system": "b"}\n')
    with pytest.raises(DatasetError, match="line 2: field 'output'"):
        load_outputs(bad)


def test_inputs_read_jsonl_json_list_and_items_object(tmp_path):
    rows = sim.outputs(2)
    (tmp_path / "a.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    (tmp_path / "b.json").write_text(json.dumps(rows))
    (tmp_path / "c.json").write_text(json.dumps({"items": rows}))
    loaded = [load_outputs(tmp_path / n) for n in ("a.jsonl", "b.json", "c.json")]
    assert loaded[0] == loaded[1] == loaded[2] and len(loaded[0]) == len(rows)
    assert loaded[0][0].scores == {"auto": rows[0]["scores"]["auto"]}


def test_design_with_only_checks_possible_is_an_error():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with pytest.raises(DatasetError, match="no items to rate"):
            build_key(_records(2, ["solo"]), tone="grateful", raters=["a"], tasks=["pairwise"])


@pytest.mark.parametrize(("raters", "pattern"), [([], "no raters"), (["a", "a"], "given twice"), (["../x"], "not a safe file name"),
                                                 ([".."], "not a safe file name")])
def test_design_refuses_bad_rater_ids(raters, pattern):
    with pytest.raises(ConfigError, match=pattern):
        build_key(_records(2), tone="grateful", raters=raters)
