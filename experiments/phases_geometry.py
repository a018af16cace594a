"""Study phases 3 and 3.5: emotion vectors, PCA subspaces and cross-model alignment from the stored activations.

Each phase reads the extract phase's store(s), writes ``results.json``, vectors and figures
into its folder and returns a summary whose headline numbers carry CIs and baselines.
"""

from pathlib import Path

from experiments.phase_common import row
from experiments.pipeline import StudyState
from interp.figures import save_plotly
from interp.hook_names import hook_kind
from interp.io import atomic_write_json
from interp.threads import torch_threads
from steering import geometry_figures as gf
from steering.probes import probe_accuracy
from steering.reliability import pair_key, strongest_band, vector_reliability
from steering.store_alignment import align_stores, hook_layer, strongest_layer
from steering.subspace import bootstrap_overlap, compare_subspaces, emotion_rows, pca_subspace
from steering.vectors import METHODS, compute_emotion_vectors, reference_rows, save_vectors

VECTORS_SUBDIR = "vectors"


def _hooks_of_kind(store, kind: str) -> list[str]:
    return [h for h in store.hooks if (hook_kind(h) or h) == kind]


def _pair(emotions: list[str]) -> str:
    return pair_key("gratitude", "anger") if {"gratitude", "anger"} <= set(emotions) else pair_key(emotions[0], emotions[-1])


def vectors_file(state: StudyState) -> Path:
    """The safetensors file of the study's vectors (sweep method, configured contrast) written by the vectors phase."""
    return state.ctx.path / "vectors" / VECTORS_SUBDIR / f"{state.cfg.sweep.method}_{state.cfg.vectors.contrast}.safetensors"


