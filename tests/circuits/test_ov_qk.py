import numpy as np
import pytest
import torch

from circuits.ov_qk import composition_score, ln1_input_name, ov_matrix, ovqk_evidence, random_composition_baseline
from circuits.roles import assign_roles
from interp.stats import Estimate


def test_ov_matrix_reproduces_head_output(tiny_model):
    """Σ_k pattern[q,k] · (x_k OV) equals the head's actual write z_h W_O[h] (so x = ln1.hook_out is W_V's input)."""
    l, h = 1, 3
    toks = tiny_model.to_tokens("thank you so much")
    _, cache = tiny_model.run_with_cache(toks)
    x = cache[ln1_input_name(l)][0]
    pat = cache[f"blocks.{l}.attn.hook_pattern"][0, h]
    write = cache[f"blocks.{l}.attn.hook_z"][0, :, h] @ tiny_model.W_O[l, h]
    assert torch.allclose(pat @ (x @ ov_matrix(tiny_model, l, h)), write, atol=1e-5)
    assert torch.allclose(tiny_model.OV[l, h].AB, ov_matrix(tiny_model, l, h), atol=1e-5)


def test_composition_score_bounds_and_baseline():
    from transformer_lens import FactoredMatrix

    a = FactoredMatrix(torch.randn(16, 4), torch.randn(4, 16))
    assert 0 < composition_score(a, a) <= 1
    mean, sd = random_composition_baseline(16, 4, n=4)
    p = torch.linalg.qr(torch.randn(16, 4))[0]
    aligned = FactoredMatrix(p, p.T)
    assert composition_score(aligned, aligned) > mean + 3 * sd


@pytest.mark.real
def test_ovqk_real_model_and_roles(real_model, tmp_path):
    from circuits.head_screening import screen_heads
    from interp.activations import extract_activations
    from interp.datasets import load_profile
    from interp.hook_names import resid_post
    from steering.vectors import compute_emotion_vectors

    ds = load_profile("baseline").subset(["gratitude", "neutral"], limit_per_emotion=8)
    store = extract_activations(real_model, ds, tmp_path / "acts", hooks=[resid_post(13), resid_post(14)], batch_size=16)
    vecs = {l: compute_emotion_vectors(store, resid_post(l)) for l in (13, 14)}
    res = ovqk_evidence(real_model, ds, [(13, 6), (14, 0)], vecs, top_k=10)
    assert len(res.heads) == 2 and len(res.composition) == 1
    hd = res.heads[1]
    assert len(hd.ov_singular_values) == 10 and hd.ov_singular_values[0] >= hd.ov_singular_values[-1] > 0
    assert len(hd.promoted_tokens) == 10
    est = hd.ov_projection["gratitude"]
    assert est.lo <= est.value <= est.hi
    assert 0 < hd.attn_end_to_span["gratitude"] < 1
    screen = screen_heads(real_model, ds, n_boot=50, n_perm=50)
    roles = {r.name: r for r in assign_roles(screen, res)}
    assert set(roles) == {"L13H6", "L14H0"}
    for r in roles.values():
        assert len(r.evidence) >= len(r.roles)
    res.save(tmp_path)
    assert (tmp_path / "ovqk.json").exists()


def _screen(delta, lo, p_holm, n_perm):
    from circuits.head_screening import ScreeningResult

    t = lambda v: torch.tensor(v).view(1, 1, 2)  # noqa: E731 - one emotion, one layer, two heads
    return ScreeningResult(["gratitude"], t(delta), t(lo), t([1.0, 1.0]), t(p_holm), t(p_holm), t(delta), t(delta),
                           [10], 10, {"n_perm": n_perm})


def _ovqk(heads):
    from circuits.ov_qk import HeadOVQK, OVQKResult

    blank = Estimate(0.0, -1.0, 1.0)
    return OVQKResult([HeadOVQK(0, h, {"gratitude": blank}, 0.1, [], {"gratitude": 0}, {"gratitude": 0.1}, {"gratitude": 1.0},
                                {"gratitude": []}, [], [], {}, {})
                       for h in heads], [], (0.1, 0.01))


