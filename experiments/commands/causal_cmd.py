"""Causal circuit commands: ``ablate`` (top screened heads vs random heads) and ``patch-heads``."""

from pathlib import Path

import typer

from experiments.cli_common import (DeviceOpt, DtypeOpt, EmotionOpt, GenerateOpt, HeadsOpt, JsonOpt, MaxNewTokensOpt, ModelOpt,
                                    ProfileOpt, ScreeningOpt, RunsRootOpt, SeedOpt, console, emit_json, fail, load_model_cli,
                                    parse_int_list, parse_str_list, progress_bar, table)
from interp.datasets import load_dataset
from interp.run_context import RunContext

def _heads(model, heads: str | None, screening: Path | None, emotion: str, k: int) -> list[tuple[int, int]]:
    from circuits.ablation import parse_heads, validate_heads
    from circuits.head_screening import ScreeningResult

    if heads:
        return validate_heads(model, parse_heads(heads))
    if screening is not None:
        return _screened_heads(model, ScreeningResult.load(screening), [emotion], k)
    fail("give --heads (e.g. 'L3H1,L5H0') or --screening <screening.json from screen-heads>")


def _screened_heads(model, scr, emotions: list[str], k: int) -> list[tuple[int, int]]:
    """Top-k screened heads per emotion (deduplicated), checked against ``model`` (a screening of another model fails clearly)."""
    from circuits.ablation import validate_heads
    from interp.errors import HookError

    hs = list(dict.fromkeys(h for e in emotions for h in scr.top_heads(e, k)))
    try:
        return validate_heads(model, hs)
    except HookError as exc:
        raise HookError(f"{exc} (the screening was made on model {scr.config.get('model', '?')!r}; "
                        "screen this model first or pass --model to match)") from None


def _texts(ds, emotion: str, limit: int | None) -> list[str]:
    if emotion not in ds.emotions:
        fail(f"unknown emotion {emotion!r}; the dataset has: {', '.join(ds.emotions)}")
    t = [r.text for r in ds.by_emotion(emotion)]
    return t[:limit] if limit else t


def _est(d: dict) -> str:
    return f"{d['value']:.4f} [{d['lo']:.4f}, {d['hi']:.4f}]"


def _gen_rows(g: dict) -> list[list]:
    """Table rows of a generation effect: one per score column."""
    rows = []
    for c, e in g["effect"].items():
        r = g["random_effect"].get(c)
        rows.append([g["intervention"], c, f"{g['clean_mean'][c]:.4f}", _est(e), g["p"][c], _est(r) if r else "-"])
    return rows


def _print_generation(title: str, gens: list[dict]) -> None:
    console.print(table(title, ["intervention", "score", "clean mean", "Δ (95% CI)", "p (sign flip)", "random heads Δ"],
                        [r for g in gens for r in _gen_rows(g)]))
    for g in gens[:1]:
        for x in g["examples"][:2]:
            console.print(f"[dim]{x['prompt']}[/dim] → clean: {x['clean']!r} | intervened: {x['intervened']!r}", markup=True)


def _checked_records(ds, emotion: str, limit: int | None, scr_path: Path | None, need: int, what: str) -> list:
    """The records of ``emotion`` to evaluate on: disjoint from the screening's selection sentences (when it records
    them) and at least ``need`` of them (one clear error otherwise)."""
    from circuits.head_screening import ScreeningResult
    from interp.splits import check_disjoint, require_count

    if emotion not in ds.emotions:
        fail(f"unknown emotion {emotion!r}; the dataset has: {', '.join(ds.emotions)}")
    recs = list(ds.by_emotion(emotion))
    if scr_path is not None:
        sel = set((ScreeningResult.load(scr_path).config or {}).get("selection_ids") or [])
        if sel:
            recs_sel = [r for r in ds.records if r.id in sel]
            check_disjoint(recs_sel, recs, what="--screening's selection sentences and the evaluated sentences")
    recs = recs[:limit] if limit else recs
    require_count(len(recs), need, what=f"{emotion} sentences", split="evaluation", fix=f"lower {what} or use a larger --profile")
    return recs


StopAfterOpt = typer.Option(10, "--stop-after", min=0, help="Besag–Clifford stopping: end a random control once this many draws "
                                                            "are as extreme as the top set (p = n/draws); 0 = always every draw.")


