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

from dataclasses import asdict, dataclass

import torch

from frozen_llm_modules.encoder import Conversation, EmotionEncoder
from frozen_llm_modules.reward import best_of_n, response_features
from frozen_llm_modules.style_markers import has_marker
from frozen_llm_modules.training import DEFAULT_LR


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
