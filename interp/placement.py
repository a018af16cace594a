"""Where a model's weights go: one device, or split over several by a ``device_map``.

:func:`resolve_placement` checks ``device`` / ``device_map`` / ``n_devices`` / ``max_memory`` against the devices
this machine has and returns a :class:`Placement` whose :meth:`Placement.boot_kwargs` go straight to
``TransformerBridge.boot_transformers``. The bridge (TransformerLens 4.3) hands a map to Hugging Face's
``from_pretrained`` (accelerate dispatch): every block then runs on its own device and hooks see activations there,
which is why the steering and patching hooks move their tensors ``.to(activation)``.

Errors are :class:`~interp.errors.ConfigError` raised before any weight is read: a device that does not exist
(listing those that do), a map that leaves modules unplaced (naming them), a malformed memory budget.
"""

import json
import re
from dataclasses import dataclass
from pathlib import Path

import torch

from interp.errors import ConfigError

POLICIES: tuple[str, ...] = ("auto", "balanced", "balanced_low_0", "sequential")
"""accelerate's device-map policies: spread the blocks over the visible GPUs (``auto`` fills them in order)."""

_SIZE_RE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(B|KB|MB|GB|TB|KIB|MIB|GIB|TIB)\s*$", re.IGNORECASE)
_LAYER_RE = re.compile(r"^(.*?\.\d+)\.")


def available_devices() -> list[str]:
    """Devices a model can be placed on here: ``cpu``, then ``cuda:0``… and ``mps`` when present."""
    out = ["cpu"]
    if torch.cuda.is_available():
        out += [f"cuda:{i}" for i in range(torch.cuda.device_count())]
    mps = getattr(torch.backends, "mps", None)
    if mps is not None and mps.is_available():
        out.append("mps")
    return out


def _n_gpus() -> int:
    return torch.cuda.device_count() if torch.cuda.is_available() else 0


def check_device(device: str | None, *, name: str = "device") -> str:
    """``device`` if this machine has it (``None``/``"auto"``: CUDA when available, else CPU).

    Raises:
        ConfigError: naming ``name``, the value and the devices that exist (``cuda`` on a CPU-only machine,
            ``cuda:7`` with fewer GPUs, ``tpu``).
    """
    if device is None or str(device).strip().lower() == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    have = ", ".join(available_devices())
    try:
        d = torch.device(str(device).strip())
    except (RuntimeError, TypeError, ValueError):
        raise ConfigError(f"{name} {device!r} is not a torch device; devices here: {have}") from None
    if d.type == "cpu":
        return str(device)
    if d.type == "cuda" and _n_gpus() > (d.index or 0):
        return str(device)
    if d.type == "mps" and "mps" in available_devices():
        return str(device)
    raise ConfigError(f"{name} {device!r} does not exist on this machine; devices here: {have}")


def _check_target(value, *, key: str) -> str | int:
    """One ``device_map`` value: a GPU index, ``cpu``, ``disk`` or an existing device."""
    where = f"device_map entry {key!r}"
    if isinstance(value, bool) or not isinstance(value, (int, str)):
        raise ConfigError(f"{where} maps to {value!r}; use a GPU index (0, 1, …), 'cuda:N', 'cpu' or 'disk'")
    if isinstance(value, int):
        if not 0 <= value < _n_gpus():
            raise ConfigError(f"{where} maps to GPU {value}, which does not exist; devices here: {', '.join(available_devices())}")
        return value
    if value.strip().lower() == "disk":
        return "disk"
    if value.strip().lower() == "meta":
        raise ConfigError(f"{where} maps to 'meta' (no weights); place it on a GPU, 'cpu' or 'disk'")
    return check_device(value, name=where)


