import pytest
import torch
from safetensors import safe_open

import interp.activations as act_mod
from interp.activations import ActivationStore, extract_activations, store_is_complete
from interp.datasets import EmotionDataset, EmotionRecord, load_profile
from interp.errors import StoreError

# Activations stored from a padded batch equal a single unpadded forward pass to this tolerance
# (float32; differences come from batched matmul reduction order).
ATOL, RTOL = 1e-3, 1e-4


def _small_ds(n_per=3):
    return load_profile("baseline").subset(limit_per_emotion=n_per)


def _single_pass(model, text, hook):
    _, cache = model.run_with_cache(model.to_tokens(text), names_filter=hook)
    return cache[hook][0]


@pytest.mark.parametrize("side", ["left", "right"])
def test_padded_extraction_equals_single_sentence_forward(tiny_model, tmp_path, side):
    ds = _small_ds()
    store = extract_activations(tiny_model, ds, tmp_path / side, hooks=["resid_pre", "resid_post"], batch_size=5, padding_side=side)
    hook = "blocks.1.hook_resid_post"
    full = store.load(hook)
    for i, text in enumerate(store.texts):
        ref = _single_pass(tiny_model, text, hook)
        n = ref.shape[0]
        torch.testing.assert_close(full[i, :n], ref, atol=ATOL, rtol=RTOL)
        assert full[i, n:].abs().sum() == 0, "positions past the sentence end must be zero"
    ends = store.at_positions(hook, "end")
    torch.testing.assert_close(ends[0], _single_pass(tiny_model, store.texts[0], hook)[-1], atol=ATOL, rtol=RTOL)


def test_left_and_right_padding_store_the_same_values(tiny_model, tmp_path):
    ds = _small_ds()
    a = extract_activations(tiny_model, ds, tmp_path / "l", hooks=["resid_post"], batch_size=4, padding_side="left")
    b = extract_activations(tiny_model, ds, tmp_path / "r", hooks=["resid_post"], batch_size=4, padding_side="right")
    torch.testing.assert_close(a.load("blocks.1.hook_resid_post"), b.load("blocks.1.hook_resid_post"), atol=ATOL, rtol=RTOL)
    assert a.span_positions == b.span_positions and a.end_positions.tolist() == b.end_positions.tolist()


