"""interp.capture: the one activation-recording helper (``record``) and the batch capture built on it."""

import torch

from interp.capture import capture, record
from interp.hook_names import hook_z
from interp.positions import tokenize_batch


def test_record_matches_run_with_cache_and_removes_its_hooks(tiny_model):
    tokens = tiny_model.to_tokens(["The cat sat on the mat."])
    names = ["blocks.0.hook_resid_post", hook_z(1), "blocks.1.attn.hook_pattern"]
    with torch.no_grad():
        with record(tiny_model, names) as cache:
            logits = tiny_model(tokens)
        _, ref = tiny_model.run_with_cache(tokens, names_filter=lambda n: n in names)
    assert set(cache) == set(names)
    for n in names:
        assert torch.equal(cache[n], ref[n]), n
        assert not cache[n].requires_grad
    with torch.no_grad():  # hooks are gone: a second pass leaves the recorded tensors as they were and adds none
        before = {n: t.clone() for n, t in cache.items()}
        tiny_model(tiny_model.to_tokens(["Another, longer sentence than before."]))
    assert all(torch.equal(before[n], cache[n]) for n in names)
    assert logits.shape[:2] == tokens.shape


def test_record_transform_and_last_pass_wins(tiny_model):
    a, b = tiny_model.to_tokens(["One."]), tiny_model.to_tokens(["Two words here."])
    with torch.no_grad(), record(tiny_model, [hook_z(0)], transform=lambda x: x.detach().double()) as cache:
        tiny_model(a)
        tiny_model(b)
    assert cache[hook_z(0)].dtype == torch.float64
    assert cache[hook_z(0)].shape[1] == b.shape[1]


def test_capture_uses_record_and_stops_early(tiny_model):
    batch = tokenize_batch(tiny_model, ["I am so grateful.", "Thanks!"])
    out = capture(tiny_model, batch, ["blocks.0.hook_resid_post"])
    assert set(out) == {"blocks.0.hook_resid_post"}
    assert out["blocks.0.hook_resid_post"].shape[:2] == batch.tokens.shape
