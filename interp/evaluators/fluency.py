"""Fluency: perplexity of a continuation under the *unsteered* model, and repetition measures.

Perplexity is ``exp(mean NLL)`` of the continuation's tokens given its prompt, computed by a
plain forward pass (call it outside any steering context). Repetition is measured on
lower-cased word/punctuation tokens: distinct-n (unique n-grams ÷ n-grams) and the longest
n-gram that occurs at least twice.
"""

import math
import re
from collections.abc import Sequence

import torch

from interp.errors import ConfigError
from interp.positions import token_ids_and_offsets

_TOKEN_RE = re.compile(r"\w+|[^\w\s]")


def text_tokens(text: str) -> list[str]:
    """Lower-cased word and punctuation tokens."""
    return [t.lower() for t in _TOKEN_RE.findall(text)]


def distinct_n(tokens: Sequence[str], n: int) -> float:
    """Unique n-grams ÷ n-grams (NaN when the text has fewer than ``n`` tokens)."""
    grams = [tuple(tokens[i : i + n]) for i in range(len(tokens) - n + 1)]
    return len(set(grams)) / len(grams) if grams else float("nan")


def longest_repeated_ngram(tokens: Sequence[str]) -> int:
    """Length of the longest n-gram occurring at least twice (overlaps allowed); 0 if none."""
    best = 0
    n = 1
    while n < len(tokens):
        grams = [tuple(tokens[i : i + n]) for i in range(len(tokens) - n + 1)]
        if len(set(grams)) == len(grams):
            break
        best = n
        n += 1
    return best


class FluencyScorer:
    """``perplexity`` (under ``model``, given the prompt), ``distinct_1``, ``distinct_2``, ``longest_repeat``.

    Args:
        model: the unsteered model (a TransformerBridge with a tokenizer).
        chat: the prompts were wrapped in the chat template when generating.
        batch_size: texts per forward pass.
    """

    name = "fluency"
    maskable = False  # perplexity and repetition describe the text as generated; a masked copy is not what the model wrote
    columns = ("perplexity", "distinct_1", "distinct_2", "longest_repeat")

    def __init__(self, model=None, *, chat: bool = False, batch_size: int = 32) -> None:
        if model is None:
            raise ConfigError("the fluency scorer needs the unsteered model: make_scorer('fluency', model=model)")
        self.model = model
        self.chat = chat
        self.batch_size = batch_size

    def _context_ids(self, prompt: str) -> list[int]:
        tok = self.model.tokenizer
        if self.chat:
            text = tok.apply_chat_template([{"role": "user", "content": prompt}], tokenize=False, add_generation_prompt=True)
            return list(tok(text, add_special_tokens=False)["input_ids"])
        return token_ids_and_offsets(self.model, prompt)[0]

    @torch.no_grad()
    def perplexities(self, texts: Sequence[str], prompts: Sequence[str] | None = None) -> list[float]:
        """Perplexity of each text given its prompt (NaN for an empty text)."""
        tok = self.model.tokenizer
        prompts = list(prompts) if prompts is not None else [""] * len(texts)
        rows = []
        for p, t in zip(prompts, texts, strict=True):
            ctx = self._context_ids(p)
            if not ctx:  # no BOS and no prompt: the first token cannot be scored
                ctx = [tok.eos_token_id]
            cont = list(tok(t, add_special_tokens=False)["input_ids"])
            rows.append((ctx, cont))
        out = [float("nan")] * len(rows)
        pad = tok.pad_token_id if tok.pad_token_id is not None else 0
        device = self.model.cfg.device
        order = sorted((i for i, (_, x) in enumerate(rows) if x), key=lambda i: len(rows[i][0]) + len(rows[i][1]))
        for a in range(0, len(order), self.batch_size):  # length-sorted batches: little padding
            chunk = [(i, *rows[i]) for i in order[a : a + self.batch_size]]
            width = max(len(c) + len(x) for _, c, x in chunk)
            ids = torch.full((len(chunk), width), int(pad), dtype=torch.long)
            mask = torch.zeros_like(ids)
            for r, (_, c, x) in enumerate(chunk):
                ids[r, : len(c) + len(x)] = torch.tensor(c + x)
                mask[r, : len(c) + len(x)] = 1
            logits = self.model(ids.to(device), attention_mask=mask.to(device))
            for r, (i, c, x) in enumerate(chunk):
                lg = logits[r, len(c) - 1 : len(c) + len(x) - 1].float()  # the positions predicting the continuation
                nll = torch.logsumexp(lg, dim=-1) - lg.gather(-1, torch.tensor(x, device=lg.device)[:, None]).squeeze(-1)
                out[i] = math.exp(float(nll.mean()))
        return out

    def score(self, texts: Sequence[str], *, prompts: Sequence[str] | None = None) -> dict[str, list[float]]:
        toks = [text_tokens(t) for t in texts]
        return {"perplexity": self.perplexities(texts, prompts), "distinct_1": [distinct_n(t, 1) for t in toks],
                "distinct_2": [distinct_n(t, 2) for t in toks], "longest_repeat": [float(longest_repeated_ngram(t)) for t in toks]}
