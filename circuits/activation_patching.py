"""Activation patching per layer × position (residual stream, attention output, MLP output).

The clean run is an emotion sentence, the corrupted run a neutral sentence of the *same
token length*: every clean/corrupted pair in one call must share one length, so position
``i`` is the same index in every row (no padding; :func:`common_length_pairs` picks them).
For each layer and position the clean activation is copied into the corrupted run and the
metric — the batch mean of log P(next token is an emotion word) at the end — is normalised:
``(patched − corrupted) / (clean − corrupted)`` (0 = corrupted run, 1 = clean run).
"""

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import torch
from jaxtyping import Float
from torch import Tensor

from circuits.metrics import emotion_logprob, emotion_token_ids, normalised
from interp.errors import ConfigError
from interp.hook_names import block_hook
from interp.io import atomic_write_json
from interp.positions import tokenize_batch

KINDS = ("resid_pre", "attn_out", "mlp_out", "resid_post")


def common_length_pairs(model, clean: Sequence[str], corrupted: Sequence[str], *, limit: int | None = None) -> tuple[list[str], list[str]]:
    """Clean/corrupted sentences of the most common token length shared by both lists, paired in order."""
    def n(t):
        return tokenize_batch(model, [t]).lengths[0]

    cl = [(t, n(t)) for t in clean]
    co = [(t, n(t)) for t in corrupted]
    shared = Counter(x for _, x in cl) & Counter(x for _, x in co)
    if not shared:
        raise ConfigError("no clean and corrupted sentences share a token length; activation patching needs equal lengths")
    length = max(shared, key=lambda k: (shared[k], -k))
    a = [t for t, x in cl if x == length]
    b = [t for t, x in co if x == length]
    k = min(len(a), len(b), limit or len(a))
    return a[:k], b[:k]


def patch_activation_hook(clean: Tensor, positions: Sequence[int] | None):
    """Hook that copies ``clean`` into the activation at ``positions`` (None = every position)."""

    def hook(act: Tensor, hook) -> Tensor:
        act = act.clone()
        if positions is None:
            act[:] = clean
        else:
            act[:, list(positions)] = clean[:, list(positions)]
        return act

    return hook


def _tokens(model, texts: Sequence[str]) -> Tensor:
    b = tokenize_batch(model, list(texts))
    if len(set(b.lengths)) != 1:
        raise ConfigError(f"activation patching needs sentences of one token length; got lengths {sorted(set(b.lengths))} "
                          "(use common_length_pairs)")
    return b.tokens


@dataclass(frozen=True)
class ActivationPatchResult:
    """Normalised metric [layer pos] per hook kind; clean/corrupted metric values for reference."""

    emotion: str
    kinds: list[str]
    layers: list[int]
    values: dict[str, Float[Tensor, "layer pos"]]
    clean_metric: float
    corrupted_metric: float
    str_tokens: list[str]
    n_pairs: int
    config: dict = field(default_factory=dict)

    def to_dict(self) -> dict:
        best = {}
        for k, v in self.values.items():
            i = int(v.abs().argmax())
            l, p = divmod(i, v.shape[1])
            best[k] = {"layer": self.layers[l], "pos": p, "token": self.str_tokens[p], "value": float(v[l, p])}
        return {"emotion": self.emotion, "kinds": self.kinds, "layers": self.layers, "n_pairs": self.n_pairs,
                "clean_metric": self.clean_metric, "corrupted_metric": self.corrupted_metric, "strongest": best,
                "str_tokens": self.str_tokens, "values": {k: v.tolist() for k, v in self.values.items()}, "config": self.config}

    def figure(self, kind: str):
        from circuits.circuit_figures import layer_pos_heatmap

        fig = layer_pos_heatmap(self.values[kind], title=f"{self.emotion}: patching {kind} (0 = corrupted, 1 = clean)",
                                x_labels=[f"{i}:{t}" for i, t in enumerate(self.str_tokens)])
        fig.update_yaxes(tickvals=list(range(len(self.layers))), ticktext=[str(x) for x in self.layers])
        return fig

    def save(self, out_dir: str | Path) -> Path:
        from interp.figures import save_plotly

        out = Path(out_dir)
        atomic_write_json(out / f"activation_patching_{self.emotion}.json", self.to_dict())
        for k in self.kinds:
            save_plotly(self.figure(k), out / f"activation_patching_{self.emotion}_{k}.html")
        return out


