"""Whole-word logit metrics: parity with a naive teacher-forced computation, and the real tokenizer's scored sets."""

from types import SimpleNamespace

import pytest
import torch

from circuits.metrics import (
    CONTROL_WORDS,
    METRICS,
    WordSet,
    control_words,
    emotion_token_ids,
    emotion_words,
    encode_word_set,
    get_metric,
    metric_texts,
    word_logprob,
    word_logprob_texts,
    word_logprobs,
)
from interp.errors import ConfigError
from interp.hook_names import hook_z
from interp.lexicon import EMOTION_WORDS, STRONG_AFFECT_WORDS
from interp.positions import token_ids_and_offsets, tokenize_batch

TEXTS = ["Thank you so much for your help.", "I am so angry about this.", "The train leaves at noon.", "Sorry."]
GENERIC = (" I", "I", "for", " For", " en", " out", "th", "ap", "reg", " F", " L", " f", " l", " G", " R", " App",
           " Ap", " Reg", " Ang", " Sor")


def _naive(model, text: str, ws: WordSet, hook=None, prompt_only: bool = False) -> float:
    """Each form appended to the sentence, one full unpadded forward, token log-probs summed, logsumexp over forms."""
    ids, _ = token_ids_and_offsets(model, text)
    vals = []
    for f in ws.forms:
        hooks = []
        if hook is not None:
            name, fn = hook
            hooks = [(name, (lambda z, hook, fn=fn: torch.cat([fn(z[:, :len(ids)], hook), z[:, len(ids):]], 1))
                      if prompt_only else fn)]
        with model.hooks(fwd_hooks=hooks):
            lp = torch.log_softmax(model(torch.tensor([ids + list(f)]))[0].float(), -1)
        vals.append(sum(float(lp[len(ids) - 1 + k, f[k]]) for k in range(len(f))))
    return float(torch.logsumexp(torch.tensor(vals), 0))


@pytest.mark.parametrize("emotion", list(EMOTION_WORDS))
def test_word_logprob_matches_naive_teacher_forcing(real_model, emotion):
    ws = emotion_words(real_model, emotion)
    assert any(len(f) >= 3 for f in ws.forms)  # the trie continuation is exercised
    texts = [TEXTS[0], TEXTS[3]]  # different lengths: one row is left-padded
    fast = word_logprob_texts(real_model, texts, ws)
    want = torch.tensor([_naive(real_model, t, ws) for t in texts])
    torch.testing.assert_close(fast, want, atol=1e-4, rtol=0)


def _zero_head_hook(head: int):
    def zero_head_hook(z, hook):
        z = z.clone()
        z[:, :, head] = 0.0
        return z
    return zero_head_hook


def test_word_logprob_fwd_hooks_cover_forced_tokens_prompt_hooks_only_the_prompt(real_model):
    ws = emotion_words(real_model, "anger")
    hook = (hook_z(3), _zero_head_hook(1))
    b = tokenize_batch(real_model, [TEXTS[1], TEXTS[3]], padding_side="left")
    every = word_logprob(real_model, b.tokens, b.attention_mask, ws, fwd_hooks=[hook])
    prompt = word_logprob(real_model, b.tokens, b.attention_mask, ws, prompt_hooks=[hook])
    clean = word_logprob(real_model, b.tokens, b.attention_mask, ws)
    torch.testing.assert_close(every, torch.tensor([_naive(real_model, t, ws, hook) for t in [TEXTS[1], TEXTS[3]]]), atol=1e-4, rtol=0)
    torch.testing.assert_close(prompt, torch.tensor([_naive(real_model, t, ws, hook, True) for t in [TEXTS[1], TEXTS[3]]]),
                               atol=1e-4, rtol=0)
    assert (every - clean).abs().max() > 1e-3 and (every - prompt).abs().max() > 1e-5


