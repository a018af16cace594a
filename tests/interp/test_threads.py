"""torch_threads: the thread count is changed inside the block and restored after, also on error."""

import pytest
import torch

from interp.threads import torch_threads


def test_thread_count_is_restored_after_the_block_and_after_an_error():
    before = torch.get_num_threads()
    target = 1 if before != 1 else 2
    with torch_threads(target):
        assert torch.get_num_threads() == target
    assert torch.get_num_threads() == before
    with pytest.raises(RuntimeError), torch_threads(target):
        raise RuntimeError("boom")
    assert torch.get_num_threads() == before


def test_as_a_decorator_each_call_sets_and_restores():
    before = torch.get_num_threads()
    target = 1 if before != 1 else 2

    @torch_threads(target)
    def inside() -> int:
        return torch.get_num_threads()

    assert inside() == target and inside() == target
    assert torch.get_num_threads() == before
