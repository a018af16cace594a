"""Vectors out to llama.cpp (GGUF control vectors, repeng) and steering-vectors, and back: exact round trips read by
the formats' own readers, the layer mapping checked against independent implementations, one-line CLI errors."""

import json
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import pytest
import torch

from interp.errors import ConfigError, HookError, StoreError
from steering.export import (
    BlockDirections,
    block_of_hook,
    export_gguf,
    export_steering_vectors,
    export_vectors,
    from_steering_vector,
    hook_of_block,
    import_vectors,
    load_steering_vector,
    read_directions,
    read_gguf,
    read_steering_vectors,
    select_vectors,
    to_steering_vector,
)
from steering.vectors import EmotionVector, load_vectors, save_vectors
from tests.helpers import run_cli

gguf = pytest.importorskip("gguf")


def _vec(layer: int, kind: str = "resid_pre", d: int = 16, *, emotion="gratitude", seed=0, model="m", method="sentence_end"):
    g = torch.Generator().manual_seed(seed + 100 * layer)
    return EmotionVector(emotion, torch.randn(d, generator=g), f"blocks.{layer}.hook_{kind}", layer, method, "neutral",
                         model, "h" * 64, "ds", n_emotion=5, n_reference=7)


def _hf(bridge):
    """The plain transformers model behind ``bridge``, loaded separately from the same local folder (no bridge hooks)."""
    from transformers import AutoModelForCausalLM

    from interp.models import cached_model_dir
    from interp.registry import KNOWN_MODELS

    info = bridge.ec_info
    spec = KNOWN_MODELS.get(info.name)
    folder = info.source if spec is None or spec.gguf_file is None else cached_model_dir(spec, info.source_hash)
    return AutoModelForCausalLM.from_pretrained(str(folder), dtype=torch.float32).eval()


@contextmanager
def llama_cpp_cvec(hf, directions: dict[int, torch.Tensor], strength: float = 1.0):
    """llama.cpp's control vector, written from its source: layer ``il``'s output gets ``strength * direction.{il}``
    (``cur = build_cvec(cur, il)`` after each layer; ``dst += src * strength`` on load). Independent of steering-vectors."""

    def add(d):
        def hook(module, args, output):
            if isinstance(output, tuple):
                return (output[0] + strength * d.to(output[0].dtype),) + output[1:]
            return output + strength * d.to(output.dtype)
        return hook

    handles = [hf.model.layers[il].register_forward_hook(add(d)) for il, d in directions.items()]
    try:
        yield hf
    finally:
        for h in handles:
            h.remove()


def _gguf_directions(path) -> dict[int, torch.Tensor]:
    """Read direction.N with the gguf package the way repeng's ``ControlVector.import_gguf`` does."""
    r = gguf.GGUFReader(str(path))
    return {int(t.name.split(".")[1]): torch.from_numpy(np.array(t.data)) for t in r.tensors if t.name.startswith("direction.")}


# ------------------------------------------------------------------------------------------------ layer mapping

@pytest.mark.parametrize(("hook", "block"), [
    ("blocks.1.hook_resid_pre", 0), ("blocks.12.hook_resid_pre", 11), ("blocks.0.hook_resid_post", 0),
    ("blocks.12.hook_resid_post", 12), ("blocks.29.hook_resid_post", 29),
])
def test_block_of_hook_resid_pre_is_previous_block_and_resid_post_the_same(hook, block):
    assert block_of_hook(hook) == block
    kind = "resid_pre" if hook.endswith("resid_pre") else "resid_post"
    assert hook_of_block(block, 30, hook_kind=kind) == hook


@pytest.mark.parametrize(("hook", "message"), [
    ("blocks.0.hook_resid_pre", "embedding output"), ("blocks.3.hook_attn_out", "not a block output"),
    ("blocks.3.hook_resid_mid", "not a block output"), ("hook_embed", "not a block output"),
])
def test_block_of_hook_refuses_hooks_without_a_block_output(hook, message):
    with pytest.raises(HookError, match=message):
        block_of_hook(hook)


