"""What every benchmark script shares: its command line (--model, --repeats, --threads, --device, --json),
loading the model offline, and printing either readable lines or one JSON object.

The scripts run from a checkout (``python bench/steer.py``): this module puts the repository root on
``sys.path`` so the packages import without reinstalling.
"""

import argparse
import json
import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
# Keep the hub offline; set before the imports below, since huggingface_hub reads it once when imported
# (interp.models imports transformers).
os.environ.setdefault("HF_HUB_OFFLINE", "1")

import torch  # noqa: E402 - after the path fix, like the packages below

from interp.models import load_model  # noqa: E402
from interp.registry import DEFAULT_MODEL  # noqa: E402


def bench_parser(doc: str, *, repeats: int = 3) -> argparse.ArgumentParser:
    """A parser with the shared options; the script adds its own."""
    ap = argparse.ArgumentParser(description=doc.splitlines()[0])
    ap.add_argument("--model", default=DEFAULT_MODEL)
    ap.add_argument("--repeats", type=int, default=repeats)
    ap.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: torch's choice)")
    ap.add_argument("--device", default=None, help="torch device (default: load_model's: cuda when available, else cpu)")
    ap.add_argument("--json", action="store_true", help="print one JSON object instead of readable lines")
    return ap


def bench_model(args: argparse.Namespace):
    """Set the thread count and load ``args.model`` on ``args.device`` (the hub is kept offline at import)."""
    if args.threads:
        torch.set_num_threads(args.threads)
    return load_model(args.model, device=args.device)


def emit(out: dict, lines: list[str], args: argparse.Namespace) -> None:
    """Print ``out`` as JSON with ``--json``, else the readable ``lines``."""
    print(json.dumps(out, indent=2) if args.json else "\n".join(lines))
