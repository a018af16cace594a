"""The tone command's rows of the README's Errors table, as (case id, argv builder, pattern) for tests/experiments/test_errors.py."""

TONE_CASES = [
    ("tone-level-outside-0-1", lambda t, r: ["tone", "reply", "Hi", "--target", "gratitude=1.5", "--runs-root", r], "outside [0, 1]"),
    ("tone-unknown-label", lambda t, r: ["tone", "eval", "--tones", "warm;joy=0.5", "--runs-root", r], "unknown tone label 'joy'"),
    ("tone-budget-0", lambda t, r: ["tone", "reply", "Hi", "--budget", "0", "--runs-root", r], "--budget is 0"),
    ("tone-serve-db-without-key", lambda t, r: ["tone", "serve", "--answers-db", str(t / "a.sqlite"), "--runs-root", r],
     "--answers-db and --key go together"),
    ("tone-run-without-sweep", lambda t, r: ["tone", "reply", "Hi", "--run", str(t), "--runs-root", r], "no stored sweep"),
]
