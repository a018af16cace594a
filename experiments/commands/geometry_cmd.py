"""``emotion-circuits vectors | subspace | align``: emotion geometry (phases 3 and 3.5) from residual activations.

Each command extracts the residual activations it needs into its run folder (or reads an
existing store given with ``--store``), writes ``results.json``, vectors and figures there,
and prints a short table (``--json`` for a machine-readable summary).
"""

from collections import Counter
from pathlib import Path

import torch
import typer

from experiments.cli_common import (DeviceOpt, DtypeOpt, JsonOpt, RunsRootOpt, SeedOpt, console, emit_json, load_model_cli,
                                    parse_int_list, parse_str_list, progress_bar, table)
from interp.activations import ActivationStore, extract_activations
from interp.datasets import load_dataset
from interp.errors import ConfigError, DatasetError, StoreError
from interp.figures import save_plotly
from interp.hook_names import hook_kind, parse_hook
from interp.io import atomic_write_json
from interp.registry import DEFAULT_MODEL
from interp.run_context import RunContext
from steering import geometry_figures as gf
from steering.alignment import KINDS
from steering.reliability import pair_key
from steering.store_alignment import align_stores, strongest_layer
from steering.vectors import CONTRASTS, METHODS, compute_emotion_vectors, save_vectors

StoreOpt = typer.Option(None, "--store", help="Existing activation store (from `emotion-circuits extract`); default: extract into the run folder.")
ModelOpt = typer.Option(DEFAULT_MODEL, "--model", "-m", help="Model to extract activations from (ignored with --store).")
ProfileOpt = typer.Option("baseline", "--profile", "-p", help="Dataset profile (baseline, extended) or a JSONL/CSV file.")
HooksOpt = typer.Option("resid_post", "--hooks", help="Residual hook kinds or full names to analyse (default resid_post).")
LayersOpt = typer.Option(None, "--layers", help="Layers, e.g. '0,5,10-12' (default: all).")


def _check_counts(ds, *, minimum: int = 2) -> None:
    counts = Counter(ds.labels)
    low = {e: c for e, c in counts.items() if c < minimum}
    if low:
        e, c = next(iter(low.items()))
        raise DatasetError(f"emotion {e!r} has {c} sentence(s) in {ds.source}; every emotion needs at least {minimum}")
    if "neutral" not in counts:
        raise DatasetError(f"{ds.source} has no neutral sentences; vectors, subspaces and alignment contrast against them")


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


def _small_matrix_threads() -> None:
    """Analyses here multiply small matrices many times: extra torch threads only contend (10× slower on shared CPUs)."""
    torch.set_num_threads(1)


def _layer(h: str) -> int:
    return parse_hook(h)[0] if parse_hook(h)[0] is not None else -1


def _ci(e: dict) -> str:
    return f"{e['value']:.3f} [{e['lo']:.3f}, {e['hi']:.3f}]"


SplitOpt = typer.Option("halves", "--split", help="halves: choose the band / headline layer on one half of each label and report "
                        "from the other (interp.splits); none: one set for both (the old, optimistic behaviour).")
FractionOpt = typer.Option(0.5, "--split-fraction", help="Share of each label in the selection split.")


def _splits(st: ActivationStore, split: str, fraction: float, seed: int, profile: str, store: Path | None):
    """Selection / evaluation indices into the store, the split's description, and the {emotion id: neutral id} pairs."""
    from steering.geometry_report import store_split
    from steering.vectors import pair_map

    if split not in ("halves", "none"):
        raise ConfigError(f"--split must be 'halves' or 'none', got {split!r}")
    records = None
    if store is None:
        ds = load_dataset(profile)
        if [r.id for r in ds.records] == st.ids:
            records = ds.records
    pairs = pair_map(records) if records is not None else {}
    if split == "none":
        idx = list(range(st.n))
        return idx, idx, {"method": "none: selection and evaluation are the same sentences (optimistic)"}, pairs
    sel, ev, desc = store_split(st, fraction=fraction, seed=seed, records=records)
    return sel, ev, desc, pairs