def parse_device_map(value: str | dict | None) -> str | dict | None:
    """A device map from a policy name, a JSON object, a JSON file, or a dict; targets checked.

    Args:
        value: ``auto`` | ``balanced`` | ``balanced_low_0`` | ``sequential`` (needs a GPU), ``'{"": "cpu"}'``,
            a path to a ``.json`` file holding such an object, or the dict itself (module name → device).

    Raises:
        ConfigError: unknown policy, unreadable JSON, a target device that does not exist, a policy without a GPU.
    """
    if value is None or isinstance(value, dict):
        raw = value
    else:
        text = str(value).strip()
        if text.lower() in POLICIES:
            if _n_gpus() == 0:
                raise ConfigError(f"device_map {text!r} spreads a model over GPUs, and this machine has none "
                                  f"(devices here: {', '.join(available_devices())}); use --device cpu")
            return text.lower()
        if text.startswith("{"):
            source = "device_map"
        elif Path(text).expanduser().is_file():
            source, text = f"device_map file {text!r}", Path(text).expanduser().read_text(encoding="utf-8")
        else:
            raise ConfigError(f"device_map {value!r} is neither a policy ({', '.join(POLICIES)}), a JSON object "
                              "nor an existing JSON file; e.g. --device-map auto or --device-map map.json")
        try:
            raw = json.loads(text)
        except json.JSONDecodeError as exc:
            raise ConfigError(f"{source} is not valid JSON ({exc.msg} at line {exc.lineno}); "
                              'write an object of module names to devices, e.g. {"model.layers.0": 0, "lm_head": 1}') from None
    if raw is None:
        return None
    if not isinstance(raw, dict) or not raw:
        raise ConfigError(f"device_map must be a non-empty object of module names to devices, got {raw!r}")
    return {str(k): _check_target(v, key=str(k)) for k, v in raw.items()}


def parse_max_memory(value: str | dict | None) -> dict[int | str, int | str] | None:
    """A per-device memory budget: ``"0=20GiB,1=20GiB,cpu=64GiB"`` or ``{0: "20GiB", "cpu": "64GiB"}``.

    Keys are GPU indices, ``cpu``, ``mps`` or ``disk``; values a size with a unit (B, KB, MB, GB, TB, KiB … TiB)
    or a whole number of bytes.

    Raises:
        ConfigError: a malformed entry, an unknown key, a GPU index that does not exist, a size without a unit.
    """
    if value is None:
        return None
    if isinstance(value, dict):
        pairs = list(value.items())
    else:
        pairs = []
        for part in (p.strip() for p in str(value).split(",") if p.strip()):
            key, sep, size = part.partition("=")
            if not sep:
                raise ConfigError(f"max_memory entry {part!r} has no '='; write DEVICE=SIZE pairs like '0=20GiB,1=20GiB,cpu=64GiB'")
            pairs.append((key.strip(), size.strip()))
    if not pairs:
        raise ConfigError(f"max_memory {value!r} is empty; write DEVICE=SIZE pairs like '0=20GiB,cpu=64GiB'")
    out: dict[int | str, int | str] = {}
    for key, size in pairs:
        k: int | str = int(key) if isinstance(key, int) or str(key).isdigit() else str(key).lower()
        if isinstance(k, int) and not 0 <= k < _n_gpus():
            raise ConfigError(f"max_memory names GPU {k}, which does not exist; devices here: {', '.join(available_devices())}")
        if isinstance(k, str) and k not in ("cpu", "mps", "disk"):
            raise ConfigError(f"max_memory key {key!r} is not a device; use GPU indices (0, 1, …), 'cpu', 'mps' or 'disk'")
        if isinstance(size, int) and not isinstance(size, bool) and size > 0:
            out[k] = size
        elif isinstance(size, str) and (m := _SIZE_RE.match(size)) and float(m.group(1)) > 0:
            unit = m.group(2).upper()
            out[k] = m.group(1) + (unit[:-2] + "iB" if unit.endswith("IB") else unit)
        else:
            raise ConfigError(f"max_memory for {key!r} is {size!r}; give a positive size with a unit, e.g. '20GiB' or '512MB'")
    return out


@dataclass(frozen=True)
class Placement:
    """Checked placement of a model: one ``device``, or a ``device_map`` (with an optional ``max_memory``)."""

    device: str | None = None
    device_map: str | dict | None = None
    max_memory: dict | None = None

    @property
    def split(self) -> bool:
        return self.device_map is not None

    def boot_kwargs(self) -> dict:
        """Keyword arguments of ``TransformerBridge.boot_transformers`` (device and device_map are exclusive there)."""
        if self.device_map is None:
            return {"device": self.device}
        return {"device_map": self.device_map, **({"max_memory": self.max_memory} if self.max_memory else {})}


