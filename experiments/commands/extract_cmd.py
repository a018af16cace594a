"""``emotion-circuits extract``: stream activations of a dataset to a safetensors store."""

import time
from pathlib import Path

import typer

from experiments.cli_common import (
    DeviceOpt,
    DtypeOpt,
    JsonOpt,
    ProfileOpt,
    RunsRootOpt,
    SeedOpt,
    console,
    emit_json,
    err_console,
    load_model_cli,
    parse_int_list,
    parse_str_list,
    progress_bar,
    table,
)
from interp.activations import ActivationStore, extract_activations
from interp.datasets import EmotionDataset, ValidationReport, load_dataset, validate
from interp.hook_names import RESIDUAL_KINDS, expand_hooks
from interp.registry import DEFAULT_MODEL
from interp.run_context import RunContext

ExtractModelOpt = typer.Option(DEFAULT_MODEL, "--model", "-m", help="Known model name, local model directory or HF id.")
HooksOpt = typer.Option(None, "--hooks", help=f"Comma-separated hook kinds ({', '.join(RESIDUAL_KINDS)}, z, pattern…) or full hook "
                        f"names. Default: {', '.join(RESIDUAL_KINDS)}.")
LayersOpt = typer.Option(None, "--layers", help="Layers for hook kinds, e.g. '0,5,10-12' (default: all).")
BatchSizeOpt = typer.Option(32, "--batch-size", min=1, help="Sentences per forward pass and per shard.")
PaddingSideOpt = typer.Option("right", "--padding-side", help="Pad batches on the 'right' or 'left' (stored layout is the same).")
StoreDtypeOpt = typer.Option(None, "--store-dtype", help="Storage dtype: float32, float16 or bfloat16 (default: the --dtype).")
StoreOutOpt = typer.Option(None, "--out", "-o", help="Store folder (default: <run dir>/activations). Reusing a folder resumes.")


def _validate_or_warn(ds: EmotionDataset) -> ValidationReport:
    """The same rules as `dataset validate` (non-English text, word counts, spans): there they fail (exit 2); here
    they warn, because activations of any text are well defined. Long sentences beyond the context are errors."""
    report = validate(ds)
    if not report.ok:
        err_console.print(f"warning: {ds.source}: {len(report.problems)} dataset rule violation(s), as `dataset validate` "
                          f"reports them; first: {report.problems[0]}; extracting anyway", markup=False, highlight=False, soft_wrap=True)
    return report


def _summary(ctx: RunContext, store: ActivationStore, model, ds: EmotionDataset, report: ValidationReport, secs: float) -> dict:
    """Record the extraction step in the run and return the command's summary (what --json prints)."""
    n_tokens, size = store.n_tokens, store.nbytes()
    ctx.record_step("extract", store=str(store.path), seconds=round(secs, 2), tokens=n_tokens, bytes=size)
    wall = ctx.finish()
    return {"run_dir": str(ctx.path), "store": str(store.path), "model": model.ec_info.name, "dataset": ds.source,
            "dataset_hash": ds.hash(), "n_sentences": store.n, "counts": report.counts, "dataset_valid": report.ok,
            "n_hooks": len(store.hooks), "n_tokens": n_tokens, "mean_tokens": n_tokens / store.n, "seconds": round(secs, 2),
            "tokens_per_second": round(n_tokens / secs, 1), "bytes": size, "wall_seconds": wall}


def extract(model: str = ExtractModelOpt, profile: str = ProfileOpt, hooks: str = HooksOpt, layers: str = LayersOpt,
            batch_size: int = BatchSizeOpt, padding_side: str = PaddingSideOpt, store_dtype: str = StoreDtypeOpt, out: Path = StoreOutOpt,
            runs_root: Path = RunsRootOpt, seed: int = SeedOpt, device: str = DeviceOpt, dtype: str = DtypeOpt,
            json_out: bool = JsonOpt) -> None:
    """Run every sentence through the model under no_grad and store the chosen hooks, with sentence-end and emotion-word positions."""
    ds = load_dataset(profile)
    report = _validate_or_warn(ds)
    layer_list, hook_list, store_dtype = parse_int_list(layers, name="--layers"), parse_str_list(hooks), store_dtype or dtype
    m = load_model_cli(model, device, dtype, quiet=json_out)
    # Validate hooks and layers before any folder is created.
    expand_hooks(hook_list or list(RESIDUAL_KINDS), layer_list if layer_list is not None else list(range(m.cfg.n_layers)),
                 m.hook_dict.keys(), m.cfg.n_layers)
    ctx = RunContext.create("extract", {"model": model, "profile": profile, "hooks": hook_list, "layers": layer_list,
                                        "batch_size": batch_size, "padding_side": padding_side, "dtype": dtype,
                                        "store_dtype": store_dtype}, root=runs_root, seed=seed)
    ctx.record_model(m)
    ctx.record_dataset(profile, ds)
    t0 = time.perf_counter()
    with progress_bar("extracting", len(ds), quiet=json_out) as update:
        store = extract_activations(m, ds, out if out is not None else ctx.path / "activations", hooks=hook_list, layers=layer_list,
                                    batch_size=batch_size, padding_side=padding_side, dtype=store_dtype, progress=update)
    summary = _summary(ctx, store, m, ds, report, time.perf_counter() - t0)
    if json_out:
        return emit_json(summary)
    console.print(table("dataset", ["emotion", "count"], [[k, v] for k, v in report.counts.items()]))
    console.print(table("extraction", ["key", "value"], [[k, v] for k, v in summary.items() if k != "counts"]))


def register(app: typer.Typer) -> None:
    app.command("extract")(extract)
