"""Sweep: held-out prompt split, masked scores, repetition bound, random-direction control, verified resume, figures."""

import json
import re
import shutil

import numpy as np
import pandas as pd
import pytest
import torch

from interp.errors import ConfigError
from interp.evaluators import make_scorer
from steering.generation import GenerationConfig
from steering.sweep import SweepConfig, SweepResult, default_sweep_layers, random_direction, random_directions, run_sweep
from steering.sweep_stats import RandomControl, aggregate, keyword_check

PROMPTS = ["abc", "hello there", "x y z", "one two"]


def _scorers(model):
    return [make_scorer("sentiment"), make_scorer("nrc"), make_scorer("keywords"), make_scorer("fluency", model=model)]


def _cfg(**kw):
    base = dict(emotions=("gratitude", "anger"), layers=(0, 1), alphas=(-1.0, 0.0, 2.0), n_boot=200, random_max_cells=1,
                generation=GenerationConfig(max_new_tokens=4, stop_at_eos=False))
    return SweepConfig(**{**base, **kw})


@pytest.fixture(scope="module")
def tiny_sweep(tiny_model, tmp_path_factory):
    d = tiny_model.cfg.d_model
    g = torch.Generator().manual_seed(0)
    vectors = {(e, layer): torch.randn(d, generator=g) for e in ("gratitude", "anger") for layer in (0, 1)}
    cfg = _cfg()
    cache = tmp_path_factory.mktemp("cells")
    calls = []
    res = run_sweep(tiny_model, PROMPTS, vectors, cfg, _scorers(tiny_model), cache_dir=cache, progress=lambda a, b: calls.append((a, b)))
    return res, vectors, cfg, cache, calls


def test_run_sweep_has_all_cells_splits_and_masked_columns(tiny_sweep):
    res, vectors, cfg, _, calls = tiny_sweep
    rows = res.rows
    # per emotion: 1 baseline + 2 layers x 2 steered alphas; then 1 random-direction run per emotion
    assert calls[-1] == (2 * (1 + 2 * 2) + 2, 2 * (1 + 2 * 2) + 2)
    emo = rows[rows.direction == "emotion"]
    for e in cfg.emotions:
        for layer in cfg.layers:
            assert set(emo[(emo.emotion == e) & (emo.layer == layer)].alpha) == {-1.0, 0.0, 2.0}
    assert {"vader_compound_masked", "nrc_anger_masked", "kw_gratitude_masked", "split"} <= set(rows.columns)
    assert "perplexity_masked" not in rows.columns
    sel, ev = res.extra["splits"]["selection"], res.extra["splits"]["evaluation"]
    assert sorted(sel + ev) == [0, 1, 2, 3] and not set(sel) & set(ev)
    assert set(emo[emo.split == "selection"].prompt_idx) == set(sel)
    assert set(rows[rows.direction == "random"].prompt_idx) == set(ev)  # the random control runs on evaluation prompts only
    agg = res.aggregates
    assert set(agg.split) == {"selection", "evaluation"} and (agg.n == 2).all()


def test_random_control_has_n_directions_matching_the_cell_norm(tiny_sweep):
    res, vectors, cfg, _, _ = tiny_sweep
    r = res.rows[res.rows.direction == "random"]
    assert r.direction_idx.nunique() == cfg.n_random == 20
    for (e, layer, a), part in r.groupby(["emotion", "layer", "alpha"]):
        assert np.allclose(part.added_norm, abs(a) * float(vectors[(e, layer)].norm()), rtol=1e-5)
        assert len(part) == 20 * len(res.extra["splits"]["evaluation"])
    checked = res.aggregates[res.aggregates.random_checked & (res.aggregates.split == "evaluation")]
    assert len(checked) == 2 and (checked.random_n == 20).all()
    assert ((checked.random_p >= 1 / 21) & (checked.random_p <= 1)).all()
    assert len(res.random_effects) == 2 * 20


def test_alpha_zero_rows_are_the_unsteered_generations(tiny_model, tiny_sweep):
    from steering.generation import generate

    res, _, cfg, _, _ = tiny_sweep
    plain = generate(tiny_model, PROMPTS, config=cfg.generation)
    base = res.rows[(res.rows.emotion == "anger") & (res.rows.layer == 1) & (res.rows.direction == "emotion") & (res.rows.alpha == 0)]
    assert list(base.sort_values("prompt_idx").text) == list(plain.continuations)


