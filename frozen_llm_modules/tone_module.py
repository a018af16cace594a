"""The frozen-LLM module baseline of the tone agent: a target tone mapped onto a module's emotional state.

The modules are conditioned on fear / curiosity / frustration / joy; a tone label maps onto the state emotion whose module
row was initialised from that label's vector (:data:`LABEL_TO_STATE`, the inverse of
:data:`frozen_llm_modules.steering_module.DEFAULT_VECTOR_MAP`: gratitude → joy, anger → frustration, apology → fear), at the
tone's level. Modules were trained on single user turns, so a dialogue is answered from its last user message.
"""

from collections.abc import Sequence
from pathlib import Path

import torch

from frozen_llm_modules.attach import EmotionalLLM
from frozen_llm_modules.persistence import load_modules
from frozen_llm_modules.state import EmotionalState, ModuleError
from frozen_llm_modules.steering_module import DEFAULT_VECTOR_MAP, EmotionSteeringModule
from frozen_llm_modules.style_corpus import N_HELDOUT_TOPICS, heldout_prompts, templates
from steering.tone_control import LabelControl
from steering.tone_target import ToneTarget

LABEL_TO_STATE = {label: state for state, label in DEFAULT_VECTOR_MAP.items()}
GENERATIVE = ("prefix", "adapter", "steering")


class ModuleTone:
    """A :class:`~frozen_llm_modules.attach.EmotionalLLM` answering at the state a tone maps to (the ``module`` baseline).

    Args:
        model: the frozen bridge.
        modules: kind → module (prefix / adapter / steering; others are ignored).
        name: what the report calls it.
        max_new_tokens: reply length (match the agent's).
    """

    def __init__(self, model, modules: dict, *, name: str, max_new_tokens: int = 24):
        mods = {k: m for k, m in modules.items() if k in GENERATIVE}
        if not mods:
            raise ModuleError(f"no prefix, adapter or steering module among {sorted(modules) or 'none'}; the module baseline needs one")
        self.llm, self.name, self.max_new_tokens = EmotionalLLM(model, **mods), name, max_new_tokens

    def state(self, target: ToneTarget) -> EmotionalState:
        return EmotionalState(**{LABEL_TO_STATE[lab]: v for lab, v in target.levels.items() if lab in LABEL_TO_STATE})

    def describe(self, target: ToneTarget) -> dict:
        return {"kind": "module", "module": self.name, "modules": sorted(self.llm.modules), "state": self.state(target).to_dict()}

    def capability_hooks(self, target: ToneTarget) -> list | None:
        """The modules' hooks at the tone's state (None with a prefix module: its virtual tokens are not a hook)."""
        self.llm.set_state(self.state(target))
        return None if self.llm.n_prefix else self.llm.fwd_hooks()

    def generate(self, messages: Sequence[list[dict]], target: ToneTarget) -> list[str]:
        self.llm.set_state(self.state(target))
        prompts = [next(m["content"] for m in reversed(msgs) if m["role"] == "user") for msgs in messages]
        return self.llm.generate(prompts, max_new_tokens=self.max_new_tokens)


def vector_steering_module(model, controls: dict[str, LabelControl], *, max_new_tokens: int = 24) -> ModuleTone:
    """The steering module initialised from the agent's vectors (untrained): row ``LABEL_TO_STATE[label]`` = the vector the
    control adds at the top of its window, so state 1 is the window top, at the layer most controls use."""
    usable = {lab: c for lab, c in controls.items() if lab in LABEL_TO_STATE}
    if not usable:
        raise ModuleError(f"no control maps onto a module emotion (mapped labels: {', '.join(LABEL_TO_STATE)})")
    layers = [c.layer for c in usable.values()]
    layer = max(set(layers), key=layers.count)
    mod = EmotionSteeringModule.for_model(model, layer=layer)
    with torch.no_grad():
        for lab, c in usable.items():
            if c.layer == layer and c.hook.endswith("hook_resid_pre"):
                mod.vectors[list(EmotionalState.neutral().to_dict()).index(LABEL_TO_STATE[lab])] = c.added(c.alpha_hi)
    return ModuleTone(model, {"steering": mod}, name=f"steering module (vector-initialised, L{layer}, untrained)",
                      max_new_tokens=max_new_tokens)


def module_tone_from_dir(model, module_dir: str | Path, *, max_new_tokens: int = 24, allow_other_model: bool = False) -> ModuleTone:
    """The modules saved in ``module_dir`` (``train-module``), checked against ``model``."""
    mods = load_modules(module_dir, model, allow_other_model=allow_other_model)
    return ModuleTone(model, mods, name=f"{'+'.join(sorted(k for k in mods if k in GENERATIVE))} ({Path(module_dir).name})",
                      max_new_tokens=max_new_tokens)


def tone_prompts(split: str) -> list[str]:
    """User requests of the style corpus: ``calibration`` — one per *training* topic (prompt forms rotating), 30; ``evaluation``
    — every prompt of the *held-out* topics (:func:`~frozen_llm_modules.style_corpus.heldout_prompts`), 30. Disjoint by topic."""
    if split == "evaluation":
        return heldout_prompts()
    if split == "calibration":
        spec = templates()
        topics = spec["topics"][:-N_HELDOUT_TOPICS]
        return [spec["prompts"][i % len(spec["prompts"])].format(task=t) for i, t in enumerate(topics)]
    raise ModuleError(f"unknown prompt split {split!r}; use 'calibration' or 'evaluation'")
