"""``emotion-circuits sweep`` (layer × α steering sweep with controls) and ``steer`` (one steered continuation)."""

from pathlib import Path

import typer

from experiments.cli_common import (DeviceOpt, DtypeOpt, JsonOpt, RunsRootOpt, SeedOpt, console, emit_json, err_console, fail,
                                    load_model_cli, parse_float_list, parse_int_list, parse_str_list, progress_bar, table)
from interp.errors import ConfigError
from interp.hook_names import RESIDUAL_KINDS, block_hook, validate_layer
from interp.registry import DEFAULT_MODEL
from interp.run_context import RunContext
from steering.hooks import POSITION_MODES, SCALE_MODES

_DEFAULT_ALPHAS = "-2,-1,-0.5,0,0.5,1,2"


def _check_choice(value: str, choices, name: str) -> str:
    if value not in choices:
        fail(f"{name} {value!r} is unknown; choose one of {', '.join(choices)}")
    return value


def _vectors(m, ctx, emotions, layers, *, hook_kind, vectors_file, allow_hook_mismatch, profile, method, contrast,
             allow_other_model=False):
    from steering.sweep import extract_emotion_vectors, vectors_from_file

    if vectors_file is not None:
        return vectors_from_file(vectors_file, m, emotions, layers, hook_kind=hook_kind, allow_hook_mismatch=allow_hook_mismatch,
                                 allow_other_model=allow_other_model)
    return extract_emotion_vectors(m, ctx.path / "activations", emotions, layers, hook_kind=hook_kind, profile=profile,
                                   method=method, contrast=contrast)


def _known_emotions(profile: str) -> list[str]:
    from interp.datasets import load_dataset

    return [e for e in load_dataset(profile).emotions if e != "neutral"]


