"""OV/QK decomposition of chosen heads (phase 9), grouped-query attention expanded via ``model.OV`` / ``model.QK``.

For head (l, h), with ``x`` the residual as the head reads it (``blocks.l.ln1.hook_out``, the
exact input of ``W_V``; checked in the tests) and ``OV = W_V[kv(h)] W_O[h]`` (d_model × d_model):

* **OV write along emotion vectors**: mean over emotion sentences of ``(x_k OV) · v̂_e`` over the
  emotion-word tokens ``k``, minus the same over all real non-BOS tokens of neutral sentences
  (bootstrap CI of the difference); ``v̂_e`` = unit emotion vector at ``resid_post(l)`` (where the
  head writes). Baseline: mean |projection| onto 32 random unit directions.
* **Promoted tokens**: the mean OV image of the emotion tokens mapped through ``W_U`` (final
  norm ignored); top tokens, and how many of the top 50 *whole-word* tokens (a leading space and
  ≥ 3 letters, :func:`whole_word_vocab`) are whole emotion-lexicon words (single-token forms of
  :func:`circuits.metrics.emotion_words`: " grateful", " thanks", never a piece such as " I" or
  " App"); chance and a hypergeometric p over the same whole-word vocabulary.
* **Post-attention norm** (Gemma 2/3 ``ln1_post``): the attention output is RMS-normalised before
  it joins the residual, which is not linear in one head's output. The OV write is linearised
  around the layer's mean scale: ``OV_eff = OV · diag(g) / s̄`` with ``g`` the norm's gain and
  ``s̄`` the mean RMS of the attention output over the analysed tokens (``config["post_attention_norm"]``
  records s̄ and says so). Exact per token when ``s̄`` is that token's RMS (tested).
* **Singular values** of OV and QK (``FactoredMatrix.S``).
* **QK**: mean attention from the sentence end to the emotion tokens, and the tokens the end
  most attends to (excluding BOS), counted over the emotion sentences.
* **Composition** (Elhage et al.): ``‖A·B‖_F / (‖A‖_F‖B‖_F)`` with A = OV of the earlier head and
  B = QK (Q-comp), QKᵀ (K-comp) or OV (V-comp) of the later head. Null: the same score from every
  *other* head of the earlier layers into the same later head (``{kind}_null_mean``/``_sd``, and the
  rank p-value ``{kind}_p`` = (1 + #null ≥ score) / (1 + n_null)). Random Gaussian factors of the
  same shapes are kept as a reference (``composition_baseline``), but their scores concentrate
  (sd ≈ 0 at d_model 576), so they are no usable null.
"""

import math
import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from torch import Tensor

from circuits.head_patching import kv_head
from circuits.heads import Head, head_name, validate_heads
from circuits.metrics import emotion_words
from interp.attributes import reference_label
from interp.capture import record
from interp.errors import ConfigError
from interp.hook_names import hook_pattern
from interp.io import atomic_write_json
from interp.positions import tokenize_batch
from interp.stats import Estimate, bootstrap_diff_ci


def ln1_input_name(layer: int) -> str:
    return f"blocks.{layer}.ln1.hook_out"


def ov_matrix(model, layer: int, head: int) -> Tensor:
    """Dense OV [d_model d_model] of query head ``head`` (its KV head's W_V times its W_O)."""
    return model.W_V[layer, kv_head(model, head)] @ model.W_O[layer, head]


def _post_norm(model, layer: int):
    block = model.blocks[layer]
    if "ln1_post" not in dict(block.named_children()):
        return None
    return getattr(block.ln1_post, "original_component", block.ln1_post)


def _norm_eps(mod) -> float:
    return float(getattr(mod, "eps", getattr(mod, "variance_epsilon", 0.0)) or 0.0)


def post_norm_scale(model, layer: int, attn_out: Tensor) -> Tensor:
    """The post-attention RMSNorm's divisor per token, ``sqrt(mean(attn_out²) + eps)`` ([...] over the last axis)."""
    mod = _post_norm(model, layer)
    eps = _norm_eps(mod) if mod is not None else 0.0
    return (attn_out.float().pow(2).mean(-1) + eps).sqrt()


