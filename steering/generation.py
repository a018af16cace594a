"""Batched generation under steering hooks: seeded, greedy or sampled, KV cache, optional chat template."""

from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field

import torch
from jaxtyping import Float, Int
from torch import Tensor

from interp.errors import ConfigError
from interp.generation import continue_tokens, decode
from interp.hook_names import validate_hook
from interp.positions import pad_rows, token_ids_and_offsets
from steering.hooks import POSITION_MODES, PositionTracker, SteeringSpec, add_row_vectors_hook, steering_hooks


@dataclass(frozen=True)
class GenerationConfig:
    """How to generate.

    Attributes:
        max_new_tokens: new tokens per prompt (the plan uses 10–30).
        do_sample: sample (True) or greedy (False).
        temperature, top_k, top_p: sampling settings (ignored when greedy).
        seed: torch seed set right before each generate call.
        chat: wrap each prompt in the tokenizer's chat template as a user turn.
        use_kv_cache: reuse past keys/values (hooks then see one new token per step).
        stop_at_eos: stop a row at the end-of-sequence token.
        batch_size: prompts per generate call.
    """

    max_new_tokens: int = 20
    do_sample: bool = False
    temperature: float = 1.0
    top_k: int | None = None
    top_p: float | None = None
    seed: int = 0
    chat: bool = False
    use_kv_cache: bool = True
    stop_at_eos: bool = True
    batch_size: int = 32

    def __post_init__(self) -> None:
        if not 1 <= self.max_new_tokens <= 4096:
            raise ConfigError(f"max_new_tokens must be between 1 and 4096, got {self.max_new_tokens}")
        if self.batch_size < 1:
            raise ConfigError(f"batch_size must be >= 1, got {self.batch_size}")
        if self.do_sample and not self.temperature > 0:
            raise ConfigError(f"temperature must be > 0 when sampling, got {self.temperature}")

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class PromptBatch:
    """Left-padded prompt tokens and where each row's real tokens start."""

    tokens: Int[Tensor, "batch pos"]
    attention_mask: Int[Tensor, "batch pos"]
    left_pad: tuple[int, ...]

    @property
    def prompt_len(self) -> int:
        return int(self.tokens.shape[1])


@dataclass(frozen=True)
class Generation:
    """Generated continuations, aligned with ``prompts``.

    Attributes:
        prompts: the raw prompts (before any chat template).
        continuations: decoded new text per prompt (special tokens dropped, cut at EOS).
        new_tokens: new token ids per prompt (cut at EOS).
        seed: the seed used.
        specs: descriptions of the steering terms (empty when unsteered).
    """

    prompts: tuple[str, ...]
    continuations: tuple[str, ...]
    new_tokens: tuple[tuple[int, ...], ...]
    seed: int
    positions: str
    config: dict
    specs: tuple[dict, ...] = field(default_factory=tuple)

    def to_dict(self) -> dict:
        return asdict(self)


def format_prompt(model, prompt: str, *, chat: bool) -> str:
    """``prompt`` as a user turn in the model's chat template (with the assistant prefix) or as is."""
    if not chat:
        return prompt
    tok = model.tokenizer
    if not getattr(tok, "chat_template", None):
        raise ConfigError(f"model {getattr(model.cfg, 'model_name', '?')!r} has no chat template; drop --chat")
    return tok.apply_chat_template([{"role": "user", "content": prompt}], tokenize=False, add_generation_prompt=True)


def prompt_token_ids(model, prompt: str, *, chat: bool) -> list[int]:
    """Token ids the model is fed for ``prompt`` (BOS as ``to_tokens`` adds it; chat text carries its own)."""
    if chat:
        return list(model.tokenizer(format_prompt(model, prompt, chat=True), add_special_tokens=False)["input_ids"])
    return token_ids_and_offsets(model, prompt)[0]


def prepare_prompts(model, prompts: Sequence[str], *, chat: bool = False) -> PromptBatch:
    """Tokenise and left-pad ``prompts`` (left padding keeps every row's last token at the end)."""
    if not prompts:
        raise ConfigError("no prompts to generate from")
    rows = [prompt_token_ids(model, p, chat=chat) for p in prompts]
    for p, r in zip(prompts, rows):
        if not r:
            raise ConfigError(f"prompt {p!r} tokenises to nothing")
    tokens, mask, left = pad_rows(model, rows, padding_side="left")
    return PromptBatch(tokens, mask, left)


