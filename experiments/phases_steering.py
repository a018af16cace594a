"""Study phases 4–5: the layer × α steering sweep with α = 0 and random-direction controls.

Vectors come from the vectors phase's file. Each finished cell is cached under
``<phase>/cells/``, so a sweep killed midway resumes from its last finished cell.
"""

from pathlib import Path

from experiments.phase_registry import row
from experiments.phases_geometry import vectors_file
from experiments.pipeline import StudyState
from interp.io import atomic_write_json


def _examples(result, emotion: str, n: int) -> list[dict]:
    """Unsteered vs steered text of the best cell, first ``n`` prompts (seed of the first generation)."""
    best = result.best_cell(emotion)["cell"]
    df = result.rows
    cell = df[(df.emotion == emotion) & (df.direction == "emotion") & (df.layer == best["layer"]) & (df.split == "evaluation")]
    target = result.config["targets"].get(emotion) or best["target"]
    base = cell[cell.alpha == 0].set_index(["prompt_idx", "seed"])
    steered = cell[cell.alpha == best["alpha"]].set_index(["prompt_idx", "seed"])
    out = []
    for key in list(steered.index)[:n]:
        if key not in base.index:
            continue
        b, s = base.loc[key], steered.loc[key]
        out.append({"prompt": s["prompt"], "setting": f"{emotion} L{best['layer']} α={best['alpha']:g}",
                    "unsteered": b["text"], "steered": s["text"],
                    "scores": f"{target}: {b[target]:.3f} → {s[target]:.3f}; perplexity {b['perplexity']:.1f} → {s['perplexity']:.1f}"})
    return out