def test_word_logprob_chunked_continuation_equals_one_chunk(real_model):
    ws = emotion_words(real_model, "apology")
    b = tokenize_batch(real_model, TEXTS, padding_side="left")
    whole = word_logprobs(real_model, b.tokens, b.attention_mask, [ws])
    chunked = word_logprobs(real_model, b.tokens, b.attention_mask, [ws], max_elements=1)  # one sentence per chunk
    torch.testing.assert_close(whole, chunked, atol=1e-5, rtol=0)


@pytest.mark.parametrize("emotion", list(EMOTION_WORDS))
def test_emotion_words_real_tokenizer_scores_only_whole_words(real_model, emotion):
    tok = real_model.tokenizer
    ws = emotion_words(real_model, emotion)
    allowed = {f for w in EMOTION_WORDS[emotion] for f in (" " + w, " " + w.capitalize())}
    decoded = {tok.decode(list(f)) for f in ws.forms}
    assert decoded == allowed  # every form is a whole lexicon word, and every word is scored
    generic = {tuple(tok(g, add_special_tokens=False)["input_ids"]) for g in GENERIC}
    assert not generic & set(ws.forms)
    # the old first-token set scored generic pieces (the flaw this metric removes)
    old = {tok.decode([i]) for i in emotion_token_ids(real_model, emotion)}
    assert old & set(GENERIC)


def test_control_words_matched_to_emotion_words_on_real_tokenizer(real_model):
    tok = real_model.tokenizer
    n_tok = lambda w: len(tok(" " + w, add_special_tokens=False)["input_ids"])  # noqa: E731
    banned = {w for ws in EMOTION_WORDS.values() for w in ws} | set(STRONG_AFFECT_WORDS)
    for emotion, words in EMOTION_WORDS.items():
        ctrl = CONTROL_WORDS[emotion]
        assert len(ctrl) == len(words) and len(set(ctrl)) == len(ctrl)
        for w, c in zip(words, ctrl, strict=True):
            assert n_tok(w) == n_tok(c), (w, c)
            assert abs(len(w) - len(c)) <= 2, (w, c)
            assert c not in banned
        assert len(control_words(real_model, emotion).forms) >= len(ctrl)


def test_contrast_metric_is_emotion_minus_control(real_model):
    got = metric_texts(real_model, TEXTS[:3], "gratitude", metric="contrast")
    e = word_logprob_texts(real_model, TEXTS[:3], emotion_words(real_model, "gratitude"))
    c = word_logprob_texts(real_model, TEXTS[:3], control_words(real_model, "gratitude"))
    torch.testing.assert_close(got, e - c, atol=1e-5, rtol=0)
    assert float(got[0]) > float(got[2])  # "Thank you so much…" favours gratitude words more than a timetable does


def test_metric_table_and_bad_names():
    assert set(METRICS) == {"emotion_words", "contrast"}
    with pytest.raises(ConfigError, match="metric 'logit'"):
        get_metric("logit")


def test_word_logprob_rejects_right_padding(tiny_model):
    b = tokenize_batch(tiny_model, ["ab", "abcdef"], padding_side="right")
    with pytest.raises(ConfigError, match="LEFT-padded"):
        word_logprob(tiny_model, b.tokens, b.attention_mask, emotion_words(tiny_model, "gratitude"))


def test_unencodable_lexicon_word_is_one_clear_error():
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast

    tk = Tokenizer(models.WordLevel(vocab={"[UNK]": 0, "Ġthank": 1, "ĠThank": 2}, unk_token="[UNK]"))
    tk.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tk.decoder = decoders.ByteLevel()
    fake = SimpleNamespace(tokenizer=PreTrainedTokenizerFast(tokenizer_object=tk, unk_token="[UNK]"))
    assert encode_word_set(fake, "g", ["thank"]).forms == ((1,), (2,))
    with pytest.raises(ConfigError, match="word 'grateful' of 'gratitude'.*cannot encode"):
        encode_word_set(fake, "gratitude", ["thank", "grateful"])
    with pytest.raises(ConfigError, match="unknown emotion 'joy'"):
        emotion_words(fake, "joy")
