"""Subspaces: PCA recovers a planted subspace; overlap is 1 with itself, 0 when orthogonal, k/d at random."""

import numpy as np
import pytest
import torch

from interp.errors import ConfigError, DatasetError
from steering.subspace import (compare_subspaces, emotion_rows, overlap, pad_to, pca_subspace, principal_cosines,
                               random_overlap_expected, random_overlap_sampled)


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
