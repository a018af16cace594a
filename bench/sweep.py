"""Sweep generation throughput: every layer × α cell in one batched call ÷ one generate call per cell. Target ≥ 1.5.

Usage: python bench/sweep.py [--model smollm2-135m] [--n-prompts 10] [--layers 7 15 22] [--alphas -1 1 2]
                             [--max-new-tokens 20] [--repeats 3] [--max-diff-fraction 0.05] [--json]

(a) per cell, the old path: ``generate(model, prompts, [spec])`` once per layer × α cell, each with its own
steering hook over the same prompts; (b) batched, as ``steering.sweep.run_sweep`` does: one
``generate_row_vectors`` call with rows = prompt × cell, one hook per cell's layer and a position tracker per
hook, batch size max(32, 96). Greedy, rows never stop at EOS, so both produce exactly the same number of tokens.

The steering vector of each layer is a seeded random unit direction (``steering.sweep.random_direction``) in
``mean_norm`` units: α = 1 adds a vector as long as the mean residual norm at that hook, measured on the
prompts. No emotion vector is computed: the cost of a cell does not depend on the direction, and a random one
needs no activation extraction. Per-cell and batched runs alternate (after one warm-up of each); throughput
uses the median time of each.

Under greedy decoding both paths should give the same tokens; float32 matmuls over a batch of 10 rows and
one of 90 may round differently and flip a near-tie argmax, after which a row diverges. Rows that differ are
counted and the first one is shown; the exit status is 1 only when more than ``--max-diff-fraction`` differ.
"""

import statistics
import sys
import time

import torch
from common import bench_model, bench_parser, emit

from interp.datasets import load_prompts
from interp.hook_names import block_hook
from steering.generation import GenerationConfig, generate, generate_row_vectors
from steering.hooks import SteeringSpec, mean_resid_norm
from steering.sweep import random_direction


