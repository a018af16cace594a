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


# --- integrity on reuse (issue 15, finding 2) -------------------------------------------------


def _count_captures(monkeypatch):
    real_capture = act_mod.capture
    calls = {"n": 0}

    def counting(*a, **k):
        calls["n"] += 1
        return real_capture(*a, **k)

    monkeypatch.setattr(act_mod, "capture", counting)
    return calls


def test_truncated_shard_in_complete_store_is_refused_then_recomputed(tiny_model, tmp_path, monkeypatch):
    """A truncated shard makes the store unreadable with a message naming it; rerunning extract recomputes only it."""
    ds = _small_ds(4)
    out = tmp_path / "store"
    store = extract_activations(tiny_model, ds, out, hooks=["resid_post"], batch_size=4)
    before = store.load("blocks.1.hook_resid_post")
    shard = out / "shard-00002.safetensors"
    with open(shard, "r+b") as fh:
        fh.truncate(shard.stat().st_size // 2)
    with pytest.raises(StoreError, match=r"shard-00002\.safetensors.*rerun the same extract command"):
        ActivationStore(out)
    assert not store_is_complete(out)
    calls = _count_captures(monkeypatch)
    again = extract_activations(tiny_model, ds, out, hooks=["resid_post"], batch_size=4)
    assert calls["n"] == 1, "only the damaged shard is recomputed"
    assert again.manifest["resume"]["reused_shards"] == 3
    assert again.manifest["resume"]["recomputed_shards"][0].startswith("shard-00002.safetensors")
    torch.testing.assert_close(again.load("blocks.1.hook_resid_post"), before)
    assert again.verify(full=True) == []


def test_same_size_corruption_is_caught_by_sha256_on_resume(tiny_model, tmp_path, monkeypatch):
    """A flipped byte in tensor data keeps the size and header: the recorded SHA-256 catches it on rerun."""
    ds = _small_ds(2)
    out = tmp_path / "store"
    store = extract_activations(tiny_model, ds, out, hooks=["resid_post"], batch_size=4)
    before = store.load("blocks.1.hook_resid_post")
    shard = out / "shard-00001.safetensors"
    data = bytearray(shard.read_bytes())
    data[-5] ^= 0xFF
    shard.write_bytes(bytes(data))
    assert any(p.startswith("shard-00001") and "SHA-256" in p for p in ActivationStore(out).verify(full=True))
    calls = _count_captures(monkeypatch)
    again = extract_activations(tiny_model, ds, out, hooks=["resid_post"], batch_size=4)
    assert calls["n"] == 1
    torch.testing.assert_close(again.load("blocks.1.hook_resid_post"), before)


def test_resume_rejects_truncated_and_foreign_shards_in_incomplete_store(tiny_model, tmp_path, monkeypatch):
    """Interrupted store: a truncated shard and a shard written under another config (same rows, float16) are
    recomputed, not trusted; the resumed store equals a fresh one and is complete only when every shard verifies."""
    ds = _small_ds(4)  # 16 sentences → 4 shards
    out = tmp_path / "store"
    real_capture = act_mod.capture
    calls = {"n": 0}

    def failing_capture(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 4:
            raise KeyboardInterrupt("simulated kill")
        return real_capture(*args, **kwargs)

    monkeypatch.setattr(act_mod, "capture", failing_capture)
    with pytest.raises(KeyboardInterrupt):
        extract_activations(tiny_model, ds, out, hooks=["resid_post"], batch_size=4)
    monkeypatch.setattr(act_mod, "capture", real_capture)
    other = extract_activations(tiny_model, ds, tmp_path / "other", hooks=["resid_post"], batch_size=4, dtype="float16")
    (out / "shard-00000.safetensors").write_bytes((other.path / "shard-00000.safetensors").read_bytes())
    # As if killed between the shard's rename and the manifest update: no size/SHA recorded, so the
    # header's config key is what must reject it.
    import json

    man = json.loads((out / "manifest.json").read_text())
    for k in ("bytes", "sha256"):
        man["shards"][0].pop(k)
    (out / "manifest.json").write_text(json.dumps(man))
    s1 = out / "shard-00001.safetensors"
    with open(s1, "r+b") as fh:
        fh.truncate(1000)
    calls = _count_captures(monkeypatch)
    resumed = extract_activations(tiny_model, ds, out, hooks=["resid_post"], batch_size=4)
    assert calls["n"] == 3, "shards 0 (foreign), 1 (truncated) and 3 (never written) are computed; 2 is reused"
    bad = resumed.manifest["resume"]["recomputed_shards"]
    assert [b.split(":")[0] for b in bad] == ["shard-00000.safetensors", "shard-00001.safetensors"]
    assert "another config" in bad[0] and "truncated" in bad[1]
    fresh = extract_activations(tiny_model, ds, tmp_path / "fresh", hooks=["resid_post"], batch_size=4)
    torch.testing.assert_close(resumed.load("blocks.1.hook_resid_post"), fresh.load("blocks.1.hook_resid_post"))
    assert store_is_complete(out)


def test_store_refusal_names_the_changed_setting(tiny_model, tmp_path):
    ds = _small_ds(1)
    extract_activations(tiny_model, ds, tmp_path, hooks=["resid_post"], batch_size=4)
    with pytest.raises(StoreError, match=r"dtype differ.*new --out"):
        extract_activations(tiny_model, ds, tmp_path, hooks=["resid_post"], batch_size=4, dtype="float16")


def test_sentence_longer_than_context_is_an_error_naming_the_record(tiny_model, tmp_path):
    from interp.errors import DatasetError

    long = EmotionRecord("too-long-1", "word " * tiny_model.cfg.n_ctx, "neutral", ())
    ds = EmotionDataset((*_small_ds(1).records, long), "t")
    with pytest.raises(DatasetError, match=r"record 'too-long-1' is \d+ tokens long, more than the model's context of 256"):
        extract_activations(tiny_model, ds, tmp_path / "s", hooks=["resid_post"], batch_size=4)
    assert not list((tmp_path / "s").glob("shard-*"))


def test_full_disk_during_extract_is_a_store_error(tiny_model, tmp_path):
    """A real full disk: a 256 KiB tmpfs (needs root to mount; skipped otherwise)."""
    import os
    import subprocess

    mnt = tmp_path / "small"
    mnt.mkdir()
    if os.geteuid() != 0 or subprocess.run(["mount", "-t", "tmpfs", "-o", "size=256k", "tmpfs", str(mnt)],
                                            capture_output=True).returncode != 0:
        pytest.skip("cannot mount a small tmpfs here (needs root)")
    try:
        with pytest.raises(StoreError, match=r"the disk is full; free space"):
            extract_activations(tiny_model, _small_ds(20), mnt / "store", hooks=["resid_pre", "resid_post"], batch_size=8)
    finally:
        subprocess.run(["umount", str(mnt)], check=False)


def test_enospc_from_the_shard_writer_is_a_store_error(tiny_model, tmp_path, monkeypatch):
    import errno

    def full(*a, **k):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(act_mod, "save_file", full)
    with pytest.raises(StoreError, match=r"shard-00000\.safetensors.*disk is full.*rerun the same"):
        extract_activations(tiny_model, _small_ds(1), tmp_path / "s", hooks=["resid_post"], batch_size=4)