@torch.no_grad()
def patch_all_positions(model, clean_texts: Sequence[str], corrupted_texts: Sequence[str], emotion: str, hook: str) -> float:
    """Normalised metric after patching ``hook`` at every position (final residual → exactly 1)."""
    ids = emotion_token_ids(model, emotion)
    ct, rt = _tokens(model, clean_texts), _tokens(model, corrupted_texts)
    cache: dict[str, Tensor] = {}

    def save(a, hook):
        cache["x"] = a.detach()
        return a

    end = [ct.shape[1] - 1] * ct.shape[0]
    with model.hooks(fwd_hooks=[(hook, save)]):
        m_clean = float(emotion_logprob(model(ct), end, ids).mean())
    m_corr = float(emotion_logprob(model(rt), end, ids).mean())
    with model.hooks(fwd_hooks=[(hook, patch_activation_hook(cache["x"], None))]):
        m_p = float(emotion_logprob(model(rt), end, ids).mean())
    return float(normalised(m_p, m_clean, m_corr))


@torch.no_grad()
def activation_patching(model, clean_texts: Sequence[str], corrupted_texts: Sequence[str], emotion: str, *,
                        kinds: Sequence[str] = ("resid_pre", "attn_out", "mlp_out"), layers: Sequence[int] | None = None,
                        progress=None) -> ActivationPatchResult:
    """Patch each (kind, layer, position) from clean into corrupted; normalised metric per cell."""
    for k in kinds:
        if k not in KINDS:
            raise ConfigError(f"unknown activation kind {k!r}; choose from {', '.join(KINDS)}")
    if len(clean_texts) != len(corrupted_texts) or not clean_texts:
        raise ConfigError(f"need as many clean as corrupted sentences (≥ 1), got {len(clean_texts)} and {len(corrupted_texts)}")
    n_layers = model.cfg.n_layers
    layers = list(range(n_layers)) if layers is None else list(layers)
    for l in layers:
        if not 0 <= l < n_layers:
            raise ConfigError(f"layer {l} is out of range: this model has layers 0..{n_layers - 1}")
    ct, rt = _tokens(model, clean_texts), _tokens(model, corrupted_texts)
    if ct.shape != rt.shape:
        raise ConfigError(f"clean sentences have {ct.shape[1]} tokens but corrupted ones {rt.shape[1]}; lengths must match")
    ids = emotion_token_ids(model, emotion)
    device = next(model.parameters()).device
    ct, rt = ct.to(device), rt.to(device)
    n_pos = ct.shape[1]
    end = [n_pos - 1] * ct.shape[0]
    names = {(k, l): block_hook(k, l) for k in kinds for l in layers}
    cache: dict[str, Tensor] = {}

    def save(name):
        def hook(a, hook):
            cache[name] = a.detach()
            return a
        return hook

    with model.hooks(fwd_hooks=[(n, save(n)) for n in names.values()]):
        m_clean = float(emotion_logprob(model(ct), end, ids).mean())
    m_corr = float(emotion_logprob(model(rt), end, ids).mean())
    values = {k: torch.zeros(len(layers), n_pos) for k in kinds}
    total, done = len(kinds) * len(layers) * n_pos, 0
    for k in kinds:
        for li, l in enumerate(layers):
            name = names[(k, l)]
            for p in range(n_pos):
                with model.hooks(fwd_hooks=[(name, patch_activation_hook(cache[name], [p]))]):
                    m = float(emotion_logprob(model(rt), end, ids).mean())
                values[k][li, p] = normalised(m, m_clean, m_corr)
                done += 1
                if progress:
                    progress(done, total)
    return ActivationPatchResult(emotion, list(kinds), layers, values, m_clean, m_corr, model.to_str_tokens(ct[0]),
                                 len(clean_texts), {"metric": "batch-mean log P(next token is an emotion word) at the end"})
