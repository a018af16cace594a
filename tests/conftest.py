"""Shared fixtures: a tiny random model (fast unit tests) and the real default model (integration)."""

import os

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")


@pytest.fixture(scope="session")
def tiny_model():
    """Tiny random Llama-architecture bridge (2 layers, 4 query heads, 2 KV heads, byte tokenizer)."""
    from interp.models import load_model

    return load_model("tiny", device="cpu")


@pytest.fixture(scope="session")
def real_model():
    """SmolLM2-135M-Instruct, shared read-only across the session (skip only if its package is missing)."""
    from interp.registry import KNOWN_MODELS

    if not KNOWN_MODELS["smollm2-135m"].package_installed():
        pytest.skip(f"smollm2-135m weights not installed: {KNOWN_MODELS['smollm2-135m'].install}")
    from interp.models import load_model

    return load_model("smollm2-135m", device="cpu")


@pytest.fixture(scope="session")
def baseline_store(real_model, tmp_path_factory):
    """Baseline-profile activations of the real model at resid_pre / resid_post of every layer."""
    from interp.activations import extract_activations
    from interp.datasets import load_profile

    out = tmp_path_factory.mktemp("baseline_store")
    return extract_activations(real_model, load_profile("baseline"), out, hooks=["resid_pre", "resid_post"], batch_size=32)
