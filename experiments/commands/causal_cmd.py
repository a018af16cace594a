"""Causal circuit commands: ``ablate`` (top heads vs layer-matched random heads) and ``patch-heads``.

Thin adapters: the profile's sentences in, :func:`circuits.ablation_analysis.ablation_analysis` /
:func:`circuits.patching_analysis.head_patching_analysis` called, the report saved into the run folder (the same
files as study phases 6 and 7) and shown."""

from collections.abc import Callable
from pathlib import Path

import typer

from circuits.ablation_analysis import ablation_analysis
from circuits.causal_report import SCREENED, selection_records
from circuits.head_screening import ScreeningResult
from circuits.heads import head_name
from circuits.patching_analysis import head_patching_analysis
from experiments.cli_common import (
    DeviceOpt,
    DtypeOpt,
    EmotionOpt,
    GenerateOpt,
    HeadsOpt,
    JsonOpt,
    MaxNewTokensOpt,
    ModelOpt,
    ProfileOpt,
    RunsRootOpt,
    ScreeningOpt,
    SeedOpt,
    chosen_heads,
    fail,
    load_model_cli,
    parse_int_list,
    parse_str_list,
    progress_bar,
    show_report,
)
from interp.datasets import EmotionDataset, EmotionRecord, load_dataset
from interp.report_types import AnalysisReport
from interp.run_context import RunContext

KsOpt = typer.Option(None, "--ks", help="k values like '1,2,5,10': the top k heads ablated together vs k random heads "
                                        "(default: every --heads together, or the top screened head).")
AblateModeOpt = typer.Option("zero", "--mode", help="zero, mean or resample (mean/resample: hook_z of the profile's neutral "
                                                    "sentences, BOS excluded).")
MetricOpt = typer.Option("emotion_words", "--metric", help="emotion_words or contrast (whole words).")
AblateRandomOpt = typer.Option(100, "--n-random", min=1, help="Layer-matched random head sets per k (p floor 1/(n+1)).")
PatchRandomOpt = typer.Option(100, "--n-random", min=0, help="Layer-matched random-head control draws (0 = none).")
StopAfterOpt = typer.Option(10, "--stop-after", min=0, help="Besag–Clifford stopping: end a random control once this many draws "
                                                            "are as extreme as the top set (p = n/draws); 0 = always every draw.")
LimitOpt = typer.Option(None, "--limit", min=2, help="Use at most this many emotion sentences (ablate) / source-target pairs.")
GenerateRandomOpt = typer.Option(20, "--generate-random", min=0, help="Random head sets for the --generate control.")
ModesOpt = typer.Option("pattern_v,v_only,pattern_only,z", "--modes", help="Modes: pattern_v, v_only, pattern_only, z.")
PositionsOpt = typer.Option("all", "--positions", help="'all' (equal lengths) or 'end' (mode z only).")
_FIX = "lower --generate / --limit or use a larger --profile"


def _records(ds: EmotionDataset, emotion: str, scr: ScreeningResult | None = None) -> list[EmotionRecord]:
    """The profile's ``emotion`` sentences outside the screening's selection split (its recorded ``selection_ids``):
    heads chosen on some sentences are measured on the others, as in the study."""
    if emotion not in ds.emotions:
        fail(f"unknown emotion {emotion!r}; the dataset has: {', '.join(ds.emotions)}")
    selected = {r.id for r in selection_records(scr, ds.records)}
    return [r for r in ds.by_emotion(emotion) if r.id not in selected]


def _run(command: str, params: dict, model, analysis: Callable[..., AnalysisReport], *, runs_root: Path, seed: int,
         json_out: bool) -> None:
    """Open the run folder, run ``analysis(progress)`` under a progress bar, save its report there and show it."""
    ctx = RunContext.create(command, params, root=runs_root, seed=seed)
    ctx.record_model(model)
    with progress_bar(command, 1, quiet=json_out) as update:
        report = analysis(update)
    report.save(ctx.path)
    ctx.finish()
    show_report(report, ctx.path, json_out=json_out)


