"""``emotion-circuits sweep`` (layer × α steering sweep with controls) and ``steer`` (one steered continuation).

Both are adapters: :func:`steering.sweep_analysis.sweep_analysis` (the call the study's sweep phase makes) and
:func:`steering.steered_continuations.steered_continuations` do the work; the report is saved into the run folder.
"""

import math
from contextlib import nullcontext
from pathlib import Path
from typing import Annotated

import typer

from experiments.cli_common import (
    DEFAULT_LABEL,
    DeviceOpt,
    DtypeOpt,
    JsonOpt,
    ModelOpt,
    RunsRootOpt,
    SeedOpt,
    err_console,
    fail,
    load_model_cli,
    parse_float_list,
    parse_int_list,
    parse_str_list,
    progress_bar,
    show_report,
)
from interp.attributes import reference_label
from interp.datasets import load_dataset, load_prompts
from interp.hook_names import RESIDUAL_KINDS, block_hook, validate_layer
from interp.run_context import RunContext
from steering.generation import GenerationConfig
from steering.hooks import POSITION_MODES, SCALE_MODES, check_alpha
from steering.steered_continuations import steered_continuations
from steering.sweep import SweepConfig, check_emotions, default_sweep_layers, extract_emotion_vectors, vectors_from_file
from steering.sweep_analysis import DEFAULT_EXAMPLES, DEFAULT_SCORERS, check_scorer_names, sweep_analysis
from steering.vectors import load_vectors

_Opt = typer.Option
Scale = Annotated[str, _Opt("--scale", help=f"Unit of alpha: {', '.join(SCALE_MODES)} (raw = alpha x emotion vector).")]
HookKind = Annotated[str, _Opt("--hook-kind", help=f"Residual hook kind: {', '.join(RESIDUAL_KINDS)}.")]
Positions = Annotated[str, _Opt("--positions", help=f"Steered positions: {', '.join(POSITION_MODES)}.")]
Sample = Annotated[bool, _Opt("--sample/--greedy", help="Sample (temperature --temperature) or greedy.")]
Temperature = Annotated[float, _Opt("--temperature")]
Chat = Annotated[bool, _Opt("--chat/--no-chat", help="Wrap prompts in the model's chat template.")]
Profile = Annotated[str, _Opt("--profile", "-p", help="Dataset profile or file the emotion vectors come from.")]
Method = Annotated[str, _Opt("--method", help="Vector method: sentence_end or token.")]
Contrast = Annotated[str, _Opt("--contrast", help="Vector contrast: neutral or others.")]
VectorsFile = Annotated[Path, _Opt("--vectors", help="Use saved vectors (.safetensors) instead of extracting.")]
AllowHookMismatch = Annotated[bool, _Opt("--allow-hook-mismatch", help="Accept saved vectors computed at another hook of the same layer.")]
AllowOtherModel = Annotated[bool, _Opt("--allow-other-model", help="Accept saved vectors computed on another model of the same width "
                                                                   "(a deliberate transfer; warns).")]
Emotions = Annotated[str, _Opt("--emotion", "-e", help="Emotion(s) to steer toward, comma-separated.")]
Layers = Annotated[str, _Opt("--layers", help="Layers, e.g. '3,9,15,21,27' (default: 5 at 0.1, 0.3, …, 0.9 of the depth).")]
Alphas = Annotated[str, _Opt("--alphas", help="Coefficients in the unit of --scale (0 is always added).")]
NPrompts = Annotated[int, _Opt("--n-prompts", min=1, help="Use the first N prompts.")]
PromptsFile = Annotated[Path, _Opt("--prompts", help="Prompt file (JSONL with 'text', or one per line); default: shipped neutral prompts.")]
SweepTokens = Annotated[int, _Opt("--max-new-tokens", min=1, max=512)]
Seeds = Annotated[str, _Opt("--seeds", help="Generation seeds (one generation per prompt and seed), e.g. '0,1,2'.")]
Scorers = Annotated[str, _Opt("--scorers", help="Scorers (see interp.evaluators; fluency is required).")]
Target = Annotated[str, _Opt("--target", help="Target score per emotion, e.g. 'anger=vader_neg' (default: the attribute registry's "
                                              "targets, gratitude=vader_compound, anger=vader_neg, apology=kw_apology).")]
PplBound = Annotated[float, _Opt("--ppl-bound", help="Usable window: perplexity ratio to alpha=0 at most this.")]
NoRandom = Annotated[bool, _Opt("--no-random-control", help="Skip the random-direction control (then no cell is usable).")]
NRandom = Annotated[int, _Opt("--n-random", min=20, help="Norm-matched random directions per controlled cell (p floor 1/(n+1)).")]
RandomCells = Annotated[int, _Opt("--random-cells", min=1, help="Cells per emotion given the random control (top selection candidates).")]
RunDir = Annotated[Path, _Opt("--run-dir", help="Reuse this run folder (an interrupted sweep resumes).")]
Examples = Annotated[int, _Opt("--examples", min=0, help="Unsteered vs best-cell example pairs in examples.json, over all emotions.")]
Prompt = Annotated[list[str], typer.Argument(help="Prompt(s) to continue.")]
Emotion = Annotated[str, _Opt("--emotion", "-e", help="Emotion to steer toward.")]
Layer = Annotated[int, _Opt("--layer", "-l", help="Layer (default: mid-depth).")]
Alpha = Annotated[float, _Opt("--alpha", "-a", help="Coefficient in the unit of --scale.")]
SteerTokens = Annotated[int, _Opt("--max-new-tokens", min=1, max=512)]


