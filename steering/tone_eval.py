"""Evaluate the tone agent against its baselines: prompts × tones × systems, every number with a bootstrap CI.

Systems: ``agent`` (closed loop, :class:`~steering.tone.ToneAgent`), ``none`` (no control; one reply per prompt, scored
against every tone), ``prompting`` (the tone asked for in a system instruction) and ``module`` (a frozen-LLM module at the
state the tone maps to; when the agent has one). Per system × tone, over the prompts (95% percentile bootstrap):

* **hit rate** — share of replies whose every target label lies within the agent's tolerance of its level (on the
  calibrated scale of :mod:`steering.tone`: 0 = the no-control mean, 1 = the mean at the window's top α, clipped to [0, 1])
  and whose perplexity is within ``ppl_bound`` × the calibration's α = 0 median;
* **tone error** — mean over the target labels of ``|achieved level − target level|``;
* **Δ target raw / masked** — the tone's main label's target score minus the no-control reply's on the same prompt
  (paired), raw and with that label's lexicon words masked (what is left beyond inserting the words);
* **perplexity ratio** — exp(mean log(perplexity / no-control perplexity)), paired; **distinct-2**, **longest repeat**;
* **interference** — mean level of the controllable labels the tone does not name;
* **latency** — seconds per reply (each batched call's time split over its rows; the agent's includes its drafts);
* **capability** — perplexity of held-out neutral texts as the reply to a fixed request, under the system's intervention
  (agent: the mean α it chose for that tone; prompting: its instruction; module: its hooks), as a ratio to no control.

Agent vs each baseline: paired difference in hit rate and tone error per tone with a sign-flip p-value.
"""

import json
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from interp.errors import ConfigError
from interp.io import atomic_write_text
from interp.report_types import AnalysisReport, Headline, Table
from interp.splits import normalise_text
from interp.stats import Estimate, bootstrap_ci, bootstrap_diff_ci, sign_flip_pvalue
from steering.hooks import steering_hooks
from steering.tone import DEFAULT_BUDGET, ToneAgent, ToneReply, json_ready
from steering.tone_generation import ContextFluency, as_messages, context_ids
from steering.tone_target import ToneTarget

CAPABILITY_REQUEST = "Write one sentence."


