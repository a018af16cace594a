"""Save and load modules as safetensors + JSON config, checked against the base model on load (never pickle)."""

import hashlib
import json
from pathlib import Path

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file

from frozen_llm_modules.adapter import GatedEmotionAdapter
from frozen_llm_modules.encoder import EmotionEncoder
from frozen_llm_modules.prefix import EmotionalPrefix
from frozen_llm_modules.reward import EmotionalRewardModel
from frozen_llm_modules.state import ModuleError
from frozen_llm_modules.steering_module import EmotionSteeringModule
from interp.io import atomic_write_json, atomic_write_with, ensure_writable_dir

FORMAT = 1
MODULE_CLASSES = {"prefix": EmotionalPrefix, "adapter": GatedEmotionAdapter, "steering": EmotionSteeringModule,
                  "reward": EmotionalRewardModel, "encoder": EmotionEncoder}
CONFIG = "modules.json"
WEIGHTS = "modules.safetensors"


def check_kind(kind: str) -> str:
    if kind not in MODULE_CLASSES:
        raise ModuleError(f"unknown module kind {kind!r}; choose one of {', '.join(MODULE_CLASSES)}")
    return kind


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def save_modules(out_dir: str | Path, modules: dict, model, *, extra: dict | None = None) -> Path:
    """Write ``modules.safetensors`` (keys ``kind.param``) and ``modules.json`` (configs, base model, hashes)."""
    out = ensure_writable_dir(out_dir)
    tensors = {}
    for kind, m in modules.items():
        check_kind(kind)
        for k, v in m.state_dict().items():
            tensors[f"{kind}.{k}"] = v.detach().cpu().contiguous().clone()
    atomic_write_with(out / WEIGHTS, lambda p: save_file(tensors, str(p)))
    cfg = {"format": FORMAT, "base_model": model.ec_info.name, "base_source_hash": model.ec_info.source_hash,
           "d_model": model.cfg.d_model, "n_layers": model.cfg.n_layers,
           "modules": {k: m.config() for k, m in modules.items()}, "weights_sha256": _sha(out / WEIGHTS),
           "extra": extra or {}}
    atomic_write_json(out / CONFIG, cfg)
    return out


def read_config(module_dir: str | Path) -> dict:
    d = Path(module_dir)
    if not (d / CONFIG).exists() or not (d / WEIGHTS).exists():
        raise ModuleError(f"{str(d)!r} is not a module folder (needs {CONFIG} and {WEIGHTS}); create one with "
                          "'emotion-circuits train-module'")
    try:
        cfg = json.loads((d / CONFIG).read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ModuleError(f"{str(d / CONFIG)!r} is corrupt ({exc}); retrain or restore the module folder") from None
    if not isinstance(cfg, dict) or cfg.get("format") != FORMAT or "modules" not in cfg:
        raise ModuleError(f"{str(d / CONFIG)!r} is not a format-{FORMAT} module config; retrain the module")
    return cfg


def load_modules(module_dir: str | Path, model) -> dict:
    """Rebuild the saved modules for ``model``; clear error if the base model or files do not match."""
    d = Path(module_dir)
    cfg = read_config(d)
    info = model.ec_info
    if cfg["base_model"] != info.name or cfg["base_source_hash"] != info.source_hash:
        raise ModuleError(f"modules in {str(d)!r} were trained on {cfg['base_model']!r} "
                          f"(weights {cfg['base_source_hash'][:12]}), not on the loaded {info.name!r} "
                          f"({info.source_hash[:12]}); load them with --model {cfg['base_model']}")
    if _sha(d / WEIGHTS) != cfg.get("weights_sha256"):
        raise ModuleError(f"{str(d / WEIGHTS)!r} does not match the hash in {CONFIG} (corrupt or edited); retrain the module")
    try:
        tensors = load_file(str(d / WEIGHTS))
    except (SafetensorError, OSError, ValueError) as exc:
        raise ModuleError(f"{str(d / WEIGHTS)!r} is corrupt ({exc}); retrain the module") from None
    out = {}
    for kind, mcfg in cfg["modules"].items():
        m = MODULE_CLASSES[check_kind(kind)](**{k: v for k, v in mcfg.items() if k != "signals"})
        sd = {k[len(kind) + 1:]: v for k, v in tensors.items() if k.startswith(kind + ".")}
        try:
            m.load_state_dict(sd, strict=True)
        except RuntimeError as exc:
            raise ModuleError(f"{kind} weights in {str(d)!r} do not fit its config ({str(exc).splitlines()[0]})") from None
        out[kind] = m.to(torch.float32)
    return out