def test_hook_of_block_refuses_blocks_the_model_lacks():
    with pytest.raises(HookError, match="import with --hook-kind resid_post"):
        hook_of_block(29, 30, hook_kind="resid_pre")
    with pytest.raises(HookError, match="blocks 0..29"):
        hook_of_block(30, 30, hook_kind="resid_post")


# ------------------------------------------------------------------------------------------------ GGUF

def test_gguf_round_trip_is_exact_and_readable_as_llama_cpp_and_repeng_read_it(tmp_path):
    vecs = [_vec(3), _vec(5, "resid_post")]
    path = export_gguf(vecs, tmp_path / "g.gguf", model_hint="llama")
    r = gguf.GGUFReader(str(path))
    field = lambda k: r.get_field(k).contents()  # noqa: E731
    assert field("general.architecture") == "controlvector"
    assert field("controlvector.model_hint") == "llama" and field("controlvector.layer_count") == 2
    assert bytes(r.get_field("controlvector.model_hint").parts[-1]).decode() == "llama"  # repeng's reading
    assert {t.name: (t.tensor_type, list(t.shape)) for t in r.tensors} == {
        "direction.2": (gguf.GGMLQuantizationType.F32, [16]), "direction.5": (gguf.GGMLQuantizationType.F32, [16])}
    dirs = _gguf_directions(path)
    assert torch.equal(dirs[2], vecs[0].vector) and torch.equal(dirs[5], vecs[1].vector)
    back = read_gguf(path)
    assert back.model_hint == "llama" and back.d_model == 16 and [p["hook"] for p in back.provenance] == [v.hook for v in vecs]
    assert all(torch.equal(back.directions[b], dirs[b]) for b in (2, 5))


def test_gguf_refuses_block_zero_where_llama_cpp_never_adds(tmp_path):
    with pytest.raises(HookError, match="output of block 0.*refuses direction.0"):
        export_gguf([_vec(1)], tmp_path / "g.gguf")
    with pytest.raises(HookError, match="embedding output"):
        export_gguf([_vec(0)], tmp_path / "g.gguf")
    assert not (tmp_path / "g.gguf").exists()


def test_export_refuses_two_vectors_at_one_block(tmp_path):
    with pytest.raises(ConfigError, match="both add to the output of block 4"):
        export_gguf([_vec(5), _vec(4, "resid_post")], tmp_path / "g.gguf")


def test_gguf_export_is_atomic(tmp_path, monkeypatch):
    path = export_gguf([_vec(3)], tmp_path / "g.gguf")
    before = path.read_bytes()

    def broken(self):
        raise RuntimeError("disk went away")

    monkeypatch.setattr(gguf.GGUFWriter, "write_tensors_to_file", broken)
    with pytest.raises(RuntimeError):
        export_gguf([_vec(7)], path)
    assert path.read_bytes() == before and sorted(p.name for p in tmp_path.iterdir()) == ["g.gguf"]


def _write_gguf(path, tensors: dict[str, np.ndarray], arch="controlvector", hint="llama"):
    w = gguf.GGUFWriter(str(path), arch)
    w.add_string(f"{arch}.model_hint", hint)
    w.add_uint32(f"{arch}.layer_count", len(tensors))  # repeng writes uint32, llama.cpp int32
    for k, v in tensors.items():
        w.add_tensor(k, v)
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()
    return path


@pytest.mark.parametrize(("tensors", "arch", "message"), [
    ({"direction.1": np.ones(4, np.float32)}, "llama", "not a control vector"),
    ({"direction.0": np.ones(4, np.float32)}, "controlvector", "direction.0"),
    ({"direction.1": np.ones(4, np.float16)}, "controlvector", "1-D F32"),
    ({"direction.1": np.ones((2, 4), np.float32)}, "controlvector", "1-D F32"),
    ({"direction.1": np.ones(4, np.float32), "direction.2": np.ones(5, np.float32)}, "controlvector", "widths"),
    ({"bias.1": np.ones(4, np.float32)}, "controlvector", "only direction.N"),
])
def test_read_gguf_checks_what_llama_cpp_checks(tmp_path, tensors, arch, message):
    with pytest.raises(StoreError, match=message):
        read_gguf(_write_gguf(tmp_path / "x.gguf", tensors, arch=arch))


