"""Study phases 3 and 3.5: emotion vectors, PCA subspaces and cross-model alignment from the stored activations.

Each phase picks its inputs from the study config, calls one :mod:`steering.geometry_analysis` entry point (the
same call as ``emotion-circuits vectors | subspace | align``), saves the report into its folder and returns the
report's summary, whose headline numbers carry CIs and baselines.
"""

from pathlib import Path

from experiments.pipeline import StudyState
from steering.geometry_analysis import VECTORS_SUBDIR, align_analysis, hooks_of_kind, subspace_analysis, vectors_analysis
from steering.geometry_report import transfer_extractor
from steering.vectors import pair_map

__all__ = ["VECTORS_SUBDIR", "phase_align", "phase_subspace", "phase_vectors", "vectors_file"]


def vectors_file(state: StudyState) -> Path:
    """The safetensors file of the study's vectors (sweep method, configured contrast) written by the vectors phase."""
    return state.ctx.path / "vectors" / VECTORS_SUBDIR / f"{state.cfg.sweep.method}_{state.cfg.vectors.contrast}.safetensors"


def _pairs(state: StudyState) -> dict:
    return pair_map(state.dataset.records, reference=state.reference) if state.dataset is not None else {}


def phase_vectors(state: StudyState, out: Path) -> dict:
    """Phase 3: band chosen on the selection split; cosines, norms and probes (vs BoW and lexicon rule) from the evaluation split.

    Vectors are saved at every stored hook (the sweep steers at resid_pre, OV/QK reads resid_post), from every sentence.
    """
    cfg, st, pairs, spec = state.cfg.vectors, state.store(), _pairs(state), state.spec
    transfer, notes = transfer_extractor(lambda: state.model(state.cfg.study.model), out / "transfer", pairs=pairs,
                                         reference=spec.reference, attribute=state.cfg.study.attribute, language=spec.language)
    rep = vectors_analysis(st, hooks_of_kind(st, cfg.hook), selection=state.split_indices("selection"),
                           evaluation=state.split_indices("evaluation"), split=state.split.describe(), methods=cfg.methods,
                           contrasts=(cfg.contrast,), vector_hooks=st.hooks, n_boot=cfg.n_boot, n_splits=20, n_shuffle=30,
                           folds=cfg.probe_folds, layer_probe_shuffles=1, probe_shuffles=cfg.probe_shuffles, seed=state.cfg.study.seed,
                           pairs=pairs, transfer=transfer, notes=notes, progress=state.progress, reference=spec.reference,
                           labels=spec.contrast_labels, find=spec.find if spec.lexicons else None, language=spec.language)
    rep.save(out)
    return rep.summary()


def phase_subspace(state: StudyState, out: Path) -> dict:
    """Phase 3.5: difference subspaces per layer vs label-shuffled and neutral-only nulls; headline layer chosen on the selection split."""
    cfg, st = state.cfg.subspace, state.store()
    rep = subspace_analysis(st, hooks_of_kind(st, state.cfg.vectors.hook), selection=state.split_indices("selection"),
                            evaluation=state.split_indices("evaluation"), split=state.split.describe(), k=cfg.k,
                            methods=("sentence_end", "token_matched"), layer_shuffles=cfg.layer_shuffles, n_shuffle=cfg.n_shuffle,
                            n_boot=20, seed=state.cfg.study.seed, pairs=_pairs(state), progress=state.progress, reference=state.reference)
    rep.save(out)
    return rep.summary()


def phase_align(state: StudyState, out: Path) -> dict:
    """Phase 3.5: map the main model's residual space into model B's (ridge, Procrustes) learned on neutral sentences."""
    cfg = state.cfg.align
    sa, sb = state.store(), state.store(cfg.model_b)
    sel_ids = {r.id for r in state.split.part("selection").records}

    def selection(st) -> list[int]:
        return [i for i, rid in enumerate(st.ids) if rid in sel_ids]

    rep = align_analysis(sa, sb, hook=state.cfg.vectors.hook, layer_a=cfg.layer_a if cfg.layer_a >= 0 else None,
                         layer_b=cfg.layer_b if cfg.layer_b >= 0 else None, selection_a=selection(sa), selection_b=selection(sb),
                         evaluate_on={r.text for r in state.split.part("evaluation").records}, k=state.cfg.subspace.k,
                         alpha=cfg.ridge, test_fraction=cfg.holdout, n_boot=200, seed=state.cfg.study.seed, progress=state.progress,
                         reference=state.reference)
    rep.save(out)
    return rep.summary()
