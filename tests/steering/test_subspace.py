"""Subspaces: PCA recovers a planted subspace; overlap is 1 with itself, 0 when orthogonal, k/d at random."""

import numpy as np
import pytest
import torch

from interp.errors import ConfigError, DatasetError
from steering.subspace import (
    compare_subspaces,
    emotion_rows,
    overlap,
    pad_to,
    pca_subspace,
    principal_cosines,
    random_overlap_expected,
    random_overlap_sampled,
)

pytestmark = pytest.mark.usefixtures("one_thread")


def test_overlap_of_subspace_with_itself_is_one_and_orthogonal_is_zero():
    a = torch.randn(5, 30)
    assert overlap(a, a) == pytest.approx(1.0, abs=1e-5)
    assert overlap(a, a[[2, 0, 4, 1, 3]] * 3 + 0.0) == pytest.approx(1.0, abs=1e-5)  # basis change, same span
    e = torch.eye(30)
    assert overlap(e[:5], e[5:10]) == pytest.approx(0.0, abs=1e-6)
    assert overlap(e[:2], e[:4]) == pytest.approx(1.0, abs=1e-6)  # nested: min(k1, k2) angles are all 0


def test_random_overlap_matches_k_over_d_within_sampling_error():
    for k1, k2, d in [(5, 5, 50), (10, 10, 300), (3, 8, 40)]:
        s = random_overlap_sampled(k1, k2, d, n=400, seed=1)
        expected = random_overlap_expected(k1, k2, d)
        assert abs(s.mean() - expected) < 4 * s.std() / np.sqrt(len(s)) + 1e-3, (k1, k2, d, s.mean(), expected)


def test_pca_recovers_planted_subspace():
    g = torch.Generator().manual_seed(0)
    d, k = 60, 3
    basis = torch.linalg.qr(torch.randn(d, k, generator=g))[0].T
    x = torch.randn(400, k, generator=g) * 10 @ basis + 0.1 * torch.randn(400, d, generator=g) + 5
    sub = pca_subspace(x, k)
    assert overlap(sub.basis, basis) > 0.99
    assert sub.explained.sum() > 0.95 and torch.all(sub.explained[:-1] >= sub.explained[1:])


def test_compare_subspaces_reports_baselines():
    e = torch.eye(40)
    r = compare_subspaces(e[:4], e[:4], boot=np.array([0.9, 1.0, 1.0]), n_random=50)
    assert r.overlap.value == pytest.approx(1.0) and r.random_analytic == pytest.approx(0.1)
    assert r.p_value < 0.05 and abs(r.random_sampled.value - 0.1) < 0.05


def test_pca_rejects_k_larger_than_samples():
    with pytest.raises(ConfigError, match="k=10"):
        pca_subspace(torch.randn(8, 30), 10)


def test_principal_cosines_rejects_mismatched_widths_and_pad_to_fixes_it():
    with pytest.raises(DatasetError, match="different dimensions"):
        principal_cosines(torch.randn(2, 5), torch.randn(2, 6))
    assert principal_cosines(pad_to(torch.randn(2, 5), 6), torch.randn(2, 6)).shape == (2,)
    assert pad_to(torch.ones(3, 8), 5).shape == (3, 5)


def test_emotion_rows_subtract_neutral_mean():
    x = torch.tensor([[1.0, 0], [3.0, 0], [0, 2.0], [0, 4.0]])
    out = emotion_rows(x, ["anger", "anger", "neutral", "neutral"])
    assert torch.equal(out, torch.tensor([[1.0, -3.0], [3.0, -3.0]]))


def _anisotropic_views(planted: float, n=240, d=80, seed=0):
    """Two views of the same sentences sharing a few dominant high-variance directions; ``planted`` adds a class signal."""
    from steering.subspace import overlap_vs_nulls  # noqa: F401 - import checked here for a clear failure

    g = torch.Generator().manual_seed(seed)
    labels = (["anger"] * (n // 4) + ["gratitude"] * (n // 4) + ["apology"] * (n // 4) + ["neutral"] * (n // 4))
    dominant = torch.linalg.qr(torch.randn(d, 3, generator=g))[0].T  # shared anisotropy: 3 huge-variance directions
    latent = torch.randn(n, 3, generator=g) * torch.tensor([30.0, 20.0, 15.0])
    views = []
    for _ in range(2):
        x = latent @ dominant + torch.randn(n, d, generator=g)
        views.append(x)
    if planted:
        u = torch.linalg.qr(torch.randn(d, 3, generator=g))[0].T
        for i, e in enumerate(("anger", "gratitude", "apology")):
            rows = [j for j, x in enumerate(labels) if x == e]
            for x in views:
                x[rows] += planted * u[i]
    return views, labels


def test_overlap_vs_nulls_pure_anisotropy_is_high_old_but_null_new():
    from steering.subspace import overlap_vs_nulls

    (a, b), labels = _anisotropic_views(0.0)
    r = overlap_vs_nulls(a, b, labels, k=3, n_shuffle=100, seed=0)
    # Old method: centred emotion PCA shares the dominant directions -> far above the random k/d baseline.
    assert r.old_overlap > 0.8 and r.old_overlap > 10 * r.random_analytic
    # New method: the label-shuffled null shares them too, so the overlap is not above it.
    assert r.p_shuffled > 0.05 and abs(r.excess) < 0.1
    assert r.shuffled_null.lo <= r.overlap.value <= r.shuffled_null.hi
    assert r.p_floor == pytest.approx(1 / 101)


def test_overlap_vs_nulls_planted_class_signal_beats_both_nulls():
    from steering.subspace import overlap_vs_nulls

    (a, b), labels = _anisotropic_views(12.0)
    r = overlap_vs_nulls(a, b, labels, k=3, n_shuffle=100, n_boot=10, seed=0)
    assert r.p_shuffled < 0.02 and r.p_neutral < 0.02 and r.excess > 0.1
    assert r.overlap.lo <= r.overlap.value <= r.overlap.hi


def test_difference_subspace_keeps_the_neutral_offset_that_centring_removes():
    from steering.subspace import centred_emotion_subspace, difference_subspace

    g = torch.Generator().manual_seed(0)
    d = 20
    x = torch.randn(40, d, generator=g) * 0.1
    x[:20, 0] += 5.0  # emotion rows offset from neutral along e0, no spread along it
    x[:20, 1] += torch.randn(20, generator=g) * 2  # emotion spread along e1
    labels = ["anger"] * 20 + ["neutral"] * 20
    e = torch.eye(d)
    assert overlap(difference_subspace(x, labels, 1).basis, e[:1]) > 0.9
    assert overlap(centred_emotion_subspace(x, labels, 1).basis, e[:1]) < 0.1


def test_pca_gram_path_matches_svd_path():
    g = torch.Generator().manual_seed(3)
    x = torch.randn(30, 100, generator=g) @ torch.randn(100, 100, generator=g)
    fast = pca_subspace(x, 5)  # n < d: Gram path
    xc = x - x.mean(0)
    _, s, vh = torch.linalg.svd(xc, full_matrices=False)
    assert overlap(fast.basis, vh[:5]) == pytest.approx(1.0, abs=1e-4)
    assert torch.allclose(fast.explained, (s[:5] ** 2 / (s**2).sum()), atol=1e-5)
    assert torch.allclose(fast.basis @ fast.basis.T, torch.eye(5), atol=1e-4)
