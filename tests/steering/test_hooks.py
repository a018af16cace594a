"""Steering hooks: exact positions during cached generation, summing, scale modes, cleanup, weights untouched."""

import pytest
import torch

from interp.errors import ConfigError, HookError
from interp.hook_names import resid_pre
from interp.models import weights_hash
from steering.generation import GenerationConfig, generate, prepare_prompts
from steering.hooks import PositionTracker, SteeringSpec, add_vector_hook, mean_resid_norm, steered, steering_hooks

PROMPTS = ["hello there, friend", "hi"]


def _record_steered_positions(model, hook, specs, positions, prompts, n_new):
    """Run a cached generation; return {(row, absolute padded position): delta vector} where the residual changed."""
    batch = prepare_prompts(model, prompts)
    calls = []

    def before(act, hook):
        calls.append([act.detach().clone(), None])
        return act

    def after(act, hook):
        calls[-1][1] = act.detach().clone()
        return act

    hooks = [(hook, before)] + steering_hooks(model, specs, positions=positions, prompt_len=batch.prompt_len,
                                             left_pad=batch.left_pad) + [(hook, after)]
    with model.hooks(fwd_hooks=hooks):
        model.generate(batch.tokens, attention_mask=batch.attention_mask, max_new_tokens=n_new, do_sample=False,
                       stop_at_eos=False, verbose=False, return_type="tokens")
    changed = {}
    start = 0
    for k, (a, b) in enumerate(calls):
        n = a.shape[1]
        assert n == (batch.prompt_len if k == 0 else 1)  # the cache really is used
        diff = b - a
        for row in range(a.shape[0]):
            for j in range(n):
                if diff[row, j].abs().max() > 0:
                    changed[(row, start + j)] = diff[row, j]
        start += n
    return batch, changed, start


def _expected(batch, mode, total):
    out = set()
    for row, lp in enumerate(batch.left_pad):
        for p in range(lp, total):
            is_prompt = p < batch.prompt_len
            if mode == "all" or (mode == "prompt" and is_prompt) or (mode == "generated" and not is_prompt):
                out.add((row, p))
    return out


@pytest.mark.parametrize("mode", ["all", "prompt", "generated"])
def test_add_vector_hook_steers_exactly_the_intended_positions_with_kv_cache(tiny_model, mode):
    hook = resid_pre(1)
    v = torch.randn(tiny_model.cfg.d_model)
    spec = SteeringSpec(hook, v, 0.5, "unit")
    batch, changed, total = _record_steered_positions(tiny_model, hook, [spec], mode, PROMPTS, n_new=5)
    assert batch.left_pad[1] > 0  # the batch really is left-padded
    assert set(changed) == _expected(batch, mode, total)
    for delta in changed.values():
        torch.testing.assert_close(delta, spec.added_vector(), rtol=1e-5, atol=1e-5)


@pytest.mark.real
@pytest.mark.parametrize("mode", ["prompt", "generated"])
def test_add_vector_hook_exact_positions_on_real_model(real_model, mode):
    hook = resid_pre(12)
    spec = SteeringSpec(hook, torch.randn(real_model.cfg.d_model), 4.0, "unit")
    batch, changed, total = _record_steered_positions(real_model, hook, [spec], mode, ["The weather today is", "I went"], n_new=3)
    assert set(changed) == _expected(batch, mode, total)
    for delta in changed.values():
        torch.testing.assert_close(delta, spec.added_vector(), rtol=1e-4, atol=1e-3)


@pytest.mark.parametrize("mode", ["all", "prompt", "generated"])
def test_generate_cached_equals_uncached_under_steering(tiny_model, mode):
    # Without the cache every step re-runs the full sequence: an independent path for the position logic.
    spec = SteeringSpec(resid_pre(1), torch.randn(tiny_model.cfg.d_model), 3.0, "unit")
    kw = dict(positions=mode)
    a = generate(tiny_model, PROMPTS, [spec], config=GenerationConfig(max_new_tokens=6, stop_at_eos=False), **kw)
    b = generate(tiny_model, PROMPTS, [spec], config=GenerationConfig(max_new_tokens=6, stop_at_eos=False, use_kv_cache=False), **kw)
    assert a.new_tokens == b.new_tokens


def test_position_tracker_recognises_full_rerun():
    t = PositionTracker(prompt_len=4, left_pad=(0,))
    assert list(t.positions(4)) == [0, 1, 2, 3]
    assert list(t.positions(1)) == [4]
    assert list(t.positions(6)) == [0, 1, 2, 3, 4, 5]  # no cache: whole sequence again
    m = t.mask(1, "generated", "cpu")
    assert m.tolist() == [[1.0]]


def test_steering_hooks_sum_vectors_at_the_same_hook(tiny_model):
    hook = resid_pre(0)
    d = tiny_model.cfg.d_model
    a, b = SteeringSpec(hook, torch.randn(d), 1.0, "raw"), SteeringSpec(hook, torch.randn(d), -2.0, "raw")
    hooks = steering_hooks(tiny_model, [a, b])
    assert len(hooks) == 1
    x = torch.zeros(1, 3, d)
    torch.testing.assert_close(hooks[0][1](x, None)[0, 0], a.added_vector() + b.added_vector())


