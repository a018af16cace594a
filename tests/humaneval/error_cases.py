"""The ``humaneval`` rows of README's "## Errors" table as CLI cases, in the format of tests/experiments/test_errors.py.

``tests/experiments/test_errors.py`` can walk them with ``CASES += HUMANEVAL_CASES``. Nothing here imports
``humaneval`` at import time (the builders do, when a test runs), so importing this module from another test
folder does not import the package before tests/humaneval/conftest.py installs its shape checks.
"""

import json
from pathlib import Path


def outputs_file(tmp: Path, n_prompts: int = 60) -> Path:
    from tests.humaneval import simulate as sim

    path = tmp / "outputs.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in sim.outputs(n_prompts)))
    return path


def key_and_answers(tmp: Path, raters=("a", "b")) -> tuple[Path, list[Path]]:
    from humaneval import build_key
    from humaneval.inputs import SystemOutput
    from tests.humaneval import simulate as sim

    key = build_key([SystemOutput(f"p{p}", s, f"t{p}{s}") for p in range(4) for s in ("none", "prompting", "steering", "module")],
                    tone="calm", raters=list(raters))
    return key.save(tmp / "key.json"), sim.write_answers(key, tmp / "ans", list(raters))


def _other_item_set(t: Path) -> Path:
    key_path, answers = key_and_answers(t)
    data = json.loads(answers[0].read_text())
    (t / "foreign.json").write_text(json.dumps({**data, "item_set": "0000000000000000"}))
    return t / "foreign.json"


def _twin(t: Path) -> list[str]:
    key_path, answers = key_and_answers(t)
    (t / "twin.json").write_text(answers[0].read_text())
    return [str(key_path), str(answers[0]), str(t / "twin.json")]


def _only_malformed(t: Path) -> list[str]:
    key_path, _ = key_and_answers(t)
    (t / "bad.json").write_text('{"format": "emotion-circuits-humaneval-answers", "answers": 3}')
    return [str(key_path), str(t / "bad.json")]


def _not_sqlite(t: Path) -> Path:
    (t / "answers.sqlite").write_text("not a database " * 100)
    return t / "answers.sqlite"


def _empty(t: Path) -> Path:
    (t / "empty.jsonl").write_text("")
    return t / "empty.jsonl"


# (case id, args builder (tmp, runs root) -> argv, pattern in the error line); the format of
# tests/experiments/test_errors.py's CASES, which can take these rows with `CASES += HUMANEVAL_CASES`.
HUMANEVAL_CASES = [
    ("humaneval-empty-outputs", lambda t, r: ["humaneval", "make", str(_empty(t)), "--tone", "calm", "--n-raters", "2",
                                              "--runs-root", r], "holds no items"),
    ("humaneval-unknown-system", lambda t, r: ["humaneval", "make", str(outputs_file(t, 2)), "--tone", "calm", "--n-raters", "2",
                                               "--systems", "none,nope", "--runs-root", r], "unknown system name(s) 'nope'"),
    ("humaneval-unknown-reference", lambda t, r: ["humaneval", "score", str(key_and_answers(t)[0]), str(t / "ans"),
                                                  "--reference", "nope", "--runs-root", r], "unknown system name 'nope'"),
    ("humaneval-other-item-set", lambda t, r: ["humaneval", "score", str(key_and_answers(t)[0]), str(_other_item_set(t)),
                                               "--runs-root", r], "is for item set '0000000000000000'"),
    ("humaneval-duplicate-rater", lambda t, r: ["humaneval", "score", *_twin(t), "--runs-root", r], "rater 'a' has two rating files"),
    ("humaneval-no-usable-rating-file", lambda t, r: ["humaneval", "score", *_only_malformed(t), "--runs-root", r],
     "none of the 1 rating file(s) is usable"),
    ("humaneval-answers-db-not-sqlite", lambda t, r: ["humaneval", "export-answers", str(_not_sqlite(t)), str(key_and_answers(t)[0]),
                                                      "--out", str(t / "x")], "cannot be used (file is not a database)"),
    ("humaneval-answers-db-missing", lambda t, r: ["humaneval", "export-answers", str(t / "none.sqlite"), str(key_and_answers(t)[0]),
                                                   "--out", str(t / "x")], "does not exist"),
]
