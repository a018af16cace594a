"""``emotion-circuits dataset validate|stats``: check the dataset rules; print the confound table (and token lengths).

``--dataset`` takes a profile, a file, or a shipped data file's name; ``--attribute`` (with ``--language``)
takes the registered data of an attribute instead (:mod:`interp.attributes`).
"""

import statistics

import typer

from experiments.cli_common import JsonOpt, console, emit_json, load_model_cli, table
from interp.attributes import get_attribute
from interp.confounds import confound_table
from interp.datasets import PROFILES, load_dataset, validate
from interp.errors import ConfigError, DatasetError
from interp.positions import token_ids_and_offsets

dataset_app = typer.Typer(help="Check and summarise emotion and attribute sentence sets.", no_args_is_help=True)

DatasetArg = typer.Option("baseline", "--dataset", "-d", help=f"Profile ({', '.join(PROFILES)}), a JSONL/CSV file in the record "
                          "schema, or a shipped data file's name (emotions_ja.jsonl, attributes_en_politeness.jsonl, ...).")
AttributeArg = typer.Option(None, "--attribute", "-a", help="Use the registered data of this attribute (emotion, politeness, "
                            "formality, humour, threat) instead of --dataset.")
LanguageArg = typer.Option("en", "--language", "-l", help="Language of the --attribute data (en, ja).")


def _load(dataset: str, attribute: str | None, language: str):
    if attribute is None:
        return load_dataset(dataset)
    if dataset != "baseline":
        raise ConfigError("give either --dataset or --attribute (with --language), not both")
    return get_attribute(attribute).language(language).load()


@dataset_app.command("validate")
def validate_cmd(dataset: str = DatasetArg, attribute: str = AttributeArg, language: str = LanguageArg, json_out: bool = JsonOpt) -> None:
    """Check: unique ids/texts, marker spans, lexicon rules, lengths (4–16 words for English emotion, characters for Japanese), pairs."""
    ds = _load(dataset, attribute, language)
    expected = {"baseline": 70, "extended": 170}.get(dataset) if attribute is None else None
    report = validate(ds, expected_per_emotion=expected)
    if json_out:
        emit_json({"source": ds.source, "n": report.n_records, "counts": report.counts, "ok": report.ok, "problems": list(report.problems)})
    else:
        console.print(table(f"{ds.source}: {report.n_records} records", ["label", "count"], [[k, v] for k, v in report.counts.items()]))
        for p in report.problems[:50]:
            console.print(f"[red]✗[/] {p}", highlight=False)
        console.print("[green]valid[/]" if report.ok else f"[red]{len(report.problems)} problem(s)[/]")
    if not report.ok:
        raise DatasetError(f"{ds.source}: {len(report.problems)} rule violation(s); first: {report.problems[0]}")


_FEATURES = {"first_second_person": "I/we/you pronoun", "third_person": "he/she/they pronoun",
             "starts_with_the": "starts with The", "comma": "comma", "apostrophe": "apostrophe", "question": "question mark",
             "exclamation": "exclamation", "negation": "negation", "lexicon_word": "lexicon word (by design)"}
_FEATURES_JA = {"first_second_person": "私/あなた… pronoun", "third_person": "彼/彼女 pronoun", "polite_ending": "です/ます ending",
                "final_particle": "final よ/ね/な/わ", "comma": "comma 、", "question": "question mark",
                "exclamation": "exclamation", "ends_question": "ends with ？", "ends_exclamation": "ends with ！",
                "negation": "negation ない/ません", "lexicon_word": "lexicon expression (by design)"}


@dataset_app.command("stats")
def stats_cmd(
    dataset: str = DatasetArg,
    attribute: str = AttributeArg,
    language: str = LanguageArg,
    threshold: float = typer.Option(0.2, "--threshold", help="Warn where a feature's rate differs between a label and the "
                                    "reference label (neutral, or the attribute's anchor) by more than this (0–1)."),
    model: str | None = typer.Option(None, "--model", "-m", help="Also measure token lengths (with BOS) under this model's tokenizer."),
    json_out: bool = JsonOpt,
) -> None:
    """Confound table per label (person, opening, punctuation, negation, length) with warnings; pairs too where present."""
    ds = _load(dataset, attribute, language)
    conf = confound_table(ds, threshold=threshold)
    rows = _token_rows(ds, model, quiet=json_out) if model else []
    if json_out:
        emit_json({"source": ds.source, "model": model, "hash": ds.hash(), "confounds": conf.to_dict(), "emotions": rows})
        return
    names = _FEATURES_JA if conf.language.split("-")[0] == "ja" else _FEATURES
    labels = [f"{r.label} (n={r.n})" for r in conf.rows]
    body = [[name, *(f"{r.rates[k]:.2f}" for r in conf.rows)] for k, name in names.items()]
    body += [[f"mean {k}", *(f"{r.means[k]:.1f}" for r in conf.rows)] for k in conf.rows[0].means]
    console.print(table(f"{ds.source}: share of sentences with each surface feature (reference: {conf.reference})",
                        ["feature", *labels], body))
    if conf.pair_rows:
        unit = conf.unit
        pair_body = [[names[k], *(f"{p.mismatch[k]:.2f}" for p in conf.pair_rows)] for k in names if k != "lexicon_word"]
        pair_body += [[f"mean |Δ {unit}|", *(f"{p.mean_abs_word_diff:.2f}" for p in conf.pair_rows)],
                      [f"max |Δ {unit}|", *(str(p.max_abs_word_diff) for p in conf.pair_rows)],
                      ["same opening" if unit == "characters" else "same first word", *(f"{p.same_first_word:.2f}" for p in conf.pair_rows)]]
        console.print(table(f"matched pairs: share of pairs whose sentence and {conf.reference} partner differ",
                            ["feature", *(f"{p.emotion} ({p.n_pairs} pairs)" for p in conf.pair_rows)], pair_body))
    for line in conf.warning_lines():
        console.print(line, highlight=False, markup=False, soft_wrap=True)
    if conf.ok:
        what = "an emotion and neutral" if conf.reference == "neutral" else f"a label and {conf.reference}"
        console.print(f"no surface feature differs by more than {threshold:g} between {what}", highlight=False, soft_wrap=True)
    if rows:
        console.print(table(f"{ds.source} under {model} (tokens incl. BOS)", list(rows[0]), [list(r.values()) for r in rows]))


def _token_rows(ds, model: str, *, quiet: bool) -> list[dict]:
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
