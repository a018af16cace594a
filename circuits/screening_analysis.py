"""Head screening as one analysis: rank every head on the selection split, re-measure the top heads on the
evaluation split (the reportable number), and view the top heads' attention.

:func:`screening_analysis` is the one entry point; the ``screen-heads`` command and the study's ``screen``
phase both save its :class:`ScreeningReport`, so they write the same files:

* ``results.json``: the selection ranking (top heads, counts, config; no per-head arrays) and the evaluation
  re-measurement per emotion;
* ``screening.json``: the full [emotion layer head] screening that ``ScreeningResult.load`` (and so the
  ablation, patching and OV/QK steps) reads;
* ``figures/screening_<emotion>.html``: Δattention heatmaps;
* ``views/attention_<emotion>_top3.cv.json`` (circuitsvis spec for the run report) and ``views/<emotion>/``
  (offline HTML) for the top 3 heads of the first ``n_views`` emotions on one sentence of that emotion.
"""

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from jaxtyping import Float
from torch import Tensor

from circuits.attention_view import head_patterns, save_attention_view
from circuits.circuit_figures import ci_text
from circuits.head_screening import HeadMeasurement, ScreeningResult, measure_heads, screen_heads
from circuits.heads import Head, head_name
from interp.datasets import EmotionDataset
from interp.figures import save_circuitsvis_spec
from interp.io import atomic_write_json
from interp.report_types import AnalysisReport, Headline, Table
from interp.splits import DataSplit

_ARRAYS = ("delta", "lo", "hi", "p", "p_holm")


@dataclass(frozen=True)
class HeadsView:
    """Attention of the top heads of one emotion on one of its sentences."""

    emotion: str
    text: str
    heads: list[Head]
    pattern: Float[Tensor, "head q k"]
    tokens: list[str]

    def save(self, out: Path) -> None:
        """The circuitsvis spec (``attention_<emotion>_top3.cv.json``) and the offline page (``<emotion>/attention_000.html``)."""
        names = [head_name(h) for h in self.heads]
        save_circuitsvis_spec("AttentionHeads", {"attention": self.pattern.tolist(), "tokens": self.tokens,
                                                 "attention_head_names": names}, out / f"attention_{self.emotion}_top3.cv.json")
        save_attention_view(self.pattern, self.tokens, self.heads, out / self.emotion / "attention_000.html", text=self.text)