def test_read_gguf_refuses_a_missing_or_non_gguf_file(tmp_path):
    with pytest.raises(StoreError, match="no control vector"):
        read_gguf(tmp_path / "none.gguf")
    (tmp_path / "junk.gguf").write_bytes(b"not a gguf file at all")
    with pytest.raises(StoreError, match="not a readable GGUF"):
        read_gguf(tmp_path / "junk.gguf")


# ------------------------------------------------------------------------------------------------ steering-vectors

def test_steering_vectors_round_trip_is_exact(tmp_path):
    sv_lib = pytest.importorskip("steering_vectors")
    vecs = [_vec(3), _vec(5, "resid_post")]
    sv = load_steering_vector(export_steering_vectors(vecs, tmp_path / "s.safetensors"))
    assert isinstance(sv, sv_lib.SteeringVector) and sv.layer_type == "decoder_block"
    assert sorted(sv.layer_activations) == [2, 5]
    assert torch.equal(sv.layer_activations[2], vecs[0].vector) and torch.equal(sv.layer_activations[5], vecs[1].vector)
    mem = to_steering_vector(vecs)
    assert all(torch.equal(mem.layer_activations[b], sv.layer_activations[b]) for b in (2, 5))
    back = from_steering_vector(sv)
    assert sorted(back.directions) == [2, 5] and torch.equal(back.directions[5], vecs[1].vector)
    assert [p["hook"] for p in read_steering_vectors(tmp_path / "s.safetensors").provenance] == [v.hook for v in vecs]


def test_from_steering_vector_refuses_other_layer_types():
    sv_lib = pytest.importorskip("steering_vectors")
    with pytest.raises(ConfigError, match="layer_type 'mlp'"):
        from_steering_vector(sv_lib.SteeringVector({3: torch.ones(4)}, layer_type="mlp"))


def test_read_steering_vectors_refuses_our_plain_vector_file(tmp_path):
    path = save_vectors([_vec(3)], tmp_path / "v.safetensors")
    with pytest.raises(StoreError, match="not a decoder-block steering vector"):
        read_steering_vectors(path)


# ------------------------------------------------------------------------------------------------ selection, import

def test_select_vectors_needs_an_explicit_choice_of_emotion_and_layers():
    vecs = [_vec(3), _vec(9), _vec(9, emotion="anger")]
    with pytest.raises(ConfigError, match="choose one with --emotion"):
        select_vectors(vecs)
    with pytest.raises(ConfigError, match="layers 3, 9; .*--layers"):
        select_vectors(vecs, emotion="gratitude")
    assert [v.layer for v in select_vectors(vecs, emotion="gratitude", layers=[9])] == [9]
    with pytest.raises(ConfigError, match="no vector at layer"):
        select_vectors(vecs, emotion="anger", layers=[3])


def test_import_restores_our_vectors_exactly(tmp_path, tiny_model):
    from interp.models import model_info

    info = model_info(tiny_model)
    v = _vec(1, "resid_post", d=tiny_model.cfg.d_model, model=info.name)
    back = import_vectors(read_gguf(export_gguf([v], tmp_path / "g.gguf")), tiny_model)
    assert len(back) == 1 and torch.equal(back[0].vector, v.vector)
    assert back[0].provenance() == v.provenance()


