"""Study phases 3 and 3.5: emotion vectors, PCA subspaces and cross-model alignment from the stored activations.

Each phase reads the extract phase's store(s), writes ``results.json``, vectors and figures
into its folder and returns a summary whose headline numbers carry CIs and baselines.
"""

from pathlib import Path

from experiments.phase_registry import row
from experiments.pipeline import StudyState
from interp.figures import save_plotly
from interp.hook_names import hook_kind
from interp.io import atomic_write_json
from interp.threads import torch_threads
from steering import geometry_figures as gf
from steering.reliability import pair_key
from steering.store_alignment import align_stores, hook_layer, strongest_layer
from steering.vectors import METHODS, compute_emotion_vectors, save_vectors

VECTORS_SUBDIR = "vectors"


def _hooks_of_kind(store, kind: str) -> list[str]:
    return [h for h in store.hooks if (hook_kind(h) or h) == kind]


def _pair(emotions: list[str]) -> str:
    return pair_key("gratitude", "anger") if {"gratitude", "anger"} <= set(emotions) else pair_key(emotions[0], emotions[-1])


def vectors_file(state: StudyState) -> Path:
    """The safetensors file of the study's vectors (sweep method, configured contrast) written by the vectors phase."""
    return state.ctx.path / "vectors" / VECTORS_SUBDIR / f"{state.cfg.sweep.method}_{state.cfg.vectors.contrast}.safetensors"


def _pairs(state: StudyState) -> dict:
    from steering.vectors import pair_map

    return pair_map(state.dataset.records) if state.dataset is not None else {}


def _transfer(state: StudyState, out: Path, pairs: dict):
    """Extractor of the implicit / trap sets for the headline probe (None when neither is shipped), and notes."""
    from steering.geometry_report import load_transfer_sets, transfer_rows

    sets, notes = load_transfer_sets()
    if not sets:
        return None, notes
    return (lambda h, mth: transfer_rows(state.model(state.cfg.study.model), sets, h, mth, out / "transfer" / mth, pairs=pairs)), notes


@torch_threads(1)  # many small matrix products: extra threads only contend; restored after
def phase_vectors(state: StudyState, out: Path) -> dict:
    """Phase 3: band chosen on the selection split; cosines, norms and probes (vs BoW and lexicon rule) from the evaluation split."""
    from steering.geometry_report import vectors_report

    cfg, seed = state.cfg.vectors, state.cfg.study.seed
    st = state.store()
    sel = _hooks_of_kind(st, cfg.hook)
    pairs = _pairs(state)
    transfer, notes = _transfer(state, out, pairs)
    rep = vectors_report(st, sel, selection=state.split_indices("selection"), evaluation=state.split_indices("evaluation"),
                         methods=list(cfg.methods), contrasts=(cfg.contrast,), n_boot=cfg.n_boot, n_splits=20, n_shuffle=30,
                         folds=cfg.probe_folds, layer_probe_shuffles=1, probe_shuffles=cfg.probe_shuffles, seed=seed, pairs=pairs,
                         transfer=transfer, progress=state.progress)
    # Vectors at every stored residual hook (the sweep steers at resid_pre, OV/QK reads resid_post), from every sentence.
    for mth in METHODS:
        vs = [v for h in st.hooks for v in compute_emotion_vectors(st, h, method=mth, contrast=cfg.contrast, pairs=pairs).values()]
        save_vectors(vs, out / VECTORS_SUBDIR / f"{mth}_{cfg.contrast}.safetensors")
    band, centre, pair, records, probes = rep.band, rep.centre, rep.pair, rep.records, rep.probes
    atomic_write_json(out / "results.json", {**rep.to_dict(), "split": state.split.describe(), "notes": notes + rep.notes})
    figs = out / "figures"
    save_plotly(gf.norm_profile_figure(records), figs / "norm_profiles.html")
    mats = {}
    for r in records:
        if r["layer"] == centre:
            rel = r["reliability"]
            mats[f"{r['method']} / {r['contrast']} (layer {centre}, evaluation split)"] = {
                "emotions": rel["emotions"],
                "matrix": [[1.0 if a == b else rel["cosine"][pair_key(a, b)]["value"] for b in rel["emotions"]] for a in rel["emotions"]],
                "ci": [["1" if a == b else _ci(rel["cosine"][pair_key(a, b)]) for b in rel["emotions"]] for a in rel["emotions"]]}
    save_plotly(gf.cosine_heatmaps(mats), figs / "cosine_heatmaps.html")
    save_plotly(gf.probe_figure(probes), figs / "probe_accuracy.html")
    headline = []
    for mth, hp in rep.headline_probes.items():  # the summary leads with the probe vs its text baselines
        a = hp["accuracy"]
        headline.append(row(f"probe accuracy at band centre ({mth})", a["value"], a["lo"], a["hi"], p=hp["p_value"],
                            baseline=f"bag of words {_ci(hp['bow'])}; lexicon rule {_ci(hp['lexicon_rule'])}; chance {hp['chance']:.3f}; "
                                     f"shuffled {hp['shuffled']['value']:.3f}",
                            note=f"layer {centre}; trained on selection ({hp['n_train']}), scored on evaluation ({hp['n_test']}); "
                                 f"activation − BoW {_ci(hp['activation_minus_bow'])}; {hp['n_shuffle']} label shuffles (p floor {hp['p_floor']:.3g})"))
        for name, t in hp["transfer"].items():
            headline.append(row(f"probe on the {name} set ({mth}): {t['metric']}", t["activation"]["value"], t["activation"]["lo"],
                                t["activation"]["hi"], baseline=f"bag of words {_ci(t['bow'])}; lexicon rule {_ci(t['lexicon_rule'])}",
                                note=f"{t['n']} sentences; probe trained on the selection split"))
    headline.append(row("strongest band (layers)", f"{band[0]}–{band[-1]}",
                        note=f"{rep.band_method} signal ratio ||v||²/shuffled-label ||v||² on the selection split, widest 3-layer band"))
    table_rows = []
    for r, p in zip(records, probes):
        if r["layer"] == centre:
            c, n = r["reliability"]["cosine"][pair], r["reliability"]["cosine_null"][pair]
            headline.append(row(f"cos {pair} at band centre ({r['method']})", c["value"], c["lo"], c["hi"],
                                baseline=f"shuffled labels {n['value']:.3f} [{n['lo']:.3f}, {n['hi']:.3f}]", note=f"layer {centre}; evaluation split"))
        if r["method"] == rep.band_method:
            table_rows.append([r["layer"], round(r["selection_signal_ratio"], 2),
                               *[round(r["reliability"]["norm"][e]["value"], 3) for e in r["reliability"]["emotions"]],
                               round(p["probe"]["accuracy"]["value"], 3)])
    emos = records[0]["reliability"]["emotions"]
    tb = rep.text_baselines
    return {"text": f"Emotion vectors (emotion mean − {cfg.contrast} mean) at {cfg.hook} of {len(sel)} layers, methods "
                    f"{', '.join(cfg.methods)}; band chosen on the selection split ({rep.n_selection} sentences), every other number "
                    f"from the evaluation split ({rep.n_evaluation}); CIs from {cfg.n_boot} stratified bootstrap resamples. "
                    f"Text baselines on the evaluation folds: bag of words {_ci(tb['bow'])}, lexicon rule {_ci(tb['lexicon_rule'])}. "
                    + " ".join(notes + rep.notes),
            "headline": headline, "band": band, "centre": centre,
            "tables": [{"title": f"per layer ({rep.band_method}; signal/null on selection, the rest on evaluation)",
                        "columns": ["layer", "signal/null (sel.)", *[f"‖{e}‖" for e in emos], "probe acc (CV)"], "rows": table_rows}]}