def post_attention_gain(model, layer: int) -> Tensor | None:
    """Gain ``g`` [d_model] of the block's post-attention RMSNorm (``ln1_post``), or None where there is none.

    Read off the module itself (its output on an all-ones input, whose RMS is 1), so Gemma's ``1 + w``
    convention needs no special case.
    """
    mod = _post_norm(model, layer)
    if mod is None:
        return None
    eps = _norm_eps(mod)
    device = next(model.parameters()).device
    with torch.no_grad():
        ones = torch.ones(1, 1, model.cfg.d_model, device=device)
        return (mod(ones)[0, 0].float() * math.sqrt(1.0 + eps)).cpu()


def ov_write_matrix(model, layer: int, head: int, scale: float | None = None) -> Tensor:
    """OV as the head writes into the residual [d_model d_model]: ``OV · diag(g) / scale`` after a post-attention norm.

    ``scale``: the norm's divisor to linearise around (:func:`post_norm_scale`; required when the block has ``ln1_post``).
    """
    ov = ov_matrix(model, layer, head).float().cpu()
    g = post_attention_gain(model, layer)
    if g is None:
        return ov
    if scale is None or not scale > 0:
        raise ConfigError(f"layer {layer} normalises its attention output (ln1_post); pass scale = the mean RMS of "
                          f"blocks.{layer}.ln1_post.hook_in to linearise the OV write around it (got {scale!r})")
    return ov * (g / scale)[None, :]


_WHOLE_WORD = re.compile(r"^ [A-Za-z]{3,}$")


def whole_word_vocab(model) -> list[int]:
    """Token ids that decode to a leading space and ≥ 3 letters: tokens that can be a whole English word."""
    cached = getattr(model, "_ec_whole_word_vocab", None)
    if cached is None:
        tok = model.tokenizer
        dec = tok.batch_decode([[i] for i in range(len(tok))])
        cached = [i for i, t in enumerate(dec) if _WHOLE_WORD.match(t)]
        model._ec_whole_word_vocab = cached
    return cached


def lexicon_word_tokens(model, emotion: str) -> list[int]:
    """Ids of the emotion's words that are one token in their scored form (" grateful", " Thanks")."""
    return sorted({f[0] for f in emotion_words(model, emotion).forms if len(f) == 1})


def hypergeom_tail(k: int, population: int, successes: int, draws: int) -> float:
    """P(X ≥ k) for X ~ Hypergeometric(population, successes, draws)."""
    total = math.comb(population, draws)
    return float(sum(math.comb(successes, i) * math.comb(population - successes, draws - i)
                     for i in range(k, min(successes, draws) + 1)) / total)


def composition_score(a, b) -> float:
    """‖a b‖_F / (‖a‖_F ‖b‖_F) for FactoredMatrix (or dense) a, b."""
    return float((a @ b).norm() / (a.norm() * b.norm()))


def random_composition_baseline(d_model: int, d_head: int, *, n: int = 8, seed: int = 0) -> tuple[float, float]:
    """Mean and sd of the composition score of random rank-d_head Gaussian factor products."""
    from transformer_lens import FactoredMatrix  # noqa: PLC0415 - heavy (CLI start-up: loaded on first model use)

    g = torch.Generator().manual_seed(seed)
    vals = []
    for _ in range(n):
        a = FactoredMatrix(torch.randn(d_model, d_head, generator=g), torch.randn(d_head, d_model, generator=g))
        b = FactoredMatrix(torch.randn(d_model, d_head, generator=g), torch.randn(d_head, d_model, generator=g))
        vals.append(composition_score(a, b))
    return float(np.mean(vals)), float(np.std(vals))


@dataclass(frozen=True)
class HeadOVQK:
    """Evidence for one head."""

    layer: int
    head: int
    ov_projection: dict[str, Estimate]  # emotion -> OV write along its vector, emotion − neutral sentences
    random_projection: float
    promoted_tokens: list[str]
    lexicon_hits_top50: dict     # emotion -> whole lexicon words among the top-50 whole-word tokens
    lexicon_chance_top50: dict   # emotion -> expected count under random draws from the whole-word vocabulary
    lexicon_p_top50: dict        # emotion -> hypergeometric P(hits ≥ observed)
    lexicon_words_top50: dict    # emotion -> the lexicon words found
    ov_singular_values: list[float]
    qk_singular_values: list[float]
    attn_end_to_span: dict       # emotion -> mean attention
    top_attended: dict           # emotion -> [(token, count)]
    post_norm_scale: float | None = None  # mean RMS of the attention output the OV write is linearised around

    @property
    def name(self) -> str:
        return head_name((self.layer, self.head))

    def to_dict(self) -> dict:
        return {"name": self.name, **self.__dict__, "ov_projection": {e: v.to_dict() for e, v in self.ov_projection.items()}}


