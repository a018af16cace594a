"""interp.stats against independent computations: numpy re-derivations, exact enumerations, textbook Holm, scipy."""

import dataclasses
import itertools
import json

import numpy as np
import pytest

from interp.stats import Estimate, bootstrap_ci, bootstrap_diff_ci, holm_bonferroni, permutation_pvalue, sign_flip_pvalue

X = np.array([2.3, -0.4, 1.7, 0.9, 3.1, 1.2, -1.0, 0.5, 2.8, 1.1, 0.2, 1.9])


# --- Estimate -------------------------------------------------------------------------------------------------------


def test_estimate_str_uses_four_significant_figures():
    assert str(Estimate(0.123456, 0.1, 0.2)) == "0.1235 [0.1, 0.2]"
    assert str(Estimate(12345.6, -0.000123456, 2e6)) == "1.235e+04 [-0.0001235, 2e+06]"
    assert str(Estimate(float("nan"), float("nan"), float("nan"))) == "nan [nan, nan]"


def test_estimate_to_dict_round_trips_through_json():
    e = Estimate(0.5, 0.25, 0.75, 0.9, 200)
    d = e.to_dict()
    assert d == {"value": 0.5, "lo": 0.25, "hi": 0.75, "level": 0.9, "n_boot": 200}
    assert Estimate(**json.loads(json.dumps(d))) == e
    assert Estimate(1.0, 0.0, 2.0).to_dict()["level"] == 0.95 and Estimate(1.0, 0.0, 2.0).n_boot == 0


def test_estimate_excludes_is_closed_interval_test_and_frozen():
    e = Estimate(0.5, 0.1, 0.9)
    assert e.excludes() and e.excludes(0.95) and e.excludes(-1.0)
    assert not e.excludes(0.1) and not e.excludes(0.9) and not e.excludes(0.5)  # end points are inside
    assert not Estimate(0.0, -1.0, 1.0).excludes()
    with pytest.raises(dataclasses.FrozenInstanceError):
        e.value = 1.0


# --- bootstrap_ci ---------------------------------------------------------------------------------------------------


def _numpy_percentile_bootstrap(x, stat, n_boot, level, seed):
    """Independent percentile bootstrap: same generator, same resample matrix, vectorised statistic."""
    idx = np.random.default_rng(seed).integers(0, len(x), size=(n_boot, len(x)))
    boots = stat(x[idx])
    a = (1 - level) / 2
    return float(np.quantile(boots, a)), float(np.quantile(boots, 1 - a))


@pytest.mark.parametrize("level", [0.95, 0.8])
@pytest.mark.parametrize("seed", [0, 7])
def test_bootstrap_ci_equals_numpy_percentile_bootstrap(level, seed):
    est = bootstrap_ci(X, n_boot=500, level=level, seed=seed)
    lo, hi = _numpy_percentile_bootstrap(X, lambda r: r.mean(axis=1), 500, level, seed)
    assert est.value == pytest.approx(X.mean(), abs=1e-12)
    assert est.lo == pytest.approx(lo, abs=1e-12) and est.hi == pytest.approx(hi, abs=1e-12)
    assert (est.level, est.n_boot) == (level, 500)


def test_bootstrap_ci_with_median_equals_numpy_reference():
    est = bootstrap_ci(X, np.median, n_boot=300, seed=3)
    lo, hi = _numpy_percentile_bootstrap(X, lambda r: np.median(r, axis=1), 300, 0.95, 3)
    assert (est.value, est.lo, est.hi) == pytest.approx((np.median(X), lo, hi), abs=1e-12)


def test_bootstrap_ci_agrees_with_scipy_percentile_bootstrap():
    from scipy.stats import bootstrap

    x = np.random.default_rng(11).normal(1.0, 2.0, 40)
    ref = bootstrap((x,), np.mean, method="percentile", n_resamples=2000, confidence_level=0.9,
                    rng=np.random.default_rng(1)).confidence_interval
    est = bootstrap_ci(x, n_boot=2000, level=0.9, seed=2)
    width = ref.high - ref.low
    assert abs(est.lo - ref.low) < 0.15 * width and abs(est.hi - ref.high) < 0.15 * width


