"""Canonical TransformerLens hook names, built rather than typed, and validated.

``resid_pre(3)`` → ``"blocks.3.hook_resid_pre"``. :func:`validate_hook` checks a name
against the model's hook dictionary and raises a :class:`HookError` listing the valid
forms and the layer range.
"""

import re

from interp.errors import HookError

BLOCK_HOOKS = {
    "resid_pre": "hook_resid_pre",
    "resid_mid": "hook_resid_mid",
    "resid_post": "hook_resid_post",
    "attn_out": "hook_attn_out",
    "mlp_out": "hook_mlp_out",
    "z": "attn.hook_z",
    "pattern": "attn.hook_pattern",
    "attn_scores": "attn.hook_attn_scores",
    "q": "attn.hook_q",
    "k": "attn.hook_k",
    "v": "attn.hook_v",
}
"""Short kind → hook suffix inside ``blocks.{layer}``."""

RESIDUAL_KINDS = ("resid_pre", "resid_post", "attn_out", "mlp_out")
"""Hooks whose activations live in the residual space [batch pos d_model]."""

_BLOCK_RE = re.compile(r"^blocks\.(\d+)\.(.+)$")


def block_hook(kind: str, layer: int) -> str:
    """Hook name of ``kind`` (a key of :data:`BLOCK_HOOKS`) in block ``layer``."""
    if kind not in BLOCK_HOOKS:
        raise HookError(f"unknown hook kind {kind!r}; valid kinds: {', '.join(BLOCK_HOOKS)}")
    return f"blocks.{layer}.{BLOCK_HOOKS[kind]}"


def resid_pre(layer: int) -> str:
    return block_hook("resid_pre", layer)


def resid_post(layer: int) -> str:
    return block_hook("resid_post", layer)


def attn_out(layer: int) -> str:
    return block_hook("attn_out", layer)


def mlp_out(layer: int) -> str:
    return block_hook("mlp_out", layer)


def hook_z(layer: int) -> str:
    return block_hook("z", layer)


def hook_pattern(layer: int) -> str:
    return block_hook("pattern", layer)


def parse_hook(name: str) -> tuple[int | None, str]:
    """Split ``"blocks.3.hook_resid_pre"`` into ``(3, "hook_resid_pre")``; non-block hooks give ``(None, name)``."""
    m = _BLOCK_RE.match(name)
    if m:
        return int(m.group(1)), m.group(2)
    return None, name


def hook_kind(name: str) -> str | None:
    """Short kind (``"resid_pre"``…) of a block hook name, or None if it is not one of :data:`BLOCK_HOOKS`."""
    _, suffix = parse_hook(name)
    for kind, suf in BLOCK_HOOKS.items():
        if suf == suffix:
            return kind
    return None


def validate_layer(layer: int, n_layers: int, *, what: str = "layer") -> int:
    """Return ``layer`` (negative counts from the end) or raise with the valid range."""
    if not isinstance(layer, int) or isinstance(layer, bool):
        raise HookError(f"{what} must be an integer, got {layer!r}")
    resolved = layer + n_layers if layer < 0 else layer
    if not 0 <= resolved < n_layers:
        raise HookError(f"{what} {layer} is out of range: this model has layers 0..{n_layers - 1}")
    return resolved


def validate_hook(name: str, hook_dict_keys, n_layers: int) -> str:
    """Check ``name`` exists in the model; raise a :class:`HookError` that says what is valid."""
    keys = set(hook_dict_keys)
    if name in keys:
        return name
    layer, suffix = parse_hook(name)
    if layer is not None and f"blocks.0.{suffix}" in keys:
        validate_layer(layer, n_layers)
    examples = ", ".join(f"blocks.{{0..{n_layers - 1}}}.{s}" for s in BLOCK_HOOKS.values())
    raise HookError(f"unknown hook name {name!r}; valid block hooks look like: {examples}")


def expand_hooks(kinds_or_names: list[str], layers: list[int], hook_dict_keys, n_layers: int) -> list[str]:
    """Turn short kinds (``resid_pre``) × layers and full names into validated hook names."""
    out: list[str] = []
    for item in kinds_or_names:
        if item in BLOCK_HOOKS:
            out.extend(block_hook(item, validate_layer(layer, n_layers)) for layer in layers)
        else:
            out.append(validate_hook(item, hook_dict_keys, n_layers))
    seen: set[str] = set()
    return [h for h in out if not (h in seen or seen.add(h))]
