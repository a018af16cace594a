"""``train-module``, ``chat`` and ``eval-module``: emotion modules behind a frozen LLM."""

import sys
import time
from pathlib import Path

import typer

from experiments.cli_common import DeviceOpt, DtypeOpt, JsonOpt, RunsRootOpt, SeedOpt, console, emit_json, load_model_cli, parse_int_list, progress_bar, table
from frozen_llm_modules.state import EmotionalState, ModuleError
from interp.registry import DEFAULT_MODEL

KINDS = ("prefix", "adapter", "steering", "reward")


def _check_kind(kind: str) -> str:
    if kind not in KINDS:
        raise ModuleError(f"--kind must be one of {', '.join(KINDS)}, got {kind!r}")
    return kind


def train_module(
    kind: str = typer.Option(..., "--kind", "-k", help="prefix, adapter, steering or reward."),
    model: str = typer.Option(DEFAULT_MODEL, "--model", "-m", help="Base model (kept frozen)."),
    steps: int = typer.Option(None, "--steps", min=1, help="Optimiser steps (default per kind: steering 200, adapter 60, prefix 160, reward 500)."),
    kl_weight: float = typer.Option(None, "--kl-weight", min=0.0, help="Weight of KL(base ‖ modules) on neutral anchor sentences (default per kind; 0 = off)."),
    batch_size: int = typer.Option(4, "--batch-size", min=1, help="Examples per step."),
    lr: float = typer.Option(None, "--lr", help="Learning rate (default per kind)."),
    layer: int = typer.Option(None, "--layer", help="steering: layer whose resid_pre is steered (default n_layers//3)."),
    layers: str = typer.Option(None, "--layers", help="adapter: layers, e.g. '10-29' (default n_layers//3 … last)."),
    rank: int = typer.Option(32, "--rank", min=1, help="adapter: bottleneck width."),
    n_virtual: int = typer.Option(8, "--n-virtual", min=1, help="prefix: virtual tokens."),
    init_vectors: Path = typer.Option(None, "--init-vectors", help="steering: EmotionVector file to start from (joy←gratitude, frustration←anger, fear←apology)."),
    corpus: Path = typer.Option(None, "--corpus", help="Style corpus JSONL (default: the shipped one)."),
    out: Path = typer.Option(None, "--out", "-o", help="Module folder (default <run dir>/module)."),
    runs_root: Path = RunsRootOpt,
    seed: int = SeedOpt,
    device: str = DeviceOpt,
    dtype: str = DtypeOpt,
    json_out: bool = JsonOpt,
) -> None:
    """Train one module on the style corpus with the base frozen; save safetensors + JSON config."""
    import torch

    from frozen_llm_modules.adapter import GatedEmotionAdapter
    from frozen_llm_modules.attach import EmotionalLLM, base_parameters, trainable_parameters
    from frozen_llm_modules.persistence import save_modules
    from frozen_llm_modules.prefix import EmotionalPrefix
    from frozen_llm_modules.reward import EmotionalRewardModel, corpus_features, heldout_metrics
    from frozen_llm_modules.steering_module import EmotionSteeringModule
    from frozen_llm_modules.training import (DEFAULT_KL, DEFAULT_STEPS, check_unchanged, load_paraphrases, load_style_corpus,
                                             split_corpus, train_behaviour)
    from interp.models import weights_hash
    from interp.run_context import RunContext, set_seed

    _check_kind(kind)
    steps = steps if steps is not None else DEFAULT_STEPS[kind]
    kl_weight = kl_weight if kl_weight is not None else DEFAULT_KL.get(kind, 0.0)
    rows = load_style_corpus(corpus)
    train_rows, held_rows = split_corpus(rows)
    m = load_model_cli(model, device, dtype, quiet=json_out)
    set_seed(seed)
    ctx = RunContext.create("train-module", {"kind": kind, "model": model, "steps": steps, "batch_size": batch_size, "lr": lr,
                                             "kl_weight": kl_weight,
                                             "layer": layer, "layers": layers, "rank": rank, "n_virtual": n_virtual,
                                             "init_vectors": str(init_vectors) if init_vectors else None}, root=runs_root, seed=seed)
    ctx.record_model(m)
    out_dir = out if out is not None else ctx.path / "module"
    if kind == "reward":
        h0 = weights_hash(m)
        rm = EmotionalRewardModel.for_model(m)
        llm = EmotionalLLM(m)
        t0 = time.perf_counter()
        train_x, held_x = corpus_features(llm, train_rows), corpus_features(llm, held_rows)
        torch.manual_seed(seed)
        losses = rm.fit(*train_x, steps=steps, balance=True)
        metrics = heldout_metrics(rm, *held_x, seed=seed)
        para_x = corpus_features(llm, load_paraphrases())
        para_metrics = heldout_metrics(rm, *para_x, seed=seed)
        # control: the same model and steps trained on training labels shuffled across rows
        ctrl = EmotionalRewardModel.for_model(m)
        perm = torch.randperm(len(train_x[2]), generator=torch.Generator().manual_seed(seed))
        ctrl.fit(train_x[0], train_x[1], train_x[2][perm], steps=steps, balance=True)
        secs = time.perf_counter() - t0
        h1 = weights_hash(m)
        check_unchanged(h0, h1, m)
        n_train, n_base = trainable_parameters(rm), base_parameters(m)
        report = {"kind": kind, "steps": steps, "seconds": round(secs, 1), "trainable_params": n_train, "base_params": n_base,
                  "fraction": n_train / n_base, "loss_first": losses[0], "loss_last": losses[-1], "heldout": metrics,
                  "shuffled_label_control": heldout_metrics(ctrl, *held_x, seed=seed),
                  "paraphrases": para_metrics, "paraphrases_shuffled_label_control": heldout_metrics(ctrl, *para_x, seed=seed),
                  "heldout_note": f"{len(held_rows)} held-out corpus responses (held-out templates on held-out topics, neither seen "
                                  "in training) x 4 states, and the free-written paraphrase set x 4 states; label 1 when the "
                                  "state matches the response's style",
                  "base_hash_before": h0, "base_hash_after": h1}
        save_modules(out_dir, {"reward": rm}, m, extra={"train": report}, base_weights_hash=h0)
    else:
        if kind == "steering":
            mod = EmotionSteeringModule.for_model(m, layer=layer)
            if init_vectors is not None:
                from steering.vectors import load_vectors

                mod.init_from_vectors(load_vectors(init_vectors), model=m)
        elif kind == "adapter":
            mod = GatedEmotionAdapter.for_model(m, layers=parse_int_list(layers, name="--layers"), rank=rank)
        else:
            mod = EmotionalPrefix.for_model(m, n_virtual=n_virtual)
        llm = EmotionalLLM(m, **{kind: mod})
        with progress_bar(f"training {kind}", steps, quiet=json_out) as update:
            rep = train_behaviour(llm, kind, train_rows, steps=steps, batch_size=batch_size, lr=lr, kl_weight=kl_weight, seed=seed,
                                  progress=update)
        report = rep.to_dict()
        save_modules(out_dir, {kind: mod}, m, extra={"train": {k: v for k, v in report.items() if k != "losses"}},
                     base_weights_hash=rep.base_hash_before)
    report["weights_unchanged"] = report["base_hash_before"] == report["base_hash_after"]
    report["module_dir"] = str(out_dir)
    report["run_dir"] = str(ctx.path)
    ctx.record_step("train", **{k: v for k, v in report.items() if k != "losses"})
    report["wall_seconds"] = ctx.finish()
    if json_out:
        emit_json(report)
        return
    console.print(table(f"train-module {kind}", ["key", "value"], [[k, v] for k, v in report.items() if k != "losses"]))


