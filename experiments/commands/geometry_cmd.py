"""``emotion-circuits vectors | subspace | align``: emotion geometry (phases 3 and 3.5) from residual activations.

Each command extracts the residual activations it needs into its run folder (or reads an existing store given
with ``--store``), calls the :mod:`steering.geometry_analysis` entry point the study phase calls, saves the report
(``results.json``, figures, vectors) into the run folder and prints its headline and tables (``--json``: the
results with the run folder).
"""

from collections import Counter
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import typer

from experiments.cli_common import (
    DeviceOpt,
    DtypeOpt,
    JsonOpt,
    ModelOpt,
    ProfileOpt,
    RunsRootOpt,
    SeedOpt,
    console,
    emit_json,
    load_model_cli,
    parse_int_list,
    parse_str_list,
    progress_bar,
    table,
)
from interp.activations import ActivationStore, extract_activations
from interp.attributes import find_language_data, reference_label
from interp.datasets import load_dataset
from interp.errors import ConfigError, DatasetError, StoreError
from interp.hook_names import hook_kind, parse_hook
from interp.report_types import AnalysisReport
from interp.run_context import RunContext
from steering.alignment import KINDS
from steering.geometry_analysis import align_analysis, subspace_analysis, vectors_analysis
from steering.geometry_report import store_split, transfer_extractor
from steering.vectors import CONTRASTS, METHODS, contrasts_for, pair_map

StoreOpt = typer.Option(None, "--store", help="Existing activation store (from `emotion-circuits extract`); default: extract into the run folder.")
HooksOpt = typer.Option("resid_post", "--hooks", help="Residual hook kinds or full names (default resid_post); the first kind is "
                        "analysed, vectors are saved at every selected hook.")
LayersOpt = typer.Option(None, "--layers", help="Layers, e.g. '0,5,10-12' (default: all).")
SplitOpt = typer.Option("halves", "--split", help="halves: choose the band / headline layer on one half of each label and report "
                        "from the other (interp.splits); none: one set for both (the old, optimistic behaviour).")
FractionOpt = typer.Option(0.5, "--split-fraction", help="Share of each label in the selection split.")
MethodsOpt = typer.Option(",".join(METHODS), "--methods", help="sentence_end, token (vs all neutral tokens), token_matched "
                          "(vs neutral tokens at the same relative position).")
ContrastsOpt = typer.Option(",".join(CONTRASTS), "--contrasts", help="Vector contrasts: neutral (emotion − neutral mean), others "
                            "(emotion − mean of the other emotions); the first one chooses the band.")
VecBootOpt = typer.Option(200, "--n-boot", min=10, help="Bootstrap resamples for norm / cosine CIs.")
VecShuffleOpt = typer.Option(50, "--n-shuffle", min=1, help="Label permutations for the shuffled-label null.")
NSplitsOpt = typer.Option(30, "--n-splits", min=1, help="Random half splits for split-half cosines.")
ProbeShufflesOpt = typer.Option(200, "--probe-shuffles", min=0, help="Label shuffles for the headline probe's permutation p.")
LayerProbeShufflesOpt = typer.Option(1, "--layer-probe-shuffles", min=0, help="Shuffled-label probes per layer (table only).")
FoldsOpt = typer.Option(5, "--folds", min=2, help="Cross-validation folds of the per-layer probes and the BoW baseline.")
BandWidthOpt = typer.Option(3, "--band-width", min=1, help="Layers in the reported emotion-strongest band.")
TransferOpt = typer.Option(True, "--transfer/--no-transfer", help="Also score the band-centre probe on the implicit / trap sets "
                           "(extracted with --model, or with the store's model under --store).")
