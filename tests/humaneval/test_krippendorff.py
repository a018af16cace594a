"""Krippendorff's α against published worked examples, a planted large-sample value, and its bootstrap path."""

import numpy as np
import pytest

from humaneval.krippendorff import bootstrap_alpha, krippendorff_alpha

N = np.nan
# Krippendorff (2011), "Computing Krippendorff's Alpha-Reliability", section C: 4 observers, 12 units, values 1–5,
# missing data. Published: nominal .743, ordinal .815, interval .849, ratio .797.
FOUR_OBSERVERS = [[1, 2, 3, 3, 2, 1, 4, 1, 2, N, N, N],
                  [1, 2, 3, 3, 2, 2, 4, 1, 2, 5, N, 3],
                  [N, 3, 3, 3, 2, 3, 4, 2, 2, 5, 1, N],
                  [1, 2, 3, 3, 2, 4, 4, 1, 2, 5, 1, N]]
# Section A: binary data, two observers, no missing data. Published α = .095.
BINARY = [[0, 1, 0, 0, 0, 0, 0, 0, 1, 0],
          [1, 1, 1, 0, 0, 1, 0, 0, 0, 0]]
# Section B: nominal data, two observers (a..e coded 1..5), no missing data. Published α = .692.
NOMINAL_TWO = [[1, 1, 2, 2, 4, 3, 3, 3, 5, 4, 4, 1],
               [2, 1, 2, 2, 2, 3, 3, 3, 5, 4, 4, 4]]
# Krippendorff, Content Analysis (and Wikipedia's computational example): 3 coders, 15 units. Nominal .691, interval .811.
THREE_CODERS = [[N, N, N, N, N, 3, 4, 1, 2, 1, 1, 3, 3, N, 3],
                [1, N, 2, 1, 3, 3, 4, 3, N, N, N, N, N, N, N],
                [N, N, 2, 1, 3, 4, 4, N, 2, 1, 1, 3, 3, N, 4]]

PUBLISHED = [
    ("four-observers-nominal", FOUR_OBSERVERS, "nominal", 0.743),
    ("four-observers-ordinal", FOUR_OBSERVERS, "ordinal", 0.815),
    ("four-observers-interval", FOUR_OBSERVERS, "interval", 0.849),
    ("four-observers-ratio", FOUR_OBSERVERS, "ratio", 0.797),
    ("binary-two-observers", BINARY, "nominal", 0.095),
    ("nominal-two-observers", NOMINAL_TWO, "nominal", 0.692),
    ("three-coders-nominal", THREE_CODERS, "nominal", 0.691),
    ("three-coders-interval", THREE_CODERS, "interval", 0.811),
]


@pytest.mark.parametrize(("case", "data", "metric", "expected"), PUBLISHED, ids=[c[0] for c in PUBLISHED])
def test_alpha_matches_published_worked_examples(case, data, metric, expected):
    assert round(krippendorff_alpha(np.array(data, dtype=float), metric), 3) == expected


@pytest.mark.parametrize("metric", ["nominal", "ordinal", "interval", "ratio"])
def test_alpha_perfect_agreement_is_one_and_constant_data_is_undefined(metric):
    data = np.array([[1, 2, 3, 4, N], [1, 2, 3, 4, 5], [1, 2, N, 4, 5]], dtype=float)
    assert krippendorff_alpha(data, metric) == pytest.approx(1.0)
    assert np.isnan(krippendorff_alpha(np.ones((3, 4)), metric))


@pytest.mark.parametrize("metric", ["nominal", "ordinal", "interval"])
def test_alpha_recovers_planted_value_in_a_large_sample(metric):
    """Truth uniform on 1..5, each rating the truth with probability q else uniform: α = q² for every metric."""
    rng = np.random.default_rng(0)
    q, units, raters = 0.7, 20000, 4
    truth = rng.integers(1, 6, units)
    data = np.where(rng.random((raters, units)) < q, truth, rng.integers(1, 6, (raters, units))).astype(float)
    assert krippendorff_alpha(data, metric) == pytest.approx(q * q, abs=0.01)


def test_alpha_ignores_units_with_one_value_and_units_order():
    data = np.array(FOUR_OBSERVERS, dtype=float)
    lonely = np.hstack([data, [[7.0], [N], [N], [N]]])  # a unit only one observer coded is not pairable
    assert krippendorff_alpha(lonely, "nominal") == pytest.approx(krippendorff_alpha(data, "nominal"))
    perm = np.random.default_rng(1).permutation(data.shape[1])
    assert krippendorff_alpha(data[:, perm], "interval") == pytest.approx(krippendorff_alpha(data, "interval"))


@pytest.mark.parametrize("metric", ["nominal", "ordinal", "interval"])
def test_bootstrap_alpha_equals_alpha_of_the_resampled_matrix(metric):
    data = np.array(FOUR_OBSERVERS, dtype=float)
    rng = np.random.default_rng(2)
    draws = rng.multinomial(12, np.full(12, 1 / 12), size=5)
    got = bootstrap_alpha(data, metric, draws)
    for b in range(5):
        resampled = data[:, np.repeat(np.arange(12), draws[b])]
        assert got[b] == pytest.approx(krippendorff_alpha(resampled, metric), nan_ok=True)
    assert bootstrap_alpha(data, metric, np.ones((1, 12)))[0] == pytest.approx(krippendorff_alpha(data, metric))