def ablate_cmd(model: str = ModelOpt, profile: str = ProfileOpt, emotion: str = EmotionOpt, heads: str = HeadsOpt,
               screening: Path = ScreeningOpt,
               ks: str = typer.Option(None, "--ks", help="Cumulative mode: k values like '1,2,5,10' (top-k screened heads vs k random)."),
               mode: str = typer.Option("zero", "--mode", help="zero, mean or resample (mean/resample: hook_z of the profile's "
                                                               "neutral sentences, BOS excluded)."),
               metric: str = typer.Option("emotion_words", "--metric", help="emotion_words or contrast (whole words)."),
               n_random: int = typer.Option(100, "--n-random", min=1, help="Layer-matched random head sets per k (p floor 1/(n+1))."),
               stop_after: int = StopAfterOpt,
               limit: int = typer.Option(None, "--limit", min=2, help="Use at most this many emotion sentences."),
               generate: int = GenerateOpt, max_new_tokens: int = MaxNewTokensOpt,
               generate_random: int = typer.Option(20, "--generate-random", min=0, help="Random head sets for the --generate control."),
               runs_root: Path = RunsRootOpt, seed: int = SeedOpt, device: str = DeviceOpt,
               dtype: str = DtypeOpt, json_out: bool = JsonOpt) -> None:
    """Ablate heads on hook_z and measure the change of log P(next word is an emotion word); --ks runs top-k vs layer-matched random.

    --generate N also continues N emotion sentences with the heads (the largest k) ablated and scores the text."""
    from circuits.ablation import MODES, ablate, ablation_reference, cumulative_ablation
    from circuits.metrics import METRICS

    if mode not in MODES:
        fail(f"unknown ablation mode {mode!r}; choose one of {', '.join(MODES)}")
    if metric not in METRICS:
        fail(f"unknown --metric {metric!r}; choose one of {', '.join(METRICS)}")
    ds = load_dataset(profile)
    m = load_model_cli(model, device, dtype, quiet=json_out)
    k_list = parse_int_list(ks, name="--ks")
    recs = _checked_records(ds, emotion, limit, screening, max(2, generate), "--generate / --limit")
    texts = [r.text for r in recs]
    hs = _heads(m, heads, screening, emotion, max(k_list) if k_list else 1)
    ctx = RunContext.create("ablate", {"model": model, "emotion": emotion, "heads": [f"L{l}H{h}" for l, h in hs], "ks": k_list,
                                       "mode": mode, "metric": metric, "n_random": n_random, "limit": limit}, root=runs_root, seed=seed)
    ctx.record_model(m)
    neutral = _texts(ds, "neutral", None) if "neutral" in ds.emotions else []
    reference = ablation_reference(m, neutral) if mode != "zero" else None
    if k_list:
        with progress_bar("ablating", 1, quiet=json_out) as update:
            res = cumulative_ablation(m, texts, emotion, hs, k_list, mode=mode, reference=reference, n_random=n_random,
                                      metric=metric, seed=seed, stop_after=stop_after, progress=update)
        res.save(ctx.path)
        summary = {"run_dir": str(ctx.path), **res.to_dict()}
        rows = [[r["k"], _est(r["top_effect"]), _est(r["random_effect"]), f"{r['random_draw_min']:.4f} .. {r['random_draw_max']:.4f}",
                 _est(r["top_minus_random"]), f"{r['p_draws']:.3g} (floor {r['p_floor']:.3g}; {r['n_random_draws']} draws"
                 + (", stopped early)" if r["stopped_early"] else ")")] for r in summary["rows"]]
        cols = ["k", "Δ top-k", f"Δ k random (mean of ≤ {n_random})", "random draws min .. max", "top − random", "p (vs draws)"]
    else:
        single = ablate(m, texts, emotion, hs, mode=mode, reference=reference, metric=metric, seed=seed)
        summary = {"run_dir": str(ctx.path), **single.to_dict(), "baseline": "unablated run (clean_metric)"}
        from interp.io import atomic_write_json

        atomic_write_json(ctx.path / "ablation.json", summary)
        rows = [[",".join(summary["heads"]), _est(summary["effect"]), _est(summary["clean_metric"])]]
        cols = ["heads", "Δ log P(emotion word)", "clean log P"]
    summary["evaluated"] = {"n": len(texts), "ids": [r.id for r in recs],
                            "reference": f"{len(neutral)} neutral sentences of the profile" if reference is not None else None}
    if generate:
        from circuits.generation_effects import ablation_generation_effect
        from interp.io import atomic_write_json

        with progress_bar("generating", 2 + generate_random, quiet=json_out) as update:
            gen = ablation_generation_effect(m, texts[:generate], emotion, hs, mode=mode, reference=reference,
                                             n_random=generate_random, max_new_tokens=max_new_tokens, seed=seed,
                                             progress=lambda d, t: update(d))
        summary["generation"] = gen.to_dict()
        atomic_write_json(ctx.path / "ablation_generation.json", summary["generation"])
    ctx.finish()
    if json_out:
        emit_json(summary)
        return
    console.print(table(f"{emotion}: {mode} ablation (Δ = ablated − clean, nats, 95% CI; n={len(texts)})", cols, rows))
    if generate:
        _print_generation(f"{emotion}: continuations of {generate} {emotion} sentences, ablated − clean (paired)", [summary["generation"]])


