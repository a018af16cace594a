"""Random-head controls that can reject: layer-matched draws and Monte Carlo p-values with their floor.

A top-k head set is compared with random sets that have **the same number of heads in each layer**
(the top set's own heads excluded), so "the top heads matter more than random heads" is not
"late layers matter more than early ones". Where a layer cannot supply enough other heads, or the
exactly layer-matched population holds fewer distinct sets than requested, the pool widens to the
nearest layers (±1, ±2, …) until it can; ``window`` records how far it went (0 = exactly layer-matched).
When even the whole model holds fewer distinct sets than requested (tiny models, k = 1 in a small
layer pool), every distinct set is used once (an exact enumeration) and the p floor rises accordingly.

p-values: ``(1 + #draws at least as extreme) / (1 + n_draws)`` (two-sided on |effect|), valid for
i.i.d. draws of distinct sets; the smallest reachable value, ``1 / (1 + n_draws)``, travels with it.

**Sequential stopping** (:func:`sequential_controls`, Besag & Clifford 1991, "Sequential Monte Carlo
p-values", Biometrika 78:301): draws are evaluated in blocks and a test stops as soon as ``stop_after`` (h)
draws are at least as extreme as the observed effect; its p is then ``h / L`` (L = draws evaluated), else the
usual ``(1 + k) / (1 + n)`` over all ``n`` planned draws. Both are valid p-values; the floor ``1 / (1 + n)`` is
reached only by effects that beat every draw, and an effect that random sets match often costs ~h/p draws
instead of n. With h = 10 a test is never stopped before p ≥ 10 / n (so never below 0.1 with 100 draws).
"""

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from math import comb

import numpy as np

from interp.errors import ConfigError

Head = tuple[int, int]


@dataclass(frozen=True)
class HeadDraws:
    """Random head sets matched to ``heads``: ``sets[i]`` has as many heads per layer (within ``window``) as ``heads``."""

    heads: list[Head]
    sets: list[list[Head]]
    window: int
    exhaustive: bool  # True when ``sets`` is every distinct set the pool holds (fewer than requested)

    @property
    def n(self) -> int:
        return len(self.sets)

    @property
    def p_floor(self) -> float:
        return 1.0 / (1 + len(self.sets))

    def describe(self) -> dict:
        return {"n_draws": self.n, "p_floor": self.p_floor, "layer_window": self.window, "exhaustive": self.exhaustive,
                "matching": "same number of heads per layer as the top set, its own heads excluded"
                            + (f"; pool widened to ±{self.window} layers" if self.window else "")}


def _pools(heads: Sequence[Head], n_layers: int, n_heads: int, window: int) -> dict[int, list[Head]]:
    top = set(heads)
    out = {}
    for l in sorted({l for l, _ in heads}):
        out[l] = [(ll, h) for ll in range(max(0, l - window), min(n_layers, l + window + 1)) for h in range(n_heads)
                  if (ll, h) not in top]
    return out


def _population(counts: dict[int, int], pools: dict[int, list[Head]]) -> int:
    """Distinct sets (an upper bound when widened pools overlap)."""
    n = 1
    for l, c in counts.items():
        n *= comb(len(pools[l]), c)
    return n


def matched_draws(heads: Sequence[Head], n: int, *, n_layers: int, n_heads: int, seed: int = 0) -> HeadDraws:
    """``n`` distinct random head sets layer-matched to ``heads`` (see the module docstring for the widening rule)."""
    heads = list(dict.fromkeys((int(l), int(h)) for l, h in heads))
    if not heads:
        raise ConfigError("heads is empty; give the top head set the random draws are matched to")
    if n < 1:
        raise ConfigError(f"n_random must be ≥ 1 (random head sets per control), got {n}")
    counts: dict[int, int] = {}
    for l, _ in heads:
        counts[l] = counts.get(l, 0) + 1
    rng = np.random.default_rng(seed)
    for window in range(n_layers + 1):
        pools = _pools(heads, n_layers, n_heads, window)
        if any(len(pools[l]) < c for l, c in counts.items()):
            continue
        if _population(counts, pools) >= n or window >= n_layers:
            break
    sets: list[list[Head]] = []
    seen: set[tuple[Head, ...]] = set()
    tries = 0
    while len(sets) < n and tries < 200 * n:
        tries += 1
        pick: list[Head] = []
        for l, c in counts.items():
            cand = [x for x in pools[l] if x not in pick]
            if len(cand) < c:
                break
            pick += [cand[i] for i in rng.choice(len(cand), size=c, replace=False)]
        else:
            key = tuple(sorted(pick))
            if key not in seen:
                seen.add(key)
                sets.append(pick)
    if not sets:
        raise ConfigError(f"no random head set can be matched to {len(heads)} heads on a model with {n_layers} layers × "
                          f"{n_heads} heads; use fewer heads")
    return HeadDraws(heads, sets, window, len(sets) < n)


