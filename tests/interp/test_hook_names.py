import pytest

from interp.errors import HookError
from interp.hook_names import block_hook, expand_hooks, hook_kind, parse_hook, resid_post, resid_pre, validate_hook, validate_layer


@pytest.mark.parametrize(
    ("built", "expected"),
    [(resid_pre(3), "blocks.3.hook_resid_pre"), (resid_post(0), "blocks.0.hook_resid_post"),
     (block_hook("z", 2), "blocks.2.attn.hook_z"), (block_hook("pattern", 1), "blocks.1.attn.hook_pattern")],
)
def test_block_hook_builds_canonical_names(built, expected):
    assert built == expected
    assert parse_hook(built)[0] == int(expected.split(".")[1])


def test_hook_kind_roundtrip():
    assert hook_kind("blocks.4.hook_mlp_out") == "mlp_out"
    assert hook_kind("hook_embed") is None


def test_validate_layer_negative_and_out_of_range():
    assert validate_layer(-1, 30) == 29
    with pytest.raises(HookError, match=r"0\.\.29"):
        validate_layer(30, 30)


def test_validate_hook_lists_valid_forms(tiny_model):
    keys = tiny_model.hook_dict.keys()
    assert validate_hook("blocks.1.hook_resid_pre", keys, 2) == "blocks.1.hook_resid_pre"
    with pytest.raises(HookError, match="valid block hooks"):
        validate_hook("blocks.0.hook_nonsense", keys, 2)
    with pytest.raises(HookError, match="out of range"):
        validate_hook("blocks.7.hook_resid_pre", keys, 2)


def test_expand_hooks_kinds_times_layers_deduplicated(tiny_model):
    hooks = expand_hooks(["resid_pre", "blocks.0.hook_resid_pre", "mlp_out"], [0, 1], tiny_model.hook_dict.keys(), 2)
    assert hooks == ["blocks.0.hook_resid_pre", "blocks.1.hook_resid_pre", "blocks.0.hook_mlp_out", "blocks.1.hook_mlp_out"]
