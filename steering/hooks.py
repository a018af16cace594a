"""Residual steering hooks: ``resid += α · v`` at chosen positions, also during cached generation.

A :class:`SteeringSpec` says what to add where: a direction, a hook, a coefficient ``alpha``
and a scale mode that fixes the unit of ``alpha``:

* ``raw`` — add ``alpha · v`` (``v`` as computed, its norm included);
* ``unit`` — add ``alpha · v̂`` (``alpha`` is the added norm, in residual units);
* ``mean_norm`` — add ``alpha · v̂ · r̄`` with ``r̄`` the mean residual-stream norm at the hook
  (over real, non-BOS prompt tokens of the unsteered model), so ``alpha = 1`` adds a vector as
  long as a typical residual.

Positions: ``all``, ``prompt`` (prompt tokens only) or ``generated`` (generated tokens only),
never padding. With the KV cache, :meth:`TransformerBridge.generate` runs the whole prompt once
and then one new token per step, so the hook only sees ``pos = 1`` after the first call. The
hook therefore keeps a :class:`PositionTracker` that counts the absolute (padded) positions it
has seen; it also recognises a full re-run of the sequence (generation without the cache).
"""

from collections.abc import Callable, Iterable, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field

import torch
from jaxtyping import Float
from torch import Tensor

from interp.capture import capture
from interp.errors import ConfigError, HookError
from interp.hook_names import validate_hook
from interp.positions import prepends_bos, tokenize_batch

POSITION_MODES = ("all", "prompt", "generated")
SCALE_MODES = ("raw", "unit", "mean_norm")


@dataclass(frozen=True)
class SteeringSpec:
    """One steering term: add ``coefficient · direction`` at ``hook``.

    Attributes:
        hook: canonical hook name (residual space, e.g. ``blocks.12.hook_resid_pre``).
        direction: [d_model] direction as given (an emotion vector, a random direction…).
        alpha: coefficient in the unit set by ``scale``.
        scale: ``raw``, ``unit`` or ``mean_norm`` (see module docstring).
        mean_norm: mean residual norm at ``hook``; required for ``scale="mean_norm"``.
        label: free text for tables (``"gratitude"``, ``"random"``).
    """

    hook: str
    direction: Float[Tensor, " d_model"]
    alpha: float
    scale: str = "mean_norm"
    mean_norm: float | None = None
    label: str = ""

    def __post_init__(self) -> None:
        check_alpha(self.alpha)
        if self.scale not in SCALE_MODES:
            raise ConfigError(f"scale {self.scale!r} is unknown; choose one of {', '.join(SCALE_MODES)}")
        if self.direction.ndim != 1:
            raise ConfigError(f"steering direction must be a [d_model] vector, got shape {tuple(self.direction.shape)}")
        if not bool(torch.isfinite(self.direction).all()):
            raise ConfigError("steering direction contains NaN or inf; recompute the vector")
        if self.scale != "raw" and float(self.direction.norm()) == 0.0:
            raise ConfigError(f"scale {self.scale!r} needs a non-zero direction")
        if self.scale == "mean_norm" and (self.mean_norm is None or not self.mean_norm > 0):
            raise ConfigError("scale 'mean_norm' needs mean_norm > 0 (the mean residual norm at the hook); "
                              "measure it with steering.hooks.mean_resid_norm")
        if not bool(torch.isfinite(self.added_vector()).all()):
            raise ConfigError(f"alpha {self.alpha:g} x this direction overflows to inf; use a smaller alpha")

    def added_vector(self) -> Float[Tensor, " d_model"]:
        """The vector actually added to the residual stream."""
        d = self.direction.detach().float()
        if self.scale == "raw":
            return self.alpha * d
        unit = d / d.norm()
        return self.alpha * unit * (self.mean_norm if self.scale == "mean_norm" else 1.0)

    @property
    def added_norm(self) -> float:
        return float(self.added_vector().norm())

    def describe(self) -> dict:
        return {"hook": self.hook, "alpha": self.alpha, "scale": self.scale, "mean_norm": self.mean_norm,
                "label": self.label, "added_norm": self.added_norm,
                "unit": {"raw": "alpha x raw vector", "unit": "alpha x unit vector (residual units)",
                         "mean_norm": "alpha x unit vector x mean residual norm at the hook"}[self.scale]}


MAX_ABS_ALPHA = 1000.0
"""Largest accepted ``|alpha|``. Text already collapses at a few residual norms (α ≈ 2 raw on the default
model); beyond 1000 the added norm (``|alpha|`` × a vector norm of up to ~10³ in ``unit``/``mean_norm`` units)
can overflow float16/float32 into inf and NaN logits."""


