"""Capture chosen hook activations in one forward pass, with no gradient and bounded memory."""

from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager

import torch
from torch import Tensor

from interp.hook_names import parse_hook, validate_hook
from interp.positions import TokenizedBatch


def store_activation_hook(store: dict[str, Tensor], name: str, transform: Callable[[Tensor], Tensor] | None = None) -> Callable:
    """Hook function that saves the activation under ``name``: detached, or ``transform(activation)`` when given.

    The requested name is closed over because TransformerBridge resolves aliases
    (``hook_resid_post`` → ``hook_out``), so ``hook.name`` may differ from it.
    """

    def hook(activation: Tensor, hook) -> Tensor:
        store[name] = activation.detach() if transform is None else transform(activation)
        return activation

    return hook


@contextmanager
def record(model, names: Iterable[str], *, transform: Callable[[Tensor], Tensor] | None = None) -> Iterator[dict[str, Tensor]]:
    """``with record(model, names) as cache: model(tokens)`` — every forward pass inside the block stores each hook's
    activation in ``cache[name]`` (the last pass wins), in the spirit of TransformerLens's ``run_with_cache(names_filter=…)``.

    ``transform`` replaces the default ``detach`` (e.g. ``lambda a: a.detach().float().cpu()``). The hooks are
    removed on leaving the block; the activations keep the model's layout (padded ``[batch pos ...]``).
    """
    cache: dict[str, Tensor] = {}
    with model.hooks(fwd_hooks=[(n, store_activation_hook(cache, n, transform)) for n in dict.fromkeys(names)]):
        yield cache


def stop_layer_for(hooks: list[str], n_layers: int) -> int | None:
    """The ``stop_at_layer`` that still runs every requested hook (None = run to the end)."""
    layers = []
    for name in hooks:
        layer, suffix = parse_hook(name)
        if layer is None:
            return None
        layers.append(layer)
    top = max(layers)
    return None if top >= n_layers - 1 else top + 1


@torch.no_grad()
def capture(model, batch: TokenizedBatch, hooks: list[str], *, stop_early: bool = True) -> dict[str, Tensor]:
    """Run ``batch`` through ``model`` and return ``{hook_name: activation}`` (padded layout)."""
    n_layers = model.cfg.n_layers
    for h in hooks:
        validate_hook(h, model.hook_dict.keys(), n_layers)
    device = next(model.parameters()).device
    kwargs = {"attention_mask": batch.attention_mask.to(device)}
    stop = stop_layer_for(hooks, n_layers) if stop_early else None
    if stop is not None:
        kwargs["stop_at_layer"] = stop
    with record(model, hooks) as store:
        model(batch.tokens.to(device), return_type=None if stop is not None else "logits", **kwargs)
    return store


def unpad(acts: Tensor, batch: TokenizedBatch, *, inplace: bool = False) -> Tensor:
    """Re-align a padded ``[batch, pos, ...]`` tensor so each row starts at index 0; zeros past each length.

    With right padding and ``inplace=True`` the padding positions of ``acts`` itself are
    zeroed (no copy); use it only on tensors nobody else holds, such as captured activations.
    """
    if batch.padding_side == "right":
        out = acts if inplace else acts.clone()
        for i, n in enumerate(batch.lengths):
            out[i, n:] = 0
        return out
    width = max(batch.lengths)
    out = acts.new_zeros((acts.shape[0], width, *acts.shape[2:]))
    for i, (n, lp) in enumerate(zip(batch.lengths, batch.left_pad)):
        out[i, :n] = acts[i, lp : lp + n]
    return out