def phase_sweep(state: StudyState, out: Path) -> dict:
    """Phases 4–5: steer the shipped neutral prompts over layers × α per emotion; score; aggregate with CIs; usable window."""
    from interp.datasets import load_prompts
    from interp.errors import ConfigError
    from interp.evaluators import make_scorer
    from steering.generation import GenerationConfig
    from steering.sweep import SweepConfig, default_sweep_layers, run_sweep, vectors_from_file
    from steering.sweep_figures import save_sweep_figures

    cfg, seed = state.cfg.sweep, state.cfg.study.seed
    m = state.model(state.cfg.study.model)
    prompts = load_prompts(None)[: cfg.n_prompts]
    layers = list(cfg.layers) or default_sweep_layers(m.cfg.n_layers)
    vecs = vectors_from_file(vectors_file(state), m, cfg.emotions, layers, hook_kind=cfg.hook_kind)
    scorers = [make_scorer(n) for n in ("sentiment", "nrc", "keywords")] + [make_scorer("fluency", model=m)]
    columns = sorted({c for sc in scorers for c in sc.columns})
    for e, col in cfg.targets.items():
        if col not in columns:
            raise ConfigError(f"[sweep] targets.{e} = {col!r} is not a score column; allowed: {', '.join(columns)}")
    sweep_cfg = SweepConfig(emotions=tuple(cfg.emotions), layers=tuple(layers), alphas=tuple(cfg.alphas), hook_kind=cfg.hook_kind,
                            scale=cfg.scale, random_control=cfg.random_control, random_seed=seed + 1234, ppl_bound=cfg.ppl_bound,
                            n_random=cfg.n_random, random_max_cells=cfg.random_max_cells, distinct2_drop=cfg.distinct2_drop,
                            repeat_rise=cfg.repeat_rise, selection_fraction=state.cfg.study.split_fraction, split_seed=seed,
                            targets=dict(cfg.targets), generation=GenerationConfig(max_new_tokens=cfg.max_new_tokens, seed=seed))
    result = run_sweep(m, prompts, {k: v.vector for k, v in vecs.items()}, sweep_cfg, scorers, cache_dir=out / "cells",
                       progress=state.progress)
    result.save(out / "results")
    save_sweep_figures(result, out / "figures")
    examples = [ex for e in cfg.emotions for ex in _examples(result, e, state.cfg.report.steering_examples // max(len(cfg.emotions), 1) or 1)]
    atomic_write_json(out / "examples.json", examples)
    s = result.summary()
    headline, table = [], []
    sp = s["splits"]
    for e in cfg.emotions:
        b = s["best"][e]
        c, r, sel = b["cell"], b["random_control"], b["selection"]
        rand = (f"{r['n']} norm-matched random directions: mean Δ {r['mean']:+.3f} (95th pct {r['p95']:+.3f}), p = {r['p']:.3g}; "
                f"masked p = {r['p_masked']:.3g} (floor {r['p_floor']:.3g})") if r else "random control not run"
        headline.append(row(f"{e}: best cell, Δ{c['target']} over α=0 (evaluation prompts)", c["effect"], c["effect_lo"],
                            c["effect_hi"], p=c["p"],
                            baseline=f"α=0 mean {c['baseline']:.3f}; {rand}",
                            note=f"L{c['layer']} α={c['alpha']:g} chosen on the {len(sp['selection'])} selection prompts "
                                 f"(Δ {sel['effect']:+.3f}, Holm p {sel['p_holm']:.3g}); reported on the {len(sp['evaluation'])} "
                                 f"evaluation prompts (p: paired sign-flip there, one pre-selected cell so no correction); "
                                 f"ppl ratio {c['ppl_ratio']:.2f}; usable: {b['usable']}"))
        headline.append(row(f"{e}: same cell, Δ{c['target']} with {e} words masked (evaluation prompts)", c["effect_masked"],
                            c["effect_masked_lo"], c["effect_masked_hi"], p=c["p_masked"],
                            baseline=f"keyword insertion (raw − masked) {c['keyword_share']:+.3f}",
                            note="keyword-driven (raw significant, masked not)" if b["keyword_driven"] else "not keyword-driven"))
        window = s["usable_window"][e]
        table.append([e, c["target"], ", ".join(f"L{layer} α={a:g}" for layer, a in window) or "none"])
    cells = [[r.emotion, f"L{r.layer}", f"{r.alpha:g}", f"{r.effect:+.3f} [{r.effect_lo:+.3f}, {r.effect_hi:+.3f}]",
              f"{r.effect_masked:+.3f} [{r.effect_masked_lo:+.3f}, {r.effect_masked_hi:+.3f}]", f"{r.keyword_share:+.3f}",
              f"{r.random_p:.3g} / {r.random_p_masked:.3g}", bool(r.usable)]
             for r in result.aggregates[result.aggregates.random_checked & (result.aggregates.split == "evaluation")].itertuples()]
    return {"text": f"{len(prompts)} neutral prompts split by text (seed {seed}) into {len(sp['selection'])} selection and "
                    f"{len(sp['evaluation'])} evaluation prompts; {cfg.max_new_tokens} greedy tokens, layers {layers}, α {cfg.alphas} "
                    f"({sweep_cfg.to_dict()['unit']}). Effects are paired (same prompt) differences from α=0 with bootstrap CIs and "
                    f"Holm-corrected sign-flip p-values, on the raw text and with the emotion's lexicon words masked (replaced by "
                    f"'thing'). The best cell and the window candidates are chosen on the selection prompts; every reported effect and "
                    f"the random-direction control ({cfg.n_random} directions of the same added norm, top {cfg.random_max_cells} "
                    f"candidates per emotion) come from the evaluation prompts.",
            "headline": headline,
            "tables": [{"title": f"usable window ({s['window_rule']})",
                        "columns": ["emotion", "target score", "cells"], "rows": table},
                       {"title": "cells with the random-direction control (evaluation prompts)",
                        "columns": ["emotion", "layer", "α", "Δ raw [95% CI]", "Δ masked [95% CI]", "keyword share (raw − masked)",
                                    "p vs random raw / masked", "usable"], "rows": cells}]}
