"""``emotion-circuits tone reply | eval | serve``: the tone-control agent (:mod:`steering.tone`).

The agent's windows come from a stored run (``--run``: a study, a sweep with ``--vectors``, or an earlier tone run) or
from a small calibration sweep on the style corpus's training-topic requests; evaluation uses the held-out topics'
requests, so calibration and evaluation prompts never share a topic.
"""

from pathlib import Path
from typing import Annotated

import typer

from experiments.cli_common import (
    DeviceOpt,
    DtypeOpt,
    JsonOpt,
    ModelOpt,
    RunsRootOpt,
    SeedOpt,
    console,
    emit_json,
    fail,
    load_model_cli,
    progress_bar,
    show_report,
    table,
)
from frozen_llm_modules.tone_module import module_tone_from_dir, tone_prompts, vector_steering_module
from frozen_llm_modules.training import neutral_texts
from humaneval.answers_db import AnswersStore
from humaneval.design import load_key
from interp.run_context import RunContext
from steering.tone import DEFAULT_BUDGET, ToneAgent
from steering.tone_control import CalibrationConfig, run_files
from steering.tone_eval import evaluate_tone
from steering.tone_page import serve as serve_page
from steering.tone_target import parse_target

_Opt = typer.Option
Target = Annotated[str, _Opt("--target", "-t", help="Tone: 'gratitude=0.8,anger=0' or a preset (neutral, warm, angry, apologetic).")]
Tones = Annotated[str, _Opt("--tones", help="Tones to evaluate, separated by ';' (each a preset or 'LABEL=LEVEL,…').")]
Run = Annotated[Path, _Opt("--run", help="Run folder with stored vectors and sweep windows (study, tone run); default: calibrate.")]
Vectors = Annotated[Path, _Opt("--vectors", help="Vector file, for a --run whose folder does not hold its vectors (a sweep run).")]
Budget = Annotated[int, _Opt("--budget", help="Closed-loop drafts per reply (>= 1; 1 = open loop).")]
Modules = Annotated[Path, _Opt("--modules", help="Trained module folder for the module baseline (default: the steering module "
                                                 "initialised from the agent's vectors).")]
Tokens = Annotated[int, _Opt("--max-new-tokens", help="Reply length in tokens.")]
NPrompts = Annotated[int, _Opt("--n-prompts", help="Held-out prompts to evaluate (at most 30).")]
NCalib = Annotated[int, _Opt("--n-calibration", help="Calibration prompts when calibrating (split into selection / evaluation halves).")]
Compare = Annotated[bool, _Opt("--compare", help="Also print the no-control, prompting and module replies.")]


def _check(budget: int, tokens: int, targets: list[str], run: Path | None = None, vectors: Path | None = None) -> list:
    """Refuse bad options (and a run folder without a sweep) before the model loads."""
    if run is not None:
        run_files(run, vectors=vectors)
    if budget < 1:
        fail(f"--budget is {budget}; the closed loop needs at least 1 draft (1 = open loop)")
    if not 1 <= tokens <= 512:
        fail(f"--max-new-tokens must be between 1 and 512, got {tokens}")
    return [parse_target(t) for t in targets]


def _agent(m, ctx: RunContext, run: Path | None, vectors: Path | None, modules: Path | None, tokens: int, quiet: bool) -> ToneAgent:
    """The agent from ``run`` or a fresh calibration under the run folder, with its module baseline attached."""
    if run is not None:
        agent = ToneAgent.from_run(m, run, vectors=vectors)
    else:
        cfg = CalibrationConfig(max_new_tokens=tokens, chat=bool(getattr(m.tokenizer, "chat_template", None)))
        with progress_bar("calibration cells", 1, quiet=quiet) as update:
            agent = ToneAgent.calibrate(m, tone_prompts("calibration")[:ctx.config["n_calibration"]], ctx.path, config=cfg, progress=update)
    agent.module = module_tone_from_dir(m, modules, max_new_tokens=tokens) if modules else vector_steering_module(m, agent.controls,
                                                                                                               max_new_tokens=tokens)
    return agent


