"""Sweep: controls present at matched norms, tidy table, aggregates against a direct computation, resume, figures."""

import numpy as np
import pandas as pd
import pytest
import torch

from interp.errors import ConfigError
from interp.evaluators import make_scorer
from steering.generation import GenerationConfig
from steering.sweep import SweepConfig, SweepResult, aggregate, random_direction, run_sweep

PROMPTS = ["abc", "hello there", "x y z", "one two"]


def _scorers(model):
    return [make_scorer("sentiment"), make_scorer("nrc"), make_scorer("keywords"), make_scorer("fluency", model=model)]


@pytest.fixture(scope="module")
def tiny_sweep(tiny_model, tmp_path_factory):
    d = tiny_model.cfg.d_model
    g = torch.Generator().manual_seed(0)
    vectors = {(e, layer): torch.randn(d, generator=g) for e in ("gratitude", "anger") for layer in (0, 1)}
    cfg = SweepConfig(emotions=("gratitude", "anger"), layers=(0, 1), alphas=(-1.0, 0.0, 2.0), n_boot=200,
                      generation=GenerationConfig(max_new_tokens=4, stop_at_eos=False))
    cache = tmp_path_factory.mktemp("cells")
    calls = []
    res = run_sweep(tiny_model, PROMPTS, vectors, cfg, _scorers(tiny_model), cache_dir=cache, progress=lambda a, b: calls.append((a, b)))
    return res, vectors, cfg, cache, calls


def test_run_sweep_has_all_cells_and_controls(tiny_sweep):
    res, vectors, cfg, _, calls = tiny_sweep
    rows = res.rows
    # 1 shared baseline + per emotion x layer: 2 steered alphas + 2 random |alpha| (1 and 2)
    assert calls[-1] == (1 + 2 * 2 * (2 + 2), 1 + 2 * 2 * (2 + 2))
    for e in cfg.emotions:
        for layer in cfg.layers:
            for direction in ("emotion", "random"):
                got = set(rows[(rows.emotion == e) & (rows.layer == layer) & (rows.direction == direction)].alpha)
                assert got == ({-1.0, 0.0, 2.0} if direction == "emotion" else {0.0, 1.0, 2.0})
    assert len(rows[(rows.alpha == 2.0)]) == 2 * 2 * 2 * len(PROMPTS)
    assert {"prompt", "text", "seed", "vader_compound", "nrc_anger", "kw_gratitude", "perplexity", "distinct_2"} <= set(rows.columns)


def test_random_control_matches_the_emotion_vector_norm(tiny_sweep):
    res, vectors, cfg, _, _ = tiny_sweep
    rows = res.rows
    for (e, layer), v in vectors.items():
        for a in (1.0, 2.0):
            r = rows[(rows.emotion == e) & (rows.layer == layer) & (rows.direction == "random") & (rows.alpha == a)]
            assert r.added_norm.iloc[0] == pytest.approx(a * float(v.norm()), rel=1e-5)
        s = rows[(rows.emotion == e) & (rows.layer == layer) & (rows.direction == "emotion") & (rows.alpha == -1.0)]
        assert s.added_norm.iloc[0] == pytest.approx(float(v.norm()), rel=1e-5)


def test_alpha_zero_rows_are_the_unsteered_generations(tiny_model, tiny_sweep):
    from steering.generation import generate

    res, _, cfg, _, _ = tiny_sweep
    plain = generate(tiny_model, PROMPTS, config=cfg.generation)
    base = res.rows[(res.rows.emotion == "anger") & (res.rows.layer == 1) & (res.rows.direction == "emotion") & (res.rows.alpha == 0)]
    assert list(base.sort_values("prompt_idx").text) == list(plain.continuations)


def test_aggregate_effect_equals_paired_mean_difference(tiny_sweep):
    res, _, cfg, _, _ = tiny_sweep
    rows, agg = res.rows, res.aggregates
    for r in agg[agg.direction == "emotion"].itertuples():
        cell = rows[(rows.emotion == r.emotion) & (rows.direction == "emotion") & (rows.layer == r.layer)]
        y = cell[cell.alpha == r.alpha].sort_values("prompt_idx")[r.target].to_numpy()
        y0 = cell[cell.alpha == 0].sort_values("prompt_idx")[r.target].to_numpy()
        assert r.effect == pytest.approx(float(np.mean(y - y0)), abs=1e-9)
        assert r.effect_lo <= r.effect + 1e-9 and r.effect <= r.effect_hi + 1e-9
    zero = agg[agg.alpha == 0]
    assert (zero.effect == 0).all() and not zero.usable.any()


