"""evaluate_modules: one call, one typed report whose results/headline/tables/save agree with its fields."""

import json

import pytest
import torch

from frozen_llm_modules import EmotionSteeringModule
from frozen_llm_modules.module_eval import ModuleEvalReport, evaluate_modules, resolve_pool
from frozen_llm_modules.reward import EmotionalRewardModel
from frozen_llm_modules.state import ModuleError


@pytest.fixture(scope="module")
def steering_report(tiny_model):
    mod = EmotionSteeringModule.for_model(tiny_model)
    with torch.no_grad():
        mod.vectors.normal_(0, 0.5, generator=torch.Generator().manual_seed(0))
    return evaluate_modules(tiny_model, {"steering": mod}, n_prompts=3, n_texts=2, max_new_tokens=2)


def test_evaluate_modules_report_fields_agree_with_results(steering_report):
    r = steering_report
    assert isinstance(r, ModuleEvalReport) and r.modules == ["steering"] and r.n_prompts == 3
    res = r.results()
    assert [s["marker"] for s in res["styles"]] == ["hedges", "questions", "alternatives", "warmth"]
    assert all(s["lo"] <= s["diff"] <= s["hi"] for s in res["styles"])
    assert res["perplexity"]["ratio"] == pytest.approx(1.0)  # steering at the neutral state is the base model
    assert res["params"]["steering"]["trainable"] == 128 and "rerank" not in res
    assert json.dumps(res)  # JSON-able, no paths
    assert set(r.responses) == {"base", "fear", "curiosity", "frustration", "joy"}


def test_evaluate_modules_headline_and_tables(steering_report):
    heads = steering_report.headline()
    ratio = next(h for h in heads if h.name.startswith("neutral-text perplexity"))
    assert ratio.lo <= ratio.value <= ratio.hi
    styles = [h for h in heads if "module at 1.0" in h.name]
    assert len(styles) == 4 and all(h.p is not None for h in styles)
    titles = [t.title for t in steering_report.tables()]
    assert titles[0].startswith("target style markers") and titles[-1] == "parameters"
    assert "base perplexity" in steering_report.text()


def test_evaluate_modules_save_writes_results_and_responses(steering_report, tmp_path):
    steering_report.save(tmp_path)
    assert json.loads((tmp_path / "results.json").read_text()) == json.loads(json.dumps(steering_report.results()))
    assert set(json.loads((tmp_path / "responses.json").read_text())) == set(steering_report.responses)
    assert not (tmp_path / "rerank_responses.json").exists()


def test_evaluate_modules_reward_only_reranks_hinted_pool(tiny_model):
    rm = EmotionalRewardModel.for_model(tiny_model, hidden=4)
    r = evaluate_modules(tiny_model, {"reward": rm}, n_prompts=3, max_new_tokens=1)
    res = r.results()
    assert res["rerank_pool"] == "hinted" and res["rerank_candidates"] == 5 and "styles" not in res
    assert [t.title for t in r.tables()][-1] == "parameters" and r.text() == ""


def test_evaluate_modules_needs_a_module(tiny_model):
    with pytest.raises(ModuleError, match="needs a prefix, adapter, steering or reward module"):
        evaluate_modules(tiny_model, {})


def test_resolve_pool_defaults_by_attached_kinds():
    assert resolve_pool(None, {"steering": object()}) == "modules"
    assert resolve_pool(None, {"reward": object()}) == "hinted"
    assert resolve_pool("sampled", {"steering": object()}) == "sampled"
