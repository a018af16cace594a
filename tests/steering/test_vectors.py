"""Emotion vectors: planted-direction recovery, parity with an independent computation, save/load, compatibility errors."""

import pytest
import torch

from interp.errors import DatasetError, HookError, StoreError
from steering.vectors import (
    EmotionVector,
    compute_emotion_vectors,
    cosine_matrix,
    load_vectors,
    mean_difference,
    norm_profile,
    save_vectors,
)


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
    info = tiny_model.ec_info
    ok = EmotionVector("anger", torch.ones(d), "blocks.1.hook_resid_post", 1, "sentence_end", "neutral", info.name, info.source_hash, "ds")
    ok.check_compatible(tiny_model)


def _positional_batch(offset: float, signal: float, seed: int = 0, n_per: int = 40, length: int = 10, d: int = 48):
    """Sentences of ``length`` tokens (BOS at 0); emotion words at positions 2-3; ``offset`` added to every sentence's
    tokens 2-3 (a position effect, no emotion); ``signal`` along u added to the emotion words only."""
    g = torch.Generator().manual_seed(seed)
    w, u = (torch.nn.functional.normalize(torch.randn(d, generator=g), dim=0) for _ in range(2))
    labels = ["anger"] * n_per + ["gratitude"] * n_per + ["neutral"] * n_per
    x = torch.randn(len(labels), length, d, generator=g) * 0.3
    x[:, 2:4] += offset * w
    x[:n_per, 2:4] += signal * u
    spans = [[2, 3] if lab != "neutral" else [] for lab in labels]
    ends = [length - 1] * len(labels)
    return x, labels, spans, ends, w, u


def _old_token_rows(x, labels, spans, ends, first=1):
    return torch.stack([x[i, sp].mean(0) if sp else x[i, first:e + 1].mean(0) for i, (sp, e) in enumerate(zip(spans, ends))])


def test_matched_token_rows_cancel_a_planted_position_offset_that_the_old_contrast_keeps():
    from steering.vectors import matched_token_rows

    x, labels, spans, ends, w, u = _positional_batch(offset=4.0, signal=0.0)
    emos = ["anger", "gratitude", "neutral"]
    old = {e: mean_difference(_old_token_rows(x, labels, spans, ends), labels, e, "neutral", emos) for e in ("anger", "gratitude")}
    new_rows = matched_token_rows(x, labels, spans, ends, first=1)
    new = {e: mean_difference(new_rows, labels, e, "neutral", emos) for e in ("anger", "gratitude")}
    cos = torch.nn.functional.cosine_similarity
    # Old: both emotions' vectors are the position offset, so they look alike (cos ≈ 1) with no emotion present.
    assert cos(old["anger"], w, dim=0) > 0.9 and cos(old["anger"], old["gratitude"], dim=0) > 0.9
    # New: the offset cancels; what is left is noise (no emotion signal was planted).
    assert abs(float(new["anger"] @ w)) < 0.05 * float(old["anger"] @ w) and new["anger"].norm() < 0.2 * old["anger"].norm()


def test_matched_token_rows_recover_planted_emotion_signal_and_use_pairs():
    from steering.vectors import matched_token_rows

    x, labels, spans, ends, w, u = _positional_batch(offset=4.0, signal=2.0)
    rows = matched_token_rows(x, labels, spans, ends, first=1)
    v = mean_difference(rows, labels, "anger", "neutral", ["anger", "gratitude", "neutral"])
    assert torch.nn.functional.cosine_similarity(v, u, dim=0) > 0.95
    assert rows[[i for i, lab in enumerate(labels) if lab == "neutral"]].mean(0).norm() < 0.1  # neutral rows centre on 0
    # With pairs, an emotion row is its own span minus its counterpart's tokens at the same positions.
    ids = [f"s{i}" for i in range(len(labels))]
    pairs = {"s0": "s80"}
    paired = matched_token_rows(x, labels, spans, ends, first=1, ids=ids, pairs=pairs)
    assert torch.allclose(paired[0], x[0, 2:4].mean(0) - x[80, 2:4].mean(0), atol=1e-6)
    assert torch.allclose(paired[1], rows[1])


def test_pair_map_reads_pair_ids_and_falls_back_to_empty():
    from interp.datasets import EmotionRecord
    from steering.vectors import pair_map

    recs = [EmotionRecord("g1", "Thank you for the tea.", "gratitude"), EmotionRecord("n1", "The tea is on the table.", "neutral")]
    assert pair_map(recs) == {}

    class R:  # records with the coming optional pair_id field
        def __init__(self, id, emotion, pair_id):
            self.id, self.emotion, self.pair_id = id, emotion, pair_id

    assert pair_map([R("g1", "gratitude", None), R("n1", "neutral", "g1")]) == {"g1": "n1"}
    assert pair_map([R("g1", "gratitude", "p7"), R("n1", "neutral", "p7")]) == {"g1": "n1"}


