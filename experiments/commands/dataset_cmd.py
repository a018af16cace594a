"""``emotion-circuits dataset validate|stats``: check the dataset rules and summarise token lengths."""

import statistics

import typer

from experiments.cli_common import JsonOpt, console, emit_json, load_model_cli, table
from interp.datasets import PROFILES, load_dataset, validate
from interp.errors import DatasetError

dataset_app = typer.Typer(help="Check and summarise emotion sentence sets.", no_args_is_help=True)

DatasetArg = typer.Option("baseline", "--dataset", "-d", help=f"Profile ({', '.join(PROFILES)}) or a JSONL/CSV file in the record schema.")


@dataset_app.command("validate")
def validate_cmd(dataset: str = DatasetArg, json_out: bool = JsonOpt) -> None:
    """Check: unique ids/texts, explicit emotion word with span per emotional sentence, none in neutral, 4–16 words."""
    ds = load_dataset(dataset)
    expected = {"baseline": 70, "extended": 170}.get(dataset)
    report = validate(ds, expected_per_emotion=expected)
    if json_out:
        emit_json({"source": ds.source, "n": report.n_records, "counts": report.counts, "ok": report.ok, "problems": list(report.problems)})
    else:
        console.print(table(f"{ds.source}: {report.n_records} records", ["emotion", "count"], [[k, v] for k, v in report.counts.items()]))
        for p in report.problems[:50]:
            console.print(f"[red]✗[/] {p}", highlight=False)
        console.print("[green]valid[/]" if report.ok else f"[red]{len(report.problems)} problem(s)[/]")
    if not report.ok:
        raise DatasetError(f"{ds.source}: {len(report.problems)} rule violation(s); first: {report.problems[0]}")


@dataset_app.command("stats")
def stats_cmd(
    dataset: str = DatasetArg,
    model: str = typer.Option("smollm2-135m", "--model", "-m", help="Model whose tokenizer measures token lengths."),
    json_out: bool = JsonOpt,
) -> None:
    """Per-emotion counts and token-length statistics (with BOS) under a model's tokenizer."""
    from interp.positions import token_ids_and_offsets

    ds = load_dataset(dataset)
    m = load_model_cli(model, quiet=json_out)
    rows = []
    for emo in ds.emotions:
        lens = [len(token_ids_and_offsets(m, r.text)[0]) for r in ds.by_emotion(emo)]
        span_lens = [len(r.spans) for r in ds.by_emotion(emo)]
        rows.append({"emotion": emo, "n": len(lens), "mean_tokens": statistics.mean(lens), "sd_tokens": statistics.pstdev(lens),
                     "min_tokens": min(lens), "max_tokens": max(lens), "with_span": sum(1 for s in span_lens if s)})
    if json_out:
        emit_json({"source": ds.source, "model": model, "hash": ds.hash(), "emotions": rows})
        return
    console.print(table(f"{ds.source} under {model} (tokens incl. BOS)", list(rows[0]), [list(r.values()) for r in rows]))


def register(app: typer.Typer) -> None:
    app.add_typer(dataset_app, name="dataset")
