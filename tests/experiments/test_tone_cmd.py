"""``emotion-circuits tone``: bad input gives one error line and exit 2 (before any model loads); a tiny end-to-end reply."""

import pytest

from tests.helpers import run_cli


def _error_lines(err: str) -> list[str]:
    """The ``error:`` lines of stderr (the model loader's progress lines are not ours)."""
    return [ln for ln in err.replace("\r", "\n").splitlines() if ln.startswith("error:")]


@pytest.mark.parametrize("args, fragment", [
    (["tone", "reply", "Hi", "--target", "gratitude=1.5"], "outside [0, 1]"),
    (["tone", "reply", "Hi", "--target", "joy=0.5"], "unknown tone label 'joy'"),
    (["tone", "reply", "Hi", "--target", "warm", "--budget", "0"], "--budget is 0"),
    (["tone", "reply", "Hi", "--target", "gratitude=0.5,"], "malformed"),
    (["tone", "eval", "--tones", "warm;anger=-1"], "outside [0, 1]"),
    (["tone", "eval", "--budget", "0"], "--budget is 0"),
    (["tone", "eval", "--n-prompts", "31"], "--n-prompts must be between 1 and 30"),
    (["tone", "eval", "--tones", ";"], "empty"),
])
def test_tone_bad_input_is_one_error_line(args, fragment, capsys, tmp_path):
    code, out, err = run_cli([*args, "--runs-root", str(tmp_path)], capsys)
    assert code == 2
    lines = _error_lines(err)
    assert len(lines) == 1 and fragment in lines[0] and "Traceback" not in err, err
    assert not list(tmp_path.iterdir())  # refused before a run folder exists


def test_tone_reply_from_a_run_without_a_sweep_is_one_error_line(capsys, tmp_path):
    (tmp_path / "empty").mkdir()
    code, _, err = run_cli(["tone", "reply", "Hi", "--model", "tiny", "--run", str(tmp_path / "empty"), "--runs-root", str(tmp_path)],
                           capsys)
    assert code == 2 and len(_error_lines(err)) == 1 and "no stored sweep" in err


def test_tone_reply_calibrates_and_refuses_an_uncontrollable_label(capsys, tmp_path):
    """The tiny random model's text carries no tone: calibration runs and stores its sweep, and the agent then refuses
    the label its window cannot raise, in one line."""
    code, out, err = run_cli(["tone", "reply", "Hello", "--model", "tiny", "--target", "gratitude=0.5", "--n-calibration", "4",
                              "--max-new-tokens", "4", "--budget", "2", "--json", "--runs-root", str(tmp_path)], capsys)
    assert code == 2 and len(_error_lines(err)) == 1 and "cannot control 'gratitude'" in err, err
    (run,) = list((tmp_path / "tone").iterdir())
    assert (run / "calibration" / "vectors.safetensors").exists() and (run / "calibration" / "sweep" / "summary.json").exists()
