"""Study phases 1 and 2: the sentence set and its activations.

Like every phase (declared in :mod:`experiments.phase_registry`), each takes the shared :class:`StudyState`
and its output folder, writes results/figures there and returns a ``summary`` dict (headline numbers with
CIs and baselines)."""

import time
from pathlib import Path

from experiments.phase_registry import row
from experiments.pipeline import StudyState
from interp.activations import extract_activations
from interp.datasets import validate
from interp.errors import DatasetError
from interp.positions import token_ids_and_offsets
from interp.stats import bootstrap_ci


def phase_dataset(state: StudyState, out: Path) -> dict:
    """Phase 1: validate the sentence set and measure token lengths under the model's tokenizer."""
    ds = state.dataset
    report = validate(ds)
    if not report.ok:
        raise DatasetError(f"{ds.source}: {len(report.problems)} rule violation(s); first: {report.problems[0]}")
    model = state.model(state.cfg.study.model)
    rows, headline = [], []
    for emo in ds.emotions:
        lens = [len(token_ids_and_offsets(model, r.text)[0]) for r in ds.by_emotion(emo)]
        est = bootstrap_ci(lens, seed=state.cfg.study.seed)
        rows.append([emo, len(lens), round(est.value, 2), min(lens), max(lens)])
        headline.append(row(f"mean tokens ({emo})", est.value, est.lo, est.hi, note=f"n={len(lens)}"))
        state.progress(len(rows), len(ds.emotions))
    return {"text": f"{len(ds)} sentences from {ds.source}, all dataset rules pass (hash {ds.hash()[:12]}).",
            "headline": headline, "tables": [{"title": "per emotion (tokens incl. BOS)", "columns": ["emotion", "n", "mean", "min", "max"], "rows": rows}]}


def phase_extract(state: StudyState, out: Path) -> dict:
    """Phase 2: activations of every sentence (and of model B for alignment)."""
    cfg = state.cfg
    ds = state.dataset
    jobs = [(cfg.study.model, out / "activations", cfg.extract.hooks)]
    if cfg.enabled("align"):
        jobs.append((cfg.align.model_b, out / f"activations-{cfg.align.model_b}", ["resid_post"]))
    rows, headline = [], []
    for name, folder, hooks in jobs:
        model = state.model(name)
        t0 = time.perf_counter()
        store = extract_activations(model, ds, folder, hooks=hooks, batch_size=cfg.extract.batch_size, dtype=cfg.extract.dtype,
                                    progress=state.progress)
        secs = time.perf_counter() - t0
        n_tok = int(store.lengths.sum())
        size = sum(p.stat().st_size for p in folder.glob("shard-*.safetensors"))
        rows.append([name, store.n, len(store.hooks), n_tok, round(n_tok / max(secs, 1e-9), 1), round(size / 1e6, 1)])
        headline.append(row(f"{name}: hooks stored", len(store.hooks), note=f"{store.n} sentences, {n_tok} tokens, {size / 1e6:.0f} MB"))
    return {"text": "Activations streamed to safetensors shards with sentence-end and emotion-word positions.",
            "headline": headline,
            "tables": [{"title": "stores", "columns": ["model", "sentences", "hooks", "tokens", "tokens/s", "MB"], "rows": rows}]}
