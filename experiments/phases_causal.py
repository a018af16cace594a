"""Study phases 6 and 7: cumulative ablation of the top screened heads and head patching, against random heads."""

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


def _ks(max_k: int, ks: list[int] | None = None) -> list[int]:
    return sorted(set(ks)) if ks else sorted({k for k in (1, 2, 5, 10, 20) if k <= max_k} | {max_k})


def _gen_row(emotion: str, g: dict, what: str) -> dict:
    """Headline row of a generation effect (target score column, random-heads control as baseline)."""
    t = g["target"]
    e, r = g["effect"][t], g["random_effect"].get(t)
    kw = g["keyword_total"]
    return row(f"{emotion}: {what}, Δ {t} of continuations", e["value"], e["lo"], e["hi"], p=g["p"][t],
               baseline=f"{len(g['random_draw_effects'])} layer-matched random head sets: {_est(r)}" if r else "unintervened continuations",
               note=f"{g['n_prompts']} prompts, greedy {g['config']['max_new_tokens']} tokens; clean mean {g['clean_mean'][t]:.3f}; "
                    f"{emotion} keywords {kw['clean']} → {kw['intervened']}; p = sign flip over prompts; vs random sets: "
                    f"{g['config'].get('p_draws_text', '—')}")


def _gen_table(title: str, gens: list[dict]) -> dict:
    return {"title": title, "columns": ["intervention", "score", "clean", "intervened", "Δ (95% CI)", "p", "random heads Δ"],
            "rows": [[g["intervention"], c, round(g["clean_mean"][c], 4), round(g["treated_mean"][c], 4), _est(e), round(g["p"][c], 4),
                      _est(g["random_effect"][c]) if c in g["random_effect"] else "—"]
                     for g in gens for c, e in g["effect"].items()]}


def _gen_examples(title: str, gens: list[dict], n: int = 2) -> dict:
    return {"title": title, "columns": ["intervention", "prompt", "clean continuation", "intervened continuation"],
            "rows": [[g["intervention"], x["prompt"], x["clean"], x["intervened"]] for g in gens for x in g["examples"][:n]]}


def _evaluation_records(state: StudyState, scr, emotion: str, need: int, what: str) -> list:
    """The evaluation split's records of ``emotion``, checked disjoint from the sentences screening selected on and
    numerous enough (``interp.splits.check_disjoint`` / ``require_count``: one clear error otherwise)."""
    from interp.splits import check_disjoint, require_count

    recs = list(state.split.part("evaluation").by_emotion(emotion))
    sel_ids = set((scr.config or {}).get("selection_ids") or [])
    if sel_ids:
        used = [r for r in state.dataset.records if r.id in sel_ids]
        check_disjoint(used, recs, what="screening's selection sentences and the evaluation split")
    require_count(len(recs), need, what=f"{emotion} sentences", split="evaluation",
                  fix=f"lower {what} or use a larger profile / [study] split_fraction")
    return recs


def _p_text(p: float | None, floor: float | None, n: int, planned: int | None = None, stopped: bool = False) -> str:
    """``p 0.0099 (floor 0.0099, 100 layer-matched random draws)``; a sequentially stopped control says so."""
    if p is None:
        return "no random control"
    planned = planned or n
    if stopped:
        s = f"p {p:.3g} (stopped after {n} of {planned} layer-matched random draws: Besag–Clifford, floor {floor:.3g})"
    else:
        s = f"p {p:.3g} (floor {floor:.3g}, {n} layer-matched random draws)"
    return s if floor is not None and floor <= 0.05 else s + "; floor above 0.05: not a headline test"


