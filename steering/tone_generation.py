"""Replies to prompts or dialogue histories, batched with a different steering vector per row and hook, and their scores.

A context is a list of chat messages (``{"role": "system" | "user" | "assistant", "content"}``). With ``chat`` it is
rendered by the tokenizer's chat template (generation prompt added); without (or for a model with no template) a
lone user prompt is continued as it is and a longer history is written as ``User: …`` / ``Assistant: …`` lines.
"""

import time
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch
from jaxtyping import Float
from torch import Tensor

from interp.errors import ConfigError
from interp.evaluators import make_scorer, score_texts
from interp.evaluators.fluency import FluencyScorer
from interp.evaluators.masking import mask_texts, masked_column
from interp.generation import continue_tokens, decode
from interp.positions import pad_rows, token_ids_and_offsets
from steering.generation import GenerationConfig
from steering.hooks import PositionTracker, add_row_vectors_hook

ROLES = ("system", "user", "assistant")


def as_messages(prompt_or_history: str | Sequence[dict], *, system: str | None = None) -> list[dict]:
    """``prompt_or_history`` as chat messages (a string is one user turn), with ``system`` put first when given.

    The history must end with a user turn (the agent answers it).
    """
    if isinstance(prompt_or_history, str):
        if not prompt_or_history.strip():
            raise ConfigError("the prompt is empty; give the text to reply to")
        msgs = [{"role": "user", "content": prompt_or_history}]
    else:
        msgs = []
        for i, m in enumerate(prompt_or_history):
            if not isinstance(m, dict) or m.get("role") not in ROLES or not isinstance(m.get("content"), str):
                raise ConfigError(f"dialogue message {i} must be {{'role': one of {', '.join(ROLES)}, 'content': text}}, got {m!r}")
            msgs.append({"role": m["role"], "content": m["content"]})
        if not msgs or msgs[-1]["role"] != "user":
            raise ConfigError("a dialogue history must end with a user message (the turn the agent replies to)")
    if system:
        msgs = [{"role": "system", "content": system}, *[m for m in msgs if m["role"] != "system"]]
    return msgs


def has_chat_template(model) -> bool:
    return bool(getattr(model.tokenizer, "chat_template", None))


def context_ids(model, messages: list[dict], *, chat: bool) -> list[int]:
    """Token ids the model is fed for ``messages`` (module docstring)."""
    if chat and has_chat_template(model):
        text = model.tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
        return list(model.tokenizer(text, add_special_tokens=False)["input_ids"])
    if len(messages) == 1:
        return token_ids_and_offsets(model, messages[0]["content"])[0]
    lines = [f"{m['role'].capitalize()}: {m['content']}" for m in messages]
    return token_ids_and_offsets(model, "\n".join(lines) + "\nAssistant:")[0]


@dataclass(frozen=True)
class RowGeneration:
    """Replies of one batched call: ``texts[i]``, ``n_context[i]`` / ``n_new[i]`` tokens and the call's wall time (s)."""

    texts: tuple[str, ...]
    n_context: tuple[int, ...]
    n_new: tuple[int, ...]
    seconds: float


@torch.no_grad()
def generate_rows(model, contexts: Sequence[list[int]], row_vectors: dict[str, Float[Tensor, "batch d_model"]], *,
                  config: GenerationConfig, positions: str = "all") -> RowGeneration:
    """Continue every context, row ``i`` steered by ``row_vectors[hook][i]`` at each hook (zeros: unsteered there).

    Rows are processed in chunks of ``config.batch_size``; a hook function per hook and chunk, live only during the call.
    """
    n = len(contexts)
    for h, v in row_vectors.items():
        if v.shape != (n, model.cfg.d_model):
            raise ConfigError(f"row vectors at {h} must be [{n}, {model.cfg.d_model}], got {tuple(v.shape)}")
    t0 = time.perf_counter()
    texts, new = [], []
    for a in range(0, n, config.batch_size):
        rows = [list(c) for c in contexts[a:a + config.batch_size]]
        tokens, mask, left = pad_rows(model, rows, padding_side="left")
        hooks = [(h, add_row_vectors_hook(v[a:a + len(rows)], positions=positions, tracker=PositionTracker(tokens.shape[1], left)))
                 for h, v in row_vectors.items() if bool(v[a:a + len(rows)].any())]
        out = continue_tokens(model, tokens, mask, fwd_hooks=hooks, max_new_tokens=config.max_new_tokens, do_sample=config.do_sample,
                              temperature=config.temperature, top_k=config.top_k, top_p=config.top_p, seed=config.seed,
                              use_kv_cache=config.use_kv_cache, stop_at_eos=config.stop_at_eos)
        new += [len(r) for r in out]
        texts += [t.strip() for t in decode(model, out)]
    return RowGeneration(tuple(texts), tuple(len(c) for c in contexts), tuple(new), time.perf_counter() - t0)


class ContextFluency(FluencyScorer):
    """Fluency scored under given context token ids (the scorer's prompts are keys into ``ids``)."""

    ids: dict[str, list[int]]

    def _context_ids(self, prompt: str) -> list[int]:
        return self.ids[prompt]


class ToneScorer:
    """Scores replies for the tone labels: each label's target column raw and with its own lexicon masked, and fluency.

    Columns: ``<target>`` and ``<target>_masked`` per label (masked with that label's words), ``perplexity`` (of the reply
    under the unsteered model given the plain context), ``distinct_2`` and ``longest_repeat``.
    """

    def __init__(self, model, targets: dict[str, str]):
        self.targets = dict(targets)
        self.content = [make_scorer("sentiment"), make_scorer("keywords")]
        have = {c for s in self.content for c in s.columns}
        for label, col in self.targets.items():
            if col not in have:
                raise ConfigError(f"target score {col!r} of {label!r} is not made by the tone scorers ({', '.join(sorted(have))})")
        self.fluency = ContextFluency(model, chat=False)

    def masked_key(self, label: str) -> str:
        col = self.targets[label]
        clash = sum(c == col for c in self.targets.values()) > 1
        return masked_column(col) + (f"_{label}" if clash else "")

    def score(self, texts: Sequence[str], contexts: Sequence[list[int]]) -> list[dict[str, float]]:
        """One dict of scores per text; ``contexts`` are the plain (no tone instruction) context ids fluency conditions on."""
        texts = list(texts)
        keys = [f"context {i}" for i in range(len(texts))]
        self.fluency.ids = {k: list(c) for k, c in zip(keys, contexts)}
        raw = score_texts(texts, self.content)
        cols: dict[str, list[float]] = {c: raw[c] for c in dict.fromkeys(self.targets.values())}
        for label, col in self.targets.items():
            cols[self.masked_key(label)] = score_texts(mask_texts(texts, label), self.content)[col]
        flu = self.fluency.score(texts, prompts=keys)
        for c in ("perplexity", "distinct_2", "longest_repeat"):
            cols[c] = flu[c]
        return [{c: float(v[i]) for c, v in cols.items()} for i in range(len(texts))]


def mean_or_nan(values) -> float:
    x = np.asarray(list(values), dtype=float)
    x = x[np.isfinite(x)]
    return float(x.mean()) if len(x) else float("nan")
