"""Reward model: learns feedback from features + state; best-of-N returns the top-scored candidate."""

import pytest
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


def test_balanced_fit_and_heldout_metrics_on_imbalanced_labels():
    """One positive state in four (as in the corpus): balancing keeps the 0-logit threshold between the classes."""
    from frozen_llm_modules.reward import heldout_metrics

    torch.manual_seed(0)
    d, n = 16, 2400
    feats = torch.randn(n, d)
    style = torch.randint(0, 4, (n,))
    feats[torch.arange(n), style] += 2.0  # the response's style shows on its own axis
    states = torch.eye(4)[torch.randint(0, 4, (n,))]
    labels = (states.argmax(1) == style).float()
    rm = EmotionalRewardModel(d, hidden=32)
    rm.fit(feats[:2000], states[:2000], labels[:2000], steps=300, lr=1e-2, balance=True)
    m = heldout_metrics(rm, feats[2000:], states[2000:], labels[2000:])
    assert m["auc"]["lo"] > 0.8 and m["balanced_accuracy"]["lo"] > 0.7 and m["chance"] == 0.5
    perm = torch.randperm(2000, generator=torch.Generator().manual_seed(1))
    ctrl = EmotionalRewardModel(d, hidden=32)
    ctrl.fit(feats[:2000], states[:2000], labels[:2000][perm], steps=300, lr=1e-2, balance=True)
    assert heldout_metrics(ctrl, feats[2000:], states[2000:], labels[2000:])["auc"]["value"] < 0.65


@pytest.mark.real
@pytest.mark.slow
def test_reward_model_tells_styles_apart_on_unseen_topics_on_real_model(real_model):
    """Trained on smollm2 features of 30 responses per style, the reward model ranks the matching state first on
    held-out templates on held-out topics (AUC CI above chance)."""
    from frozen_llm_modules.reward import corpus_features, heldout_metrics
    from frozen_llm_modules.training import load_style_corpus, split_corpus

    train, held = split_corpus(load_style_corpus())
    pick = [r for s in ("fear", "curiosity", "frustration", "joy") for r in [x for x in train if x["style"] == s][:30]]
    llm = EmotionalLLM(real_model)
    rm = EmotionalRewardModel.for_model(real_model)
    torch.manual_seed(0)
    rm.fit(*corpus_features(llm, pick), steps=300, balance=True)
    m = heldout_metrics(rm, *corpus_features(llm, held[::3]))
    assert m["auc"]["lo"] > 0.6, m