def reply(prompt: Annotated[str, typer.Argument(help="Text to reply to.")], target: Target = "warm", run: Run = None, vectors: Vectors = None,
          budget: Budget = DEFAULT_BUDGET, compare: Compare = False, modules: Modules = None, max_new_tokens: Tokens = 24,
          n_calibration: NCalib = 20, model: str = ModelOpt, runs_root: Path = RunsRootOpt, seed: int = SeedOpt, device: str = DeviceOpt,
          dtype: str = DtypeOpt, json_out: bool = JsonOpt) -> None:
    """Reply to a prompt in a target tone (closed-loop steering); print the reply, interventions and scores."""
    (tone,) = _check(budget, max_new_tokens, [target], run, vectors)
    m = load_model_cli(model, device, dtype, quiet=json_out)
    ctx = RunContext.create("tone", {"model": model, "target": tone.to_dict(), "run": str(run) if run else None, "budget": budget,
                                     "n_calibration": n_calibration}, root=runs_root, seed=seed)
    ctx.record_model(m)
    agent = _agent(m, ctx, run, vectors, modules, max_new_tokens, json_out)
    out = agent.compare(prompt, tone, budget=budget) if compare else {"agent": agent.reply(prompt, tone, budget=budget)}
    ctx.finish()
    if json_out:
        emit_json({"run_dir": str(ctx.path), **{k: r.to_dict() for k, r in out.items()}})
        return
    for name, r in out.items():
        console.print(f"[bold]{name}[/bold] ({r.attempts} draft(s), {r.latency_s:.2f} s): {r.text}")
        console.print(table("interventions", ["what"], [[str(i)] for i in r.interventions]))
        console.print(table("scores", list(r.scores), [[r.scores[k] for k in r.scores]]))
    console.print(f"results: {ctx.path}")


def eval_(tones: Tones = "warm;angry;apologetic", run: Run = None, vectors: Vectors = None, budget: Budget = DEFAULT_BUDGET,
          modules: Modules = None, n_prompts: NPrompts = 30, max_new_tokens: Tokens = 24, n_calibration: NCalib = 20,
          model: str = ModelOpt, runs_root: Path = RunsRootOpt, seed: int = SeedOpt, device: str = DeviceOpt, dtype: str = DtypeOpt,
          json_out: bool = JsonOpt) -> None:
    """Evaluate the agent vs no control, prompting and the module on held-out prompts × tones (CIs); write a run folder."""
    targets = _check(budget, max_new_tokens, [t for t in (tones or "").split(";") if t.strip()] or [""], run, vectors)
    prompts = tone_prompts("evaluation")
    if not 1 <= n_prompts <= len(prompts):
        fail(f"--n-prompts must be between 1 and {len(prompts)} (the held-out requests), got {n_prompts}")
    m = load_model_cli(model, device, dtype, quiet=json_out)
    ctx = RunContext.create("tone", {"model": model, "tones": [t.to_dict() for t in targets], "run": str(run) if run else None,
                                     "budget": budget, "n_prompts": n_prompts, "n_calibration": n_calibration}, root=runs_root, seed=seed)
    ctx.record_model(m)
    agent = _agent(m, ctx, run, vectors, modules, max_new_tokens, json_out)
    with progress_bar("tone replies", 1, quiet=json_out) as update:
        report = evaluate_tone(agent, prompts[:n_prompts], targets, budget=budget, calibration_prompts=tone_prompts("calibration"),
                               capability_texts=neutral_texts(split="heldout"), progress=update)
    report.save(ctx.path)
    ctx.record_step("tone_eval", wall_s=report.wall_s)
    ctx.finish()
    show_report(report, ctx.path, json_out=json_out, replies=ctx.path / "replies.jsonl")


def serve(run: Run = None, vectors: Vectors = None, modules: Modules = None, host: Annotated[str, _Opt("--host")] = "127.0.0.1",
          port: Annotated[int, _Opt("--port")] = 8765, max_new_tokens: Tokens = 24, n_calibration: NCalib = 20, model: str = ModelOpt,
          runs_root: Path = RunsRootOpt, seed: int = SeedOpt, device: str = DeviceOpt, dtype: str = DtypeOpt,
          answers_db: Annotated[Path | None, _Opt("--answers-db", help="SQLite file storing rating forms' POSTed answers")] = None,
          key: Annotated[Path | None, _Opt("--key", help="the item set's key.json (humaneval make), with --answers-db")] = None) -> None:
    """Serve the tone agent as a local web page (steering.tone_page); with --answers-db, also receive rating-form answers."""
    if (answers_db is None) != (key is None):
        fail("--answers-db and --key go together: the store checks each posted answer file against the item key")
    store = AnswersStore(answers_db, load_key(key)) if answers_db is not None else None
    _check(1, max_new_tokens, [], run, vectors)
    m = load_model_cli(model, device, dtype)
    ctx = RunContext.create("tone", {"model": model, "run": str(run) if run else None, "n_calibration": n_calibration}, root=runs_root,
                            seed=seed)
    serve_page(_agent(m, ctx, run, vectors, modules, max_new_tokens, False), host=host, port=port, answers_db=store)


def register(app: typer.Typer) -> None:
    tone = typer.Typer(help="Tone-control agent: reply in a target tone by closed-loop steering; evaluate it against baselines.",
                       no_args_is_help=True)
    tone.command("reply")(reply)
    tone.command("eval")(eval_)
    tone.command("serve")(serve)
    app.add_typer(tone, name="tone")