@dataclass(frozen=True)
class SystemToneStats:
    """One system on one tone, over the prompts (module docstring for each metric)."""

    system: str
    tone: str
    n: int
    hit_rate: Estimate
    tone_error: Estimate
    effect_raw: Estimate
    effect_masked: Estimate
    ppl_ratio: Estimate
    distinct_2: Estimate
    longest_repeat: Estimate
    interference: Estimate
    latency_s: Estimate
    attempts: Estimate

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class Comparison:
    """Agent minus a baseline on one tone, paired over prompts: hit rate and tone error, with sign-flip p-values."""

    tone: str
    baseline: str
    hit_diff: Estimate
    hit_p: float
    error_diff: Estimate
    error_p: float

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class ToneEvalReport(AnalysisReport):
    """What :func:`evaluate_tone` measured: stats per system × tone, comparisons, capability and every reply."""

    stats: tuple[SystemToneStats, ...]
    comparisons: tuple[Comparison, ...]
    capability: dict
    replies: tuple[dict, ...]
    config: dict = field(default_factory=dict)
    wall_s: float = float("nan")

    def stat(self, system: str, tone: str) -> SystemToneStats:
        for s in self.stats:
            if (s.system, s.tone) == (system, tone):
                return s
        raise ConfigError(f"no result for system {system!r} on tone {tone!r}")

    def results(self) -> dict:
        return json_ready({"config": self.config, "stats": [s.to_dict() for s in self.stats],
                            "comparisons": [c.to_dict() for c in self.comparisons], "capability": self.capability})

    def headline(self) -> list[Headline]:
        rows = []
        for tone in self.config["tones"]:
            a = self.stat("agent", tone)
            base = "; ".join(f"{s.system} {s.hit_rate:.2f}" for s in self.stats if s.tone == tone and s.system != "agent")
            rows.append(Headline.of(f"{tone}: agent target hit rate ({a.n} held-out prompts)", a.hit_rate, baseline=base,
                                    note=f"tone error {a.tone_error:.3f}; ppl ratio {a.ppl_ratio:.2f}; latency {a.latency_s.value:.2f} s"))
            for c in self.comparisons:
                if c.tone == tone:
                    rows.append(Headline.of(f"{tone}: agent − {c.baseline}, hit rate", c.hit_diff, p=c.hit_p,
                                            note=f"tone error difference {c.error_diff:+.3f} (p {c.error_p:.3g})"))
        return rows

    def text(self) -> str:
        c = self.config
        return (f"{c['n_prompts']} held-out prompts × {len(c['tones'])} tones ({', '.join(c['tones'])}) × systems "
                f"{', '.join(c['systems'])}; closed-loop budget {c['budget']}, tolerance {c['tolerance']}, greedy "
                f"{c['generation']['max_new_tokens']} tokens{' in the chat template' if c['chat'] else ''}. Prompts checked disjoint "
                f"from the {c['n_calibration_prompts']} calibration prompts. 95% bootstrap CIs over prompts ({c['n_boot']} resamples). "
                f"Wall time {self.wall_s:.1f} s.")

    def tables(self) -> list[Table]:
        cols = ["tone", "system", "hit rate", "tone error", "Δ target raw", "Δ target masked", "ppl ratio", "distinct-2",
                "longest repeat", "interference", "latency s", "drafts"]
        main = Table("per system × tone (95% CI over prompts; Δ and ratios vs no control on the same prompt)", cols,
                     [[s.tone, s.system, f"{s.hit_rate:.2f}", f"{s.tone_error:.3f}", f"{s.effect_raw:+.3f}", f"{s.effect_masked:+.3f}",
                       f"{s.ppl_ratio:.2f}", f"{s.distinct_2:.2f}", f"{s.longest_repeat:.1f}", f"{s.interference:.2f}",
                       f"{s.latency_s:.2f}", f"{s.attempts:.1f}"] for s in self.stats])
        comp = Table("agent − baseline (paired over prompts; sign-flip p)", ["tone", "baseline", "Δ hit rate", "p", "Δ tone error", "p"],
                     [[c.tone, c.baseline, f"{c.hit_diff:+.2f}", f"{c.hit_p:.3g}", f"{c.error_diff:+.3f}", f"{c.error_p:.3g}"]
                      for c in self.comparisons])
        cap = Table(f"capability: held-out neutral text perplexity as the reply to {CAPABILITY_REQUEST!r}, ratio to no control",
                    ["tone", "system", "ppl ratio [95% CI]"],
                    [[r["tone"], r["system"], f"{Estimate(**r['ratio']):.3f}" if r["ratio"] else "n/a"] for r in self.capability["rows"]])
        return [main, comp, cap]

    def save_extra(self, out: Path) -> None:
        atomic_write_text(out / "replies.jsonl", "".join(json.dumps(json_ready(r)) + "\n" for r in self.replies))


def _est(x, n_boot: int) -> Estimate:
    v = np.asarray(x, dtype=float)
    v = v[np.isfinite(v)]
    return bootstrap_ci(v, n_boot=n_boot, seed=0) if len(v) else Estimate(float("nan"), float("nan"), float("nan"))


def _paired(a, b, n_boot: int) -> Estimate:
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    ok = np.isfinite(a) & np.isfinite(b)
    if not ok.any():
        return Estimate(float("nan"), float("nan"), float("nan"))
    return bootstrap_diff_ci(a[ok], b[ok], paired=True, n_boot=n_boot, seed=0)