def test_bootstrap_ci_is_ordered_nested_by_level_and_seeded():
    e95, e50 = bootstrap_ci(X, seed=5, level=0.95), bootstrap_ci(X, seed=5, level=0.5)
    assert e95.lo <= e50.lo <= e95.value <= e50.hi <= e95.hi  # same resamples, so the intervals nest
    assert bootstrap_ci(X, seed=5) == e95
    assert bootstrap_ci(X, seed=np.random.default_rng(5)) == e95  # a Generator is used as is
    assert bootstrap_ci(X, seed=6) != e95


def test_bootstrap_ci_coverage_is_near_nominal():
    """Percentile intervals of the mean of N(2, 1) samples (n = 30) cover 2 about 95% / 80% of the time."""
    rng = np.random.default_rng(0)
    data = rng.normal(2.0, 1.0, size=(200, 30))
    cover95 = np.mean([not bootstrap_ci(row, n_boot=200, seed=rng).excludes(2.0) for row in data])
    cover80 = np.mean([not bootstrap_ci(row, n_boot=200, level=0.8, seed=rng).excludes(2.0) for row in data])
    assert 0.89 <= cover95 <= 0.99
    assert 0.70 <= cover80 <= 0.88


def test_bootstrap_ci_resamples_rows_of_a_2d_array():
    pairs = np.column_stack([X, 2 * X + 1])
    est = bootstrap_ci(pairs, lambda r: float(np.corrcoef(r[:, 0], r[:, 1])[0, 1]), n_boot=100)
    assert est.value == pytest.approx(1.0) and est.lo == pytest.approx(1.0) and est.hi == pytest.approx(1.0)


def test_bootstrap_ci_of_constant_and_empty_input():
    c = bootstrap_ci([3.0] * 5, n_boot=50)
    assert (c.value, c.lo, c.hi) == (3.0, 3.0, 3.0)
    e = bootstrap_ci([], n_boot=50)
    assert np.isnan(e.value) and np.isnan(e.lo) and np.isnan(e.hi) and e.n_boot == 0


# --- bootstrap_diff_ci ----------------------------------------------------------------------------------------------


def _numpy_diff_bootstrap(x, y, n_boot, seed, paired):
    rng = np.random.default_rng(seed)
    boots = []
    for _ in range(n_boot):
        if paired:
            i = rng.integers(0, len(x), len(x))
            boots.append(x[i].mean() - y[i].mean())
        else:
            i = rng.integers(0, len(x), len(x))
            j = rng.integers(0, len(y), len(y))
            boots.append(x[i].mean() - y[j].mean())
    return float(np.quantile(boots, 0.025)), float(np.quantile(boots, 0.975))


@pytest.mark.parametrize("paired", [False, True])
def test_bootstrap_diff_ci_equals_numpy_reference(paired):
    y = X[::-1] * 0.5 + 0.3
    est = bootstrap_diff_ci(X, y, n_boot=400, seed=4, paired=paired)
    lo, hi = _numpy_diff_bootstrap(X, y, 400, 4, paired)
    assert est.value == pytest.approx(X.mean() - y.mean(), abs=1e-12)
    assert (est.lo, est.hi) == pytest.approx((lo, hi), abs=1e-12)
    assert est.n_boot == 400 and est.lo <= est.value <= est.hi


def test_bootstrap_diff_ci_unpaired_allows_different_lengths():
    y = np.array([0.1, 0.3, -0.2])
    est = bootstrap_diff_ci(X, y, n_boot=300, seed=1)
    assert est.value == pytest.approx(X.mean() - y.mean())
    assert (est.lo, est.hi) == pytest.approx(_numpy_diff_bootstrap(X, y, 300, 1, False), abs=1e-12)


def test_paired_bootstrap_is_narrower_for_correlated_samples():
    """b = a + small noise + 0.2: the paired CI of the difference sees only the noise, the unpaired one sees a's spread."""
    rng = np.random.default_rng(2)
    a = rng.normal(0, 3, 40)
    b = a + 0.2 + rng.normal(0, 0.05, 40)
    paired = bootstrap_diff_ci(a, b, n_boot=400, paired=True)
    unpaired = bootstrap_diff_ci(a, b, n_boot=400, paired=False)
    assert (paired.hi - paired.lo) < 0.1 * (unpaired.hi - unpaired.lo)
    assert paired.excludes(0.0) and not unpaired.excludes(0.0)
    assert paired.lo < -0.2 < paired.hi


