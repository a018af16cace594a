"""Evaluation of attached modules: style markers vs base (paired bootstrap CIs), neutral perplexity, coherence."""

from dataclasses import asdict, dataclass

import numpy as np
import torch

from frozen_llm_modules.reward import response_features
from frozen_llm_modules.state import EMOTIONS, EmotionalState, ModuleError
from frozen_llm_modules.style_markers import MARKERS, TARGET_MARKER, has_marker, markers
from interp.stats import Estimate, bootstrap_ci, bootstrap_diff_ci, sign_flip_pvalue

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
    topic_lo: float  # CI from resampling whole topics (paraphrase triples), the stricter unit
    topic_hi: float

    @property
    def effect(self) -> Estimate:
        """``module_mean − base_mean`` with the CI from resampling prompts."""
        return Estimate(self.diff, self.lo, self.hi)

    @property
    def topic_effect(self) -> Estimate:
        """The same difference with the CI from resampling whole topics."""
        return Estimate(self.diff, self.topic_lo, self.topic_hi)

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


def compare_marker(emotion: str, a: np.ndarray, b: np.ndarray, texts: list[str], *, n_boot: int = 2000,
                   seed: int = 0) -> StyleResult:
    """Paired difference ``a − b`` of ``emotion``'s target marker (one value per prompt, prompts in paraphrase triples)."""
    mk = TARGET_MARKER[emotion]
    d = bootstrap_diff_ci(a, b, paired=True, n_boot=n_boot, seed=seed)
    p = sign_flip_pvalue(a - b, seed=seed)
    flags = [has_marker(t, mk) for t in texts]
    groups = [flags[i:i + 3] for i in range(0, len(flags) - len(flags) % 3, 3)]
    coh = float(np.mean([len(set(g)) == 1 for g in groups])) if groups else float("nan")
    k = len(a) - len(a) % 3
    topic = (a[:k] - b[:k]).reshape(-1, 3).mean(1) if k >= 6 else a - b
    t = bootstrap_ci(topic, n_boot=n_boot, seed=seed)
    return StyleResult(emotion, mk, float(b.mean()), float(a.mean()), d.value, d.lo, d.hi, float(p), coh, t.lo, t.hi)


def style_results(responses: dict[str, list[str]], *, n_boot: int = 2000, seed: int = 0, legacy: bool = False) -> list[StyleResult]:
    """Paired (same prompt) module − base difference of each emotion's target marker, with bootstrap CI and permutation p.

    ``legacy`` scores with the first corpus's template-word lexicons (to set old numbers beside new ones)."""
    res = []
    for e in EMOTIONS:
        mk = TARGET_MARKER[e]
        a = np.array([markers(t, legacy=legacy).get(mk) for t in responses[e]])
        b = np.array([markers(t, legacy=legacy).get(mk) for t in responses["base"]])
        res.append(compare_marker(e, a, b, responses[e], n_boot=n_boot, seed=seed))
    return res


#: Instructions appended to the user turn to diversify a hinted candidate pool (the reward model never sees them).
STYLE_HINTS = {"fear": "Answer cautiously: hedge, and warn me to be careful.", "curiosity": "Answer only with questions back to me.",
               "frustration": "Suggest a different approach or an alternative.", "joy": "Answer warmly and enthusiastically!",
               "plain": ""}
POOLS = ("modules", "hinted", "sampled")


def candidate_pool(llm, prompts: list[str], *, pool: str = "hinted", n: int = 4, max_new_tokens: int = 20,
                   temperature: float = 0.9, seed: int = 0) -> tuple[list[str], int]:
    """Candidates, ``per`` per prompt, flattened prompt-major: (candidates, per).

    ``modules``: one greedy answer of the attached style module(s) at each emotion's full state plus one of the
    base (5 candidates of known, different styles; needs a prefix/adapter/steering module). ``hinted``: one greedy
    base answer per :data:`STYLE_HINTS` instruction appended to the user turn (hidden from the reranker; smollm2
    mostly ignores them). ``sampled``: ``n`` base samples at ``temperature``.
    """
    if pool not in POOLS:
        raise ModuleError(f"unknown candidate pool {pool!r}; choose one of {', '.join(POOLS)}")
    if pool == "modules":
        if not llm.modules:
            raise ModuleError("the 'modules' candidate pool needs a prefix, adapter or steering module; add its --modules "
                              "folder or use --pool hinted")
        by_state = generate_conditions(llm, prompts, max_new_tokens=max_new_tokens)  # base + each emotion at 1.0
        cols = ["base", *EMOTIONS]
        return [by_state[c][i] for i in range(len(prompts)) for c in cols], len(cols)
    saved = dict(llm.enabled)
    llm.disable_all()
    llm.set_state(EmotionalState.neutral())
    try:
        if pool == "hinted":
            hinted = [f"{p} {h}".strip() for p in prompts for h in STYLE_HINTS.values()]
            return llm.generate(hinted, max_new_tokens=max_new_tokens), len(STYLE_HINTS)
        flat = [p for p in prompts for _ in range(n)]
        return llm.generate(flat, max_new_tokens=max_new_tokens, temperature=temperature, seed=seed), n
    finally:
        llm.enabled.update(saved)


