"""Study phases 6, 7 and 9: head screening, cumulative ablation, head patching and OV/QK roles.

Later phases read the screening phase's ``screening.json``; attention views of the top heads
are stored as circuitsvis specs (``*.cv.json``) for the report and as standalone HTML.
"""

from pathlib import Path

from experiments.phase_common import row
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
    """Phase 6: Δattention to emotion-word tokens (emotion − matched neutral) for every head, per emotion."""
    from circuits.head_screening import screen_heads

    cfg, seed = state.cfg.screen, state.cfg.study.seed
    m = state.model(state.cfg.study.model)
    res = screen_heads(m, state.dataset, emotions=cfg.emotions, n_boot=cfg.n_boot, n_perm=cfg.n_perm, seed=seed, progress=state.progress)
    res.save(out)
    n_views = _attention_views(m, res, state, out)
    d = res.to_dict()
    headline, tables = [], []
    for e in res.emotions:
        top = res.top(e, 10)
        t = top[0]
        headline.append(row(f"{e}: top head Δattention", t["delta"], t["lo"], t["hi"],
                            baseline=f"matched neutral positions (neutral attention {t['neutral_attn']:.3f})",
                            note=f"{t['name']}, Holm p {t['p_holm']:.3g}; {d['n_significant_holm_05'][e]} of {res.delta[0].numel()} "
                                 f"heads with Holm p < 0.05"))
        tables.append({"title": f"{e}: top 10 heads", "columns": ["rank", "head", "Δ", "95% CI", "emotion attn", "neutral attn", "Holm p"],
                       "rows": [[r["rank"], r["name"], round(r["delta"], 4), f"[{r['lo']:.3f}, {r['hi']:.3f}]",
                                 r["emotion_attn"], r["neutral_attn"], r["p_holm"]] for r in top]})
    return {"text": f"Attention from the sentence end to the emotion-word tokens minus attention to the matched positions of "
                    f"neutral sentences; {cfg.n_boot} bootstrap resamples, {cfg.n_perm} label permutations per head, Holm-corrected "
                    f"over {res.delta[0].numel()} heads. {n_views} circuitsvis views of the top heads.",
            "headline": headline, "tables": tables}


def _ks(max_k: int) -> list[int]:
    return sorted({k for k in (1, 2, 5, 10, 20) if k <= max_k} | {max_k})


def _gen_row(emotion: str, g: dict, what: str) -> dict:
    """Headline row of a generation effect (target score column, random-heads control as baseline)."""
    t = g["target"]
    e, r = g["effect"][t], g["random_effect"].get(t)
    kw = g["keyword_total"]
    return row(f"{emotion}: {what}, Δ {t} of continuations", e["value"], e["lo"], e["hi"], p=g["p"][t],
               baseline=f"{len(g['random_draw_effects'])} random head sets: {_est(r)}" if r else "unintervened continuations",
               note=f"{g['n_prompts']} prompts, greedy {g['config']['max_new_tokens']} tokens; clean mean {g['clean_mean'][t]:.3f}; "
                    f"{emotion} keywords {kw['clean']} → {kw['intervened']}")


def _gen_table(title: str, gens: list[dict]) -> dict:
    return {"title": title, "columns": ["intervention", "score", "clean", "intervened", "Δ (95% CI)", "p", "random heads Δ"],
            "rows": [[g["intervention"], c, round(g["clean_mean"][c], 4), round(g["treated_mean"][c], 4), _est(e), round(g["p"][c], 4),
                      _est(g["random_effect"][c]) if c in g["random_effect"] else "—"]
                     for g in gens for c, e in g["effect"].items()]}


def _gen_examples(title: str, gens: list[dict], n: int = 2) -> dict:
    return {"title": title, "columns": ["intervention", "prompt", "clean continuation", "intervened continuation"],
            "rows": [[g["intervention"], x["prompt"], x["clean"], x["intervened"]] for g in gens for x in g["examples"][:n]]}


