import pytest

from interp.positions import span_token_positions, token_ids_and_offsets, tokenize_batch


def test_span_token_positions_overlap_rule():
    offsets = [(0, 0), (0, 5), (5, 9), (9, 10)]
    assert span_token_positions(offsets, [(0, 5)]) == (1,)
    assert span_token_positions(offsets, [(3, 6)]) == (1, 2)
    assert span_token_positions(offsets, []) == ()


@pytest.mark.parametrize("side", ["left", "right"])
def test_tokenize_batch_padding_layout(tiny_model, side):
    texts = ["Thanks a lot!", "I am so sorry about it."]
    spans = [[(0, 6)], [(8, 13)]]
    b = tokenize_batch(tiny_model, texts, spans, padding_side=side)
    for row, text in enumerate(texts):
        ids = tiny_model.to_tokens(text)[0].tolist()
        n = b.lengths[row]
        assert n == len(ids)
        real = b.tokens[row, b.padded(row, 0): b.padded(row, n)].tolist()
        assert real == ids
        assert b.attention_mask[row].sum().item() == n
        decoded = tiny_model.tokenizer.decode([ids[p] for p in b.span_positions[row]])
        assert decoded == text[spans[row][0][0]: spans[row][0][1]]
    if side == "left":
        assert b.attention_mask[0, 0].item() == 0 and b.attention_mask[0, -1].item() == 1


@pytest.mark.real
def test_token_ids_match_model_tokenisation_on_real_model(real_model):
    for text in ["Thank you so much for your help.", "I'm furious about the broken window!"]:
        ids, offsets = token_ids_and_offsets(real_model, text)
        assert ids == real_model.to_tokens(text)[0].tolist()
        assert len(offsets) == len(ids)
