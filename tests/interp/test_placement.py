"""Placement options checked against this machine's devices before any weight is read (CPU-only here)."""

import json

import pytest
import torch

from interp.errors import ConfigError
from interp.placement import (
    available_devices,
    check_device,
    parse_device_map,
    parse_max_memory,
    resolve_placement,
    unplaced_modules,
)

NO_GPU = pytest.mark.skipif(torch.cuda.is_available(), reason="the cases assume a machine without CUDA")


def test_check_device_accepts_cpu_and_auto_resolves():
    assert available_devices()[0] == "cpu"
    assert check_device("cpu") == "cpu"
    assert check_device(None) == check_device("auto") == ("cuda" if torch.cuda.is_available() else "cpu")


@NO_GPU
@pytest.mark.parametrize(("device", "message"), [
    ("cuda", "device 'cuda' does not exist on this machine; devices here: cpu"),
    ("cuda:7", "device 'cuda:7' does not exist on this machine; devices here: cpu"),
    ("tpu", "device 'tpu' is not a torch device; devices here: cpu"),
    ("", "is not a torch device"),
])
def test_check_device_refuses_devices_this_machine_lacks(device, message):
    with pytest.raises(ConfigError, match=message.replace("(", r"\(")):
        check_device(device)


def test_parse_device_map_reads_json_text_files_and_dicts(tmp_path):
    m = {"model.embed_tokens": "cpu", "model.layers": "cpu", "lm_head": "disk"}
    (tmp_path / "map.json").write_text(json.dumps(m))
    assert parse_device_map(json.dumps(m)) == parse_device_map(str(tmp_path / "map.json")) == parse_device_map(m) == m


@pytest.mark.parametrize(("value", "message"), [
    ("{not json", "device_map is not valid JSON"),
    ("nowhere.json", "neither a policy .* nor an existing JSON file"),
    ("[1, 2]", "neither a policy"),
    ("{}", "non-empty object"),
    ({"": "meta"}, "maps to 'meta'"),
    ({"": 1.5}, "maps to 1.5"),
    ({"": "tpu"}, "is not a torch device"),
])
def test_parse_device_map_refuses_bad_maps(value, message):
    with pytest.raises(ConfigError, match=message):
        parse_device_map(value)


@NO_GPU
@pytest.mark.parametrize("value", ["auto", "balanced", {"": 0}, {"model": "cuda:1"}])
def test_parse_device_map_refuses_gpu_maps_without_a_gpu(value):
    with pytest.raises(ConfigError, match="(none|does not exist)"):
        parse_device_map(value)


@pytest.mark.parametrize(("text", "parsed"), [
    ("cpu=64GiB", {"cpu": "64GiB"}), ("cpu=64gib, disk=1TB", {"cpu": "64GiB", "disk": "1TB"}), ({"cpu": 1024}, {"cpu": 1024}),
    ("cpu=1.5GB", {"cpu": "1.5GB"}),
])
def test_parse_max_memory_normalises_sizes(text, parsed):
    assert parse_max_memory(text) == parsed


@pytest.mark.parametrize(("text", "message"), [
    ("cpu", "has no '='"), ("cpu=lots", "give a positive size with a unit"), ("cpu=20", "give a positive size"),
    ("gpu=1GiB", "key 'gpu' is not a device"), ("cpu=0GiB", "positive size"), (",", "is empty"),
])
def test_parse_max_memory_refuses_malformed_budgets(text, message):
    with pytest.raises(ConfigError, match=message):
        parse_max_memory(text)


@NO_GPU
def test_parse_max_memory_refuses_gpus_that_do_not_exist():
    with pytest.raises(ConfigError, match="GPU 0, which does not exist"):
        parse_max_memory("0=20GiB,cpu=64GiB")


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"device": "cpu", "device_map": {"": "cpu"}}, "give device .* or a split"),
    ({"max_memory": "cpu=1GiB"}, "max_memory only budgets a split"),
    ({"device_map": {"": "cpu"}, "n_devices": 1}, "not both"),
    ({"n_devices": 0}, "whole number ≥ 1"),
])
def test_resolve_placement_refuses_contradictions(kwargs, message):
    with pytest.raises(ConfigError, match=message):
        resolve_placement(**kwargs)


@NO_GPU
def test_resolve_placement_n_devices_needs_that_many_gpus():
    assert resolve_placement(n_devices=1).boot_kwargs() == {"device": "cpu"}
    with pytest.raises(ConfigError, match="n_devices 2 needs 2 GPUs; this machine has 0"):
        resolve_placement(n_devices=2)


def test_placement_boot_kwargs_are_exclusive():
    assert resolve_placement("cpu").boot_kwargs() == {"device": "cpu"}
    split = resolve_placement(device_map={"": "cpu"}, max_memory="cpu=2GiB")
    assert split.split and split.boot_kwargs() == {"device_map": {"": "cpu"}, "max_memory": {"cpu": "2GiB"}}


@pytest.mark.parametrize(("device_map", "missing"), [
    ({"": "cpu"}, []),
    ({"model": "cpu", "lm_head": "cpu"}, []),
    ({"model.embed_tokens": "cpu", "model.layers.0": "cpu"}, ["model.layers.1", "model.norm", "lm_head"]),
    ({"model.layers": "cpu"}, ["model.embed_tokens", "model.norm", "lm_head"]),
    ({"model.layers.1": "cpu", "model.embed": "cpu"}, ["model.embed_tokens", "model.layers.0", "model.norm", "lm_head"]),
])
def test_unplaced_modules_follows_accelerates_prefix_rule(device_map, missing):
    names = ["model.embed_tokens.weight", "model.layers.0.self_attn.q_proj.weight", "model.layers.0.mlp.up_proj.weight",
             "model.layers.1.self_attn.q_proj.weight", "model.norm.weight", "lm_head.weight"]
    assert unplaced_modules(device_map, names) == missing


def test_steering_hook_adds_on_the_activations_device_and_dtype():
    """Under a split each block's activation lives on its own device: the hook moves the vector there (meta stands in
    for a second device on a CPU-only machine) and into the activation's dtype."""
    from steering.hooks import add_vector_hook

    hook = add_vector_hook(torch.ones(4, dtype=torch.float64), positions="all")
    act = torch.zeros(2, 3, 4, dtype=torch.bfloat16)
    out = hook(act, None)
    assert out.dtype == torch.bfloat16 and torch.equal(out, torch.ones(2, 3, 4, dtype=torch.bfloat16))
    elsewhere = hook(torch.zeros(2, 3, 4, device="meta"), None)
    assert elsewhere.device.type == "meta" and elsewhere.shape == (2, 3, 4)
