"""``train-module``, ``chat``, ``eval-module`` and ``adapt-module``: emotion modules behind a frozen LLM."""

import sys
from pathlib import Path

import typer

from experiments.cli_common import (
    DeviceOpt,
    DtypeOpt,
    JsonOpt,
    RunsRootOpt,
    SeedOpt,
    console,
    emit_json,
    load_model_cli,
    parse_int_list,
    progress_bar,
    table,
)
from frozen_llm_modules.chat import ChatSession
from frozen_llm_modules.module_eval import evaluate_modules, resolve_pool
from frozen_llm_modules.online import check_marker, run_adaptation_study
from frozen_llm_modules.persistence import load_modules, read_config
from frozen_llm_modules.state import EmotionalState, ModuleError
from frozen_llm_modules.training import TrainSettings, load_style_corpus, train_module_run
from interp.io import atomic_write_json
from interp.registry import DEFAULT_MODEL
from interp.report_types import AnalysisReport
from interp.run_context import RunContext, set_seed

KindOpt = typer.Option(..., "--kind", "-k", help="prefix, adapter, steering or reward.")
BaseModelOpt = typer.Option(DEFAULT_MODEL, "--model", "-m", help="Base model (kept frozen).")
StepsOpt = typer.Option(None, "--steps", min=1, help="Optimiser steps (default per kind: steering 200, adapter 60, prefix 160, reward 500).")
KlWeightOpt = typer.Option(None, "--kl-weight", min=0.0, help="Weight of KL(base ‖ modules) on neutral anchor sentences (default per "
                           "kind; 0 = off).")
BatchSizeOpt = typer.Option(4, "--batch-size", min=1, help="Examples per step.")
LrOpt = typer.Option(None, "--lr", help="Learning rate (default per kind).")
LayerOpt = typer.Option(None, "--layer", help="steering: layer whose resid_pre is steered (default n_layers//3).")
LayersOpt = typer.Option(None, "--layers", help="adapter: layers, e.g. '10-29' (default n_layers//3 … last).")
RankOpt = typer.Option(32, "--rank", min=1, help="adapter: bottleneck width.")
NVirtualOpt = typer.Option(8, "--n-virtual", min=1, help="prefix: virtual tokens.")
InitVectorsOpt = typer.Option(None, "--init-vectors", help="steering: EmotionVector file to start from (joy←gratitude, "
                              "frustration←anger, fear←apology).")
CorpusOpt = typer.Option(None, "--corpus", help="Style corpus JSONL (default: the shipped one).")
ModuleOutOpt = typer.Option(None, "--out", "-o", help="Module folder (default <run dir>/module).")
AllowOtherOpt = typer.Option(False, "--allow-other-model", help="Load modules trained on another base model (or on weights "
                             "that have since changed) on purpose; by default that is refused.")
ModulesOpt = typer.Option(None, "--modules", help="Module folder(s); repeat to combine.")
ModulesModelOpt = typer.Option(None, "--model", "-m", help="Base model (default: the one the modules were trained on).")
StateOpt = typer.Option(None, "--state", help="Fixed state, e.g. 'fear=0.8' (default: the encoder sets it each turn).")
MemoryOpt = typer.Option(None, "--memory", help="SQLite emotional memory file (created if missing).")
ChatBestOfOpt = typer.Option(1, "--best-of", min=1, help="Sample N candidates and rerank with the reward module.")
SafetyBiasOpt = typer.Option(True, "--safety-bias/--no-safety-bias", help="Bias toward hedge tokens when fear > 0.3.")
NPromptsOpt = typer.Option(30, "--n-prompts", min=3, help="Held-out corpus prompts (3 paraphrases per topic).")
NTextsOpt = typer.Option(40, "--n-texts", min=2, max=40, help="Held-out neutral sentences for perplexity (the baseline profile's "
                         "last 40, never used in training).")
EvalBestOfOpt = typer.Option(4, "--best-of", min=2, help="reward with --pool sampled: candidates per prompt the reward model reranks.")
PoolOpt = typer.Option(None, "--pool", help="reward: candidates to rerank: 'modules' (the style module's answer at each state + the "
                       "base's; default when one is given), 'hinted' (base answers to hidden style instructions; default otherwise) "
                       "or 'sampled' (N base samples at T=0.9).")