def phase_ablate(state: StudyState, out: Path) -> dict:
    """Phase 6: per emotion, ablate the top-k screened heads (chosen on the selection split) together vs layer-matched random
    k-head sets, measured on the EVALUATION split; Δ log P(emotion word) (whole words) after the sentence (and, with
    ``generate_prompts``, scored continuations of evaluation sentences with the top ``max_k`` heads ablated)."""
    from circuits.ablation import ablation_reference, cumulative_ablation
    from circuits.generation_effects import ablation_generation_effect
    from interp.stats import holm_bonferroni

    cfg, seed = state.cfg.ablate, state.cfg.study.seed
    m = state.model(state.cfg.study.model)
    scr = _screening(state)
    neutral_sel = state.texts("neutral", "selection")
    reference = ablation_reference(m, neutral_sel) if cfg.mode != "zero" else None
    ks = _ks(cfg.max_k, cfg.ks)
    per = 1 + (2 + cfg.generate_random if cfg.generate_prompts else 0)
    headline, tables, gens, results = [], [], [], []
    for i, emotion in enumerate(cfg.emotions):
        recs = _evaluation_records(state, scr, emotion, max(2, cfg.generate_prompts), "[ablate] generate_prompts")
        if cfg.n_sentences:
            recs = recs[: max(cfg.n_sentences, 2, cfg.generate_prompts)]
        texts = [r.text for r in recs]
        ranked = scr.top_heads(emotion, cfg.max_k)

        def progress(done: int, total: int, base: int = i * per) -> None:
            state.progress(base + done / max(total, 1), per * len(cfg.emotions))

        def gen_progress(done: int, total: int, base: int = i * per + 1) -> None:
            state.progress(base + done, per * len(cfg.emotions))

        res = cumulative_ablation(m, texts, emotion, ranked, ks, mode=cfg.mode, reference=reference, n_random=cfg.n_random,
                                  metric=cfg.metric, seed=seed, stop_after=cfg.stop_after, progress=progress)
        res.save(out)
        d = res.to_dict()
        d["split"] = {"evaluated_on": "evaluation", "n": len(texts), "ids": [r.id for r in recs],
                      "heads_selected_on": "selection (screening)", "reference": f"selection split neutral sentences (n={len(neutral_sel)})"}
        atomic_write_json(out / f"ablation_{emotion}.json", d)
        results.append(d)
        if cfg.generate_prompts:
            g = ablation_generation_effect(m, texts[: cfg.generate_prompts], emotion, ranked, mode=cfg.mode, reference=reference,
                                           n_random=cfg.generate_random, max_new_tokens=cfg.max_new_tokens, seed=seed,
                                           progress=gen_progress)
            gd = g.to_dict()
            gd["split"] = {"evaluated_on": "evaluation", "n": len(texts[: cfg.generate_prompts])}
            gens.append(gd)
            atomic_write_json(out / f"ablation_generation_{emotion}.json", gd)
    # Holm over every (emotion, k) test of this phase
    flat = [r for d in results for r in d["rows"]]
    holm = holm_bonferroni([r["p_draws"] for r in flat]) if flat else []
    for r, ph in zip(flat, holm):
        r["p_holm"] = float(ph)
    for d in results:
        n = d["split"]["n"]
        headline += [row(f"{d['emotion']}: {cfg.mode}-ablate top {r['k']} heads, Δ {cfg.metric} (evaluation split, n={n})",
                         r["top_effect"]["value"], r["top_effect"]["lo"], r["top_effect"]["hi"], p=r["p_draws"],
                         baseline=f"{r['n_random_draws']} layer-matched random {r['k']}-head sets: {_est(r['random_effect'])}; draws range "
                                  f"[{r['random_draw_min']:+.3f}, {r['random_draw_max']:+.3f}]",
                         note=f"top − random {_est(r['top_minus_random'])}; {_p_text(r['p_draws'], r['p_floor'], r['n_random_draws'], r['n_random_planned'], r['stopped_early'])}; "
                              f"Holm p {r['p_holm']:.3g} over {len(flat)} tests; heads from screening on the selection split")
                     for r in d["rows"]]
        tables.append({"title": f"{d['emotion']}: ranked heads (selection split)", "columns": ["rank", "head"],
                       "rows": [[j + 1, h] for j, h in enumerate(d["ranked_heads"])]})
    for g in gens:
        headline.append(_gen_row(g["emotion"], g, f"{cfg.mode}-ablate top {cfg.max_k} heads (evaluation split, n={g['n_prompts']})"))
    if gens:
        tables.append(_gen_table("continuations of evaluation-split emotion sentences with the top heads ablated (paired by prompt)", gens))
        tables.append(_gen_examples("examples: continuations with the top heads ablated", gens))
    gen_text = (f" Generations: up to {cfg.generate_prompts} evaluation-split emotion sentences per emotion continued greedily for "
                f"{cfg.max_new_tokens} tokens with the top {cfg.max_k} heads ablated at every position, scored by VADER and emotion "
                f"keywords, vs {cfg.generate_random} layer-matched random {cfg.max_k}-head sets (p floor {1 / (1 + cfg.generate_random):.3g})."
                ) if gens else ""
    return {"text": f"Heads selected by screening on the selection split; every effect measured on the evaluation split. {cfg.mode} "
                    f"ablation on hook_z (per query head; a KV head shared with other query heads is left intact); mean/resample "
                    f"values from the selection split's {len(neutral_sel)} neutral sentences, BOS and padding excluded. Metric "
                    f"{cfg.metric}: log P(the next word is an emotion word), whole words teacher-forced, nats; ablated − clean, "
                    f"bootstrap CI over sentences; control: up to {cfg.n_random} layer-matched random head sets per k, "
                    f"p = (1 + #draws with |effect| ≥ top's) / (1 + draws), floor 1/(1 + draws), with Besag–Clifford stopping "
                    f"once {cfg.stop_after} draws are as extreme (then p = {cfg.stop_after}/draws); Holm over all emotions × ks "
                    f"({len(flat)} tests: the smallest reachable Holm p is {len(flat) / (1 + cfg.n_random):.3g}"
                    f"{'' if len(flat) / (1 + cfg.n_random) < 0.01 else f'; Holm p < 0.01 needs n_random ≥ {100 * len(flat)}'}).{gen_text}",
            "headline": headline, "tables": tables}


