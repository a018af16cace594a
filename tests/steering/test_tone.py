"""The tone agent: targets, controls, the closed loop, baselines (tiny model) and one real-model check."""

import json
import math

import numpy as np
import pytest
import torch

from interp.errors import ConfigError
from interp.hook_names import resid_pre
from steering.generation import GenerationConfig, generate
from steering.tone import ToneAgent, ToneReply
from steering.tone_control import LabelControl
from steering.tone_generation import as_messages, context_ids
from steering.tone_target import PRESETS, ToneTarget, parse_target, tone_labels


def _control(model, label: str, *, layer: int = 1, alpha_hi: float = 4.0, base: float = 0.0, top: float = 0.5, seed: int = 0):
    g = torch.Generator().manual_seed(seed)
    vec = torch.randn(model.cfg.d_model, generator=g)
    target = {"gratitude": "vader_compound", "anger": "vader_neg", "apology": "kw_apology"}[label]
    return LabelControl(label, vec, layer, resid_pre(layer), alpha_hi, "raw", target, base, top, 1e9, True, f"test:{label}")


@pytest.fixture
def tiny_agent(tiny_model):
    controls = {lab: _control(tiny_model, lab, seed=i) for i, lab in enumerate(("gratitude", "anger", "apology"))}
    return ToneAgent(tiny_model, controls, chat=False, config=GenerationConfig(max_new_tokens=6))


# -- targets -----------------------------------------------------------------------------------
@pytest.mark.parametrize("text, levels", [
    ("gratitude=0.8,anger=0", {"gratitude": 0.8, "anger": 0.0}),
    (" apology = 1 ", {"apology": 1.0}),
    ("warm", PRESETS["warm"]),
    ({"anger": 0.5}, {"anger": 0.5}),
])
def test_parse_target_accepts_levels_and_presets(text, levels):
    assert parse_target(text).levels == levels


@pytest.mark.parametrize("text, fragment", [
    ("gratitude=1.2", "outside [0, 1]"),
    ("gratitude=-0.1", "outside [0, 1]"),
    ("gratitude=nan", "outside [0, 1]"),
    ("joy=0.5", "unknown tone label 'joy'"),
    ("neutral=0.5", "unknown tone label 'neutral'"),
    ("gratitude", "malformed"),
    ("gratitude=high", "not a number"),
    ("gratitude=0.1,gratitude=0.2", "twice"),
    ("", "empty"),
])
def test_parse_target_refuses_bad_input(text, fragment):
    with pytest.raises(ConfigError, match=fragment.replace("[", r"\[").replace("]", r"\]")):
        parse_target(text)


def test_tone_labels_come_from_the_attribute_registry():
    assert tone_labels() == ("gratitude", "anger", "apology")
    assert all(set(p) <= set(tone_labels()) for p in PRESETS.values())


def test_target_instruction_names_each_level():
    t = ToneTarget({"gratitude": 0.9, "anger": 0.0})
    assert "very grateful" in t.instruction() and "not angry" in t.instruction()
    assert t.main == "gratitude"


# -- controls ----------------------------------------------------------------------------------
def test_label_control_level_is_the_calibrated_scale(tiny_model):
    c = _control(tiny_model, "gratitude", base=0.2, top=0.6)
    assert c.level(0.2) == 0.0 and c.level(0.4) == pytest.approx(0.5) and c.level(0.6) == 1.0
    assert c.level(-1.0) == 0.0 and c.level(5.0) == 1.0
    flat = _control(tiny_model, "gratitude", base=0.3, top=0.3)
    assert math.isnan(flat.level(0.3))


# -- the agent ---------------------------------------------------------------------------------
def test_agent_refuses_budget_zero_and_uncontrolled_labels(tiny_model, tiny_agent):
    with pytest.raises(ConfigError, match="budget"):
        tiny_agent.reply("Hello", "warm", budget=0)
    only = ToneAgent(tiny_model, {"gratitude": _control(tiny_model, "gratitude")}, chat=False, config=GenerationConfig(max_new_tokens=4))
    with pytest.raises(ConfigError, match="cannot control 'anger'"):
        only.reply("Hello", "anger=0.5")
    flat = ToneAgent(tiny_model, {"gratitude": _control(tiny_model, "gratitude", top=0.0)}, chat=False)
    assert flat.labels == []
    with pytest.raises(ConfigError, match="did not raise"):
        flat.reply("Hello", "gratitude=0.5")


def test_agent_reply_respects_budget_and_records_drafts(tiny_agent):
    for budget in (1, 2, 4):
        r = tiny_agent.reply("Hello there", "gratitude=0.8,anger=0", budget=budget)
        assert 1 <= r.attempts <= budget and len(r.drafts) == r.attempts
        alphas = [d["alpha"]["gratitude"] for d in r.drafts]
        assert alphas[0] == pytest.approx(0.8 * 4.0)  # the open-loop start: level × window top
        assert all(0 <= a <= 4.0 for a in alphas)  # the loop stays inside the window
        assert all(d["alpha"]["anger"] == 0 for d in r.drafts)  # a level-0 label is never steered
        assert json.loads(json.dumps(r.to_dict()))["system"] == "agent"


def test_agent_interventions_reproduce_the_reply(tiny_model, tiny_agent):
    """The recorded interventions, applied through steering.generation, give the agent's text exactly."""
    r = tiny_agent.reply("Hello there", "gratitude=0.6,apology=0.4", budget=2)
    specs = [tiny_agent.controls[i["label"]].spec(i["alpha"]) for i in r.interventions]
    assert {i["combine"] for i in r.interventions} == {"vector sum at one hook"}
    g = generate(tiny_model, ["Hello there"], specs, config=GenerationConfig(max_new_tokens=6))
    assert g.continuations[0].strip() == r.text
    plain = tiny_agent.baseline("Hello there", "gratitude=0.6", "none")
    assert plain.text != r.text  # the steering changed the text