def vectors(
    model: str = ModelOpt, profile: str = ProfileOpt, store: Path = StoreOpt, hooks: str = HooksOpt, layers: str = LayersOpt,
    methods: str = typer.Option(",".join(METHODS), "--methods", help="sentence_end, token (vs all neutral tokens), token_matched "
                                "(vs neutral tokens at the same relative position)."),
    n_boot: int = typer.Option(200, "--n-boot", min=10, help="Bootstrap resamples for norm / cosine CIs."),
    n_shuffle: int = typer.Option(50, "--n-shuffle", min=1, help="Label permutations for the shuffled-label null."),
    n_splits: int = typer.Option(30, "--n-splits", min=1, help="Random half splits for split-half cosines."),
    probe_shuffles: int = typer.Option(200, "--probe-shuffles", min=0, help="Label shuffles for the headline probe's permutation p."),
    layer_probe_shuffles: int = typer.Option(1, "--layer-probe-shuffles", min=0, help="Shuffled-label probes per layer (table only)."),
    folds: int = typer.Option(5, "--folds", min=2, help="Cross-validation folds of the per-layer probes and the BoW baseline."),
    band_width: int = typer.Option(3, "--band-width", min=1, help="Layers in the reported emotion-strongest band."),
    split: str = SplitOpt, split_fraction: float = FractionOpt,
    runs_root: Path = RunsRootOpt, seed: int = SeedOpt, device: str = DeviceOpt, dtype: str = DtypeOpt,
    json_out: bool = JsonOpt,
) -> None:
    """Emotion vectors per layer and method: band chosen on the selection split; cosines, norms, probes (vs BoW and lexicon rule) from the evaluation split."""
    from steering.geometry_report import load_transfer_sets, transfer_rows, vectors_report

    method_list = parse_str_list(methods) or list(METHODS)
    for mth in method_list:
        if mth not in METHODS:
            raise ConfigError(f"--methods has {mth!r}; choose from {', '.join(METHODS)}")
    layer_list = parse_int_list(layers, name="--layers")
    hook_list = parse_str_list(hooks) or ["resid_post"]
    ctx = RunContext.create("vectors", {"model": model, "profile": profile, "store": store, "hooks": hook_list, "layers": layer_list,
                                        "methods": method_list, "n_boot": n_boot, "n_shuffle": n_shuffle, "n_splits": n_splits,
                                        "probe_shuffles": probe_shuffles, "folds": folds, "split": split,
                                        "split_fraction": split_fraction}, root=runs_root, seed=seed)
    st = _get_store(ctx, store, model, profile, hook_list, layer_list, device, dtype, json_out)
    sel = _select_hooks(st, hook_list, layer_list)
    _small_matrix_threads()
    selection, evaluation, split_desc, pairs = _splits(st, split, split_fraction, seed, profile, store)
    primary = hook_kind(sel[0]) or sel[0]
    same_kind = [h for h in sel if (hook_kind(h) or h) == primary]
    sets, notes = load_transfer_sets()
    transfer = None
    if sets and store is None:
        m = load_model_cli(model, device, dtype, quiet=True)
        transfer = lambda h, mth: transfer_rows(m, sets, h, mth, ctx.sub("transfer") / mth, pairs=pairs)  # noqa: E731
    elif sets:
        notes.append("implicit / trap sets exist but --store was given (no model to extract them): skipped")
    with progress_bar("vectors, reliability, probes", len(same_kind) * len(method_list) + len(method_list), quiet=json_out) as update:
        rep = vectors_report(st, same_kind, selection=selection, evaluation=evaluation, methods=method_list, contrasts=CONTRASTS,
                             n_boot=n_boot, n_splits=n_splits, n_shuffle=n_shuffle, folds=folds,
                             layer_probe_shuffles=layer_probe_shuffles, probe_shuffles=probe_shuffles, band_width=band_width,
                             seed=seed, pairs=pairs, transfer=transfer, progress=lambda d, t: update(d))
    vec_dir = ctx.sub("vectors")
    for mth in method_list:  # saved vectors use every sentence (the sweep and OV/QK evaluate on prompts, not these sentences)
        for con in CONTRASTS:
            save_vectors([v for h in sel for v in compute_emotion_vectors(st, h, method=mth, contrast=con, pairs=pairs).values()],
                         vec_dir / f"{mth}_{con}.safetensors")
    band, centre, pair = rep.band, rep.centre, rep.pair
    records, probes = rep.records, rep.probes
    at_band = {}
    for r in records:
        if r["contrast"] == "neutral" and r["layer"] in band:
            at_band.setdefault(r["method"], {})[r["layer"]] = {"cosine": r["reliability"]["cosine"][pair],
                                                              "null": r["reliability"]["cosine_null"][pair], "split": "evaluation"}
    summary = {"run_dir": str(ctx.path), "store": str(st.path), "model": st.model_name, "n_hooks": len(same_kind),
               "band": band, "band_metric": rep.to_dict()["band_rule"], "split": split_desc, "pair": pair, "cosine_at_band": at_band,
               "probe_at_band": {mth: {p["layer"]: p["probe"] for p in probes if p["layer"] in band and p["method"] == mth}
                                 for mth in method_list},
               "headline_probes": rep.headline_probes, "text_baselines": rep.text_baselines, "notes": notes + rep.notes}
    atomic_write_json(ctx.path / "results.json", {"summary": summary, **rep.to_dict()})
    fig_dir = ctx.sub("figures")
    save_plotly(gf.norm_profile_figure(records), fig_dir / "norm_profiles.html")
    mats = {}
    for r in records:
        if r["layer"] == centre:
            rel = r["reliability"]
            e = rel["emotions"]
            mats[f"{r['method']} / {r['contrast']} (layer {centre}, evaluation split)"] = {
                "emotions": e,
                "matrix": [[1.0 if a == b else rel["cosine"][pair_key(a, b)]["value"] for b in e] for a in e],
                "ci": [["1" if a == b else _ci(rel["cosine"][pair_key(a, b)]) for b in e] for a in e]}
    save_plotly(gf.cosine_heatmaps(mats), fig_dir / "cosine_heatmaps.html")
    save_plotly(gf.probe_figure(probes), fig_dir / "probe_accuracy.html")
    ctx.record_step("vectors", hooks=len(sel), band=band)
    summary["wall_seconds"] = ctx.finish()
    if json_out:
        emit_json(summary)
        return
    console.print(table(f"{st.model_name}: probes at band centre L{centre} (trained on selection, scored on evaluation)",
                        ["method", "activation probe", "bag of words", "lexicon rule", "act − BoW", "shuffled (p)"] +
                        [f"{n}" for n in sorted({k for hp in rep.headline_probes.values() for k in hp["transfer"]})],
                        [[m, _ci(hp["accuracy"]), _ci(hp["bow"]), _ci(hp["lexicon_rule"]), _ci(hp["activation_minus_bow"]),
                          f"{hp['shuffled']['value']:.2f} (p {hp['p_value']:.3g}, floor {hp['p_floor']:.3g})"] +
                         [_ci(hp["transfer"][n]["activation"]) for n in sorted(hp["transfer"])] for m, hp in rep.headline_probes.items()]))
    rows_out = []
    for r in [x for x in records if x["method"] == rep.band_method and x["contrast"] == "neutral"]:
        p = {pr["method"]: pr["probe"] for pr in probes if pr["hook"] == r["hook"]}
        cos = {x["method"]: x["reliability"] for x in records if x["hook"] == r["hook"] and x["contrast"] == "neutral"}
        rows_out.append([r["layer"], f"{r['selection_signal_ratio']:.1f}" + (" *" if r["layer"] in band else "")]
                        + [_ci(p[m]["accuracy"]) for m in method_list]
                        + [_ci(cos[m]["cosine"][pair]) + f" (null {cos[m]['cosine_null'][pair]['value']:.2f})" for m in method_list])
    tb = rep.text_baselines
    console.print(table(f"{st.model_name}: per layer (* = strongest band, chosen on selection; other columns: evaluation split; "
                        f"BoW {tb['bow']['value']:.2f}, lexicon rule {tb['lexicon_rule']['value']:.2f} on the same folds)",
                        ["layer", "signal/null (sel.)"] + [f"probe acc {m}" for m in method_list] + [f"cos {pair} {m}" for m in method_list], rows_out))
    for n in summary["notes"]:
        console.print(f"note: {n}")
    console.print(f"strongest band: layers {band[0]}–{band[-1]}  ·  results: {ctx.path}")


