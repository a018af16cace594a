"""Scoring simulated raters whose preferences and noise are planted (see tests/humaneval/simulate.py)."""

import json

import numpy as np
import pytest
from scipy.stats import kendalltau

from humaneval import ScoreConfig, build_key, load_outputs, load_ratings, score
from humaneval.score import judgement_tables, output_measures, reliability_matrix
from humaneval.stats import spearman
from interp.errors import DatasetError, EmotionCircuitsWarning
from tests.humaneval import simulate as sim

RATERS = [f"r{i:02d}" for i in range(10)]
Q = 0.8
PLANTED_ALPHA = Q * Q  # 0.64: naturalness truth uniform on 1..5, each rating the truth with probability Q, else uniform


@pytest.fixture(scope="module")
def study(tmp_path_factory):
    """60 prompts × 6 systems, 10 attentive raters and one careless one; scored with 400 draws."""
    tmp = tmp_path_factory.mktemp("study")
    (tmp / "outputs.jsonl").write_text("".join(json.dumps(r) + "\n" for r in sim.outputs(60)))
    key = build_key(load_outputs(tmp / "outputs.jsonl"), tone="cheerful", raters=[*RATERS, "careless"], seed=0)
    paths = sim.write_answers(key, tmp / "answers", [*RATERS, "careless"], q=Q, careless=("careless",))
    return key, paths, score(key, load_ratings(key, paths), ScoreConfig(n_boot=400))


def test_score_recovers_planted_ranking(study):
    key, _, report = study
    planted = sorted(sim.THETA, key=sim.THETA.get, reverse=True)
    tau = kendalltau([planted.index(s) for s in report.ranking()], range(len(planted))).statistic
    assert tau >= 0.8, (report.ranking(), tau)
    theta = {s.system: s.strength for s in report.scores}
    mean = np.mean(list(sim.THETA.values()))
    assert all(abs(theta[s].value - (t - mean)) < 0.2 for s, t in sim.THETA.items()), theta
    assert all(e.lo <= e.value <= e.hi for e in theta.values())


def test_score_recovers_planted_alpha_of_naturalness(study):
    _, _, report = study
    nat = {a.metric: a.alpha for a in report.alphas if a.task == "naturalness"}
    assert set(nat) == {"nominal", "ordinal", "interval"}
    for metric, est in nat.items():
        assert abs(est.value - PLANTED_ALPHA) <= 0.05, (metric, est)
        assert est.lo < est.value < est.hi


def test_score_excludes_the_careless_rater_and_reports_why(study):
    key, _, report = study
    by = {r.rater: r for r in report.raters}
    assert by["careless"].excluded and by["careless"].n_failed >= 1 and set(by["careless"].failed_items) <= set(key.checks)
    assert not any(by[r].excluded or by[r].n_failed for r in RATERS)
    assert by["r00"].n_checks == len(key.checks) == 3


def test_score_keep_failed_counts_every_rater(study):
    key, paths, report = study
    kept = score(key, load_ratings(key, paths), ScoreConfig(n_boot=50, exclude_failed=False))
    assert not any(r.excluded for r in kept.raters)
    assert kept.wins.sum() == report.wins.sum() * 11 / 10


def test_score_win_rates_bt_and_position_bias_are_consistent(study):
    _, _, report = study
    rates = report.win_rates()
    off = ~np.eye(len(rates), dtype=bool)
    np.testing.assert_allclose((rates + rates.T)[off], 1.0)
    assert np.isnan(np.diag(rates)).all()
    assert report.wins.sum() == 10 * 60 * 15  # every rater, every pair of 6 systems per prompt
    pos = report.position_a_rate
    assert pos.lo < 0.5 < pos.hi, "simulated raters have no side bias"
    naturals = [s.naturalness.value for s in report.scores]
    assert all(2.5 < v < 3.5 for v in naturals), "planted naturalness is unrelated to the system"
    bws = {s.system: s.best_worst.value for s in report.scores}
    assert bws["oracle"] > bws["module"] > bws["steering"] > bws["random"] > bws["prompting"] > bws["none"]


