"""Phase 3: online adaptation with a scripted user who gives −1 until answers show a wanted marker.

Per episode: the encoder sets the state from the conversation (negative feedback raises fear,
repeated unsatisfied queries raise frustration, novelty against the memory sets curiosity); the
model answers; the user rates it. Both arms sample at temperature 0.9 with the safety bias on.
*With* the reward model, ``n`` candidates are sampled and reranked by it, the reward model is
updated online from each rating, and the attached trainable module takes one reward-weighted step
(``Σ max(r_i − mean r, 0) · NLL_i`` over the candidates, at the kind's training learning rate).
*Without* it, one sampled answer is given and only the state adapts.
Episodes-to-recover = episodes until ``streak`` consecutive +1.
"""

import copy
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

import torch

from frozen_llm_modules.attach import EmotionalLLM
from frozen_llm_modules.encoder import Conversation, EmotionEncoder
from frozen_llm_modules.memory import EmotionalMemory
from frozen_llm_modules.reward import best_of_n, response_features
from frozen_llm_modules.state import ModuleError
from frozen_llm_modules.style_markers import MARKERS, has_marker
from frozen_llm_modules.training import DEFAULT_LR, heldout_prompts
from interp.report_types import AnalysisReport, Headline, Table


def scripted_user(marker: str):
    """The user's rating: +1 when the answer shows ``marker``, else −1."""
    return lambda answer: 1 if has_marker(answer, marker) else -1


@dataclass(frozen=True)
class AdaptationRun:
    with_reward_model: bool
    marker: str
    episodes_to_recover: int | None  # None: not recovered within max_episodes (censored)
    max_episodes: int
    feedback: list
    states: list
    answers: list

    def to_dict(self) -> dict:
        return asdict(self)


def run_online_adaptation(llm, prompts: list[str], *, marker: str = "hedges", reward_model=None, encoder=None,
                          memory=None, max_episodes: int = 10, streak: int = 2, n_candidates: int = 4,
                          max_new_tokens: int = 16, lr: float | None = None, seed: int = 0) -> AdaptationRun:
    """Run the loop once (modules update in place); see the module docstring.

    With an :class:`~frozen_llm_modules.memory.EmotionalMemory` each episode is stored in it and the
    encoder's novelty (curiosity) is measured against it; without one novelty stays 1.0 every episode.
    """
    enc = encoder or EmotionEncoder()
    user = scripted_user(marker)
    conv = Conversation()
    trainable = [p for k in llm.active() for p in llm.modules[k].parameters()]
    if lr is None:  # the smallest training learning rate of the attached kinds
        lr = min((DEFAULT_LR[k] for k in llm.active()), default=0.01)
    opt = torch.optim.Adam(trainable, lr=lr) if trainable and reward_model is not None else None
    feedback, states, answers, run, recovered = [], [], [], 0, None
    for ep in range(max_episodes):
        prompt = prompts[ep % len(prompts)]
        sig = enc.signals(llm.model, prompt, conv, memory)
        state = enc.encode(sig)
        llm.set_state(state)
        if reward_model is not None:
            answer, cands, scores = best_of_n(llm, reward_model, prompt, n=n_candidates, max_new_tokens=max_new_tokens,
                                              seed=seed * 1000 + ep, safety_bias=True)
        else:
            answer = llm.generate([prompt], max_new_tokens=max_new_tokens, temperature=0.9, seed=seed * 1000 + ep,
                                  safety_bias=True)[0]
        fb = user(answer)
        conv.record(sig["_embedding"], feedback=fb)
        if memory is not None:
            memory.add(prompt, sig["_embedding"], state, float(fb))
        feedback.append(fb)
        states.append(state.to_dict())
        answers.append(answer)
        if reward_model is not None:
            f = response_features(llm, [prompt], [answer])
            reward_model.update(f, state.to_tensor()[None], torch.tensor([1.0 if fb > 0 else 0.0]), steps=10)
            if opt is not None:
                # only above-average candidates are reinforced: pushing the NLL of below-average ones up
                # without bound collapsed the adapter on smollm2 within two episodes ("IIII…")
                r = torch.tensor(scores)
                nll = llm.response_nll([prompt] * len(cands), cands)
                loss = ((r - r.mean()).clamp_min(0) * nll).sum()
                opt.zero_grad()
                loss.backward()
                opt.step()
        run = run + 1 if fb > 0 else 0
        if run >= streak:
            recovered = ep + 1
            break
    return AdaptationRun(reward_model is not None, marker, recovered, max_episodes, feedback, states, answers)


