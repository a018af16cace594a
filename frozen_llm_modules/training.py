"""Phase 2 (behavioural modulation) training of prefix / adapter / steering modules behind the frozen base.

Gradients flow through the frozen model's activations to the module parameters only; the base's
parameters never require grad (checked before training starts).
"""

import json
import random
import time
from dataclasses import asdict, dataclass
from importlib import resources

import torch

from frozen_llm_modules.state import EMOTIONS, EmotionalState, ModuleError

#: Style in the corpus → emotion whose high state should produce it.
STYLE_EMOTION = {"fear": "fear", "curiosity": "curiosity", "frustration": "frustration", "joy": "joy"}
N_HELDOUT_TOPICS = 10
#: Adam learning rates per module kind (chosen for ~50 steps of batch 4 on a 2-core CPU).
DEFAULT_LR = {"steering": 0.05, "adapter": 2e-3, "prefix": 1e-2}


def load_style_corpus(path=None) -> list[dict]:
    """Rows ``{style, prompt, response}``; default the shipped ``data/style_corpus.jsonl``."""
    text = (resources.files("frozen_llm_modules") / "data" / "style_corpus.jsonl").read_text() if path is None else open(path).read()
    rows = []
    for i, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        try:
            r = json.loads(line)
        except json.JSONDecodeError:
            raise ModuleError(f"style corpus line {i} is not JSON") from None
        if not {"style", "prompt", "response"} <= set(r) or r["style"] not in STYLE_EMOTION:
            raise ModuleError(f"style corpus line {i} needs style (one of {list(STYLE_EMOTION)}), prompt, response")
        rows.append(r)
    return rows


def split_corpus(rows: list[dict]) -> tuple[list[dict], list[dict]]:
    """Train / held-out split by topic: the last :data:`N_HELDOUT_TOPICS` topics (3 paraphrases each) are held out."""
    prompts = list(dict.fromkeys(r["prompt"] for r in rows))
    held = set(prompts[-3 * N_HELDOUT_TOPICS:])
    return [r for r in rows if r["prompt"] not in held], [r for r in rows if r["prompt"] in held]


def heldout_prompts(rows: list[dict] | None = None) -> list[str]:
    _, held = split_corpus(rows or load_style_corpus())
    return list(dict.fromkeys(r["prompt"] for r in held))


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

    def to_dict(self) -> dict:
        return asdict(self)


def assert_frozen(model) -> None:
    bad = [n for n, p in model.named_parameters() if p.requires_grad]
    if bad:
        raise ModuleError(f"base model has {len(bad)} trainable parameters (e.g. {bad[0]}); load it with interp.models.load_model")


def train_behaviour(llm, kind: str, rows: list[dict], *, steps: int = 40, batch_size: int = 4, lr: float | None = None,
                    level: tuple[float, float] = (0.6, 1.0), seed: int = 0, progress=None) -> TrainReport:
    """Train ``llm.modules[kind]`` so that a high state of each emotion produces its style's responses.

    Batches take the styles in turn (balanced); each example gets a state with its style's emotion at a
    level drawn from ``level`` and the others at 0; the loss is the response tokens' mean NLL.
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
    losses, t0 = [], time.perf_counter()
    for step in range(steps):
        # styles in turn, so each emotion's parameters get a gradient every step when batch_size >= 4
        batch = [rng.choice(by_style[styles[(step * batch_size + i) % len(styles)]]) for i in range(batch_size)]
        states = torch.stack([EmotionalState.only(STYLE_EMOTION[r["style"]], rng.uniform(*level)).to_tensor() for r in batch])
        llm.set_state(states)
        loss = llm.response_nll([r["prompt"] for r in batch], [r["response"] for r in batch]).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(float(loss.detach()))
        if progress:
            progress(step + 1)
    secs = time.perf_counter() - t0
    llm.set_state(EmotionalState.neutral())
    n_train, n_base = trainable_parameters(module), base_parameters(model)
    assert_frozen(model)
    k = max(1, min(5, steps // 5))
    return TrainReport(kind, steps, batch_size, lr, round(secs, 1), n_train, n_base, n_train / n_base,
                       sum(losses[:k]) / k, sum(losses[-k:]) / k, [round(x, 4) for x in losses], h0, weights_hash(model))


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