# --- permutation_pvalue ---------------------------------------------------------------------------------------------

A = np.array([1.2, 3.4, 2.2, 5.0])
B = np.array([0.1, -0.3, 1.0, 0.7, 0.2])


def _exact_permutation(a, b, stat, alternative):
    """Exact p-value: every way of choosing len(a) of the pooled values as group a."""
    pooled, n = np.concatenate([a, b]), len(a)
    obs = stat(a, b)
    hits = []
    for idx in itertools.combinations(range(len(pooled)), n):
        mask = np.zeros(len(pooled), bool)
        mask[list(idx)] = True
        s = stat(pooled[mask], pooled[~mask])
        hits.append(s >= obs if alternative == "greater" else s <= obs if alternative == "less" else abs(s) >= abs(obs))
    return float(np.mean(hits))


def _mean_diff(u, v):
    return float(u.mean() - v.mean())


@pytest.mark.parametrize("alternative", ["two-sided", "greater", "less"])
def test_permutation_pvalue_matches_exact_enumeration(alternative):
    b = B + 1.45  # overlapping groups, so no p-value sits at the floor
    exact = _exact_permutation(A, b, _mean_diff, alternative)
    assert 0.05 < exact < 0.95 or alternative == "two-sided"
    p = permutation_pvalue(A, b, n_perm=4000, seed=0, alternative=alternative)
    assert p == pytest.approx(exact, abs=0.03)


def test_permutation_pvalue_with_custom_statistic_matches_exact():
    def med(u, v):
        return float(np.median(u) - np.median(v))

    exact = _exact_permutation(A, B + 1.45, med, "two-sided")
    assert permutation_pvalue(A, B + 1.45, med, n_perm=4000, seed=1) == pytest.approx(exact, abs=0.03)


def test_permutation_pvalue_is_never_zero_and_seeded():
    a, b = np.arange(10.0) + 100, np.arange(10.0)  # completely separated: exact one-sided p = 1 / C(20, 10)
    assert permutation_pvalue(a, b, n_perm=99, seed=0, alternative="greater") == pytest.approx(1 / 100)
    assert 1 / 100 <= permutation_pvalue(a, b, n_perm=99, seed=0) <= 3 / 100
    assert permutation_pvalue(A, B, n_perm=200, seed=3) == permutation_pvalue(A, B, n_perm=200, seed=np.random.default_rng(3))


def test_permutation_pvalue_of_identical_groups_is_one():
    assert permutation_pvalue([1.0, 2.0, 3.0], [1.0, 2.0, 3.0], n_perm=50) == 1.0  # every |s| >= |0|


def test_one_sided_permutation_pvalues_point_the_right_way():
    assert permutation_pvalue(A, B, n_perm=500, alternative="greater") < 0.05
    assert permutation_pvalue(A, B, n_perm=500, alternative="less") > 0.95


# --- holm_bonferroni ------------------------------------------------------------------------------------------------


def test_holm_bonferroni_hand_computed_values():
    # sorted: 0.005*4 = 0.02, 0.01*3 = 0.03, 0.03*2 = 0.06, max(0.04*1, 0.06) = 0.06
    np.testing.assert_allclose(holm_bonferroni([0.01, 0.04, 0.03, 0.005]), [0.03, 0.06, 0.06, 0.02])
    # sorted: 0.2*3 = 0.6, 0.4*2 = 0.8, 0.9*1 = 0.9
    np.testing.assert_allclose(holm_bonferroni([0.4, 0.9, 0.2]), [0.8, 0.9, 0.6])
    np.testing.assert_allclose(holm_bonferroni([0.5, 0.7, 0.9]), [1.0, 1.0, 1.0])  # capped at 1
    np.testing.assert_allclose(holm_bonferroni([0.03]), [0.03])  # one test: unadjusted
    assert holm_bonferroni([]).shape == (0,)


def _holm_step_down_rejects(p, alpha):
    """Textbook Holm: walk p-values upward, reject while p_(k) <= alpha / (m - k) (k from 0), stop at the first failure."""
    m = len(p)
    rejected = np.zeros(m, bool)
    for k, i in enumerate(np.argsort(p)):
        if p[i] > alpha / (m - k):
            break
        rejected[i] = True
    return rejected


