"""Reward model: learns feedback from features + state; best-of-N returns the top-scored candidate."""

import torch

from frozen_llm_modules import EmotionalRewardModel, EmotionalState
from frozen_llm_modules.attach import EmotionalLLM
from frozen_llm_modules.reward import best_of_n, response_features


def test_reward_model_learns_state_dependent_feedback():
    torch.manual_seed(0)
    d, n = 16, 2000
    feats = torch.randn(n, d)
    states = torch.eye(4)[torch.randint(0, 4, (n,))]
    # positive iff the feature's sign on the state's own axis is positive: needs both inputs
    labels = ((feats[:, :4] * states).sum(1) > 0).float()
    rm = EmotionalRewardModel(d, hidden=32)
    losses = rm.fit(feats[:1500], states[:1500], labels[:1500], steps=300, lr=1e-2)
    acc = ((rm(feats[1500:], states[1500:]) > 0).float() == labels[1500:]).float().mean()
    assert losses[-1] < losses[0] * 0.5 and acc > 0.8


def test_best_of_n_returns_highest_scoring_candidate(tiny_model):
    llm = EmotionalLLM(tiny_model)
    rm = EmotionalRewardModel.for_model(tiny_model, hidden=4)
    llm.set_state(EmotionalState(fear=1.0))
    best, cands, scores = best_of_n(llm, rm, "hello", n=4, max_new_tokens=4, seed=3)
    assert len(cands) == 4 and best == cands[max(range(4), key=scores.__getitem__)]
    f = response_features(llm, ["hello"] * 4, cands)
    torch.testing.assert_close(rm.score(f, torch.tensor([[1.0, 0, 0, 0]] * 4)), torch.tensor(scores))