def phase_ablate(state: StudyState, out: Path) -> dict:
    """Phase 6: per emotion, ablate the top-k screened heads together vs k random heads; Δ log P(emotion word) at the sentence end
    (and, with ``generate_prompts``, the scored continuations of emotion sentences with the top ``max_k`` heads ablated)."""
    from circuits.ablation import cumulative_ablation, mean_z
    from circuits.generation_effects import ablation_generation_effect

    cfg, seed = state.cfg.ablate, state.cfg.study.seed
    m = state.model(state.cfg.study.model)
    scr = _screening(state)
    means = mean_z(m, state.dataset.texts) if cfg.mode == "mean" else None
    ks = _ks(cfg.max_k)
    per = len(ks) * (1 + cfg.n_random) + (2 + cfg.generate_random if cfg.generate_prompts else 0)
    headline, tables, gens = [], [], []
    for i, emotion in enumerate(cfg.emotions):
        ranked = scr.top_heads(emotion, cfg.max_k)

        def progress(done: int, total: int, base: int = i * per) -> None:
            state.progress(base + done, per * len(cfg.emotions))

        def gen_progress(done: int, total: int, base: int = i * per + len(ks) * (1 + cfg.n_random)) -> None:
            state.progress(base + done, per * len(cfg.emotions))

        res = cumulative_ablation(m, _texts(state, emotion), emotion, ranked, ks, mode=cfg.mode, means=means,
                                  n_random=cfg.n_random, seed=seed, progress=progress)
        res.save(out)
        d = res.to_dict()
        headline += [row(f"{emotion}: {cfg.mode}-ablate top {r['k']} heads, Δ log P(emotion word)", r["top_effect"]["value"],
                         r["top_effect"]["lo"], r["top_effect"]["hi"], p=r.get("p_draws"),
                         baseline=f"{r['k']} random heads: {_est(r['random_effect'])}; draws range "
                                  f"[{r['random_draw_min']:+.3f}, {r['random_draw_max']:+.3f}]",
                         note=f"top − random {_est(r['top_minus_random'])}; p = share of random draws with |effect| ≥ top's")
                     for r in d["rows"]]
        tables.append({"title": f"{emotion}: ranked heads", "columns": ["rank", "head"],
                       "rows": [[j + 1, h] for j, h in enumerate(d["ranked_heads"])]})
        if cfg.generate_prompts:
            g = ablation_generation_effect(m, _texts(state, emotion)[: cfg.generate_prompts], emotion, ranked, mode=cfg.mode,
                                           means=means, n_random=cfg.generate_random, max_new_tokens=cfg.max_new_tokens, seed=seed,
                                           progress=gen_progress)
            gens.append(g.to_dict())
            atomic_write_json(out / f"ablation_generation_{emotion}.json", gens[-1])
            headline.append(_gen_row(emotion, gens[-1], f"{cfg.mode}-ablate top {cfg.max_k} heads"))
    if gens:
        tables.append(_gen_table("continuations of emotion sentences with the top heads ablated (paired by prompt)", gens))
        tables.append(_gen_examples("examples: continuations with the top heads ablated", gens))
    gen_text = (f" Generations: {cfg.generate_prompts} emotion sentences per emotion continued greedily for {cfg.max_new_tokens} tokens "
                f"with the top {cfg.max_k} heads ablated at every position, scored by VADER and emotion keywords, vs "
                f"{cfg.generate_random} random {cfg.max_k}-head sets.") if gens else ""
    return {"text": f"{cfg.mode} ablation on hook_z (per query head; a KV head shared with other query heads is left intact). "
                    f"Metric: log-probability that the next token after an emotion sentence is a word of that emotion, nats; "
                    f"ablated − clean, bootstrap CI over sentences; random heads averaged over {cfg.n_random} draws.{gen_text}",
            "headline": headline, "tables": tables}


def phase_patch_heads(state: StudyState, out: Path) -> dict:
    """Phase 7: per emotion, patch the top screened head from emotion sentences into length-matched neutral ones, in every mode."""
    from circuits.generation_effects import patching_generation_effects
    from circuits.head_patching import length_matched_pairs, patch_heads
    from interp.errors import DatasetError

    cfg, seed = state.cfg.patch_heads, state.cfg.study.seed
    m = state.model(state.cfg.study.model)
    scr = _screening(state)
    tgt_all = _texts(state, "neutral")
    per = len(cfg.modes) * (2 if cfg.generate_prompts else 1)
    headline, tables, gens, done = [], [], [], 0
    for emotion in cfg.emotions:
        heads = scr.top_heads(emotion, 1)
        src_all = _texts(state, emotion)
        pairs = length_matched_pairs(m, src_all, tgt_all)[: cfg.n_pairs]
        if len(pairs) < 2:
            raise DatasetError(f"fewer than 2 {emotion} sentences have a neutral sentence of the same token length")
        src, tgt = [src_all[i] for i, _ in pairs], [tgt_all[j] for _, j in pairs]
        results = []
        for mode in cfg.modes:
            results.append(patch_heads(m, src, tgt, emotion, heads, mode=mode, n_random=cfg.n_random, seed=seed).to_dict())
            done += 1
            state.progress(done, per * len(cfg.emotions))
        emo_gens = []
        if cfg.generate_prompts:
            emo_gens = [g.to_dict() for g in patching_generation_effects(
                m, src[: cfg.generate_prompts], tgt[: cfg.generate_prompts], emotion, heads, modes=cfg.modes,
                n_random=cfg.generate_random, max_new_tokens=cfg.max_new_tokens, seed=seed)]
            done += len(cfg.modes)
            state.progress(done, per * len(cfg.emotions))
        gens += emo_gens
        atomic_write_json(out / f"head_patching_{emotion}.json", {"emotion": emotion, "heads": [f"L{l}H{h}" for l, h in heads],
                                                                  "n_pairs": len(pairs), "results": results, "generation": emo_gens})
        name = f"L{heads[0][0]}H{heads[0][1]}"
        headline += [row(f"{emotion}: patch top head ({r['mode']}), Δ log P(emotion word)", r["effect"]["value"], r["effect"]["lo"],
                         r["effect"]["hi"],
                         baseline=f"{cfg.n_random} random heads: {_est(r['random_head_effect'])}" if r["random_head_effect"]
                         else "unpatched target",
                         note=f"{name}; source − target gap {_est(r['source_minus_target'])}; fraction of gap {r['fraction_of_gap']:.3f}")
                     for r in results]
        headline += [_gen_row(emotion, g, f"patch top head ({g['config']['mode']})") for g in emo_gens]
    if gens:
        tables.append(_gen_table("continuations of neutral sentences with the top head patched on the prompt (paired by prompt)", gens))
        tables.append(_gen_examples("examples: neutral sentences continued with the top head patched", gens, n=1))
    return {"text": f"Per emotion, up to {cfg.n_pairs} pairs: each emotion sentence with a neutral sentence of equal token length. Modes: "
                    f"pattern_v (pattern and values from the source), v_only (values from the source, pattern from the target), "
                    f"pattern_only, z (the head's whole output); equal lengths match position i to position i. With grouped-query "
                    f"attention one KV head's v is shared by several query heads, so v is swapped only inside this query head's hook_z "
                    f"recomputation; the other heads of its group keep the target's values."
                    + (f" Generations: the first {cfg.generate_prompts} patched neutral sentences continued greedily for "
                       f"{cfg.max_new_tokens} tokens (patch on the prompt pass), scored by VADER and emotion keywords." if gens else ""),
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
