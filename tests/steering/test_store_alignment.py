"""steering.store_alignment: rows are matched by (text, label) across stores, the split and sizes add up, a store
aligned with a reordered copy of itself is recovered exactly, bad inputs are project errors; layer choice honours rows."""

import json

import pytest
import torch

from interp.datasets import EmotionDataset, EmotionRecord, load_profile
from interp.errors import ConfigError, DatasetError
from interp.threads import torch_threads
from steering.alignment import KINDS
from steering.store_alignment import StoreAlignment, align_stores, hook_layer, strongest_layer

pytestmark = pytest.mark.usefixtures("one_thread")

N_PER = 30  # 30 neutral sentences -> 21 training sentences -> 42 rows (end + mean) > d_model = 32 of the tiny model
HOOK = "blocks.1.hook_resid_post"


@pytest.fixture(scope="module")
def stores(tiny_model, tmp_path_factory):
    """Store a, the same sentences in reverse order plus sentences a lacks (b), and one sharing no neutral text (c)."""
    from interp.activations import extract_activations

    base = load_profile("baseline")
    recs = base.subset(limit_per_emotion=N_PER).records
    extra = (EmotionRecord("xn1", "A quiet river bends past the old mill.", "neutral"),
             EmotionRecord("xn2", "The shelf holds nine grey folders.", "neutral"),
             EmotionRecord("xg1", "Thanks a million for the lift.", "gratitude", ((0, 6),)))
    other_neutral = tuple(r for r in base.records if r.emotion == "neutral")[N_PER:N_PER + 6]
    out = tmp_path_factory.mktemp("store_alignment")
    with torch_threads(1):
        a = extract_activations(tiny_model, EmotionDataset(recs, "a"), out / "a", hooks=["resid_post"], batch_size=16)
        b = extract_activations(tiny_model, EmotionDataset(tuple(reversed(recs)) + extra, "b"), out / "b",
                                hooks=["resid_post"], batch_size=7)
        c = extract_activations(tiny_model, EmotionDataset(tuple(r for r in recs if r.emotion != "neutral") + other_neutral, "c"),
                                out / "c", hooks=["resid_post"], batch_size=16)
    return a, b, c


def test_hook_layer_reads_block_index_and_minus_one_otherwise():
    assert hook_layer("blocks.0.hook_resid_post") == 0
    assert hook_layer("blocks.13.attn.hook_z") == 13
    assert hook_layer("hook_embed") == -1


def test_align_stores_matches_rows_by_text_not_position(stores):
    """b holds a's sentences in reverse order: with rows matched by text, B's emotion vectors equal A's (cos² = 1
    before any map) and Procrustes recovers the identity on held-out sentences."""
    a, b, _ = stores
    assert a.texts != b.texts[:len(a.texts)], "the fixture must reorder the sentences"
    res = align_stores(a, b, HOOK, HOOK, k=3, n_boot=20)
    assert isinstance(res, StoreAlignment) and set(res.evaluations) == set(KINDS)
    for kind, ev in res.evaluations.items():
        assert sorted(ev.emotions) == ["anger", "apology", "gratitude"]
        for e in ev.emotions:
            assert ev.cos2_before[e].value == pytest.approx(1.0, abs=1e-4), (kind, e)
    proc = res.evaluations["procrustes"]
    assert proc.heldout_r2 == pytest.approx(1.0, abs=1e-3) and proc.heldout_cos == pytest.approx(1.0, abs=1e-4)
    assert min(proc.cos2_after[e].value for e in proc.emotions) > 0.999
    assert res.checks["procrustes"]["passed"]


def test_align_stores_sizes_add_up_and_ignore_unshared_sentences(stores):
    a, b, _ = stores
    n_emotion = 3 * N_PER  # b's extra gratitude sentence is not in a
    both = align_stores(a, b, HOOK, HOOK, k=3, n_boot=5)
    assert (both.hook_a, both.hook_b, both.d_a, both.d_b) == (HOOK, HOOK, 32, 32)
    assert (both.n_neutral_train, both.n_neutral_test) == (21, 9)  # round(30 * 0.3) held out
    assert both.n_train_rows == 2 * 21 and both.n_emotion_sentences == n_emotion
    end_only = align_stores(a, b, HOOK, HOOK, rows=["end"], test_fraction=0.5, k=3, n_boot=5)
    assert (end_only.n_neutral_train, end_only.n_neutral_test, end_only.n_train_rows) == (15, 15, 15)