KOpt = typer.Option(10, "--k", min=1, help="Subspace dimension.")
SubMethodOpt = typer.Option("sentence_end", "--method", help="First view: sentence_end, token or token_matched.")
OtherOpt = typer.Option("token_matched", "--other", help="Second view compared with --method at the same layer.")
SubBootOpt = typer.Option(20, "--n-boot", min=0, help="Stratified bootstrap resamples of the headline overlaps.")
SubShuffleOpt = typer.Option(100, "--n-shuffle", min=10, help="Null draws (label shuffles; neutral pseudo-splits) at the headline layer.")
LayerShufflesOpt = typer.Option(20, "--layer-shuffles", min=5, help="Null draws per layer for the table and the layer choice.")
ModelAOpt = typer.Option(..., "--model-a", help="Source model (A).")
ModelBOpt = typer.Option(None, "--model-b", help="Target model (B); default: same as A (align two layers).")
StoreAOpt = typer.Option(None, "--store-a", help="Existing store for A (resid_post of the chosen layer at least).")
StoreBOpt = typer.Option(None, "--store-b", help="Existing store for B.")
LayerAOpt = typer.Option(None, "--layer-a", help="Layer of A (default: centre of A's emotion-strongest band on the selection split).")
LayerBOpt = typer.Option(None, "--layer-b", help="Layer of B (default: B's strongest band, or depth-matched with --match-depth).")
MatchDepthOpt = typer.Option(False, "--match-depth", help="Pick B's layer at the same relative depth as A's.")
HookOpt = typer.Option("resid_post", "--hook", help="Residual hook kind used on both sides.")
AlignMethodOpt = typer.Option("sentence_end", "--method", help="How emotion vectors are read: sentence_end, token or token_matched.")
RowsOpt = typer.Option("end,mean", "--rows", help="Per-sentence training rows of neutral sentences: end, mean or both.")
AlphaOpt = typer.Option(1e-2, "--alpha", help="Ridge strength relative to the mean squared row norm.")
CommonDimOpt = typer.Option(None, "--common-dim", help="Procrustes common dimension (default: as many as the training rows allow).")
TestFractionOpt = typer.Option(0.3, "--test-fraction", help="Share of shared neutral sentences held out.")
AlignBootOpt = typer.Option(200, "--n-boot", min=10, help="Paired bootstrap resamples of emotion sentences.")
_NOT_CONFIG = ("runs_root", "json_out", "device", "dtype")


def _check_counts(ds, *, minimum: int = 2) -> None:
    counts = Counter(ds.labels)
    low = {e: c for e, c in counts.items() if c < minimum}
    if low:
        e, c = next(iter(low.items()))
        raise DatasetError(f"emotion {e!r} has {c} sentence(s) in {ds.source}; every emotion needs at least {minimum}")
    ref = reference_label(ds.records) or "neutral"
    if ref not in counts:
        raise DatasetError(f"{ds.source} has no {ref} sentences (its reference label); vectors, subspaces and alignment contrast against them")


def _get_store(ctx: RunContext, store: Path | None, model: str, profile: str, hooks: list[str], layers: list[int] | None,
               device: str | None, dtype: str, quiet: bool, name: str = "activations") -> ActivationStore:
    if store is not None:
        return ActivationStore(store)
    ds = load_dataset(profile)
    _check_counts(ds)
    m = load_model_cli(model, device, dtype, quiet=quiet)
    ctx.record_model(m)
    ctx.record_dataset(profile, ds)
    with progress_bar(f"extracting {model}", len(ds), quiet=quiet) as update:
        return extract_activations(m, ds, ctx.path / name, hooks=hooks, layers=layers, progress=update)


def _select_hooks(st: ActivationStore, hooks: list[str], layers: list[int] | None) -> list[str]:
    out = []
    for h in st.hooks:
        layer, _ = parse_hook(h)
        if (h in hooks or hook_kind(h) in hooks) and (layers is None or layer in layers):
            out.append(h)
    if not out:
        raise StoreError(f"the store at {str(st.path)!r} has none of hooks {hooks} at layers {layers}; it holds {', '.join(st.hooks[:4])}…")
    counts = Counter(st.labels)
    if min(counts.values()) < 2:
        e = min(counts, key=counts.get)
        raise DatasetError(f"emotion {e!r} has {counts[e]} sentence(s) in the store; every emotion needs at least 2")
    return out


def _choices(text: str, allowed: tuple[str, ...], name: str) -> list[str]:
    """The comma-separated values of option ``name``, each checked against ``allowed``."""
    values = parse_str_list(text) or list(allowed)
    for v in values:
        if v not in allowed:
            raise ConfigError(f"{name} has {v!r}; choose from {', '.join(allowed)}")
    return values


def _one(value: str, allowed: tuple[str, ...], name: str) -> str:
    if value not in allowed:
        raise ConfigError(f"{name} must be one of {', '.join(allowed)}, got {value!r}")
    return value


def _config(params: dict) -> dict:
    """A command's parameters as its run config (without where it writes or how it prints)."""
    return {k: v for k, v in params.items() if k not in _NOT_CONFIG}


@dataclass(frozen=True)
class _Inputs:
    """A store, its selected hooks, the selection / evaluation indices with their description, and the matched pairs."""

    st: ActivationStore
    hooks: list[str]
    selection: list[int]
    evaluation: list[int]
    split: dict
    pairs: dict
    reference: str = "neutral"
    find: object = None
    data: tuple[str, str] = ("emotion", "en")  # (attribute, language) of the dataset