def test_steering_spec_scale_modes():
    v = torch.tensor([3.0, 4.0])
    assert torch.allclose(SteeringSpec("h", v, 2.0, "raw").added_vector(), torch.tensor([6.0, 8.0]))
    assert torch.allclose(SteeringSpec("h", v, 2.0, "unit").added_vector(), torch.tensor([1.2, 1.6]))
    s = SteeringSpec("h", v, 0.5, "mean_norm", mean_norm=10.0)
    assert s.added_norm == pytest.approx(5.0)


@pytest.mark.parametrize("alpha", [float("nan"), float("inf"), -float("inf")])
def test_steering_spec_rejects_non_finite_alpha(alpha):
    with pytest.raises(ConfigError, match="finite"):
        SteeringSpec("h", torch.ones(4), alpha, "raw")


def test_steering_spec_rejects_bad_scale_and_missing_norm():
    with pytest.raises(ConfigError, match="scale"):
        SteeringSpec("h", torch.ones(4), 1.0, "huge")
    with pytest.raises(ConfigError, match="mean_norm"):
        SteeringSpec("h", torch.ones(4), 1.0, "mean_norm")


def test_steering_hooks_reject_wrong_d_model_and_unknown_hook(tiny_model):
    with pytest.raises(HookError, match="d_model"):
        steering_hooks(tiny_model, [SteeringSpec(resid_pre(0), torch.ones(7), 1.0, "raw")])
    with pytest.raises(HookError, match="out of range"):
        steering_hooks(tiny_model, [SteeringSpec(resid_pre(9), torch.ones(tiny_model.cfg.d_model), 1.0, "raw")])


def test_add_vector_hook_needs_tracker_for_partial_positions():
    with pytest.raises(ConfigError, match="PositionTracker"):
        add_vector_hook(torch.ones(3), positions="prompt")


def test_steered_removes_hooks_on_error_and_keeps_weights(tiny_model):
    toks = tiny_model.to_tokens("hello")
    before_hash = weights_hash(tiny_model)
    clean = tiny_model(toks)
    spec = SteeringSpec(resid_pre(0), torch.randn(tiny_model.cfg.d_model), 5.0, "unit")
    with pytest.raises(RuntimeError):
        with steered(tiny_model, [spec]):
            assert not torch.allclose(tiny_model(toks), clean)
            raise RuntimeError("boom")
    torch.testing.assert_close(tiny_model(toks), clean)
    assert weights_hash(tiny_model) == before_hash


def test_mean_resid_norm_excludes_bos(tiny_model):
    from interp.capture import capture
    from interp.positions import tokenize_batch

    hook = resid_pre(1)
    n = mean_resid_norm(tiny_model, hook, ["abc"])
    acts = capture(tiny_model, tokenize_batch(tiny_model, ["abc"]), [hook])[hook][0]
    assert n == pytest.approx(float(acts[1:].norm(dim=-1).mean()), rel=1e-5)


def test_add_row_vectors_hook_adds_each_rows_own_vector_at_real_positions():
    from steering.hooks import PositionTracker, add_row_vectors_hook

    acts = torch.zeros(2, 3, 4)
    vecs = torch.tensor([[1.0, 0, 0, 0], [0, 2.0, 0, 0]])
    out = add_row_vectors_hook(vecs)(acts, None)
    assert torch.equal(out[0], vecs[0].expand(3, 4)) and torch.equal(out[1], vecs[1].expand(3, 4))
    tr = PositionTracker(prompt_len=3, left_pad=(1, 0))
    out = add_row_vectors_hook(vecs, positions="prompt", tracker=tr)(acts, None)
    assert torch.equal(out[0, 0], torch.zeros(4)) and torch.equal(out[0, 1:], vecs[0].expand(2, 4))  # padding untouched
    assert torch.equal(out[1], vecs[1].expand(3, 4))
    with pytest.raises(HookError, match="batch 2 saw batch 3"):
        add_row_vectors_hook(vecs)(torch.zeros(3, 1, 4), None)


def test_boost_token_logits_hook_raises_only_the_chosen_logits():
    from steering.hooks import boost_token_logits_hook

    logits = torch.randn(2, 3, 10)
    out = boost_token_logits_hook({2, 5}, 4.0)(logits, None)
    assert torch.allclose(out[..., [2, 5]], logits[..., [2, 5]] + 4.0)
    keep = [i for i in range(10) if i not in (2, 5)]
    assert torch.equal(out[..., keep], logits[..., keep])


@pytest.mark.parametrize("alpha", [1e30, -1e4, float("inf")])
def test_steering_spec_rejects_huge_or_infinite_alpha(alpha):
    with pytest.raises(ConfigError, match="at most 1000|finite"):
        SteeringSpec("blocks.0.hook_resid_pre", torch.ones(4), alpha, "raw")
    with pytest.raises(ConfigError, match="overflows"):
        SteeringSpec("blocks.0.hook_resid_pre", torch.full((4,), 1e37), 1000.0, "raw")
