"""Attach emotion modules to a frozen bridge as hook functions, switchable on and off at run time."""

from contextlib import contextmanager
from dataclasses import dataclass

import torch
from jaxtyping import Float, Int
from torch import Tensor

from frozen_llm_modules.persistence import check_provenance
from frozen_llm_modules.safety_bias import apply_safety_bias, hedge_token_ids
from frozen_llm_modules.state import EmotionalState, ModuleError
from interp.generation import require_working_kv_cache
from interp.models import weights_hash

KINDS = ("prefix", "adapter", "steering")


def chat_text(prompt: str, response: str | None = None) -> str:
    """ChatML turn (SmolLM2's format, without the default system prompt)."""
    head = f"<|im_start|>user\n{prompt}<|im_end|>\n<|im_start|>assistant\n"
    return head if response is None else head + response + "<|im_end|>"


@dataclass(frozen=True)
class Batch:
    """Left-padded token batch; ``loss_mask`` marks positions whose *next* token is a response token."""

    tokens: Int[Tensor, "batch pos"]
    attention_mask: Int[Tensor, "batch pos"]
    loss_mask: Float[Tensor, "batch pos"]


class EmotionalLLM:
    """A frozen bridge plus optional modules; ``forward`` runs the base with the enabled modules' hooks.

    With every module disabled ``forward`` is exactly ``model(tokens)``. The neutral state is the base
    model for every module: adapter and steering add ``0 * …``, and the prefix puts no virtual tokens in
    front (in a batch mixing neutral and emotional rows, the neutral rows' virtual tokens are masked out).
    """

    def __init__(self, model, *, prefix=None, adapter=None, steering=None, reward=None):
        self.model = model
        check_attach_provenance(model, [prefix, adapter, steering, reward])
        self.modules = {k: m for k, m in (("prefix", prefix), ("adapter", adapter), ("steering", steering)) if m is not None}
        self.reward = reward
        self.enabled = {k: True for k in self.modules}
        self._state = EmotionalState.neutral().to_tensor()
        self._hedge_ids: list[int] | None = None
        for m in self.modules.values():
            m.to(next(model.parameters()).device)

    # -- switches and state -------------------------------------------------------------
    def enable(self, kind: str, on: bool = True) -> None:
        if kind not in self.modules:
            raise ModuleError(f"no {kind!r} module is attached; attached: {sorted(self.modules) or 'none'}")
        self.enabled[kind] = on

    def disable_all(self) -> None:
        for k in self.enabled:
            self.enabled[k] = False

    def active(self) -> list[str]:
        return [k for k in KINDS if self.enabled.get(k)]

    def set_state(self, state: EmotionalState | Tensor) -> None:
        """Set the state: an :class:`EmotionalState` or a [4] / [batch, 4] tensor in [0, 1]."""
        t = state.to_tensor() if isinstance(state, EmotionalState) else state
        if not torch.isfinite(t).all() or (t < 0).any() or (t > 1).any():
            raise ModuleError("emotional state values must lie in [0, 1]")
        self._state = t

    def state_tensor(self) -> Tensor:
        return self._state

    @property
    def n_prefix(self) -> int:
        """Virtual tokens put in front: 0 when the prefix is off or every row of the state is neutral."""
        if not self.enabled.get("prefix") or not (self._state > 0).any():
            return 0
        return self.modules["prefix"].n_virtual

    def prefix_mask(self, batch: int) -> Int[Tensor, "batch n_virtual"]:
        """Attention mask of the virtual tokens: rows whose state is neutral get no prefix (masked out)."""
        s = self._state.reshape(-1, self._state.shape[-1]).expand(batch, -1)
        return (s > 0).any(-1, keepdim=True).long().expand(-1, self.n_prefix)

    def fwd_hooks(self) -> list[tuple[str, object]]:
        hooks = []
        for k in self.active():
            if k == "prefix" and not self.n_prefix:
                continue
            hooks.extend(self.modules[k].hooks(self.state_tensor))
        return hooks

    @contextmanager
    def attached(self):
        """Context in which the enabled modules' hooks are on the model (removed on exit)."""
        hooks = self.fwd_hooks()
        if not hooks:
            yield
            return
        with self.model.hooks(fwd_hooks=hooks):
            yield

    # -- forward ------------------------------------------------------------------------
    def forward(self, tokens: Int[Tensor, "batch pos"], attention_mask: Int[Tensor, "batch pos"] | None = None
                ) -> Float[Tensor, "batch pos d_vocab"]:
        """Logits for ``tokens``; the prefix's virtual positions are added in front and dropped from the output."""
        n = self.n_prefix
        if n:
            pad = torch.full((tokens.shape[0], n), self.pad_id, dtype=tokens.dtype, device=tokens.device)
            tokens = torch.cat([pad, tokens], dim=1)
            pm = self.prefix_mask(tokens.shape[0]).to(tokens.device)
            if attention_mask is None and not bool(pm.all()):
                attention_mask = torch.ones_like(tokens[:, n:])
            if attention_mask is not None:
                attention_mask = torch.cat([pm.to(attention_mask.dtype), attention_mask], dim=1)
        with self.attached():
            logits = self._forward_attached(tokens, attention_mask)
        return logits[:, n:]

    def _forward_attached(self, tokens, attention_mask):
        return self.model(tokens) if attention_mask is None else self.model(tokens, attention_mask=attention_mask)

    __call__ = forward

    @property
    def pad_id(self) -> int:
        tok = self.model.tokenizer
        return int(tok.pad_token_id if tok.pad_token_id is not None else tok.eos_token_id or 0)

    def encode(self, prompts: list[str], responses: list[str] | None = None) -> Batch:
        """Left-padded chat batch of prompts (and target responses, which get ``loss_mask`` 1)."""
        tok = self.model.tokenizer
        rows, masks = [], []
        for i, p in enumerate(prompts):
            head = tok(chat_text(p), add_special_tokens=False)["input_ids"]
            tail = tok(responses[i] + "<|im_end|>", add_special_tokens=False)["input_ids"] if responses else []
            rows.append(head + tail)
            masks.append([0.0] * (len(head) - 1) + [1.0] * len(tail) + [0.0])
        width = max(len(r) for r in rows)
        t = torch.full((len(rows), width), self.pad_id, dtype=torch.long)
        am = torch.zeros((len(rows), width), dtype=torch.long)
        lm = torch.zeros((len(rows), width))
        for i, (r, m) in enumerate(zip(rows, masks)):
            t[i, width - len(r):] = torch.tensor(r)
            am[i, width - len(r):] = 1
            lm[i, width - len(r):] = torch.tensor(m)
        dev = next(self.model.parameters()).device
        return Batch(t.to(dev), am.to(dev), lm.to(dev))

    def response_nll(self, prompts: list[str], responses: list[str]) -> Float[Tensor, " batch"]:
        """Mean negative log-likelihood per response token (differentiable w.r.t. the modules)."""
        b = self.encode(prompts, responses)
        logits = self.forward(b.tokens, b.attention_mask)[:, :-1]
        tgt = b.tokens[:, 1:]
        lp = torch.log_softmax(logits.float(), -1).gather(-1, tgt[..., None])[..., 0]
        m = b.loss_mask[:, :-1]
        return -(lp * m).sum(1) / m.sum(1).clamp_min(1)

    @torch.no_grad()
    def generate(self, prompts: list[str], *, max_new_tokens: int = 24, temperature: float = 0.0,
                 safety_bias: bool = False, seed: int | None = None, use_kv_cache: bool = True) -> list[str]:
        """Batched decoding (greedy when ``temperature`` is 0) under the current state and enabled modules.

        With ``use_kv_cache`` the prompt (and prefix) is run once and each later step feeds only the new
        token (hooks see one position; the prefix hook leaves such steps alone); without it every step
        re-runs the whole sequence. Both give the same tokens up to float rounding.
        """
        if use_kv_cache:
            require_working_kv_cache(self.model)
        gen = torch.Generator().manual_seed(seed) if seed is not None else None
        b = self.encode(prompts)
        tokens, am = b.tokens, b.attention_mask
        n = self.n_prefix
        if n:
            pad = torch.full((tokens.shape[0], n), self.pad_id, dtype=tokens.dtype, device=tokens.device)
            tokens, am = torch.cat([pad, tokens], 1), torch.cat([self.prefix_mask(tokens.shape[0]).to(am), am], 1)
        eos = self.model.tokenizer.convert_tokens_to_ids("<|im_end|>")
        done = torch.zeros(len(prompts), dtype=torch.bool)
        out, cache, step_in = [], None, tokens
        with self.attached():
            for _ in range(max_new_tokens):
                if use_kv_cache:
                    logits, cache = self.model(step_in, attention_mask=am, return_type="logits_and_cache",
                                               past_key_values=cache, use_cache=True)
                    logits = logits[:, -1].float()
                else:
                    logits = self._forward_attached(tokens, am)[:, -1].float()
                if safety_bias:
                    fear = float(self._state.reshape(-1, 4)[:, 0].mean())
                    if self._hedge_ids is None:
                        self._hedge_ids = hedge_token_ids(self.model.tokenizer)
                    logits = apply_safety_bias(logits, fear, self._hedge_ids)
                if temperature > 0:
                    nxt = torch.multinomial(torch.softmax(logits / temperature, -1).cpu(), 1, generator=gen)[:, 0]
                else:
                    nxt = logits.argmax(-1).cpu()
                nxt = torch.where(done, torch.full_like(nxt, self.pad_id), nxt)
                out.append(nxt)
                done |= nxt == eos
                step_in = nxt[:, None].to(tokens.device)
                tokens = torch.cat([tokens, step_in], 1)
                am = torch.cat([am, (~done | (nxt == eos)).long()[:, None].to(am.device)], 1)
                if done.all():
                    break
        gen_ids = torch.stack(out, 1).tolist()
        texts = []
        for row in gen_ids:
            row = row[: row.index(eos)] if eos in row else row
            texts.append(self.model.tokenizer.decode(row, skip_special_tokens=True).strip())
        return texts


