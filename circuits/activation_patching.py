"""Activation patching per layer × position (residual stream, attention output, MLP output).

The clean run is an emotion sentence, the corrupted run a neutral sentence of the *same
token length*: every clean/corrupted pair in one call must share one length, so position
``i`` is the same index in every row (no padding; :func:`common_length_pairs` picks them).
For each layer and position the clean activation is copied into the corrupted run and the
metric — the batch mean of a :data:`circuits.metrics.METRICS` entry at the end (by default
log P(next word is an emotion word), whole words teacher-forced) — is normalised:
``(patched − corrupted) / (clean − corrupted)`` (0 = corrupted run, 1 = clean run).

The patch acts on the sentence (the prompt pass) only; the forced tokens of multi-token words then
run on the patched sentence's KV cache. So patching the last layer's residual at every position
does *not* give exactly 1 when some words have several tokens (their later tokens read every
layer's keys and values); patching the first layer's input at every position does.
"""

from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import torch
from jaxtyping import Float
from torch import Tensor

from circuits.circuit_figures import layer_pos_heatmap
from circuits.metrics import emotion_words, get_metric, normalised
from interp.capture import store_activation_hook
from interp.errors import ConfigError
from interp.hook_names import block_hook
from interp.positions import tokenize_batch
from interp.report_types import AnalysisReport, Headline, Table

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
class ActivationPatchResult(AnalysisReport):
    """Normalised metric [layer pos] per hook kind; clean/corrupted metric values for reference.

    As a report: ``results.json`` (:meth:`to_dict`) and ``figures/activation_patching_<emotion>_<kind>.html``;
    the headline is the strongest cell of each kind.
    """

    emotion: str
    kinds: list[str]
    layers: list[int]
    values: dict[str, Float[Tensor, "layer pos"]]
    clean_metric: float
    corrupted_metric: float
    str_tokens: list[str]
    n_pairs: int
    config: dict = field(default_factory=dict)

    def strongest(self) -> dict[str, dict]:
        """Per kind, the cell with the largest |normalised effect|: ``{"layer", "pos", "token", "value"}``."""
        best = {}
        for k, v in self.values.items():
            i = int(v.abs().argmax())
            l, p = divmod(i, v.shape[1])
            best[k] = {"layer": self.layers[l], "pos": p, "token": self.str_tokens[p], "value": float(v[l, p])}
        return best

    def to_dict(self) -> dict:
        return {"emotion": self.emotion, "kinds": self.kinds, "layers": self.layers, "n_pairs": self.n_pairs,
                "clean_metric": self.clean_metric, "corrupted_metric": self.corrupted_metric, "strongest": self.strongest(),
                "str_tokens": self.str_tokens, "values": {k: v.tolist() for k, v in self.values.items()}, "config": self.config}

    def results(self) -> dict:
        return self.to_dict()

    def figure(self, kind: str):
        fig = layer_pos_heatmap(self.values[kind], title=f"{self.emotion}: patching {kind} (0 = corrupted, 1 = clean)",
                                x_labels=[f"{i}:{t}" for i, t in enumerate(self.str_tokens)])
        fig.update_yaxes(tickvals=list(range(len(self.layers))), ticktext=[str(x) for x in self.layers])
        return fig

    def figures(self) -> dict:
        return {f"activation_patching_{self.emotion}_{k}": self.figure(k) for k in self.kinds}

    def headline(self) -> list[Headline]:
        return [Headline(f"{self.emotion}: strongest {k} cell (normalised)", c["value"], baseline="corrupted run = 0, clean run = 1",
                         note=f"layer {c['layer']}, position {c['pos']} ({c['token']!r}); {self.n_pairs} pairs, metric clean "
                              f"{self.clean_metric:.3f}, corrupted {self.corrupted_metric:.3f}")
                for k, c in self.strongest().items()]

    def tables(self) -> list[Table]:
        return [Table(f"{self.emotion}: strongest cell per kind (normalised; clean {self.clean_metric:.3f}, "
                      f"corrupted {self.corrupted_metric:.3f})", ["kind", "layer", "pos", "token", "value"],
                      [[k, c["layer"], c["pos"], c["token"], c["value"]] for k, c in self.strongest().items()])]