def subspace(
    model: str = ModelOpt, profile: str = ProfileOpt, store: Path = StoreOpt, hooks: str = HooksOpt, layers: str = LayersOpt,
    k: int = typer.Option(10, "--k", min=1, help="Subspace dimension."),
    method: str = typer.Option("sentence_end", "--method", help="First view: sentence_end, token or token_matched."),
    other: str = typer.Option("token_matched", "--other", help="Second view compared with --method at the same layer."),
    n_boot: int = typer.Option(20, "--n-boot", min=0, help="Stratified bootstrap resamples of the headline overlaps."),
    n_shuffle: int = typer.Option(100, "--n-shuffle", min=10, help="Null draws (label shuffles; neutral pseudo-splits) at the headline layer."),
    layer_shuffles: int = typer.Option(20, "--layer-shuffles", min=5, help="Null draws per layer for the table and the layer choice."),
    split: str = SplitOpt, split_fraction: float = FractionOpt,
    runs_root: Path = RunsRootOpt, seed: int = SeedOpt, device: str = DeviceOpt, dtype: str = DtypeOpt,
    json_out: bool = JsonOpt,
) -> None:
    """Emotion difference subspaces per layer vs label-shuffled and neutral-only nulls (old centred-PCA overlap and k/d beside them)."""
    from steering.geometry_report import subspace_report

    for name, m in (("--method", method), ("--other", other)):
        if m not in METHODS:
            raise ConfigError(f"{name} must be one of {', '.join(METHODS)}, got {m!r}")
    if method == other:
        raise ConfigError(f"--method and --other are both {method!r}; compare two different views")
    layer_list = parse_int_list(layers, name="--layers")
    hook_list = parse_str_list(hooks) or ["resid_post"]
    ctx = RunContext.create("subspace", {"model": model, "profile": profile, "store": store, "hooks": hook_list, "layers": layer_list,
                                         "k": k, "method": method, "other": other, "n_boot": n_boot, "n_shuffle": n_shuffle,
                                         "layer_shuffles": layer_shuffles, "split": split, "split_fraction": split_fraction},
                            root=runs_root, seed=seed)
    st = _get_store(ctx, store, model, profile, hook_list, layer_list, device, dtype, json_out)
    sel = _select_hooks(st, hook_list, layer_list)
    _small_matrix_threads()
    selection, evaluation, split_desc, pairs = _splits(st, split, split_fraction, seed, profile, store)
    with progress_bar("subspaces", len(sel) + 1, quiet=json_out) as update:
        rep = subspace_report(st, sel, selection=selection, evaluation=evaluation, k=k, methods=(method, other),
                              layer_shuffles=layer_shuffles, n_shuffle=n_shuffle, n_boot=n_boot, seed=seed, pairs=pairs,
                              progress=lambda d, t: update(d))
    key = f"overlap_{method}_vs_{other}"
    atomic_write_json(ctx.path / "results.json", {"method": method, "other": other, "split": split_desc, **rep.to_dict()})
    bars = [{"label": f"L{r['layer']} {method}~{other}", "overlap": r[key]} for r in rep.records]
    save_plotly(gf.nulled_overlap_bars(bars, title=f"{st.model_name}: {method} vs {other} difference subspaces (k={k}, evaluation split)"),
                ctx.sub("figures") / "overlap.html")
    wall = ctx.finish()
    summary = {"run_dir": str(ctx.path), "model": st.model_name, "k": k, "method": method, "other": other, "wall_seconds": wall,
               "split": split_desc, "headline": rep.headline,
               "layers": [{"layer": r["layer"], "overlap_methods": r[key], "overlap_next_layer": r.get("overlap_next_layer"),
                           "random_analytic": r[key]["random_analytic"]} for r in rep.records]}
    if json_out:
        emit_json(summary)
        return

    def cell(o):
        return (f"{o['overlap']['value']:.3f} vs shuf {o['shuffled_null']['value']:.3f} (p {o['p_shuffled']:.2g}) / "
                f"neu {o['neutral_null']['value']:.3f} (p {o['p_neutral']:.2g}); old {o['old_overlap']:.3f}") if o else "-"

    console.print(table(f"{st.model_name}: difference subspaces (k={k}; evaluation split; {layer_shuffles} null draws per layer; "
                        f"old = centred emotion PCA, random k/d = {rep.records[0][key]['random_analytic']:.4f})",
                        ["layer", f"overlap {method}~{other}", "overlap with next layer"],
                        [[r["layer"], cell(r[key]), cell(r.get("overlap_next_layer"))] for r in rep.records]))
    h = rep.headline
    console.print(f"headline layer {h['layer']} (chosen on the selection split), evaluation split, {n_shuffle} null draws "
                  f"(p floor {1 / (n_shuffle + 1):.3g}): {cell(h['methods'])}")
    console.print(f"results: {ctx.path}")