def _ci(e: dict) -> str:
    return f"{e['value']:.3f} [{e['lo']:.3f}, {e['hi']:.3f}]"


@torch_threads(1)  # many small matrix products: extra threads only contend; restored after
def phase_subspace(state: StudyState, out: Path) -> dict:
    """Phase 3.5: difference subspaces per layer vs label-shuffled and neutral-only nulls; headline layer chosen on the selection split."""
    from steering.geometry_report import subspace_report

    cfg, seed = state.cfg.subspace, state.cfg.study.seed
    st = state.store()
    sel = _hooks_of_kind(st, state.cfg.vectors.hook)
    rep = subspace_report(st, sel, selection=state.split_indices("selection"), evaluation=state.split_indices("evaluation"), k=cfg.k,
                          methods=("sentence_end", "token_matched"), layer_shuffles=cfg.layer_shuffles, n_shuffle=cfg.n_shuffle,
                          n_boot=20, seed=seed, pairs=_pairs(state), progress=state.progress)
    key = "overlap_sentence_end_vs_token_matched"
    atomic_write_json(out / "results.json", {**rep.to_dict(), "split": state.split.describe()})
    save_plotly(gf.nulled_overlap_bars([{"label": f"L{r['layer']}", "overlap": r[key]} for r in rep.records],
                                       title=f"sentence_end vs token_matched difference subspaces per layer (k={cfg.k}, evaluation split)"),
                out / "figures" / "overlap.html")
    h = rep.headline
    headline = []
    for name, o in (("sentence_end and token_matched subspaces", h["methods"]), ("adjacent layers' subspaces", h.get("next_layer"))):
        if o is None:
            continue
        headline.append(row(f"overlap of {name} (layer {h['layer']})", o["overlap"]["value"], o["overlap"]["lo"], o["overlap"]["hi"],
                            p=o["p_shuffled"],
                            baseline=f"label-shuffled {_ci(o['shuffled_null'])}; neutral-only {_ci(o['neutral_null'])} "
                                     f"(p {o['p_neutral']:.3g}); old centred PCA {o['old_overlap']:.3f} vs random k/d {o['random_analytic']:.4f}",
                            note=f"evaluation split; layer chosen on the selection split; {o['n_shuffle']} null draws (p floor {o['p_floor']:.3g})"))
    table = [[r["layer"], _ci(r[key]["overlap"]), _ci(r[key]["shuffled_null"]), round(r[key]["p_shuffled"], 3),
              _ci(r[key]["neutral_null"]), round(r[key]["old_overlap"], 3),
              _ci(r["overlap_next_layer"]["overlap"]) + f" (shuf {r['overlap_next_layer']['shuffled_null']['value']:.3f})"
              if "overlap_next_layer" in r else "—"] for r in rep.records]
    return {"text": f"Difference subspaces (k={cfg.k}): PCA with center=False of whitened emotion rows minus the neutral mean; overlap = "
                    f"mean cos² of principal angles against label-shuffled and neutral-only subspaces at the same layer "
                    f"({cfg.layer_shuffles} draws per layer, {cfg.n_shuffle} at the headline layer); 'old' is the centred emotion PCA "
                    f"the study reported before (its only baseline was random k/d, which real activations beat by construction).",
            "headline": headline,
            "tables": [{"title": "per layer (evaluation split)", "columns": ["layer", "overlap methods", "label-shuffled null", "p",
                                                                             "neutral-only null", "old overlap", "overlap next layer"],
                        "rows": table}]}


