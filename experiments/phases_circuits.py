"""Study phases 6 and 9: head screening and OV/QK roles, thin adapters over :mod:`circuits.screening_analysis`
and :mod:`circuits.ovqk_analysis` (the ``screen-heads`` and ``ovqk`` commands save the same reports).

Later phases read the screening phase's ``screening.json``; attention views of the top heads
are stored as circuitsvis specs (``views/*.cv.json``) for the report and as standalone HTML.
"""

from pathlib import Path

from circuits.head_screening import ScreeningResult
from circuits.heads import screened_heads
from circuits.ovqk_analysis import ovqk_analysis, vector_layers
from circuits.screening_analysis import screening_analysis
from experiments.pipeline import StudyState
from interp.hook_names import resid_post
from steering.vectors import compute_emotion_vectors


def phase_screen(state: StudyState, out: Path) -> dict:
    """Phase 6: Δattention to emotion-word tokens (emotion − position-matched neutral) for every head, per emotion.

    Screening is a selection step: it runs on the selection split; the top heads' Δattention is then
    re-measured on the evaluation split, and that is the headline.
    """
    cfg = state.cfg.screen
    report = screening_analysis(state.model(state.cfg.study.model), state.dataset, state.split, emotions=cfg.emotions,
                                n_boot=cfg.n_boot, n_perm=cfg.n_perm, seed=state.cfg.study.seed,
                                n_views=state.cfg.report.attention_views, progress=state.progress)
    report.save(out)
    return report.summary()


def phase_ovqk(state: StudyState, out: Path) -> dict:
    """Phase 9: OV/QK evidence for the top screened heads, composition scores and candidate roles."""
    cfg, m = state.cfg.ovqk, state.model(state.cfg.study.model)
    scr = ScreeningResult.load(state.ctx.path / "screen" / "screening.json")
    heads = screened_heads(m, scr, [cfg.emotion], cfg.top_heads)
    store = state.store()
    ref = state.reference
    vectors = {l: compute_emotion_vectors(store, resid_post(l), contrast=ref, reference=ref) for l in vector_layers(heads)}
    report = ovqk_analysis(m, state.dataset, heads, vectors, emotion=cfg.emotion, screening=scr, top=cfg.top_heads,
                           seed=state.cfg.study.seed)
    report.save(out)
    return report.summary()