def test_assign_roles_pick_up_uses_holm_when_it_can_decide():
    """With enough permutations Holm decides (an uncorrected CI above 0 is not enough); with too few, the CI decides."""
    ovqk = _ovqk([0, 1])
    # head 0: Holm significant; head 1: CI above 0 but Holm p 0.5
    many = {r.name: r.roles for r in assign_roles(_screen([0.1, 0.05], [0.05, 0.01], [0.01, 0.5], 10_000), ovqk)}
    assert many == {"L0H0": ["pick-up"], "L0H1": []}
    few = {r.name: r.roles for r in assign_roles(_screen([0.1, 0.05], [0.05, 0.01], [1.0, 1.0], 20), ovqk)}
    assert few == {"L0H0": ["pick-up"], "L0H1": ["pick-up"]}


def test_composition_edges_rank_against_other_earlier_heads(tiny_model):
    """Each edge's null is every other head of the earlier layers into the same later head; p is its rank."""
    from circuits.ov_qk import composition_edges

    (edge,) = composition_edges(tiny_model, [(0, 1), (1, 2)])
    assert (edge["from"], edge["to"], edge["n_null"]) == ("L0H1", "L1H2", tiny_model.cfg.n_heads - 1)
    assert edge["v"] == pytest.approx(composition_score(tiny_model.OV[0, 1], tiny_model.OV[1, 2]))
    for k in ("q", "k", "v"):
        others = [composition_score(tiny_model.OV[0, h], {"q": tiny_model.QK[1, 2], "k": tiny_model.QK[1, 2].T,
                                                          "v": tiny_model.OV[1, 2]}[k]) for h in range(4) if h != 1]
        assert edge[f"{k}_null_mean"] == pytest.approx(float(np.mean(others)), rel=1e-5)
        assert edge[f"{k}_p"] == pytest.approx((1 + sum(o >= edge[k] for o in others)) / (1 + len(others)))


def test_assign_roles_aggregate_needs_a_top_ranked_composition():
    """A later head is 'aggregate' only when its composition with a pick-up head ranks in the top alpha of the null."""
    from circuits.ov_qk import HeadOVQK, OVQKResult

    blank = Estimate(0.0, -1.0, 1.0)
    heads = [HeadOVQK(0, 0, {"gratitude": blank}, 0.1, [], {"gratitude": 0}, {"gratitude": 0.1}, {"gratitude": 1.0},
                      {"gratitude": []}, [], [], {}, {}),
             HeadOVQK(0, 1, {"gratitude": blank}, 0.1, [], {"gratitude": 0}, {"gratitude": 0.1}, {"gratitude": 1.0},
                      {"gratitude": []}, [], [], {}, {})]
    edge = {"from": "L0H0", "to": "L0H1", "n_null": 40,
            **{k: 0.5 for k in "qkv"}, **{f"{k}_null_mean": 0.2 for k in "qkv"}, **{f"{k}_null_sd": 0.1 for k in "qkv"}}
    screen = _screen([0.1, 0.0], [0.05, -0.1], [0.01, 1.0], 10_000)
    weak = {r.name: r.roles for r in assign_roles(screen, OVQKResult(heads, [{**edge, **{f"{k}_p": 0.3 for k in "qkv"}}], (0.1, 0.0)))}
    strong = {r.name: r.roles for r in assign_roles(screen, OVQKResult(heads, [{**edge, "q_p": 0.02, "k_p": 0.3, "v_p": 0.3}], (0.1, 0.0)))}
    assert weak["L0H1"] == [] and strong["L0H1"] == ["aggregate"]


@pytest.fixture(scope="module")
def tiny_gemma3(tmp_path_factory):
    """Tiny random Gemma 3 (post-attention RMSNorm with a non-trivial gain), byte tokenizer."""
    from transformers import Gemma3ForCausalLM, Gemma3TextConfig

    from interp.models import load_model
    from interp.tiny_model import byte_tokenizer

    tok = byte_tokenizer()
    cfg = Gemma3TextConfig(vocab_size=len(tok), hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                           num_attention_heads=4, num_key_value_heads=2, head_dim=8, max_position_embeddings=256,
                           bos_token_id=tok.bos_token_id, eos_token_id=tok.eos_token_id, pad_token_id=tok.pad_token_id,
                           sliding_window=16, architectures=["Gemma3ForCausalLM"])
    with torch.random.fork_rng():
        torch.manual_seed(0)
        hf = Gemma3ForCausalLM(cfg)
        with torch.no_grad():
            for layer in hf.model.layers:
                layer.post_attention_layernorm.weight.normal_(0.0, 0.5)
    out = tmp_path_factory.mktemp("gemma3")
    hf.save_pretrained(out)
    tok.save_pretrained(out)
    return load_model(str(out), device="cpu"), hf