@torch_threads(1)  # many small matrix products: extra threads only contend; restored after
def phase_align(state: StudyState, out: Path) -> dict:
    """Phase 3.5: map the main model's residual space into model B's (ridge, Procrustes) learned on neutral sentences."""
    cfg, seed = state.cfg.align, state.cfg.study.seed
    sa, sb = state.store(), state.store(cfg.model_b)
    kind = state.cfg.vectors.hook
    ha_all, hb_all = _hooks_of_kind(sa, kind), _hooks_of_kind(sb, kind)
    sel_ids = {r.id for r in state.split.part("selection").records}
    ev_texts = {r.text for r in state.split.part("evaluation").records}

    def sel_rows(st) -> list[int]:
        return [i for i, rid in enumerate(st.ids) if rid in sel_ids]

    la = cfg.layer_a if cfg.layer_a >= 0 else strongest_layer(sa, ha_all, seed=seed, rows=sel_rows(sa))
    lb = cfg.layer_b if cfg.layer_b >= 0 else strongest_layer(sb, hb_all, seed=seed, rows=sel_rows(sb))
    ha = next((h for h in ha_all if hook_layer(h) == la), None)
    hb = next((h for h in hb_all if hook_layer(h) == lb), None)
    from interp.errors import ConfigError

    if ha is None or hb is None:
        raise ConfigError(f"[align] layer {la if ha is None else lb} is not in the stored {kind} layers")
    res = align_stores(sa, sb, ha, hb, k=state.cfg.subspace.k, alpha=cfg.ridge, test_fraction=cfg.holdout, n_boot=200, seed=seed,
                       evaluate_on=ev_texts, progress=state.progress)
    d = res.to_dict()
    d.update(model_a=sa.model_name, model_b=sb.model_name, layer_a=la, layer_b=lb,
             split={"layers_chosen_on": "selection", "emotion_vectors_judged_on": "evaluation"})
    atomic_write_json(out / "results.json", d)
    for k, ev in res.evaluations.items():
        save_plotly(gf.alignment_bars(ev.to_dict(), title=f"{sa.model_name} L{la} → {sb.model_name} L{lb} ({k})"),
                    out / "figures" / f"alignment_{k}.html")
    ridge = res.evaluations["ridge"]
    headline = []
    for e in ridge.emotions:
        after, before, rnd = ridge.cos2_after[e], ridge.cos2_before[e], ridge.cos2_random_map[e]
        headline.append(row(f"cos² {e} after ridge map", after.value, after.lo, after.hi,
                            baseline=f"before {before.value:.3f}; random map {rnd.value:.3f}; "
                                     f"shuffled pairs {ridge.cos2_shuffled_pairs[e].value:.3f}"))
    ov = ridge.overlap_after
    headline.append(row(f"subspace overlap after ridge (k={ridge.k})", ov["overlap"]["value"], ov["overlap"]["lo"], ov["overlap"]["hi"],
                        baseline=f"before {ridge.overlap_before['overlap']['value']:.3f}; random k/d {ov['random_analytic']:.4f}"))
    table = [[k, round(ev.heldout_r2, 3), round(ev.mean_after(), 3), round(res.checks[k]["mean_cos2_in_span"], 4), res.checks[k]["passed"]]
             for k, ev in res.evaluations.items()]
    return {"text": f"{sa.model_name} L{la} (d={res.d_a}) → {sb.model_name} L{lb} (d={res.d_b}); maps fitted on "
                    f"{res.n_neutral_train} neutral sentences, judged on {res.n_neutral_test} held-out neutral sentences and "
                    f"{res.n_emotion_sentences} evaluation-split emotion sentences (layers chosen on the selection split). 'Before' pads the vectors to a common size: a coordinate coincidence.",
            "headline": headline,
            "tables": [{"title": "maps", "columns": ["map", "held-out R²", "mean cos² after", "self-check cos² in span", "self-check passed"],
                        "rows": table}]}
