"""Score rating files against their key: attention checks, Bradley–Terry, win rates, naturalness, best–worst,
Krippendorff's α and agreement with the automatic scorers, each with a bootstrap CI.

System-level CIs resample raters (default) or prompts with replacement: every judgement is first summed per
unit, so each bootstrap draw is a weighted sum of unit totals. α resamples items (the reliability units; a
rater drawn twice would agree with itself). Agreement resamples outputs.
"""

from dataclasses import dataclass

import numpy as np
from jaxtyping import Float, Int

from humaneval.attention import passed
from humaneval.bradley_terry import fit_bradley_terry
from humaneval.design import Key
from humaneval.krippendorff import bootstrap_alpha, krippendorff_alpha
from humaneval.ratings import RatingFile, Ratings
from humaneval.report import BOOTSTRAP_OVER, Agreement, AlphaResult, HumanEvalReport, RaterCheck, ScoreConfig, SystemScore
from humaneval.stats import estimate, ratio, spearman_ci, unit_draws
from interp.errors import ConfigError, DatasetError

ALPHA_METRICS = {"pairwise": ("nominal",), "best": ("nominal",), "worst": ("nominal",),
                 "naturalness": ("nominal", "ordinal", "interval")}
"""Which α each task gets: choices by position in the item (nominal); ratings under all three scales."""


@dataclass(frozen=True)
class _Judgements:
    """Judgements on real (non-check) items as index arrays: rater, prompt, item and the systems/outputs involved."""

    rater: Int[np.ndarray, " n"]
    prompt: Int[np.ndarray, " n"]
    item: list[str]
    outputs: list[tuple[str, ...]]
    value: list


def score(key: Key, ratings: Ratings, config: ScoreConfig = ScoreConfig()) -> HumanEvalReport:
    """The full report for ``ratings`` under ``key`` (see the module docstring for what is resampled)."""
    if config.bootstrap_over not in BOOTSTRAP_OVER:
        raise ConfigError(f"--bootstrap-over {config.bootstrap_over!r} is unknown; choose {' or '.join(BOOTSTRAP_OVER)}")
    checks = [_grade(key, f, config) for f in ratings.files]
    kept = [f for f, c in zip(ratings.files, checks) if not c.excluded]
    if not kept:
        raise DatasetError(f"every rater failed more than {config.max_failed} attention check(s) "
                           f"({', '.join(c.rater for c in checks)}); pass --keep-failed to score them anyway")
    rng = np.random.default_rng(config.seed)
    tables = judgement_tables(key, kept)
    n_units = len(kept) if config.bootstrap_over == "raters" else len(_prompt_index(key))
    scores, wins, pos = _system_scores(key, tables, n_units, config, rng)
    return HumanEvalReport(key.item_set.id, key.item_set.tone, key.systems, scores, wins, pos,
                           _alphas(key, kept, config.n_boot, rng), _agreement(key, tables, config.n_boot, rng),
                           tuple(checks), ratings.skipped, config)


def _grade(key: Key, f: RatingFile, config: ScoreConfig) -> RaterCheck:
    answers = f.by_item()
    failed = tuple(i for i, exp in key.checks.items() if not passed(key.item(i).kind, exp, answers.get(i)))
    excluded = config.exclude_failed and len(failed) > config.max_failed
    return RaterCheck(f.rater, f.path, len(f.answers), len(key.checks), len(failed), failed, excluded)


def judgement_tables(key: Key, files: list[RatingFile]) -> dict[str, _Judgements]:
    """Every judgement on real items of ``files``, per item kind (pairwise, naturalness, bestworst)."""
    prompts = _prompt_index(key)
    return {kind: _judgements(key, files, kind, prompts) for kind in ("pairwise", "naturalness", "bestworst")}


def _prompt_index(key: Key) -> dict[str, int]:
    return {p: i for i, p in enumerate(dict.fromkeys(o.prompt for o in key.outputs.values() if o.system))}


