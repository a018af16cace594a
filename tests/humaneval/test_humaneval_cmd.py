"""``emotion-circuits humaneval make|score`` end to end with simulated raters, and its user errors (README "## Errors")."""

import json
from pathlib import Path

from scipy.stats import kendalltau

from humaneval import build_key, load_key
from humaneval.inputs import SystemOutput
from tests.helpers import run_cli
from tests.humaneval import simulate as sim
from tests.humaneval.error_cases import HUMANEVAL_CASES, key_and_answers, outputs_file

ROOT = Path(__file__).resolve().parents[2]


def test_make_then_score_recovers_the_planted_ranking_and_alpha(tmp_path, capsys):
    raters = [f"r{i:02d}" for i in range(10)] + ["careless"]
    code, out, err = run_cli(["humaneval", "make", str(outputs_file(tmp_path)), "--tone", "cheerful", "--raters", ",".join(raters),
                              "--out", str(tmp_path / "kit"), "--json"], capsys)
    assert code == 0, err
    made = json.loads(out)
    assert made["items"] == {"pairwise": 901, "bestworst": 121, "naturalness": 361} and made["checks"] == 3
    assert sorted(made["forms"]) == sorted(raters) and all(Path(p).is_file() for p in made["forms"].values())
    key = load_key(made["key"])
    assert key.item_set.id == made["item_set"]
    answers = sim.write_answers(key, tmp_path / "answers", raters, q=0.8, careless=("careless",))
    code, out, err = run_cli(["humaneval", "score", made["key"], str(tmp_path / "answers"), "--n-boot", "200",
                              "--runs-root", str(tmp_path / "runs"), "--json"], capsys)
    assert code == 0, err
    rep = json.loads(out)
    planted = sorted(sim.THETA, key=sim.THETA.get, reverse=True)
    assert kendalltau([planted.index(s) for s in rep["ranking"]], range(6)).statistic >= 0.8, rep["ranking"]
    for a in rep["alphas"]:
        if a["task"] == "naturalness":
            assert abs(a["alpha"]["value"] - 0.64) <= 0.05, a  # planted α = q² = 0.64 (tests/humaneval/simulate.py)
    assert [r["rater"] for r in rep["raters"] if r["excluded"]] == ["careless"]
    assert Path(rep["files"]["report"]).is_file() and Path(rep["files"]["figure"]).is_file()
    assert Path(rep["run_dir"]).parent == tmp_path / "runs" / "humaneval-score"
    assert len(answers) == 11


def test_score_prints_tables_and_writes_the_figure(tmp_path, capsys):
    key = build_key([SystemOutput(f"p{p}", s, f"t{p}{s}", {"auto": float(i)}) for p in range(6)
                     for i, s in enumerate(sim.THETA)], tone="calm", raters=["a", "b"])
    key_path = key.save(tmp_path / "key.json")
    sim.write_answers(key, tmp_path / "ans", ["a", "b"])
    code, out, err = run_cli(["humaneval", "score", str(key_path), str(tmp_path / "ans"), "--n-boot", "20", "--reference", "none",
                              "--out", str(tmp_path / "report")], capsys)
    assert code == 0, err
    assert "beats none" in out and "Krippendorff" in out and "attention checks" in out
    page = (tmp_path / "report" / "summary.html").read_text()
    assert "Plotly.newPlot" in page and "cdn.plot.ly" not in page.split("<body>")[1]
    assert json.loads((tmp_path / "report" / "report.json").read_text())["item_set"] == key.item_set.id


def test_malformed_rating_file_warns_and_strict_exits_2_after_the_report(tmp_path, capsys):
    key_path, answers = key_and_answers(tmp_path)
    bad = tmp_path / "ans" / "zz-bad.json"
    bad.write_text("{ not json")
    code, out, err = run_cli(["humaneval", "score", str(key_path), str(tmp_path / "ans"), "--n-boot", "20", "--json",
                              "--out", str(tmp_path / "lenient")], capsys)
    assert code == 0 and err.startswith("warning: skipped malformed rating file") and "zz-bad.json" in err
    rep = json.loads(out)
    assert [s["path"] for s in rep["skipped"]] == [str(bad)] and sorted(r["rater"] for r in rep["raters"]) == ["a", "b"]
    code, _, err = run_cli(["humaneval", "score", str(key_path), str(tmp_path / "ans"), "--n-boot", "20", "--strict",
                            "--out", str(tmp_path / "strict")], capsys)
    lines = [ln for ln in err.strip().splitlines() if ln.strip()]
    assert code == 2 and lines[-1].startswith("error: 1 rating file(s) skipped") and "zz-bad.json" in lines[-1]
    assert (tmp_path / "strict" / "report.json").is_file(), "the valid raters' report is written before exit 2"


# The HUMANEVAL_CASES themselves (one `error:` line, exit 2, no traceback) are walked with the README Errors
# table by tests/experiments/test_errors.py, which appends them to its CASES.


def test_readme_errors_table_lists_the_humaneval_errors():
    section = (ROOT / "README.md").read_text().split("## Errors", 1)[1].split("\n## ", 1)[0]
    rows = [ln for ln in section.splitlines() if ln.startswith("| ") and "humaneval" in ln and "| 2 |" in ln]
    assert 1 <= len(rows) <= len(HUMANEVAL_CASES)
    for needle in ("holds no items", "unknown system name", "is for item set", "has two rating files", "is usable"):
        assert any(needle in row for row in rows), needle


def test_make_refuses_an_out_folder_holding_another_item_sets_key(tmp_path, capsys):
    args = ["humaneval", "make", str(outputs_file(tmp_path, 3)), "--tone", "calm", "--n-raters", "2", "--out", str(tmp_path / "kit")]
    assert run_cli(args, capsys)[0] == 0
    assert run_cli(args, capsys)[0] == 0, "remaking the same item set into its folder is allowed"
    code, _, err = run_cli([*args, "--seed", "1"], capsys)
    assert code == 2 and err.startswith("error:") and "already holds the key of another item set" in err
