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
