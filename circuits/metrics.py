"""Logit metrics for circuit experiments: log P(next word is an emotion word), scored on whole words.

``word_logprob``: for each left-padded prompt row, ``log Σ_form P(form | row)`` over every scored
form of every word in a :class:`WordSet`, each form teacher-forced through *all* its tokens. The
forms are the leading-space spellings ``" word"`` and ``" Word"`` (the metric scores the word that
follows a sentence end). A multi-token word is never represented by its first piece alone: with
SmolLM2's tokenizer " Irate" is ``" I" + "rate"`` and " I" by itself is one of the likeliest tokens
after a full stop, so first-token sets measure generic continuations, not emotion words.

Cost: the prompt runs once with the KV cache; the later tokens of all multi-token forms run as one
batched continuation over the forms' distinct maximal proper prefixes (a prefix trie flattened to
rows), the prompt cache repeated per prefix row.

``METRICS`` names the metrics a config may choose (its keys are the allowed values):
``"emotion_words"`` = log P(emotion word); ``"contrast"`` = log P(emotion word) − log P(control word),
with control words matched to the emotion words (see :data:`CONTROL_WORDS`), which removes shifts
that raise or lower every content word alike.

``normalised``: ``(patched - corrupted) / (clean - corrupted)``: 0 = corrupted run, 1 = clean run.
"""

import copy
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import torch
from jaxtyping import Float, Int
from torch import Tensor

from interp.errors import ConfigError
from interp.generation import require_working_kv_cache
from interp.lexicon import EMOTION_WORDS
from interp.positions import tokenize_batch

CONTROL_WORDS: dict[str, tuple[str, ...]] = {
    "gratitude": ("check", "checks", "colorful", "portable", "magnitude", "calculate", "calculated", "reiterative",
                  "calculation", "checked", "stamping"),
    "anger": ("empty", "various", "red", "encased", "outpaced", "lucid", "orate", "painted", "relabeled", "estimated",
              "repeat", "outbound", "page", "toning", "interleaving", "paper", "deftly"),
    "apology": ("story", "recognize", "vaporise", "geologies", "biology", "metabolizing", "reorganising", "recognized",
                "vaporised", "report", "deliver"),
}
"""Neutral control words, one per emotion word and in the same order as ``EMOTION_WORDS``.

Matched by hand to each emotion word on (1) the number of SmolLM2 tokens of its ``" word"`` form (a
BPE merge order proxy for corpus frequency: frequent words are single tokens), (2) length within
±2 letters and (3) part of speech where one exists; none is an emotion or strong-affect word
(``tests/circuits/test_metrics.py`` checks (1), (2) and the exclusion on the real tokenizer)."""


@dataclass(frozen=True)
class WordSet:
    """Words scored by a metric and the token ids of every scored form (each form complete, all its tokens)."""

    name: str
    words: tuple[str, ...]
    forms: tuple[tuple[int, ...], ...]


def word_forms(word: str) -> tuple[str, ...]:
    """The scored spellings of ``word``: leading space, lower case and capitalised (deduplicated)."""
    return tuple(dict.fromkeys((" " + word, " " + word[:1].upper() + word[1:])))


def encode_word_set(model, name: str, words: Sequence[str]) -> WordSet:
    """Tokenise every form of ``words``; raise :class:`ConfigError` naming a word the tokenizer cannot encode."""
    tok = model.tokenizer
    unk = getattr(tok, "unk_token_id", None)
    forms: list[tuple[int, ...]] = []
    for w in words:
        for form in word_forms(w):
            ids = tuple(int(i) for i in tok(form, add_special_tokens=False)["input_ids"])
            if not ids or (unk is not None and unk in ids) or tok.decode(list(ids)) != form:
                raise ConfigError(
                    f"word {w!r} of {name!r}: the tokenizer cannot encode {form!r} (ids {list(ids)} decode to "
                    f"{tok.decode(list(ids))!r}); remove it from interp.lexicon or use a model whose tokenizer covers it")
            forms.append(ids)
    return WordSet(name, tuple(words), tuple(dict.fromkeys(forms)))


def emotion_words(model, emotion: str) -> WordSet:
    """The emotion's lexicon words (``interp.lexicon.EMOTION_WORDS``) as a :class:`WordSet` for ``model``."""
    if emotion not in EMOTION_WORDS:
        raise ConfigError(f"unknown emotion {emotion!r}; choose one of {', '.join(EMOTION_WORDS)}")
    return encode_word_set(model, emotion, EMOTION_WORDS[emotion])


def control_words(model, emotion: str) -> WordSet:
    """Neutral words matched to the emotion's words (:data:`CONTROL_WORDS`) as a :class:`WordSet`."""
    if emotion not in CONTROL_WORDS:
        raise ConfigError(f"no control words for emotion {emotion!r}; choose one of {', '.join(CONTROL_WORDS)}")
    return encode_word_set(model, f"{emotion}-control", CONTROL_WORDS[emotion])


