"""Study phases 6 and 7: cumulative ablation of the top screened heads and head patching, against random heads.

Thin adapters: the study's split and config in, :func:`circuits.ablation_analysis.ablation_analysis` /
:func:`circuits.patching_analysis.head_patching_analysis` called, the report saved (the ``ablate`` and
``patch-heads`` commands save the same report)."""

from pathlib import Path

from circuits.ablation_analysis import ablation_analysis, default_ks
from circuits.causal_report import selection_records
from circuits.head_screening import ScreeningResult
from circuits.patching_analysis import head_patching_analysis
from experiments.pipeline import StudyState

_FIX = "lower {} or use a larger profile / [study] split_fraction"


def phase_ablate(state: StudyState, out: Path) -> dict:
    """Phase 6: per emotion, ablate the top-k screened heads (chosen on the selection split) together vs layer-matched random
    k-head sets, measured on the EVALUATION split; Δ log P(emotion word) (whole words) after the sentence (and, with
    ``generate_prompts``, scored continuations of evaluation sentences with the top ``max_k`` heads ablated)."""
    cfg, scr = state.cfg.ablate, ScreeningResult.load(state.ctx.path / "screen" / "screening.json")
    evaluation = state.split.part("evaluation")
    report = ablation_analysis(
        state.model(state.cfg.study.model), {e: scr.top_heads(e, cfg.max_k) for e in cfg.emotions},
        {e: evaluation.by_emotion(e) for e in cfg.emotions}, ks=default_ks(cfg.max_k, cfg.ks),
        reference_texts=state.texts(state.reference, "selection"), selected=selection_records(scr, state.dataset.records), mode=cfg.mode,
        metric=cfg.metric, n_random=cfg.n_random, stop_after=cfg.stop_after, n_sentences=cfg.n_sentences,
        generate_prompts=cfg.generate_prompts, generate_random=cfg.generate_random, max_new_tokens=cfg.max_new_tokens,
        seed=state.cfg.study.seed, fix=_FIX.format("[ablate] generate_prompts"), progress=state.progress)
    report.save(out)
    return report.summary()


def phase_patch_heads(state: StudyState, out: Path) -> dict:
    """Phase 7: per emotion, patch the top screened head (selection split) from evaluation-split emotion sentences into
    length-matched evaluation-split neutral ones, in every mode, vs layer-matched random heads."""
    cfg, scr = state.cfg.patch_heads, ScreeningResult.load(state.ctx.path / "screen" / "screening.json")
    evaluation = state.split.part("evaluation")
    report = head_patching_analysis(
        state.model(state.cfg.study.model), {e: scr.top_heads(e, 1) for e in cfg.emotions},
        {e: evaluation.by_emotion(e) for e in cfg.emotions}, evaluation.by_emotion(state.reference),
        selected=selection_records(scr, state.dataset.records), modes=cfg.modes, n_pairs=cfg.n_pairs, n_random=cfg.n_random,
        stop_after=cfg.stop_after, metric=cfg.metric, generate_prompts=cfg.generate_prompts, generate_random=cfg.generate_random,
        max_new_tokens=cfg.max_new_tokens, seed=state.cfg.study.seed,
        fix=_FIX.format("[patch_heads] n_pairs / generate_prompts"), progress=state.progress)
    report.save(out)
    return report.summary()