def check_marker(marker: str) -> str:
    if marker not in MARKERS:
        raise ModuleError(f"--marker must be one of {', '.join(MARKERS)}, got {marker!r}")
    return marker


@dataclass(frozen=True)
class AdaptationReport(AnalysisReport):
    """Episodes-to-recover toward ``marker`` per condition (``without_reward_model``, ``with_reward_model``), one per run."""

    marker: str
    modules: list[str]
    max_episodes: int
    streak: int
    runs: dict[str, list[AdaptationRun]]

    @property
    def episodes_to_recover(self) -> dict[str, list[int | None]]:
        return {k: [r.episodes_to_recover for r in v] for k, v in self.runs.items()}

    @property
    def recovered(self) -> dict[str, int]:
        return {k: sum(r.episodes_to_recover is not None for r in v) for k, v in self.runs.items()}

    def overview(self) -> dict:
        """The results without the per-run transcripts (what the CLI prints as JSON)."""
        return {"marker": self.marker, "modules": self.modules, "max_episodes": self.max_episodes, "streak": self.streak,
                "episodes_to_recover": self.episodes_to_recover, "recovered": self.recovered}

    def results(self) -> dict:
        return {**self.overview(), "runs": {k: [r.to_dict() for r in v] for k, v in self.runs.items()}}

    def headline(self) -> list[Headline]:
        return [Headline(f"{k}: runs recovered", n, baseline=f"of {len(self.runs[k])} runs",
                         note=f"episodes-to-recover {self.episodes_to_recover[k]} (None = not within {self.max_episodes})")
                for k, n in self.recovered.items()]

    def tables(self) -> list[Table]:
        return [Table(f"online adaptation toward {self.marker} (None = not recovered within {self.max_episodes})",
                      ["condition", "episodes-to-recover per run", "recovered"],
                      [[k, v, f"{self.recovered[k]}/{len(self.runs[k])}"] for k, v in self.episodes_to_recover.items()])]


def run_adaptation_study(model, modules: dict, *, marker: str = "hedges", n_runs: int = 3, max_episodes: int = 10,
                         streak: int = 2, n_candidates: int = 4, max_new_tokens: int = 16, memory_dir: str | Path | None = None,
                         seed: int = 0, on_run: Callable[[str, int, AdaptationRun], None] | None = None) -> AdaptationReport:
    """Phase 3: :func:`run_online_adaptation` ``n_runs`` times without and (given a ``reward`` module) with the reward model.

    ``modules`` as :func:`~frozen_llm_modules.persistence.load_modules` returns them (``reward`` and ``encoder`` optional).
    Every run starts from copies of the saved weights and from the held-out prompts rotated by 3 per run; with
    ``memory_dir`` each run stores its episodes in a fresh ``memory-<condition>-<run>.sqlite`` there.
    """
    check_marker(marker)
    mods = dict(modules)
    rm, enc = mods.pop("reward", None), mods.pop("encoder", None)
    prompts = heldout_prompts()
    conditions = [("without_reward_model", None)] + ([("with_reward_model", rm)] if rm is not None else [])
    runs: dict[str, list[AdaptationRun]] = {}
    for name, reward in conditions:
        runs[name] = []
        for i in range(n_runs):
            llm = EmotionalLLM(model, **copy.deepcopy(mods))
            mem = EmotionalMemory(Path(memory_dir) / f"memory-{name}-{i}.sqlite", model_name=model.ec_info.name) if memory_dir else None
            try:
                run = run_online_adaptation(llm, prompts[3 * i:] + prompts[:3 * i], marker=marker, reward_model=copy.deepcopy(reward),
                                            encoder=copy.deepcopy(enc), memory=mem, max_episodes=max_episodes, streak=streak,
                                            n_candidates=n_candidates, max_new_tokens=max_new_tokens, seed=seed + i)
            finally:
                if mem is not None:
                    mem.close()
            runs[name].append(run)
            if on_run:
                on_run(name, i, run)
    return AdaptationReport(marker, sorted(mods) + (["reward"] if rm is not None else []), max_episodes, streak, runs)