def test_aggregate_effect_equals_paired_mean_difference_per_split(tiny_sweep):
    res, _, cfg, _, _ = tiny_sweep
    rows, agg = res.rows, res.aggregates
    for r in agg.itertuples():
        cell = rows[(rows.emotion == r.emotion) & (rows.direction == "emotion") & (rows.layer == r.layer) & (rows.split == r.split)]
        for col, eff in ((r.target, r.effect), (r.target + "_masked", r.effect_masked)):
            y = cell[cell.alpha == r.alpha].sort_values("prompt_idx")[col].to_numpy()
            y0 = cell[cell.alpha == 0].sort_values("prompt_idx")[col].to_numpy()
            assert eff == pytest.approx(float(np.mean(y - y0)), abs=1e-9)
        assert r.keyword_share == pytest.approx(r.effect - r.effect_masked)
    zero = agg[agg.alpha == 0]
    assert (zero.effect == 0).all() and not zero.usable.any()


def _synthetic(cells, n=40):
    rng = np.random.default_rng(0)
    rows = []
    for a, shift, masked_shift, ppl, d2, rep in cells:
        for i in range(n):
            v = shift + rng.normal(0, 0.1)
            rows.append({"emotion": "gratitude", "direction": "emotion", "layer": 3, "alpha": a, "seed": 0, "prompt_idx": i,
                         "split": "selection" if i % 2 else "evaluation", "added_norm": abs(a), "vader_compound": v,
                         "vader_compound_masked": masked_shift + rng.normal(0, 0.1), "perplexity": ppl, "distinct_2": d2,
                         "longest_repeat": rep})
    return pd.DataFrame(rows)


def test_candidate_rule_on_synthetic_rows_bounds_perplexity_and_repetition():
    rows = _synthetic([(0.0, 0.0, 0.0, 10.0, 0.95, 1.0), (1.0, 0.5, 0.5, 11.0, 0.9, 2.0), (2.0, 0.8, 0.8, 40.0, 0.95, 1.0),
                       (-1.0, -0.5, -0.5, 10.0, 0.95, 1.0), (0.5, 0.6, 0.6, 8.0, 0.5, 1.0), (1.5, 0.6, 0.6, 8.0, 0.95, 6.0)])
    cfg = SweepConfig(emotions=("gratitude",), layers=(3,), alphas=(-1.0, 0.0, 0.5, 1.0, 1.5, 2.0), ppl_bound=1.5, n_boot=200)
    agg = aggregate(rows, cfg)
    agg = agg[agg.split == "selection"].set_index("alpha")
    assert agg.loc[1.0, "candidate"]  # significant gain, ppl ratio 1.1, distinct-2 −0.05, repeat +1
    assert not agg.loc[2.0, "candidate"] and agg.loc[2.0, "ppl_ratio"] == pytest.approx(4.0)  # ppl ratio 4 > 1.5
    assert not agg.loc[-1.0, "candidate"]  # wrong direction
    assert not agg.loc[0.5, "candidate"] and not agg.loc[0.5, "repetition_ok"] and agg.loc[0.5, "ppl_ok"]  # distinct-2 fell 0.45
    assert not agg.loc[1.5, "candidate"] and not agg.loc[1.5, "repetition_ok"]  # longest repeat rose 5 words
    assert not agg.usable.any()  # no random control was run: nothing is usable


def test_keyword_driven_flag_on_synthetic_rows():
    rows = _synthetic([(0.0, 0.0, 0.0, 10.0, 0.9, 1.0), (1.0, 0.5, 0.0, 10.0, 0.9, 1.0), (2.0, 0.5, 0.5, 10.0, 0.9, 1.0)])
    cfg = SweepConfig(emotions=("gratitude",), layers=(3,), alphas=(0.0, 1.0, 2.0), n_boot=200)
    agg = aggregate(rows, cfg)
    agg = agg[agg.split == "selection"].set_index("alpha")
    assert agg.loc[1.0, "keyword_driven"] and agg.loc[1.0, "keyword_share"] == pytest.approx(0.5, abs=0.1)
    assert not agg.loc[2.0, "keyword_driven"] and abs(agg.loc[2.0, "keyword_share"]) < 0.1


def test_random_control_p_value_can_reject_and_has_a_floor():
    null = np.random.default_rng(0).normal(0, 1, 20)
    planted = RandomControl(5.0, tuple(null))
    assert planted.p == pytest.approx(1 / 21) and planted.p == planted.floor and planted.beats
    typical = RandomControl(float(np.median(null)), tuple(null))
    assert typical.p > 0.4 and not typical.beats
    kc = keyword_check([1.0] * 10, [0.0] * 10, [0.0] * 10, [0.0] * 10, n_boot=200)
    assert kc.keyword_driven and kc.p_masked == 1.0