def _plan(sets: Sequence[WordSet]):
    """Flatten the forms' proper prefixes into continuation rows and index the log-prob terms they supply.

    Returns ``(rows, terms, firsts)``: ``rows`` the maximal proper prefixes (each row's position j gives the
    logits after its first j+1 tokens); ``terms`` (row, pos, token, form) for every non-first token of every
    form; ``firsts`` the first token of each form; forms are numbered across ``sets`` in order.
    """
    forms = [f for s in sets for f in s.forms]
    prefixes = {f[:k] for f in forms for k in range(1, len(f))}
    rows = sorted(p for p in prefixes if not any(len(q) > len(p) and q[:len(p)] == p for q in prefixes))
    where = {r[:k]: (i, k - 1) for i, r in enumerate(rows) for k in range(1, len(r) + 1)}
    terms = [(*where[f[:k]], f[k], j) for j, f in enumerate(forms) for k in range(1, len(f))]
    return rows, terms, [f[0] for f in forms]


def _prompt_pass(model, tokens: Tensor, mask: Tensor, use_cache: bool):
    kw = dict(attention_mask=mask)
    if use_cache:
        kw.update(return_type="logits_and_cache", use_cache=True)
    try:
        out = model(tokens, logits_to_keep=1, **kw)
    except TypeError:
        out = model(tokens, **kw)
    return out if use_cache else (out, None)


