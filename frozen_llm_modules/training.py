"""Phase 2 (behavioural modulation) training of prefix / adapter / steering modules behind the frozen base.

Gradients flow through the frozen model's activations to the module parameters only; the base's
parameters never require grad (checked before training starts).
"""

import random
import time
from dataclasses import asdict, dataclass
import torch

from frozen_llm_modules.state import EMOTIONS, EmotionalState, ModuleError, ModuleProvenanceError
from frozen_llm_modules.style_corpus import (N_HELDOUT_TEMPLATES, N_HELDOUT_TOPICS, STYLE_EMOTION, heldout_prompts,  # noqa: F401
                                            load_paraphrases, load_style_corpus, split_corpus)

#: Adam learning rates per module kind (chosen for ~50 steps of batch 4 on a 2-core CPU).
DEFAULT_LR = {"steering": 0.05, "adapter": 2e-3, "prefix": 3e-2}
#: Default optimiser steps per kind (reward: full-batch steps of its small head).
DEFAULT_STEPS = {"steering": 200, "adapter": 60, "prefix": 160, "reward": 500}
#: Default weight of the KL(base ‖ modules) anchor on neutral text.
DEFAULT_KL = {"steering": 1.0, "adapter": 1.0, "prefix": 1.0}
#: Neutral sentences of the baseline profile held out for the perplexity check (the last ones); the others
#: may serve as the KL anchor in training.
N_PERPLEXITY_TEXTS = 40


def neutral_texts(*, split: str) -> list[str]:
    """Baseline-profile neutral sentences: ``"anchor"`` (training's KL anchor) or ``"heldout"`` (perplexity check)."""
    from interp.datasets import load_profile

    texts = [r.text for r in load_profile("baseline").by_emotion("neutral")]
    if split == "heldout":
        return texts[-N_PERPLEXITY_TEXTS:]
    if split == "anchor":
        return texts[:-N_PERPLEXITY_TEXTS]
    raise ModuleError(f"unknown split {split!r}; use 'anchor' or 'heldout'")


def kl_to_base(llm, texts: list[str]) -> torch.Tensor:
    """Mean per-token KL(base ‖ modules) of the next-token distribution on ``texts`` under the llm's current state.

    The base logits come from the same bridge with every module off (no gradient); the module logits carry
    the gradient to the module parameters. This anchors the modules to the base model on generic text.
    """
    from interp.positions import tokenize_batch

    b = tokenize_batch(llm.model, texts)
    dev = next(llm.model.parameters()).device
    toks, am = b.tokens.to(dev), b.attention_mask.to(dev)
    saved = dict(llm.enabled)
    llm.disable_all()
    with torch.no_grad():
        base = torch.log_softmax(llm.forward(toks, am).float(), -1)
    llm.enabled.update(saved)
    mod = torch.log_softmax(llm.forward(toks, am).float(), -1)
    kl = (base.exp() * (base - mod)).sum(-1)
    m = am.float()
    return (kl * m).sum() / m.sum()


@dataclass(frozen=True)
class TrainReport:
    kind: str
    steps: int
    batch_size: int
    lr: float
    seconds: float
    trainable_params: int
    base_params: int
    fraction: float
    loss_first: float
    loss_last: float
    losses: list
    base_hash_before: str
    base_hash_after: str
    kl_weight: float = 0.0
    kl_last: float = float("nan")

    def to_dict(self) -> dict:
        return asdict(self)


def assert_frozen(model) -> None:
    bad = [n for n, p in model.named_parameters() if p.requires_grad]
    if bad:
        raise ModuleError(f"base model has {len(bad)} trainable parameters (e.g. {bad[0]}); load it with interp.models.load_model")


def check_unchanged(before: str, after: str, model) -> None:
    """Refuse a training run during which the frozen base's weight hash changed (its modules would not fit it)."""
    if before != after:
        raise ModuleProvenanceError(
            f"the frozen {model.ec_info.name!r} weights changed during training (hash {before[:12]} -> {after[:12]}); "
            "something wrote to the base model: reload it with interp.models.load_model and train again")


