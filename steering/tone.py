"""The tone-control agent: reply to a prompt or a dialogue in a target tone by closed-loop steering within calibrated windows.

Levels. Each controllable label has a :class:`~steering.tone_control.LabelControl`: a vector at one layer, a usable α
window ``[0, alpha_hi]`` and a calibrated scale, ``level = clip((score − base) / (top − base), 0, 1)`` with ``score`` the
label's target score (attribute registry; VADER compound for gratitude, VADER negative share for anger, apology keyword
count for apology), ``base`` its mean without control and ``top`` its mean at ``alpha_hi`` on the calibration prompts.

Closed loop (:meth:`ToneAgent.reply`). Start at ``α_l = level_l · alpha_hi_l`` for every target label (level-0 labels
get α = 0). Several labels are added together: summed into one hook when they share a layer, else one hook per layer
(``combine`` in the interventions). Generate, score every label (raw and lexicon-masked) and fluency, then per label
bisect α inside its bracket (initially the window): achieved level below the target → raise the lower end, above →
lower the upper end; a draft whose perplexity exceeds ``ppl_bound`` × the calibration's α = 0 median lowers every α.
Stop at a *hit* (every target label within ``tolerance`` of its level, and fluent), when α no longer changes, or after
``budget`` drafts; the reply is the best draft (fluent first, then the smallest tone error).

* **tone error** = mean over the target's labels of ``|achieved level − target level|``;
* **hit** = every target label within ``tolerance`` (default 0.25) and the draft fluent;
* **interference** = mean achieved level of the controllable labels the target does not name.

Baselines (:meth:`ToneAgent.baseline`): ``none`` (no control), ``prompting`` (the tone asked for in a system instruction,
:meth:`~steering.tone_target.ToneTarget.instruction`) and ``module`` (an attached frozen-LLM module, any object with
``name``, ``describe(target)`` and ``generate(messages_list, target)``; built by :mod:`frozen_llm_modules.tone_module`).
"""

import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Protocol, runtime_checkable

import numpy as np
import torch

from interp.errors import ConfigError
from steering.generation import GenerationConfig
from steering.tone_control import CALIBRATION_DIR, CalibrationConfig, LabelControl, calibrate_controls, controls_from_run
from steering.tone_generation import ToneScorer, as_messages, context_ids, generate_rows, has_chat_template, mean_or_nan
from steering.tone_target import ToneTarget, parse_target

SYSTEMS = ("agent", "none", "prompting", "module")
BASELINES = ("none", "prompting", "module")
DEFAULT_BUDGET = 3
DEFAULT_TOLERANCE = 0.25
DEFAULT_PPL_BOUND = 1.5


@runtime_checkable
class ToneModule(Protocol):
    """What the ``module`` baseline needs from a frozen-LLM module wrapper."""

    name: str

    def describe(self, target: ToneTarget) -> dict: ...

    def generate(self, messages: Sequence[list[dict]], target: ToneTarget) -> list[str]: ...


@dataclass(frozen=True)
class ToneReply:
    """One reply and how it was made.

    Attributes:
        text: the reply.
        system: ``agent``, ``none``, ``prompting`` or ``module``.
        target: the tone asked for (:meth:`ToneTarget.to_dict`).
        interventions: what was applied (agent: one dict per steered label — label, vector source, layer, hook, α, scale,
            added norm, positions and token range, how labels were combined; prompting: the instruction; module: its state).
        scores: column → value: target columns raw and ``_masked``, ``level_<label>``, ``perplexity``, ``distinct_2``,
            ``longest_repeat``, ``tone_error``, ``hit`` (1/0), ``interference``.
        attempts: drafts generated (agent ≤ budget; baselines 1).
        latency_s: seconds for this reply (generation and scoring; in a batch, each call's time split over its rows).
        drafts: per draft, the α per label, its tone error and whether it was fluent (agent only).
    """

    text: str
    system: str
    target: dict
    interventions: tuple[dict, ...]
    scores: dict[str, float]
    attempts: int
    latency_s: float
    drafts: tuple[dict, ...] = field(default_factory=tuple)

    def to_dict(self) -> dict:
        """JSON-ready: tuples as lists, NaN and inf as None."""
        return json_ready(asdict(self))


