"""Simulated raters with known preferences and noise, writing answer files exactly as the form does.

Planted truth:

- pairwise: a rater picks output a over b with probability σ(θ_sys(a) − θ_sys(b)) (Bradley–Terry with the planted θ);
- best–worst: best = argmax, worst = argmin of θ + Gumbel noise over the tuple (max-diff logit model);
- naturalness: each output has a true rating t drawn uniformly from 1..5; a rater reports t with probability q,
  otherwise a uniform draw from 1..5. With uniform margins, two ratings of one unit differ only when at least
  one is a random draw, so D_o = (1 − q²) · D_e for any metric and the planted α = q² (large-sample limit;
  Krippendorff's small-sample factor (n − 1)/n is ≈ 1 here);
- attention checks: attentive raters answer as instructed; a careless rater answers everything uniformly at random.
"""

import json
from pathlib import Path

import numpy as np

from humaneval.design import SCALE, Key
from humaneval.form import ANSWER_FORMAT, rater_items

THETA = {"none": -1.5, "prompting": -0.9, "random": -0.3, "steering": 0.3, "module": 0.9, "oracle": 1.5}


def outputs(n_prompts: int, theta: dict[str, float] = THETA, *, seed: int = 0) -> list[dict]:
    """One output per (prompt, system); an automatic score ``auto`` = θ of the system + noise (sd 0.5)."""
    rng = np.random.default_rng(seed)
    return [{"prompt": f"Prompt {p}: say something about the day.", "system": s, "output": f"Text {p}-{s}: a day happened.",
             "scores": {"auto": float(t + rng.normal(0, 0.5))}} for p in range(n_prompts) for s, t in theta.items()]


def truths(key: Key, *, seed: int = 1) -> dict[str, int]:
    """The planted true naturalness of every output (uniform on 1..5)."""
    rng = np.random.default_rng(seed)
    return {oid: int(rng.integers(1, 6)) for oid in key.outputs}


def answers(key: Key, rater: str, *, theta: dict[str, float], truth: dict[str, int], q: float, rng: np.random.Generator,
            careless: bool = False) -> dict:
    """One rater's answer file (as a dict) in the form's format and item order."""
    out = []
    for item, shown in rater_items(key, rater):
        a = {"item": item.id, "kind": item.kind, "shown": list(shown)}
        if item.id in key.checks and not careless:
            exp = key.checks[item.id]
            a.update({"rating": exp["ratings"][0]} if item.kind == "naturalness" else exp)
        elif careless:
            a.update(_random_answer(item.kind, shown, rng))
        else:
            a.update(_planted_answer(key, item.kind, shown, theta, truth, q, rng))
        out.append(a)
    return {"format": ANSWER_FORMAT, "version": 1, "item_set": key.item_set.id, "rater": rater, "saved_utc": "2025-01-01T00:00:00Z",
            "n_items": len(out), "complete": True, "comment": "", "answers": out}


def _planted_answer(key, kind, shown, theta, truth, q, rng) -> dict:
    th = np.array([theta[key.outputs[o].system] for o in shown])
    if kind == "pairwise":
        p_first = 1 / (1 + np.exp(-(th[0] - th[1])))
        return {"choice": shown[0] if rng.random() < p_first else shown[1]}
    if kind == "bestworst":
        u = th + rng.gumbel(size=len(shown))
        return {"best": shown[int(np.argmax(u))], "worst": shown[int(np.argmin(u))]}
    rating = truth[shown[0]] if rng.random() < q else int(rng.integers(1, 6))
    return {"rating": rating}


def _random_answer(kind, shown, rng) -> dict:
    if kind == "pairwise":
        return {"choice": shown[int(rng.integers(2))]}
    if kind == "bestworst":
        b, w = rng.choice(len(shown), size=2, replace=False)
        return {"best": shown[int(b)], "worst": shown[int(w)]}
    return {"rating": int(rng.choice(SCALE))}


def write_answers(key: Key, folder: Path, raters: list[str], *, theta=THETA, q: float = 0.8, careless: tuple[str, ...] = (),
                  seed: int = 0) -> list[Path]:
    """Simulate ``raters`` and write ``answers-<rater>.json`` into ``folder``; return the paths."""
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed + 7)
    truth = truths(key, seed=seed + 1)
    paths = []
    for r in raters:
        data = answers(key, r, theta=theta, truth=truth, q=q, rng=rng, careless=r in careless)
        paths.append(folder / f"answers-{r}.json")
        paths[-1].write_text(json.dumps(data))
    return paths
