"""Shared fixtures: a tiny random model (fast unit tests) and the real default model (integration)."""

import os
import tempfile

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
# Tests write only under temporary folders: a CLI call (in-process or a subprocess, which inherits the environment)
# that forgets --runs-root lands here instead of the repository's runs/.
os.environ["EMOTION_CIRCUITS_RUNS_ROOT"] = tempfile.mkdtemp(prefix="ec-test-runs-")


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


@pytest.fixture(scope="session", autouse=True)
def no_writes_into_the_repository():
    """Fail the session if any test created the repository's ``runs/`` folder (tests write only under tmp)."""
    from pathlib import Path

    repo_runs = Path(__file__).resolve().parent.parent / "runs"
    existed = repo_runs.exists()
    yield
    assert existed or not repo_runs.exists(), f"a test wrote into {repo_runs}; pass --runs-root / root= under tmp_path"