def _check_inputs(scale: str, hook_kind: str, positions: str, vectors_file: Path | None) -> None:
    """Refuse an unknown choice, and a missing or corrupt vector file, before the model loads."""
    for value, choices, name in ((scale, SCALE_MODES, "--scale"), (hook_kind, RESIDUAL_KINDS, "--hook-kind"),
                                 (positions, POSITION_MODES, "--positions")):
        if value not in choices:
            fail(f"{name} {value!r} is unknown; choose one of {', '.join(choices)}")
    if vectors_file is not None:
        load_vectors(vectors_file)


def _known_emotions(profile: str, vectors_file: Path | None, emotions: list[str]) -> list[str]:
    """Emotions of ``profile`` (the vectors are extracted from it); with a vector file, the file decides later."""
    ds = load_dataset(profile) if vectors_file is None else None
    return emotions if ds is None else [e for e in ds.emotions if e != (reference_label(ds.records) or "neutral")]


def _vectors(m, ctx, emotions, layers, *, hook_kind, vectors_file, allow_hook_mismatch, allow_other_model, profile, method, contrast,
             quiet: bool) -> dict:
    with err_console.status("emotion vectors …") if not quiet else nullcontext():
        if vectors_file is not None:
            return vectors_from_file(vectors_file, m, emotions, layers, hook_kind=hook_kind, allow_hook_mismatch=allow_hook_mismatch,
                                     allow_other_model=allow_other_model)
        return extract_emotion_vectors(m, ctx.path / "activations", emotions, layers, hook_kind=hook_kind, profile=profile,
                                       method=method, contrast=contrast)


def _sweep_inputs(emotion: str, profile: str, vectors_file: Path | None, prompts_file: Path | None, n_prompts: int,
                  target: str | None, scorers: str, ppl_bound: float) -> tuple[list[str], list[str], dict[str, str], list[str]]:
    """Emotions, prompts, targets (emotion -> column) and scorer names from the options, checked before the model loads."""
    emotions = parse_str_list(emotion) or fail("--emotion is empty")
    check_emotions(emotions, _known_emotions(profile, vectors_file, emotions))
    if not math.isfinite(ppl_bound) or ppl_bound < 1:
        fail(f"--ppl-bound must be a finite ratio >= 1, got {ppl_bound}")
    names = parse_str_list(scorers) or []
    check_scorer_names(names)
    prompts = load_prompts(prompts_file)
    if len(prompts) < n_prompts:
        fail(f"--n-prompts {n_prompts} but only {len(prompts)} prompts are available")
    if n_prompts < 2:
        fail(f"--n-prompts {n_prompts} cannot be split into selection and evaluation prompts; use at least 2")
    targets = {}
    for item in parse_str_list(target) or []:
        e, _, col = item.partition("=")
        if not col or e not in emotions:
            fail(f"--target must look like 'EMOTION=COLUMN' for one of {', '.join(emotions)}, got {item!r}")
        targets[e] = col
    return emotions, prompts[:n_prompts], targets, names


