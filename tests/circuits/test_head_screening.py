import pytest
import torch

from circuits.head_screening import ScreeningResult, matched_neutral_keys, measure_heads, pair_neutrals, position_matched_keys, screen_heads
from interp.errors import ConfigError, DatasetError
from tests.circuits.conftest import marked_dataset


def test_screen_heads_ranks_constructed_head_first(marked_model):
    res = screen_heads(marked_model, marked_dataset(), n_boot=200, n_perm=2000)
    top = res.top("gratitude", 3)
    assert top[0].key == (0, 0) and top[0].name == "L0H0" and [r.rank for r in top] == [1, 2, 3]
    assert top[0].delta.value > 0.5 and top[0].delta.lo > 0.3
    assert top[0].delta.value > 3 * abs(top[1].delta.value)
    assert top[0].p < 0.01 and top[0].p_holm >= top[0].p


def test_screened_head_to_dict_is_the_screening_json_row(marked_model):
    """``top10`` rows in screening.json keep their flat format (delta / lo / hi beside the head), aligned with the arrays."""
    res = screen_heads(marked_model, marked_dataset(), n_boot=20, n_perm=20)
    row = res.to_dict()["top10"]["gratitude"][0]
    assert list(row) == ["rank", "layer", "head", "name", "delta", "lo", "hi", "emotion_attn", "neutral_attn", "p", "p_holm"]
    l, h = row["layer"], row["head"]
    assert (row["delta"], row["lo"], row["hi"], row["p_holm"]) == tuple(float(t[0, l, h]) for t in (res.delta, res.lo, res.hi, res.p_holm))
    assert res.n_significant("gratitude") == res.to_dict()["n_significant_holm_05"]["gratitude"]


def test_screen_heads_after_span_mode_also_finds_head(marked_model):
    res = screen_heads(marked_model, marked_dataset(), query="after_span", n_boot=50, n_perm=50)
    assert res.top_heads("gratitude", 1) == [(0, 0)]


def test_matched_neutral_keys_same_distance_from_end():
    # emotion sentence: 10 tokens, span at 6,7 (3 and 2 back from end 9); neutral: 7 tokens → end 6 → keys 3,4
    assert matched_neutral_keys(7, 10, (6, 7)) == [3, 4]
    # never BOS
    assert matched_neutral_keys(3, 10, (1,)) == [1]


def test_screen_heads_rejects_bad_input(tiny_model):
    with pytest.raises(ConfigError, match="query mode"):
        screen_heads(tiny_model, marked_dataset(), query="middle")
    with pytest.raises(DatasetError, match="unknown emotion"):
        screen_heads(tiny_model, marked_dataset(), emotions=["anger"])


def test_screening_result_save_load_roundtrip(marked_model, tmp_path):
    res = screen_heads(marked_model, marked_dataset(), n_boot=20, n_perm=20)
    res.save(tmp_path)
    assert (tmp_path / "screening_gratitude.html").stat().st_size > 10_000
    back = ScreeningResult.load(tmp_path)
    assert torch.allclose(back.delta, res.delta) and back.top_heads("gratitude", 2) == res.top_heads("gratitude", 2)


@pytest.mark.real
def test_screen_heads_real_score_matches_direct_cache(real_model):
    """The batched, reduced-in-hook score equals the pattern read from run_with_cache for one sentence."""
    from interp.datasets import load_profile
    from interp.positions import tokenize_batch

    ds = load_profile("baseline").subset(["gratitude", "neutral"], limit_per_emotion=4)
    res = screen_heads(real_model, ds, n_boot=20, n_perm=20, batch_size=3)
    rec_g = ds.by_emotion("gratitude")
    rec_n = ds.by_emotion("neutral")
    l, h = 14, 0
    emo, neu = [], []
    for r in rec_g:
        b = tokenize_batch(real_model, [r.text], [r.spans])
        _, cache = real_model.run_with_cache(b.tokens, names_filter=lambda n: n == f"blocks.{l}.attn.hook_pattern")
        emo.append(float(cache[f"blocks.{l}.attn.hook_pattern"][0, h, b.end_positions[0], list(b.span_positions[0])].sum()))
    recs = list(ds.records)
    lens = [tokenize_batch(real_model, [r.text]).lengths[0] for r in recs]
    partners = pair_neutrals([recs.index(r) for r in rec_g], [recs.index(r) for r in rec_n], lens, recs)
    for src, j in zip(rec_g, partners, strict=True):
        sb = tokenize_batch(real_model, [src.text], [src.spans])
        b = tokenize_batch(real_model, [recs[j].text])
        keys = position_matched_keys(b.lengths[0], sb.lengths[0], sb.span_positions[0])
        _, cache = real_model.run_with_cache(b.tokens, names_filter=lambda n: n == f"blocks.{l}.attn.hook_pattern")
        neu.append(float(cache[f"blocks.{l}.attn.hook_pattern"][0, h, b.end_positions[0], keys].sum()))
    expected = sum(emo) / len(emo) - sum(neu) / len(neu)
    assert res.delta.shape == (1, 30, 9)
    assert abs(float(res.delta[0, l, h]) - expected) < 1e-4
    assert float(res.lo[0, l, h]) <= float(res.delta[0, l, h]) <= float(res.hi[0, l, h])