def _inputs(ctx: RunContext, store: Path | None, model: str, profile: str, hooks: str, layers: str | None, split: str,
            fraction: float, seed: int, device: str | None, dtype: str, quiet: bool, name: str = "activations") -> _Inputs:
    """Read or extract the store, select hooks and split it; records (ids, pairs) come from ``profile`` when it is the store's dataset."""
    if split not in ("halves", "none"):
        raise ConfigError(f"--split must be 'halves' or 'none', got {split!r}")
    hook_list, layer_list = parse_str_list(hooks) or ["resid_post"], parse_int_list(layers, name="--layers")
    st = _get_store(ctx, store, model, profile, hook_list, layer_list, device, dtype, quiet, name)
    sel = _select_hooks(st, hook_list, layer_list)
    ds = load_dataset(profile)
    records = ds.records if [r.id for r in ds.records] == st.ids else None
    # the registry's reference label and lexicons for the dataset's attribute and language (emotion: neutral, English words)
    ref = reference_label(ds.records) or "neutral"
    groups = {(r.attribute, r.language) for r in ds.records}
    spec = find_language_data(*next(iter(groups))) if len(groups) == 1 else None
    extra = {"reference": ref, "find": spec.find if spec is not None and spec.lexicons else None,
             "data": next(iter(groups)) if len(groups) == 1 else ("mixed", "mixed")}
    if split == "none":
        idx = list(range(st.n))
        return _Inputs(st, sel, idx, idx, {"method": "none: selection and evaluation are the same sentences (optimistic)"},
                       pair_map(records or [], reference=ref), **extra)
    return _Inputs(st, sel, *store_split(st, fraction=fraction, seed=seed, records=records), pair_map(records or [], reference=ref), **extra)


def _of_kind(hooks: list[str], spec: str) -> list[str]:
    """``hooks`` of the kind of the first ``--hooks`` entry (the analysed kind)."""
    first = (parse_str_list(spec) or ["resid_post"])[0]
    kind = hook_kind(first) or first
    out = [h for h in hooks if (hook_kind(h) or h) == kind]
    if not out:
        raise StoreError(f"none of the selected hooks is a {kind!r} hook; put the kind to analyse first in --hooks")
    return out


def _show(ctx: RunContext, rep: AnalysisReport, json_out: bool) -> None:
    """Save the report into the run folder, then print its results (``--json``) or its headline, tables and text."""
    rep.save(ctx.path)
    wall = ctx.finish()
    if json_out:
        emit_json({**rep.results(), "run_dir": str(ctx.path), "wall_seconds": wall})
        return
    console.print(table("headline", ["", "value", "baseline", "note"],
                        [[h.name, str(h).removeprefix(f"{h.name}: "), h.baseline or "", h.note or ""] for h in rep.headline()]))
    for t in rep.tables():
        console.print(table(t.title, t.columns, t.rows))
    console.print(rep.text())
    console.print(f"results: {ctx.path}")


def vectors(model: str = ModelOpt, profile: str = ProfileOpt, store: Path = StoreOpt, hooks: str = HooksOpt, layers: str = LayersOpt,
            methods: str = MethodsOpt, contrasts: str = ContrastsOpt, n_boot: int = VecBootOpt, n_shuffle: int = VecShuffleOpt,
            n_splits: int = NSplitsOpt, probe_shuffles: int = ProbeShufflesOpt, layer_probe_shuffles: int = LayerProbeShufflesOpt,
            folds: int = FoldsOpt, band_width: int = BandWidthOpt, transfer: bool = TransferOpt, split: str = SplitOpt,
            split_fraction: float = FractionOpt, runs_root: Path = RunsRootOpt, seed: int = SeedOpt, device: str = DeviceOpt,
            dtype: str = DtypeOpt, json_out: bool = JsonOpt) -> None:
    """Emotion vectors per layer and method: band chosen on the selection split; cosines, norms, probes (vs BoW and lexicon rule) from the evaluation split."""
    method_list = _choices(methods, METHODS, "--methods")
    ctx = RunContext.create("vectors", _config(locals()), root=runs_root, seed=seed)
    g = _inputs(ctx, store, model, profile, hooks, layers, split, split_fraction, seed, device, dtype, json_out)
    if contrasts == ",".join(CONTRASTS):  # the default: the dataset's reference label and others
        contrasts = ",".join(contrasts_for(g.reference))
    contrast_list = _choices(contrasts, contrasts_for(g.reference), "--contrasts")
    load = cache(lambda: load_model_cli(g.st.model_name if store is not None else model, device, dtype, quiet=True))
    tr, notes = transfer_extractor(load, ctx.path / "transfer", pairs=g.pairs, reference=g.reference,
                                    attribute=g.data[0], language=g.data[1]) if transfer else (None, ["implicit / trap sets skipped (--no-transfer)"])
    with progress_bar("vectors, reliability, probes", 1, quiet=json_out) as update:
        rep = vectors_analysis(g.st, _of_kind(g.hooks, hooks), selection=g.selection, evaluation=g.evaluation, split=g.split,
                               methods=method_list, contrasts=contrast_list, vector_hooks=g.hooks, n_boot=n_boot, n_splits=n_splits,
                               n_shuffle=n_shuffle, folds=folds, layer_probe_shuffles=layer_probe_shuffles, probe_shuffles=probe_shuffles,
                               band_width=band_width, seed=seed, pairs=g.pairs, transfer=tr, notes=notes, progress=update,
                               reference=g.reference, find=g.find, language=g.data[1])
    _show(ctx, rep, json_out)