def resolve_placement(device: str | None = None, *, device_map: str | dict | None = None, n_devices: int | None = None,
                      max_memory: str | dict | None = None) -> Placement:
    """Check the four placement options together and return one :class:`Placement`.

    ``n_devices=N`` (N > 1) is the ``balanced`` policy over GPUs 0..N-1 (their budgets default to what is free,
    as TransformerLens does); ``n_devices=1`` is a single device.

    Raises:
        ConfigError: two ways of placing given at once, ``max_memory`` without a split, and every check of
            :func:`check_device`, :func:`parse_device_map`, :func:`parse_max_memory`.
    """
    explicit_device = device is not None and str(device).strip().lower() != "auto"
    if n_devices is not None:
        if isinstance(n_devices, bool) or not isinstance(n_devices, int) or n_devices < 1:
            raise ConfigError(f"n_devices must be a whole number ≥ 1, got {n_devices!r}")
        if n_devices > 1 and n_devices > _n_gpus():
            raise ConfigError(f"n_devices {n_devices} needs {n_devices} GPUs; this machine has {_n_gpus()} "
                              f"(devices here: {', '.join(available_devices())})")
    if device_map is not None and n_devices is not None:
        raise ConfigError("give device_map or n_devices, not both (n_devices N is device_map 'balanced' over GPUs 0..N-1)")
    split_asked = device_map is not None or (n_devices or 1) > 1
    if explicit_device and split_asked:
        raise ConfigError(f"give device ({device!r}) or a split (device_map / n_devices), not both: a split places every module itself")
    if max_memory is not None and not split_asked:
        raise ConfigError("max_memory only budgets a split; add device_map (e.g. auto) or n_devices")
    budget = parse_max_memory(max_memory)
    if (n_devices or 1) > 1:
        if budget is None:
            budget = {i: torch.cuda.mem_get_info(i)[0] for i in range(n_devices)}
        return Placement(device_map="balanced", max_memory=budget)
    dmap = parse_device_map(device_map)
    if dmap is None:
        return Placement(device=check_device(device))
    return Placement(device_map=dmap, max_memory=budget)


def _placement_unit(param: str) -> str:
    """``model.layers.3.mlp.up_proj.weight`` → ``model.layers.3``; ``lm_head.weight`` → ``lm_head``."""
    m = _LAYER_RE.match(param)
    return m.group(1) if m else param.rpartition(".")[0] or param


def unplaced_modules(device_map: dict, names: list[str]) -> list[str]:
    """Modules (blocks, embeddings, norms, unembedding) owning a weight in ``names`` that no ``device_map`` key covers.

    A key covers a weight when it is ``""``, the weight's name, or a dotted prefix of it (accelerate's rule).
    """
    keys = list(device_map)

    def covered(name: str) -> bool:
        return any(k == "" or name == k or name.startswith(k + ".") for k in keys)

    out: list[str] = []
    for n in names:
        if not covered(n) and (unit := _placement_unit(n)) not in out:
            out.append(unit)
    return out


def model_weight_names(path_or_id: str) -> list[str] | None:
    """Names of a causal LM's parameters and persistent buffers, built on the meta device (no weights read);
    None when its config cannot be read (the loader then reports the problem itself)."""
    try:
        from accelerate import init_empty_weights  # noqa: PLC0415 - heavy (transformers start-up)
        from transformers import AutoConfig, AutoModelForCausalLM  # noqa: PLC0415 - heavy (transformers start-up)

        config = AutoConfig.from_pretrained(path_or_id)
        with init_empty_weights():
            model = AutoModelForCausalLM.from_config(config)
    except Exception:  # noqa: BLE001 - any failure here means "cannot pre-check"; the real load says why
        return None
    params = [n for n, _ in model.named_parameters()]
    persistent = set(model.state_dict())
    return params + [n for n, _ in model.named_buffers() if n in persistent and n not in params]


def check_map_covers(device_map: dict, path_or_id: str) -> None:
    """Refuse a ``device_map`` dict that leaves some of the model's modules without a device.

    Raises:
        ConfigError: naming the unplaced modules and the fix.
    """
    names = model_weight_names(path_or_id)
    if names is None:
        return
    missing = unplaced_modules(device_map, names)
    if missing:
        shown = ", ".join(missing[:12]) + (f" … ({len(missing)} in all)" if len(missing) > 12 else "")
        raise ConfigError(f"device_map leaves {shown} without a device; map every module (add the missing names, "
                          'or a catch-all "": DEVICE for the rest), or use --device-map auto')