def test_align_stores_evaluate_on_restricts_the_emotion_sentences(stores):
    a, b, _ = stores
    chosen = [t for t, lab in zip(a.texts, a.labels) if lab != "neutral"][::3]
    res = align_stores(a, b, HOOK, HOOK, k=3, n_boot=5, evaluate_on=set(chosen))
    assert res.n_emotion_sentences == len(chosen)
    one_anger = {next(t for t, lab in zip(a.texts, a.labels) if lab == "anger")}
    with pytest.raises(DatasetError, match="too few emotion sentences"):
        align_stores(a, b, HOOK, HOOK, k=3, n_boot=5, evaluate_on=one_anger)


def test_align_stores_across_layers_to_dict_and_progress(stores):
    a, b, _ = stores
    calls = []
    res = align_stores(a, b, "blocks.0.hook_resid_post", HOOK, k=3, n_boot=5, progress=lambda i, n: calls.append((i, n)))
    assert calls == [(i + 1, len(KINDS)) for i in range(len(KINDS))]
    d = json.loads(json.dumps(res.to_dict()))
    assert set(d["maps"]) == set(KINDS) == set(d["rotation_self_check"])
    assert d["maps"]["ridge"]["kind"] == "ridge" and d["hook_a"] == "blocks.0.hook_resid_post"
    assert d["n_emotion_sentences"] == res.n_emotion_sentences and d["d_a"] == 32
    # Two different layers: before-mapping cos² is no longer 1, and each fitted map beats its random-map baseline.
    for ev in res.evaluations.values():
        assert min(ev.cos2_before[e].value for e in ev.emotions) < 0.999
        assert min(ev.cos2_after[e].value for e in ev.emotions) > max(ev.cos2_random_map[e].hi for e in ev.emotions)


def test_align_stores_errors_are_project_errors(stores):
    a, b, c = stores
    with pytest.raises(ConfigError, match=r"hook 'blocks.7.hook_resid_post' is not in the store"):
        align_stores(a, b, "blocks.7.hook_resid_post", HOOK)
    with pytest.raises(ConfigError, match="is not in the store"):
        align_stores(a, b, HOOK, "blocks.1.hook_resid_pre")
    with pytest.raises(DatasetError, match="share no neutral sentences"):
        align_stores(a, c, HOOK, HOOK, k=3, n_boot=5)


class _FakeStore:
    """What strongest_layer reads: labels and sentence-end rows per hook."""

    def __init__(self, rows_by_hook, labels):
        self.rows_by_hook, self.labels = rows_by_hook, labels

    def at_positions(self, hook, where):
        assert where == "end"
        return self.rows_by_hook[hook]


def _layered_store(signal_layers_first_half, signal_layers_second_half, n_layers=7, per=12, d=16):
    """Sentences 0..n/2-1 carry an emotion signal only at the first set of layers, the rest only at the second."""
    g = torch.Generator().manual_seed(0)
    labels = [lab for lab in ("neutral", "anger", "gratitude") for _ in range(per)] * 2
    n = len(labels)
    dirs = {"neutral": torch.zeros(d), "anger": torch.randn(d, generator=g) * 4, "gratitude": torch.randn(d, generator=g) * 4}
    rows = {}
    for layer in range(n_layers):
        x = torch.randn(n, d, generator=g)
        for i, lab in enumerate(labels):
            strong = signal_layers_first_half if i < n // 2 else signal_layers_second_half
            if layer in strong:
                x[i] += dirs[lab] * (2.0 if layer == strong[len(strong) // 2] else 1.0)
        rows[f"blocks.{layer}.hook_resid_post"] = x
    return _FakeStore(rows, labels), list(rows), n


def test_strongest_layer_is_the_centre_of_the_strongest_band_and_honours_rows():
    store, hooks, n = _layered_store([1, 2, 3], [4, 5, 6])
    first, second = list(range(n // 2)), list(range(n // 2, n))
    assert strongest_layer(store, hooks, rows=first) == 2
    assert strongest_layer(store, hooks, rows=second) == 5
    assert strongest_layer(store, hooks, rows=first, seed=3) == 2
    signal_everywhere_at_2_3_4, hooks2, _ = _layered_store([2, 3, 4], [2, 3, 4])
    assert strongest_layer(signal_everywhere_at_2_3_4, hooks2) == 3
    assert strongest_layer(signal_everywhere_at_2_3_4, hooks2[3:4]) == 3  # one hook: its own layer