MetricArg = str | Callable[..., Tensor]


def _metric_fn(model, metric: MetricArg, emotion: str) -> Callable[..., Tensor]:
    """``fn(tokens, prompt_hooks) -> [batch]``: a METRICS name, or a callable with the METRICS signature."""
    fn = get_metric(metric) if isinstance(metric, str) else metric
    emotion_words(model, emotion)  # unknown emotion / unencodable word: fail before any forward pass

    def score(tokens: Tensor, prompt_hooks: Sequence = ()) -> Tensor:
        return fn(model, tokens, torch.ones_like(tokens), emotion, prompt_hooks=prompt_hooks)

    return score


@torch.no_grad()
def patch_all_positions(model, clean_texts: Sequence[str], corrupted_texts: Sequence[str], emotion: str, hook: str, *,
                        metric: MetricArg = "emotion_words") -> float:
    """Normalised metric after patching ``hook`` at every sentence position (layer-0 input → exactly 1)."""
    score = _metric_fn(model, metric, emotion)
    device = next(model.parameters()).device
    ct, rt = _tokens(model, clean_texts).to(device), _tokens(model, corrupted_texts).to(device)
    cache: dict[str, Tensor] = {}
    m_clean = float(score(ct, [(hook, store_activation_hook(cache, "x"))]).mean())
    m_corr = float(score(rt).mean())
    m_p = float(score(rt, [(hook, patch_activation_hook(cache["x"], None))]).mean())
    return float(normalised(m_p, m_clean, m_corr))


@torch.no_grad()
def activation_patching(model, clean_texts: Sequence[str], corrupted_texts: Sequence[str], emotion: str, *,
                        kinds: Sequence[str] = ("resid_pre", "attn_out", "mlp_out"), layers: Sequence[int] | None = None,
                        metric: MetricArg = "emotion_words", progress=None) -> ActivationPatchResult:
    """Patch each (kind, layer, position) from clean into corrupted; normalised metric per cell.

    ``metric``: a :data:`circuits.metrics.METRICS` name, or a callable with that signature
    ``(model, tokens, attention_mask, emotion, *, prompt_hooks) -> [batch]``.
    """
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
    score = _metric_fn(model, metric, emotion)
    ct, rt = _tokens(model, clean_texts), _tokens(model, corrupted_texts)
    if ct.shape != rt.shape:
        raise ConfigError(f"clean sentences have {ct.shape[1]} tokens but corrupted ones {rt.shape[1]}; lengths must match")
    device = next(model.parameters()).device
    ct, rt = ct.to(device), rt.to(device)
    n_pos = ct.shape[1]
    names = {(k, l): block_hook(k, l) for k in kinds for l in layers}
    cache: dict[str, Tensor] = {}  # hooks on the prompt pass only, so forced word tokens cannot overwrite the capture
    m_clean = float(score(ct, [(n, store_activation_hook(cache, n)) for n in names.values()]).mean())
    m_corr = float(score(rt).mean())
    values = {k: torch.zeros(len(layers), n_pos) for k in kinds}
    total, done = len(kinds) * len(layers) * n_pos, 0
    for k in kinds:
        for li, l in enumerate(layers):
            name = names[(k, l)]
            for p in range(n_pos):
                m = float(score(rt, [(name, patch_activation_hook(cache[name], [p]))]).mean())
                values[k][li, p] = normalised(m, m_clean, m_corr)
                done += 1
                if progress:
                    progress(done, total)
    label = metric if isinstance(metric, str) else getattr(metric, "__name__", "custom")
    return ActivationPatchResult(emotion, list(kinds), layers, values, m_clean, m_corr, model.to_str_tokens(ct[0]),
                                 len(clean_texts), {"metric": label, "metric_description":
                                                    "batch mean at the sentence end; whole words teacher-forced "
                                                    "(circuits.metrics); the patch acts on the sentence only"})
