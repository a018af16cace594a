"""Study phases 6, 7 and 9: head screening, cumulative ablation, head patching and OV/QK roles.

Later phases read the screening phase's ``screening.json``; attention views of the top heads
are stored as circuitsvis specs (``*.cv.json``) for the report and as standalone HTML.
"""

from pathlib import Path

from experiments.phase_registry import row
from experiments.pipeline import StudyState
from interp.io import atomic_write_json


def _screening(state: StudyState):
    from circuits.head_screening import ScreeningResult

    return ScreeningResult.load(state.ctx.path / "screen" / "screening.json")


def _texts(state: StudyState, emotion: str) -> list[str]:
    return [r.text for r in state.dataset.by_emotion(emotion)]


def _est(d: dict) -> str:
    return f"{d['value']:+.3f} [{d['lo']:+.3f}, {d['hi']:+.3f}]"


def _attention_views(model, scr, state: StudyState, out: Path) -> int:
    """Top head per emotion on one sentence of that emotion: a circuitsvis spec (report) and offline HTML."""
    from circuits.attention_view import attention_view, head_patterns
    from interp.figures import save_circuitsvis_spec

    n = 0
    for e in scr.emotions[: state.cfg.report.attention_views]:
        heads = scr.top_heads(e, 3)
        text = _texts(state, e)[0]
        pat, toks = head_patterns(model, text, heads)
        names = [f"L{l}H{h}" for l, h in heads]
        save_circuitsvis_spec("AttentionHeads", {"attention": pat.tolist(), "tokens": toks, "attention_head_names": names},
                              out / "views" / f"attention_{e}_top3.cv.json")
        attention_view(model, [text], heads, out / "views" / e)
        n += 1
    return n


def phase_screen(state: StudyState, out: Path) -> dict:
    """Phase 6: Δattention to emotion-word tokens (emotion − position-matched neutral) for every head, per emotion.

    Screening is a selection step: it runs on the selection split; the top heads' Δattention is then
    re-measured on the evaluation split, and that is the headline.
    """
    from circuits.head_screening import measure_heads, screen_heads

    cfg, seed = state.cfg.screen, state.cfg.study.seed
    m = state.model(state.cfg.study.model)
    sel, ev = state.split.selection, state.split.evaluation
    res = screen_heads(m, sel, emotions=cfg.emotions, n_boot=cfg.n_boot, n_perm=cfg.n_perm, seed=seed, progress=state.progress)
    res.config["split"] = "selection"
    res.config["selection_ids"] = [r.id for r in sel.records]
    res.save(out)
    n_views = _attention_views(m, res, state, out)
    d = res.to_dict()
    headline, tables, evaluation = [], [], {}
    for e in res.emotions:
        top = res.top(e, 10)
        meas = measure_heads(m, ev, [(r["layer"], r["head"]) for r in top[:5]], e, n_boot=cfg.n_boot, n_perm=cfg.n_perm, seed=seed)
        evaluation[e] = meas.to_dict()
        t = meas.rows()[0]
        headline.append(row(f"{e}: top head Δattention (evaluation split)", t["delta"], t["lo"], t["hi"],
                            baseline="position-matched neutral keys",
                            note=f"{t['name']} (chosen on the selection split, Δ {top[0]['delta']:.3f} there); evaluation "
                                 f"Holm p {t['p_holm']:.3g} over the top 5 (p floor {meas.config['p_floor']:.3g}); "
                                 f"{d['n_significant_holm_05'][e]} of {res.delta[0].numel()} heads with selection Holm p < 0.05"))
        tables.append({"title": f"{e}: top 10 heads (selection split)",
                       "columns": ["rank", "head", "Δ", "95% CI", "emotion attn", "neutral attn", "Holm p"],
                       "rows": [[r["rank"], r["name"], round(r["delta"], 4), f"[{r['lo']:.3f}, {r['hi']:.3f}]",
                                 r["emotion_attn"], r["neutral_attn"], r["p_holm"]] for r in top]})
        tables.append({"title": f"{e}: top 5 heads re-measured on the evaluation split",
                       "columns": ["head", "Δ", "95% CI", "p", "Holm p (5 heads)"],
                       "rows": [[r["name"], round(r["delta"], 4), f"[{r['lo']:.3f}, {r['hi']:.3f}]", r["p"], r["p_holm"]]
                                for r in meas.rows()]})
    atomic_write_json(out / "screening_evaluation.json", {"split": "evaluation", "emotions": evaluation})
    return {"text": f"Attention from the sentence end to the emotion-word tokens minus attention to the same token positions "
                    f"of a matched neutral sentence (pair_id counterpart, else nearest length). Heads ranked on the selection "
                    f"split ({len(sel)} sentences); the top 5 per emotion re-measured on the evaluation split ({len(ev)} "
                    f"sentences), which gives the headline. {cfg.n_boot} bootstrap resamples, {cfg.n_perm} sign-flip "
                    f"permutations (p floor {res.config['p_floor']:.3g}), Holm-corrected over {res.delta[0].numel()} heads "
                    f"(selection) or the 5 measured heads (evaluation). {n_views} circuitsvis views of the top heads.",
            "headline": headline, "tables": tables}