def _stats(system: str, tone: ToneTarget, replies: list[ToneReply], none: list[ToneReply], agent: ToneAgent, n_boot: int) -> SystemToneStats:
    main = tone.main
    col = agent.controls[main].target
    mcol = agent.scorer.masked_key(main)
    g = lambda rs, k: [r.scores[k] for r in rs]  # noqa: E731
    log_ratio = np.log(np.asarray(g(replies, "perplexity"), float)) - np.log(np.asarray(g(none, "perplexity"), float))
    ratio = _est(log_ratio, n_boot)
    return SystemToneStats(system, tone.name, len(replies), _est(g(replies, "hit"), n_boot), _est(g(replies, "tone_error"), n_boot),
                           _paired(g(replies, col), g(none, col), n_boot), _paired(g(replies, mcol), g(none, mcol), n_boot),
                           Estimate(*(float(np.exp(x)) for x in (ratio.value, ratio.lo, ratio.hi))), _est(g(replies, "distinct_2"), n_boot),
                           _est(g(replies, "longest_repeat"), n_boot), _est(g(replies, "interference"), n_boot),
                           _est([r.latency_s for r in replies], n_boot), _est([r.attempts for r in replies], n_boot))


def _compare(tone: str, base: str, a: list[ToneReply], b: list[ToneReply], n_boot: int) -> Comparison:
    ha, hb = np.array([r.scores["hit"] for r in a]), np.array([r.scores["hit"] for r in b])
    ea, eb = np.array([r.scores["tone_error"] for r in a], float), np.array([r.scores["tone_error"] for r in b], float)
    ok = np.isfinite(ea) & np.isfinite(eb)
    return Comparison(tone, base, _paired(ha, hb, n_boot), sign_flip_pvalue(ha - hb, n_perm=n_boot, seed=0), _paired(ea, eb, n_boot),
                      sign_flip_pvalue(ea[ok] - eb[ok], n_perm=n_boot, seed=0))


def capability_perplexity(agent: ToneAgent, texts: Sequence[str], *, hooks: Sequence = (), system: str | None = None) -> list[float]:
    """Perplexity of each text as the reply to :data:`CAPABILITY_REQUEST` (with ``system`` as instruction) under ``hooks``."""
    ctx = context_ids(agent.model, as_messages(CAPABILITY_REQUEST, system=system), chat=agent.chat)
    flu = ContextFluency(agent.model, chat=False)
    flu.ids = {"ctx": ctx}
    with agent.model.hooks(fwd_hooks=list(hooks)):
        return flu.perplexities(list(texts), ["ctx"] * len(texts))


def _agent_hooks(agent: ToneAgent, replies: list[ToneReply]) -> list:
    """Constant hooks adding, per label, the mean α the agent chose over ``replies``."""
    mean_alpha: dict[str, float] = {}
    for r in replies:
        for i in r.interventions:
            mean_alpha[i["label"]] = mean_alpha.get(i["label"], 0.0) + i["alpha"] / len(replies)
    specs = [agent.controls[lab].spec(a) for lab, a in mean_alpha.items() if a != 0]
    return steering_hooks(agent.model, specs) if specs else []