def check_alpha(alpha: float) -> float:
    """Return ``alpha`` as a float or raise a :class:`ConfigError` for NaN, inf, non-numbers or ``|alpha|`` > :data:`MAX_ABS_ALPHA`."""
    try:
        a = float(alpha)
    except (TypeError, ValueError):
        raise ConfigError(f"alpha must be a number, got {alpha!r}") from None
    if not torch.isfinite(torch.tensor(a)):
        raise ConfigError(f"alpha is {alpha}; it must be a finite number")
    if abs(a) > MAX_ABS_ALPHA:
        raise ConfigError(f"alpha is {alpha:g}; |alpha| must be at most {MAX_ABS_ALPHA:g} (larger values only destroy "
                          "the text and overflow the residual stream); use a smaller alpha")
    return a


@dataclass
class PositionTracker:
    """Which absolute (padded) positions a hook call covers, across the steps of one generation.

    Args:
        prompt_len: padded prompt width P (generated tokens sit at positions >= P).
        left_pad: per row, the number of left-padding positions (never steered).
    """

    prompt_len: int
    left_pad: tuple[int, ...]
    seen: int = 0
    calls: list[tuple[int, int]] = field(default_factory=list)

    def positions(self, n_pos: int) -> range:
        """Absolute positions of a call with ``n_pos`` positions, and advance."""
        if self.seen == 0 or n_pos > 1:
            # First call (the prompt) or a full re-run without the KV cache.
            start = 0
        else:
            start = self.seen
        self.seen = start + n_pos
        self.calls.append((start, n_pos))
        return range(start, start + n_pos)

    def mask(self, n_pos: int, mode: str, device) -> Float[Tensor, "batch pos"]:
        """0/1 mask [batch, n_pos] of the positions ``mode`` steers in this call."""
        span = self.positions(n_pos)
        return self._mask(span, mode, device)

    def select(self, n_pos: int, mode: str, device) -> "Tensor | bool":
        """Like :meth:`mask`, but ``True`` when every position is steered and ``False`` when none is.

        The common cached-generation step (one generated token, no padding there) needs no mask.
        """
        if mode not in POSITION_MODES:
            raise ConfigError(f"positions {mode!r} is unknown; choose one of {', '.join(POSITION_MODES)}")
        span = self.positions(n_pos)
        if span.start >= self.prompt_len and span.start >= max(self.left_pad):
            return mode != "prompt"
        return self._mask(span, mode, device)

    def _mask(self, span: range, mode: str, device) -> Float[Tensor, "batch pos"]:
        pos = torch.arange(span.start, span.stop, device=device)
        lp = torch.tensor(self.left_pad, device=device).unsqueeze(1)
        real = pos.unsqueeze(0) >= lp
        is_prompt = (pos < self.prompt_len).unsqueeze(0)
        if mode == "all":
            m = real
        elif mode == "prompt":
            m = real & is_prompt
        elif mode == "generated":
            m = real & ~is_prompt
        else:
            raise ConfigError(f"positions {mode!r} is unknown; choose one of {', '.join(POSITION_MODES)}")
        return m.float()


def _check_positions(positions: str, tracker: PositionTracker | None) -> None:
    if positions not in POSITION_MODES:
        raise ConfigError(f"positions {positions!r} is unknown; choose one of {', '.join(POSITION_MODES)}")
    if tracker is None and positions != "all":
        raise ConfigError(f"positions {positions!r} needs a PositionTracker (prompt length and padding)")


def _add_at_positions(activation: Tensor, v: Tensor, tracker: PositionTracker | None, positions: str) -> Tensor:
    """``activation + v`` at the positions the tracker selects (all positions without a tracker); a new tensor.

    ``v`` broadcasts against ``activation``: [d_model] (one vector) or [batch 1 d_model] (one per row).
    """
    if tracker is None:
        return activation + v
    m = tracker.select(activation.shape[1], positions, activation.device)
    if m is True:
        return activation + v
    if m is False:
        return activation
    if m.shape[0] not in (1, activation.shape[0]):
        raise HookError(f"steering hook built for batch {m.shape[0]} saw batch {activation.shape[0]}")
    return activation + m.to(activation.dtype).unsqueeze(-1) * v


def add_vector_hook(vector: Float[Tensor, " d_model"], *, positions: str = "all",
                    tracker: PositionTracker | None = None) -> Callable:
    """Hook function adding ``vector`` to the residual at the positions chosen by ``positions``.

    Without a tracker every position of every call is steered (``positions`` must be ``all``).
    Returns a new tensor; the activation passed in is not modified.
    """
    _check_positions(positions, tracker)
    vec = vector.detach()

    def add_vector(activation: Float[Tensor, "batch pos d_model"], hook) -> Float[Tensor, "batch pos d_model"]:
        return _add_at_positions(activation, vec.to(device=activation.device, dtype=activation.dtype), tracker, positions)

    return add_vector


