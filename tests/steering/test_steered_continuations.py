"""Steered next to unsteered continuations: α = 0 changes nothing, the report's numbers are the scored texts', it saves JSON."""

import json

import numpy as np
import torch

from steering.generation import GenerationConfig, generate
from steering.hooks import SteeringSpec
from steering.steered_continuations import steered_continuations
from steering.vectors import EmotionVector

CFG = GenerationConfig(max_new_tokens=4, stop_at_eos=False)
PROMPTS = ["hello there", "abc"]


def _vector(d_model: int) -> EmotionVector:
    v = 20 * torch.randn(d_model, generator=torch.Generator().manual_seed(0))
    return EmotionVector("gratitude", v, "blocks.1.hook_resid_pre", 1, "sentence_end", "neutral", "tiny", "x", "y")


def test_steered_continuations_at_alpha_zero_equal_the_unsteered_ones(tiny_model):
    rep = steered_continuations(tiny_model, PROMPTS, _vector(tiny_model.cfg.d_model), "blocks.1.hook_resid_pre", 0.0, config=CFG)
    assert [it.steered for it in rep.items] == [it.unsteered for it in rep.items]
    assert all(h.value == 0.0 for h in rep.headline())


def test_steered_continuations_match_generate_with_the_same_spec(tiny_model, tmp_path):
    vec = _vector(tiny_model.cfg.d_model)
    rep = steered_continuations(tiny_model, PROMPTS, vec, "blocks.1.hook_resid_pre", 1.5, scale="unit", config=CFG)
    ref = generate(tiny_model, PROMPTS, [SteeringSpec("blocks.1.hook_resid_pre", vec.vector, 1.5, "unit", label="gratitude")], config=CFG)
    assert [it.steered for it in rep.items] == list(ref.continuations)
    assert rep.columns == ("vader_compound", "kw_gratitude", "perplexity")
    ppl = rep.headline()[2]
    assert ppl.name.startswith("Δ perplexity") and ppl.value == np.mean([it.scores_steered["perplexity"] - it.scores_unsteered["perplexity"]
                                                                         for it in rep.items])
    rep.save(tmp_path)
    saved = json.loads((tmp_path / "results.json").read_text())
    assert saved["steering"]["scale"] == "unit" and saved["vector"]["emotion"] == "gratitude" and len(saved["items"]) == 2
    assert [t.title for t in rep.tables()] == PROMPTS
