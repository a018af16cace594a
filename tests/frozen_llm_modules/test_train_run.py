"""train_module_run: settings resolve per-kind defaults; behaviour kinds train behind the frozen base and save.

The reward kind is covered end to end by tests/experiments/test_modules_cmd.py (its ``reward_dir`` fixture)."""

import pytest

from frozen_llm_modules.persistence import load_modules, read_config
from frozen_llm_modules.state import ModuleError
from frozen_llm_modules.training import DEFAULT_STEPS, TrainSettings, load_style_corpus, train_module_run


def test_train_settings_resolve_defaults_and_refuse_unknown_kind():
    s = TrainSettings("adapter")
    assert s.steps == DEFAULT_STEPS["adapter"] and s.kl_weight == 1.0
    assert TrainSettings("reward").kl_weight == 0.0 and TrainSettings("steering", steps=3, kl_weight=0.0).steps == 3
    with pytest.raises(ModuleError, match="--kind must be one of"):
        TrainSettings("lora")


@pytest.mark.parametrize("kind", ["steering", "adapter", "prefix"])
def test_train_module_run_behaviour_kinds_save_and_reload(tiny_model, tmp_path, kind):
    steps: list[int] = []
    rows = load_style_corpus()
    t = train_module_run(tiny_model, TrainSettings(kind, steps=2, batch_size=2, rank=2, n_virtual=2), rows, progress=steps.append)
    assert steps == [1, 2] and t.kind == kind and len(t.report["losses"]) == 2
    assert t.report["base_hash_before"] == t.report["base_hash_after"]
    t.save(tmp_path, tiny_model)
    assert "losses" not in read_config(tmp_path)["extra"]["train"]
    assert set(load_modules(tmp_path, tiny_model)) == {kind}

