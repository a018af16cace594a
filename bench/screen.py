"""Benchmark: head screening (one cached forward per batch) vs a plain forward pass over the same batches.

Usage: python bench/screen.py [--model smollm2-135m] [--batch-size 32] [--repeats 1]
Prints (``--json``: as JSON) both wall times and their ratio (target ≤ 1.5). Statistics (bootstrap,
permutation) are timed separately: they do not touch the model.
"""

import time

import torch
from common import bench_model, bench_parser, emit

from circuits.head_screening import screen_heads
from interp.datasets import load_profile
from interp.positions import tokenize_batch


def main() -> None:
    ap = bench_parser(__doc__, repeats=1)
    ap.add_argument("--profile", default="baseline")
    ap.add_argument("--batch-size", type=int, default=32)
    ap.add_argument("--with-stats", action="store_true", help="also time the bootstrap/permutation statistics")
    args = ap.parse_args()
    model = bench_model(args)
    ds = load_profile(args.profile)
    texts = [r.text for r in ds.records]
    spans = [r.spans for r in ds.records]
    batches = [tokenize_batch(model, texts[i:i + args.batch_size], spans[i:i + args.batch_size])
               for i in range(0, len(texts), args.batch_size)]
    plain, screen, stats = [], [], []
    for _ in range(args.repeats):
        t0 = time.perf_counter()
        with torch.no_grad():
            for b in batches:
                model(b.tokens, attention_mask=b.attention_mask, return_type=None)
        plain.append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        screen_heads(model, ds, batch_size=args.batch_size, n_boot=1, n_perm=1)
        screen.append(time.perf_counter() - t0)
        if args.with_stats:
            t0 = time.perf_counter()
            screen_heads(model, ds, batch_size=args.batch_size, n_boot=1000, n_perm=10000)
            stats.append(time.perf_counter() - t0 - screen[-1])
    p, s = min(plain), min(screen)
    out = {"model": args.model, "n_sentences": len(texts), "n_heads": model.cfg.n_layers * model.cfg.n_heads,
           "n_batches": len(batches), "batch_size": args.batch_size, "plain_forward_s": round(p, 3),
           "screening_forward_s": round(s, 3), "ratio": round(s / p, 3), "target_ratio": 1.5,
           "stats_extra_s_n_boot_1000_n_perm_10000": round(min(stats), 3) if stats else None}
    emit(out, [f"{args.model}: {len(texts)} sentences in {len(batches)} batches of {args.batch_size}",
               f"  plain forward {p:.3f} s, screening forward {s:.3f} s: ratio {s / p:.3f} (target ≤ 1.5)"]
         + ([f"  statistics (1000 bootstrap, 10000 permutations): +{min(stats):.3f} s"] if stats else []), args)

if __name__ == "__main__":
    main()