def check_attach_provenance(model, modules) -> None:
    """Refuse to attach loaded modules (those carrying ``provenance``) to a model other than their base, or to
    base weights that changed since training; the weights are hashed once for all modules."""
    current = None
    for m in modules:
        prov = getattr(m, "provenance", None)
        if not prov or prov.get("allow_other_model"):
            continue
        if current is None and prov.get("base_weights_hash"):
            current = weights_hash(model)
        check_provenance(prov, model, where=prov.get("where", "the module"), current_hash=current)


def trainable_parameters(module) -> int:
    return sum(p.numel() for p in module.parameters() if p.requires_grad)


def base_parameters(model) -> int:
    """Parameter count of the base model as published: shared tensors once, and with tied word embeddings the
    unembedding counted once with the embedding even where the loaded bridge holds it as a separate copy
    (SmolLM2 from GGUF: 162.8M tensors in memory, 134.5M parameters)."""
    seen, n = set(), 0
    for p in model.parameters():
        if p.data_ptr() not in seen:
            seen.add(p.data_ptr())
            n += p.numel()
    if getattr(model.cfg, "tie_word_embeddings", False):
        params = dict(model.named_parameters())
        emb = [p for k, p in params.items() if "embed_tokens" in k or k.endswith("embed.W_E")]
        heads = [p for k, p in params.items() if ("lm_head" in k or "unembed" in k) and p.dim() == 2]
        if emb and heads and heads[0].data_ptr() != emb[0].data_ptr() and heads[0].numel() == emb[0].numel():
            n -= heads[0].numel()
    return n