@dataclass(frozen=True)
class ControlP:
    """Monte Carlo p of an observed effect against random-set effects, with its floor.

    ``n_planned``: draws the control would evaluate without stopping (its floor is ``1 / (1 + n_planned)``);
    ``stopped_early``: the sequential rule stopped after ``n_draws`` < ``n_planned`` draws.
    """

    p: float
    p_floor: float
    n_draws: int
    n_as_extreme: int
    n_planned: int = 0
    stopped_early: bool = False

    def to_dict(self) -> dict:
        return {"p": self.p, "p_floor": self.p_floor, "n_draws": self.n_draws, "n_as_extreme": self.n_as_extreme,
                "n_planned": self.n_planned or self.n_draws, "stopped_early": self.stopped_early}


def control_p(observed: float, draws: Sequence[float]) -> ControlP:
    """``(1 + #{|d| ≥ |observed|}) / (1 + n)``: how unusual ``observed`` is among the random-set effects (two-sided)."""
    d = np.abs(np.asarray(list(draws), dtype=float))
    if d.size == 0:
        raise ConfigError("no random draws to compare with; use n_random ≥ 1")
    k = int((d >= abs(observed) - 1e-12).sum())
    return ControlP((1 + k) / (1 + d.size), 1 / (1 + d.size), int(d.size), k, int(d.size))


def sequential_p(observed: float, draws: Sequence[float], n_planned: int, stop_after: int) -> ControlP:
    """Besag–Clifford p of ``observed`` given the draws evaluated so far, in draw order (module docstring): when the
    ``stop_after``-th draw at least as extreme arrives at draw L < ``n_planned``, p = h / L (later draws, evaluated in
    the same block, do not enter the p)."""
    ext = np.abs(np.asarray(list(draws), dtype=float)) >= abs(observed) - 1e-12
    k = int(ext.sum())
    if stop_after and k >= stop_after:
        L = int(np.flatnonzero(ext)[stop_after - 1]) + 1
        if L < n_planned:
            return ControlP(stop_after / L, 1 / (1 + n_planned), L, stop_after, n_planned, True)
    return ControlP((1 + k) / (1 + ext.size), 1 / (1 + n_planned), int(ext.size), k, n_planned)


def sequential_controls(observed: Sequence[float], n_draws: Sequence[int], evaluate: Callable[[list[tuple[int, int]]], list],
                        *, stop_after: int = 10, block: int = 20, value: Callable = lambda x: float(x)) -> tuple[list[list], list[ControlP]]:
    """Run several random-draw controls side by side with Besag–Clifford stopping.

    Args:
        observed: per test, the observed (top set's) effect.
        n_draws: per test, the planned number of draws.
        evaluate: ``evaluate([(test, draw), ...]) -> [result, ...]``: evaluates those draws (batch them freely).
        stop_after: h; 0 disables stopping (every planned draw is evaluated).
        block: draws per test per round.
        value: result -> the draw's scalar effect (compared with ``observed`` on |·|).

    Returns:
        Per test, the results of the draws evaluated (in draw order), and its :class:`ControlP`.
    """
    if len(observed) != len(n_draws):
        raise ConfigError("sequential_controls needs one planned draw count per observed effect")
    if stop_after < 0 or block < 1:
        raise ConfigError(f"stop_after must be ≥ 0 and block ≥ 1, got {stop_after} and {block}")
    results: list[list] = [[] for _ in observed]
    active = [i for i, n in enumerate(n_draws) if n > 0]
    while active:
        req = [(i, j) for i in active for j in range(len(results[i]), min(n_draws[i], len(results[i]) + block))]
        for (i, _), r in zip(req, evaluate(req)):
            results[i].append(r)
        active = [i for i in active if len(results[i]) < n_draws[i]
                  and not sequential_p(observed[i], [value(r) for r in results[i]], n_draws[i], stop_after).stopped_early]
    ps = [sequential_p(o, [value(r) for r in rs], n, stop_after) if n else None for o, rs, n in zip(observed, results, n_draws)]
    return [rs[:p.n_draws] if p else rs for rs, p in zip(results, ps)], ps


def headline_p(p: ControlP, *, alpha: float = 0.05) -> str:
    """``"p = 0.0099 (floor 0.0099, 100 draws)"``; a p whose floor exceeds ``alpha`` is marked as not a headline."""
    s = f"p = {p.p:.3g} (floor {p.p_floor:.3g}, {p.n_draws} draws)"
    return s if p.p_floor <= alpha else s + f" — floor above {alpha}: too few draws to reject, not a headline"