def train_behaviour(llm, kind: str, rows: list[dict], *, steps: int = 40, batch_size: int = 4, lr: float | None = None,
                    level: tuple[float, float] = (0.6, 1.0), kl_weight: float = 0.0, kl_texts: list[str] | None = None,
                    kl_batch: int = 4, seed: int = 0, progress=None) -> TrainReport:
    """Train ``llm.modules[kind]`` so that a high state of each emotion produces its style's responses.

    Batches take the styles in turn (balanced); each example gets a state with its style's emotion at a
    level drawn from ``level`` and the others at 0; the loss is the response tokens' mean NLL. With
    ``kl_weight`` > 0 each step adds ``kl_weight · KL(base ‖ modules)`` on ``kl_batch`` generic texts
    (default: the baseline profile's anchor neutral sentences) under one of the batch's emotional states,
    so that an active module keeps the base model's language modelling outside the style.
    """
    from frozen_llm_modules.attach import base_parameters, trainable_parameters
    from interp.models import weights_hash

    if kind not in llm.modules:
        raise ModuleError(f"no {kind!r} module attached to train")
    model = llm.model
    assert_frozen(model)
    h0 = weights_hash(model)
    module = llm.modules[kind]
    for k in llm.enabled:
        llm.enabled[k] = k == kind
    lr = lr if lr is not None else DEFAULT_LR[kind]
    opt = torch.optim.Adam([p for p in module.parameters() if p.requires_grad], lr=lr)
    rng = random.Random(seed)
    torch.manual_seed(seed)
    by_style = {s: [r for r in rows if r["style"] == s] for s in STYLE_EMOTION}
    styles = [s for s in STYLE_EMOTION if by_style[s]]
    if kl_weight < 0:
        raise ModuleError(f"kl_weight must be ≥ 0, got {kl_weight}")
    anchor = (kl_texts if kl_texts is not None else neutral_texts(split="anchor")) if kl_weight > 0 else []
    if kl_weight > 0 and not anchor:
        raise ModuleError("kl_weight > 0 needs at least one anchor text")
    losses, kls, t0 = [], [], time.perf_counter()
    for step in range(steps):
        # styles in turn, so each emotion's parameters get a gradient every step when batch_size >= 4
        batch = [rng.choice(by_style[styles[(step * batch_size + i) % len(styles)]]) for i in range(batch_size)]
        states = torch.stack([EmotionalState.only(STYLE_EMOTION[r["style"]], rng.uniform(*level)).to_tensor() for r in batch])
        llm.set_state(states)
        loss = llm.response_nll([r["prompt"] for r in batch], [r["response"] for r in batch]).mean()
        nll = float(loss.detach())
        if kl_weight > 0:
            llm.set_state(states[step % len(states)])
            kl = kl_to_base(llm, [rng.choice(anchor) for _ in range(kl_batch)])
            kls.append(float(kl.detach()))
            loss = loss + kl_weight * kl
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(nll)
        if progress:
            progress(step + 1)
    secs = time.perf_counter() - t0
    llm.set_state(EmotionalState.neutral())
    n_train, n_base = trainable_parameters(module), base_parameters(model)
    assert_frozen(model)
    h1 = weights_hash(model)
    check_unchanged(h0, h1, model)
    k = max(1, min(5, steps // 5))
    return TrainReport(kind, steps, batch_size, lr, round(secs, 1), n_train, n_base, n_train / n_base,
                       sum(losses[:k]) / k, sum(losses[-k:]) / k, [round(x, 4) for x in losses], h0, h1,
                       kl_weight, sum(kls[-k:]) / k if kls else float("nan"))


def reward_training_data(rows: list[dict]) -> tuple[list[str], list[str], torch.Tensor, torch.Tensor]:
    """Pairs for the reward model: (prompt, response of style s) is positive under state s, negative under the others."""
    prompts, responses, states, labels = [], [], [], []
    for r in rows:
        for e in EMOTIONS:
            prompts.append(r["prompt"])
            responses.append(r["response"])
            states.append(EmotionalState.only(e, 1.0).to_tensor())
            labels.append(float(STYLE_EMOTION[r["style"]] == e))
    return prompts, responses, torch.stack(states), torch.tensor(labels)
