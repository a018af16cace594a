"""``emotion-circuits humaneval make|score|export-answers``: blinded offline rating forms, their scoring against the key,
and the answers the forms posted to the tone page exported as rating files."""

from pathlib import Path

import typer
from rich.markup import escape

from experiments.cli_common import JsonOpt, RunsRootOpt, SeedOpt, console, emit_json, fail, fmt, parse_str_list
from experiments.cli_common import table as _table
from humaneval import ScoreConfig, build_key, load_key, load_outputs, load_ratings, score, write_forms
from humaneval.answers_db import export_answers
from humaneval.form import check_post_url
from interp.errors import ConfigError, DatasetError
from interp.run_context import RunContext

humaneval_app = typer.Typer(help="Human evaluation: blinded rating forms (make) and their scores (score).", no_args_is_help=True)
OutOpt = typer.Option(None, "--out", "-o", help="Output folder (default: a new run folder under --runs-root).")


@humaneval_app.command("make")
def make_cmd(
    outputs: Path = typer.Argument(..., help="JSONL/JSON of {prompt, system, output, scores?} records, one per (prompt, system)."),
    tone: str = typer.Option(..., "--tone", help="The quality raters compare, as an adjective: 'grateful', 'angry', …"),
    raters: str = typer.Option(None, "--raters", help="Comma-separated rater ids (letters, digits, '.', '_', '-'); one form each."),
    n_raters: int = typer.Option(None, "--n-raters", min=1, help="Or: this many raters, named rater-01, rater-02, …"),
    systems: str = typer.Option(None, "--systems", help="Comma-separated systems to rate (default: every system in the file)."),
    tasks: str = typer.Option("pairwise,bestworst,naturalness", "--tasks", help="Item kinds: pairwise, bestworst, naturalness."),
    checks: int = typer.Option(3, "--checks", min=0, help="Attention-check items (obvious answers), spread over the tasks."),
    pairs_per_prompt: int = typer.Option(None, "--pairs-per-prompt", min=1, help="Pairwise items per prompt (default: every pair)."),
    post_url: str = typer.Option(None, "--post-url", help="Also POST each saved answer file to this http(s) URL."),
    out: Path = OutOpt, runs_root: Path = RunsRootOpt, seed: int = SeedOpt, json_out: bool = JsonOpt,
) -> None:
    """Write key.json (keep it from raters) and forms/<rater>.html (offline, one per rater, order shuffled per rater)."""
    check_post_url(post_url)
    rater_ids = _rater_ids(raters, n_raters)
    key = build_key(load_outputs(outputs), tone=tone, raters=rater_ids, tasks=parse_str_list(tasks),
                    systems=parse_str_list(systems), n_checks=checks, pairs_per_prompt=pairs_per_prompt, seed=seed)
    if out is not None:
        _refuse_other_key(out / "key.json", key.item_set.id)
    ctx = RunContext.create("humaneval-make", {"outputs": str(outputs), "tone": tone, "raters": rater_ids, "systems": list(key.systems),
                                               "tasks": key.config["tasks"], "checks": checks, "pairs_per_prompt": pairs_per_prompt,
                                               "post_url": post_url}, root=runs_root, seed=seed, run_dir=out)
    key_path = key.save(ctx.path / "key.json")
    forms = write_forms(key, ctx.path / "forms", post_url=post_url)
    ctx.record_step("make", item_set=key.item_set.id, n_items=len(key.item_set.items))
    ctx.finish()
    counts = {k: len(key.item_set.by_kind(k)) for k in key.config["tasks"]}
    summary = {"run_dir": str(ctx.path), "item_set": key.item_set.id, "key": str(key_path), "forms": {r: str(p) for r, p in forms.items()},
               "items": counts, "checks": len(key.checks), "systems": list(key.systems), "raters": rater_ids}
    if json_out:
        emit_json(summary)
        return
    console.print(table(f"item set {key.item_set.id} ('{tone}'), {len(key.systems)} systems", ["items", "count"],
                        [*[[k, v] for k, v in counts.items()], ["attention checks (included above)", len(key.checks)]]))
    console.print(f"key (do not give to raters): {key_path}", highlight=False, markup=False, soft_wrap=True)
    for r, p in forms.items():
        console.print(f"form for {r}: {p}", highlight=False, markup=False, soft_wrap=True)