def test_screen_heads_one_forward_pass_per_batch(tiny_model):
    """All heads of all layers are scored from one forward pass per batch (acceptance 5), not one per head."""
    ds = marked_dataset()  # 16 sentences
    calls = []
    handle = tiny_model.register_forward_pre_hook(lambda mod, args: calls.append(1))
    try:
        screen_heads(tiny_model, ds, n_boot=5, n_perm=5, batch_size=5)
    finally:
        handle.remove()
    assert len(calls) == 4  # ceil(16 / 5); the model has 2 × 4 = 8 heads


def _start_span_dataset():
    """Emotion spans ('Z…') at the start of sentences of mixed lengths; neutral sentences of other mixed lengths."""
    from interp.datasets import EmotionDataset, EmotionRecord

    recs = []
    for i, w in enumerate(["ab", "cdef", "g", "hijkl", "mn", "opq"]):
        t = f"Z{w} ok"
        recs.append(EmotionRecord(f"g{i}", t, "gratitude", ((0, 1),)))
    for i, w in enumerate(["the cat sat", "a dog", "it is on the mat", "we go", "rain fell down", "no", "red car"]):
        recs.append(EmotionRecord(f"n{i}", w, "neutral", ()))
    return EmotionDataset(tuple(recs), "constructed")


def _first_real_token_hook(pattern, hook):
    """Every query attends only to position 1 (the first real token after BOS)."""
    out = torch.zeros_like(pattern)
    out[..., 1] = 1.0
    return out


def test_position_only_head_scores_zero_under_position_matching(tiny_model):
    """A head that attends only to the first real token is no emotion head: Δ ≈ 0 with position-matched keys,
    while the old end-distance design (emotion spans at the start, neutral keys counted from the end) scores it high."""
    from interp.hook_names import hook_pattern

    ds = _start_span_dataset()
    with tiny_model.hooks(fwd_hooks=[(hook_pattern(0), _first_real_token_hook)]):
        new = screen_heads(tiny_model, ds, n_boot=50, n_perm=200)
        old = screen_heads(tiny_model, ds, matching="end_distance", n_boot=50, n_perm=200)
    assert float(new.delta[0, 0].abs().max()) < 1e-6
    assert float(new.p[0, 0].min()) == pytest.approx(1.0)
    assert float(old.delta[0, 0].min()) > 0.5
    assert new.config["p_floor"] == pytest.approx(2 ** -5) and new.config["matching"] == "position"  # 6 pairs


def test_position_matched_keys_anchor_start_and_end():
    assert position_matched_keys(9, 9, (2, 3)) == [2, 3]  # same length: same positions
    assert position_matched_keys(6, 10, (1, 2)) == [1, 2]  # first half: from the start
    assert position_matched_keys(6, 10, (8,)) == [4]  # second half: distance from the end (1 back)
    assert position_matched_keys(3, 10, (1,)) == [1]  # never BOS


def test_pair_neutrals_prefers_pair_id_then_nearest_length():
    from types import SimpleNamespace as R

    recs = [R(id="e0"), R(id="e1"), R(id="n0", pair_id=None), R(id="n1", pair_id="e0"), R(id="n2", pair_id=None)]
    lens = [5, 8, 8, 3, 5]
    assert pair_neutrals([0, 1], [2, 3, 4], lens, recs) == [3, 2]  # e0 → its counterpart n1, e1 → n0 (same length)
    recs[3] = R(id="n1", pair_id=None)
    assert pair_neutrals([0, 1], [2, 3, 4], lens, recs) == [4, 2]


def test_screen_heads_uses_pair_id_counterparts(tiny_model):
    """With pair_id counterparts, each emotion sentence is compared with its own neutral twin."""
    from interp.datasets import EmotionDataset, EmotionRecord

    recs = []
    for i, w in enumerate(["ab", "cde", "fg", "hij"]):
        t = f"{w} Z ok"
        recs.append(EmotionRecord(f"g{i}", t, "gratitude", ((t.index("Z"), t.index("Z") + 1),)))
    for i, w in enumerate(["ab", "cde", "fg", "hij"]):
        recs.append(EmotionRecord(f"n{i}", f"{w} y ok", "neutral", (), pair_id=f"g{(i + 1) % 4}"))
    res = screen_heads(tiny_model, EmotionDataset(tuple(recs), "paired"), n_boot=10, n_perm=10)
    assert "4 pairs by pair_id" in res.config["neutral_matching"]


def test_measure_heads_on_another_split(marked_model):
    ds = marked_dataset()
    m = measure_heads(marked_model, ds, [(0, 0), (1, 2)], "gratitude", n_boot=100, n_perm=999)
    assert m.delta[0] > 0.5 and m.lo[0] > 0.3 and m.p_holm[0] < 0.05
    assert m.config["p_floor"] == pytest.approx(2 ** -7)  # 8 pairs: a sign-flip test cannot go below 2 / 2^8
    assert m.p_holm[0] >= m.p[0] and len(m.record_ids) == 16
    assert m.to_dict()["heads"][0]["name"] == "L0H0" and m.rows()[0].delta.value == m.delta[0]
    assert list(m.to_dict()["heads"][0]) == ["name", "layer", "head", "delta", "lo", "hi", "p", "p_holm"]
    with pytest.raises(ConfigError, match="out of range"):
        measure_heads(marked_model, ds, [(7, 0)], "gratitude", n_boot=5, n_perm=5)