def patch_heads_cmd(model: str = ModelOpt, profile: str = ProfileOpt, emotion: str = EmotionOpt, heads: str = HeadsOpt,
                    screening: Path = ScreeningOpt,
                    modes: str = typer.Option("pattern_v,v_only,pattern_only,z", "--modes", help="Modes: pattern_v, v_only, pattern_only, z."),
                    positions: str = typer.Option("all", "--positions", help="'all' (equal lengths) or 'end' (mode z only)."),
                    n_random: int = typer.Option(100, "--n-random", min=0, help="Layer-matched random-head control draws (0 = none)."),
                    stop_after: int = StopAfterOpt,
                    metric: str = typer.Option("emotion_words", "--metric", help="emotion_words or contrast (whole words)."),
                    generate_random: int = typer.Option(20, "--generate-random", min=0, help="Random heads for the --generate control."),
                    limit: int = typer.Option(None, "--limit", min=2, help="At most this many source/target pairs."),
                    generate: int = GenerateOpt, max_new_tokens: int = MaxNewTokensOpt,
                    runs_root: Path = RunsRootOpt, seed: int = SeedOpt, device: str = DeviceOpt,
                    dtype: str = DtypeOpt, json_out: bool = JsonOpt) -> None:
    """Patch heads from emotion sentences (source) into length-matched neutral sentences (target).

    --generate N also continues N patched neutral targets (patch on the prompt pass) and scores the text."""
    from circuits.head_patching import MODES, length_matched_pairs, patch_heads
    from circuits.metrics import METRICS

    if metric not in METRICS:
        fail(f"unknown --metric {metric!r}; choose one of {', '.join(METRICS)}")
    mode_list = parse_str_list(modes) or []
    for md in mode_list:
        if md not in MODES:
            fail(f"unknown head-patching mode {md!r}; choose from {', '.join(MODES)}")
    ds = load_dataset(profile)
    m = load_model_cli(model, device, dtype, quiet=json_out)
    hs = _heads(m, heads, screening, emotion, 1)
    src_all = [r.text for r in _checked_records(ds, emotion, None, screening, 2, "--limit")]
    tgt_all = [r.text for r in _checked_records(ds, "neutral", None, screening, 2, "--limit")]
    pairs = length_matched_pairs(m, src_all, tgt_all)[: limit or None]
    from interp.splits import require_count

    require_count(len(pairs), max(2, min(generate, limit or generate)), what=f"{emotion}/neutral pairs of equal token length",
                  split="evaluation", fix="lower --generate / --limit or use a larger --profile")
    src, tgt = [src_all[i] for i, _ in pairs], [tgt_all[j] for _, j in pairs]
    ctx = RunContext.create("patch-heads", {"model": model, "emotion": emotion, "heads": [f"L{l}H{h}" for l, h in hs],
                                            "modes": mode_list, "positions": positions, "n_pairs": len(pairs)}, root=runs_root, seed=seed)
    ctx.record_model(m)
    results = []
    with progress_bar("patching", len(mode_list), quiet=json_out) as update:
        for i, md in enumerate(mode_list):
            results.append(patch_heads(m, src, tgt, emotion, hs, mode=md, positions=positions, n_random=n_random, metric=metric,
                                       seed=seed, stop_after=stop_after).to_dict())
            update(i + 1)
    gens = []
    if generate:
        from circuits.generation_effects import patching_generation_effects

        with progress_bar("generating", min(generate, len(src)), quiet=json_out) as update:
            gens = [g.to_dict() for g in patching_generation_effects(m, src[:generate], tgt[:generate], emotion, hs, modes=mode_list,
                                                                     n_random=generate_random, max_new_tokens=max_new_tokens, seed=seed,
                                                                     progress=update)]
    from interp.io import atomic_write_json

    summary = {"run_dir": str(ctx.path), "emotion": emotion, "heads": [f"L{l}H{h}" for l, h in hs], "n_pairs": len(pairs),
               "pairing": "each emotion sentence with a neutral sentence of equal token length", "results": results,
               "baseline": "unpatched target; random-head control"}
    if gens:
        summary["generation"] = gens
    atomic_write_json(ctx.path / "head_patching.json", summary)
    ctx.finish()
    if json_out:
        emit_json(summary)
        return
    console.print(table(f"{emotion}: patching {', '.join(summary['heads'])} ({len(pairs)} pairs; Δ = patched − target, nats)",
                        ["mode", "Δ (95% CI)", "random heads Δ", "p (floor)", "source − target", "fraction of gap"],
                        [[r["mode"], _est(r["effect"]), _est(r["random_head_effect"]) if r["random_head_effect"] else "-",
                          f"{r['p_draws']:.3g} ({r['p_floor']:.3g})" if r["p_draws"] is not None else "-",
                          _est(r["source_minus_target"]), r["fraction_of_gap"]] for r in results]))
    if gens:
        _print_generation(f"{emotion}: continuations of {gens[0]['n_prompts']} patched neutral sentences, patched − unpatched (paired)", gens)


def register(app: typer.Typer) -> None:
    app.command("ablate")(ablate_cmd)
    app.command("patch-heads")(patch_heads_cmd)