AllowOtherOpt = typer.Option(False, "--allow-other-model", help="Load modules trained on another base model (or on weights "
                             "that have since changed) on purpose; by default that is refused.")


def _load_modules(model_name: str | None, module_dirs: list[Path], device: str | None, dtype: str, quiet: bool,
                  allow_other_model: bool = False):
    from frozen_llm_modules.persistence import load_modules, read_config

    if not module_dirs:
        raise ModuleError("give at least one --modules DIR (made by 'emotion-circuits train-module')")
    base = model_name or read_config(module_dirs[0])["base_model"]
    m = load_model_cli(base, device, dtype, quiet=quiet)
    mods = {}
    for d in module_dirs:
        mods.update(load_modules(d, m, allow_other_model=allow_other_model))
    return m, mods


def chat(
    modules: list[Path] = typer.Option(None, "--modules", help="Module folder(s); repeat to combine."),
    model: str = typer.Option(None, "--model", "-m", help="Base model (default: the one the modules were trained on)."),
    state: str = typer.Option(None, "--state", help="Fixed state, e.g. 'fear=0.8' (default: the encoder sets it each turn)."),
    max_new_tokens: int = typer.Option(32, "--max-new-tokens", min=1),
    memory: Path = typer.Option(None, "--memory", help="SQLite emotional memory file (created if missing)."),
    best_of: int = typer.Option(1, "--best-of", min=1, help="Sample N candidates and rerank with the reward module."),
    safety_bias: bool = typer.Option(True, "--safety-bias/--no-safety-bias", help="Bias toward hedge tokens when fear > 0.3."),
    allow_other_model: bool = AllowOtherOpt,
    runs_root: Path = RunsRootOpt,
    seed: int = SeedOpt,
    device: str = DeviceOpt,
    dtype: str = DtypeOpt,
) -> None:
    """Chat on stdin: each line is a message; '+1' / '-1' rates the last answer; 'quit' or EOF ends. Shows the state each turn.

    Writes a run folder (config, manifest with the model and modules, ``transcript.json`` with every turn's state and answer)."""
    from frozen_llm_modules.attach import EmotionalLLM
    from frozen_llm_modules.encoder import Conversation, EmotionEncoder
    from frozen_llm_modules.memory import EmotionalMemory
    from frozen_llm_modules.reward import best_of_n
    from interp.io import atomic_write_json
    from interp.run_context import RunContext

    fixed = EmotionalState.parse(state) if state else None
    m, mods = _load_modules(model, list(modules or []), device, dtype, quiet=True, allow_other_model=allow_other_model)
    rm = mods.pop("reward", None)
    enc = mods.pop("encoder", None) or EmotionEncoder()
    if best_of > 1 and rm is None:
        raise ModuleError("--best-of > 1 needs a reward module; add --modules DIR of a 'train-module --kind reward' run")
    llm = EmotionalLLM(m, reward=rm, **mods)
    mem = EmotionalMemory(memory, model_name=m.ec_info.name) if memory else None
    ctx = RunContext.create("chat", {"modules": [str(d) for d in modules or []], "model": m.ec_info.name, "state": state,
                                     "max_new_tokens": max_new_tokens, "memory": str(memory) if memory else None,
                                     "best_of": best_of, "safety_bias": safety_bias}, root=runs_root, seed=seed)
    ctx.record_model(m)
    transcript: list[dict] = []
    conv = Conversation()
    last = None
    typer.echo(f"modules: {', '.join(sorted(mods) + (['reward'] if rm else [])) or 'none'}; type a message, +1/-1 to rate, quit to end")
    for raw in sys.stdin:
        line = raw.strip()
        if not line:
            continue
        if line in {"quit", "exit"}:
            break
        if line in {"+1", "-1"}:
            if last is None:
                typer.echo("feedback: nothing to rate yet")
                continue
            fb = int(line)
            conv.record(last["emb"], feedback=fb)
            if mem is not None:
                mem.add(last["text"], last["emb"], last["state"], float(fb))
            if rm is not None:
                import torch

                from frozen_llm_modules.reward import response_features

                f = response_features(llm, [last["text"]], [last["answer"]])
                rm.update(f, last["state"].to_tensor()[None], torch.tensor([1.0 if fb > 0 else 0.0]), steps=5)
            typer.echo(f"feedback {line} recorded")
            transcript.append({"feedback": fb})
            last = None
            continue
        sig = enc.signals(m, line, conv, mem)
        st = fixed or enc.encode(sig)
        llm.set_state(st)
        typer.echo(f"state: {st}")
        if rm is not None and best_of > 1:
            answer, _, scores = best_of_n(llm, rm, line, n=best_of, max_new_tokens=max_new_tokens, seed=seed)
        else:
            answer = llm.generate([line], max_new_tokens=max_new_tokens, safety_bias=safety_bias)[0]
        typer.echo(f"assistant: {answer}")
        last = {"text": line, "emb": sig["_embedding"], "state": st, "answer": answer}
        transcript.append({"user": line, "state": st.to_dict(), "assistant": answer})
        atomic_write_json(ctx.path / "transcript.json", transcript)
    if mem is not None:
        mem.close()
    atomic_write_json(ctx.path / "transcript.json", transcript)
    ctx.finish()


