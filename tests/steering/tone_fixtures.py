"""The real tone agent (steering.tone.ToneAgent) on the tiny model, recording every call for the page and widget tests.

Its controls are built directly (a fixed random vector per label at the last layer, window [0, 4], calibrated scale
0 → 0.5 on the label's target column), as tests/steering/test_tone.py does: the tiny model's text carries no tone, so
a calibration sweep would find no controllable label. The recorder keeps (prompt, levels, replies) per call, so a
test can check what the page sent and compare what it shows with what the agent returned.
"""

from dataclasses import dataclass, field

import torch

from interp.hook_names import resid_pre
from steering.generation import GenerationConfig
from steering.tone import ToneAgent, ToneReply
from steering.tone_control import LabelControl
from steering.tone_target import ToneTarget

TARGET_COLUMNS = {"gratitude": "vader_compound", "anger": "vader_neg", "apology": "kw_apology"}


def tiny_tone_agent(model, labels=("gratitude", "anger"), *, max_new_tokens: int = 6) -> ToneAgent:
    layer = model.cfg.n_layers - 1
    controls = {}
    for i, lab in enumerate(labels):
        vec = torch.randn(model.cfg.d_model, generator=torch.Generator().manual_seed(i))
        controls[lab] = LabelControl(lab, vec, layer, resid_pre(layer), 4.0, "raw", TARGET_COLUMNS[lab], 0.0, 0.5, 1e9, True, f"test:{lab}")
    return ToneAgent(model, controls, chat=False, config=GenerationConfig(max_new_tokens=max_new_tokens))


@dataclass
class RecordingAgent:
    """A tone agent that passes every call through and records (prompt, levels, replies)."""

    agent: ToneAgent
    budget: int = 2
    calls: list[tuple[str, dict, dict[str, ToneReply]]] = field(default_factory=list)

    @property
    def labels(self) -> list[str]:
        return self.agent.labels

    def compare(self, prompt: str, target: ToneTarget) -> dict[str, ToneReply]:
        replies = self.agent.compare(prompt, target, budget=self.budget)
        self.calls.append((prompt, dict(target.levels), replies))
        return replies