@dataclass(frozen=True)
class ScreeningReport(AnalysisReport):
    """Selection-split screening of every head, evaluation-split re-measurement of the top ``n_measure`` per emotion."""

    screening: ScreeningResult
    evaluation: dict[str, HeadMeasurement]
    views: list[HeadsView]
    n_selection: int
    n_evaluation: int
    n_top: int = 10
    n_measure: int = 5

    def results(self) -> dict:
        scr = {k: v for k, v in self.screening.to_dict().items() if k not in _ARRAYS}
        return {"selection": scr, "evaluation": {"split": "evaluation", "emotions": {e: m.to_dict() for e, m in self.evaluation.items()}},
                "views": [{"emotion": v.emotion, "text": v.text, "heads": [head_name(h) for h in v.heads]} for v in self.views]}

    def figures(self) -> dict:
        return {f"screening_{e}": self.screening.figure(e) for e in self.screening.emotions}

    def headline(self) -> list[Headline]:
        scr, out = self.screening, []
        for e, meas in self.evaluation.items():
            t, sel = meas.rows()[0], scr.top(e, 1)[0]
            out.append(Headline.of(f"{e}: top head Δattention (evaluation split)", t.delta, baseline="position-matched neutral keys",
                                   note=f"{t.name} (chosen on the selection split, Δ {sel.delta.value:.3f} there); evaluation "
                                        f"Holm p {t.p_holm:.3g} over the top {len(meas.heads)} (p floor {meas.config['p_floor']:.3g}); "
                                        f"{scr.n_significant(e)} of {scr.delta[0].numel()} heads with selection Holm p < 0.05"))
        return out

    def tables(self) -> list[Table]:
        out = []
        for e, meas in self.evaluation.items():
            out.append(Table(f"{e}: top {self.n_top} heads (selection split)",
                             ["rank", "head", "Δ", "95% CI", "emotion attn", "neutral attn", "Holm p"],
                             [[r.rank, r.name, round(r.delta.value, 4), ci_text(r.delta, value=False), r.emotion_attn,
                               r.neutral_attn, r.p_holm] for r in self.screening.top(e, self.n_top)]))
            out.append(Table(f"{e}: top {len(meas.heads)} heads re-measured on the evaluation split",
                             ["head", "Δ", "95% CI", "p", f"Holm p ({len(meas.heads)} heads)"],
                             [[r.name, round(r.delta.value, 4), ci_text(r.delta, value=False), r.p, r.p_holm] for r in meas.rows()]))
        return out

    def text(self) -> str:
        cfg, n_heads, n_measure = self.screening.config, self.screening.delta[0].numel(), self.n_measure
        return (f"Attention from the sentence end to the emotion-word tokens minus attention to the same token positions "
                f"of a matched neutral sentence (pair_id counterpart, else nearest length). Heads ranked on the selection "
                f"split ({self.n_selection} sentences); the top {n_measure} per emotion re-measured on the evaluation split "
                f"({self.n_evaluation} sentences), which gives the headline. {cfg['n_boot']} bootstrap resamples, {cfg['n_perm']} "
                f"sign-flip permutations (p floor {cfg['p_floor']:.3g}), Holm-corrected over {n_heads} heads "
                f"(selection) or the {n_measure} measured heads (evaluation). {len(self.views)} circuitsvis views of the top heads.")

    def save_extra(self, out: Path) -> None:
        atomic_write_json(out / "screening.json", self.screening.to_dict())
        for v in self.views:
            v.save(out / "views")


def screening_analysis(model, dataset: EmotionDataset, split: DataSplit, *, emotions: list[str] | None = None,
                       query: str = "end", matching: str = "position", batch_size: int = 32, n_boot: int = 1000,
                       n_perm: int = 30000, seed: int = 0, n_top: int = 10, n_measure: int = 5, n_views: int = 3,
                       progress: Callable[[int, int], None] | None = None) -> ScreeningReport:
    """Screen every head on ``split.selection``, re-measure each emotion's top ``n_measure`` on ``split.evaluation``.

    Args:
        dataset: the whole dataset; each view shows its first sentence of the emotion.
        emotions: emotions to screen (default: every non-neutral one of the selection split).
        n_top: heads per emotion in the selection table; n_views: emotions (in order) with an attention view.
        progress: ``progress(done, total)`` over the selection split's sentences.

    Returns:
        :class:`ScreeningReport`; Δattention in attention-probability units.
    """
    sel, ev = split.selection, split.evaluation
    scr = screen_heads(model, sel, emotions=emotions, query=query, matching=matching, batch_size=batch_size, n_boot=n_boot,
                       n_perm=n_perm, seed=seed, progress=progress)
    scr.config["split"] = "selection"
    scr.config["selection_ids"] = [r.id for r in sel.records]
    views = []
    for e in scr.emotions[:n_views]:
        heads, text = scr.top_heads(e, 3), dataset.by_emotion(e)[0].text
        views.append(HeadsView(e, text, heads, *head_patterns(model, text, heads)))
    evaluation = {e: measure_heads(model, ev, [r.key for r in scr.top(e, n_top)[:n_measure]], e, query=query, matching=matching,
                                   batch_size=batch_size, n_boot=n_boot, n_perm=n_perm, seed=seed) for e in scr.emotions}
    return ScreeningReport(scr, evaluation, views, len(sel), len(ev), n_top, n_measure)