def phase_patch_heads(state: StudyState, out: Path) -> dict:
    """Phase 7: per emotion, patch the top screened head (selection split) from evaluation-split emotion sentences into
    length-matched evaluation-split neutral ones, in every mode, vs layer-matched random heads."""
    from circuits.generation_effects import patching_generation_effects
    from circuits.head_patching import length_matched_pairs, patch_heads
    from interp.splits import require_count

    cfg, seed = state.cfg.patch_heads, state.cfg.study.seed
    m = state.model(state.cfg.study.model)
    scr = _screening(state)
    tgt_recs = _evaluation_records(state, scr, "neutral", 2, "[patch_heads] n_pairs")
    tgt_all = [r.text for r in tgt_recs]
    per = len(cfg.modes) * (2 if cfg.generate_prompts else 1)
    headline, tables, gens, done = [], [], [], 0
    for emotion in cfg.emotions:
        heads = scr.top_heads(emotion, 1)
        src_recs = _evaluation_records(state, scr, emotion, 2, "[patch_heads] n_pairs")
        src_all = [r.text for r in src_recs]
        pairs = length_matched_pairs(m, src_all, tgt_all)[: cfg.n_pairs]
        require_count(len(pairs), max(2, min(cfg.generate_prompts, cfg.n_pairs)), what=f"{emotion}/neutral pairs of equal token length",
                      split="evaluation", fix="lower [patch_heads] generate_prompts or use a larger profile")
        src, tgt = [src_all[i] for i, _ in pairs], [tgt_all[j] for _, j in pairs]
        results = []
        for mode in cfg.modes:
            r = patch_heads(m, src, tgt, emotion, heads, mode=mode, n_random=cfg.n_random, metric=cfg.metric, seed=seed,
                            stop_after=cfg.stop_after).to_dict()
            r["split"] = {"evaluated_on": "evaluation", "n": len(pairs)}
            results.append(r)
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
        atomic_write_json(out / f"head_patching_{emotion}.json", {
            "emotion": emotion, "heads": [f"L{l}H{h}" for l, h in heads], "n_pairs": len(pairs), "results": results,
            "generation": emo_gens, "split": {"evaluated_on": "evaluation", "n_pairs": len(pairs),
                                              "source_ids": [src_recs[i].id for i, _ in pairs],
                                              "target_ids": [tgt_recs[j].id for _, j in pairs],
                                              "heads_selected_on": "selection (screening)"}})
        name = f"L{heads[0][0]}H{heads[0][1]}"
        headline += [row(f"{emotion}: patch top head ({r['mode']}), Δ {cfg.metric} (evaluation split, n={len(pairs)})",
                         r["effect"]["value"], r["effect"]["lo"], r["effect"]["hi"], p=r["p_draws"],
                         baseline=f"{len(r['random_draw_effects'])} layer-matched random heads: {_est(r['random_head_effect'])}"
                         if r["random_head_effect"] else "unpatched target",
                         note=f"{name}; source − target gap {_est(r['source_minus_target'])}; fraction of gap {r['fraction_of_gap']:.3f}; "
                              f"{_p_text(r['p_draws'], r['p_floor'], len(r['random_draw_effects']), (r['control_p'] or {}).get('n_planned'), bool((r['control_p'] or {}).get('stopped_early')))}")
                     for r in results]
        headline += [_gen_row(emotion, g, f"patch top head ({g['config']['mode']}) (evaluation split, n={g['n_prompts']})")
                     for g in emo_gens]
    if gens:
        tables.append(_gen_table("continuations of evaluation-split neutral sentences with the top head patched on the prompt", gens))
        tables.append(_gen_examples("examples: neutral sentences continued with the top head patched", gens, n=1))
    return {"text": f"Head chosen by screening on the selection split; sources and targets from the evaluation split. Per emotion, up "
                    f"to {cfg.n_pairs} pairs: each emotion sentence with a neutral sentence of equal token length. Modes: "
                    f"pattern_v (pattern and values from the source), v_only (values from the source, pattern from the target), "
                    f"pattern_only, z (the head's whole output); equal lengths match position i to position i. With grouped-query "
                    f"attention one KV head's v is shared by several query heads, so v is swapped only inside this query head's hook_z "
                    f"recomputation. Metric {cfg.metric} (whole words, patch on the prompt pass only); control: {cfg.n_random} "
                    f"layer-matched random heads patched the same way, p with its floor."
                    + (f" Generations: the first {cfg.generate_prompts} patched neutral sentences continued greedily for "
                       f"{cfg.max_new_tokens} tokens (patch on the prompt pass), scored by VADER and emotion keywords, vs "
                       f"{cfg.generate_random} random heads (p floor {1 / (1 + cfg.generate_random):.3g})." if gens else ""),
            "headline": headline, "tables": tables}
