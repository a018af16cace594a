import pytest
import torch

from circuits.ablation import MODES, ablate, ablation_effects, ablation_hooks, ablation_reference, cumulative_ablation
from circuits.head_controls import control_p, matched_draws
from circuits.heads import parse_heads, validate_heads
from interp.errors import ConfigError, HookError
from interp.positions import tokenize_batch

TEXTS = ["thank you so much", "I am grateful today", "we appreciate it!"]
NEUTRAL = ["the cat sat", "a bus came by today", "it is on the desk now"]


def _logits(model, texts, hooks):
    b = tokenize_batch(model, texts, padding_side="left")
    with torch.no_grad(), model.hooks(fwd_hooks=hooks(b) if callable(hooks) else hooks):
        return model(b.tokens, attention_mask=b.attention_mask)


def test_ablate_silent_head_changes_nothing(silent_head_model):
    m = silent_head_model
    base = _logits(m, TEXTS, [])
    ref = ablation_reference(m, NEUTRAL)
    for mode in MODES:
        out = _logits(m, TEXTS, lambda b: ablation_hooks(m, [(1, 2)], mode, ref, batch=b))
        assert torch.allclose(out, base, atol=1e-6)
    # a head that does write changes the logits, so the check above can fail
    assert not torch.allclose(_logits(m, TEXTS, lambda b: ablation_hooks(m, [(1, 1)], "zero", batch=b)), base, atol=1e-4)


def test_ablate_multi_head_zero_sets_only_chosen_heads(tiny_model):
    seen = {}

    def grab(z, hook):
        seen["z"] = z.clone()
        return z

    b = tokenize_batch(tiny_model, TEXTS[1:2], padding_side="left")
    hooks = ablation_hooks(tiny_model, [(0, 1), (0, 3), (1, 0)], "zero", batch=b) + [("blocks.0.attn.hook_z", grab)]
    with torch.no_grad(), tiny_model.hooks(fwd_hooks=hooks):
        tiny_model(b.tokens)
    z = seen["z"]
    assert z[:, :, [1, 3]].abs().max() == 0 and z[:, :, [0, 2]].abs().max() > 0


def test_ablation_reference_mean_excludes_bos_and_padding(tiny_model):
    """The reference mean is the hand-computed mean of hook_z over the neutral sentences' real tokens after BOS."""
    ref = ablation_reference(tiny_model, NEUTRAL, batch_size=2)
    rows = []
    for t in NEUTRAL:
        _, cache = tiny_model.run_with_cache(tiny_model.to_tokens(t))
        rows.append(cache["blocks.1.attn.hook_z"][0, 1:])  # drop BOS (position 0)
    want = torch.cat(rows).mean(0)
    torch.testing.assert_close(ref.mean[1], want, atol=1e-5, rtol=1e-5)
    with_bos = torch.cat([tiny_model.run_with_cache(tiny_model.to_tokens(t))[1]["blocks.1.attn.hook_z"][0] for t in NEUTRAL]).mean(0)
    assert not torch.allclose(ref.mean[1], with_bos, atol=1e-4)  # the old definition differs
    assert ref.n_tokens == sum(len(tiny_model.to_tokens(t)[0]) - 1 for t in NEUTRAL)


def test_ablate_mean_writes_reference_mean_and_keeps_bos(tiny_model):
    ref = ablation_reference(tiny_model, NEUTRAL)
    seen = {}

    def grab(z, hook):
        seen["z"] = z.clone()
        return z

    b = tokenize_batch(tiny_model, TEXTS, padding_side="left")
    with torch.no_grad(), tiny_model.hooks(fwd_hooks=ablation_hooks(tiny_model, [(1, 2)], "mean", ref, batch=b)
                                          + [("blocks.1.attn.hook_z", grab)]):
        tiny_model(b.tokens, attention_mask=b.attention_mask)
    for r, (lp, n) in enumerate(zip(b.left_pad, b.lengths)):
        z = seen["z"][r, lp:lp + n, 2]
        torch.testing.assert_close(z[1:], ref.mean[1, 2].expand_as(z[1:]))
        torch.testing.assert_close(z[0], ref.bos[1, 2])