def test_score_agreement_with_the_automatic_scorer(study):
    key, paths, report = study
    agree = {a.measure: a for a in report.agreement if a.scorer == "auto"}
    assert agree["preference"].rho.value > 0.6 and agree["preference"].rho.lo > 0.5
    assert agree["naturalness"].rho.lo < 0 < agree["naturalness"].rho.hi, "auto is unrelated to planted naturalness"
    files = list(load_ratings(key, paths).files[:10])  # the careless rater (last) is excluded
    pref = output_measures(key, judgement_tables(key, files))["preference"]
    ids = sorted(pref)
    rho = float(spearman(np.array([key.outputs[o].scores["auto"] for o in ids]), np.array([pref[o] for o in ids])))
    assert agree["preference"].rho.value == pytest.approx(rho)
    assert agree["preference"].n == len(ids) == 360


def test_score_bootstrap_over_prompts_gives_a_ci_too(study):
    key, paths, _ = study
    report = score(key, load_ratings(key, paths), ScoreConfig(n_boot=100, bootstrap_over="prompts"))
    assert all(s.strength.lo < s.strength.value < s.strength.hi for s in report.scores)


def test_reliability_matrix_codes_choices_by_position(study):
    key, paths, _ = study
    files = list(load_ratings(key, paths).files)
    data = reliability_matrix(key, files, "pairwise")
    assert data.shape == (11, 900) and set(np.unique(data)) == {0.0, 1.0}
    nat = reliability_matrix(key, files, "naturalness")
    assert nat.shape == (11, 360) and set(np.unique(nat)) <= {1.0, 2.0, 3.0, 4.0, 5.0}


def test_ratings_malformed_file_is_skipped_with_a_warning_and_loses_no_other(study, tmp_path):
    key, paths, _ = study
    bad = tmp_path / "answers-broken.json"
    bad.write_text('{"format": "emotion-circuits-humaneval-answers", "item_set": "' + key.item_set.id + '", "rater": "r00", "answers": [')
    odd = tmp_path / "answers-odd.json"
    data = json.loads(paths[1].read_text())
    data["answers"][0]["choice" if "choice" in data["answers"][0] else "rating"] = "nonsense"
    odd.write_text(json.dumps(data))
    with pytest.warns(EmotionCircuitsWarning) as rec:
        ratings = load_ratings(key, [paths[0], bad, odd, *paths[2:]])
    assert ["answers-broken.json" in str(w.message) for w in rec] == [True, False]
    assert "answers-odd.json" in str(rec[1].message) and "choice 'nonsense'" in str(rec[1].message)
    assert [s.path for s in ratings.skipped] == [str(bad), str(odd)]
    assert [f.rater for f in ratings.files] == ["r00", *RATERS[2:], "careless"]


def test_ratings_for_another_item_set_or_doubled_rater_are_errors(study, tmp_path):
    key, paths, _ = study
    data = json.loads(paths[0].read_text())
    other = tmp_path / "other.json"
    other.write_text(json.dumps({**data, "item_set": "0123456789abcdef"}))
    with pytest.raises(DatasetError, match="is for item set '0123456789abcdef', not"):
        load_ratings(key, [paths[1], other])
    twin = tmp_path / "twin.json"
    twin.write_text(paths[0].read_text())
    with pytest.raises(DatasetError, match="rater 'r00' has two rating files"):
        load_ratings(key, [paths[0], twin])


def test_ratings_all_malformed_is_an_error(study, tmp_path):
    key, _, _ = study
    (tmp_path / "a.json").write_text("not json")
    with pytest.warns(EmotionCircuitsWarning), pytest.raises(DatasetError, match="none of the 1 rating file"):
        load_ratings(key, [tmp_path])


def test_score_every_rater_failing_checks_is_an_error(study):
    key, paths, _ = study
    with pytest.raises(DatasetError, match="--keep-failed"):
        score(key, load_ratings(key, [paths[-1]]), ScoreConfig(n_boot=10))


def test_score_ranks_by_best_worst_where_no_pairwise_items_were_rated(tmp_path):
    rows = sim.outputs(30)
    key = build_key(_load_rows(tmp_path, rows), tone="cheerful", raters=RATERS[:5], tasks=["bestworst", "naturalness"])
    report = score(key, load_ratings(key, sim.write_answers(key, tmp_path / "a", RATERS[:5])), ScoreConfig(n_boot=50))
    assert all(np.isnan(s.strength.value) and s.n_comparisons == 0 for s in report.scores)
    planted = sorted(sim.THETA, key=sim.THETA.get, reverse=True)
    assert kendalltau([planted.index(s) for s in report.ranking()], range(6)).statistic >= 0.8


def _load_rows(tmp_path, rows):
    (tmp_path / "o.json").write_text(json.dumps(rows))
    return load_outputs(tmp_path / "o.json")