def add_row_vectors_hook(vectors: Float[Tensor, "batch d_model"], *, positions: str = "all",
                         tracker: PositionTracker | None = None) -> Callable:
    """Hook function adding a different vector to each batch row (row ``b`` gets ``vectors[b]``).

    Lets one generate call steer many directions at once (rows = prompt × direction), e.g. the
    norm-matched random-direction control. Positions as in :func:`add_vector_hook`; returns a new tensor.
    """
    _check_positions(positions, tracker)
    if vectors.ndim != 2:
        raise ConfigError(f"row vectors must be [batch, d_model], got shape {tuple(vectors.shape)}")
    vecs = vectors.detach()

    def add_row_vectors(activation: Float[Tensor, "batch pos d_model"], hook) -> Float[Tensor, "batch pos d_model"]:
        if activation.shape[0] != vecs.shape[0]:
            raise HookError(f"row-vector hook built for batch {vecs.shape[0]} saw batch {activation.shape[0]}")
        return _add_at_positions(activation, vecs.to(device=activation.device, dtype=activation.dtype).unsqueeze(1), tracker,
                                 positions)

    return add_row_vectors


def boost_token_logits_hook(token_ids: Iterable[int], bias: float) -> Callable:
    """Hook function for the unembedding output adding ``bias`` to the logits of ``token_ids`` (all positions).

    A planted "keyword-insertion" steer: it changes nothing but how likely some words are, so a text score
    that rises under it measures the words, not the text's tone. Used to test the masked scores.
    """
    ids = sorted({int(t) for t in token_ids})
    if not ids:
        raise ConfigError("boost_token_logits_hook needs at least one token id")
    if not torch.isfinite(torch.tensor(float(bias))):
        raise ConfigError(f"logit bias is {bias}; it must be a finite number")

    def boost_token_logits(logits: Float[Tensor, "batch pos d_vocab"], hook) -> Float[Tensor, "batch pos d_vocab"]:
        out = logits.clone()
        out[..., ids] += bias
        return out

    return boost_token_logits


def validate_specs(model, specs: Sequence[SteeringSpec]) -> None:
    """Raise unless every spec's hook exists and its direction fits the model's d_model."""
    keys = model.hook_dict.keys()
    for s in specs:
        validate_hook(s.hook, keys, model.cfg.n_layers)
        if s.direction.shape[0] != model.cfg.d_model:
            raise HookError(f"steering direction {s.label or s.hook!r} has d_model {s.direction.shape[0]} but the model "
                            f"has d_model {model.cfg.d_model}; compute the vector on this model")


def steering_hooks(model, specs: Sequence[SteeringSpec], *, positions: str = "all", prompt_len: int | None = None,
                   left_pad: Sequence[int] | None = None) -> list[tuple[str, Callable]]:
    """``fwd_hooks`` list for ``specs``; several specs (same or different hooks) add up.

    Specs at the same hook are summed into one hook so each hook point fires one function.
    ``prompt_len`` and ``left_pad`` are needed unless ``positions == "all"`` with no padding.
    """
    validate_specs(model, specs)
    if positions not in POSITION_MODES:
        raise ConfigError(f"positions {positions!r} is unknown; choose one of {', '.join(POSITION_MODES)}")
    summed: dict[str, Tensor] = {}
    for s in specs:
        v = s.added_vector()
        summed[s.hook] = summed[s.hook] + v if s.hook in summed else v
    out = []
    for hook, vec in summed.items():
        tracker = None
        if prompt_len is not None:
            tracker = PositionTracker(prompt_len, tuple(left_pad) if left_pad is not None else (0,))
        elif positions != "all" or left_pad is not None:
            raise ConfigError("prompt_len is needed to steer prompt-only / generated-only positions or a padded batch")
        out.append((hook, add_vector_hook(vec, positions=positions, tracker=tracker)))
    return out


@contextmanager
def steered(model, specs: Sequence[SteeringSpec], **kwargs):
    """Context manager: the model steered by ``specs`` (hooks removed on exit, also on error)."""
    with model.hooks(fwd_hooks=steering_hooks(model, specs, **kwargs)):
        yield model


@torch.no_grad()
def mean_resid_norm(model, hook: str, texts: Sequence[str], *, batch_size: int = 32) -> float:
    """Mean L2 norm of the residual at ``hook`` over the real tokens of ``texts``, BOS excluded.

    BOS residuals are often far larger than any other token's, so they would dominate the mean.
    """
    validate_hook(hook, model.hook_dict.keys(), model.cfg.n_layers)
    if not texts:
        raise ConfigError("mean_resid_norm needs at least one text")
    first = 1 if prepends_bos(model) else 0
    total, count = 0.0, 0
    for i in range(0, len(texts), batch_size):
        batch = tokenize_batch(model, list(texts[i : i + batch_size]), padding_side="right")
        acts = capture(model, batch, [hook])[hook].float()
        mask = batch.attention_mask.bool().clone()
        mask[:, :first] = False
        norms = acts.norm(dim=-1)[mask]
        total += float(norms.sum())
        count += int(norms.numel())
    if count == 0:
        raise ConfigError("texts have no tokens besides BOS; cannot measure a residual norm")
    return total / count