@pytest.mark.parametrize("seed", range(5))
def test_holm_adjusted_pvalues_reproduce_step_down_decisions(seed):
    rng = np.random.default_rng(seed)
    p = np.concatenate([rng.uniform(0, 0.02, 4), rng.uniform(0, 1, 8)])
    rng.shuffle(p)
    adj = holm_bonferroni(p)
    for alpha in (0.01, 0.037, 0.05, 0.1, 0.25):
        np.testing.assert_array_equal(adj <= alpha, _holm_step_down_rejects(p, alpha), err_msg=f"alpha={alpha}")


@pytest.mark.parametrize("seed", range(3))
def test_holm_adjusted_pvalues_are_monotone_bounded_and_capped(seed):
    p = np.random.default_rng(seed).uniform(0, 1, 15)
    adj = holm_bonferroni(p)
    order = np.argsort(p)
    assert np.all(np.diff(adj[order]) >= 0), "adjusted p-values keep the order of the raw ones"
    assert np.all(adj >= p) and np.all(adj <= np.minimum(1.0, len(p) * p) + 1e-15) and np.all(adj <= 1.0)


# --- sign_flip_pvalue -----------------------------------------------------------------------------------------------

D = np.array([0.5, 1.2, -0.3, 0.8, 0.9, 1.5, -0.2, 0.4, -0.6, 0.3])


def _exact_sign_flip(d):
    signs = np.array(list(itertools.product([-1.0, 1.0], repeat=len(d))))
    return float(np.mean(np.abs((signs * d).mean(1)) >= abs(d.mean()) - 1e-12))


@pytest.mark.parametrize("d", [D, D - 0.45, D[:6] * np.array([1, -1, 1, -1, 1, 1])])
def test_sign_flip_pvalue_matches_exact_enumeration(d):
    assert sign_flip_pvalue(d, n_perm=20000, seed=0) == pytest.approx(_exact_sign_flip(d), abs=0.015)


def test_sign_flip_pvalue_agrees_with_scipy_exact_paired_test():
    from scipy.stats import permutation_test

    ref = permutation_test((D,), np.mean, permutation_type="samples", n_resamples=np.inf, alternative="two-sided").pvalue
    assert sign_flip_pvalue(D, n_perm=20000) == pytest.approx(ref, abs=0.015)


def test_sign_flip_pvalue_degenerate_inputs_and_nonfinite_rows():
    assert sign_flip_pvalue([]) == 1.0
    assert sign_flip_pvalue([0.0, 0.0, 0.0]) == 1.0
    assert sign_flip_pvalue([np.nan, np.inf]) == 1.0
    with_bad = np.concatenate([D, [np.nan, np.inf, -np.inf]])
    assert sign_flip_pvalue(with_bad, n_perm=500, seed=2) == sign_flip_pvalue(D, n_perm=500, seed=2)


def test_sign_flip_pvalue_floor_and_seed():
    d = np.full(12, 1.0)  # only the all-plus and all-minus flips reach |mean| = 1
    p = sign_flip_pvalue(d, n_perm=999, seed=0)
    assert 1 / 1000 <= p < 0.01
    assert sign_flip_pvalue(D, n_perm=300, seed=4) == sign_flip_pvalue(D, n_perm=300, seed=np.random.default_rng(4))


def test_estimate_format_is_the_one_ci_text():
    """``f"{est:+.3f}"`` formats value and CI alike; the analyses' table helpers are this format."""
    from circuits.causal_report import signed
    from circuits.circuit_figures import ci_text as circuit_ci
    from steering.geometry_figures import ci_text as geometry_ci
    from steering.sweep_analysis import ci as sweep_ci

    e = Estimate(0.1234, -0.0456, 0.3)
    assert f"{e:+.3f}" == "+0.123 [-0.046, +0.300]" == sweep_ci(e) == signed(e)
    assert f"{e:.3f}" == "0.123 [-0.046, 0.300]" == geometry_ci(e) == geometry_ci(e.to_dict()) == circuit_ci(e)
    assert f"{e}" == str(e) == "0.1234 [-0.0456, 0.3]"
    assert circuit_ci(e, value=False) == "[-0.046, 0.300]"