def test_gemma3_post_attention_norm_in_the_ov_write(tiny_gemma3):
    """Per token, Σ_h pattern·(x OV_eff(scale = that token's RMS)) is the block's normalised attention output exactly."""
    from circuits.ov_qk import ov_write_matrix, post_attention_gain, post_norm_scale
    from interp.errors import ConfigError

    model, hf = tiny_gemma3
    l = 1
    g = post_attention_gain(model, l)
    assert torch.allclose(g, 1.0 + hf.model.layers[l].post_attention_layernorm.weight.float(), atol=1e-5)
    _, cache = model.run_with_cache(model.to_tokens("thank you so much"))
    x, pat = cache[ln1_input_name(l)][0], cache[f"blocks.{l}.attn.hook_pattern"][0]
    rms = post_norm_scale(model, l, cache[f"blocks.{l}.ln1_post.hook_in"][0])
    want = cache[f"blocks.{l}.ln1_post.hook_out"][0]
    for t in (2, 7):
        got = sum(pat[h, t] @ (x @ ov_write_matrix(model, l, h, float(rms[t]))) for h in range(model.cfg.n_heads))
        assert torch.allclose(got, want[t], atol=1e-4)
        raw = sum(pat[h, t] @ (x @ ov_matrix(model, l, h)) for h in range(model.cfg.n_heads))
        assert not torch.allclose(raw, want[t], atol=1e-2)  # ignoring the norm would be wrong
    with pytest.raises(ConfigError, match="ln1_post"):
        ov_write_matrix(model, l, 0)


def test_ovqk_gemma3_records_the_linearisation(tiny_gemma3, tmp_path):
    from interp.activations import extract_activations
    from interp.hook_names import resid_post
    from steering.vectors import compute_emotion_vectors
    from tests.circuits.conftest import marked_dataset

    model, _ = tiny_gemma3
    ds = marked_dataset()
    store = extract_activations(model, ds, tmp_path / "acts", hooks=[resid_post(1)], batch_size=16)
    res = ovqk_evidence(model, ds, [(1, 0)], {1: compute_emotion_vectors(store, resid_post(1))}, top_k=5)
    note = res.config["post_attention_norm"]
    assert note["mean_rms"]["1"] > 0 and "linearised" in note["note"]
    assert res.heads[0].post_norm_scale == pytest.approx(note["mean_rms"]["1"])


def test_lexicon_tokens_are_whole_words_on_real_tokenizer(real_model):
    from circuits.ov_qk import lexicon_word_tokens, whole_word_vocab
    from interp.lexicon import EMOTION_WORDS

    ww = set(whole_word_vocab(real_model))
    generic = {real_model.tokenizer(g, add_special_tokens=False)["input_ids"][0] for g in (" I", " App", " F", " Ap", " en")}
    for emotion, words in EMOTION_WORDS.items():
        ids = lexicon_word_tokens(real_model, emotion)
        decoded = {real_model.tokenizer.decode([i]) for i in ids}
        assert ids and decoded <= {f" {w}" for w in words} | {f" {w.capitalize()}" for w in words}
        assert set(ids) <= ww and not set(ids) & generic
    assert 5_000 < len(ww) < real_model.cfg.d_vocab


def test_write_out_role_needs_significant_whole_word_hits():
    from circuits.ov_qk import HeadOVQK, OVQKResult, hypergeom_tail

    assert hypergeom_tail(0, 100, 5, 10) == pytest.approx(1.0)
    assert hypergeom_tail(5, 100, 5, 5) == pytest.approx(1 / 75_287_520)
    blank = Estimate(0.0, -1.0, 1.0)

    def head(h, n, p):
        return HeadOVQK(0, h, {"gratitude": blank}, 0.1, [], {"gratitude": n}, {"gratitude": 0.5}, {"gratitude": p},
                        {"gratitude": [" thanks", " grateful", " thank"][:n]}, [], [], {}, {})

    res = OVQKResult([head(0, 3, 0.2), head(1, 3, 0.001)], [], (0.1, 0.0))
    roles = {r.name: r for r in assign_roles(_screen([0.0, 0.0], [-0.1, -0.1], [1.0, 1.0], 10_000), res)}
    assert roles["L0H0"].roles == [] and roles["L0H1"].roles == ["write-out"]
    assert "' grateful'" in roles["L0H1"].evidence[0]
