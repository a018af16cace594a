"""Sequential (Besag–Clifford) random-draw controls: valid under the null, cheaper on nulls, exact on strong effects."""

import numpy as np
import pytest

from circuits.head_controls import control_p, sequential_controls, sequential_p
from interp.errors import ConfigError


def test_sequential_p_stops_at_the_h_th_extreme_draw():
    draws = [0.1, 2.0, 0.2, 3.0, 5.0, 0.0, 9.0]
    p = sequential_p(1.0, draws, n_planned=100, stop_after=3)
    assert p.stopped_early and p.n_draws == 5 and p.p == pytest.approx(3 / 5) and p.p_floor == pytest.approx(1 / 101)
    assert sequential_p(1.0, draws, n_planned=100, stop_after=0).p == pytest.approx(5 / 8)  # no stopping: (1 + k)/(1 + n)
    assert sequential_p(10.0, [0.0] * 100, 100, 10).p == pytest.approx(1 / 101)  # beats every draw: the floor


def test_sequential_controls_evaluate_few_draws_on_a_null_and_all_on_a_strong_effect():
    rng = np.random.default_rng(0)
    pool = rng.normal(size=(2, 100))
    calls = []

    def evaluate(req):
        calls.append(len(req))
        return [pool[i, j] for i, j in req]

    res, ps = sequential_controls([0.0, 10.0], [100, 100], evaluate, stop_after=10, block=20)
    assert ps[0].stopped_early and ps[0].n_draws < 25 and ps[0].p > 0.4
    assert not ps[1].stopped_early and ps[1].n_draws == 100 and ps[1].p == pytest.approx(1 / 101)
    assert len(res[0]) == ps[0].n_draws and len(res[1]) == 100
    with pytest.raises(ConfigError, match="stop_after"):
        sequential_controls([0.0], [10], evaluate, stop_after=-1)


def test_sequential_p_is_valid_under_the_null():
    """Observed and draws exchangeable: P(p ≤ a) ≤ a (within Monte Carlo error) for a = 0.05 and 0.2."""
    rng = np.random.default_rng(1)
    ps = []
    for _ in range(3000):
        x = rng.normal(size=101)
        _, (p,) = sequential_controls([x[0]], [100], lambda req: [x[1 + j] for _, j in req], stop_after=10, block=20)
        ps.append(p.p)
    ps = np.array(ps)
    for a in (0.05, 0.2):
        assert (ps <= a).mean() <= a + 0.015
    assert control_p(0.0, [1.0]).p == 1.0
