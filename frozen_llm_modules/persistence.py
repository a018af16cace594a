"""Save and load modules as safetensors + JSON config, checked against the base model on load (never pickle).

Provenance is enforced, not only recorded: ``modules.json`` holds the base model's name, its source hash
(the weight file it was loaded from) and ``base_weights_hash`` (:func:`interp.models.weights_hash` of the
weights in memory at save time). :func:`load_modules` refuses a model whose name or source hash differs, or
whose weights no longer hash to the recorded value, with :class:`ModuleProvenanceError`; ``allow_other_model``
(CLI ``--allow-other-model``) permits a deliberate transfer to another model of the same width. Loaded modules
carry the provenance (``module.provenance``), and :class:`~frozen_llm_modules.attach.EmotionalLLM` checks it
again when it attaches them.
"""

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
from frozen_llm_modules.state import ModuleError, ModuleProvenanceError
from frozen_llm_modules.steering_module import EmotionSteeringModule
from interp.io import atomic_write_json, atomic_write_with, ensure_writable_dir
from interp.models import weights_hash

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


def save_modules(out_dir: str | Path, modules: dict, model, *, extra: dict | None = None,
                 base_weights_hash: str | None = None) -> Path:
    """Write ``modules.safetensors`` (keys ``kind.param``) and ``modules.json`` (configs, base model, hashes).

    ``base_weights_hash`` is the frozen weights' hash the modules were trained against (default: hashed now).
    """
    out = ensure_writable_dir(out_dir)
    tensors = {}
    for kind, m in modules.items():
        check_kind(kind)
        for k, v in m.state_dict().items():
            tensors[f"{kind}.{k}"] = v.detach().cpu().contiguous().clone()
    atomic_write_with(out / WEIGHTS, lambda p: save_file(tensors, str(p)))
    cfg = {"format": FORMAT, "base_model": model.ec_info.name, "base_source_hash": model.ec_info.source_hash,
           "base_weights_hash": base_weights_hash or weights_hash(model),
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


def check_provenance(provenance: dict, model, *, where: str, allow_other_model: bool = False,
                     current_hash: str | None = None) -> None:
    """Refuse ``model`` unless it is the base recorded in ``provenance`` with unchanged weights.

    ``allow_other_model`` skips the name, source-hash and weight-hash checks (a deliberate transfer).
    """
    if allow_other_model:
        return
    info = model.ec_info
    name, src = provenance.get("base_model"), provenance.get("base_source_hash")
    if name != info.name or src != info.source_hash:
        raise ModuleProvenanceError(
            f"modules in {where} were trained on {name!r} (weights {str(src)[:12]}), not on the loaded {info.name!r} "
            f"({info.source_hash[:12]}); load them with --model {name}, or pass --allow-other-model to transfer them deliberately")
    want = provenance.get("base_weights_hash")
    if want is not None and (current_hash or weights_hash(model)) != want:
        raise ModuleProvenanceError(
            f"the loaded {info.name!r} weights have changed since the modules in {where} were trained (weight hash "
            f"{want[:12]} recorded); reload the unmodified model, retrain the modules, or pass --allow-other-model")


def load_modules(module_dir: str | Path, model, *, allow_other_model: bool = False) -> dict:
    """Rebuild the saved modules for ``model``; clear error if the base model, its weights or the files do not match."""
    d = Path(module_dir)
    cfg = read_config(d)
    check_provenance(cfg, model, where=repr(str(d)), allow_other_model=allow_other_model)
    if cfg.get("d_model") not in (None, model.cfg.d_model):
        raise ModuleError(f"modules in {str(d)!r} have d_model {cfg['d_model']} but the loaded {model.ec_info.name!r} has "
                          f"{model.cfg.d_model}; modules transfer only between models of the same width")
    provenance = {k: cfg.get(k) for k in ("base_model", "base_source_hash", "base_weights_hash")}
    provenance["allow_other_model"] = allow_other_model
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
        if kind == "encoder" and "linear.weight" in sd and sd["linear.weight"].shape[1] < m.linear.in_features:
            # saved before the memory-recall signals existed: those inputs get weight 0 (the old behaviour)
            w = sd["linear.weight"]
            sd["linear.weight"] = torch.cat([w, w.new_zeros(w.shape[0], m.linear.in_features - w.shape[1])], 1)
        try:
            m.load_state_dict(sd, strict=True)
        except RuntimeError as exc:
            raise ModuleError(f"{kind} weights in {str(d)!r} do not fit its config ({str(exc).splitlines()[0]})") from None
        out[kind] = m.to(torch.float32)
        out[kind].provenance = dict(provenance, where=repr(str(d)))
    return out
