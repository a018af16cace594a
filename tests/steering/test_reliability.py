"""Reliability of emotion vectors: bootstrap CIs, split-half stability, shuffled-label null."""

import numpy as np
import pytest
import torch

from interp.errors import DatasetError
from steering.reliability import pair_key, strongest_band, vector_reliability

pytestmark = pytest.mark.usefixtures("one_thread")


def _data(signal=2.0, n=50, d=40, seed=0):
    g = torch.Generator().manual_seed(seed)
    ua, ub = torch.eye(d)[0], torch.eye(d)[1]
    x = torch.randn(3 * n, d, generator=g)
    x[:n] += signal * ua
    x[n:2 * n] += signal * ub
    return x, ["anger"] * n + ["gratitude"] * n + ["neutral"] * n, ua, ub


def test_vector_reliability_ci_covers_true_norm_and_split_half_is_high():
    x, labels, ua, _ = _data(signal=3.0)
    r = vector_reliability(x, labels, n_boot=300, n_splits=20, n_shuffle=30)
    # True vector = 3·ua; the estimate adds noise of norm ≈ sqrt(2d/n), so the CI must sit near 3 and above the null.
    assert r.norm["anger"].lo < float(np.sqrt(9 + 2 * 40 / 50)) + 0.3 and r.norm["anger"].hi > 3.0
    assert r.norm["anger"].lo > r.norm_null["anger"].hi
    assert r.split_half["anger"].value > 0.6 > r.split_half_null["anger"].hi
    assert r.signal_ratio() > 2


def test_vector_reliability_null_cosine_is_half_with_shared_neutral_reference():
    x, labels, _, _ = _data(signal=0.0, n=80)
    r = vector_reliability(x, labels, n_boot=50, n_splits=5, n_shuffle=200)
    assert abs(r.cosine_null[pair_key("anger", "gratitude")].value - 0.5) < 0.08
    assert 0.6 < r.signal_ratio() < 1.5
    r2 = vector_reliability(x, labels, contrast="others", n_boot=50, n_splits=5, n_shuffle=50)
    assert r2.cosine[pair_key("anger", "gratitude")].value == pytest.approx(-1.0, abs=1e-5)  # v_a = -v_b with 2 emotions


def test_vector_reliability_orthogonal_directions_give_low_cosine():
    x, labels, _, _ = _data(signal=6.0, n=100)
    r = vector_reliability(x, labels, n_boot=200, n_splits=5, n_shuffle=20)
    c = r.cosine[pair_key("anger", "gratitude")]
    assert c.lo < 0.15 and c.value < 0.1
    assert r.cosine_matrix().shape == (2, 2)


def test_vector_reliability_rejects_single_sentence():
    x = torch.randn(6, 4)
    with pytest.raises(DatasetError, match="at least 2"):
        vector_reliability(x, ["anger", "gratitude", "gratitude", "neutral", "neutral", "neutral"])


def test_strongest_band_picks_the_best_window():
    assert strongest_band([0, 1, 5, 6, 5, 1], list(range(6)), width=3) == [2, 3, 4]
    assert strongest_band([3.0], [7]) == [7]
