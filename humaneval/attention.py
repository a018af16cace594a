"""Attention checks: items with an obvious answer, mixed in among the real ones, and how an answer is graded.

Two kinds: instructed-response items ("attention check: choose this text") and one obviously garbled sentence
rated for naturalness (1 or 2 passes). They look like any other item in the form (same ids, same layout);
the key records which they are and the expected answer in terms of blinded output ids.
"""

from dataclasses import dataclass


@dataclass(frozen=True)
class CheckSpec:
    """One attention-check item before blinding (shown under a real prompt): kind, texts, expected answer by position.

    ``expected``: pairwise ``{"choice": i}``; naturalness ``{"ratings": [..]}``; bestworst ``{"best": i, "worst": j}``.
    """

    kind: str
    texts: tuple[str, ...]
    expected: dict


CHECKS: dict[str, tuple[CheckSpec, ...]] = {
    "pairwise": (
        CheckSpec("pairwise", ("This is an attention check: choose this text, whatever the question asks.",
                               "This is an attention check: do not choose this text."), {"choice": 0}),
    ),
    "naturalness": (
        CheckSpec("naturalness", ("This is an attention check: rate this text 2, whatever you think of it.",),
                  {"ratings": [2]}),
        CheckSpec("naturalness", ("Banana the of quickly seven under table yesterday the of purple sings.",),
                  {"ratings": [1, 2]}),
    ),
    "bestworst": (
        CheckSpec("bestworst", ("This is an attention check: mark this text as MOST.",
                                "This is an attention check: mark this text as LEAST.",
                                "This is an attention check: mark this text neither most nor least (first).",
                                "This is an attention check: mark this text neither most nor least (second)."),
                  {"best": 0, "worst": 1}),
    ),
}


def check_plan(tasks: list[str], n: int) -> list[CheckSpec]:
    """``n`` check specs, taking the tasks in turn and each task's specs in turn."""
    kinds = [t for t in tasks if t in CHECKS]
    if not kinds:
        return []
    used = {k: 0 for k in kinds}
    out = []
    for i in range(n):
        kind = kinds[i % len(kinds)]
        specs = CHECKS[kind]
        out.append(specs[used[kind] % len(specs)])
        used[kind] += 1
    return out


def blinded_expected(spec: CheckSpec, output_ids: list[str]) -> dict:
    """The expected answer with text positions replaced by the blinded ids of those texts."""
    if spec.kind == "pairwise":
        return {"choice": output_ids[spec.expected["choice"]]}
    if spec.kind == "bestworst":
        return {"best": output_ids[spec.expected["best"]], "worst": output_ids[spec.expected["worst"]]}
    return dict(spec.expected)


def passed(kind: str, expected: dict, answer: dict | None) -> bool:
    """Whether ``answer`` (one entry of a rating file, or None if unanswered) meets ``expected``; unanswered fails."""
    if answer is None:
        return False
    if kind == "pairwise":
        return answer.get("choice") == expected["choice"]
    if kind == "naturalness":
        return answer.get("rating") in expected["ratings"]
    return answer.get("best") == expected["best"] and answer.get("worst") == expected["worst"]