def subspace(model: str = ModelOpt, profile: str = ProfileOpt, store: Path = StoreOpt, hooks: str = HooksOpt, layers: str = LayersOpt,
             k: int = KOpt, method: str = SubMethodOpt, other: str = OtherOpt, n_boot: int = SubBootOpt, n_shuffle: int = SubShuffleOpt,
             layer_shuffles: int = LayerShufflesOpt, split: str = SplitOpt, split_fraction: float = FractionOpt,
             runs_root: Path = RunsRootOpt, seed: int = SeedOpt, device: str = DeviceOpt, dtype: str = DtypeOpt,
             json_out: bool = JsonOpt) -> None:
    """Emotion difference subspaces per layer vs label-shuffled and neutral-only nulls (old centred-PCA overlap and k/d beside them)."""
    if _one(method, METHODS, "--method") == _one(other, METHODS, "--other"):
        raise ConfigError(f"--method and --other are both {method!r}; compare two different views")
    ctx = RunContext.create("subspace", _config(locals()), root=runs_root, seed=seed)
    g = _inputs(ctx, store, model, profile, hooks, layers, split, split_fraction, seed, device, dtype, json_out)
    with progress_bar("subspaces", len(g.hooks) + 1, quiet=json_out) as update:
        rep = subspace_analysis(g.st, g.hooks, selection=g.selection, evaluation=g.evaluation, split=g.split, k=k, methods=(method, other),
                                layer_shuffles=layer_shuffles, n_shuffle=n_shuffle, n_boot=n_boot, seed=seed, pairs=g.pairs,
                                progress=update, reference=g.reference)
    _show(ctx, rep, json_out)


def align(model_a: str = ModelAOpt, model_b: str = ModelBOpt, store_a: Path = StoreAOpt, store_b: Path = StoreBOpt,
          layer_a: int = LayerAOpt, layer_b: int = LayerBOpt, match_depth: bool = MatchDepthOpt, hook: str = HookOpt,
          profile: str = ProfileOpt, method: str = AlignMethodOpt, rows: str = RowsOpt, k: int = KOpt, alpha: float = AlphaOpt,
          common_dim: int = CommonDimOpt, test_fraction: float = TestFractionOpt, n_boot: int = AlignBootOpt, split: str = SplitOpt,
          split_fraction: float = FractionOpt, runs_root: Path = RunsRootOpt, seed: int = SeedOpt, device: str = DeviceOpt,
          dtype: str = DtypeOpt, json_out: bool = JsonOpt) -> None:
    """Map A's residual space into B's with ridge and Procrustes learned on neutral sentences; judge emotion vectors on held-out data."""
    model_b, row_kinds = model_b or model_a, _choices(rows, ("end", "mean"), "--rows")
    _one(method, METHODS, "--method")
    ctx = RunContext.create("align", _config(locals()), root=runs_root, seed=seed)
    a = _inputs(ctx, store_a, model_a, profile, hook, None, split, split_fraction, seed, device, dtype, json_out, "activations-a")
    same = model_b == model_a and store_b is None
    b = a if same else _inputs(ctx, store_b, model_b, profile, hook, None, split, split_fraction, seed, device, dtype, json_out, "activations-b")
    with progress_bar("fitting and evaluating maps", len(KINDS), quiet=json_out) as update:
        rep = align_analysis(a.st, b.st, hook=hook, layer_a=layer_a, layer_b=layer_b, match_depth=match_depth, selection_a=a.selection,
                             selection_b=b.selection, evaluate_on={a.st.texts[i] for i in a.evaluation}, method=method,
                             rows=row_kinds, k=k, alpha=alpha, common_dim=common_dim,
                             test_fraction=test_fraction, n_boot=n_boot, seed=seed, progress=update, reference=a.reference)
    _show(ctx, rep, json_out)


def register(app: typer.Typer) -> None:
    app.command("vectors")(vectors)
    app.command("subspace")(subspace)
    app.command("align")(align)
