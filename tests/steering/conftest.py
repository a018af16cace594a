"""Fixtures shared by the steering tests."""

import pytest

from interp.threads import torch_threads


@pytest.fixture
def one_thread():
    """Small matrices: one torch thread avoids oversubscription on shared CPUs (restored after the test)."""
    with torch_threads(1):
        yield
