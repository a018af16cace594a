"""Cross-lingual analysis: EN–JA cosines with a label-shuffle null, cross-steering, top-head overlap vs the hypergeometric."""

import json
import math

import numpy as np
import pytest
import torch

from interp.activations import extract_activations
from interp.attributes import get_attribute
from interp.datasets import EmotionDataset, load_profile
from interp.errors import ConfigError
from steering.crosslingual import (
    CrossLingualReport,
    crosslingual_analysis,
    crosslingual_cosines,
    head_sharing,
    store_split,
    top_heads,
)
from steering.generation import GenerationConfig
from steering.vectors import compute_emotion_vectors

EN_PROMPTS = ["abc", "hello there", "one two", "x y z", "the cat sat", "good morning"]
JA_PROMPTS = ["今日は", "明日の天気は", "駅まで歩いて", "会議の前に", "昼ご飯を", "先生が"]


def _subset(language: str, per_label: int) -> EmotionDataset:
    """The first ``per_label`` sentences of each label of the registry's emotion data in ``language``."""
    ds = get_attribute("emotion").language(language).load()
    keep, seen = [], {}
    for r in ds.records:
        if seen.get(r.emotion, 0) < per_label:
            keep.append(r)
            seen[r.emotion] = seen.get(r.emotion, 0) + 1
    return EmotionDataset(tuple(keep), ds.source, ds.profile)


@pytest.fixture(scope="module")
def tiny_stores(tiny_model, tmp_path_factory):
    hooks = ["blocks.0.hook_resid_pre", "blocks.1.hook_resid_pre"]
    base = tmp_path_factory.mktemp("xl_stores")
    en = extract_activations(tiny_model, _subset("en", 30), base / "en", hooks=hooks, batch_size=64)
    ja = extract_activations(tiny_model, _subset("ja", 30), base / "ja", hooks=hooks, batch_size=64)
    return en, ja, hooks


def test_cosines_shapes_null_and_same_seed_same_numbers(tiny_stores):
    en, ja, hooks = tiny_stores
    c = crosslingual_cosines(en, ja, hooks, n_perm=200, n_boot=100, seed=3)
    assert c.labels == ("gratitude", "anger", "apology") and c.layers == (0, 1)
    assert c.cos.shape == c.p.shape == c.null_mean.shape == (3, 2) and c.cross.shape == (2, 3, 3)
    assert ((c.p >= 1 / 201 - 1e-12) & (c.p <= 1)).all() and c.n_perm == 200
    assert (c.lo <= c.cos + 1e-9).all() and (c.cos <= c.hi + 1e-9).all()
    assert c.chosen_layer == c.layers[int(np.argmax(c.selection_cos.mean(0)))]
    again = crosslingual_cosines(en, ja, hooks, n_perm=200, n_boot=100, seed=3)
    for k in ("cos", "lo", "hi", "null_mean", "null_hi", "p", "specificity", "selection_cos"):
        assert np.array_equal(getattr(c, k), getattr(again, k), equal_nan=True), k
    json.dumps(c.to_dict(), allow_nan=False)
    one = crosslingual_cosines(en, ja, hooks, labels=["gratitude"], n_perm=200, n_boot=20)
    assert np.isnan(one.specificity).all()  # no different-label reference with one label: absent, not invented
    assert json.loads(json.dumps(one.to_dict(), allow_nan=False))["rows"][0]["specificity"] is None


def test_cosines_match_vectors_computed_by_steering_vectors(tiny_stores):
    """The reported cosine is the cosine of the difference-of-means vectors steering.vectors computes on the evaluation rows."""
    en, ja, hooks = tiny_stores
    en_split, ja_split = store_split(en), store_split(ja)
    c = crosslingual_cosines(en, ja, hooks, n_perm=200, n_boot=50, en_split=en_split, ja_split=ja_split)
    for j, h in enumerate(hooks):
        ve = compute_emotion_vectors(en, h, indices=en_split[1])
        vj = compute_emotion_vectors(ja, h, indices=ja_split[1])
        for i, lab in enumerate(c.labels):
            want = torch.nn.functional.cosine_similarity(ve[lab].vector, vj[lab].vector, dim=0)
            assert c.cos[i, j] == pytest.approx(float(want), abs=1e-5)
            other = [o for o in c.labels if o != lab]
            mean_other = np.mean([float(torch.nn.functional.cosine_similarity(ve[lab].vector, vj[o].vector, dim=0)) for o in other])
            assert c.specificity[i, j] == pytest.approx(float(want) - mean_other, abs=1e-5)


def test_cosines_planted_shared_direction_reaches_the_p_floor(tiny_stores):
    """The same representation on both sides: cos = 1, above every shuffled-label cosine (p at its floor).

    Layer 1 only: at resid_pre(0) a sentence-end row is just its last token's embedding, so a label vector is a few
    punctuation tokens that label shuffles reproduce exactly (cos 1 in the null too).
    """
    en, _, hooks = tiny_stores
    c = crosslingual_cosines(en, en, hooks[1:], n_perm=200, n_boot=50)
    assert np.allclose(c.cos, 1.0, atol=1e-5)
    assert np.allclose(c.p, 1 / 201) and (c.null_hi < 0.99).all()
    assert (c.specificity > 0).all()