@pytest.mark.real
def test_token_matched_vectors_on_real_store_match_an_independent_loop(baseline_store):
    hook = "blocks.12.hook_resid_post"
    vecs = compute_emotion_vectors(baseline_store, hook, method="token_matched")
    acts = baseline_store.load(hook)
    lab, spans, ends = baseline_store.labels, baseline_store.span_positions, baseline_store.end_positions.tolist()
    neu = [i for i, x in enumerate(lab) if x == "neutral"]
    emo_idx = [i for i, x in enumerate(lab) if x == "gratitude"]
    diffs = []
    for i in emo_idx:  # independent, slow loop over every neutral sentence
        rel = [(p - 1) / max(ends[i] - 1, 1) for p in spans[i]]
        refs = [torch.stack([acts[j, min(ends[j], max(1, 1 + round(r * (ends[j] - 1))))] for r in rel]).mean(0) for j in neu]
        diffs.append(acts[i, spans[i]].mean(0) - torch.stack(refs).mean(0))
    emo_all = [i for i, x in enumerate(lab) if x != "neutral"]
    neutral_rows = []
    for n_j, j in enumerate(neu):
        t = emo_all[n_j % len(emo_all)]
        rel = [(p - 1) / max(ends[t] - 1, 1) for p in spans[t]]
        at = {k: torch.stack([acts[k, min(ends[k], max(1, 1 + round(r * (ends[k] - 1))))] for r in rel]).mean(0) for k in neu}
        neutral_rows.append(at[j] - torch.stack([at[k] for k in neu if k != j]).mean(0))
    ref = torch.stack(diffs).mean(0) - torch.stack(neutral_rows).mean(0)
    assert torch.allclose(vecs["gratitude"].vector, ref, atol=1e-3)
    assert vecs["gratitude"].method == "token_matched" and "relative positions" in vecs["gratitude"].provenance()["position_rule"]
    # The old all-tokens reference carries a position offset the matched one removes: the three emotions' old
    # vectors share more direction with each other than the matched ones do.
    old = compute_emotion_vectors(baseline_store, hook, method="token")
    _, m_old = cosine_matrix(old)
    _, m_new = cosine_matrix(vecs)
    off = ~torch.eye(3, dtype=torch.bool)
    assert m_new[off].mean() < m_old[off].mean()


def test_method_and_contrast_tables_are_the_allowed_values():
    from steering.vectors import CONTRAST_REFERENCES, CONTRASTS, METHODS, ROW_METHODS, contrast_mode, contrasts_for, reference_rows

    assert METHODS == tuple(ROW_METHODS) == ("sentence_end", "token", "token_matched")
    assert tuple(CONTRAST_REFERENCES) == ("reference", "others")
    assert CONTRASTS == contrasts_for("neutral") == ("neutral", "others")
    assert {contrast_mode(c, "formal") for c in contrasts_for("formal")} == set(CONTRAST_REFERENCES)
    with pytest.raises(StoreError, match="unknown method 'mean'; choose one of sentence_end, token, token_matched"):
        reference_rows(None, "blocks.0.hook_resid_post", "mean")
    x = torch.randn(6, 4)
    with pytest.raises(DatasetError, match="unknown contrast 'all'; choose one of neutral, others"):
        mean_difference(x, ["anger"] * 3 + ["neutral"] * 3, "anger", "all", ["anger", "neutral"])
    with pytest.raises(DatasetError, match="unknown contrast 'neutral'; choose one of formal, others"):
        mean_difference(x, ["casual"] * 3 + ["formal"] * 3, "casual", "neutral", ["casual", "formal"], reference="formal")


def test_reference_label_is_a_parameter_renaming_neutral_changes_nothing():
    from steering.reliability import vector_reliability
    from steering.subspace import overlap_vs_nulls
    from steering.vectors import matched_token_rows, pair_map

    g = torch.Generator().manual_seed(3)
    acts = torch.randn(8, 6, 5, generator=g)
    labels = ["anger", "gratitude", "anger", "gratitude", "neutral", "neutral", "neutral", "neutral"]
    spans, ends = [[2], [3], [1, 2], [4], [], [], [], []], [5, 5, 4, 5, 5, 3, 4, 5]
    renamed = [x if x != "neutral" else "formal" for x in labels]
    ids = [f"r{i}" for i in range(8)]
    pairs = {"r0": "r4", "r1": "r5"}
    a = matched_token_rows(acts, labels, spans, ends, ids=ids, pairs=pairs)
    b = matched_token_rows(acts, renamed, spans, ends, ids=ids, pairs=pairs, reference="formal")
    assert torch.equal(a, b)
    rows = acts[:, -1]
    ra = vector_reliability(rows, labels, n_boot=5, n_splits=2, n_shuffle=3)
    rb = vector_reliability(rows, renamed, contrast="formal", reference="formal", n_boot=5, n_splits=2, n_shuffle=3)
    assert ra.to_dict() == {**rb.to_dict(), "contrast": "neutral"}
    oa = overlap_vs_nulls(rows, acts[:, -2], labels, 2, n_shuffle=3)
    ob = overlap_vs_nulls(rows, acts[:, -2], renamed, 2, n_shuffle=3, reference="formal")
    assert oa.to_dict() == ob.to_dict()

    class R:
        def __init__(self, id, emotion, pair_id=None):
            self.id, self.emotion, self.pair_id = id, emotion, pair_id

    # to_reference sets: each labelled record names its anchor; to_label sets: the neutral names its sentence
    assert pair_map([R("a", "formal"), R("c1", "casual", "a")], reference="formal") == {"c1": "a"}
    assert pair_map([R("g", "gratitude"), R("n", "neutral", "g")]) == {"g": "n"}