MarkerOpt = typer.Option("hedges", "--marker", help="What the scripted user wants: hedges, questions, alternatives, warmth or vader.")
NRunsOpt = typer.Option(3, "--n-runs", min=1, help="Runs (seeds) per condition.")
MaxEpisodesOpt = typer.Option(10, "--max-episodes", min=1)
StreakOpt = typer.Option(2, "--streak", min=1, help="Consecutive +1 ratings that count as recovered.")
NCandidatesOpt = typer.Option(4, "--n-candidates", min=2, help="Best-of-N candidates in the with-reward runs.")
UseMemoryOpt = typer.Option(True, "--memory/--no-memory", help="Store episodes in a fresh SQLite emotional memory per run "
                            "(curiosity = novelty against it).")


def _max_new_tokens(default: int):
    return typer.Option(default, "--max-new-tokens", min=1)


def _load_modules(model_name: str | None, module_dirs: list[Path] | None, device: str | None, dtype: str, quiet: bool,
                  allow_other_model: bool = False):
    """The base model (default: the first folder's) and every module of ``module_dirs`` loaded for it."""
    if not module_dirs:
        raise ModuleError("give at least one --modules DIR (made by 'emotion-circuits train-module')")
    m = load_model_cli(model_name or read_config(module_dirs[0])["base_model"], device, dtype, quiet=quiet)
    mods = {}
    for d in module_dirs:
        mods.update(load_modules(d, m, allow_other_model=allow_other_model))
    return m, mods


def _print_report(report: AnalysisReport) -> None:
    """The report's tables, then its text."""
    for t in report.tables():
        console.print(table(t.title, t.columns, t.rows))
    if report.text():
        console.print(report.text())


def train_module(kind: str = KindOpt, model: str = BaseModelOpt, steps: int = StepsOpt, kl_weight: float = KlWeightOpt,
                 batch_size: int = BatchSizeOpt, lr: float = LrOpt, layer: int = LayerOpt, layers: str = LayersOpt, rank: int = RankOpt,
                 n_virtual: int = NVirtualOpt, init_vectors: Path = InitVectorsOpt, corpus: Path = CorpusOpt, out: Path = ModuleOutOpt,
                 runs_root: Path = RunsRootOpt, seed: int = SeedOpt, device: str = DeviceOpt, dtype: str = DtypeOpt,
                 json_out: bool = JsonOpt) -> None:
    """Train one module on the style corpus with the base frozen; save safetensors + JSON config."""
    settings = TrainSettings(kind, steps, batch_size, lr, kl_weight, layer, parse_int_list(layers, name="--layers"), rank, n_virtual,
                             str(init_vectors) if init_vectors else None)
    rows = load_style_corpus(corpus)
    m = load_model_cli(model, device, dtype, quiet=json_out)
    set_seed(seed)
    ctx = RunContext.create("train-module", {"model": model, **settings.to_dict()}, root=runs_root, seed=seed)
    ctx.record_model(m)
    with progress_bar(f"training {kind}", settings.steps, quiet=json_out) as update:
        trained = train_module_run(m, settings, rows, seed=seed, progress=update)
    out_dir = out if out is not None else ctx.path / "module"
    trained.save(out_dir, m)
    report = {**trained.report, "weights_unchanged": trained.report["base_hash_before"] == trained.report["base_hash_after"],
              "module_dir": str(out_dir), "run_dir": str(ctx.path)}
    ctx.record_step("train", **{k: v for k, v in report.items() if k != "losses"})
    report["wall_seconds"] = ctx.finish()
    if json_out:
        return emit_json(report)
    console.print(table(f"train-module {kind}", ["key", "value"], [[k, v] for k, v in report.items() if k != "losses"]))


def chat(modules: list[Path] = ModulesOpt, model: str = ModulesModelOpt, state: str = StateOpt, max_new_tokens: int = _max_new_tokens(32),
         memory: Path = MemoryOpt, best_of: int = ChatBestOfOpt, safety_bias: bool = SafetyBiasOpt, allow_other_model: bool = AllowOtherOpt,
         runs_root: Path = RunsRootOpt, seed: int = SeedOpt, device: str = DeviceOpt, dtype: str = DtypeOpt) -> None:
    """Chat on stdin: each line is a message; '+1' / '-1' rates the last answer; 'quit' or EOF ends. Shows the state each turn.

    Writes a run folder (config, manifest with the model and modules, ``transcript.json`` with every turn's state and answer)."""
    fixed = EmotionalState.parse(state) if state else None
    m, mods = _load_modules(model, modules, device, dtype, quiet=True, allow_other_model=allow_other_model)
    with ChatSession(m, mods, state=fixed, memory=memory, best_of=best_of, max_new_tokens=max_new_tokens, safety_bias=safety_bias,
                     seed=seed) as session:
        ctx = RunContext.create("chat", {"modules": [str(d) for d in modules], "model": m.ec_info.name, "state": state,
                                         "max_new_tokens": max_new_tokens, "memory": str(memory) if memory else None,
                                         "best_of": best_of, "safety_bias": safety_bias}, root=runs_root, seed=seed)
        ctx.record_model(m)
        typer.echo(f"modules: {', '.join(session.module_names) or 'none'}; type a message, +1/-1 to rate, quit to end")
        for raw in sys.stdin:
            if not session.handle(raw, typer.echo):
                break
            atomic_write_json(ctx.path / "transcript.json", session.transcript)
    atomic_write_json(ctx.path / "transcript.json", session.transcript)
    ctx.finish()