@torch_threads(1)  # many small matrix products: extra threads only contend; restored after
def phase_vectors(state: StudyState, out: Path) -> dict:
    """Phase 3: vectors per layer and method, their norms and cosines (bootstrap CIs, shuffled-label null), probes."""
    cfg, seed = state.cfg.vectors, state.cfg.study.seed
    st = state.store()
    sel = _hooks_of_kind(st, cfg.hook)
    labels = st.labels
    records, probes = [], []
    total = len(sel) * len(cfg.methods)
    for i, h in enumerate(sel):
        for j, mth in enumerate(cfg.methods):
            rows = reference_rows(st, h, mth)
            rel = vector_reliability(rows, labels, contrast=cfg.contrast, n_boot=cfg.n_boot, n_splits=20, n_shuffle=30, seed=seed)
            records.append({"hook": h, "layer": hook_layer(h), "method": mth, "contrast": cfg.contrast, "reliability": rel.to_dict()})
            probe = probe_accuracy(rows, labels, folds=cfg.probe_folds, n_shuffle=1, seed=seed)
            probes.append({"hook": h, "layer": hook_layer(h), "method": mth, "probe": probe.to_dict()})
            state.progress(i * len(cfg.methods) + j + 1, total)
    # Vectors at every stored residual hook (the sweep steers at resid_pre, OV/QK reads resid_post).
    for mth in METHODS:
        vs = [v for h in st.hooks for v in compute_emotion_vectors(st, h, method=mth, contrast=cfg.contrast).values()]
        save_vectors(vs, out / VECTORS_SUBDIR / f"{mth}_{cfg.contrast}.safetensors")
    band_method = "sentence_end" if "sentence_end" in cfg.methods else cfg.methods[0]
    sig = [r for r in records if r["method"] == band_method]
    band = strongest_band([r["reliability"]["signal_ratio"] for r in sig], [r["layer"] for r in sig], width=3)
    centre = band[len(band) // 2]
    emos = sig[0]["reliability"]["emotions"]
    pair = _pair(emos)
    atomic_write_json(out / "results.json", {"band": band, "centre": centre, "pair": pair, "records": records, "probes": probes})
    figs = out / "figures"
    save_plotly(gf.norm_profile_figure(records), figs / "norm_profiles.html")
    mats = {}
    for r in records:
        if r["layer"] == centre:
            rel = r["reliability"]
            mats[f"{r['method']} / {r['contrast']} (layer {centre})"] = {
                "emotions": rel["emotions"],
                "matrix": [[1.0 if a == b else rel["cosine"][pair_key(a, b)]["value"] for b in rel["emotions"]] for a in rel["emotions"]],
                "ci": [["1" if a == b else _ci(rel["cosine"][pair_key(a, b)]) for b in rel["emotions"]] for a in rel["emotions"]]}
    save_plotly(gf.cosine_heatmaps(mats), figs / "cosine_heatmaps.html")
    save_plotly(gf.probe_figure(probes), figs / "probe_accuracy.html")
    headline = [row("strongest band (layers)", f"{band[0]}–{band[-1]}",
                    note=f"{band_method} signal ratio ||v||²/shuffled-label ||v||², widest 3-layer band")]
    table_rows = []
    for r, p in zip(records, probes):
        if r["layer"] == centre:
            c, n = r["reliability"]["cosine"][pair], r["reliability"]["cosine_null"][pair]
            headline.append(row(f"cos {pair} at band centre ({r['method']})", c["value"], c["lo"], c["hi"],
                                baseline=f"shuffled labels {n['value']:.3f} [{n['lo']:.3f}, {n['hi']:.3f}]", note=f"layer {centre}"))
            a = p["probe"]
            headline.append(row(f"probe accuracy at band centre ({p['method']})", a["accuracy"]["value"], a["accuracy"]["lo"],
                                a["accuracy"]["hi"], baseline=f"chance {a['chance']:.3f}; shuffled {a['shuffled']['value']:.3f}",
                                note=f"layer {centre}, {state.cfg.vectors.probe_folds}-fold logistic regression"))
        if r["method"] == band_method:
            table_rows.append([r["layer"], round(r["reliability"]["signal_ratio"], 2),
                               *[round(r["reliability"]["norm"][e]["value"], 3) for e in emos],
                               round(p["probe"]["accuracy"]["value"], 3)])
    return {"text": f"Emotion vectors (emotion mean − {cfg.contrast} mean) at {cfg.hook} of {len(sel)} layers, methods "
                    f"{', '.join(cfg.methods)}; CIs from {cfg.n_boot} stratified bootstrap resamples.",
            "headline": headline, "band": band, "centre": centre,
            "tables": [{"title": f"per layer ({band_method})", "columns": ["layer", "signal/null", *[f"‖{e}‖" for e in emos], "probe acc"],
                        "rows": table_rows}]}


def _ci(e: dict) -> str:
    return f"{e['value']:.3f} [{e['lo']:.3f}, {e['hi']:.3f}]"


@torch_threads(1)  # many small matrix products: extra threads only contend; restored after
def phase_subspace(state: StudyState, out: Path) -> dict:
    """Phase 3.5: PCA emotion subspace per layer; overlap of the two methods' subspaces and of adjacent layers vs random."""
    cfg, seed = state.cfg.subspace, state.cfg.study.seed
    st = state.store()
    sel = _hooks_of_kind(st, state.cfg.vectors.hook)
    labels = st.labels
    rows = {m: {h: emotion_rows(reference_rows(st, h, m), labels) for h in sel} for m in METHODS}
    recs, bars = [], []
    for i, h in enumerate(sel):
        a, b = rows["sentence_end"][h], rows["token"][h]
        sub = pca_subspace(a, cfg.k)
        cross = compare_subspaces(sub.basis, pca_subspace(b, cfg.k).basis, boot=bootstrap_overlap(a, b, cfg.k, n_boot=30, seed=seed),
                                  n_random=cfg.n_random, seed=seed)
        rec = {"hook": h, "layer": hook_layer(h), "subspace": sub.to_dict(), "overlap_methods": cross.to_dict()}
        if i + 1 < len(sel):
            nxt = rows["sentence_end"][sel[i + 1]]
            rec["overlap_next_layer"] = compare_subspaces(sub.basis, pca_subspace(nxt, cfg.k).basis,
                                                          boot=bootstrap_overlap(a, nxt, cfg.k, n_boot=30, seed=seed),
                                                          n_random=cfg.n_random, seed=seed).to_dict()
        recs.append(rec)
        bars.append({"label": f"L{hook_layer(h)}", "overlap": cross.to_dict()})
        state.progress(i + 1, len(sel))
    atomic_write_json(out / "results.json", {"k": cfg.k, "records": recs})
    save_plotly(gf.overlap_bars(bars, title=f"sentence_end vs token emotion subspaces per layer (k={cfg.k})"), out / "figures" / "overlap.html")
    best = max(recs, key=lambda r: r["overlap_methods"]["overlap"]["value"])
    o = best["overlap_methods"]
    last = recs[-1]
    headline = [row("overlap of sentence_end and token subspaces (best layer)", o["overlap"]["value"], o["overlap"]["lo"],
                    o["overlap"]["hi"], baseline=f"random k/d {o['random_analytic']:.4f}; sampled {o['random_sampled']['value']:.4f}",
                    note=f"layer {best['layer']}; permutation p {o['p_value']:.3g}"),
                row(f"explained variance of top-{cfg.k} (last layer)", last["subspace"]["explained_total"],
                    note=f"layer {last['layer']}; {last['subspace']['n']} emotion rows (emotion − neutral mean)")]
    table = [[r["layer"], round(r["subspace"]["explained_total"], 3), _ci(r["overlap_methods"]["overlap"]),
              _ci(r["overlap_next_layer"]["overlap"]) if "overlap_next_layer" in r else "—", r["overlap_methods"]["random_analytic"]]
             for r in recs]
    return {"text": f"PCA subspaces (k={cfg.k}) of emotion rows minus the neutral mean; overlap = mean cos² of principal angles, "
                    f"CIs from a paired bootstrap, baselines from random subspaces.",
            "headline": headline,
            "tables": [{"title": "per layer", "columns": ["layer", "explained", "overlap methods", "overlap next layer", "random k/d"],
                        "rows": table}]}


@torch_threads(1)  # many small matrix products: extra threads only contend; restored after
def phase_align(state: StudyState, out: Path) -> dict:
    """Phase 3.5: map the main model's residual space into model B's (ridge, Procrustes) learned on neutral sentences."""
    cfg, seed = state.cfg.align, state.cfg.study.seed
    sa, sb = state.store(), state.store(cfg.model_b)
    kind = state.cfg.vectors.hook
    ha_all, hb_all = _hooks_of_kind(sa, kind), _hooks_of_kind(sb, kind)
    la = cfg.layer_a if cfg.layer_a >= 0 else strongest_layer(sa, ha_all, seed=seed)
    lb = cfg.layer_b if cfg.layer_b >= 0 else strongest_layer(sb, hb_all, seed=seed)
    ha = next((h for h in ha_all if hook_layer(h) == la), None)
    hb = next((h for h in hb_all if hook_layer(h) == lb), None)
    from interp.errors import ConfigError

    if ha is None or hb is None:
        raise ConfigError(f"[align] layer {la if ha is None else lb} is not in the stored {kind} layers")
    res = align_stores(sa, sb, ha, hb, k=state.cfg.subspace.k, alpha=cfg.ridge, test_fraction=cfg.holdout, n_boot=200, seed=seed,
                       progress=state.progress)
    d = res.to_dict()
    d.update(model_a=sa.model_name, model_b=sb.model_name, layer_a=la, layer_b=lb)
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
                    f"{res.n_emotion_sentences} emotion sentences. 'Before' pads the vectors to a common size: a coordinate coincidence.",
            "headline": headline,
            "tables": [{"title": "maps", "columns": ["map", "held-out R²", "mean cos² after", "self-check cos² in span", "self-check passed"],
                        "rows": table}]}
