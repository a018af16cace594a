"""What the causal head analyses (ablation, head patching) share: the sentences they evaluate on, kept apart from
the sentences screening selected the heads on, and how their estimates and control p-values are written."""

from collections.abc import Sequence

from circuits.circuit_figures import ci_text
from circuits.head_controls import ControlP
from interp.datasets import EmotionRecord
from interp.splits import check_disjoint, require_count
from interp.stats import Estimate

DEFAULT_FIX = "use fewer prompts / pairs or a larger dataset"
SCREENED = "screening on the selection split"
"""Where the heads of a study's causal analyses come from (the reports' default ``heads_from``)."""


def signed(e: Estimate) -> str:
    """``+0.123 [-0.045, +0.300]``: an estimate with its CI, signed (the causal reports' form of ``ci_text``)."""
    return ci_text(e, "+.3f")


def p_text(cp: ControlP | None) -> str:
    """``p 0.0099 (floor 0.0099, 100 layer-matched random draws)``; a sequentially stopped control says so, and a
    floor above 0.05 is marked as not a headline test."""
    if cp is None:
        return "no random control"
    planned = cp.n_planned or cp.n_draws
    if cp.stopped_early:
        s = (f"p {cp.p:.3g} (stopped after {cp.n_draws} of {planned} layer-matched random draws: Besag–Clifford, "
             f"floor {cp.p_floor:.3g})")
    else:
        s = f"p {cp.p:.3g} (floor {cp.p_floor:.3g}, {cp.n_draws} layer-matched random draws)"
    return s if cp.p_floor is not None and cp.p_floor <= 0.05 else s + "; floor above 0.05: not a headline test"


def selection_records(screening, records: Sequence[EmotionRecord]) -> list[EmotionRecord]:
    """The records among ``records`` that ``screening`` selected its heads on (its config's ``selection_ids``)."""
    ids = set(((screening.config or {}) if screening is not None else {}).get("selection_ids") or [])
    return [r for r in records if r.id in ids]


def evaluation_records(records: Sequence[EmotionRecord], emotion: str, *, selected: Sequence[EmotionRecord] = (), need: int = 2,
                       fix: str = DEFAULT_FIX) -> list[EmotionRecord]:
    """``records`` (the sentences of ``emotion`` to evaluate on), checked disjoint from the ``selected`` sentences and at
    least ``need`` of them (a :class:`~interp.errors.DatasetError` naming the overlap / the shortfall and ``fix``)."""
    recs = list(records)
    check_disjoint(list(selected), recs, what="screening's selection sentences and the evaluated sentences")
    require_count(len(recs), need, what=f"{emotion} sentences", split="evaluation", fix=fix)
    return recs