def test_ablate_resample_takes_same_length_reference_position_by_position(tiny_model):
    ref = ablation_reference(tiny_model, ["the cat sat", "xyz abc", "a bus came by today"])
    texts = ["abc xyz", "q"]  # same length as reference 1; no reference of length 3 → position average
    b = tokenize_batch(tiny_model, texts, padding_side="left")
    seen = {}

    def grab(z, hook):
        seen["z"] = z.clone()
        return z

    with torch.no_grad(), tiny_model.hooks(fwd_hooks=ablation_hooks(tiny_model, [(0, 3)], "resample", ref, batch=b)
                                          + [("blocks.0.attn.hook_z", grab)]):
        tiny_model(b.tokens, attention_mask=b.attention_mask)
    lp, n = b.left_pad[0], b.lengths[0]
    torch.testing.assert_close(seen["z"][0, lp:lp + n, 3], ref.samples[1][0, :, 3])
    lp, n = b.left_pad[1], b.lengths[1]
    assert n not in ref.lengths
    avg = [ref.position_mean(i)[0, 3] for i in range(3)]
    assert any(torch.allclose(seen["z"][1, lp + 1, 3], a) for a in avg)


def test_ablate_bad_input_errors(tiny_model):
    with pytest.raises(HookError, match="head 4 is out of range"):
        validate_heads(tiny_model, [(0, 4)])
    with pytest.raises(HookError, match="layer 2 is out of range"):
        validate_heads(tiny_model, [(2, 0)])
    b = tokenize_batch(tiny_model, TEXTS, padding_side="left")
    with pytest.raises(ConfigError, match="unknown ablation mode"):
        ablation_hooks(tiny_model, [(0, 0)], "shuffle", batch=b)
    with pytest.raises(ConfigError, match="needs reference activations"):
        ablation_hooks(tiny_model, [(0, 0)], "mean", batch=b)
    with pytest.raises(HookError, match="cannot read head"):
        parse_heads("L3-H1")
    assert parse_heads("L3H1, 5.0") == [(3, 1), (5, 0)]


@pytest.mark.parametrize("mode", list(MODES))
def test_batched_draws_equal_one_draw_at_a_time(tiny_model, mode):
    """Several head sets stacked along the batch axis (per-row head masks) give each set's own numbers to 1e-5."""
    ref = ablation_reference(tiny_model, NEUTRAL)
    texts = TEXTS + ["ok", "a much longer sentence than the others here"]
    sets = [[], [(0, 1)], [(0, 0), (1, 3)], [(1, 2)], [(0, 2), (0, 3), (1, 1)]]
    batched = ablation_effects(tiny_model, texts, "gratitude", sets, mode=mode, reference=ref, max_rows=64, seed=1)
    for i, hs in enumerate(sets):
        one = ablation_effects(tiny_model, texts, "gratitude", [hs], mode=mode, reference=ref, max_rows=2, seed=1)[0]
        torch.testing.assert_close(batched[i], one, atol=1e-5, rtol=1e-5)
    assert not torch.allclose(batched[0], batched[2], atol=1e-4)


def test_cumulative_ablation_reports_top_and_layer_matched_random(tiny_model):
    res = cumulative_ablation(tiny_model, TEXTS, "gratitude", [(0, 0), (1, 1), (0, 2)], [1, 3], n_random=3)
    d = res.to_dict()
    assert [r["k"] for r in d["rows"]] == [1, 3]
    for r in d["rows"]:
        assert r["top_effect"]["lo"] <= r["top_effect"]["value"] <= r["top_effect"]["hi"]
        assert r["random_draw_min"] <= r["random_effect"]["value"] <= r["random_draw_max"]
        assert r["p_floor"] == pytest.approx(1 / (1 + r["n_random_planned"])) and r["p_floor"] <= r["p_draws"] <= 1
    # layer-matched: k=1 top head L0H0 → random single heads from layer 0, never L0H0 itself
    assert all(len(hs) == 1 and hs[0].startswith("L0") and hs[0] != "L0H0" for hs in d["rows"][0]["random_draw_heads"])
    assert res.random[0].value == pytest.approx(sum(res.random_draw_effects[0]) / len(res.random_draw_effects[0]), abs=1e-5)
    with pytest.raises(ConfigError, match="ks must be"):
        cumulative_ablation(tiny_model, TEXTS, "gratitude", [(0, 0)], [2])


def test_matched_draws_are_layer_matched_distinct_and_widen_when_needed():
    heads = [(3, 1), (3, 4), (7, 0)]
    d = matched_draws(heads, 100, n_layers=30, n_heads=9, seed=0)
    assert d.n == 100 and d.window == 0 and not d.exhaustive
    assert len({tuple(sorted(s)) for s in d.sets}) == 100
    for s in d.sets:
        assert sorted(l for l, _ in s) == [3, 3, 7] and not set(s) & set(heads)
    one = matched_draws([(5, 2)], 100, n_layers=30, n_heads=9, seed=0)  # 8 other heads in L5: widen
    assert one.window > 0 and one.n == 100 and all(abs(s[0][0] - 5) <= one.window for s in one.sets)
    small = matched_draws([(0, 0)], 100, n_layers=2, n_heads=4, seed=0)  # only 7 other heads exist
    assert small.exhaustive and small.n == 7 and small.p_floor == pytest.approx(1 / 8)


