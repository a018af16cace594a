"""Benchmark: head screening (one cached forward per batch) vs a plain forward pass over the same batches.

Usage: python bench/screen.py [--model smollm2-135m] [--batch-size 32] [--repeats 1]
Prints JSON with both wall times and their ratio (target ≤ 1.5). Statistics (bootstrap,
permutation) are timed separately: they do not touch the model.
"""

import argparse
import json
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout without reinstalling


def main() -> None:
    from interp.registry import DEFAULT_MODEL

    ap = argparse.ArgumentParser()
    ap.add_argument("--model", default=DEFAULT_MODEL)
    ap.add_argument("--profile", default="baseline")
    ap.add_argument("--batch-size", type=int, default=32)
    ap.add_argument("--repeats", type=int, default=1)
    ap.add_argument("--with-stats", action="store_true", help="also time the bootstrap/permutation statistics")
    args = ap.parse_args()
    from circuits.head_screening import screen_heads
    from interp.datasets import load_profile
    from interp.models import load_model
    from interp.positions import tokenize_batch

    model = load_model(args.model, device="cpu")
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
    print(json.dumps({"model": args.model, "n_sentences": len(texts), "n_heads": model.cfg.n_layers * model.cfg.n_heads,
                      "n_batches": len(batches), "batch_size": args.batch_size, "plain_forward_s": round(p, 3),
                      "screening_forward_s": round(s, 3), "ratio": round(s / p, 3), "target_ratio": 1.5,
                      "stats_extra_s_n_boot_1000_n_perm_10000": round(min(stats), 3) if stats else None}, indent=2))


if __name__ == "__main__":
    main()
