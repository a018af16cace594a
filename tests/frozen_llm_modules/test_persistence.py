"""Save → load round trip, base-model checks and corrupt files."""

import json

import pytest
import torch

from frozen_llm_modules import EmotionalPrefix, EmotionalRewardModel, EmotionalState, EmotionSteeringModule, GatedEmotionAdapter
from frozen_llm_modules.attach import EmotionalLLM
from frozen_llm_modules.persistence import load_modules, save_modules
from frozen_llm_modules.state import ModuleError


def _mods(model):
    torch.manual_seed(1)
    mods = {"prefix": EmotionalPrefix.for_model(model, n_virtual=2), "adapter": GatedEmotionAdapter.for_model(model, rank=4),
            "steering": EmotionSteeringModule.for_model(model), "reward": EmotionalRewardModel.for_model(model, hidden=8)}
    with torch.no_grad():
        for m in mods.values():
            for p in m.parameters():
                p.add_(torch.randn_like(p) * 0.1)
    return mods


def test_save_load_round_trip_identical(tiny_model, tmp_path):
    mods = _mods(tiny_model)
    save_modules(tmp_path / "mods", mods, tiny_model)
    loaded = load_modules(tmp_path / "mods", tiny_model)
    assert set(loaded) == set(mods)
    for k in mods:
        for (n1, a), (n2, b) in zip(mods[k].state_dict().items(), loaded[k].state_dict().items()):
            assert n1 == n2 and torch.equal(a, b)
    toks = tiny_model.to_tokens("round trip")
    outs = []
    for ms in (mods, loaded):
        llm = EmotionalLLM(tiny_model, **{k: v for k, v in ms.items() if k != "reward"})
        llm.set_state(EmotionalState(fear=0.3, joy=0.9))
        outs.append(llm(toks))
    assert torch.equal(outs[0], outs[1])
    cfg = json.loads((tmp_path / "mods" / "modules.json").read_text())
    assert cfg["base_model"] == "tiny" and cfg["base_source_hash"] == tiny_model.ec_info.source_hash


def test_load_rejects_corrupt_weights_and_config(tiny_model, tmp_path):
    d = save_modules(tmp_path / "mods", {"steering": EmotionSteeringModule.for_model(tiny_model)}, tiny_model)
    w = d / "modules.safetensors"
    data = bytearray(w.read_bytes())
    data[len(data) // 2] ^= 0xFF
    w.write_bytes(bytes(data))
    with pytest.raises(ModuleError, match="corrupt"):
        load_modules(d, tiny_model)
    (d / "modules.json").write_text("{not json")
    with pytest.raises(ModuleError, match="corrupt"):
        load_modules(d, tiny_model)
    with pytest.raises(ModuleError, match="not a module folder"):
        load_modules(tmp_path / "missing", tiny_model)


@pytest.mark.real
def test_load_onto_other_base_model_is_clear_error(tiny_model, real_model, tmp_path):
    d = save_modules(tmp_path / "mods", {"steering": EmotionSteeringModule.for_model(tiny_model)}, tiny_model)
    with pytest.raises(ModuleError, match="trained on 'tiny'.*--model tiny"):
        load_modules(d, real_model)


@pytest.fixture()
def own_tiny():
    """A private tiny model (its weights get edited; the session fixture must stay intact)."""
    from interp.models import load_model

    return load_model("tiny", device="cpu")


def test_load_and_attach_refuse_changed_base_weights(own_tiny, tmp_path):
    from frozen_llm_modules.state import ModuleProvenanceError

    d = save_modules(tmp_path / "mods", {"steering": EmotionSteeringModule.for_model(own_tiny)}, own_tiny)
    assert len(json.loads((d / "modules.json").read_text())["base_weights_hash"]) == 64
    loaded = load_modules(d, own_tiny)
    EmotionalLLM(own_tiny, **loaded)  # same weights: attaches
    p = next(own_tiny.parameters())
    with torch.no_grad():
        p.view(-1)[0] += 1.0
    with pytest.raises(ModuleProvenanceError, match="weights have changed.*--allow-other-model"):
        EmotionalLLM(own_tiny, **loaded)  # attach finds the changed weights
    with pytest.raises(ModuleProvenanceError, match="weights have changed"):
        load_modules(d, own_tiny)
    moved = load_modules(d, own_tiny, allow_other_model=True)  # deliberate transfer
    EmotionalLLM(own_tiny, **moved)


def test_load_refuses_module_of_another_model_unless_allowed(tiny_model, tmp_path):
    from frozen_llm_modules.state import ModuleProvenanceError

    d = save_modules(tmp_path / "mods", {"steering": EmotionSteeringModule.for_model(tiny_model)}, tiny_model)
    cfg = json.loads((d / "modules.json").read_text())
    (d / "modules.json").write_text(json.dumps(dict(cfg, base_model="other-model")))
    with pytest.raises(ModuleProvenanceError, match="trained on 'other-model'.*--allow-other-model"):
        load_modules(d, tiny_model)
    assert "steering" in load_modules(d, tiny_model, allow_other_model=True)
    (d / "modules.json").write_text(json.dumps(dict(cfg, base_source_hash="0" * 64)))
    with pytest.raises(ModuleProvenanceError, match="trained on 'tiny' \\(weights 000000000000\\)"):
        load_modules(d, tiny_model)
    (d / "modules.json").write_text(json.dumps(dict(cfg, d_model=cfg["d_model"] + 1, base_model="other-model")))
    with pytest.raises(ModuleError, match="d_model"):  # a transfer still needs the same width
        load_modules(d, tiny_model, allow_other_model=True)


def test_training_refuses_when_base_weights_change_mid_run(own_tiny):
    from frozen_llm_modules.state import ModuleProvenanceError
    from frozen_llm_modules.training import load_style_corpus, train_behaviour

    llm = EmotionalLLM(own_tiny, steering=EmotionSteeringModule.for_model(own_tiny))

    def corrupt_base(step):  # something writes to the frozen weights during training
        with torch.no_grad():
            next(own_tiny.parameters()).view(-1)[0] += 0.5

    with pytest.raises(ModuleProvenanceError, match="changed during training"):
        train_behaviour(llm, "steering", load_style_corpus()[:8], steps=1, batch_size=4, progress=corrupt_base)


@pytest.mark.real
def test_real_model_module_refused_after_weight_edit(real_model, tmp_path):
    from frozen_llm_modules.state import ModuleProvenanceError

    d = save_modules(tmp_path / "mods", {"steering": EmotionSteeringModule.for_model(real_model)}, real_model)
    loaded = load_modules(d, real_model)
    p = next(real_model.parameters())
    old = p.view(-1)[0].item()
    try:
        with torch.no_grad():
            p.view(-1)[0] += 1e-3
        with pytest.raises(ModuleProvenanceError, match="'smollm2-135m' weights have changed"):
            EmotionalLLM(real_model, **loaded)
    finally:
        with torch.no_grad():
            p.view(-1)[0] = old
    EmotionalLLM(real_model, **loaded)  # restored weights hash as recorded again
