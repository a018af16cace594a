"""Attention heads as ``(layer, head)`` pairs: the type, parsing ``"L3H1,5.0"``, range checks against a model,
and the top screened heads of a screening run checked against the model they will be applied to."""

import re
from collections.abc import Sequence

from interp.errors import HookError

Head = tuple[int, int]
"""(layer, head index within the layer)."""

_HEAD_RE = re.compile(r"[Ll]?(\d+)[.Hh:](\d+)")


def head_name(head: Head) -> str:
    """``(3, 1)`` → ``"L3H1"``."""
    return f"L{head[0]}H{head[1]}"


def validate_heads(model, heads: Sequence[Head]) -> list[Head]:
    """Check every (layer, head) is in range; raise a :class:`HookError` naming the bad one."""
    n_layers, n_heads = model.cfg.n_layers, model.cfg.n_heads
    out = []
    for item in heads:
        try:
            l, h = (int(x) for x in item)
        except (TypeError, ValueError):
            raise HookError(f"a head must be a (layer, head) pair like (3, 1), got {item!r}") from None
        if not 0 <= l < n_layers:
            raise HookError(f"head L{l}H{h}: layer {l} is out of range; this model has layers 0..{n_layers - 1}")
        if not 0 <= h < n_heads:
            raise HookError(f"head L{l}H{h}: head {h} is out of range; this model has heads 0..{n_heads - 1} per layer")
        out.append((l, h))
    return out


def parse_heads(text: str) -> list[Head]:
    """Parse ``"L3H1,L5H0"`` or ``"3.1,5.0"`` into [(3, 1), (5, 0)]."""
    out = []
    for part in (p.strip() for p in text.split(",") if p.strip()):
        m = _HEAD_RE.fullmatch(part)
        if not m:
            raise HookError(f"cannot read head {part!r}; write heads like 'L3H1' or '3.1', comma-separated")
        out.append((int(m.group(1)), int(m.group(2))))
    if not out:
        raise HookError("no heads given; write heads like 'L3H1,L5H0'")
    return out


def screened_heads(model, screening, emotions: Sequence[str], k: int) -> list[Head]:
    """Top-``k`` heads of a :class:`~circuits.head_screening.ScreeningResult` per emotion (deduplicated, in order),
    checked against ``model``: a screening of another model fails with a message saying so."""
    hs = list(dict.fromkeys(h for e in emotions for h in screening.top_heads(e, k)))
    try:
        return validate_heads(model, hs)
    except HookError as exc:
        raise HookError(f"{exc} (the screening was made on model {screening.config.get('model', '?')!r}; "
                        "screen this model first or pass --model to match)") from None