def _judgements(key: Key, files: list[RatingFile], kind: str, prompts: dict[str, int]) -> _Judgements:
    rater, prompt, item, outs, value = [], [], [], [], []
    for r, f in enumerate(files):
        for a in f.answers:
            it = key.item(a["item"])
            if it.kind != kind or it.id in key.checks:
                continue
            rater.append(r)
            prompt.append(prompts[it.prompt])
            item.append(it.id)
            outs.append(tuple(a.get("shown", it.outputs)))
            value.append(a)
    return _Judgements(np.array(rater, dtype=np.int64), np.array(prompt, dtype=np.int64), item, outs, value)


def _system_scores(key: Key, t: dict[str, _Judgements], n_units: int, config: ScoreConfig, rng: np.random.Generator):
    """Per-system estimates: unit totals (unit × statistic), then one weighted sum per draw (draw 0: every unit once)."""
    sys_of = {oid: o.system for oid, o in key.outputs.items()}
    idx = {s: i for i, s in enumerate(key.systems)}
    unit = {kind: (j.rater if config.bootstrap_over == "raters" else j.prompt) for kind, j in t.items()}
    tot = _unit_totals(t, unit, n_units, len(idx), sys_of, idx)
    weights = np.vstack([np.ones((1, n_units)), unit_draws(n_units, config.n_boot, rng)])
    w = {name: np.tensordot(weights, v, axes=(1, 0)) for name, v in tot.items()}
    wins = w["wins"]
    theta = fit_bradley_terry(wins, prior=config.prior)
    win_rate = ratio(wins.sum(-1), (wins + np.swapaxes(wins, -1, -2)).sum(-1))
    natural = ratio(w["nat_sum"], w["nat_n"])
    bws = ratio(w["best"] - w["worst"], w["appear"])
    pos = ratio(w["first"], w["pairs"])
    games, nat_n, appear = tot["wins"].sum(0), tot["nat_n"].sum(0), tot["appear"].sum(0)
    n_games = games.sum(1) + games.sum(0)
    theta[:, n_games == 0] = np.nan  # a system never compared has no BT strength (the prior alone would put it at 0)
    scores = [SystemScore(s, estimate(theta[0, i], theta[1:, i]), estimate(win_rate[0, i], win_rate[1:, i]), int(n_games[i]),
                          estimate(natural[0, i], natural[1:, i]), int(nat_n[i]), estimate(bws[0, i], bws[1:, i]), int(appear[i]))
              for s, i in idx.items()]
    return _ranked(scores), wins[0], estimate(pos[0], pos[1:])


def _ranked(scores: list[SystemScore]) -> tuple[SystemScore, ...]:
    """Best first by BT strength; by best–worst score, then naturalness, where no pairwise items were rated."""
    for measure in ("strength", "best_worst", "naturalness"):
        if any(np.isfinite(getattr(s, measure).value) for s in scores):
            return tuple(sorted(scores, key=lambda s: -np.nan_to_num(getattr(s, measure).value, nan=-np.inf)))
    return tuple(scores)


def _unit_totals(t: dict[str, _Judgements], unit: dict[str, np.ndarray], n_units: int, k: int, sys_of: dict,
                 idx: dict[str, int]) -> dict[str, np.ndarray]:
    tot = {"wins": np.zeros((n_units, k, k)), "nat_sum": np.zeros((n_units, k)), "nat_n": np.zeros((n_units, k)),
           "best": np.zeros((n_units, k)), "worst": np.zeros((n_units, k)), "appear": np.zeros((n_units, k)),
           "first": np.zeros(n_units), "pairs": np.zeros(n_units)}
    for u, shown, a in zip(unit["pairwise"], t["pairwise"].outputs, t["pairwise"].value):
        loser = next(o for o in shown if o != a["choice"])
        tot["wins"][u, idx[sys_of[a["choice"]]], idx[sys_of[loser]]] += 1
        tot["first"][u] += a["choice"] == shown[0]
        tot["pairs"][u] += 1
    for u, shown, a in zip(unit["naturalness"], t["naturalness"].outputs, t["naturalness"].value):
        tot["nat_sum"][u, idx[sys_of[shown[0]]]] += a["rating"]
        tot["nat_n"][u, idx[sys_of[shown[0]]]] += 1
    for u, shown, a in zip(unit["bestworst"], t["bestworst"].outputs, t["bestworst"].value):
        tot["best"][u, idx[sys_of[a["best"]]]] += 1
        tot["worst"][u, idx[sys_of[a["worst"]]]] += 1
        for o in shown:
            tot["appear"][u, idx[sys_of[o]]] += 1
    return tot


