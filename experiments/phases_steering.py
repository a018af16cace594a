"""Study phases 4–5: the layer × α steering sweep with α = 0 and random-direction controls.

Vectors come from the vectors phase's file. Each finished cell is cached under ``<phase>/cells/``, so a sweep
killed midway resumes from its last finished cell. The analysis is :func:`steering.sweep_analysis.sweep_analysis`,
the same call ``emotion-circuits sweep`` makes.
"""

from pathlib import Path

from experiments.phases_geometry import vectors_file
from experiments.pipeline import StudyState
from experiments.study_config import sweep_scorer_names, sweep_targets
from interp.datasets import load_prompts
from steering.generation import GenerationConfig
from steering.sweep import SweepConfig, default_sweep_layers, vectors_from_file
from steering.sweep_analysis import sweep_analysis


def phase_sweep(state: StudyState, out: Path) -> dict:
    """Phases 4–5: steer the shipped neutral prompts of the study's language over layers × α per label; score with the
    language's scorers toward the registry's target columns; aggregate with CIs; usable window."""
    cfg, seed = state.cfg.sweep, state.cfg.study.seed
    m = state.model(state.cfg.study.model)
    layers = list(cfg.layers) or default_sweep_layers(m.cfg.n_layers)
    vecs = vectors_from_file(vectors_file(state), m, cfg.emotions, layers, hook_kind=cfg.hook_kind)
    config = SweepConfig(emotions=tuple(cfg.emotions), layers=tuple(layers), alphas=tuple(cfg.alphas), hook_kind=cfg.hook_kind,
                         scale=cfg.scale, random_control=cfg.random_control, random_seed=seed + 1234, ppl_bound=cfg.ppl_bound,
                         n_random=cfg.n_random, random_max_cells=cfg.random_max_cells, distinct2_drop=cfg.distinct2_drop,
                         repeat_rise=cfg.repeat_rise, selection_fraction=state.cfg.study.split_fraction, split_seed=seed,
                         targets=sweep_targets(state.cfg), generation=GenerationConfig(max_new_tokens=cfg.max_new_tokens, seed=seed))
    prompts = load_prompts(language=state.cfg.study.language)[: cfg.n_prompts]
    report = sweep_analysis(m, prompts, vecs, config, scorers=sweep_scorer_names(state.cfg), n_examples=state.cfg.report.steering_examples,
                            cache_dir=out / "cells", progress=state.progress)
    report.save(out)
    return report.summary()