def test_cosines_user_errors(tiny_stores):
    en, ja, hooks = tiny_stores
    with pytest.raises(ConfigError, match="n_perm"):
        crosslingual_cosines(en, ja, hooks, n_perm=50)
    with pytest.raises(ConfigError, match="lacks hook"):
        crosslingual_cosines(en, ja, ["blocks.1.hook_resid_post"])
    with pytest.raises(ConfigError, match="not a contrast label"):
        crosslingual_cosines(en, ja, hooks, labels=["neutral"])


def test_head_sharing_matches_the_hypergeometric_tail():
    from scipy.stats import hypergeom

    en = {"gratitude": [(0, 1), (1, 2), (3, 0), (2, 2)], "anger": [(0, 0), (0, 1)], "apology": [(1, 1)]}
    ja = {"gratitude": [(1, 2), (0, 1), (5, 5), (4, 1)], "anger": [(3, 3), (2, 0)]}
    out = {h.label: h for h in head_sharing(en, ja, 60)}
    assert set(out) == {"gratitude", "anger"}  # apology has no JA heads
    g = out["gratitude"]
    assert set(g.shared) == {(0, 1), (1, 2)} and g.jaccard == pytest.approx(2 / 6)
    assert g.p == pytest.approx(float(hypergeom.sf(1, 60, 4, 4)))
    assert g.expected == pytest.approx(float(hypergeom.mean(60, 4, 4)))
    assert out["anger"].p == pytest.approx(1.0) and out["anger"].jaccard == 0
    same = head_sharing({"a": [(0, 0), (0, 1)]}, {"a": [(0, 1), (0, 0)]}, 10)[0]
    assert same.p == pytest.approx(1 / math.comb(10, 2))
    with pytest.raises(ConfigError, match="more top heads"):
        head_sharing({"a": [(0, i) for i in range(5)]}, {"a": [(0, 0)]}, 4)


class _Screening:
    emotions = ["gratitude", "anger"]

    def top_heads(self, label, k):
        return [(0, 0), (1, 1), (0, 2)][:k] if label == "gratitude" else [(1, 0)][:k]


def test_crosslingual_analysis_tiny_end_to_end(tiny_model, tiny_stores, tmp_path):
    en, ja, hooks = tiny_stores
    rep = crosslingual_analysis(en, ja, hooks, n_perm=200, n_boot=50, model=tiny_model, prompts={"en": EN_PROMPTS, "ja": JA_PROMPTS},
                                alpha=0.5, steer_hook=hooks[1], generation=GenerationConfig(max_new_tokens=4, stop_at_eos=False), n_random=20,
                                en_heads=top_heads(_Screening(), ["gratitude", "anger"], 2), ja_heads={"gratitude": [(1, 1), (0, 3)]})
    assert isinstance(rep, CrossLingualReport)
    langs = [s.prompt_language for s in rep.steering]
    assert "en" in langs
    en_s = rep.steering[langs.index("en")]
    cells = en_s.cells()
    assert {(x["vector_language"], x["label"]) for x in cells} == {(lang, lab) for lang in ("en", "ja") for lab in rep.cosines.labels}
    assert all(x["transfer"] == (x["vector_language"] == "ja") for x in cells)
    # mean_norm scale: both languages' vectors add the same norm, so one random group serves both
    assert np.allclose(en_s.matrix.added_norm, en_s.matrix.added_norm[0])
    assert all(0 < x["random_p"] <= 1 for x in cells)
    if "ja" not in langs:  # the ja extra missing: skipped with its reason
        assert any(s.get("prompt_language") == "ja" for s in rep.skipped)
    assert rep.heads[0].label == "gratitude" and rep.heads[0].n_heads == tiny_model.cfg.n_layers * tiny_model.cfg.n_heads
    out = rep.save(tmp_path / "xl")
    res = json.loads((out / "results.json").read_text())
    assert res["cosines"]["n_perm"] == 200 and res["steering"] and res["heads"]
    assert (out / "figures" / "crosslingual_cosines.html").exists()
    assert [t.title for t in rep.tables()][1:] == ["cross-steering (evaluation prompts)", "top screened heads shared EN/JA"]
    assert rep.text()
    names = [h.name for h in rep.headline()]
    assert any("ja vector on en prompts" in n for n in names) and any("heads shared" in n for n in names)


@pytest.mark.real
@pytest.mark.slow
def test_crosslingual_real_gratitude_cosine_has_its_null(real_model, tmp_path):
    """SmolLM2 is not multilingual: only the structure and the null are checked, not an effect."""
    hooks = ["blocks.12.hook_resid_pre"]
    en = extract_activations(real_model, load_profile("baseline"), tmp_path / "en", hooks=hooks, batch_size=32)
    ja = extract_activations(real_model, _subset("ja", 40), tmp_path / "ja", hooks=hooks, batch_size=32)
    rep = crosslingual_analysis(en, ja, hooks, labels=["gratitude", "anger"], n_perm=200, n_boot=200)
    c = rep.cosines
    assert c.chosen_layer == 12 and c.labels == ("gratitude", "anger")
    assert 0 < c.p[0, 0] <= 1 and c.p[0, 0] >= c.p_floor and c.n_perm == 200
    assert np.isfinite(c.null_mean).all() and -1 <= c.cos[0, 0] <= 1 and c.lo[0, 0] <= c.cos[0, 0] <= c.hi[0, 0]
    head = rep.headline()[0]
    assert head.name.startswith("gratitude: cos(EN, JA vector) at layer 12") and head.p == pytest.approx(float(c.p[0, 0]))
    assert {s["part"] for s in rep.skipped} == {"cross-steering", "head sharing"}