def sweep(model: str = ModelOpt, emotion: Emotions = DEFAULT_LABEL, layers: Layers = None, alphas: Alphas = "-2,-1,-0.5,0,0.5,1,2",
          scale: Scale = "raw", hook_kind: HookKind = "resid_pre", positions: Positions = "all", n_prompts: NPrompts = 30,
          prompts_file: PromptsFile = None, max_new_tokens: SweepTokens = 20, seeds: Seeds = "0", sample: Sample = False,
          temperature: Temperature = 1.0, chat: Chat = False, profile: Profile = "baseline", method: Method = "sentence_end",
          contrast: Contrast = "neutral", vectors_file: VectorsFile = None, allow_hook_mismatch: AllowHookMismatch = False,
          allow_other_model: AllowOtherModel = False, scorers: Scorers = ",".join(DEFAULT_SCORERS), target: Target = None,
          ppl_bound: PplBound = 1.5, no_random: NoRandom = False, n_random: NRandom = 20, random_cells: RandomCells = 2,
          examples: Examples = DEFAULT_EXAMPLES, run_dir: RunDir = None, runs_root: Path = RunsRootOpt, seed: int = SeedOpt,
          device: str = DeviceOpt, dtype: str = DtypeOpt, json_out: bool = JsonOpt) -> None:
    """Steer generations over layers × alphas for each emotion, with alpha=0 and random-direction controls; score, aggregate with CIs, and find the usable window."""
    emotions, prompts, targets, names = _sweep_inputs(emotion, profile, vectors_file, prompts_file, n_prompts, target, scorers, ppl_bound)
    alpha_list, seed_list = parse_float_list(alphas, name="--alphas"), parse_int_list(seeds, name="--seeds") or [0]
    _check_inputs(scale, hook_kind, positions, vectors_file)
    m = load_model_cli(model, device, dtype, quiet=json_out)
    layer_list = [validate_layer(x, m.cfg.n_layers) for x in parse_int_list(layers, name="--layers") or default_sweep_layers(m.cfg.n_layers)]
    gen = GenerationConfig(max_new_tokens=max_new_tokens, do_sample=sample, temperature=temperature, chat=chat, seed=seed_list[0])
    cfg = SweepConfig(emotions=tuple(emotions), layers=tuple(layer_list), alphas=tuple(alpha_list), hook_kind=hook_kind, scale=scale,
                      positions=positions, seeds=tuple(seed_list), random_control=not no_random, random_seed=seed + 1234,
                      n_random=n_random, random_max_cells=random_cells, ppl_bound=ppl_bound, split_seed=seed, targets=targets, generation=gen)
    ctx = RunContext.create("sweep", {"model": model, "profile": profile, "method": method, "contrast": contrast, "n_prompts": n_prompts,
                                      "vectors": str(vectors_file) if vectors_file else None, "scorers": names,
                                      "prompts": str(prompts_file) if prompts_file else "shipped", **cfg.to_dict()},
                            root=runs_root, seed=seed, run_dir=run_dir)
    ctx.record_model(m)
    vecs = _vectors(m, ctx, emotions, layer_list, hook_kind=hook_kind, vectors_file=vectors_file, allow_hook_mismatch=allow_hook_mismatch,
                    allow_other_model=allow_other_model, profile=profile, method=method, contrast=contrast, quiet=json_out)
    with progress_bar("steering cells", 1, quiet=json_out) as update:
        report = sweep_analysis(m, prompts, vecs, cfg, scorers=names, n_examples=examples, cache_dir=ctx.path / "cells", progress=update)
    report.save(ctx.path)
    ctx.record_step("sweep", cells=report.result.extra["n_cells"], rows=len(report.result.rows))
    ctx.finish()
    show_report(report, ctx.path, json_out=json_out, generations=ctx.path / "results" / "generations.parquet",
                figures=ctx.path / "figures")


def steer(prompt: Prompt, model: str = ModelOpt, emotion: Emotion = DEFAULT_LABEL, layer: Layer = None, alpha: Alpha = 2.0,
          scale: Scale = "raw", hook_kind: HookKind = "resid_pre", positions: Positions = "all", max_new_tokens: SteerTokens = 30,
          sample: Sample = False, temperature: Temperature = 1.0, chat: Chat = False, profile: Profile = "baseline",
          method: Method = "sentence_end", contrast: Contrast = "neutral", vectors_file: VectorsFile = None,
          allow_hook_mismatch: AllowHookMismatch = False, allow_other_model: AllowOtherModel = False, runs_root: Path = RunsRootOpt,
          seed: int = SeedOpt, device: str = DeviceOpt, dtype: str = DtypeOpt, json_out: bool = JsonOpt) -> None:
    """Continue a prompt unsteered and steered toward an emotion; print both with their scores."""
    check_alpha(alpha)
    check_emotions([emotion], _known_emotions(profile, vectors_file, [emotion]))
    _check_inputs(scale, hook_kind, positions, vectors_file)
    m = load_model_cli(model, device, dtype, quiet=json_out)
    layer = validate_layer(m.cfg.n_layers // 2 if layer is None else layer, m.cfg.n_layers)
    hook = block_hook(hook_kind, layer)
    ctx = RunContext.create("steer", {"model": model, "emotion": emotion, "layer": layer, "alpha": alpha, "scale": scale, "hook": hook,
                                      "positions": positions, "prompts": prompt}, root=runs_root, seed=seed)
    ctx.record_model(m)
    vec = _vectors(m, ctx, [emotion], [layer], hook_kind=hook_kind, vectors_file=vectors_file, allow_hook_mismatch=allow_hook_mismatch,
                   allow_other_model=allow_other_model, profile=profile, method=method, contrast=contrast, quiet=json_out)[(emotion, layer)]
    gen = GenerationConfig(max_new_tokens=max_new_tokens, do_sample=sample, temperature=temperature, chat=chat, seed=seed)
    report = steered_continuations(m, prompt, vec, hook, alpha, scale=scale, positions=positions, config=gen)
    report.save(ctx.path)
    ctx.record_step("steer", spec=report.spec.describe())
    ctx.finish()
    show_report(report, ctx.path, json_out=json_out)


def register(app: typer.Typer) -> None:
    app.command("sweep")(sweep)
    app.command("steer")(steer)
