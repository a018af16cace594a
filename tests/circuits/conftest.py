"""Tiny models with constructed weights for circuit tests (each built fresh: never mutate the shared fixtures)."""

import pytest
import torch

MARK = "Z"
D_CONST, D_MARK = 0, 1  # residual dimensions: a constant on every token, a flag on the marked token


def _build(tmp_path, edit) -> object:
    from transformers import LlamaForCausalLM

    from interp.models import load_model
    from interp.tiny_model import byte_tokenizer, save_tiny_model

    path = save_tiny_model(tmp_path)
    hf = LlamaForCausalLM.from_pretrained(path)
    with torch.no_grad():
        edit(hf, byte_tokenizer())
    hf.save_pretrained(path)
    return load_model(str(path), device="cpu")


@pytest.fixture(scope="session")
def marked_model(tmp_path_factory):
    """Tiny model whose layer-0 head 0 attends (almost only) to the byte token 'Z'.

    Every embedding gets a constant in dim 0; 'Z' gets a large flag in dim 1. Head 0's query
    reads dim 0 and its KV head's key reads dim 1, both into head dim 3, whose rotary
    frequency is the lowest (rotation ≈ 0.001 rad/position), so the score is ≈ position-free.
    """
    def edit(hf, tok):
        emb = hf.model.embed_tokens.weight
        emb[:, D_CONST] = 3.0
        emb[:, D_MARK] = 0.0
        emb[tok.convert_tokens_to_ids(MARK), D_MARK] = 8.0
        d_head = hf.config.hidden_size // hf.config.num_attention_heads
        q = hf.model.layers[0].self_attn.q_proj.weight
        k = hf.model.layers[0].self_attn.k_proj.weight
        q[:d_head] = 0.0
        k[:d_head] = 0.0
        q[3, D_CONST] = 6.0
        k[3, D_MARK] = 6.0

    return _build(tmp_path_factory.mktemp("marked"), edit)


@pytest.fixture(scope="session")
def silent_head_model(tmp_path_factory):
    """Tiny model whose layer-1 head 2 writes nothing (its W_O columns are zero)."""
    def edit(hf, tok):
        d_head = hf.config.hidden_size // hf.config.num_attention_heads
        hf.model.layers[1].self_attn.o_proj.weight[:, 2 * d_head:3 * d_head] = 0.0

    return _build(tmp_path_factory.mktemp("silent"), edit)


def marked_dataset():
    """Emotion sentences contain the marked token 'Z' (the span); neutral ones have 'y' instead."""
    from interp.datasets import EmotionDataset, EmotionRecord

    recs = []
    words = ["ab", "cde", "fg", "hij", "kl", "mno", "pq", "rst"]
    for i, w in enumerate(words):
        t = f"{w} Z {words[(i + 3) % 8]} ok"
        recs.append(EmotionRecord(f"g{i}", t, "gratitude", ((t.index("Z"), t.index("Z") + 1),)))
        recs.append(EmotionRecord(f"n{i}", t.replace("Z", "y"), "neutral", ()))
    return EmotionDataset(tuple(recs), "constructed")