def test_agent_batch_equals_single_replies(tiny_agent):
    prompts = ["Hello there", "How do I cook rice?"]
    batch = tiny_agent.reply_batch(prompts, "warm", budget=2)
    for p, b in zip(prompts, batch):
        single = tiny_agent.reply(p, "warm", budget=2)
        assert single.text == b.text and single.attempts == b.attempts


def test_closed_loop_bisects_toward_the_target(tiny_model, monkeypatch):
    """With a score that rises linearly with α (a stand-in scorer), bisection converges on the target level."""
    agent = ToneAgent(tiny_model, {"gratitude": _control(tiny_model, "gratitude", alpha_hi=4.0, base=0.0, top=1.0)}, chat=False,
                      config=GenerationConfig(max_new_tokens=3), tolerance=0.05)
    seen = []

    def fake_generate(model, contexts, row_vectors, *, config, positions="all"):
        from steering.tone_generation import RowGeneration

        norms = [float(v.norm()) for v in next(iter(row_vectors.values()))] if row_vectors else [0.0] * len(contexts)
        seen.extend(norms)
        return RowGeneration(tuple(f"{n:.6f}" for n in norms), (1,) * len(contexts), (1,) * len(contexts), 0.0)

    unit = float(agent.controls["gratitude"].vector.norm())

    def fake_score(texts, ctx):
        return [{"vader_compound": (float(t) / unit / 4.0) ** 2, "vader_compound_masked": 0.0, "perplexity": 1.0, "distinct_2": 1.0,
                 "longest_repeat": 0.0} for t in texts]  # level = (α / 4)², so level 0.25 needs α = 2

    monkeypatch.setattr("steering.tone.generate_rows", fake_generate)
    monkeypatch.setattr(agent.scorer, "score", fake_score)
    r = agent.reply("x", "gratitude=0.25", budget=8)
    assert r.scores["hit"] == 1.0 and abs(r.scores["level_gratitude"] - 0.25) <= 0.05
    assert r.drafts[0]["alpha"]["gratitude"] == pytest.approx(1.0)  # starts at 0.25 × 4: level 0.0625, too low
    assert r.attempts > 1 and r.interventions[0]["alpha"] == pytest.approx(2.0, abs=0.4)


def test_baselines_and_compare(tiny_model, tiny_agent):
    out = tiny_agent.compare("Hello there", "apologetic", budget=1)
    assert set(out) == {"agent", "none", "prompting"}
    assert out["prompting"].interventions[0]["system_prompt"].startswith("You are a helpful assistant")
    assert out["none"].interventions == () and all(isinstance(v, ToneReply) for v in out.values())
    with pytest.raises(ConfigError, match="module"):
        tiny_agent.baseline("Hello", "warm", "module")
    with pytest.raises(ConfigError, match="unknown baseline"):
        tiny_agent.baseline("Hello", "warm", "oracle")


def test_dialogue_history_is_formatted_and_checked(tiny_model):
    hist = [{"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Hello"}, {"role": "user", "content": "Help me"}]
    ids = context_ids(tiny_model, as_messages(hist), chat=False)
    assert tiny_model.tokenizer.decode(ids, skip_special_tokens=True).endswith("User: Help me\nAssistant:")
    with pytest.raises(ConfigError, match="end with a user message"):
        as_messages(hist[:2])
    with pytest.raises(ConfigError, match="role"):
        as_messages([{"role": "robot", "content": "x"}])


def test_scores_have_masked_targets_levels_and_interference(tiny_agent):
    r = tiny_agent.reply("Hello", "gratitude=0.5", budget=1)
    for k in ("vader_compound", "vader_compound_masked", "vader_neg_masked", "kw_apology_masked", "perplexity", "level_gratitude",
              "tone_error", "hit", "interference"):
        assert k in r.scores
    assert np.isfinite(r.scores["interference"])  # anger and apology are controllable but not named


@pytest.mark.real
@pytest.mark.slow
def test_real_agent_raises_gratitude_over_no_control(real_model, tmp_path):
    """On smollm2-135m, a calibrated gratitude control at level 1 beats no control on the same held-out requests."""
    from frozen_llm_modules.tone_module import tone_prompts
    from steering.tone_control import CalibrationConfig

    cfg = CalibrationConfig(labels=("gratitude",), layers=(15,), alphas=(0.25, 0.5), scale="mean_norm", max_new_tokens=16, chat=True)
    agent = ToneAgent.calibrate(real_model, tone_prompts("calibration")[:8], tmp_path, config=cfg)
    assert agent.labels == ["gratitude"], agent.controls["gratitude"].describe()
    prompts = tone_prompts("evaluation")[:4]
    steered = agent.reply_batch(prompts, "gratitude=1", budget=2)
    plain = agent.baseline_batch(prompts, "gratitude=1", "none")
    assert all(r.attempts <= 2 for r in steered)
    gain = np.mean([s.scores["vader_compound"] - p.scores["vader_compound"] for s, p in zip(steered, plain)])
    assert gain > 0, [(s.text, p.text) for s, p in zip(steered, plain)]
    again = ToneAgent.from_run(real_model, tmp_path)  # the stored calibration reads back to the same window
    assert again.controls["gratitude"].alpha_hi == agent.controls["gratitude"].alpha_hi