def eval_module(modules: list[Path] = ModulesOpt, model: str = ModulesModelOpt, n_prompts: int = NPromptsOpt, n_texts: int = NTextsOpt,
                max_new_tokens: int = _max_new_tokens(20), best_of: int = EvalBestOfOpt, pool: str = PoolOpt,
                allow_other_model: bool = AllowOtherOpt, runs_root: Path = RunsRootOpt, seed: int = SeedOpt, device: str = DeviceOpt,
                dtype: str = DtypeOpt, json_out: bool = JsonOpt) -> None:
    """Style markers per state vs the base (paired bootstrap CIs), neutral perplexity ratios, coherence, parameter fractions;
    a reward module is scored by its best-of-N picks under each state. Writes results.json and the generated answers."""
    m, mods = _load_modules(model, modules, device, dtype, quiet=json_out, allow_other_model=allow_other_model)
    pool = resolve_pool(pool, mods)
    ctx = RunContext.create("eval-module", {"modules": [str(d) for d in modules], "n_prompts": n_prompts, "n_texts": n_texts,
                                            "max_new_tokens": max_new_tokens, "best_of": best_of, "pool": pool}, root=runs_root, seed=seed)
    with progress_bar("evaluating", 4, quiet=json_out) as update:
        report = evaluate_modules(m, mods, n_prompts=n_prompts, n_texts=n_texts, max_new_tokens=max_new_tokens, best_of=best_of,
                                  pool=pool, seed=seed, progress=update)
    report.save(ctx.path)
    if json_out:
        return emit_json({**report.results(), "run_dir": str(ctx.path), "wall_seconds": ctx.finish()})
    ctx.finish()
    _print_report(report)


def adapt_module(modules: list[Path] = ModulesOpt, model: str = ModulesModelOpt, marker: str = MarkerOpt, n_runs: int = NRunsOpt,
                 max_episodes: int = MaxEpisodesOpt, streak: int = StreakOpt, n_candidates: int = NCandidatesOpt,
                 max_new_tokens: int = _max_new_tokens(16), use_memory: bool = UseMemoryOpt, allow_other_model: bool = AllowOtherOpt,
                 runs_root: Path = RunsRootOpt, seed: int = SeedOpt, device: str = DeviceOpt, dtype: str = DtypeOpt,
                 json_out: bool = JsonOpt) -> None:
    """Online adaptation (phase 3): a scripted user rates −1 until answers show MARKER; episodes-to-recover with and without the reward model."""
    check_marker(marker)
    m, mods = _load_modules(model, modules, device, dtype, quiet=json_out, allow_other_model=allow_other_model)
    ctx = RunContext.create("adapt-module", {"modules": [str(d) for d in modules], "marker": marker, "n_runs": n_runs,
                                             "max_episodes": max_episodes, "streak": streak, "n_candidates": n_candidates,
                                             "max_new_tokens": max_new_tokens, "memory": use_memory}, root=runs_root, seed=seed)

    def on_run(name, i, run) -> None:
        if not json_out:
            console.print(f"{name} run {i}: episodes-to-recover {run.episodes_to_recover} feedback {run.feedback}")

    report = run_adaptation_study(m, mods, marker=marker, n_runs=n_runs, max_episodes=max_episodes, streak=streak, n_candidates=n_candidates,
                                  max_new_tokens=max_new_tokens, memory_dir=ctx.path if use_memory else None, seed=seed, on_run=on_run)
    report.save(ctx.path)
    if json_out:
        return emit_json({**report.overview(), "run_dir": str(ctx.path), "wall_seconds": ctx.finish()})
    ctx.finish()
    _print_report(report)


def register(app: typer.Typer) -> None:
    app.command("train-module")(train_module)
    app.command("chat")(chat)
    app.command("eval-module")(eval_module)
    app.command("adapt-module")(adapt_module)