@torch.no_grad()
def word_logprobs(model, tokens: Int[Tensor, "batch pos"], attention_mask: Int[Tensor, "batch pos"],
                  sets: Sequence[WordSet], *, fwd_hooks: Sequence = (), prompt_hooks: Sequence = (),
                  max_elements: int = 1 << 25) -> Float[Tensor, "n_sets batch"]:
    """:func:`word_logprob` of several word sets at once, sharing the prompt pass and the continuation."""
    if attention_mask.shape != tokens.shape or not bool(attention_mask[:, -1].all()):
        raise ConfigError("tokens must be LEFT-padded (every row's last position real); tokenize with padding_side='left'")
    device = next(model.parameters()).device
    tokens, mask = tokens.to(device), attention_mask.to(device)
    rows, terms, firsts = _plan(sets)
    n_forms, b = len(firsts), tokens.shape[0]
    if rows:
        require_working_kv_cache(model)
    with model.hooks(fwd_hooks=list(fwd_hooks)):
        with model.hooks(fwd_hooks=list(prompt_hooks)):
            logits, cache = _prompt_pass(model, tokens, mask, bool(rows))
        logp0 = torch.log_softmax(logits[:, -1].float(), dim=-1)
        scores = logp0[:, torch.tensor(firsts, device=device)].clone()  # [batch form]
        if rows:
            pad = int(tokens[0, 0]) if not bool(mask[0, 0]) else 0
            n_rows, width = len(rows), max(len(r) for r in rows)
            cont = torch.full((n_rows, width), pad, dtype=torch.long, device=device)
            cmask = torch.zeros((n_rows, width), dtype=torch.long, device=device)
            for i, r in enumerate(rows):
                cont[i, :len(r)] = torch.tensor(r)
                cmask[i, :len(r)] = 1
            t_row, t_pos, t_tok, t_form = (torch.tensor(x, device=device) for x in zip(*terms))
            chunk = max(1, max_elements // (n_rows * width * logits.shape[-1]))
            for s in range(0, b, chunk):
                idx = torch.arange(s, min(b, s + chunk), device=device)
                c = cache if chunk >= b else copy.deepcopy(cache)
                c.reorder_cache(idx.repeat_interleave(n_rows))
                m = torch.cat([mask[idx].repeat_interleave(n_rows, 0), cmask.repeat(len(idx), 1)], dim=1)
                cl = model(cont.repeat(len(idx), 1), attention_mask=m, past_key_values=c).float()
                cl = cl.view(len(idx), n_rows, width, -1)
                lp = cl[:, t_row, t_pos, t_tok] - torch.logsumexp(cl[:, t_row, t_pos], dim=-1)  # [chunk term]
                scores[idx] += torch.zeros(len(idx), n_forms, device=device).index_add_(1, t_form, lp)
    out, start = [], 0
    for ws in sets:
        out.append(torch.logsumexp(scores[:, start:start + len(ws.forms)], dim=-1))
        start += len(ws.forms)
    return torch.stack(out).cpu()


def word_logprob(model, tokens: Int[Tensor, "batch pos"], attention_mask: Int[Tensor, "batch pos"], words: WordSet, *,
                 fwd_hooks: Sequence = (), prompt_hooks: Sequence = ()) -> Float[Tensor, " batch"]:
    """Per row of a LEFT-padded batch: ``log Σ_form P(form | row)``, every token of every form teacher-forced (nats).

    Args:
        tokens, attention_mask: ``[batch pos]``, left-padded (the last position is every row's last real token).
        words: the forms to score (:func:`emotion_words`, :func:`control_words`).
        fwd_hooks: active on the prompt *and* the forced word tokens (an ablation acts everywhere). They see the
            continuation pass too, with batch ``batch × n_prefix_rows`` and pos = the longest form − 1, so they
            must broadcast over batch and position.
        prompt_hooks: active on the prompt pass only (head patching patches the prompt).
    """
    return word_logprobs(model, tokens, attention_mask, [words], fwd_hooks=fwd_hooks, prompt_hooks=prompt_hooks)[0]


MetricFn = Callable[..., Tensor]


def _emotion_words_metric(model, tokens, attention_mask, emotion: str, *, fwd_hooks=(), prompt_hooks=()) -> Tensor:
    return word_logprob(model, tokens, attention_mask, emotion_words(model, emotion), fwd_hooks=fwd_hooks,
                        prompt_hooks=prompt_hooks)


def _contrast_metric(model, tokens, attention_mask, emotion: str, *, fwd_hooks=(), prompt_hooks=()) -> Tensor:
    e, c = word_logprobs(model, tokens, attention_mask, [emotion_words(model, emotion), control_words(model, emotion)],
                         fwd_hooks=fwd_hooks, prompt_hooks=prompt_hooks)
    return e - c


METRICS: dict[str, MetricFn] = {"emotion_words": _emotion_words_metric, "contrast": _contrast_metric}
"""Metric name → ``fn(model, tokens, attention_mask, emotion, *, fwd_hooks=(), prompt_hooks=()) -> [batch]`` (nats)."""


def get_metric(name: str) -> MetricFn:
    """The metric called ``name``; :class:`ConfigError` listing the choices otherwise."""
    if name not in METRICS:
        raise ConfigError(f"unknown metric {name!r}; choose one of {', '.join(METRICS)}")
    return METRICS[name]


def _batched(model, texts: Sequence[str], batch_size: int, score: Callable[[Tensor, Tensor], Tensor]) -> Tensor:
    """Apply ``score(tokens, mask) -> [batch]`` to length-sorted left-padded batches; values in the order of ``texts``."""
    if not texts:
        raise ConfigError("texts is empty; pass at least one sentence")
    lengths = tokenize_batch(model, list(texts)).lengths
    order = sorted(range(len(texts)), key=lambda i: lengths[i])
    out = torch.empty(len(texts))
    for i in range(0, len(order), batch_size):
        idx = order[i:i + batch_size]
        b = tokenize_batch(model, [texts[j] for j in idx], padding_side="left")
        out[idx] = score(b.tokens, b.attention_mask).float()
    return out


def word_logprob_texts(model, texts: Sequence[str], words: WordSet, *, fwd_hooks: Sequence = (),
                       batch_size: int = 32) -> Float[Tensor, " n"]:
    """:func:`word_logprob` after each sentence of ``texts`` (length-sorted, left-padded batches), in input order."""
    return _batched(model, texts, batch_size, lambda t, m: word_logprob(model, t, m, words, fwd_hooks=fwd_hooks))


def metric_texts(model, texts: Sequence[str], emotion: str, *, metric: str = "emotion_words", fwd_hooks: Sequence = (),
                 batch_size: int = 32) -> Float[Tensor, " n"]:
    """The named :data:`METRICS` entry after each sentence of ``texts``, in input order (nats)."""
    fn = get_metric(metric)
    emotion_words(model, emotion)  # validate the emotion once, before any forward pass
    return _batched(model, texts, batch_size, lambda t, m: fn(model, t, m, emotion, fwd_hooks=fwd_hooks))


# --- first-token metric: kept until ablation / head patching have moved to the whole-word API ------------------

def emotion_token_ids(model, emotion: str) -> list[int]:
    """Deprecated (scores generic sub-word pieces): distinct first-token ids of the emotion's words."""
    if emotion not in EMOTION_WORDS:
        raise ConfigError(f"unknown emotion {emotion!r}; choose one of {', '.join(EMOTION_WORDS)}")
    ids: set[int] = set()
    for w in EMOTION_WORDS[emotion]:
        for form in (w, " " + w, w.capitalize(), " " + w.capitalize()):
            toks = model.tokenizer(form, add_special_tokens=False)["input_ids"]
            if toks:
                ids.add(int(toks[0]))
    return sorted(ids)


def emotion_logprob(logits: Float[Tensor, "batch pos d_vocab"], end_positions: Sequence[int],
                    token_ids: Sequence[int]) -> Float[Tensor, " batch"]:
    """Deprecated (see :func:`emotion_token_ids`): per row, log P(next token ∈ token_ids) at its end position."""
    rows = torch.arange(logits.shape[0], device=logits.device)
    last = logits[rows, torch.as_tensor(list(end_positions), device=logits.device)].float()
    logp = torch.log_softmax(last, dim=-1)
    return torch.logsumexp(logp[:, list(token_ids)], dim=-1)


def normalised(patched: float | Tensor, clean: float, corrupted: float) -> float | Tensor:
    """0 = corrupted, 1 = clean; raises when clean and corrupted give the same metric."""
    denom = clean - corrupted
    if abs(float(denom)) < 1e-9:
        raise ConfigError("clean and corrupted runs give the same metric; the normalised metric is undefined "
                          "(choose clean/corrupted inputs that differ)")
    return (patched - corrupted) / denom