@humaneval_app.command("score")
def score_cmd(
    key: Path = typer.Argument(..., help="The key.json written by `humaneval make`."),
    ratings: list[Path] = typer.Argument(..., help="Answer files (answers-*.json) or folders holding them."),
    n_boot: int = typer.Option(1000, "--n-boot", min=10, help="Bootstrap draws for the CIs."),
    bootstrap_over: str = typer.Option("raters", "--bootstrap-over", help="Resample 'raters' or 'prompts' for system-level CIs."),
    keep_failed: bool = typer.Option(False, "--keep-failed", help="Score raters who failed attention checks too (default: leave them out)."),
    max_failed: int = typer.Option(0, "--max-failed", min=0, help="Attention checks a rater may fail and still be scored."),
    reference: str = typer.Option(None, "--reference", help="Also show every system's win rate against this system."),
    strict: bool = typer.Option(False, "--strict", help="Exit 2 (after writing the report) if any rating file was skipped as malformed."),
    out: Path = OutOpt, runs_root: Path = RunsRootOpt, seed: int = SeedOpt, json_out: bool = JsonOpt,
) -> None:
    """Bradley–Terry strengths, win rates, naturalness, best–worst, Krippendorff's α, agreement with automatic scores."""
    k = load_key(key)
    if reference is not None and reference not in k.systems:
        raise ConfigError(f"unknown system name {reference!r} in --reference; the key's systems are: {', '.join(k.systems)}")
    config = ScoreConfig(n_boot=n_boot, bootstrap_over=bootstrap_over, exclude_failed=not keep_failed, max_failed=max_failed, seed=seed)
    report = score(k, load_ratings(k, ratings), config)
    ctx = RunContext.create("humaneval-score", {"key": str(key), "ratings": [str(r) for r in ratings], "reference": reference,
                                                **config.to_dict()}, root=runs_root, seed=seed, run_dir=out)
    files = report.save(ctx.path)
    ctx.record_step("score", item_set=report.item_set, ranking=report.ranking())
    ctx.finish()
    if json_out:
        emit_json({"run_dir": str(ctx.path), "files": {n: str(p) for n, p in files.items()}, **report.to_dict()})
    else:
        _print_report(report, reference, files)
    if strict and report.skipped:
        raise DatasetError(f"{len(report.skipped)} rating file(s) skipped as malformed (first: {report.skipped[0].path!r}: "
                           f"{report.skipped[0].reason}); the report of the others is in {str(ctx.path)!r}")


@humaneval_app.command("export-answers")
def export_answers_cmd(
    db: Path = typer.Argument(..., help="The SQLite file `tone serve --answers-db` stored the posted answers in."),
    key: Path = typer.Argument(..., help="The key.json of the forms that posted them."),
    out: Path = typer.Option(..., "--out", "-o", help="Folder for the answers-<rater>-<item set>.json files `humaneval score` reads."),
    json_out: bool = JsonOpt,
) -> None:
    """Write each rater's latest posted answers as a rating file (checked against the key when it was posted)."""
    paths = export_answers(db, load_key(key), out)
    if json_out:
        emit_json({"files": [str(p) for p in paths]})
        return
    for p in paths:
        console.print(f"answers: {p}", highlight=False, markup=False, soft_wrap=True)


def _rater_ids(raters: str | None, n_raters: int | None) -> list[str]:
    """Ids from --raters, or rater-01 … from --n-raters (build_key checks them)."""
    if raters and n_raters:
        fail("give --raters or --n-raters, not both")
    return parse_str_list(raters) or [f"rater-{i + 1:02d}" for i in range(n_raters or 0)]


def _refuse_other_key(path: Path, item_set: str) -> None:
    """An --out that already holds forms for another item set would orphan them: refuse."""
    if path.exists() and load_key(path).item_set.id != item_set:
        raise DatasetError(f"{str(path)!r} already holds the key of another item set, whose forms may be out with raters; "
                           "choose a new --out folder")


def _print_report(report, reference: str | None, files: dict) -> None:
    ref = report.systems.index(reference) if reference else None
    rates = report.win_rates()
    cols = ["system", "BT log-strength", "win rate", "n pairs", "naturalness", "best–worst"] + ([f"beats {reference}"] if ref is not None else [])
    rows = [[s.system, str(s.strength), str(s.win_rate), s.n_comparisons, str(s.naturalness), str(s.best_worst)]
            + ([fmt(float(rates[report.systems.index(s.system), ref]))] if ref is not None else []) for s in report.scores]
    console.print(table(f"item set {report.item_set} ('{report.tone}'): systems ranked (95% CI over {report.config.bootstrap_over})", cols, rows))
    console.print(f"first-shown (A) chosen in pairwise items: {report.position_a_rate}", highlight=False, markup=False)
    if report.alphas:
        console.print(table("Krippendorff's α (95% CI over items)", ["task", "metric", "α", "items", "values"],
                            [[a.task, a.metric, str(a.alpha), a.n_units, a.n_values] for a in report.alphas]))
    if report.agreement:
        console.print(table("agreement with automatic scorers (Spearman ρ over outputs, 95% CI)", ["scorer", "human measure", "ρ", "n"],
                            [[a.scorer, a.measure, str(a.rho), a.n] for a in report.agreement]))
    console.print(table("attention checks", ["rater", "failed", "of", "excluded", "file"],
                        [[r.rater, r.n_failed, r.n_checks, "yes" if r.excluded else "no", r.path] for r in report.raters]))
    for s in report.skipped:
        console.print(f"skipped {s.path}: {s.reason}", highlight=False, markup=False, soft_wrap=True)
    for name, p in files.items():
        console.print(f"{name}: {p}", highlight=False, markup=False, soft_wrap=True)


def table(title: str, columns: list[str], rows: list[list]):
    """A rich table whose user text (system and rater names, tone, CIs in brackets) is never read as markup."""
    return _table(escape(title), [escape(c) for c in columns], [[escape(fmt(v)) for v in r] for r in rows])


def register(app: typer.Typer) -> None:
    app.add_typer(humaneval_app, name="humaneval")