def main(argv: list[str] | None = None) -> int:
    ap = bench_parser(__doc__)
    ap.add_argument("--n-prompts", type=int, default=10)
    ap.add_argument("--layers", type=int, nargs="+", default=None, help="steered layers (default: n_layers × 1/4, 1/2, 3/4)")
    ap.add_argument("--alphas", type=float, nargs="+", default=[-1.0, 1.0, 2.0], help="α in mean-residual-norm units")
    ap.add_argument("--hook-kind", default="resid_pre")
    ap.add_argument("--positions", default="all", choices=["all", "prompt", "generated"])
    ap.add_argument("--max-new-tokens", type=int, default=20)
    ap.add_argument("--max-diff-fraction", type=float, default=0.05, help="exit 1 when more rows than this differ")
    args = ap.parse_args(argv)
    model = bench_model(args)
    prompts = load_prompts()[: args.n_prompts]
    n_layers = model.cfg.n_layers
    layers = args.layers or [n_layers // 4, n_layers // 2, (3 * n_layers) // 4]
    norms = {layer: mean_resid_norm(model, block_hook(args.hook_kind, layer), prompts) for layer in layers}
    specs = [SteeringSpec(block_hook(args.hook_kind, layer), random_direction(model.cfg.d_model, layer), alpha, "mean_norm",
                          norms[layer], label="bench")
             for layer in layers for alpha in args.alphas]
    n_c, n_p = len(specs), len(prompts)
    cell_cfg = GenerationConfig(max_new_tokens=args.max_new_tokens, stop_at_eos=False)  # the sweep's default batch size (32)
    batch_cfg = GenerationConfig(max_new_tokens=args.max_new_tokens, stop_at_eos=False, batch_size=max(cell_cfg.batch_size, 96))
    hooks, vecs = [sp.hook for sp in specs], torch.stack([sp.added_vector() for sp in specs])

    def per_cell() -> tuple[float, list[tuple[int, ...]]]:
        """Seconds, and new tokens in cell-major order (row c * n_p + i = cell c, prompt i)."""
        t0 = time.perf_counter()
        gens = [generate(model, prompts, [sp], positions=args.positions, config=cell_cfg) for sp in specs]
        return time.perf_counter() - t0, [t for g in gens for t in g.new_tokens]

    def batched() -> tuple[float, list[tuple[int, ...]]]:
        t0 = time.perf_counter()
        g = generate_row_vectors(model, prompts, hooks, vecs, positions=args.positions, config=batch_cfg)
        dt = time.perf_counter() - t0
        return dt, [g.new_tokens[i * n_c + c] for c in range(n_c) for i in range(n_p)]  # prompt-major -> cell-major

    _, ref_cell = per_cell()  # warm-up; these outputs are the ones compared
    _, ref_batch = batched()
    t_cell, t_batch, unstable = [], [], 0
    for _ in range(args.repeats):
        dt, toks = per_cell()
        t_cell.append(dt)
        unstable += toks != ref_cell
        dt, toks = batched()
        t_batch.append(dt)
        unstable += toks != ref_batch
    n_tok = n_c * n_p * args.max_new_tokens
    assert sum(map(len, ref_cell)) == sum(map(len, ref_batch)) == n_tok
    diff = [k for k in range(n_c * n_p) if ref_cell[k] != ref_batch[k]]
    tp_cell, tp_batch = n_tok / statistics.median(t_cell), n_tok / statistics.median(t_batch)
    ratio = tp_batch / tp_cell
    first = None
    if diff:
        k = diff[0]
        c, i = divmod(k, n_p)
        a, b = ref_cell[k], ref_batch[k]
        at = next((j for j, (x, y) in enumerate(zip(a, b)) if x != y), min(len(a), len(b)))
        first = {"prompt_idx": i, "prompt": prompts[i], "hook": specs[c].hook, "alpha": specs[c].alpha, "first_diff_token": at,
                 "per_cell": model.tokenizer.decode(list(a)), "batched": model.tokenizer.decode(list(b))}
    out = {"model": model.ec_info.name, "device": str(model.cfg.device), "threads": torch.get_num_threads(), "n_prompts": n_p,
           "layers": layers, "alphas": args.alphas, "n_cells": n_c, "hook_kind": args.hook_kind, "positions": args.positions,
           "vector": "seeded random unit direction per layer, mean_norm units", "mean_resid_norms": norms,
           "max_new_tokens": args.max_new_tokens, "repeats": args.repeats, "per_cell_calls": n_c,
           "batched_calls": -(-n_c * n_p // batch_cfg.batch_size), "per_cell_seconds": t_cell, "batched_seconds": t_batch,
           "per_cell_tokens_per_s": tp_cell, "batched_tokens_per_s": tp_batch, "ratio": ratio,
           "ratio_min_max": [min(t_cell) / max(t_batch), max(t_cell) / min(t_batch)], "target": 1.5,
           "rows": n_c * n_p, "rows_differing": len(diff), "max_diff_fraction": args.max_diff_fraction, "first_differing_row": first,
           "timed_runs_not_reproducing_warmup": unstable}
    bad = len(diff) > args.max_diff_fraction * n_c * n_p
    lines = []
    lines.append(f"{out['model']} on {out['device']} ({out['threads']} threads): {n_p} prompts x {n_c} cells "
          f"(layers {layers} x alphas {args.alphas}, {args.hook_kind}, {args.positions}) x {args.max_new_tokens} new tokens, "
          f"{args.repeats} alternating repeats")
    lines.append(f"  per cell ({n_c} generate calls): {tp_cell:.1f} tokens/s (times {', '.join(f'{t:.2f}' for t in t_cell)} s)")
    lines.append(f"  batched ({out['batched_calls']} generate_row_vectors call(s)): {tp_batch:.1f} tokens/s "
          f"(times {', '.join(f'{t:.2f}' for t in t_batch)} s)")
    lines.append(f"  ratio batched/per-cell = {ratio:.3f} (range over repeats {out['ratio_min_max'][0]:.3f}–{out['ratio_min_max'][1]:.3f}; "
          f"target ≥ 1.5)")
    lines.append(f"  greedy tokens: {len(diff)}/{n_c * n_p} rows differ between the paths "
          f"(allowed ≤ {args.max_diff_fraction:.0%}){'' if unstable == 0 else f'; {unstable} timed run(s) did not reproduce the warm-up'}")
    if first:
        lines.append(f"  first differing row: prompt {first['prompt_idx']} {first['prompt']!r}, {first['hook']} alpha {first['alpha']:g}, "
              f"from new token {first['first_diff_token']}")
        lines.append(f"    per cell: {first['per_cell']!r}")
        lines.append(f"    batched:  {first['batched']!r}")
        lines.append("    likely cause: float32 matmuls over batches of different sizes round differently and flip a near-tie "
              "greedy argmax; the row then continues from a different token")
    emit(out, lines, args)
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
