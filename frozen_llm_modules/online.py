"""Phase 3: online adaptation with a scripted user who gives −1 until answers show a wanted marker.

Per episode: the encoder sets the state from the conversation (negative feedback raises fear,
repeated unsatisfied queries raise frustration); the model answers; the user rates it.
*With* the reward model, ``n`` candidates are sampled and reranked by it, the reward model is
updated online from each rating, and the attached trainable module takes one reward-weighted
step (``Σ (r_i − mean r) · NLL_i`` over the candidates). *Without* it, one sampled answer is given
and only the state adapts. Episodes-to-recover = episodes until ``streak`` consecutive +1.
"""

from dataclasses import asdict, dataclass

import torch

from frozen_llm_modules.encoder import Conversation, EmotionEncoder
from frozen_llm_modules.reward import best_of_n, response_features
from frozen_llm_modules.style_markers import has_marker


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
                          max_episodes: int = 10, streak: int = 2, n_candidates: int = 4, max_new_tokens: int = 16,
                          lr: float = 0.01, seed: int = 0) -> AdaptationRun:
    """Run the loop once (modules update in place); see the module docstring."""
    enc = encoder or EmotionEncoder()
    user = scripted_user(marker)
    conv = Conversation()
    trainable = [p for k in llm.active() for p in llm.modules[k].parameters()]
    opt = torch.optim.Adam(trainable, lr=lr) if trainable and reward_model is not None else None
    feedback, states, answers, run, recovered = [], [], [], 0, None
    for ep in range(max_episodes):
        prompt = prompts[ep % len(prompts)]
        sig = enc.signals(llm.model, prompt, conv)
        state = enc.encode(sig)
        llm.set_state(state)
        if reward_model is not None:
            answer, cands, scores = best_of_n(llm, reward_model, prompt, n=n_candidates, max_new_tokens=max_new_tokens,
                                              seed=seed * 1000 + ep)
        else:
            answer = llm.generate([prompt], max_new_tokens=max_new_tokens, temperature=0.9, seed=seed * 1000 + ep,
                                  safety_bias=True)[0]
        fb = user(answer)
        conv.record(sig["_embedding"], feedback=fb)
        feedback.append(fb)
        states.append(state.to_dict())
        answers.append(answer)
        if reward_model is not None:
            f = response_features(llm, [prompt], [answer])
            reward_model.update(f, state.to_tensor()[None], torch.tensor([1.0 if fb > 0 else 0.0]), steps=10)
            if opt is not None:
                r = torch.tensor(scores)
                nll = llm.response_nll([prompt] * len(cands), cands)
                loss = ((r - r.mean()) * nll).sum()
                opt.zero_grad()
                loss.backward()
                opt.step()
        run = run + 1 if fb > 0 else 0
        if run >= streak:
            recovered = ep + 1
            break
    return AdaptationRun(reward_model is not None, marker, recovered, max_episodes, feedback, states, answers)