def test_sweep_resume_reuses_verified_cells_and_recomputes_damaged_ones(tiny_model, tiny_sweep):
    res, vectors, cfg, cache, _ = tiny_sweep
    files = sorted(cache.glob("*.json"))
    assert files and all(re.fullmatch(r"[A-Za-z0-9_.+-]+", f.name) and not f.name.startswith("*") for f in files)
    again = run_sweep(tiny_model, PROMPTS, vectors, cfg, _scorers(tiny_model), cache_dir=cache)
    assert again.extra["cache"]["computed"] == 0 and again.extra["cache"]["reused"] == len(files)
    pd.testing.assert_frame_equal(again.aggregates, res.aggregates)
    # a tampered cell (checksum no longer matches) and a truncated one are recomputed, not trusted
    first, second = files[0], files[1]
    saved = first.read_text(), second.read_text()
    first.write_text(saved[0].replace('"text": "', '"text": "TAMPERED'))
    second.write_text(saved[1][: len(saved[1]) // 2])
    fixed = run_sweep(tiny_model, PROMPTS, vectors, cfg, _scorers(tiny_model), cache_dir=cache)
    assert not fixed.rows.text.str.startswith("TAMPERED").any()
    assert fixed.extra["cache"]["computed"] == 2 and len(fixed.extra["cache"]["rejected"]) == 2
    pd.testing.assert_frame_equal(fixed.aggregates, res.aggregates)
    assert json.loads(first.read_text())["checksum"] == json.loads(saved[0])["checksum"]


def test_sweep_rerun_with_other_settings_in_a_copied_folder_recomputes(tiny_model, tiny_sweep, tmp_path):
    res, vectors, cfg, cache, _ = tiny_sweep
    copy = tmp_path / "cells"
    shutil.copytree(cache, copy)
    cfg5 = _cfg(generation=GenerationConfig(max_new_tokens=2, stop_at_eos=False))
    other = run_sweep(tiny_model, PROMPTS, vectors, cfg5, _scorers(tiny_model), cache_dir=copy)
    assert other.extra["cache"]["reused"] == 0
    assert (other.rows.n_new_tokens == 2).all()
    moved = {k: v * 2 for k, v in vectors.items()}
    again = run_sweep(tiny_model, PROMPTS, moved, cfg, _scorers(tiny_model), cache_dir=cache)
    assert again.extra["cache"]["reused"] == 2  # only the alpha=0 cells (no vector) are still valid


def test_generate_row_vectors_equals_one_spec_per_vector(tiny_model):
    from steering.generation import generate, generate_row_vectors
    from steering.hooks import SteeringSpec

    cfg = GenerationConfig(max_new_tokens=5, stop_at_eos=False)
    vecs = random_directions(3, tiny_model.cfg.d_model, 7) * 4.0
    prompts = ["abc def", "hello there"]
    rows = generate_row_vectors(tiny_model, prompts, "blocks.1.hook_resid_pre", vecs, config=cfg)
    assert rows.prompts == ("abc def",) * 3 + ("hello there",) * 3
    for j in range(3):
        one = generate(tiny_model, prompts, [SteeringSpec("blocks.1.hook_resid_pre", vecs[j], 1.0, "raw")], config=cfg)
        assert [rows.new_tokens[i * 3 + j] for i in range(2)] == list(one.new_tokens)


def test_generate_row_vectors_with_one_hook_per_vector_equals_separate_calls(tiny_model):
    """A layer × α batch (a hook per vector) gives the tokens of one steered call per (hook, vector)."""
    from steering.generation import generate, generate_row_vectors
    from steering.hooks import SteeringSpec

    cfg = GenerationConfig(max_new_tokens=5, stop_at_eos=False, batch_size=4)
    vecs = random_directions(3, tiny_model.cfg.d_model, 3) * 4.0
    hooks = ["blocks.0.hook_resid_pre", "blocks.1.hook_resid_pre", "blocks.1.hook_resid_pre"]
    prompts = ["abc def", "hello there"]
    rows = generate_row_vectors(tiny_model, prompts, hooks, vecs, positions="all", config=cfg)
    for j in range(3):
        one = generate(tiny_model, prompts, [SteeringSpec(hooks[j], vecs[j], 1.0, "raw")], config=cfg)
        assert [rows.new_tokens[i * 3 + j] for i in range(2)] == list(one.new_tokens)
    with pytest.raises(ConfigError, match="one per vector"):
        generate_row_vectors(tiny_model, prompts, hooks[:2], vecs, config=cfg)


def test_sweep_result_save_load_and_figure(tiny_sweep, tmp_path):
    from steering.sweep_figures import save_sweep_figures

    res = tiny_sweep[0]
    res.save(tmp_path)
    back = SweepResult.load(tmp_path)
    assert len(back.rows) == len(res.rows) and list(back.aggregates.columns) == list(res.aggregates.columns)
    assert len(back.random_effects) == len(res.random_effects)
    best = res.best_cell("gratitude")
    assert best.chosen_on == "selection" and best.reported_on == "evaluation"
    assert best.cell.split == "evaluation" and best.selection.split == "selection"
    assert best.cell.layer == best.selection.layer and best.random_control.n == 20
    assert best.random_control.p_floor == pytest.approx(1 / 21)
    s = json.loads((tmp_path / "summary.json").read_text())
    assert s["best"]["gratitude"] == json.loads(json.dumps(best.to_dict()))
    assert "evaluation" in s["window_rule"] and s["splits"]["reported_on"].startswith("evaluation")
    paths = save_sweep_figures(res, tmp_path)
    assert all(p.stat().st_size > 1000 for p in paths)
    fig = res.figure("effect")
    assert [t.type for t in fig.data] == ["heatmap", "heatmap"]


@pytest.mark.parametrize(("n_layers", "layers"), [(30, [3, 9, 15, 21, 27]), (18, [2, 5, 9, 13, 16]), (2, [0, 1]), (1, [0])])
def test_default_sweep_layers_at_tenths_of_the_depth(n_layers, layers):
    """0.1, 0.3, …, 0.9 of the depth, rounded: the study's old 30-layer list, and in range for gemma3-270m's 18 layers."""
    assert default_sweep_layers(n_layers) == layers


@pytest.mark.parametrize("n_layers", range(1, 65))
def test_default_sweep_layers_are_distinct_ascending_and_in_range(n_layers):
    layers = default_sweep_layers(n_layers)
    assert layers == sorted(set(layers)) and 0 <= layers[0] and layers[-1] <= n_layers - 1
    if n_layers >= 6:  # points more than one layer apart round apart, and 0.9 of the depth rounds below the top
        assert len(layers) == 5
    assert default_sweep_layers(n_layers, n=1) == [min((n_layers + 1) // 2, n_layers - 1)]  # the middle, half up


def test_default_sweep_layers_fit_the_tiny_model(tiny_model):
    from interp.hook_names import validate_layer

    layers = default_sweep_layers(tiny_model.cfg.n_layers)
    assert layers == [validate_layer(layer, tiny_model.cfg.n_layers) for layer in layers] == [0, 1]
    with pytest.raises(ConfigError, match="n_layers ≥ 1"):
        default_sweep_layers(0)


def test_sweep_config_rejects_bad_values():
    with pytest.raises(ConfigError, match="finite"):
        SweepConfig(emotions=("gratitude",), layers=(1,), alphas=(float("nan"),))
    with pytest.raises(ConfigError, match="at most 1000"):
        SweepConfig(emotions=("gratitude",), layers=(1,), alphas=(1e30,))
    with pytest.raises(ConfigError, match="at least 20 random directions"):
        SweepConfig(emotions=("gratitude",), layers=(1,), n_random=5)
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
    assert torch.equal(random_directions(3, 16, 3)[0], a)


def test_best_cell_is_typed_with_estimates_from_its_aggregate_rows(tiny_sweep):
    """The typed best cell carries the evaluation row's effect and CI and the selection row it was chosen on."""
    from interp.stats import Estimate

    res = tiny_sweep[0]
    for e in ("gratitude", "anger"):
        best = res.best_cell(e)
        agg = res.aggregates
        ev = agg[(agg.emotion == e) & (agg.split == "evaluation") & (agg.layer == best.cell.layer) & (agg.alpha == best.cell.alpha)
                 & (agg.direction == "emotion")].iloc[0]
        assert isinstance(best.cell.effect, Estimate)
        assert (best.cell.effect.value, best.cell.effect.lo, best.cell.effect.hi) == (ev.effect, ev.effect_lo, ev.effect_hi)
        assert best.cell.effect_masked.value == ev.effect_masked and best.cell.ppl_ratio.value == ev.ppl_ratio
        sel = agg[(agg.emotion == e) & (agg.split == "selection") & (agg.alpha != 0)]
        assert best.selection.effect.value == sel.effect.max() or sel.candidate.any()
        assert best.cell.setting == f"L{best.cell.layer} α={best.cell.alpha:g}"


def test_usable_window_is_typed_and_lists_the_usable_evaluation_cells(tiny_sweep):
    from steering.sweep_stats import UsableWindow

    res = tiny_sweep[0]
    agg = res.aggregates
    for e in ("gratitude", "anger"):
        w = res.usable_window(e)
        ev = agg[(agg.emotion == e) & (agg.split == "evaluation") & agg.usable]
        assert isinstance(w, UsableWindow) and w.cells == tuple((int(r.layer), float(r.alpha)) for r in ev.itertuples())
        assert res.summary()["usable_window"][e] == w.to_list()
    assert str(UsableWindow("x", ())) == "none" and str(UsableWindow("x", ((1, 0.5), (2, 1.0)))) == "L1 α=0.5, L2 α=1"