def test_resume_after_interruption_skips_finished_shards(tiny_model, tmp_path, monkeypatch):
    ds = _small_ds(4)  # 16 sentences → 4 shards of 4
    out = tmp_path / "store"
    real_capture = act_mod.capture
    calls = {"n": 0}

    def failing_capture(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 3:
            raise KeyboardInterrupt("simulated kill")
        return real_capture(*args, **kwargs)

    monkeypatch.setattr(act_mod, "capture", failing_capture)
    with pytest.raises(KeyboardInterrupt):
        extract_activations(tiny_model, ds, out, hooks=["resid_post"], batch_size=4)
    assert not store_is_complete(out)
    assert sorted(p.name for p in out.glob("shard-*.safetensors")) == ["shard-00000.safetensors", "shard-00001.safetensors"]
    with pytest.raises(StoreError, match="incomplete"):
        ActivationStore(out)
    calls["n"] = 0
    monkeypatch.setattr(act_mod, "capture", lambda *a, **k: (calls.__setitem__("n", calls["n"] + 1), real_capture(*a, **k))[1])
    resumed = extract_activations(tiny_model, ds, out, hooks=["resid_post"], batch_size=4)
    assert calls["n"] == 2, "only the two missing shards are recomputed"
    fresh = extract_activations(tiny_model, ds, tmp_path / "fresh", hooks=["resid_post"], batch_size=4)
    torch.testing.assert_close(resumed.load("blocks.1.hook_resid_post"), fresh.load("blocks.1.hook_resid_post"))
    assert not list(out.glob(".*tmp")), "no temporary files left behind"


def test_store_refuses_other_settings(tiny_model, tmp_path):
    ds = _small_ds(1)
    extract_activations(tiny_model, ds, tmp_path, hooks=["resid_post"], batch_size=4)
    with pytest.raises(StoreError, match="other settings"):
        extract_activations(tiny_model, ds, tmp_path, hooks=["resid_pre"], batch_size=4)


def test_shards_hold_one_batch_each(tiny_model, tmp_path):
    ds = _small_ds(2)
    store = extract_activations(tiny_model, ds, tmp_path, hooks=["resid_post"], batch_size=3)
    sizes = []
    for s in store.manifest["shards"]:
        with safe_open(str(tmp_path / s["file"]), framework="pt") as f:
            sizes.append(f.get_tensor("blocks.0.hook_resid_post").shape[0])
    assert sizes == [3, 3, 2]


def test_unknown_hook_in_store(tiny_model, tmp_path):
    store = extract_activations(tiny_model, _small_ds(1), tmp_path, hooks=["resid_post"], batch_size=4)
    with pytest.raises(StoreError, match="not in this store"):
        store.load("blocks.0.hook_mlp_out")


def test_span_positions_decode_to_emotion_word_tiny(tiny_model, tmp_path):
    ds = EmotionDataset((EmotionRecord("g", "We are grateful for you.", "gratitude", ((7, 15),)),), "t")
    store = extract_activations(tiny_model, ds, tmp_path, hooks=["resid_post"], batch_size=1)
    toks = store.tokens()[0]
    assert tiny_model.tokenizer.decode(toks[store.span_positions[0]].tolist()) == "grateful"


@pytest.mark.real
def test_real_model_stored_last_layer_matches_single_forward_and_spans_decode(real_model, tmp_path):
    """Acceptance: stored hook_resid_post of the last layer at each sentence end equals an unpadded
    single-sentence forward pass (atol 1e-3, rtol 1e-4 on values of magnitude ~100s), and emotion-word
    positions decode back to the emotion word."""
    ds = load_profile("baseline").subset(limit_per_emotion=6)
    last = f"blocks.{real_model.cfg.n_layers - 1}.hook_resid_post"
    store = extract_activations(real_model, ds, tmp_path, hooks=[last], batch_size=8, padding_side="left")
    ends = store.at_positions(last, "end")
    toks = store.tokens()
    for i, rec in enumerate(ds.records):
        ref = _single_pass(real_model, rec.text, last)[-1]
        torch.testing.assert_close(ends[i], ref, atol=ATOL, rtol=RTOL)
        if rec.spans:
            word = rec.span_texts()[0]
            decoded = real_model.tokenizer.decode(toks[i, store.span_positions[i]].tolist()).strip()
            assert decoded == word, (rec.text, decoded, word)


def test_identical_hooks_are_stored_once_and_load_the_same(tiny_model, tmp_path):
    """resid_post of layer l is the same tensor as resid_pre of l+1: stored once, readable under both names."""
    ds = _small_ds(1)
    store = extract_activations(tiny_model, ds, tmp_path, hooks=["resid_pre", "resid_post"], batch_size=4)
    with safe_open(str(tmp_path / store.manifest["shards"][0]["file"]), framework="pt") as f:
        stored = set(f.keys()) - {"tokens", "lengths"}
    assert stored == {"blocks.0.hook_resid_pre", "blocks.1.hook_resid_pre", "blocks.1.hook_resid_post"}
    torch.testing.assert_close(store.load("blocks.1.hook_resid_pre"), store.load("blocks.0.hook_resid_post"))
    ref = _single_pass(tiny_model, store.texts[0], "blocks.1.hook_resid_pre")
    torch.testing.assert_close(store.load("blocks.1.hook_resid_pre")[0, : ref.shape[0]], ref, atol=ATOL, rtol=RTOL)


def test_atomic_writes_get_a_plain_file_mode(tmp_path):
    """Results are shared: an atomically written file has the mode a plain new file would (umask applied), not 0600."""
    import os

    from interp.io import atomic_write_text

    p = atomic_write_text(tmp_path / "report.html", "<html></html>")
    mask = os.umask(0)
    os.umask(mask)
    assert p.stat().st_mode & 0o777 == 0o666 & ~mask and not list(tmp_path.glob(".*tmp"))