def sweep(
    model: str = typer.Option(DEFAULT_MODEL, "--model", "-m", help="Known model name, local directory or HF id."),
    emotion: str = typer.Option("gratitude", "--emotion", "-e", help="Emotion(s) to steer toward, comma-separated."),
    layers: str = typer.Option(None, "--layers", help="Layers, e.g. '3,9,15,21,27' (default: 5 at 0.1, 0.3, …, 0.9 of the depth)."),
    alphas: str = typer.Option(_DEFAULT_ALPHAS, "--alphas", help="Coefficients in the unit of --scale (0 is always added)."),
    scale: str = typer.Option("raw", "--scale", help=f"Unit of alpha: {', '.join(SCALE_MODES)} (raw = alpha x emotion vector)."),
    hook_kind: str = typer.Option("resid_pre", "--hook-kind", help=f"Residual hook kind: {', '.join(RESIDUAL_KINDS)}."),
    positions: str = typer.Option("all", "--positions", help=f"Steered positions: {', '.join(POSITION_MODES)}."),
    n_prompts: int = typer.Option(30, "--n-prompts", min=1, help="Use the first N prompts."),
    prompts_file: Path = typer.Option(None, "--prompts", help="Prompt file (JSONL with 'text', or one per line); default: shipped neutral prompts."),
    max_new_tokens: int = typer.Option(20, "--max-new-tokens", min=1, max=512),
    seeds: str = typer.Option("0", "--seeds", help="Generation seeds (one generation per prompt and seed), e.g. '0,1,2'."),
    sample: bool = typer.Option(False, "--sample/--greedy", help="Sample (temperature --temperature) or greedy."),
    temperature: float = typer.Option(1.0, "--temperature"),
    chat: bool = typer.Option(False, "--chat/--no-chat", help="Wrap prompts in the model's chat template."),
    profile: str = typer.Option("baseline", "--profile", "-p", help="Dataset profile or file the emotion vectors come from."),
    method: str = typer.Option("sentence_end", "--method", help="Vector method: sentence_end or token."),
    contrast: str = typer.Option("neutral", "--contrast", help="Vector contrast: neutral or others."),
    vectors_file: Path = typer.Option(None, "--vectors", help="Use saved vectors (.safetensors) instead of extracting."),
    allow_hook_mismatch: bool = typer.Option(False, "--allow-hook-mismatch", help="Accept saved vectors computed at another hook of the same layer."),
    allow_other_model: bool = typer.Option(False, "--allow-other-model", help="Accept saved vectors computed on another model of the same width (a deliberate transfer; warns)."),
    scorers: str = typer.Option("sentiment,nrc,keywords,fluency", "--scorers", help="Scorers (see interp.evaluators; fluency is required)."),
    target: str = typer.Option(None, "--target", help="Target score per emotion, e.g. 'anger=vader_neg' (default: the attribute registry's targets, gratitude=vader_compound, anger=vader_neg, apology=kw_apology)."),
    ppl_bound: float = typer.Option(1.5, "--ppl-bound", help="Usable window: perplexity ratio to alpha=0 at most this."),
    no_random: bool = typer.Option(False, "--no-random-control", help="Skip the random-direction control (then no cell is usable)."),
    n_random: int = typer.Option(20, "--n-random", min=20, help="Norm-matched random directions per controlled cell (p floor 1/(n+1))."),
    random_cells: int = typer.Option(2, "--random-cells", min=1, help="Cells per emotion given the random control (top selection candidates)."),
    run_dir: Path = typer.Option(None, "--run-dir", help="Reuse this run folder (an interrupted sweep resumes)."),
    runs_root: Path = RunsRootOpt,
    seed: int = SeedOpt,
    device: str = DeviceOpt,
    dtype: str = DtypeOpt,
    json_out: bool = JsonOpt,
) -> None:
    """Steer generations over layers × alphas for each emotion, with alpha=0 and random-direction controls; score, aggregate with CIs, and find the usable window."""
    import math

    from interp.datasets import load_prompts
    from interp.evaluators import make_scorer
    from steering.generation import GenerationConfig
    from steering.sweep import SweepConfig, check_emotions, default_sweep_layers, run_sweep
    from steering.sweep_figures import save_sweep_figures

    emotions = parse_str_list(emotion) or fail("--emotion is empty")
    check_emotions(emotions, _known_emotions(profile) if vectors_file is None else emotions)
    alpha_list = parse_float_list(alphas, name="--alphas")
    seed_list = parse_int_list(seeds, name="--seeds") or [0]
    _check_choice(scale, SCALE_MODES, "--scale")
    _check_choice(hook_kind, RESIDUAL_KINDS, "--hook-kind")
    _check_choice(positions, POSITION_MODES, "--positions")
    if not math.isfinite(ppl_bound) or ppl_bound < 1:
        fail(f"--ppl-bound must be a finite ratio >= 1, got {ppl_bound}")
    scorer_names = parse_str_list(scorers) or []
    if "fluency" not in scorer_names:
        fail("--scorers must include 'fluency' (perplexity decides the usable window)")
    prompts = load_prompts(prompts_file)
    if len(prompts) < n_prompts:
        fail(f"--n-prompts {n_prompts} but only {len(prompts)} prompts are available")
    if n_prompts < 2:
        fail(f"--n-prompts {n_prompts} cannot be split into selection and evaluation prompts; use at least 2")
    prompts = prompts[:n_prompts]
    targets = {}
    for item in parse_str_list(target) or []:
        e, _, col = item.partition("=")
        if not col or e not in emotions:
            fail(f"--target must look like 'EMOTION=COLUMN' for one of {', '.join(emotions)}, got {item!r}")
        targets[e] = col
    if vectors_file is not None:
        from steering.vectors import load_vectors

        load_vectors(vectors_file)  # a missing or corrupt vector file fails before the model loads
    m = load_model_cli(model, device, dtype, quiet=json_out)
    n_layers = m.cfg.n_layers
    layer_list = parse_int_list(layers, name="--layers") or default_sweep_layers(n_layers)
    layer_list = [validate_layer(layer, n_layers) for layer in layer_list]
    gen = GenerationConfig(max_new_tokens=max_new_tokens, do_sample=sample, temperature=temperature, chat=chat, seed=seed_list[0])
    cfg = SweepConfig(emotions=tuple(emotions), layers=tuple(layer_list), alphas=tuple(alpha_list), hook_kind=hook_kind,
                      scale=scale, positions=positions, seeds=tuple(seed_list), random_control=not no_random,
                      random_seed=seed + 1234, n_random=n_random, random_max_cells=random_cells, ppl_bound=ppl_bound,
                      split_seed=seed, targets=targets, generation=gen)
    built = [make_scorer(n, model=m, chat=chat) if n == "fluency" else make_scorer(n) for n in scorer_names]
    ctx = RunContext.create("sweep", {"model": model, "profile": profile, "method": method, "contrast": contrast,
                                      "vectors": str(vectors_file) if vectors_file else None, "n_prompts": n_prompts,
                                      "prompts": str(prompts_file) if prompts_file else "shipped", "scorers": scorer_names,
                                      **cfg.to_dict()}, root=runs_root, seed=seed, run_dir=run_dir)
    ctx.record_model(m)
    with err_console.status("emotion vectors …") if not json_out else _null():
        vecs = _vectors(m, ctx, emotions, layer_list, hook_kind=hook_kind, vectors_file=vectors_file,
                        allow_hook_mismatch=allow_hook_mismatch, profile=profile, method=method, contrast=contrast,
                        allow_other_model=allow_other_model)
    vectors = {k: v.vector for k, v in vecs.items()}
    with progress_bar("steering cells", 1, quiet=json_out) as update:
        result = run_sweep(m, prompts, vectors, cfg, built, cache_dir=ctx.path / "cells", progress=update)
    result.save(ctx.path)
    figs = save_sweep_figures(result, ctx.path)
    ctx.record_step("sweep", cells=result.extra["n_cells"], rows=len(result.rows), figures=[str(f) for f in figs])
    wall = ctx.finish()
    summary = {"run_dir": str(ctx.path), "unit": cfg.to_dict()["unit"], "wall_seconds": wall, **result.summary()}
    if json_out:
        emit_json(summary)
        return
    sp = result.extra["splits"]
    for e in emotions:
        b = result.best_cell(e)
        c, r = b["cell"], b["random_control"]
        rows = [[split, x["layer"], x["alpha"], x["added_norm"], f"{x['effect']:+.3g} [{x['effect_lo']:+.3g}, {x['effect_hi']:+.3g}]",
                 f"{x['effect_masked']:+.3g} [{x['effect_masked_lo']:+.3g}, {x['effect_masked_hi']:+.3g}]", x["p_holm"],
                 x["ppl_ratio"], x["distinct_2"]] for split, x in (("selection (chosen)", b["selection"]), ("evaluation (reported)", c))]
        console.print(table(f"{e}: best cell — Δ {c['target']} over α=0 (α=0 mean {c['baseline']:.3g}; α unit: {cfg.to_dict()['unit']}; "
                            f"{len(sp['selection'])} selection / {len(sp['evaluation'])} evaluation prompts)",
                            ["prompts", "layer", "α", "added norm", "effect [95% CI]", "masked effect [95% CI]", "p Holm", "ppl ratio",
                             "distinct-2"], rows))
        if r is not None:
            console.print(f"  vs {r['n']} norm-matched random directions (evaluation prompts): p = {r['p']:.3g} raw, "
                          f"{r['p_masked']:.3g} masked (floor {r['p_floor']:.3g}); usable: {b['usable']}"
                          + ("; KEYWORD-DRIVEN (raw effect significant, masked not)" if b["keyword_driven"] else ""))
        window = summary["usable_window"][e]
        console.print(f"usable window for {e}: " + (", ".join(f"L{layer} α={a:g}" for layer, a in window) or "none"))
    console.print(f"rule: {summary['window_rule']}")
    console.print(f"results: {ctx.path}")


