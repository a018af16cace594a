"""Alignment: maps recover a known rotation / linear map on synthetic data; baselines stay low; bad input errors."""

import pytest
import torch

from interp.errors import ConfigError, DatasetError
from steering.alignment import (
    AlignmentSide,
    evaluate_map,
    fit_map,
    fit_procrustes,
    fit_ridge,
    random_rotation,
    rotation_self_check,
    split_train_test,
)

pytestmark = pytest.mark.usefixtures("one_thread")


def _side(d=24, n_train=300, seed=0):
    g = torch.Generator().manual_seed(seed)
    dirs = torch.randn(3, d, generator=g) * 2
    emo = torch.cat([torch.randn(30, d, generator=g) + dirs[i] for i in range(3)])
    labels = [e for e in ("anger", "apology", "gratitude") for _ in range(30)]
    return AlignmentSide(torch.randn(n_train, d, generator=g) * torch.linspace(0.5, 2, d), torch.randn(40, d, generator=g), emo, labels)


def _cos2(u, v):
    return torch.nn.functional.cosine_similarity(u, v, dim=-1) ** 2


@pytest.mark.parametrize("kind", ["ridge", "procrustes"])
def test_random_rotation_alignment_recovers_vectors(kind):
    a = _side()
    q = random_rotation(a.train.shape[1], seed=3)
    assert torch.allclose(q @ q.T, torch.eye(q.shape[0]), atol=1e-5)
    m = fit_map(kind, a.train, a.train @ q, alpha=1e-4)
    va = a.vectors()
    assert _cos2(m.apply_direction(va), va @ q).min() > 0.99
    check = rotation_self_check(a, kind=kind, alpha=1e-4)
    assert check["passed"] and check["mean_cos2"] > 0.99 and check["span_ceiling"] > 0.99


def test_ridge_recovers_map_across_widths_and_beats_baselines():
    a = _side(d=20)
    g = torch.Generator().manual_seed(5)
    w = torch.randn(20, 28, generator=g)
    b = AlignmentSide(a.train @ w + 0.01 * torch.randn(a.train.shape[0], 28, generator=g), a.test_neutral @ w, a.emotion @ w, a.emotion_labels)
    m = fit_ridge(a.train, b.train, alpha=1e-6)
    assert m.weight.shape == (20, 28)
    ev = evaluate_map(m, a, b, k=3, n_boot=30, n_random=30, n_shuffle=5, alpha=1e-6)
    for e in ev.emotions:
        assert ev.cos2_after[e].lo > 0.99
        assert ev.cos2_random_map[e].hi < ev.cos2_after[e].lo and ev.cos2_shuffled_pairs[e].hi < ev.cos2_after[e].lo
    # PCA is not equivariant under a non-orthogonal map, so the mapped subspace need not equal B's: only above random.
    assert ev.heldout_r2 > 0.99 and ev.overlap_after["overlap"]["value"] > ev.overlap_after["random_sampled"]["hi"]
    assert ev.overlap_after["random_analytic"] == pytest.approx(3 / 28)


def test_procrustes_across_widths_lives_in_common_dimension():
    a = _side(d=20)
    m = fit_procrustes(a.train, torch.randn(a.train.shape[0], 30), common_dim=10)
    assert m.weight.shape == (20, 30) and int(torch.linalg.matrix_rank(m.weight)) == 10
    with pytest.raises(ConfigError, match="common_dim"):
        fit_procrustes(a.train, torch.randn(a.train.shape[0], 30), common_dim=25)


def test_alignment_bad_input_errors():
    with pytest.raises(DatasetError, match="cannot be split"):
        split_train_test(3)
    with pytest.raises(DatasetError, match="paired rows"):
        fit_ridge(torch.randn(5, 3), torch.randn(6, 3))
    with pytest.raises(ConfigError, match="alpha"):
        fit_ridge(torch.randn(5, 3), torch.randn(5, 3), alpha=0.0)
    with pytest.raises(ConfigError, match="unknown map kind"):
        fit_map("cca", torch.randn(5, 3), torch.randn(5, 3))
    tr, te = split_train_test(10, test_fraction=0.3, seed=1)
    assert len(te) == 3 and sorted(tr + te) == list(range(10))
