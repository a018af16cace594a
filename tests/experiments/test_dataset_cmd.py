"""``emotion-circuits dataset stats|validate`` on the confound-controlled data: the confound table, its warnings,
and one clear ``error:`` line (exit 2) for broken pairs or sets."""

import json

import pytest

from tests.helpers import run_cli


def _write(tmp_path, recs, name="d.jsonl"):
    p = tmp_path / name
    p.write_text("".join(json.dumps({"spans": [], "language": "en", "attribute": "emotion", **r}) + "\n" for r in recs))
    return p


def _one_error_line(code, err, pattern):
    assert code == 2, err
    assert "Traceback" not in err
    lines = [ln for ln in err.strip().splitlines() if ln.strip()]
    assert len(lines) == 1 and lines[0].startswith("error:"), err
    assert pattern in lines[0], err


def _planted_file(tmp_path):
    """30 gratitude sentences ending in '!' against 30 neutral ones ending in '.': a pure punctuation confound."""
    recs = []
    for i in range(30):
        recs.append({"id": f"g{i}", "text": f"Thanks for parcel number {i} on the desk!", "emotion": "gratitude", "spans": [[0, 6]]})
        recs.append({"id": f"n{i}", "text": f"Parcel number {i} is now on the desk.", "emotion": "neutral"})
    return _write(tmp_path, recs, "planted.jsonl")


def test_stats_flags_a_planted_punctuation_confound(capsys, tmp_path):
    path = _planted_file(tmp_path)
    code, out, _ = run_cli(["dataset", "stats", "--dataset", str(path), "--json"], capsys)
    conf = json.loads(out)["confounds"]
    assert code == 0 and conf["ok"] is False
    assert [(w["feature"], w["label"], w["difference"]) for w in conf["warnings"]] == [("exclamation", "gratitude", 1.0)]
    code, out, _ = run_cli(["dataset", "stats", "--dataset", str(path)], capsys)
    warnings = [ln for ln in out.splitlines() if ln.startswith("WARNING:")]
    assert code == 0 and len(warnings) == 1 and warnings[0].startswith("WARNING: exclamation: gratitude rate 1.00 vs neutral 0.00")


def test_stats_baseline_warns_and_matched_passes(capsys):
    code, out, _ = run_cli(["dataset", "stats", "--json"], capsys)
    base = json.loads(out)["confounds"]
    assert code == 0 and not base["ok"] and not base["pairs"]
    assert {("first_second_person", "gratitude"), ("starts_with_the", "apology"), ("comma", "apology")} <= {
        (w["feature"], w["label"]) for w in base["warnings"]}
    code, out, _ = run_cli(["dataset", "stats", "--dataset", "matched", "--json"], capsys)
    matched = json.loads(out)["confounds"]
    assert code == 0 and matched["ok"] and matched["warnings"] == [] and matched["pair_warnings"] == []
    assert [p["n_pairs"] for p in matched["pairs"]] == [70, 70, 70]
    assert all(p["mismatch_comma"] == 0 and p["max_abs_word_diff"] <= 2 for p in matched["pairs"])
    code, out, _ = run_cli(["dataset", "stats", "--dataset", "matched"], capsys)
    assert code == 0 and "matched pairs" in out and "WARNING" not in out and "no surface feature differs" in out


def test_stats_threshold_changes_what_is_flagged(capsys):
    code, out, _ = run_cli(["dataset", "stats", "--threshold", "0.4", "--json"], capsys)
    flagged = {(w["feature"], w["label"]) for w in json.loads(out)["confounds"]["warnings"]}
    assert code == 0 and flagged == {("first_second_person", "gratitude"), ("first_second_person", "apology"), ("starts_with_the", "gratitude")}
    code, _, err = run_cli(["dataset", "stats", "--threshold", "1.5"], capsys)
    _one_error_line(code, err, "threshold must be strictly between 0 and 1")


def test_stats_with_real_tokenizer_reports_token_lengths_per_label(capsys):
    from interp.registry import KNOWN_MODELS

    if not KNOWN_MODELS["smollm2-135m"].package_installed():
        pytest.skip("smollm2-135m weights not installed")
    code, out, _ = run_cli(["dataset", "stats", "--dataset", "matched", "--model", "smollm2-135m", "--json"], capsys)
    rows = {r["emotion"]: r for r in json.loads(out)["emotions"]}
    assert code == 0 and rows["neutral"]["n"] == 210 and rows["neutral"]["with_span"] == 0
    assert abs(rows["neutral"]["mean_tokens"] - rows["gratitude"]["mean_tokens"]) < 1.5


_G = {"id": "g1", "text": "Thank you for the lovely dinner tonight.", "emotion": "gratitude", "spans": [[0, 5]]}
_N = {"id": "neutral-m-g1", "text": "Tell me about the large dinner tonight.", "emotion": "neutral", "pair_id": "g1"}


@pytest.mark.parametrize("command", ["validate", "stats"])
@pytest.mark.parametrize(
    ("recs", "pattern"),
    [
        ([_G, _N, dict(_G, id="g2", text="Thanks for the ride home.", spans=[[0, 6]])], "without a matched neutral counterpart: g2"),
        ([_G, dict(_N, pair_id="g7")], "pair_id names no record of the dataset: neutral-m-g1 -> g7"),
        ([_G, _N, dict(_N, id="n2", text="Tell me about the big lunch today.")], "one matched counterpart, but g1 <- neutral-m-g1 & n2"),
        ([_G, dict(_N, emotion="apology")], "must be labelled 'neutral'"),
        ([{"id": "implicit-apology-001", "text": "I am so sorry about the long wait.", "emotion": "apology", "set": "implicit"}],
         "implicit record implicit-apology-001 contains the lexicon word 'sorry'"),
    ],
)
def test_broken_pairs_or_implicit_lexicon_word_give_one_error_line(capsys, tmp_path, command, recs, pattern):
    code, _, err = run_cli(["dataset", command, "--dataset", str(_write(tmp_path, recs))], capsys)
    _one_error_line(code, err, pattern)


def test_validate_reports_an_unmatched_counterpart(capsys, tmp_path):
    recs = [_G, dict(_N, text="The large dinner starts at eight tonight, says the host.")]
    code, _, err = run_cli(["dataset", "validate", "--dataset", str(_write(tmp_path, recs))], capsys)
    _one_error_line(code, err, "neutral-m-g1: counterpart of g1 differs in first_second_person, starts_with_the, comma")
    code, out, _ = run_cli(["dataset", "validate", "--dataset", "matched", "--json"], capsys)
    assert code == 0 and json.loads(out)["ok"] and json.loads(out)["counts"]["neutral"] == 210