def ablate_cmd(model: str = ModelOpt, profile: str = ProfileOpt, emotion: str = EmotionOpt, heads: str = HeadsOpt,
               screening: Path = ScreeningOpt, ks: str = KsOpt, mode: str = AblateModeOpt, metric: str = MetricOpt,
               n_random: int = AblateRandomOpt, stop_after: int = StopAfterOpt, limit: int = LimitOpt, generate: int = GenerateOpt,
               max_new_tokens: int = MaxNewTokensOpt, generate_random: int = GenerateRandomOpt, runs_root: Path = RunsRootOpt,
               seed: int = SeedOpt, device: str = DeviceOpt, dtype: str = DtypeOpt, json_out: bool = JsonOpt) -> None:
    """Ablate heads on hook_z together vs layer-matched random head sets; Δ log P(next word is an emotion word).

    --generate N also continues N emotion sentences with the heads (all of the largest k) ablated and scores the text."""
    ds, k_list = load_dataset(profile), parse_int_list(ks, name="--ks")
    m = load_model_cli(model, device, dtype, quiet=json_out)
    scr = ScreeningResult.load(screening) if screening is not None else None
    hs = chosen_heads(m, heads, scr, [emotion], max(k_list) if k_list else 1)
    recs, neutral = _records(ds, emotion, scr), [r.text for r in ds.by_emotion("neutral")]
    _run("ablate", {"model": model, "emotion": emotion, "heads": [head_name(h) for h in hs], "ks": k_list, "mode": mode,
                    "metric": metric, "n_random": n_random, "limit": limit}, m, lambda progress: ablation_analysis(
        m, {emotion: hs}, {emotion: recs}, ks=k_list or [len(hs)], reference_texts=neutral,
        selected=selection_records(scr, ds.records), mode=mode, metric=metric, n_random=n_random, stop_after=stop_after,
        n_sentences=limit, generate_prompts=generate, generate_random=generate_random, max_new_tokens=max_new_tokens, seed=seed,
        heads_from="--heads" if heads else SCREENED, fix=_FIX, progress=progress), runs_root=runs_root, seed=seed, json_out=json_out)


def patch_heads_cmd(model: str = ModelOpt, profile: str = ProfileOpt, emotion: str = EmotionOpt, heads: str = HeadsOpt,
                    screening: Path = ScreeningOpt, modes: str = ModesOpt, positions: str = PositionsOpt, n_random: int = PatchRandomOpt,
                    stop_after: int = StopAfterOpt, metric: str = MetricOpt, generate_random: int = GenerateRandomOpt,
                    limit: int = LimitOpt, generate: int = GenerateOpt, max_new_tokens: int = MaxNewTokensOpt,
                    runs_root: Path = RunsRootOpt, seed: int = SeedOpt, device: str = DeviceOpt, dtype: str = DtypeOpt,
                    json_out: bool = JsonOpt) -> None:
    """Patch heads from emotion sentences (source) into length-matched neutral sentences (target), vs random heads.

    --generate N also continues N patched neutral targets (patch on the prompt pass) and scores the text."""
    ds, mode_list = load_dataset(profile), parse_str_list(modes) or []
    m = load_model_cli(model, device, dtype, quiet=json_out)
    scr = ScreeningResult.load(screening) if screening is not None else None
    hs, src, tgt = chosen_heads(m, heads, scr, [emotion], 1), _records(ds, emotion, scr), _records(ds, "neutral", scr)
    _run("patch-heads", {"model": model, "emotion": emotion, "heads": [head_name(h) for h in hs], "modes": mode_list,
                         "positions": positions, "limit": limit}, m, lambda progress: head_patching_analysis(
        m, {emotion: hs}, {emotion: src}, tgt, selected=selection_records(scr, ds.records),
        modes=mode_list, positions=positions, n_pairs=limit, n_random=n_random, stop_after=stop_after, metric=metric,
        generate_prompts=generate, generate_random=generate_random, max_new_tokens=max_new_tokens, seed=seed,
        heads_from="--heads" if heads else SCREENED, fix=_FIX, progress=progress), runs_root=runs_root, seed=seed, json_out=json_out)


def register(app: typer.Typer) -> None:
    app.command("ablate")(ablate_cmd)
    app.command("patch-heads")(patch_heads_cmd)
