"""Generation throughput with a steering hook ÷ without (same prompts, greedy, same token counts). Target ≥ 0.95.

Usage: python bench/steer.py [--model smollm2-135m] [--n-prompts 30] [--max-new-tokens 20] [--repeats 3] [--positions generated] [--json]

Plain and steered runs alternate (after one warm-up of each) so machine load hits both alike;
the ratio uses the median time of each. Rows never stop at EOS, so both produce exactly the same number of tokens.
"""

import statistics
import sys
import time

import torch
from common import bench_model, bench_parser, emit

from interp.datasets import load_prompts
from interp.hook_names import resid_pre
from steering.generation import GenerationConfig, generate
from steering.hooks import SteeringSpec
from steering.sweep import random_direction


def main(argv: list[str] | None = None) -> int:
    ap = bench_parser(__doc__)
    ap.add_argument("--n-prompts", type=int, default=30)
    ap.add_argument("--max-new-tokens", type=int, default=20)
    ap.add_argument("--layer", type=int, default=None, help="steered layer (default: mid-depth)")
    ap.add_argument("--positions", default="all", choices=["all", "prompt", "generated"])
    args = ap.parse_args(argv)
    model = bench_model(args)
    prompts = load_prompts()[: args.n_prompts]
    layer = model.cfg.n_layers // 2 if args.layer is None else args.layer
    spec = SteeringSpec(resid_pre(layer), random_direction(model.cfg.d_model, 0), 4.0, "unit", label="bench")
    cfg = GenerationConfig(max_new_tokens=args.max_new_tokens, stop_at_eos=False, batch_size=max(1, args.n_prompts))

    def timed(specs) -> float:
        t0 = time.perf_counter()
        g = generate(model, prompts, specs, positions=args.positions, config=cfg)
        dt = time.perf_counter() - t0
        assert sum(len(t) for t in g.new_tokens) == len(prompts) * args.max_new_tokens
        return dt

    timed([]), timed([spec])  # warm-up
    plain, steered = [], []
    for _ in range(args.repeats):
        plain.append(timed([]))
        steered.append(timed([spec]))
    n_tok = len(prompts) * args.max_new_tokens
    tp_plain, tp_steer = n_tok / statistics.median(plain), n_tok / statistics.median(steered)
    ratio = tp_steer / tp_plain
    out = {"model": model.ec_info.name, "device": str(model.cfg.device), "threads": torch.get_num_threads(), "n_prompts": len(prompts),
           "max_new_tokens": args.max_new_tokens, "repeats": args.repeats, "hook": spec.hook, "positions": args.positions,
           "plain_seconds": plain, "steered_seconds": steered, "plain_tokens_per_s": tp_plain, "steered_tokens_per_s": tp_steer,
           "ratio": ratio, "ratio_min_max": [min(plain) / max(steered), max(plain) / min(steered)], "target": 0.95}
    emit(out, [f"{out['model']} on {out['device']} ({out['threads']} threads): {len(prompts)} prompts x {args.max_new_tokens} new tokens, "
               f"{args.repeats} alternating repeats",
               f"  without steering: {tp_plain:.1f} tokens/s (times {', '.join(f'{t:.2f}' for t in plain)} s)",
               f"  with steering at {spec.hook} ({args.positions}): {tp_steer:.1f} tokens/s (times {', '.join(f'{t:.2f}' for t in steered)} s)",
               f"  ratio steered/plain = {ratio:.3f} (range over repeats {out['ratio_min_max'][0]:.3f}–{out['ratio_min_max'][1]:.3f}; "
               "target ≥ 0.95)"], args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
