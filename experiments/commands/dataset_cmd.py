"""``emotion-circuits dataset validate|stats``: check the dataset rules; print the confound table (and token lengths)."""

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


_FEATURES = {"first_second_person": "I/we/you pronoun", "third_person": "he/she/they pronoun",
             "starts_with_the": "starts with The", "comma": "comma", "apostrophe": "apostrophe", "question": "question mark",
             "exclamation": "exclamation", "negation": "negation", "lexicon_word": "lexicon word (by design)"}


@dataset_app.command("stats")
def stats_cmd(
    dataset: str = DatasetArg,
    threshold: float = typer.Option(0.2, "--threshold", help="Warn where a feature's rate differs between an emotion and neutral by more than this (0–1)."),
    model: str | None = typer.Option(None, "--model", "-m", help="Also measure token lengths (with BOS) under this model's tokenizer."),
    json_out: bool = JsonOpt,
) -> None:
    """Confound table per label (person, opening, punctuation, negation, length) with warnings; pairs too where present."""
    from interp.confounds import confound_table

    ds = load_dataset(dataset)
    conf = confound_table(ds, threshold=threshold)
    rows = _token_rows(ds, model, quiet=json_out) if model else []
    if json_out:
        emit_json({"source": ds.source, "model": model, "hash": ds.hash(), "confounds": conf.to_dict(), "emotions": rows})
        return
    labels = [f"{r.label} (n={r.n})" for r in conf.rows]
    body = [[name, *(f"{r.rates[k]:.2f}" for r in conf.rows)] for k, name in _FEATURES.items()]
    body += [[f"mean {k}", *(f"{r.means[k]:.1f}" for r in conf.rows)] for k in ("words", "chars")]
    console.print(table(f"{ds.source}: share of sentences with each surface feature", ["feature", *labels], body))
    if conf.pair_rows:
        pair_body = [[_FEATURES[k], *(f"{p.mismatch[k]:.2f}" for p in conf.pair_rows)] for k in _FEATURES if k != "lexicon_word"]
        pair_body += [["mean |Δ words|", *(f"{p.mean_abs_word_diff:.2f}" for p in conf.pair_rows)],
                      ["max |Δ words|", *(str(p.max_abs_word_diff) for p in conf.pair_rows)],
                      ["same first word", *(f"{p.same_first_word:.2f}" for p in conf.pair_rows)]]
        console.print(table("matched pairs: share of pairs whose sentence and counterpart differ",
                            ["feature", *(f"{p.emotion} ({p.n_pairs} pairs)" for p in conf.pair_rows)], pair_body))
    for line in conf.warning_lines():
        console.print(line, highlight=False, markup=False, soft_wrap=True)
    if conf.ok:
        console.print(f"no surface feature differs by more than {threshold:g} between an emotion and neutral", highlight=False, soft_wrap=True)
    if rows:
        console.print(table(f"{ds.source} under {model} (tokens incl. BOS)", list(rows[0]), [list(r.values()) for r in rows]))


def _token_rows(ds, model: str, *, quiet: bool) -> list[dict]:
    from interp.positions import token_ids_and_offsets

    m = load_model_cli(model, quiet=quiet)
    rows = []
    for emo in ds.emotions:
        lens = [len(token_ids_and_offsets(m, r.text)[0]) for r in ds.by_emotion(emo)]
        span_lens = [len(r.spans) for r in ds.by_emotion(emo)]
        rows.append({"emotion": emo, "n": len(lens), "mean_tokens": statistics.mean(lens), "sd_tokens": statistics.pstdev(lens),
                     "min_tokens": min(lens), "max_tokens": max(lens), "with_span": sum(1 for s in span_lens if s)})
    return rows


def register(app: typer.Typer) -> None:
    app.add_typer(dataset_app, name="dataset")