def test_usable_window_rule_on_synthetic_rows():
    rng = np.random.default_rng(0)
    n = 40
    rows = []
    for a, shift, ppl in [(0.0, 0.0, 10.0), (1.0, 0.5, 11.0), (2.0, 0.8, 40.0), (-1.0, -0.5, 10.0)]:
        for i in range(n):
            rows.append({"emotion": "gratitude", "direction": "emotion", "layer": 3, "alpha": a, "seed": 0, "prompt_idx": i,
                         "added_norm": abs(a), "vader_compound": shift + rng.normal(0, 0.1), "perplexity": ppl,
                         "distinct_2": 1.0, "longest_repeat": 0.0})
    cfg = SweepConfig(emotions=("gratitude",), layers=(3,), alphas=(-1.0, 0.0, 1.0, 2.0), ppl_bound=1.5, n_boot=200)
    agg = aggregate(pd.DataFrame(rows), cfg).set_index("alpha")
    assert agg.loc[1.0, "usable"]  # significant gain, ppl ratio 1.1
    assert not agg.loc[2.0, "usable"]  # ppl ratio 4 > 1.5
    assert not agg.loc[-1.0, "usable"]  # effect in the wrong direction
    assert agg.loc[2.0, "ppl_ratio"] == pytest.approx(4.0)


def test_sweep_resumes_from_cached_cells(tiny_model, tiny_sweep):
    res, vectors, cfg, cache, _ = tiny_sweep
    first = sorted(cache.glob("*.json"))[0]
    rows = first.read_text()
    first.write_text(rows.replace('"text": "', '"text": "CACHED'))
    again = run_sweep(tiny_model, PROMPTS, vectors, cfg, _scorers(tiny_model), cache_dir=cache)
    assert again.rows.text.str.startswith("CACHED").any()  # read back, not recomputed
    first.write_text(rows)


def test_sweep_result_save_load_and_figure(tiny_sweep, tmp_path):
    from steering.sweep_figures import save_sweep_figures

    res = tiny_sweep[0]
    res.save(tmp_path)
    back = SweepResult.load(tmp_path)
    assert len(back.rows) == len(res.rows) and list(back.aggregates.columns) == list(res.aggregates.columns)
    best = res.best_cell("gratitude")
    assert best["random_control"]["alpha"] == abs(best["cell"]["alpha"]) and best["random_control"]["direction"] == "random"
    paths = save_sweep_figures(res, tmp_path)
    assert all(p.stat().st_size > 1000 for p in paths)
    fig = res.figure("effect")
    assert [t.type for t in fig.data] == ["heatmap", "heatmap"]


def test_sweep_config_rejects_bad_values():
    with pytest.raises(ConfigError, match="finite"):
        SweepConfig(emotions=("gratitude",), layers=(1,), alphas=(float("nan"),))
    with pytest.raises(ConfigError, match="target score"):
        SweepConfig(emotions=("joy",), layers=(1,)).target("joy")


def test_run_sweep_rejects_layer_out_of_range_and_wrong_d_model(tiny_model):
    from interp.errors import HookError

    cfg = SweepConfig(emotions=("gratitude",), layers=(5,), alphas=(1.0,))
    with pytest.raises(HookError, match="out of range"):
        run_sweep(tiny_model, PROMPTS, {}, cfg, [])
    cfg = SweepConfig(emotions=("gratitude",), layers=(1,), alphas=(1.0,))
    with pytest.raises(ConfigError, match="d_model"):
        run_sweep(tiny_model, PROMPTS, {("gratitude", 1): torch.ones(7)}, cfg, [])


def test_random_direction_is_seeded_unit():
    a, b = random_direction(16, 3), random_direction(16, 3)
    assert torch.equal(a, b) and float(a.norm()) == pytest.approx(1.0)
    assert not torch.equal(a, random_direction(16, 4))