def json_ready(x):
    if isinstance(x, float):
        return x if np.isfinite(x) else None
    if isinstance(x, dict):
        return {str(k): json_ready(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [json_ready(v) for v in x]
    return x


class ToneAgent:
    """A model plus per-label controls (:class:`~steering.tone_control.LabelControl`); see the module docstring.

    Args:
        model: the bridge (unmodified; hooks live only during each generation).
        controls: label → control.
        chat: wrap contexts in the chat template (default: what the controls were calibrated with).
        config: generation settings (default greedy, ``max_new_tokens`` 24).
        tolerance: a label is hit when its achieved level is within this of the target level.
        ppl_bound: a draft is fluent when its perplexity is at most this × the calibration's α = 0 median.
        module: an optional frozen-LLM module wrapper for the ``module`` baseline.
    """

    def __init__(self, model, controls: dict[str, LabelControl], *, chat: bool | None = None, config: GenerationConfig | None = None,
                 tolerance: float = DEFAULT_TOLERANCE, ppl_bound: float = DEFAULT_PPL_BOUND, module: ToneModule | None = None):
        if not controls:
            raise ConfigError("the tone agent has no label control (no vector with a positive window); calibrate or use a run "
                              "whose sweep has one")
        if not 0 < tolerance < 1:
            raise ConfigError(f"tolerance must be in (0, 1) (a distance on the level scale), got {tolerance}")
        if not ppl_bound >= 1:
            raise ConfigError(f"ppl_bound must be >= 1 (a perplexity ratio), got {ppl_bound}")
        self.model, self.controls, self.module = model, dict(controls), module
        self.chat = (any(c.chat for c in controls.values()) if chat is None else chat) and has_chat_template(model)
        self.config = config or GenerationConfig(max_new_tokens=24)
        self.tolerance, self.ppl_bound = tolerance, ppl_bound
        self.scorer = ToneScorer(model, {label: c.target for label, c in self.controls.items()})

    @classmethod
    def from_run(cls, model, run_dir: str | Path, *, vectors: str | Path | None = None, **kwargs) -> "ToneAgent":
        """An agent from a run's stored vectors and sweep windows (:func:`~steering.tone_control.controls_from_run`)."""
        return cls(model, controls_from_run(model, run_dir, vectors=vectors), **kwargs)

    @classmethod
    def calibrate(cls, model, prompts: Sequence[str], out_dir: str | Path, *, config: CalibrationConfig | None = None,
                  progress=None, **kwargs) -> "ToneAgent":
        """Run a small calibration sweep on ``prompts`` (keep them disjoint from any evaluation prompts), save it under
        ``out_dir/calibration`` (readable by :meth:`from_run`) and build the agent from it."""
        cfg = config or CalibrationConfig(chat=has_chat_template(model))
        controls = calibrate_controls(model, prompts, cfg, Path(out_dir) / CALIBRATION_DIR, progress=progress)
        kwargs.setdefault("config", GenerationConfig(max_new_tokens=cfg.max_new_tokens, chat=cfg.chat, seed=cfg.seed))
        return cls(model, controls, chat=cfg.chat, **kwargs)

    @property
    def labels(self) -> list[str]:
        """The controllable labels: those whose window top raised the target score in calibration (``top > base``)."""
        return [lab for lab, c in self.controls.items() if c.span > 0]

    def describe(self) -> dict:
        return {"labels": self.labels, "controls": {k: c.describe() for k, c in self.controls.items()}, "chat": self.chat,
                "generation": self.config.to_dict(), "tolerance": self.tolerance, "ppl_bound": self.ppl_bound,
                "module": self.module.name if self.module is not None else None}

    def check_target(self, target: ToneTarget | str | dict) -> ToneTarget:
        """Parse ``target`` and refuse labels this agent cannot control."""
        t = parse_target(target)
        missing = [lab for lab in t.levels if lab not in self.labels]
        if missing:
            why = ", ".join(f"{m!r} ({'its window top did not raise ' + self.controls[m].target + ' in calibration' if m in self.controls else 'no vector'})"
                            for m in missing)
            raise ConfigError(f"this agent cannot control {why}; controllable: {', '.join(self.labels) or 'none'}; calibrate that label "
                              "or drop it from the target")
        return t

    # -- scoring --------------------------------------------------------------------------
    def _score(self, texts: Sequence[str], ctx: Sequence[list[int]], target: ToneTarget) -> list[dict[str, float]]:
        out = self.scorer.score(texts, ctx)
        ref = max(self.controls[lab].base_ppl for lab in (target.labels or self.labels))
        for s in out:
            for lab, c in self.controls.items():
                s[f"level_{lab}"] = c.level(s[c.target])
            errs = [abs(s[f"level_{lab}"] - v) for lab, v in target.levels.items()]
            s["tone_error"] = mean_or_nan(errs)
            s["fluent"] = float(bool(np.isfinite(s["perplexity"]) and s["perplexity"] <= self.ppl_bound * ref))
            s["hit"] = float(bool(s["fluent"]) and all(np.isfinite(e) and e <= self.tolerance for e in errs))
            s["interference"] = mean_or_nan(s[f"level_{lab}"] for lab in self.labels if lab not in target.levels)
        return out

    # -- the agent ------------------------------------------------------------------------
    def _row_vectors(self, alphas: np.ndarray, labels: list[str]) -> dict[str, torch.Tensor]:
        """hook → [rows, d_model]: each row's Σ α_l · v_l of the labels steering at that hook."""
        out: dict[str, torch.Tensor] = {}
        for j, lab in enumerate(labels):
            c = self.controls[lab]
            rows = torch.stack([c.added(float(a)) for a in alphas[:, j]])
            out[c.hook] = out[c.hook] + rows if c.hook in out else rows
        return out

    def _interventions(self, alphas: dict[str, float], n_tokens: int) -> tuple[dict, ...]:
        used = {lab: a for lab, a in alphas.items() if a != 0}
        hooks = {self.controls[lab].hook for lab in used}
        combine = "single label" if len(used) <= 1 else ("vector sum at one hook" if len(hooks) == 1 else "per-layer split")
        return tuple({"label": lab, "vector": self.controls[lab].source, "layer": self.controls[lab].layer, "hook": self.controls[lab].hook,
                      "alpha": float(a), "scale": self.controls[lab].scale, "window": [0.0, self.controls[lab].alpha_hi],
                      "usable_window": self.controls[lab].usable, "added_norm": float(self.controls[lab].added(a).norm()),
                      "positions": "all", "token_range": [0, n_tokens], "combine": combine} for lab, a in used.items())

    def reply(self, prompt_or_history: str | Sequence[dict], target: ToneTarget | str | dict, *, budget: int = DEFAULT_BUDGET) -> ToneReply:
        """Reply in the ``target`` tone with at most ``budget`` drafts (closed loop; module docstring)."""
        return self.reply_batch([prompt_or_history], target, budget=budget)[0]

    def reply_batch(self, items: Sequence[str | Sequence[dict]], target: ToneTarget | str | dict, *,
                    budget: int = DEFAULT_BUDGET) -> list[ToneReply]:
        """:meth:`reply` for many prompts at once: every row runs its own closed loop; a draft round is one batched call."""
        if isinstance(budget, bool) or not isinstance(budget, (int, np.integer)) or budget < 1:
            raise ConfigError(f"the closed-loop budget is {budget!r}; give at least 1 draft (1 = open loop)")
        t = self.check_target(target)
        labels = t.labels
        ctx = [context_ids(self.model, as_messages(it), chat=self.chat) for it in items]
        n = len(ctx)
        levels = np.array([t.levels[lab] for lab in labels])
        top = np.array([self.controls[lab].alpha_hi for lab in labels])
        alpha = np.tile(levels * top, (n, 1))
        lo, hi = np.zeros_like(alpha), np.tile(top, (n, 1))
        best: list[tuple | None] = [None] * n
        drafts: list[list[dict]] = [[] for _ in range(n)]
        latency = np.zeros(n)
        active = list(range(n))
        for _ in range(int(budget)):
            if not active:
                break
            t0 = time.perf_counter()
            gen = generate_rows(self.model, [ctx[i] for i in active], self._row_vectors(alpha[active], labels), config=self.config)
            scores = self._score(gen.texts, [ctx[i] for i in active], t)
            latency[active] += (time.perf_counter() - t0) / len(active)
            still = []
            for k, i in enumerate(active):
                s, a = scores[k], alpha[i].copy()
                drafts[i].append({"alpha": dict(zip(labels, map(float, a))), "tone_error": s["tone_error"], "fluent": bool(s["fluent"])})
                key = (-s["fluent"], s["tone_error"] if np.isfinite(s["tone_error"]) else np.inf, len(drafts[i]))
                if best[i] is None or key < best[i][0]:
                    best[i] = (key, gen.texts[k], s, a, gen.n_context[k] + gen.n_new[k])
                if s["hit"]:
                    continue
                for j, lab in enumerate(labels):
                    achieved = s[f"level_{lab}"]
                    if not s["fluent"]:
                        hi[i, j] = a[j]
                    elif not np.isfinite(achieved):
                        continue  # an empty reply or an uncalibrated label says nothing about α
                    elif achieved < levels[j]:
                        lo[i, j] = a[j]
                    else:
                        hi[i, j] = a[j]
                    alpha[i, j] = 0.0 if levels[j] == 0 else (lo[i, j] + hi[i, j]) / 2
                if not np.allclose(alpha[i], a):
                    still.append(i)
            active = still
        out = []
        for i in range(n):
            _, text, s, a, n_tok = best[i]
            out.append(ToneReply(text, "agent", t.to_dict(), self._interventions(dict(zip(labels, map(float, a))), n_tok), s,
                                 len(drafts[i]), float(latency[i]), tuple(drafts[i])))
        return out

    # -- baselines ------------------------------------------------------------------------
    def baseline(self, prompt_or_history: str | Sequence[dict], target: ToneTarget | str | dict, kind: str) -> ToneReply:
        """One reply of baseline ``kind`` (``none``, ``prompting`` or ``module``), scored like the agent's."""
        return self.baseline_batch([prompt_or_history], target, kind)[0]

    def baseline_batch(self, items: Sequence[str | Sequence[dict]], target: ToneTarget | str | dict, kind: str) -> list[ToneReply]:
        """:meth:`baseline` for many prompts in one batched call."""
        if kind not in BASELINES:
            raise ConfigError(f"unknown baseline {kind!r}; choose one of {', '.join(BASELINES)}")
        if kind == "module" and self.module is None:
            raise ConfigError("the 'module' baseline needs a frozen-LLM module; attach one (--modules DIR, or the vector-initialised "
                              "steering module)")
        t = self.check_target(target)
        msgs = [as_messages(it) for it in items]
        plain = [context_ids(self.model, m, chat=self.chat) for m in msgs]
        t0 = time.perf_counter()
        if kind == "module":
            texts = self.module.generate(msgs, t)
            inter = (self.module.describe(t),)
        else:
            system = t.instruction() if kind == "prompting" else None
            ctx = [context_ids(self.model, as_messages(it, system=system), chat=self.chat) for it in items] if system else plain
            texts = list(generate_rows(self.model, ctx, {}, config=self.config).texts)
            inter = ({"kind": "instruction", "system_prompt": system},) if system else ()
        scores = self._score(texts, plain, t)
        each = (time.perf_counter() - t0) / max(len(items), 1)
        return [ToneReply(x, kind, t.to_dict(), inter, s, 1, each) for x, s in zip(texts, scores)]

    def compare(self, prompt_or_history: str | Sequence[dict], target: ToneTarget | str | dict, *,
                budget: int = DEFAULT_BUDGET) -> dict[str, ToneReply]:
        """The agent's reply next to ``none``, ``prompting`` and (with a module attached) ``module``."""
        out = {"agent": self.reply(prompt_or_history, target, budget=budget)}
        for kind in BASELINES:
            if kind != "module" or self.module is not None:
                out[kind] = self.baseline(prompt_or_history, target, kind)
        return out