def align(
    model_a: str = typer.Option(..., "--model-a", help="Source model (A)."),
    model_b: str = typer.Option(None, "--model-b", help="Target model (B); default: same as A (align two layers)."),
    store_a: Path = typer.Option(None, "--store-a", help="Existing store for A (resid_post of the chosen layer at least)."),
    store_b: Path = typer.Option(None, "--store-b", help="Existing store for B."),
    layer_a: int = typer.Option(None, "--layer-a", help="Layer of A (default: centre of A's emotion-strongest band)."),
    layer_b: int = typer.Option(None, "--layer-b", help="Layer of B (default: B's strongest band, or depth-matched with --match-depth)."),
    match_depth: bool = typer.Option(False, "--match-depth", help="Pick B's layer at the same relative depth as A's."),
    hook_kind_: str = typer.Option("resid_post", "--hook", help="Residual hook kind used on both sides."),
    profile: str = ProfileOpt,
    method: str = typer.Option("sentence_end", "--method", help="How emotion vectors are read: sentence_end or token."),
    rows: str = typer.Option("end,mean", "--rows", help="Per-sentence training rows of neutral sentences: end, mean or both."),
    k: int = typer.Option(10, "--k", min=1, help="Subspace dimension for overlaps."),
    alpha: float = typer.Option(1e-2, "--alpha", help="Ridge strength relative to the mean squared row norm."),
    common_dim: int = typer.Option(None, "--common-dim", help="Procrustes common dimension (default: as many as the training rows allow)."),
    test_fraction: float = typer.Option(0.3, "--test-fraction", help="Share of shared neutral sentences held out."),
    n_boot: int = typer.Option(200, "--n-boot", min=10, help="Paired bootstrap resamples of emotion sentences."),
    runs_root: Path = RunsRootOpt, seed: int = SeedOpt, device: str = DeviceOpt, dtype: str = DtypeOpt,
    json_out: bool = JsonOpt,
) -> None:
    """Map A's residual space into B's with ridge and Procrustes learned on neutral sentences; judge emotion vectors on held-out data."""
    model_b = model_b or model_a
    if method not in METHODS:
        raise ConfigError(f"--method must be one of {', '.join(METHODS)}, got {method!r}")
    row_kinds = parse_str_list(rows) or ["end", "mean"]
    for r in row_kinds:
        if r not in ("end", "mean"):
            raise ConfigError(f"--rows has {r!r}; choose end, mean or both ('end,mean')")
    ctx = RunContext.create("align", {"model_a": model_a, "model_b": model_b, "layer_a": layer_a, "layer_b": layer_b, "match_depth": match_depth,
                                      "hook": hook_kind_, "profile": profile, "method": method, "rows": row_kinds, "k": k, "alpha": alpha,
                                      "common_dim": common_dim, "test_fraction": test_fraction, "n_boot": n_boot}, root=runs_root, seed=seed)
    sa = _get_store(ctx, store_a, model_a, profile, [hook_kind_], None, device, dtype, json_out, "activations-a")
    same = model_b == model_a and store_b is None
    sb = sa if same else _get_store(ctx, store_b, model_b, profile, [hook_kind_], None, device, dtype, json_out, "activations-b")
    hooks_a, hooks_b = _select_hooks(sa, [hook_kind_], None), _select_hooks(sb, [hook_kind_], None)
    _small_matrix_threads()
    from steering.geometry_report import store_split

    sel_a, ev_a, _ = store_split(sa, seed=seed)  # layers chosen on the selection half, vectors judged on the evaluation half
    sel_b = store_split(sb, seed=seed)[0]
    la = layer_a if layer_a is not None else strongest_layer(sa, hooks_a, seed=seed, rows=sel_a)
    nla, nlb = sa.manifest["model_info"]["n_layers"], sb.manifest["model_info"]["n_layers"]
    if layer_b is not None:
        lb = layer_b
    elif match_depth:
        lb = int(round(la * (nlb - 1) / max(nla - 1, 1)))
    else:
        lb = strongest_layer(sb, hooks_b, seed=seed, rows=sel_b)
    ha, hb = [h for h in hooks_a if _layer(h) == la], [h for h in hooks_b if _layer(h) == lb]
    if not ha or not hb:
        raise ConfigError(f"layer {la if not ha else lb} is not in the store ({hook_kind_} layers "
                          f"{[_layer(h) for h in (hooks_a if not ha else hooks_b)]})")
    with progress_bar("fitting and evaluating maps", len(KINDS), quiet=json_out) as update:
        res = align_stores(sa, sb, ha[0], hb[0], method=method, rows=row_kinds, k=k, alpha=alpha, common_dim=common_dim,
                           test_fraction=test_fraction, n_boot=n_boot, seed=seed, evaluate_on={sa.texts[i] for i in ev_a},
                           progress=lambda d, t: update(d))
    evals, checks = res.evaluations, res.checks
    tr, te = range(res.n_neutral_train), range(res.n_neutral_test)
    fig_dir = ctx.sub("figures")
    for kind, ev in evals.items():
        save_plotly(gf.alignment_bars(ev.to_dict(), title=f"{sa.model_name} L{la} → {sb.model_name} L{lb}"), fig_dir / f"alignment_{kind}.html")
    bars = [{"label": "before (zero-padded)", "overlap": evals["ridge"].overlap_before}] + \
           [{"label": f"after {kind}", "overlap": ev.overlap_after} for kind, ev in evals.items()]
    save_plotly(gf.overlap_bars(bars, title=f"emotion subspace overlap {sa.model_name} L{la} → {sb.model_name} L{lb} (k={k})"), fig_dir / "overlap.html")
    summary = {"run_dir": str(ctx.path), "model_a": sa.model_name, "model_b": sb.model_name, "layer_a": la, "layer_b": lb,
               "hook_a": ha[0], "hook_b": hb[0], "d_a": res.d_a, "d_b": res.d_b,
               "n_neutral_train": res.n_neutral_train, "n_neutral_test": res.n_neutral_test, "n_train_rows": res.n_train_rows,
               "n_emotion_sentences": res.n_emotion_sentences, "method": method,
               "before_note": "cos² before = A's and B's vectors zero-padded/truncated to max(d_a, d_b); across models this is a coordinate coincidence, compare 'after' with the random-map and shuffled-pairs baselines",
               "maps": {kind: ev.to_dict() for kind, ev in evals.items()}, "rotation_self_check": checks}
    atomic_write_json(ctx.path / "results.json", summary)
    summary["wall_seconds"] = ctx.finish()
    if json_out:
        emit_json(summary)
        return
    emos = evals["ridge"].emotions
    console.print(table(f"{sa.model_name} L{la} (d={summary['d_a']}) → {sb.model_name} L{lb} (d={summary['d_b']}): cos² of emotion vectors, "
                        f"held-out ({len(te)} neutral test, {len(tr)} train)",
                        ["emotion", "before (padded)", "after ridge", "after procrustes", "random map", "shuffled pairs (ridge)"],
                        [[e, _ci(evals["ridge"].cos2_before[e].to_dict()), _ci(evals["ridge"].cos2_after[e].to_dict()),
                          _ci(evals["procrustes"].cos2_after[e].to_dict()), _ci(evals["ridge"].cos2_random_map[e].to_dict()),
                          _ci(evals["ridge"].cos2_shuffled_pairs[e].to_dict())] for e in emos]))
    ov = [["before (padded)", _ci(evals["ridge"].overlap_before["overlap"]), evals["ridge"].overlap_before["random_analytic"],
           _ci(evals["ridge"].overlap_before["random_sampled"])]]
    ov += [[f"after {kind}", _ci(ev.overlap_after["overlap"]), ev.overlap_after["random_analytic"], _ci(ev.overlap_after["random_sampled"])]
           for kind, ev in evals.items()]
    console.print(table(f"emotion subspace overlap (k={k})", ["", "overlap", "random k/d", "random sampled"], ov))
    console.print(table("held-out neutral rows and rotation self-check (A vs rotated A)",
                        ["map", "held-out R²", "held-out cos", "self-check cos²", "span ceiling", "cos² in span", "passed"],
                        [[kind, f"{evals[kind].heldout_r2:.3f}", f"{evals[kind].heldout_cos:.3f}", f"{checks[kind]['mean_cos2']:.3f}",
                          f"{checks[kind]['span_ceiling']:.3f}", f"{checks[kind]['mean_cos2_in_span']:.4f}", checks[kind]["passed"]] for kind in KINDS]))
    console.print(f"results: {ctx.path}")


def register(app: typer.Typer) -> None:
    app.command("vectors")(vectors)
    app.command("subspace")(subspace)
    app.command("align")(align)