def test_import_foreign_file_maps_blocks_to_the_chosen_hook_kind(tmp_path, tiny_model):
    from interp.models import model_info

    d = tiny_model.cfg.d_model
    path = _write_gguf(tmp_path / "happy.gguf", {"direction.1": np.arange(d, dtype=np.float32)})
    dirs = read_gguf(path)
    assert dirs.provenance == () and dirs.model_hint == "llama"
    (post,) = import_vectors(dirs, tiny_model, hook_kind="resid_post", fmt="gguf")
    info = model_info(tiny_model)
    assert (post.emotion, post.hook, post.layer, post.model_name, post.model_hash) == \
           ("happy", "blocks.1.hook_resid_post", 1, info.name, info.source_hash)
    assert post.extra["block"] == 1 and post.extra["format"] == "gguf"
    with pytest.raises(HookError, match="--hook-kind resid_post"):
        import_vectors(dirs, tiny_model)  # block 1 is the last of 2: no resid_pre 2
    save_vectors([post], tmp_path / "v.safetensors")
    assert torch.equal(load_vectors(tmp_path / "v.safetensors")[0].vector, torch.arange(d, dtype=torch.float32))


def test_import_refuses_another_width(tmp_path, tiny_model):
    path = _write_gguf(tmp_path / "wide.gguf", {"direction.1": np.ones(tiny_model.cfg.d_model + 1, np.float32)})
    with pytest.raises(HookError, match=f"d_model {tiny_model.cfg.d_model + 1} but the model has d_model"):
        import_vectors(read_gguf(path), tiny_model, hook_kind="resid_post")


@pytest.mark.parametrize("fmt", ["gguf", "steering-vectors"])
def test_import_of_our_own_files_made_for_another_width_names_both_sizes(tmp_path, tiny_model, capsys, fmt):
    """Both export formats, read back through the library and through ``vectors-import`` (one error line, exit 2)."""
    d = tiny_model.cfg.d_model
    path = export_vectors([_vec(1, "resid_post", d=d + 3)], tmp_path / f"wide.{fmt}", fmt)
    with pytest.raises(HookError, match=f"has d_model {d + 3} but the model has d_model {d};"):
        import_vectors(read_directions(path, fmt), tiny_model)
    code, _, err = run_cli(["vectors-import", str(path), "--format", fmt, "--model", "tiny", "--out", str(tmp_path / "o.safetensors")], capsys)
    errors = [line for line in err.splitlines() if line.startswith("error:")]
    assert code == 2 and len(errors) == 1 and f"has d_model {d + 3} but the model has d_model {d}" in errors[0]
    assert not (tmp_path / "o.safetensors").exists()


# ------------------------------------------------------------------------------------------------ steering parity (tiny)