def reliability_matrix(key: Key, files: list[RatingFile], task: str) -> Float[np.ndarray, "rater unit"]:
    """Raters × items of one task (checks left out), NaN where unanswered; choices coded by position in the item."""
    kind = "bestworst" if task in ("best", "worst") else task
    items = [it for it in key.item_set.by_kind(kind) if it.id not in key.checks]
    col = {it.id: j for j, it in enumerate(items)}
    data = np.full((len(files), len(items)), np.nan)
    for r, f in enumerate(files):
        for a in f.answers:
            j = col.get(a["item"])
            if j is not None:
                data[r, j] = _code(task, a, items[j].outputs)
    return data


def _code(task: str, a: dict, outputs: tuple[str, ...]) -> float:
    if task == "naturalness":
        return float(a["rating"])
    return float(outputs.index(a[{"pairwise": "choice"}.get(task, task)]))


def _alphas(key: Key, files: list[RatingFile], n_boot: int, rng: np.random.Generator) -> tuple[AlphaResult, ...]:
    out = []
    for task, metrics in ALPHA_METRICS.items():
        data = reliability_matrix(key, files, task)
        pairable = (~np.isnan(data)).sum(0) >= 2
        if len(files) < 2 or not pairable.any():
            continue
        data = data[:, pairable]
        draws = unit_draws(data.shape[1], n_boot, rng)
        for metric in metrics:
            a = estimate(krippendorff_alpha(data, metric), bootstrap_alpha(data, metric, draws))
            out.append(AlphaResult(task, metric, a, int(data.shape[1]), int((~np.isnan(data)).sum())))
    return tuple(out)


def output_measures(key: Key, t: dict[str, _Judgements]) -> dict[str, dict[str, float]]:
    """Per blinded output: ``preference`` (pairwise wins / comparisons), ``best_worst`` and mean ``naturalness``."""
    acc: dict[str, dict[str, list[float]]] = {"preference": {}, "best_worst": {}, "naturalness": {}}
    for shown, a in zip(t["pairwise"].outputs, t["pairwise"].value):
        for o in shown:
            acc["preference"].setdefault(o, []).append(float(o == a["choice"]))
    for shown, a in zip(t["bestworst"].outputs, t["bestworst"].value):
        for o in shown:
            acc["best_worst"].setdefault(o, []).append(float(o == a["best"]) - float(o == a["worst"]))
    for shown, a in zip(t["naturalness"].outputs, t["naturalness"].value):
        acc["naturalness"].setdefault(shown[0], []).append(float(a["rating"]))
    return {m: {o: float(np.mean(v)) for o, v in d.items()} for m, d in acc.items()}


def _agreement(key: Key, t: dict[str, _Judgements], n_boot: int, rng: np.random.Generator) -> tuple[Agreement, ...]:
    scorers = sorted({s for o in key.outputs.values() for s in o.scores})
    out = []
    for measure, per_output in output_measures(key, t).items():
        for scorer in scorers:
            ids = [o for o in per_output if scorer in key.outputs[o].scores]
            x = np.array([key.outputs[o].scores[scorer] for o in ids])
            y = np.array([per_output[o] for o in ids])
            out.append(Agreement(scorer, measure, spearman_ci(x, y, n_boot=n_boot, rng=rng), len(ids)))
    return tuple(out)