def phase_ovqk(state: StudyState, out: Path) -> dict:
    """Phase 9: OV/QK evidence for the top screened heads, composition scores and candidate roles."""
    from circuits.ov_qk import ovqk_analysis
    from circuits.roles import assign_roles
    from interp.hook_names import resid_post
    from steering.vectors import compute_emotion_vectors

    cfg, seed = state.cfg.ovqk, state.cfg.study.seed
    m = state.model(state.cfg.study.model)
    scr = _screening(state)
    heads = list(dict.fromkeys(scr.top_heads(cfg.emotion, cfg.top_heads)))
    store = state.store()
    vectors = {l: compute_emotion_vectors(store, resid_post(l)) for l in sorted({l for l, _ in heads})}
    res = ovqk_analysis(m, state.dataset, heads, vectors, seed=seed)
    res.save(out)
    roles = [r.to_dict() for r in assign_roles(scr, res)]
    atomic_write_json(out / "roles.json", roles)
    headline = []
    for rank, h in enumerate(res.heads, 1):
        est = h.ov_projection.get(cfg.emotion)
        if est:
            headline.append(row(f"{cfg.emotion} head #{rank}: OV write along the emotion vector (emotion − neutral)", est["value"], est["lo"],
                                est["hi"], baseline=f"random-direction |projection| {h.random_projection:.3f}",
                                note=f"L{h.layer}H{h.head}; {h.lexicon_hits_top50.get(cfg.emotion, 0)} {cfg.emotion} tokens in top-50 promoted "
                                     f"(chance {h.lexicon_chance_top50.get(cfg.emotion, 0):.3f})"))
    return {"text": f"Top {cfg.top_heads} {cfg.emotion} heads from screening. Each Q/K/V composition edge is ranked against the "
                    f"compositions of every other earlier-layer head into the same later head (rank p in the edges table); "
                    f"'aggregate' needs rank p ≤ 0.05 with a pick-up head.",
            "headline": headline,
            "tables": [{"title": "candidate roles", "columns": ["head", "roles", "evidence"],
                        "rows": [[r["name"], ", ".join(r["roles"]) or "—", "; ".join(r["evidence"][:3])] for r in roles]},
                       {"title": "composition edges (score; rank p among other earlier heads)", "columns": ["from", "to", "Q", "K", "V"],
                        "rows": [[c["from"], c["to"], *[f"{c[k]:.3f} (p {c[f'{k}_p']:.3f})" for k in "qkv"]] for c in res.composition]},
                       {"title": "top promoted tokens (OV → unembedding)", "columns": ["head", "tokens"],
                        "rows": [[f"L{h.layer}H{h.head}", " ".join(h.promoted_tokens[:10])] for h in res.heads]}]}