@dataclass(frozen=True)
class OVQKResult:
    heads: list[HeadOVQK]
    composition: list[dict]
    composition_baseline: tuple[float, float]
    config: dict = field(default_factory=dict)

    def to_dict(self) -> dict:
        return {"heads": [h.to_dict() for h in self.heads], "composition": self.composition,
                "composition_baseline": {"mean": self.composition_baseline[0], "sd": self.composition_baseline[1]},
                "config": self.config}

    def save(self, out_dir: str | Path) -> Path:
        return atomic_write_json(Path(out_dir) / "ovqk.json", self.to_dict())


@torch.no_grad()
def _collect(model, ds, layers: list[int], batch_size: int) -> tuple[dict, dict, list, dict]:
    """Per record: ln1 inputs [layer pos d_model] and patterns [layer head q k] (unpadded); per post-normed layer,
    the mean RMS of the attention output."""
    device = next(model.parameters()).device
    xs, pats, meta, rms = {}, {}, [], {}
    recs = ds.records
    for s in range(0, len(recs), batch_size):
        chunk = recs[s:s + batch_size]
        b = tokenize_batch(model, [r.text for r in chunk], [r.spans for r in chunk])
        post = [f"blocks.{l}.ln1_post.hook_in" for l in layers if post_attention_gain(model, l) is not None]
        names = [ln1_input_name(l) for l in layers] + [hook_pattern(l) for l in layers] + post
        with record(model, names, transform=lambda a: a.detach().cpu()) as store:
            model(b.tokens.to(device), attention_mask=b.attention_mask.to(device), return_type=None)
        for j, r in enumerate(chunk):
            n = b.lengths[j]
            i = s + j
            xs[i] = {l: store[ln1_input_name(l)][j, :n] for l in layers}
            for name in post:  # RMS of the attention output at the real non-BOS tokens
                layer = int(name.split(".")[1])
                rms.setdefault(layer, []).append(post_norm_scale(model, layer, store[name][j, 1:n]))
            pats[i] = {l: store[hook_pattern(l)][j, :, :n, :n] for l in layers}
            meta.append((r.emotion, b.span_positions[j], n, b.tokens[j, :n].tolist()))
    return xs, pats, meta, {l: float(torch.cat(v).mean()) for l, v in rms.items()}


