"""Benchmark: activation extraction throughput vs a plain forward pass, same batches, one run.

Prints tokens/s of (a) plain forward passes (logits, no hooks) over the baseline set's
padded batches and (b) ``extract_activations`` with every residual hook (resid_pre and
resid_post of all layers) streamed to safetensors shards, and their ratio (b ÷ a).
Each is timed ``--repeats`` times, interleaved; medians are reported.

    python bench/extract.py [--model smollm2-135m] [--batch-size 32] [--repeats 3]
"""

import shutil
import statistics
import tempfile
import time

import torch
from common import bench_model, bench_parser, emit

from interp.activations import extract_activations
from interp.datasets import load_profile
from interp.positions import tokenize_batch


def plain_forward(model, ds, batch_size: int) -> tuple[float, int]:
    n_tok = 0
    t0 = time.perf_counter()
    with torch.no_grad():
        for a in range(0, len(ds), batch_size):
            recs = ds.records[a : a + batch_size]
            tb = tokenize_batch(model, [r.text for r in recs], [r.spans for r in recs])
            model(tb.tokens, attention_mask=tb.attention_mask)
            n_tok += sum(tb.lengths)
    return time.perf_counter() - t0, n_tok


def extraction(model, ds, batch_size: int, hooks: list[str]) -> tuple[float, int]:
    out = tempfile.mkdtemp(prefix="bench-extract-")
    try:
        t0 = time.perf_counter()
        store = extract_activations(model, ds, out, hooks=hooks, batch_size=batch_size)
        secs = time.perf_counter() - t0
        return secs, int(store.lengths.sum())
    finally:
        shutil.rmtree(out, ignore_errors=True)


def main() -> None:
    ap = bench_parser(__doc__)
    ap.add_argument("--profile", default="baseline")
    ap.add_argument("--batch-size", type=int, default=32)
    args = ap.parse_args()
    model = bench_model(args)
    ds = load_profile(args.profile)
    hooks = ["resid_pre", "resid_post"]
    plain_forward(model, ds.subset(limit_per_emotion=8), args.batch_size)  # warm-up
    fwd, ext = [], []
    for _ in range(args.repeats):
        s, n = plain_forward(model, ds, args.batch_size)
        fwd.append(n / s)
        s, n = extraction(model, ds, args.batch_size, hooks)
        ext.append(n / s)
    f, e = statistics.median(fwd), statistics.median(ext)
    n_hooks = 2 * model.cfg.n_layers
    out = {"model": args.model, "n_sentences": len(ds), "batch_size": args.batch_size, "threads": torch.get_num_threads(),
           "forward_tokens_per_s": fwd, "extraction_tokens_per_s": ext, "n_hooks": n_hooks, "ratio": e / f, "target": 0.85}
    emit(out, [f"model {args.model}, {len(ds)} sentences, batch {args.batch_size}, torch threads {torch.get_num_threads()}",
               f"plain forward:          {f:9.1f} tokens/s  (runs: {', '.join(f'{x:.0f}' for x in fwd)})",
               f"extraction ({n_hooks} hooks): {e:9.1f} tokens/s  (runs: {', '.join(f'{x:.0f}' for x in ext)})",
               f"ratio extraction / forward: {e / f:.3f}  (target ≥ 0.85)"], args)


if __name__ == "__main__":
    main()
