"""Temporarily change torch's intra-op thread count, restoring it afterwards."""

from collections.abc import Iterator
from contextlib import contextmanager

import torch


@contextmanager
def torch_threads(n: int) -> Iterator[None]:
    """Run the block with ``n`` torch threads and restore the previous count on exit (also on error).

    One thread suits many small matrix products (bootstraps over d_model-sized vectors), where extra
    threads only contend; model forward passes want every core, so the setting must not leak.
    """
    before = torch.get_num_threads()
    torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(before)