def test_tiny_exported_vectors_steer_the_plain_model_like_our_hook(tmp_path, tiny_model):
    """Log-probs of the bridge steered at our hook = the plain HF model steered by the exported file; one block off does not."""
    sv_lib = pytest.importorskip("steering_vectors")
    from steering.hooks import add_vector_hook

    hf = _hf(tiny_model)
    toks = tiny_model.to_tokens(["Hello there, friend"])
    lp = lambda logits: logits.log_softmax(-1)  # noqa: E731 - compat mode centres the unembedding: compare log-probs
    v = torch.randn(tiny_model.cfg.d_model, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        for hook in ("blocks.1.hook_resid_pre", "blocks.0.hook_resid_post", "blocks.1.hook_resid_post"):
            with tiny_model.hooks(fwd_hooks=[(hook, add_vector_hook(v))]):
                ours = lp(tiny_model(toks))
            ev = EmotionVector("gratitude", v, hook, int(hook.split(".")[1]), "sentence_end", "neutral", "m", "h" * 64, "ds")
            sv = load_steering_vector(export_steering_vectors([ev], tmp_path / "s.safetensors"))
            with sv.apply(hf):
                theirs = lp(hf(toks).logits)
            torch.testing.assert_close(theirs, ours, atol=1e-5, rtol=0)
            wrong = 1 - block_of_hook(hook)
            with sv_lib.SteeringVector({wrong: v}).apply(hf):
                off = lp(hf(toks).logits)
            assert (off - ours).abs().max() > 1e-4, "the test cannot tell the blocks apart"
            if block_of_hook(hook) > 0:
                with llama_cpp_cvec(hf, _gguf_directions(export_gguf([ev], tmp_path / "g.gguf"))):
                    cpp = lp(hf(toks).logits)
                torch.testing.assert_close(cpp, ours, atol=1e-5, rtol=0)


# ------------------------------------------------------------------------------------------------ steering parity (real)

@pytest.mark.real
def test_real_model_exported_vector_steers_hf_to_the_same_greedy_tokens(real_model, tmp_path):
    """smollm2-135m: our hook at resid_pre 10 on the bridge, steering-vectors at block 9 and llama.cpp's direction.9 on
    the plain transformers model give the same 10 greedy tokens per prompt, at α = 0 and at an α that changes the text."""
    pytest.importorskip("steering_vectors")
    from interp.capture import capture
    from interp.positions import tokenize_batch
    from steering.generation import GenerationConfig, generate, prompt_token_ids
    from steering.hooks import SteeringSpec

    m, layer = real_model, 10
    hook = f"blocks.{layer}.hook_resid_pre"

    def sentence_end_mean(texts):
        b = tokenize_batch(m, texts, padding_side="right")
        acts = capture(m, b, [hook])[hook]
        return acts[torch.arange(len(texts)), b.attention_mask.sum(1) - 1].mean(0).float()

    direction = (sentence_end_mean(["Thank you so much, I am deeply grateful for your help.",
                                    "I really appreciate everything you did for me, thanks!"])
                 - sentence_end_mean(["The train leaves the station at nine in the morning.",
                                      "The report lists the figures for the second quarter."]))
    info = m.ec_info
    vec = EmotionVector("gratitude", direction, hook, layer, "sentence_end", "neutral", info.name, info.source_hash, "ds")
    sv = load_steering_vector(export_steering_vectors([vec], tmp_path / "g.safetensors"))
    cvec = _gguf_directions(export_gguf([vec], tmp_path / "g.gguf"))
    assert sorted(sv.layer_activations) == [layer - 1] and sorted(cvec) == [layer - 1]
    hf = _hf(m)
    prompts = ["The weather report for tomorrow says", "My neighbour called me yesterday and",
               "Here is the plan for the meeting:"]
    cfg = GenerationConfig(max_new_tokens=10)
    eos = m.tokenizer.eos_token_id
    tokens: dict[float, list] = {}
    for alpha in (0.0, 1.0):
        tokens[alpha] = []
        for p in prompts:  # one prompt per call: no padding on either side
            ours = list(generate(m, [p], [SteeringSpec(hook, vec.vector, alpha, scale="raw")], config=cfg).new_tokens[0])
            ids = torch.tensor([prompt_token_ids(m, p, chat=False)])
            for steer in (lambda: sv.apply(hf, multiplier=alpha), lambda: llama_cpp_cvec(hf, cvec, strength=alpha)):
                with torch.no_grad(), steer():
                    out = hf.generate(ids, attention_mask=torch.ones_like(ids), max_new_tokens=10, do_sample=False)
                theirs = out[0, ids.shape[1]:].tolist()
                theirs = theirs[: theirs.index(eos)] if eos in theirs else theirs
                assert theirs == ours, (alpha, p, m.tokenizer.decode(ours), m.tokenizer.decode(theirs))
            tokens[alpha].append(ours)
    assert tokens[1.0] != tokens[0.0], "alpha 1 does not change the text: the parity test would pass vacuously"
    off_by_one = []
    for p in prompts:  # the same vector one block later (output of block 10 = resid_pre 11) steers elsewhere
        ids = torch.tensor([prompt_token_ids(m, p, chat=False)])
        with torch.no_grad(), to_steering_vector(BlockDirections({layer: vec.vector})).apply(hf, multiplier=1.0):
            off_by_one.append(hf.generate(ids, attention_mask=torch.ones_like(ids), max_new_tokens=10,
                                          do_sample=False)[0, ids.shape[1]:].tolist())
    assert off_by_one != tokens[1.0], "one block off gives the same text: the test cannot check the layer mapping"


# ------------------------------------------------------------------------------------------------ CLI

def _tiny_vectors(tmp_path, tiny_model, hooks=(("resid_post", 1),)) -> Path:
    from interp.models import model_info

    info = model_info(tiny_model)
    vecs = [_vec(layer, kind, d=tiny_model.cfg.d_model, model=info.name) for kind, layer in hooks]
    vecs = [EmotionVector(**{**v.__dict__, "model_hash": info.source_hash}) for v in vecs]
    return save_vectors(vecs, tmp_path / "v.safetensors")


def test_cli_export_then_import_round_trips(tmp_path, capsys, tiny_model):
    src = _tiny_vectors(tmp_path, tiny_model)
    for fmt, name in (("gguf", "g.gguf"), ("steering-vectors", "s.safetensors")):
        code, out, err = run_cli(["vectors-export", str(src), "--format", fmt, "--out", str(tmp_path / name), "--json"], capsys)
        assert code == 0, err
        summary = json.loads(out)
        assert summary["directions"][0]["block"] == 1 and summary["format"] == fmt
        code, out, err = run_cli(["vectors-import", str(tmp_path / name), "--model", "tiny", "--out",
                                  str(tmp_path / f"back-{fmt}.safetensors"), "--json"], capsys)
        assert code == 0, err
        (orig,), (back,) = load_vectors(src), load_vectors(tmp_path / f"back-{fmt}.safetensors")
        assert torch.equal(orig.vector, back.vector) and orig.provenance() == back.provenance()


@pytest.mark.parametrize(("argv", "pattern"), [
    (lambda t, src: ["vectors-export", src, "--format", "onnx", "--out", str(t / "x.onnx")], "format 'onnx' is unknown"),
    (lambda t, src: ["vectors-export", src, "--out", str(t / "x.bin")], "cannot tell the format"),
    (lambda t, src: ["vectors-export", src, "--out", str(t)], "is a folder"),
    (lambda t, src: ["vectors-import", str(_write_gguf(t / "w.gguf", {"direction.1": np.ones(7, np.float32)})),
                     "--model", "tiny", "--hook-kind", "resid_post", "--out", str(t / "o.safetensors")], "d_model 7"),
    (lambda t, src: ["vectors-import", str(t / "none.gguf"), "--model", "tiny", "--out", str(t / "o")], "no control vector"),
    (lambda t, src: ["vectors-import", src, "--format", "repeng", "--model", "tiny", "--out", str(t / "o")],
     "format 'repeng' is unknown"),
])
def test_cli_bad_input_is_one_error_line_exit_2(tmp_path, capsys, tiny_model, argv, pattern):
    src = str(_tiny_vectors(tmp_path, tiny_model))
    code, _, err = run_cli(argv(tmp_path, src), capsys)
    _assert_one_error_line(code, err, pattern)


def _assert_one_error_line(code, err, pattern):
    """As tests/experiments/test_errors.py walks the README table: exit 2, one `error:` line, last, no traceback."""
    lines = [ln for ln in err.strip().splitlines() if ln.strip()]
    errors = [ln for ln in lines if ln.startswith("error:")]
    assert code == 2 and "Traceback" not in err, err
    assert len(errors) == 1 and lines[-1] == errors[0] and pattern in errors[0], err


def test_cli_refuses_resid_pre_0_which_no_block_outputs(tmp_path, capsys, tiny_model):
    src = _tiny_vectors(tmp_path, tiny_model, hooks=(("resid_pre", 0),))
    for fmt in ("gguf", "steering-vectors"):
        code, _, err = run_cli(["vectors-export", str(src), "--format", fmt, "--out", str(tmp_path / "x")], capsys)
        _assert_one_error_line(code, err, "embedding output")