def ovqk_evidence(model, ds, heads: Sequence[Head], vectors: dict[int, dict], *, top_k: int = 15, batch_size: int = 32,
                  seed: int = 0, reference: str | None = None) -> OVQKResult:
    """OV/QK evidence for ``heads`` on dataset ``ds``. ``vectors``: ``{layer: {emotion: EmotionVector at resid_post(layer)}}``.

    "Neutral" is ``reference``, default the dataset's reference label (:func:`interp.attributes.reference_label`).

    The report over it (headline, roles, tables) is :func:`circuits.ovqk_analysis.ovqk_analysis`.
    """
    heads = validate_heads(model, heads)
    layers = sorted({l for l, _ in heads})
    for l in layers:
        if l not in vectors:
            raise ConfigError(f"no emotion vectors for layer {l}; pass vectors computed at resid_post({l})")
    xs, pats, meta, post_rms = _collect(model, ds, layers, batch_size)
    ww = torch.tensor(whole_word_vocab(model), dtype=torch.long)
    ww_set = set(ww.tolist())
    ref = reference or reference_label(ds.records) or "neutral"
    emotions = sorted({e for e, *_ in meta if e != ref})
    neutral = [i for i, m in enumerate(meta) if m[0] == ref]
    g = torch.Generator().manual_seed(seed)
    rand_dirs = torch.randn(32, model.cfg.d_model, generator=g)
    rand_dirs = rand_dirs / rand_dirs.norm(dim=-1, keepdim=True)
    out = []
    for l, h in heads:
        ov = ov_write_matrix(model, l, h, post_rms.get(l))
        proj, hits, chance, hit_p, hit_words, attn, top_att = {}, {}, {}, {}, {}, {}, {}
        neu_img = [(xs[i][l][1:] @ ov).mean(0) for i in neutral]
        all_imgs = []
        for e in emotions:
            idx = [i for i, m in enumerate(meta) if m[0] == e]
            imgs = [(xs[i][l][list(meta[i][1])] @ ov).mean(0) for i in idx]
            all_imgs += imgs
            u = vectors[l][e].unit().cpu()
            proj[e] = bootstrap_diff_ci([float(v @ u) for v in imgs], [float(v @ u) for v in neu_img], seed=seed)
            mean_img = torch.stack(imgs).mean(0)
            logits = (mean_img @ model.W_U.float().cpu())[ww]
            top50 = set(ww[torch.topk(logits, min(50, len(ww))).indices].tolist())
            lex = set(lexicon_word_tokens(model, e)) & ww_set
            hits[e] = len(top50 & lex)
            chance[e] = len(top50) * len(lex) / max(1, len(ww))
            hit_p[e] = hypergeom_tail(hits[e], len(ww), len(lex), len(top50))
            hit_words[e] = sorted(model.tokenizer.decode([t]) for t in top50 & lex)
            attn[e] = float(np.mean([float(pats[i][l][h, meta[i][2] - 1, list(meta[i][1])].sum()) for i in idx]))
            cnt = Counter()
            for i in idx:
                row = pats[i][l][h, meta[i][2] - 1, 1:]
                cnt[model.tokenizer.decode([meta[i][3][1 + int(row.argmax())]])] += 1
            top_att[e] = cnt.most_common(5)
        mean_all = torch.stack(all_imgs).mean(0)
        promoted = [model.tokenizer.decode([t]) for t in torch.topk(mean_all @ model.W_U.float().cpu(), top_k).indices.tolist()]
        rp = float((torch.stack(all_imgs) @ rand_dirs.T).abs().mean())
        out.append(HeadOVQK(l, h, proj, rp, promoted, hits, chance, hit_p, hit_words,
                            [float(s) for s in model.OV[l, h].S[:10]], [float(s) for s in model.QK[l, h].S[:10]], attn, top_att,
                            post_rms.get(l)))
    base = random_composition_baseline(model.cfg.d_model, model.cfg.d_head, seed=seed)
    config = {"top_k": top_k, "seed": seed, "vector_hook": "resid_post(layer)", "whole_word_vocab": len(ww),
              "lexicon_tokens": "single-token forms of whole emotion words among whole-word tokens (' ' + ≥3 letters)"}
    if post_rms:
        config["post_attention_norm"] = {
            "mean_rms": {str(l): v for l, v in post_rms.items()},
            "note": "OV write linearised around the mean RMS of the attention output (ln1_post): OV·diag(g)/mean_rms; "
                    "exact only for tokens at that RMS. QK singular values and composition scores ignore q_norm/k_norm."}
    return OVQKResult(out, composition_edges(model, heads), base, config)


def _targets(model, lb: int, hb: int) -> dict:
    return {"q": model.QK[lb, hb], "k": model.QK[lb, hb].T, "v": model.OV[lb, hb]}


@torch.no_grad()
def composition_edges(model, heads: Sequence[Head]) -> list[dict]:
    """Q/K/V composition of every earlier→later pair of ``heads``, each against the null of all other earlier heads."""
    heads = validate_heads(model, heads)
    ov = {}

    def ov_of(l, h):
        if (l, h) not in ov:
            ov[(l, h)] = model.OV[l, h]
        return ov[(l, h)]

    edges = []
    for lb, hb in heads:
        sources = [(la, ha) for la, ha in heads if la < lb]
        if not sources:
            continue
        tgt = _targets(model, lb, hb)
        null = {(la, ha): {k: composition_score(ov_of(la, ha), b) for k, b in tgt.items()}
                for la in range(lb) for ha in range(model.cfg.n_heads)}
        for la, ha in sources:
            e = {"from": f"L{la}H{ha}", "to": f"L{lb}H{hb}", **null[(la, ha)]}
            for k in tgt:
                others = np.array([v[k] for src, v in null.items() if src != (la, ha)])
                e[f"{k}_null_mean"], e[f"{k}_null_sd"] = float(others.mean()), float(others.std())
                e[f"{k}_p"] = float((1 + (others >= e[k]).sum()) / (1 + len(others)))
            e["n_null"] = len(null) - 1
            edges.append(e)
    return edges