def test_control_p_formula_and_floor():
    p = control_p(2.0, [0.1] * 99 + [-2.5])
    assert p.p == pytest.approx(2 / 101) and p.p_floor == pytest.approx(1 / 101)
    assert control_p(0.0, [0.0, 1.0]).p == 1.0


def _wide_model(tmp_path, scale_head=None, silence_head=None):
    """Tiny Llama with 2 layers × 64 heads (enough heads for ≥ 100 distinct random draws)."""
    from transformers import LlamaConfig, LlamaForCausalLM

    from interp.models import load_model
    from interp.tiny_model import byte_tokenizer

    tok = byte_tokenizer()
    cfg = LlamaConfig(vocab_size=len(tok), hidden_size=256, intermediate_size=256, num_hidden_layers=2, num_attention_heads=64,
                      num_key_value_heads=64, max_position_embeddings=128, bos_token_id=tok.bos_token_id,
                      eos_token_id=tok.eos_token_id, pad_token_id=tok.pad_token_id, tie_word_embeddings=False,
                      architectures=["LlamaForCausalLM"])
    torch.manual_seed(0)
    hf = LlamaForCausalLM(cfg)
    with torch.no_grad():
        for (l, h), f in ((scale_head, 40.0), (silence_head, 0.0)):
            if l is not None:
                hf.model.layers[l].self_attn.o_proj.weight[:, 4 * h:4 * h + 4] *= f
    hf.save_pretrained(tmp_path)
    tok.save_pretrained(tmp_path)
    return load_model(str(tmp_path), device="cpu")


def test_control_with_100_draws_rejects_planted_head_and_not_a_null(tmp_path):
    """One head made to carry a large output (its W_O ×40) gives p < 0.05 against 100 layer-matched draws;
    a silent head (W_O = 0, effect exactly 0) gives p > 0.05. Ten draws could not reach 0.05 at all."""
    m = _wide_model(tmp_path, scale_head=(1, 5), silence_head=(1, 9))
    texts = ["thanks a lot", "we are grateful", "I appreciate it"]
    planted = cumulative_ablation(m, texts, "gratitude", [(1, 5)], [1], n_random=100, max_rows=400)
    assert planted.p[0].n_draws == 100 and planted.p[0].p < 0.05 and planted.p[0].p_floor < 0.01
    null = cumulative_ablation(m, texts, "gratitude", [(1, 9)], [1], n_random=100, max_rows=400)
    assert null.top[0].value == 0 and null.p[0].p > 0.05
    # the null stops early (Besag–Clifford: every draw is as extreme as 0), the planted effect ran every draw
    assert null.p[0].stopped_early and null.p[0].n_draws == 10 and null.p[0].p == pytest.approx(1.0)
    full = cumulative_ablation(m, texts, "gratitude", [(1, 9)], [1], n_random=100, max_rows=400, stop_after=0)
    assert full.p[0].n_draws == 100 and not full.p[0].stopped_early
    assert control_p(10.0, [0.0] * 10).p > 0.05  # the old 10-draw control could never reject


@pytest.mark.real
def test_ablate_real_model_leaves_weights_and_hooks_untouched(real_model):
    from interp.models import weights_hash

    before = weights_hash(real_model)
    toks = real_model.to_tokens(TEXTS[0])
    ref_logits = real_model(toks)
    ref = ablation_reference(real_model, NEUTRAL)
    res = ablate(real_model, TEXTS, "gratitude", [(l, h) for l in range(3) for h in range(9)], mode="mean", reference=ref)
    assert weights_hash(real_model) == before
    assert torch.equal(real_model(toks), ref_logits)
    assert res.effect.value != 0 and len(res.ablated) == 3
    assert torch.allclose(res.clean, ablate(real_model, TEXTS, "gratitude", [(0, 0)]).clean, atol=1e-4)
    # the reference mean excludes BOS: BOS z is far from the real-token mean on smollm2
    assert ref.bos is not None and float((ref.bos - ref.mean).norm()) > 0


@pytest.mark.real
def test_ablation_effects_real_model_batched_equals_single(real_model):
    ref = ablation_reference(real_model, NEUTRAL)
    sets = [[(14, 0)], [(3, 1), (20, 4)]]
    batched = ablation_effects(real_model, TEXTS, "anger", [[], *sets], mode="resample", reference=ref, max_rows=64)
    for i, hs in enumerate(sets, 1):
        one = ablation_effects(real_model, TEXTS, "anger", [hs], mode="resample", reference=ref, max_rows=3)[0]
        torch.testing.assert_close(batched[i], one, atol=1e-4, rtol=1e-4)
