"""Evaluation of attached modules: style markers vs base (paired bootstrap CIs), neutral perplexity, coherence."""

from dataclasses import asdict, dataclass

import numpy as np
import torch

from frozen_llm_modules.state import EMOTIONS, EmotionalState
from frozen_llm_modules.style_markers import MARKERS, TARGET_MARKER, has_marker, markers
from interp.stats import bootstrap_ci, bootstrap_diff_ci

#: Trainable-parameter fractions the seed's table gives.
SEED_FRACTIONS = {"prefix": "~0.1%", "adapter": "~1-2%", "steering": "~0.01%", "memory": "~5%", "reward": "~10%"}


@dataclass(frozen=True)
class StyleResult:
    emotion: str
    marker: str
    base_mean: float
    module_mean: float
    diff: float
    lo: float
    hi: float
    p_value: float
    coherence: float  # share of topics whose 3 paraphrases agree on showing the marker

    def to_dict(self) -> dict:
        return asdict(self)


def generate_conditions(llm, prompts: list[str], *, max_new_tokens: int = 20, progress=None) -> dict[str, list[str]]:
    """Greedy responses of the base (modules off) and of the modules at each emotion's full state."""
    saved = dict(llm.enabled)
    out = {}
    llm.disable_all()
    llm.set_state(EmotionalState.neutral())
    out["base"] = llm.generate(prompts, max_new_tokens=max_new_tokens)
    llm.enabled.update(saved)
    for i, e in enumerate(EMOTIONS):
        llm.set_state(EmotionalState.only(e, 1.0))
        out[e] = llm.generate(prompts, max_new_tokens=max_new_tokens)
        if progress:
            progress(i + 1)
    llm.set_state(EmotionalState.neutral())
    return out


def sign_flip_pvalue(d: np.ndarray, *, n_perm: int = 5000, seed: int = 0) -> float:
    """Two-sided paired permutation (sign-flip) p-value of mean(d) = 0, (count + 1) / (n_perm + 1)."""
    rng = np.random.default_rng(seed)
    obs = abs(d.mean())
    flips = rng.choice([-1.0, 1.0], size=(n_perm, len(d)))
    return float(((np.abs((flips * d).mean(1)) >= obs - 1e-12).sum() + 1) / (n_perm + 1))


def style_results(responses: dict[str, list[str]], *, n_boot: int = 2000, seed: int = 0) -> list[StyleResult]:
    """Paired (same prompt) module − base difference of each emotion's target marker, with bootstrap CI and permutation p."""
    res = []
    for e in EMOTIONS:
        mk = TARGET_MARKER[e]
        a = np.array([markers(t).get(mk) for t in responses[e]])
        b = np.array([markers(t).get(mk) for t in responses["base"]])
        d = bootstrap_diff_ci(a, b, paired=True, n_boot=n_boot, seed=seed)
        p = sign_flip_pvalue(a - b, seed=seed)
        flags = [has_marker(t, mk) for t in responses[e]]
        groups = [flags[i:i + 3] for i in range(0, len(flags) - len(flags) % 3, 3)]
        coh = float(np.mean([len(set(g)) == 1 for g in groups])) if groups else float("nan")
        res.append(StyleResult(e, mk, float(b.mean()), float(a.mean()), d.value, d.lo, d.hi, float(p), coh))
    return res


def all_marker_table(responses: dict[str, list[str]]) -> dict[str, dict[str, float]]:
    """Mean of every marker per condition (for the report's full table)."""
    return {c: {m: float(np.mean([markers(t).get(m) for t in ts])) for m in MARKERS} for c, ts in responses.items()}


@torch.no_grad()
def text_nll(llm, texts: list[str]) -> np.ndarray:
    """Mean per-token NLL of each plain text (BOS-prefixed), under the llm's current modules/state."""
    out = []
    for t in texts:
        toks = llm.model.to_tokens(t)
        logits = llm.forward(toks)[0, :-1].float()
        out.append(float(torch.nn.functional.cross_entropy(logits, toks[0, 1:])))
    return np.array(out)


@dataclass(frozen=True)
class PerplexityResult:
    ppl_base: float
    ppl_modules: float
    ratio: float
    ratio_lo: float
    ratio_hi: float
    n_texts: int

    def within(self, tol: float = 0.05) -> bool:
        return abs(self.ratio - 1) <= tol

    def to_dict(self) -> dict:
        return {**asdict(self), "within_5pct": self.within()}


def neutral_perplexity(llm, texts: list[str], *, seed: int = 0) -> PerplexityResult:
    """exp(mean NLL) with modules attached in the neutral state vs modules off; ratio CI from paired bootstrap."""
    saved = dict(llm.enabled)
    llm.disable_all()
    base = text_nll(llm, texts)
    llm.enabled.update(saved)
    llm.set_state(EmotionalState.neutral())
    mod = text_nll(llm, texts)
    d = bootstrap_ci(mod - base, n_boot=2000, seed=seed)
    return PerplexityResult(float(np.exp(base.mean())), float(np.exp(mod.mean())), float(np.exp(d.value)),
                            float(np.exp(d.lo)), float(np.exp(d.hi)), len(texts))