@torch.no_grad()
def generate(model, prompts: Sequence[str], specs: Sequence[SteeringSpec] = (), *, positions: str = "all",
             config: GenerationConfig | None = None, extra_hooks: Sequence[tuple[str, Callable]] = ()) -> Generation:
    """Generate continuations of ``prompts`` with the model steered by ``specs`` (none → unsteered).

    Hooks live only inside this call (``with model.hooks``): they are removed afterwards, also on error.

    Args:
        model: a TransformerBridge.
        prompts: raw prompts.
        specs: steering terms, summed (see :func:`steering.hooks.steering_hooks`).
        positions: ``all``, ``prompt`` or ``generated`` positions are steered.
        config: generation settings (default :class:`GenerationConfig`).
        extra_hooks: further ``(hook name, hook function)`` pairs active during generation (e.g. a planted
            logit bias from :func:`steering.hooks.boost_token_logits_hook`); they must not depend on the batch.
    """
    cfg = config or GenerationConfig()
    if positions not in POSITION_MODES:
        raise ConfigError(f"positions {positions!r} is unknown; choose one of {', '.join(POSITION_MODES)}")
    prompts = list(prompts)
    conts: list[str] = []
    new: list[tuple[int, ...]] = []
    for start in range(0, len(prompts), cfg.batch_size):
        chunk = prompts[start : start + cfg.batch_size]
        batch = prepare_prompts(model, chunk, chat=cfg.chat)
        hooks = steering_hooks(model, specs, positions=positions, prompt_len=batch.prompt_len,
                               left_pad=batch.left_pad) if specs else []
        rows = continue_tokens(model, batch.tokens, batch.attention_mask, fwd_hooks=[*hooks, *extra_hooks], max_new_tokens=cfg.max_new_tokens,
                               do_sample=cfg.do_sample, temperature=cfg.temperature, top_k=cfg.top_k, top_p=cfg.top_p,
                               seed=cfg.seed, use_kv_cache=cfg.use_kv_cache, stop_at_eos=cfg.stop_at_eos)
        new += rows
        conts += decode(model, rows)
    return Generation(tuple(prompts), tuple(conts), tuple(new), cfg.seed, positions, cfg.to_dict(),
                      tuple(s.describe() for s in specs))


@torch.no_grad()
def generate_row_vectors(model, prompts: Sequence[str], hook: str | Sequence[str], vectors: Float[Tensor, "n d_model"], *,
                         positions: str = "all", config: GenerationConfig | None = None) -> Generation:
    """Continue every prompt once per vector: rows are prompt-major (row ``i * n + j`` = prompt ``i``, vector ``j``).

    Each row gets its own vector added at ``hook`` (:func:`steering.hooks.add_row_vectors_hook`), so
    ``len(prompts) × n`` steered generations cost ``⌈len(prompts) × n / batch_size⌉`` generate calls
    instead of ``n`` calls per prompt chunk. ``hook`` may also be one hook name per vector (e.g. a layer ×
    α sweep in one call): each distinct hook then adds its rows' vectors and zeros elsewhere (adding 0.0
    leaves an activation bit-identical). ``Generation.prompts`` repeats each prompt ``n`` times.
    """
    cfg = config or GenerationConfig()
    if positions not in POSITION_MODES:
        raise ConfigError(f"positions {positions!r} is unknown; choose one of {', '.join(POSITION_MODES)}")
    if vectors.ndim != 2 or vectors.shape[1] != model.cfg.d_model:
        raise ConfigError(f"row vectors must be [n, d_model={model.cfg.d_model}], got shape {tuple(vectors.shape)}")
    n = int(vectors.shape[0])
    hooks = [hook] * n if isinstance(hook, str) else list(hook)
    if len(hooks) != n:
        raise ConfigError(f"got {len(hooks)} hook names for {n} row vectors; give one hook, or one per vector")
    for h in dict.fromkeys(hooks):
        validate_hook(h, model.hook_dict.keys(), model.cfg.n_layers)
    if not bool(torch.isfinite(vectors).all()):
        raise ConfigError("row vectors contain NaN or inf; use smaller alphas")
    vecs = vectors.detach().float()
    pairs = [(p, j) for p in prompts for j in range(n)]
    conts: list[str] = []
    new: list[tuple[int, ...]] = []
    for start in range(0, len(pairs), cfg.batch_size):
        chunk = pairs[start : start + cfg.batch_size]
        batch = prepare_prompts(model, [p for p, _ in chunk], chat=cfg.chat)
        fwd_hooks = []
        for h in dict.fromkeys(hooks[j] for _, j in chunk):  # a tracker per hook: it advances once per call
            rows_v = torch.stack([vecs[j] if hooks[j] == h else torch.zeros_like(vecs[j]) for _, j in chunk])
            tracker = PositionTracker(batch.prompt_len, batch.left_pad)
            fwd_hooks.append((h, add_row_vectors_hook(rows_v, positions=positions, tracker=tracker)))
        rows = continue_tokens(model, batch.tokens, batch.attention_mask, fwd_hooks=fwd_hooks, max_new_tokens=cfg.max_new_tokens,
                               do_sample=cfg.do_sample, temperature=cfg.temperature, top_k=cfg.top_k, top_p=cfg.top_p,
                               seed=cfg.seed, use_kv_cache=cfg.use_kv_cache, stop_at_eos=cfg.stop_at_eos)
        new += rows
        conts += decode(model, rows)
    return Generation(tuple(p for p, _ in pairs), tuple(conts), tuple(new), cfg.seed, positions, cfg.to_dict(),
                      ({"hook": hook if isinstance(hook, str) else sorted(set(hooks)), "row_vectors": n,
                        "added_norms": [float(x) for x in vectors.norm(dim=-1)]},))