def eval_module(
    modules: list[Path] = typer.Option(None, "--modules", help="Module folder(s) to evaluate."),
    model: str = typer.Option(None, "--model", "-m", help="Base model (default: the modules' own)."),
    n_prompts: int = typer.Option(30, "--n-prompts", min=3, help="Held-out corpus prompts (3 paraphrases per topic)."),
    n_texts: int = typer.Option(40, "--n-texts", min=2, max=40, help="Held-out neutral sentences for perplexity (the baseline profile's last 40, never used in training)."),
    max_new_tokens: int = typer.Option(20, "--max-new-tokens", min=1),
    best_of: int = typer.Option(4, "--best-of", min=2, help="reward with --pool sampled: candidates per prompt the reward model reranks."),
    pool: str = typer.Option(None, "--pool", help="reward: candidates to rerank: 'modules' (the style module's answer at each state + the base's; default when one is given), 'hinted' (base answers to hidden style instructions; default otherwise) or 'sampled' (N base samples at T=0.9)."),
    allow_other_model: bool = AllowOtherOpt,
    runs_root: Path = RunsRootOpt,
    seed: int = SeedOpt,
    device: str = DeviceOpt,
    dtype: str = DtypeOpt,
    json_out: bool = JsonOpt,
) -> None:
    """Style markers per state vs the base (paired bootstrap CIs), neutral perplexity ratios, coherence, parameter fractions;
    a reward module is scored by its best-of-N picks under each state."""
    from frozen_llm_modules.attach import EmotionalLLM, base_parameters, trainable_parameters
    from frozen_llm_modules.evaluation import (SEED_FRACTIONS, all_marker_table, generate_conditions, neutral_perplexity,
                                               rerank_results, style_results)
    from frozen_llm_modules.style_corpus import load_style_corpus, split_corpus, template_copy_rate
    from frozen_llm_modules.training import heldout_prompts, neutral_texts
    from interp.run_context import RunContext

    m, mods = _load_modules(model, list(modules or []), device, dtype, quiet=json_out, allow_other_model=allow_other_model)
    rm = mods.pop("reward", None)
    mods.pop("encoder", None)
    if not mods and rm is None:
        raise ModuleError("eval-module needs a prefix, adapter, steering or reward module")
    pool = pool or ("modules" if mods else "hinted")
    llm = EmotionalLLM(m, **mods)
    ctx = RunContext.create("eval-module", {"modules": [str(d) for d in modules], "n_prompts": n_prompts, "n_texts": n_texts,
                                            "max_new_tokens": max_new_tokens, "best_of": best_of, "pool": pool}, root=runs_root, seed=seed)
    prompts = heldout_prompts()[:n_prompts]
    from interp.io import atomic_write_json

    n_base = base_parameters(m)
    all_mods = {**mods, **({"reward": rm} if rm is not None else {})}
    params = {k: {"trainable": trainable_parameters(v), "fraction": trainable_parameters(v) / n_base, "seed_table": SEED_FRACTIONS[k]}
              for k, v in all_mods.items()}
    summary = {"modules": sorted(all_mods), "n_prompts": len(prompts), "params": params, "run_dir": str(ctx.path)}
    styles, ppl = [], None
    if mods:
        with progress_bar("generating", 4, quiet=json_out) as update:
            resp = generate_conditions(llm, prompts, max_new_tokens=max_new_tokens, progress=update)
        styles = style_results(resp, seed=seed)
        atomic_write_json(ctx.path / "responses.json", resp)
        texts = neutral_texts(split="heldout")[:n_texts]
        ppl = neutral_perplexity(llm, texts, seed=seed)
        summary.update(styles=[s.to_dict() for s in styles], markers=all_marker_table(resp), perplexity=ppl.to_dict(),
                       styles_legacy_lexicons=[s.to_dict() for s in style_results(resp, seed=seed, legacy=True)],
                       prompts_note="held-out topics' prompts (no training row uses these topics); markers from general lexicons",
                       template_copy_rate={c: template_copy_rate(v, split_corpus(load_style_corpus())[0]) for c, v in resp.items()},
                       examples={k: v[:2] for k, v in resp.items()})
    rerank = []
    if rm is not None:
        rerank, picks = rerank_results(llm, rm, prompts, pool=pool, n=best_of, max_new_tokens=max_new_tokens, seed=seed)
        atomic_write_json(ctx.path / "rerank_responses.json", picks)
        summary.update(rerank=[s.to_dict() for s in rerank], rerank_pool=pool, rerank_candidates=len(picks["candidates"]) // len(prompts),
                       rerank_examples={k: v[:2] for k, v in picks.items() if k != "candidates"})
    atomic_write_json(ctx.path / "eval.json", summary)
    summary["wall_seconds"] = ctx.finish()
    if json_out:
        emit_json(summary)
        return
    if rerank:
        console.print(table(f"reward model: best-of-{summary['rerank_candidates']} ({pool}) pick under state=1 vs mean candidate (per 10 words)",
                            ["emotion", "marker", "candidates", "pick", "diff", "95% CI (prompts)", "95% CI (topics)", "p"],
                            [[s.emotion, s.marker, s.base_mean, s.module_mean, s.diff, f"[{s.lo:.3g}, {s.hi:.3g}]",
                              f"[{s.topic_lo:.3g}, {s.topic_hi:.3g}]", s.p_value] for s in rerank]))
    if not mods:
        console.print(table("parameters", ["module", "trainable", "fraction", "seed table"],
                            [[k, v["trainable"], f"{100 * v['fraction']:.4f}%", v["seed_table"]] for k, v in params.items()]))
        return
    console.print(table("target style markers (module at state=1 vs base, per 10 words)",
                        ["emotion", "marker", "base", "module", "diff", "95% CI (prompts)", "95% CI (topics)", "p", "coherence"],
                        [[s.emotion, s.marker, s.base_mean, s.module_mean, s.diff, f"[{s.lo:.3g}, {s.hi:.3g}]",
                          f"[{s.topic_lo:.3g}, {s.topic_hi:.3g}]", s.p_value, s.coherence] for s in styles]))
    console.print(table("neutral-text perplexity (modules / base)", ["state", "ppl", "ratio", "95% CI"],
                        [["neutral", ppl.ppl_modules, ppl.ratio, f"[{ppl.ratio_lo:.4f}, {ppl.ratio_hi:.4f}]"]]
                        + [[f"{e}=1", v["ppl"], v["ratio"], f"[{v['ratio_lo']:.4f}, {v['ratio_hi']:.4f}]"] for e, v in ppl.by_state.items()]))
    console.print(f"base perplexity {ppl.ppl_base:.3f} on {ppl.n_texts} neutral sentences; within 5 %: {ppl.within()}")
    console.print(table("parameters", ["module", "trainable", "fraction", "seed table"],
                        [[k, v["trainable"], f"{100 * v['fraction']:.4f}%", v["seed_table"]] for k, v in params.items()]))