def rerank_results(llm, rm, prompts: list[str], *, pool: str = "hinted", n: int = 4, max_new_tokens: int = 20,
                   temperature: float = 0.9, seed: int = 0, n_boot: int = 2000) -> tuple[list[StyleResult], dict[str, list[str]]]:
    """The reward model's style effect: under each full emotion, its best-of-N pick vs a random candidate.

    Candidates come from :func:`candidate_pool`; the reward model scores each (plain prompt, candidate) under
    the state and picks one. ``module_mean`` is the target marker of the picks, ``base_mean`` the candidates'
    mean marker (the expected value of an unranked pick), paired by prompt.
    """
    cands, per = candidate_pool(llm, prompts, pool=pool, n=n, max_new_tokens=max_new_tokens, temperature=temperature, seed=seed)
    flat = [p for p in prompts for _ in range(per)]
    feats = torch.cat([response_features(llm, flat[i:i + 32], cands[i:i + 32]) for i in range(0, len(flat), 32)])
    res, picks = [], {"candidates": cands}
    rows = np.arange(len(prompts))
    for e in EMOTIONS:
        st = EmotionalState.only(e).to_tensor()[None].expand(len(flat), -1)
        pick = rm.score(feats, st).reshape(len(prompts), per).argmax(1).numpy()
        vals = np.array([markers(c).get(TARGET_MARKER[e]) for c in cands]).reshape(len(prompts), per)
        picks[e] = [cands[i * per + j] for i, j in zip(rows, pick)]
        res.append(compare_marker(e, vals[rows, pick], vals.mean(1), picks[e], n_boot=n_boot, seed=seed))
    return res, picks


def all_marker_table(responses: dict[str, list[str]], *, legacy: bool = False) -> dict[str, dict[str, float]]:
    """Mean of every marker per condition (for the report's full table); ``legacy``: the old template-word lexicons."""
    return {c: {m: float(np.mean([markers(t, legacy=legacy).get(m) for t in ts])) for m in MARKERS} for c, ts in responses.items()}


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
    """Neutral-text perplexity with modules attached (neutral state) vs off, plus the same at each full emotion.

    The neutral-state ratio is the capability check of the issue; adapter, steering and prefix are the base
    model at the neutral state by construction, so ``by_state`` (each emotion at 1.0) is the informative one.
    """

    ppl_base: float
    ppl_modules: float
    ratio: float
    ratio_lo: float
    ratio_hi: float
    n_texts: int
    by_state: dict  # emotion → {"ppl", "ratio", "ratio_lo", "ratio_hi"} with that emotion at 1.0

    @property
    def ratio_estimate(self) -> Estimate:
        """Neutral-state perplexity ratio (modules / base) with its paired-bootstrap CI."""
        return Estimate(self.ratio, self.ratio_lo, self.ratio_hi)

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

    def ratio(state: EmotionalState) -> tuple[float, float, float, float]:
        llm.set_state(state)
        mod = text_nll(llm, texts)
        d = bootstrap_ci(mod - base, n_boot=2000, seed=seed)
        return float(np.exp(mod.mean())), float(np.exp(d.value)), float(np.exp(d.lo)), float(np.exp(d.hi))

    by_state = {e: dict(zip(("ppl", "ratio", "ratio_lo", "ratio_hi"), ratio(EmotionalState.only(e, 1.0)))) for e in EMOTIONS}
    ppl, r, lo, hi = ratio(EmotionalState.neutral())
    return PerplexityResult(float(np.exp(base.mean())), ppl, r, lo, hi, len(texts), by_state)
