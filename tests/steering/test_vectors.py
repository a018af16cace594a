"""Emotion vectors: planted-direction recovery, parity with an independent computation, save/load, compatibility errors."""

import pytest
import torch

from interp.errors import DatasetError, HookError, StoreError
from steering.vectors import EmotionVector, compute_emotion_vectors, cosine_matrix, load_vectors, mean_difference, norm_profile, save_vectors


def _planted(n=1000, d=64, scale=5.0, seed=0):
    g = torch.Generator().manual_seed(seed)
    u = torch.nn.functional.normalize(torch.randn(d, generator=g), dim=0)
    x = torch.randn(2 * n, d, generator=g)
    x[:n] += scale * u
    return x, ["gratitude"] * n + ["neutral"] * n, u


def test_mean_difference_recovers_planted_direction():
    x, labels, u = _planted()
    v = mean_difference(x, labels, "gratitude", "neutral", ["gratitude", "neutral"])
    assert torch.nn.functional.cosine_similarity(v, u, dim=0) > 0.99


def test_mean_difference_others_contrast_cancels_shared_offset():
    g = torch.Generator().manual_seed(1)
    d = 32
    shared, ua, ub = (torch.nn.functional.normalize(torch.randn(d, generator=g), dim=0) for _ in range(3))
    x = torch.randn(300, d, generator=g) * 0.1
    labels = ["anger"] * 100 + ["gratitude"] * 100 + ["neutral"] * 100
    x[:100] += 5 * shared + 3 * ua
    x[100:200] += 5 * shared + 3 * ub
    v = mean_difference(x, labels, "anger", "others", ["anger", "gratitude", "neutral"])
    assert torch.allclose(v, 3 * ua - 3 * ub, atol=0.1)


def test_mean_difference_rejects_single_sentence():
    x = torch.randn(5, 4)
    with pytest.raises(DatasetError, match="at least 2"):
        mean_difference(x, ["anger", "neutral", "neutral", "neutral", "neutral"], "anger", "neutral", ["anger", "neutral"])


@pytest.mark.real
def test_compute_emotion_vectors_match_independent_means(baseline_store):
    hook = "blocks.10.hook_resid_post"
    vecs = compute_emotion_vectors(baseline_store, hook, method="sentence_end")
    acts = baseline_store.load(hook)
    ends = baseline_store.end_positions
    rows = acts[torch.arange(len(ends)), ends]
    lab = baseline_store.labels
    neu = rows[[i for i, x in enumerate(lab) if x == "neutral"]].mean(0)
    for e, v in vecs.items():
        ref = rows[[i for i, x in enumerate(lab) if x == e]].mean(0) - neu
        assert torch.allclose(v.vector, ref, atol=1e-4)
        assert v.d_model == 576 and v.layer == 10 and v.model_name == "smollm2-135m"
    names, m = cosine_matrix(vecs)
    assert names == list(vecs) and torch.allclose(torch.diagonal(m), torch.ones(len(names)), atol=1e-5)
    prof = norm_profile(baseline_store, [hook, "blocks.11.hook_resid_post"], method="token")
    assert set(prof) == {"gratitude", "anger", "apology"} and len(prof["anger"]["l2"]) == 2
    assert all(l1 >= l2 for l1, l2 in zip(prof["anger"]["l1"], prof["anger"]["l2"]))


@pytest.mark.real
def test_save_load_roundtrip_keeps_values_and_provenance(baseline_store, tmp_path):
    vecs = list(compute_emotion_vectors(baseline_store, "blocks.5.hook_resid_post", method="token", contrast="others").values())
    path = save_vectors(vecs, tmp_path / "v.safetensors")
    back = load_vectors(path)
    assert len(back) == len(vecs)
    for a, b in zip(vecs, back):
        assert torch.equal(a.vector.float(), b.vector)
        assert a.provenance() == b.provenance()
    with pytest.raises(StoreError, match="no saved vectors"):
        load_vectors(tmp_path / "missing.safetensors")


def test_check_compatible_rejects_other_width_and_unknown_hook(tiny_model):
    d = tiny_model.cfg.d_model
    wrong = EmotionVector("anger", torch.ones(d + 1), "blocks.0.hook_resid_post", 0, "sentence_end", "neutral", "m", "h", "ds")
    with pytest.raises(HookError, match="d_model"):
        wrong.check_compatible(tiny_model)
    bad_hook = EmotionVector("anger", torch.ones(d), "blocks.0.hook_nonexistent", 0, "sentence_end", "neutral", "m", "h", "ds")
    with pytest.raises(HookError, match="unknown hook"):
        bad_hook.check_compatible(tiny_model)
    ok = EmotionVector("anger", torch.ones(d), "blocks.1.hook_resid_post", 1, "sentence_end", "neutral", "m", "h", "ds")
    ok.check_compatible(tiny_model)