def adapt_module(
    modules: list[Path] = typer.Option(None, "--modules", help="Module folder(s): a prefix/adapter/steering module, and a reward module for the with-reward runs."),
    model: str = typer.Option(None, "--model", "-m", help="Base model (default: the modules' own)."),
    marker: str = typer.Option("hedges", "--marker", help="What the scripted user wants: hedges, questions, alternatives, warmth or vader."),
    n_runs: int = typer.Option(3, "--n-runs", min=1, help="Runs (seeds) per condition."),
    max_episodes: int = typer.Option(10, "--max-episodes", min=1),
    streak: int = typer.Option(2, "--streak", min=1, help="Consecutive +1 ratings that count as recovered."),
    n_candidates: int = typer.Option(4, "--n-candidates", min=2, help="Best-of-N candidates in the with-reward runs."),
    max_new_tokens: int = typer.Option(16, "--max-new-tokens", min=1),
    use_memory: bool = typer.Option(True, "--memory/--no-memory", help="Store episodes in a fresh SQLite emotional memory per run (curiosity = novelty against it)."),
    allow_other_model: bool = AllowOtherOpt,
    runs_root: Path = RunsRootOpt,
    seed: int = SeedOpt,
    device: str = DeviceOpt,
    dtype: str = DtypeOpt,
    json_out: bool = JsonOpt,
) -> None:
    """Online adaptation (phase 3): a scripted user rates −1 until answers show MARKER; episodes-to-recover with and without the reward model."""
    import copy

    from frozen_llm_modules.attach import EmotionalLLM
    from frozen_llm_modules.memory import EmotionalMemory
    from frozen_llm_modules.online import run_online_adaptation
    from frozen_llm_modules.style_markers import MARKERS
    from frozen_llm_modules.training import heldout_prompts
    from interp.io import atomic_write_json
    from interp.run_context import RunContext

    if marker not in MARKERS:
        raise ModuleError(f"--marker must be one of {', '.join(MARKERS)}, got {marker!r}")
    m, mods = _load_modules(model, list(modules or []), device, dtype, quiet=json_out, allow_other_model=allow_other_model)
    rm = mods.pop("reward", None)
    enc = mods.pop("encoder", None)
    ctx = RunContext.create("adapt-module", {"modules": [str(d) for d in modules], "marker": marker, "n_runs": n_runs,
                                             "max_episodes": max_episodes, "streak": streak, "n_candidates": n_candidates,
                                             "max_new_tokens": max_new_tokens, "memory": use_memory}, root=runs_root, seed=seed)
    prompts = heldout_prompts()
    conditions = [("without_reward_model", None)] + ([("with_reward_model", rm)] if rm is not None else [])
    runs: dict[str, list[dict]] = {}
    for name, reward in conditions:
        runs[name] = []
        for i in range(n_runs):
            llm = EmotionalLLM(m, **copy.deepcopy(mods))  # every run starts from the saved weights
            mem = EmotionalMemory(ctx.path / f"memory-{name}-{i}.sqlite", model_name=m.ec_info.name) if use_memory else None
            run = run_online_adaptation(llm, prompts[3 * i:] + prompts[:3 * i], marker=marker,
                                        reward_model=copy.deepcopy(reward) if reward is not None else None,
                                        encoder=copy.deepcopy(enc) if enc is not None else None, memory=mem,
                                        max_episodes=max_episodes, streak=streak, n_candidates=n_candidates,
                                        max_new_tokens=max_new_tokens, seed=seed + i)
            if mem is not None:
                mem.close()
            runs[name].append(run.to_dict())
            if not json_out:
                console.print(f"{name} run {i}: episodes-to-recover {run.episodes_to_recover} feedback {run.feedback}")
    summary = {"marker": marker, "modules": sorted(mods) + (["reward"] if rm is not None else []), "max_episodes": max_episodes,
               "streak": streak,
               "episodes_to_recover": {k: [r["episodes_to_recover"] for r in v] for k, v in runs.items()},
               "recovered": {k: sum(r["episodes_to_recover"] is not None for r in v) for k, v in runs.items()},
               "run_dir": str(ctx.path)}
    atomic_write_json(ctx.path / "adaptation.json", {**summary, "runs": runs})
    summary["wall_seconds"] = ctx.finish()
    if json_out:
        emit_json(summary)
        return
    console.print(table(f"online adaptation toward {marker} (None = not recovered within {max_episodes})",
                        ["condition", "episodes-to-recover per run", "recovered"],
                        [[k, v, f"{summary['recovered'][k]}/{n_runs}"] for k, v in summary["episodes_to_recover"].items()]))


def register(app: typer.Typer) -> None:
    app.command("train-module")(train_module)
    app.command("chat")(chat)
    app.command("eval-module")(eval_module)
    app.command("adapt-module")(adapt_module)
