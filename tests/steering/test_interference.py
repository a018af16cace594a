"""Interference matrix: planted on-target effects found on the diagonal, registry columns, determinism, report files."""

import json

import numpy as np
import pytest
import torch

from interp.attributes import Attribute, Label, LanguageData, get_attribute, register_attribute, unregister_attribute
from interp.errors import ConfigError
from interp.evaluators import make_scorer
from interp.evaluators.masking import mask_emotion_words
from steering.generation import GenerationConfig
from steering.interference import (
    InterferenceReport,
    ScoreColumn,
    check_columns,
    interference_analysis,
    score_columns,
    target_columns,
)

PROMPTS = ["abc", "hello there", "one two", "x y z", "the cat sat", "good morning", "a b", "so it goes"]
PLANTED = "planted-chars"
GEN = GenerationConfig(max_new_tokens=6, stop_at_eos=False)


class CharScorer:
    """How many times ``x`` and ``y`` occur in a text: a scorer whose target a direction can plant exactly."""

    name = "chars"
    columns = ("count_x", "count_y")
    maskable = False

    def score(self, texts, *, prompts=None):
        return {"count_x": [float(t.count("x")) for t in texts], "count_y": [float(t.count("y")) for t in texts]}


@pytest.fixture(scope="module")
def planted_attribute():
    attr = Attribute(PLANTED, "letters x and y (test only)", (
        LanguageData("en", (Label("plain"), Label("x", "count_x"), Label("y", "count_y")), "plain", files=("unused.jsonl",)),))
    register_attribute(attr, replace=True)
    yield attr
    unregister_attribute(PLANTED)


def _unembed_direction(model, char: str) -> torch.Tensor:
    """The unembedding column of ``char``'s byte token: added before the last norm, it makes the model emit that byte."""
    v = model.W_U[:, model.tokenizer.convert_tokens_to_ids(char)].detach().float()
    return v / v.norm()


def _planted(model, seed=0) -> InterferenceReport:
    vectors = {(PLANTED, "x"): _unembed_direction(model, "x"), (PLANTED, "y"): _unembed_direction(model, "y")}
    return interference_analysis(model, vectors, PROMPTS, layer=model.cfg.n_layers - 1, hook_kind="resid_post", alpha=30.0,
                                 scale="unit", attributes=[PLANTED], scorers=[CharScorer()], generation=GEN, n_boot=200, n_random=20,
                                 seed=seed)


@pytest.fixture(scope="module")
def planted(tiny_model, planted_attribute):
    return _planted(tiny_model)


def test_interference_planted_effect_is_on_the_diagonal(planted):
    m = planted.matrix
    assert m.rows == (f"{PLANTED}:x", f"{PLANTED}:y") and m.columns == (f"{PLANTED}:x", f"{PLANTED}:y")
    assert planted.on_target(0, 0) and planted.on_target(1, 1) and not planted.on_target(0, 1)
    for d in (0, 1):
        est = m.estimate(d, d)
        assert est.value > 3 and est.lo > 0, est  # ≈ 6 planted letters per 6 new tokens
        assert m.random_p[d, d] < 0.05 and m.random_p[d, d] == pytest.approx(m.p_floor)
        assert m.effect[d, 1 - d] <= 0  # steering toward x never adds y
    side = planted.side_effect()
    assert side is not None and not planted.on_target(*side)
    heads = [h.name for h in planted.headline()]
    assert any("on-target" in h for h in heads) and any(h.startswith("largest side effect") for h in heads)


def test_interference_alpha_zero_is_shared_and_random_rows_are_norm_matched(planted):
    g = planted.generations
    n_p, n_ev = len(PROMPTS), planted.matrix.n_evaluation
    assert (g.direction == "none").sum() == n_p  # α = 0 once, for every row
    assert (g.direction == "steered").sum() == 2 * n_p
    # both rows add norm 30 at the same hook: one random group of 20 directions on the evaluation prompts
    assert (g.direction == "random").sum() == 20 * n_ev
    assert set(g[g.direction == "random"].split) == {"evaluation"}
    assert np.allclose(planted.matrix.added_norm, 30.0)
    base = g[g.direction == "none"].set_index("prompt_idx")
    ev = planted.split["evaluation"]
    for r, name in enumerate(planted.matrix.rows):
        st = g[(g.direction == "steered") & (g.steered == name)].set_index("prompt_idx")
        for c, col in enumerate(planted.matrix.columns):
            assert planted.matrix.effect[r, c] == pytest.approx(float((st.loc[ev, col] - base.loc[ev, col]).mean()))
    assert not set(planted.split["selection"]) & set(ev)


def test_interference_same_seed_same_numbers(tiny_model, planted_attribute, planted):
    again = _planted(tiny_model)
    for k in ("effect", "lo", "hi", "p", "random_mean", "random_p", "selection_dz"):
        assert np.array_equal(getattr(planted.matrix, k), getattr(again.matrix, k)), k