def evaluate_tone(agent: ToneAgent, prompts: Sequence[str], tones: Sequence[str | ToneTarget] | Mapping[str, ToneTarget], *,
                  budget: int = DEFAULT_BUDGET, calibration_prompts: Sequence[str] = (), capability_texts: Sequence[str] = (),
                  systems: Sequence[str] | None = None, n_boot: int = 1000,
                  progress: Callable[[int, int], None] | None = None) -> ToneEvalReport:
    """Replies of every system to every prompt in every tone, scored and summarised (module docstring).

    Args:
        agent: the tone agent (with ``agent.module`` set, the ``module`` baseline runs too).
        prompts: held-out prompts (refused when one is also a calibration prompt, by normalised text).
        tones: tone targets (preset names, ``LABEL=LEVEL`` texts or :class:`ToneTarget`).
        budget: the agent's closed-loop drafts per reply (≥ 1).
        calibration_prompts: the prompts the agent's windows were calibrated on (for the disjointness check).
        capability_texts: held-out neutral texts for the capability check (none: skipped).
        systems: subset of ``agent``, ``none``, ``prompting``, ``module`` (default: all available).
    """
    prompts = list(prompts)
    if not prompts:
        raise ConfigError("the tone evaluation needs at least one prompt")
    shared = {normalise_text(p) for p in prompts} & {normalise_text(p) for p in calibration_prompts}
    if shared:
        raise ConfigError(f"{len(shared)} evaluation prompt(s) were also calibration prompts (e.g. {sorted(shared)[0]!r}); evaluate on "
                          "prompts held out from calibration")
    targets = [agent.check_target(t) for t in (tones.values() if isinstance(tones, Mapping) else tones)]
    names = [t.name for t in targets]
    if len(set(names)) != len(names):
        raise ConfigError(f"tones {names} repeat a name; give each tone once")
    avail = ["agent", "none", "prompting"] + (["module"] if agent.module is not None else [])
    systems = list(systems or avail)
    bad = [s for s in systems if s not in avail]
    if bad or "none" not in systems or "agent" not in systems:
        raise ConfigError(f"systems must include 'agent' and 'none' and come from {', '.join(avail)}; got {', '.join(systems)}")
    total, done = 1 + len(targets) * (len(systems) - 1), 0

    def tick() -> None:
        nonlocal done
        done += 1
        if progress is not None:
            progress(done, total)

    t0 = time.perf_counter()
    none = agent.baseline_batch(prompts, targets[0], "none")
    tick()
    replies: dict[tuple[str, str], list[ToneReply]] = {}
    for t in targets:
        # the no-control text is the same for every tone; only its scores against the tone differ
        scored = agent._score([r.text for r in none], [context_ids(agent.model, as_messages(p), chat=agent.chat) for p in prompts], t)
        replies[("none", t.name)] = [ToneReply(r.text, "none", t.to_dict(), (), s, 1, r.latency_s) for r, s in zip(none, scored)]
        for s in systems:
            if s == "none":
                continue
            replies[(s, t.name)] = agent.reply_batch(prompts, t, budget=budget) if s == "agent" else agent.baseline_batch(prompts, t, s)
            tick()
    stats = tuple(_stats(s, t, replies[(s, t.name)], replies[("none", t.name)], agent, n_boot) for t in targets for s in systems)
    comps = tuple(_compare(t.name, b, replies[("agent", t.name)], replies[(b, t.name)], n_boot) for t in targets for b in systems
                  if b != "agent")
    cap_rows = []
    if capability_texts:
        base = capability_perplexity(agent, capability_texts)
        for t in targets:
            for s in systems:
                if s == "none":
                    ppl = base
                elif s == "agent":
                    ppl = capability_perplexity(agent, capability_texts, hooks=_agent_hooks(agent, replies[("agent", t.name)]))
                elif s == "prompting":
                    ppl = capability_perplexity(agent, capability_texts, system=t.instruction())
                else:
                    hooks = getattr(agent.module, "capability_hooks", lambda _t: None)(t)
                    ppl = None if hooks is None else capability_perplexity(agent, capability_texts, hooks=hooks)
                ratio = None if ppl is None else _est(np.log(np.asarray(ppl, float)) - np.log(np.asarray(base, float)), n_boot)
                cap_rows.append({"tone": t.name, "system": s, "mean_ppl": None if ppl is None else float(np.nanmean(ppl)),
                                 "ratio": None if ratio is None else asdict(Estimate(*(float(np.exp(x)) for x in (ratio.value, ratio.lo,
                                                                                                                     ratio.hi))))})
    rows = tuple({"prompt_idx": i, "prompt": prompts[i], "tone": t, "system": s, **r.to_dict()}
                 for (s, t), rs in replies.items() for i, r in enumerate(rs))
    config = {"n_prompts": len(prompts), "tones": names, "targets": [t.to_dict() for t in targets], "systems": systems, "budget": budget,
              "tolerance": agent.tolerance, "ppl_bound": agent.ppl_bound, "chat": agent.chat, "generation": agent.config.to_dict(),
              "n_calibration_prompts": len(calibration_prompts), "n_boot": n_boot, "agent": agent.describe(),
              "module": agent.module.name if agent.module is not None else None}
    return ToneEvalReport(stats, comps, {"n_texts": len(capability_texts), "request": CAPABILITY_REQUEST, "rows": cap_rows}, rows, config,
                          time.perf_counter() - t0)