def _null():
    from contextlib import nullcontext

    return nullcontext()


def steer(
    prompt: list[str] = typer.Argument(..., help="Prompt(s) to continue."),
    model: str = typer.Option(DEFAULT_MODEL, "--model", "-m"),
    emotion: str = typer.Option("gratitude", "--emotion", "-e", help="Emotion to steer toward."),
    layer: int = typer.Option(None, "--layer", "-l", help="Layer (default: mid-depth)."),
    alpha: float = typer.Option(2.0, "--alpha", "-a", help="Coefficient in the unit of --scale."),
    scale: str = typer.Option("raw", "--scale", help=f"Unit of alpha: {', '.join(SCALE_MODES)}."),
    hook_kind: str = typer.Option("resid_pre", "--hook-kind", help=f"Residual hook kind: {', '.join(RESIDUAL_KINDS)}."),
    positions: str = typer.Option("all", "--positions", help=f"Steered positions: {', '.join(POSITION_MODES)}."),
    max_new_tokens: int = typer.Option(30, "--max-new-tokens", min=1, max=512),
    sample: bool = typer.Option(False, "--sample/--greedy"),
    temperature: float = typer.Option(1.0, "--temperature"),
    chat: bool = typer.Option(False, "--chat/--no-chat", help="Wrap the prompt in the model's chat template."),
    profile: str = typer.Option("baseline", "--profile", "-p"),
    method: str = typer.Option("sentence_end", "--method"),
    contrast: str = typer.Option("neutral", "--contrast"),
    vectors_file: Path = typer.Option(None, "--vectors", help="Use saved vectors instead of extracting."),
    allow_hook_mismatch: bool = typer.Option(False, "--allow-hook-mismatch"),
    allow_other_model: bool = typer.Option(False, "--allow-other-model", help="Accept saved vectors computed on another model of the same width (warns)."),
    runs_root: Path = RunsRootOpt,
    seed: int = SeedOpt,
    device: str = DeviceOpt,
    dtype: str = DtypeOpt,
    json_out: bool = JsonOpt,
) -> None:
    """Continue a prompt unsteered and steered toward an emotion; print both with their scores."""
    import math

    from interp.evaluators import make_scorer, score_texts
    from steering.generation import GenerationConfig, generate
    from steering.hooks import SteeringSpec, check_alpha, mean_resid_norm

    if not math.isfinite(alpha):
        raise ConfigError(f"--alpha is {alpha}; it must be a finite number")
    check_alpha(alpha)
    if vectors_file is None:
        from steering.sweep import check_emotions

        check_emotions([emotion], _known_emotions(profile))
    _check_choice(scale, SCALE_MODES, "--scale")
    _check_choice(hook_kind, RESIDUAL_KINDS, "--hook-kind")
    _check_choice(positions, POSITION_MODES, "--positions")
    if vectors_file is not None:
        from steering.vectors import load_vectors

        load_vectors(vectors_file)  # a missing or corrupt vector file fails before the model loads
    m = load_model_cli(model, device, dtype, quiet=json_out)
    layer = validate_layer(m.cfg.n_layers // 2 if layer is None else layer, m.cfg.n_layers)
    hook = block_hook(hook_kind, layer)
    ctx = RunContext.create("steer", {"model": model, "emotion": emotion, "layer": layer, "alpha": alpha, "scale": scale,
                                      "hook": hook, "positions": positions, "prompts": prompt}, root=runs_root, seed=seed)
    vec = _vectors(m, ctx, [emotion], [layer], hook_kind=hook_kind, vectors_file=vectors_file,
                   allow_hook_mismatch=allow_hook_mismatch, profile=profile, method=method, contrast=contrast,
                   allow_other_model=allow_other_model)[(emotion, layer)]
    norm = mean_resid_norm(m, hook, prompt) if scale == "mean_norm" else None
    spec = SteeringSpec(hook, vec.vector, alpha, scale, norm, label=emotion)
    cfg = GenerationConfig(max_new_tokens=max_new_tokens, do_sample=sample, temperature=temperature, chat=chat, seed=seed)
    plain = generate(m, prompt, config=cfg)
    steered = generate(m, prompt, [spec], positions=positions, config=cfg)
    scorers = [make_scorer("sentiment"), make_scorer("keywords"), make_scorer("fluency", model=m, chat=chat)]
    cols = ["vader_compound", f"kw_{emotion}" if f"kw_{emotion}" in scorers[1].columns else "kw_gratitude", "perplexity"]
    s0 = score_texts(plain.continuations, scorers, prompts=prompt)
    s1 = score_texts(steered.continuations, scorers, prompts=prompt)
    items = [{"prompt": p, "unsteered": a, "steered": b, "scores_unsteered": {c: s0[c][i] for c in cols},
              "scores_steered": {c: s1[c][i] for c in cols}}
             for i, (p, a, b) in enumerate(zip(prompt, plain.continuations, steered.continuations))]
    ctx.record_model(m)
    ctx.record_step("steer", spec=spec.describe())
    ctx.finish()
    summary = {"run_dir": str(ctx.path), "steering": spec.describe(), "vector": vec.provenance(), "items": items}
    from interp.io import atomic_write_json

    atomic_write_json(ctx.path / "steer.json", summary)
    if json_out:
        emit_json(summary)
        return
    d = spec.describe()
    console.print(f"{emotion} at {hook}, α={alpha:g} ({d['unit']}; added norm {d['added_norm']:.3g}), positions {positions}")
    for it in items:
        console.print(table(it["prompt"], ["", "continuation", *cols],
                            [["unsteered", it["unsteered"], *it["scores_unsteered"].values()],
                             ["steered", it["steered"], *it["scores_steered"].values()]]))


def register(app: typer.Typer) -> None:
    app.command("sweep")(sweep)
    app.command("steer")(steer)