def test_interference_report_saves_results_figure_and_generations(planted, tmp_path):
    out = planted.save(tmp_path / "interference")
    res = json.loads((out / "results.json").read_text())
    json.dumps(res, allow_nan=False)
    assert len(res["cells"]) == 4 and res["n_random"] == 20
    assert res["largest_side_effect"]["chosen_on"] == "selection"
    assert (out / "figures" / "interference.html").exists() and (out / "generations.parquet").exists()
    fig = planted.figures()["interference"]
    assert np.asarray(fig.data[0].z).shape == (2, 2)
    assert "CI" not in fig.data[0].hovertemplate and "[" in fig.data[0].customdata[0][0]  # hover carries the CI
    assert planted.tables()[0].rows and planted.text()


def test_target_columns_follow_the_registry():
    en = target_columns("en", ["emotion"])
    targets = get_attribute("emotion").language("en").targets
    raw = [c for c in en if c.mask is None]
    assert [(c.label, c.column) for c in raw] == list(targets.items())
    assert {c.column for c in en if c.mask} == {f"{t}_masked" for t in targets.values()}  # English emotion has masked twins
    ja = target_columns("ja", ["emotion", "politeness"])
    assert all(c.mask is None for c in ja)  # no masked scores in Japanese
    assert {c.column for c in ja} >= {"ja_polarity", "keigo_teineigo"}
    assert not target_columns("en", ["formality"]) or all(c.column for c in target_columns("en", ["formality"]))


def test_score_columns_masked_twin_matches_an_independent_masking():
    vader = make_scorer("sentiment")
    texts = ["thank you so much, I am grateful", "I am furious and angry", "nothing here"]
    cols = [ScoreColumn("emotion:gratitude", "emotion", "gratitude", "vader_compound"),
            ScoreColumn("emotion:gratitude (masked)", "emotion", "gratitude", "vader_compound_masked", "gratitude")]
    got = score_columns(texts, texts, cols, [vader])
    assert np.allclose(got[:, 0], vader.score(texts)["vader_compound"])
    assert np.allclose(got[:, 1], vader.score([mask_emotion_words(t, "gratitude") for t in texts])["vader_compound"])
    assert got[0, 1] < got[0, 0]  # masking "thank"/"grateful" removes most of the positive score
    kept, skipped = check_columns([*cols, ScoreColumn("x:y", "x", "y", "no_such_column")], [vader])
    assert kept == cols and skipped[0]["column"] == "x:y"


def test_interference_registry_scorers_and_user_errors(tiny_model):
    d = tiny_model.cfg.d_model
    g = torch.Generator().manual_seed(0)
    vecs = {("emotion", "gratitude"): torch.randn(d, generator=g), ("emotion", "anger"): torch.randn(d, generator=g)}
    rep = interference_analysis(tiny_model, vecs, PROMPTS[:6], layer=0, alpha=1.0, attributes=["emotion", "politeness"],
                                generation=GenerationConfig(max_new_tokens=3, stop_at_eos=False), n_boot=50, n_random=20)
    names = rep.matrix.columns
    assert {"emotion:gratitude", "emotion:gratitude (masked)", "emotion:anger", "emotion:apology"} <= set(names)
    assert rep.matrix.effect.shape == (2, len(names))
    assert np.isfinite(rep.matrix.effect).all() and ((rep.matrix.random_p > 0) & (rep.matrix.random_p <= 1)).all()
    # politeness's scorer needs ConvoKit: without it the column is skipped with the reason, not a crash
    assert "politeness:polite" in names or any("politeness" in json.dumps(s) for s in rep.skipped)
    with pytest.raises(ConfigError, match="not a label"):
        interference_analysis(tiny_model, {("emotion", "joy"): vecs[("emotion", "anger")]}, PROMPTS, layer=0, alpha=1.0)
    with pytest.raises(ConfigError, match="no layer"):
        interference_analysis(tiny_model, vecs, PROMPTS, layer={("emotion", "anger"): 0}, alpha=1.0)
    with pytest.raises(ConfigError, match="n_random"):
        interference_analysis(tiny_model, vecs, PROMPTS, layer=0, alpha=1.0, n_random=5)
    with pytest.raises(ConfigError, match="at least 4"):
        interference_analysis(tiny_model, vecs, PROMPTS[:3], layer=0, alpha=1.0)


@pytest.mark.real
@pytest.mark.slow
def test_interference_real_gratitude_raises_its_target(real_model, tmp_path):
    """+gratitude at resid_pre(15), raw α = 1 (the sweep's band; ≈ 0.2 of the residual norm) raises VADER compound over α = 0."""
    from interp.datasets import load_prompts
    from steering.sweep import extract_emotion_vectors

    vecs = extract_emotion_vectors(real_model, tmp_path / "store", ["gratitude", "anger"], [15])
    rep = interference_analysis(real_model, {("emotion", e): vecs[(e, 15)] for e in ("gratitude", "anger")}, load_prompts()[:20],
                                layer=15, alpha=1.0, attributes=["emotion"], generation=GenerationConfig(max_new_tokens=16),
                                n_boot=500, n_random=20)
    m = rep.matrix
    g, c = m.rows.index("emotion:gratitude"), m.columns.index("emotion:gratitude")
    assert rep.on_target(g, c)
    assert m.effect[g, c] > 0.1 and m.lo[g, c] > 0, m.cell(g, c)
    a = m.rows.index("emotion:anger")
    assert m.effect[a, c] < m.effect[g, c]  # steering toward anger does not raise the gratitude score as much
