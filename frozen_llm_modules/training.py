"""Phase 2 (behavioural modulation) training of prefix / adapter / steering modules behind the frozen base.

Gradients flow through the frozen model's activations to the module parameters only; the base's
parameters never require grad (checked before training starts).
"""

import random
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

import torch
from torch import nn

from frozen_llm_modules.adapter import GatedEmotionAdapter
from frozen_llm_modules.attach import EmotionalLLM, base_parameters, trainable_parameters
from frozen_llm_modules.persistence import save_modules
from frozen_llm_modules.prefix import EmotionalPrefix
from frozen_llm_modules.reward import EmotionalRewardModel, corpus_features, heldout_metrics, reward_training_data  # noqa: F401
from frozen_llm_modules.state import EmotionalState, ModuleError, ModuleProvenanceError
from frozen_llm_modules.steering_module import EmotionSteeringModule
from frozen_llm_modules.style_corpus import (  # noqa: F401
    N_HELDOUT_TEMPLATES,
    N_HELDOUT_TOPICS,
    STYLE_EMOTION,
    heldout_prompts,
    load_paraphrases,
    load_style_corpus,
    split_corpus,
)
from interp.datasets import load_profile
from interp.models import weights_hash
from interp.positions import tokenize_batch
from steering.vectors import load_vectors

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


#: Kinds ``train_module_run`` trains: the three behaviour modules and the reward model.
TRAINABLE_KINDS = ("prefix", "adapter", "steering", "reward")


@dataclass(frozen=True)
class TrainSettings:
    """What to train: the kind, optimiser settings (``None``: the kind's default) and the module's shape.

    ``layer`` (steering), ``layers``/``rank`` (adapter) and ``n_virtual`` (prefix) apply to their kind only;
    ``init_vectors`` is an ``EmotionVector`` file the steering module starts from.
    """

    kind: str
    steps: int | None = None
    batch_size: int = 4
    lr: float | None = None
    kl_weight: float | None = None
    layer: int | None = None
    layers: list[int] | None = None
    rank: int = 32
    n_virtual: int = 8
    init_vectors: str | None = None

    def __post_init__(self) -> None:
        if self.kind not in TRAINABLE_KINDS:
            raise ModuleError(f"--kind must be one of {', '.join(TRAINABLE_KINDS)}, got {self.kind!r}")
        if self.steps is None:
            object.__setattr__(self, "steps", DEFAULT_STEPS[self.kind])
        if self.kl_weight is None:
            object.__setattr__(self, "kl_weight", DEFAULT_KL.get(self.kind, 0.0))

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class TrainedModule:
    """A trained module and its training report (JSON-able; ``losses`` per step for the behaviour kinds)."""

    kind: str
    module: nn.Module
    report: dict

    def save(self, out_dir: str | Path, model) -> Path:
        """``modules.safetensors`` + ``modules.json`` (the report without its loss curve under ``extra.train``)."""
        train = {k: v for k, v in self.report.items() if k != "losses"}
        return save_modules(out_dir, {self.kind: self.module}, model, extra={"train": train},
                            base_weights_hash=self.report["base_hash_before"])


def build_module(model, settings: TrainSettings) -> nn.Module:
    """A fresh prefix / adapter / steering module for ``model`` shaped by ``settings``."""
    if settings.kind == "steering":
        mod = EmotionSteeringModule.for_model(model, layer=settings.layer)
        if settings.init_vectors is not None:
            mod.init_from_vectors(load_vectors(settings.init_vectors), model=model)
        return mod
    if settings.kind == "adapter":
        return GatedEmotionAdapter.for_model(model, layers=settings.layers, rank=settings.rank)
    if settings.kind == "prefix":
        return EmotionalPrefix.for_model(model, n_virtual=settings.n_virtual)
    raise ModuleError(f"no behaviour module of kind {settings.kind!r}; choose prefix, adapter or steering")


def train_reward(model, train_rows: list[dict], held_rows: list[dict], *, steps: int, seed: int = 0) -> TrainedModule:
    """Fit the reward head on frozen features of the corpus; score it on held-out rows and the paraphrase set.

    The control is the same head and steps trained on training labels shuffled across rows (AUC ≈ 0.5 expected).
    """
    h0 = weights_hash(model)
    rm, llm = EmotionalRewardModel.for_model(model), EmotionalLLM(model)
    t0 = time.perf_counter()
    train_x, held_x = corpus_features(llm, train_rows), corpus_features(llm, held_rows)
    torch.manual_seed(seed)
    losses = rm.fit(*train_x, steps=steps, balance=True)
    metrics = heldout_metrics(rm, *held_x, seed=seed)
    para_x = corpus_features(llm, load_paraphrases())
    para_metrics = heldout_metrics(rm, *para_x, seed=seed)
    ctrl = EmotionalRewardModel.for_model(model)  # built after the fit: its init draws from the same RNG state as ever
    perm = torch.randperm(len(train_x[2]), generator=torch.Generator().manual_seed(seed))
    ctrl.fit(train_x[0], train_x[1], train_x[2][perm], steps=steps, balance=True)
    secs = time.perf_counter() - t0
    h1 = weights_hash(model)
    check_unchanged(h0, h1, model)
    n_train, n_base = trainable_parameters(rm), base_parameters(model)
    report = {"kind": "reward", "steps": steps, "seconds": round(secs, 1), "trainable_params": n_train, "base_params": n_base,
              "fraction": n_train / n_base, "loss_first": losses[0], "loss_last": losses[-1], "heldout": metrics,
              "shuffled_label_control": heldout_metrics(ctrl, *held_x, seed=seed),
              "paraphrases": para_metrics, "paraphrases_shuffled_label_control": heldout_metrics(ctrl, *para_x, seed=seed),
              "heldout_note": f"{len(held_rows)} held-out corpus responses (held-out templates on held-out topics, neither seen "
                              "in training) x 4 states, and the free-written paraphrase set x 4 states; label 1 when the "
                              "state matches the response's style",
              "base_hash_before": h0, "base_hash_after": h1}
    return TrainedModule("reward", rm, report)


def train_module_run(model, settings: TrainSettings, rows: list[dict], *, seed: int = 0,
                     progress: Callable[[int], None] | None = None) -> TrainedModule:
    """Train one module of ``settings.kind`` behind the frozen ``model`` on the style corpus ``rows``.

    The corpus is split by :func:`split_corpus`: behaviour modules train on the training split
    (:func:`train_behaviour`); the reward model also reports held-out metrics (:func:`train_reward`).
    ``progress(step)`` is called as training advances (once, at the end, for the reward model).
    """
    train_rows, held_rows = split_corpus(rows)
    if settings.kind == "reward":
        trained = train_reward(model, train_rows, held_rows, steps=settings.steps, seed=seed)
        if progress:
            progress(settings.steps)
        return trained
    mod = build_module(model, settings)
    llm = EmotionalLLM(model, **{settings.kind: mod})
    rep = train_behaviour(llm, settings.kind, train_rows, steps=settings.steps, batch_size=settings.batch_size, lr=settings.lr,
                          kl_weight=settings.kl_weight, seed=seed, progress=progress)
    return TrainedModule(settings.kind, mod, rep.to_dict())
