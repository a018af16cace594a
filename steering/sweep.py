"""Layer × α steering sweeps with held-out prompts, lexicon-masked scores and controls that can reject.

Design (what every number in a sweep's summary means):

* **Prompts are split** (:func:`interp.splits.split_indices`, by prompt text, seeded) into *selection* and
  *evaluation* halves. Every emotion-vector cell is generated on all prompts once; its statistics are
  computed on each half separately (column ``split``).
* **Scores come in pairs**: each text score (VADER, NRC, keywords…) is also computed with the target emotion's
  lexicon words masked (``<column>_masked``, :mod:`interp.evaluators.masking`); ``keyword_share = effect −
  effect_masked`` is the part of an effect carried by the emotion words themselves.
* **α = 0** (the unsteered model; one generation per emotion and seed, shared by that emotion's layers) is the
  paired baseline of every cell: effect = mean(score − score at α = 0), paired bootstrap CI, sign-flip p,
  Holm-corrected within each emotion × split.
* **Candidates** are chosen on the selection half only: effect > 0 with Holm p < 0.05, perplexity ratio to
  α = 0 ≤ ``ppl_bound``, and repetition bounded relative to α = 0 (mean distinct-2 at most ``distinct2_drop``
  below α = 0's and mean longest repeated n-gram at most ``repeat_rise`` words above it: repetition lowers
  perplexity, so the perplexity bound alone lets a looping text through).
* **Random-direction control**: for the top ``random_max_cells`` candidates per emotion (by selection effect; the
  best cell always), ``n_random`` ≥ 20 seeded Gaussian directions, each with exactly the norm the emotion
  vector adds in that cell, are generated on the *evaluation* prompts in batched calls (rows = prompt ×
  direction). ``p = (1 + #{random effect ≥ emotion effect}) / (1 + n_random)``, floor ``1/(1+n_random)``, on the
  raw and on the masked target score.
* **Usable window** = candidates (selected on the selection half) that beat the random distribution
  (p < 0.05) on the evaluation half on both the raw and the masked score. The evaluation half only confirms
  or removes a pre-selected cell; nothing is maximised over it.
* **Best cell** = the candidate with the largest selection effect (else the steered cell with the largest
  selection effect, flagged not usable). Its reported effect, CI and p come from the evaluation half.
"""

from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from interp.activations import extract_activations
from interp.attributes import get_attribute
from interp.datasets import load_dataset
from interp.errors import ConfigError
from interp.evaluators import score_texts
from interp.evaluators.masking import masked_column
from interp.hook_names import block_hook, validate_layer
from interp.io import atomic_write_json, atomic_write_text, atomic_write_with, ensure_writable_dir, read_json
from interp.models import model_info
from interp.splits import split_indices
from steering.generation import GenerationConfig, generate, generate_row_vectors
from steering.hooks import SCALE_MODES, SteeringSpec, check_alpha, mean_resid_norm
from steering.sweep_cache import CellCache, cell_file_name, tensor_hash, texts_hash
from steering.sweep_figures import sweep_heatmap
from steering.sweep_stats import BestCell, CellStats, RandomControl, RandomSummary, UsableWindow, aggregate
from steering.vectors import EmotionVector, compute_emotion_vectors, load_vectors

TARGET_SCORES: dict[str, str] = get_attribute("emotion").language("en").targets
"""Default score that steering toward an emotion should raise: the attribute registry's targets
(:mod:`interp.attributes`), the same columns the circuit phases' generation effects use."""

MIN_RANDOM = 20
"""Fewest random directions: the p-value floor 1/(1+n) must sit below 0.05."""


def default_sweep_layers(n_layers: int, n: int = 5) -> list[int]:
    """``n`` layers spread evenly over the depth: at fractions (i + ½)/n (0.1, 0.3, …, 0.9 for n = 5).

    Rounded half up, deduplicated and kept in 0..n_layers-1, so a shallow model gets fewer layers
    (30 layers → [3, 9, 15, 21, 27]; 18 → [2, 5, 9, 13, 16]; 2 → [0, 1]).
    """
    if n_layers < 1 or n < 1:
        raise ConfigError(f"default_sweep_layers needs n_layers ≥ 1 and n ≥ 1, got n_layers={n_layers}, n={n}")
    # (2i + 1) · n_layers / (2n), rounded half up in integers (no float ties such as 2.5 → 2).
    return sorted({min(((2 * i + 1) * n_layers + n) // (2 * n), n_layers - 1) for i in range(n)})


@dataclass(frozen=True)
class SweepConfig:
    """What a sweep runs (see the module docstring for the rules).

    Attributes:
        emotions: emotions to steer toward.
        layers: layers (the hook is ``hook_kind`` at each).
        alphas: coefficients, in the unit of ``scale``; 0 is always added.
        hook_kind: residual hook kind (``resid_pre``, ``resid_post``…).
        scale: ``raw`` (α × the emotion vector), ``unit`` or ``mean_norm`` (see :mod:`steering.hooks`).
        positions: steered positions (``all``, ``prompt``, ``generated``).
        seeds: one generation per prompt and seed.
        random_control: run the norm-matched random-direction control (without it no cell is usable).
        random_seed: seed of the random directions.
        n_random: random directions per controlled cell (≥ 20).
        random_max_cells: controlled cells per emotion (top candidates by selection effect).
        ppl_bound: max perplexity ratio to α = 0 for a candidate.
        distinct2_drop: max drop of mean distinct-2 below α = 0's for a candidate.
        repeat_rise: max rise (words) of the mean longest repeated n-gram above α = 0's for a candidate.
        selection_fraction, split_seed: the prompt split (:func:`interp.splits.split_indices`).
        targets: emotion → score column (default :data:`TARGET_SCORES`).
    """

    emotions: tuple[str, ...]
    layers: tuple[int, ...]
    alphas: tuple[float, ...] = (-2.0, -1.0, -0.5, 0.0, 0.5, 1.0, 2.0)
    hook_kind: str = "resid_pre"
    scale: str = "raw"
    positions: str = "all"
    seeds: tuple[int, ...] = (0,)
    random_control: bool = True
    random_seed: int = 1234
    n_random: int = MIN_RANDOM
    random_max_cells: int = 2
    ppl_bound: float = 1.5
    distinct2_drop: float = 0.1
    repeat_rise: float = 2.0
    selection_fraction: float = 0.5
    split_seed: int = 0
    n_boot: int = 1000
    targets: dict = field(default_factory=dict)
    generation: GenerationConfig = field(default_factory=GenerationConfig)

    def __post_init__(self) -> None:
        if not self.emotions:
            raise ConfigError("a sweep needs at least one emotion")
        if not self.layers:
            raise ConfigError("a sweep needs at least one layer")
        for a in self.alphas:
            check_alpha(a)
        if self.scale not in SCALE_MODES:
            raise ConfigError(f"scale {self.scale!r} is unknown; choose one of {', '.join(SCALE_MODES)}")
        if not self.seeds:
            raise ConfigError("a sweep needs at least one seed")
        if not self.ppl_bound >= 1.0:
            raise ConfigError(f"ppl_bound must be >= 1 (a ratio to alpha = 0), got {self.ppl_bound}")
        if self.random_control and self.n_random < MIN_RANDOM:
            raise ConfigError(f"n_random is {self.n_random}; use at least {MIN_RANDOM} random directions so p < 0.05 is reachable "
                              f"(floor 1/(1+n))")
        if self.random_max_cells < 1:
            raise ConfigError(f"random_max_cells must be >= 1, got {self.random_max_cells}")
        if not 0 <= self.distinct2_drop <= 1:
            raise ConfigError(f"distinct2_drop must be in [0, 1] (a drop of mean distinct-2), got {self.distinct2_drop}")
        if not self.repeat_rise >= 0:
            raise ConfigError(f"repeat_rise must be >= 0 (words), got {self.repeat_rise}")
        if not 0 < self.selection_fraction < 1:
            raise ConfigError(f"selection_fraction must be strictly between 0 and 1, got {self.selection_fraction}")

    def target(self, emotion: str) -> str:
        t = {**TARGET_SCORES, **self.targets}.get(emotion)
        if t is None:
            raise ConfigError(f"no target score for emotion {emotion!r}; pass targets={{{emotion!r}: 'column'}}")
        return t

    def to_dict(self) -> dict:
        d = asdict(self)
        d["generation"] = self.generation.to_dict()
        d["unit"] = {"raw": "alpha x emotion vector (as computed)", "unit": "alpha x unit vector (residual units)",
                     "mean_norm": "alpha x unit vector x mean residual norm at the hook"}[self.scale]
        return d


def random_direction(d_model: int, seed: int) -> torch.Tensor:
    """Unit Gaussian direction [d_model] from ``seed``."""
    g = torch.Generator().manual_seed(int(seed))
    r = torch.randn(d_model, generator=g)
    return r / r.norm()


def random_directions(n: int, d_model: int, seed: int) -> torch.Tensor:
    """``n`` unit Gaussian directions [n, d_model] from ``seed`` (row ``j`` = :func:`random_direction` of ``seed + j``)."""
    return torch.stack([random_direction(d_model, seed + j) for j in range(n)])


WINDOW_RULE = ("chosen on the selection prompts: effect > 0 with Holm p < 0.05, perplexity ratio <= {ppl_bound}, distinct-2 at most "
               "{distinct2_drop} below alpha=0 and longest repeat at most {repeat_rise} words above it; then confirmed on the "
               "evaluation prompts: the effect beats {n_random} norm-matched random directions (p < 0.05) on the raw and on the "
               "lexicon-masked target score")


@dataclass(frozen=True)
class SweepResult:
    """Tidy rows (one per generation), per-cell aggregates per split, random-direction effects, the window and best cells."""

    rows: pd.DataFrame
    aggregates: pd.DataFrame
    config: dict
    extra: dict = field(default_factory=dict)
    random_effects: pd.DataFrame = field(default_factory=pd.DataFrame)

    def _cells(self, split: str) -> pd.DataFrame:
        a = self.aggregates
        return a[(a.direction == "emotion") & (a.split == split)] if "split" in a.columns else a[a.direction == "emotion"]

    def usable_window(self, emotion: str) -> UsableWindow:
        """The usable cells of ``emotion`` (from the evaluation-split rows, which carry the random-control verdict)."""
        a = self._cells("evaluation")
        a = a[a.usable & (a.emotion == emotion)]
        return UsableWindow(emotion, tuple((int(r.layer), float(r.alpha)) for r in a.itertuples()))

    def best_cell(self, emotion: str) -> BestCell:
        """The best cell, chosen on the selection prompts; ``cell`` holds its evaluation-prompt numbers."""
        sel = self._cells("selection")
        cand = sel[(sel.emotion == emotion) & (sel.alpha != 0)]
        if cand.empty:
            raise ConfigError(f"the sweep has no steered cells for {emotion!r}")
        pool = cand[cand.candidate] if cand.candidate.any() else cand
        pick = pool.sort_values(["effect", "layer", "alpha"], ascending=[False, True, True]).iloc[0]
        ev = self._cells("evaluation")
        ev = ev[(ev.emotion == emotion) & (ev.layer == pick.layer) & (ev.alpha == pick.alpha)]
        cell = _record(ev.iloc[0]) if not ev.empty else _record(pick)
        rc = RandomSummary.of(cell) if cell.get("random_checked") else None
        return BestCell(emotion, CellStats.of(cell), CellStats.of(_record(pick)), bool(cell.get("usable", False)),
                        bool(pick.candidate), bool(cell.get("keyword_driven", False)), rc)

    def summary(self) -> dict:
        c = self.config
        return {"config": c, **self.extra,
                "window_rule": WINDOW_RULE.format(**{k: c.get(k) for k in ("ppl_bound", "distinct2_drop", "repeat_rise", "n_random")}),
                "best": {e: self.best_cell(e).to_dict() for e in c["emotions"]},
                "usable_window": {e: self.usable_window(e).to_list() for e in c["emotions"]}}

    def to_dict(self) -> dict:
        return self.summary()

    def save(self, out_dir: str | Path) -> Path:
        """Write ``generations.parquet`` (+ ``.csv``), ``aggregates.csv``, ``random_effects.csv`` and ``summary.json`` atomically."""
        d = ensure_writable_dir(out_dir)
        atomic_write_with(d / "generations.parquet", lambda p: self.rows.to_parquet(p, index=False))
        atomic_write_text(d / "generations.csv", self.rows.to_csv(index=False))
        atomic_write_text(d / "aggregates.csv", self.aggregates.to_csv(index=False))
        atomic_write_text(d / "random_effects.csv", self.random_effects.to_csv(index=False))
        atomic_write_json(d / "summary.json", self.summary())
        return d

    @classmethod
    def load(cls, out_dir: str | Path) -> "SweepResult":
        d = Path(out_dir)
        s = read_json(d / "summary.json")
        extra = {k: v for k, v in s.items() if k not in ("config", "best", "usable_window", "window_rule")}
        rnd = pd.read_csv(d / "random_effects.csv") if (d / "random_effects.csv").stat().st_size > 1 else pd.DataFrame()
        return cls(pd.read_parquet(d / "generations.parquet"), pd.read_csv(d / "aggregates.csv"), s["config"], extra, rnd)

    def figure(self, kind: str = "effect", emotion: str | None = None):
        return sweep_heatmap(self, kind=kind, emotion=emotion or self.config["emotions"][0])


def _record(row) -> dict:
    return {k: (v.item() if hasattr(v, "item") else v) for k, v in row.to_dict().items()}


def _model_key(model) -> dict:
    info = model_info(model)
    return {"name": info.name, "weight_hash": info.source_hash, "d_model": int(model.cfg.d_model), "n_layers": int(model.cfg.n_layers)}


def _scorer_key(scorers) -> list:
    return [[s.name, list(s.columns), bool(getattr(s, "maskable", True))] for s in scorers]


def run_sweep(model, prompts: Sequence[str], vectors: dict[tuple[str, int], torch.Tensor], config: SweepConfig,
              scorers: Sequence, *, cache_dir: str | Path | None = None,
              progress: Callable[[int, int], None] | None = None) -> SweepResult:
    """Generate and score every cell of the sweep (rules in the module docstring).

    Args:
        model: the bridge (unsteered weights; hooks are added per cell and removed after).
        prompts: neutral prompts (at least 2: they are split into selection and evaluation halves).
        vectors: ``(emotion, layer) → [d_model]`` emotion vector at ``config.hook_kind`` of that layer.
        config: the sweep settings.
        scorers: :class:`~interp.evaluators.Scorer` objects; must provide ``perplexity``, ``distinct_2``,
            ``longest_repeat`` and every target column.
        cache_dir: verified per-cell files (:mod:`steering.sweep_cache`) so an interrupted sweep resumes.
        progress: called as ``progress(done, total)`` after each cell.
    """
    n_layers = model.cfg.n_layers
    layers = [validate_layer(layer, n_layers) for layer in config.layers]
    for e in config.emotions:
        config.target(e)
        for layer in layers:
            if (e, layer) not in vectors:
                raise ConfigError(f"no vector for emotion {e!r} at layer {layer}")
            v = vectors[(e, layer)]
            if v.shape[-1] != model.cfg.d_model:
                raise ConfigError(f"vector for {e!r} at layer {layer} has d_model {v.shape[-1]}, model has {model.cfg.d_model}")
    cols = {c for s in scorers for c in s.columns}
    for need in ["perplexity", "distinct_2", "longest_repeat", *(config.target(e) for e in config.emotions)]:
        if need not in cols:
            raise ConfigError(f"score column {need!r} is not produced by the scorers ({', '.join(s.name for s in scorers)}); "
                              "add the scorer that makes it (fluency makes perplexity and repetition)")
    prompts = list(prompts)
    sel_idx, eval_idx = split_indices(prompts, fraction=config.selection_fraction, seed=config.split_seed)
    split_of = {i: "selection" for i in sel_idx} | {i: "evaluation" for i in eval_idx}
    eval_prompts = [prompts[i] for i in eval_idx]
    alphas = sorted({float(a) for a in config.alphas} | {0.0})
    steered = [a for a in alphas if a != 0]
    norms = {layer: mean_resid_norm(model, block_hook(config.hook_kind, layer), prompts) for layer in layers} \
        if config.scale == "mean_norm" else {}
    cells: list[tuple[str, str, int, float, int]] = []
    for e in config.emotions:
        cells += [(e, "none", -1, 0.0, s) for s in config.seeds]
        for layer in layers:
            for s in config.seeds:
                cells += [(e, "emotion", layer, a, s) for a in steered]
    n_rand_runs = len(config.emotions) * config.random_max_cells * len(config.seeds) if config.random_control else 0
    total = len(cells) + n_rand_runs
    cache = CellCache(ensure_writable_dir(cache_dir) if cache_dir is not None else None)
    base_key = {"model": _model_key(model), "prompts": texts_hash(prompts), "scorers": _scorer_key(scorers),
                "hook_kind": config.hook_kind, "scale": config.scale, "positions": config.positions}
    plain: dict[int, object] = {}  # seed -> unsteered Generation, shared by the emotions' baseline cells

    def gen_cfg(seed: int) -> GenerationConfig:
        return GenerationConfig(**{**config.generation.to_dict(), "seed": seed})

    def spec_for(e: str, layer: int, alpha: float) -> SteeringSpec:
        hook = block_hook(config.hook_kind, layer)
        return SteeringSpec(hook, vectors[(e, layer)].detach().float(), alpha, config.scale, norms.get(layer), label=f"{e}:emotion")

    def cell_rows_of(e, direction, layer, alpha, seed, g, added, scores) -> list[dict]:
        """One cell's rows (a row per prompt) from its generation ``g`` and ``scores`` (column -> per-prompt values)."""
        return [{"emotion": e, "direction": direction, "layer": layer, "hook": block_hook(config.hook_kind, layer) if layer >= 0 else "",
                 "alpha": alpha, "scale": config.scale, "added_norm": added, "seed": seed, "prompt_idx": i,
                 "split": split_of[i], "direction_idx": -1, "prompt": p, "text": t, "n_new_tokens": len(ids),
                 **{c: v[i] for c, v in scores.items()}}
                for i, (p, t, ids) in enumerate(zip(prompts, g.continuations, g.new_tokens))]

    done = 0
    found: dict[tuple, list[dict]] = {}
    missing: dict[tuple[str, int], list[tuple]] = {}  # (emotion, seed) -> steered cells still to generate
    keys: dict[tuple, tuple[dict, str]] = {}
    for cell in cells:
        e, direction, layer, alpha, seed = cell
        key = {**base_key, "emotion": e, "direction": direction, "layer": layer, "alpha": alpha, "seed": seed,
               "generation": gen_cfg(seed).to_dict(), "mean_norm": norms.get(layer),
               "vector": tensor_hash(vectors[(e, layer)]) if direction == "emotion" else None}
        keys[cell] = (key, cell_file_name(e, direction, layer, alpha, seed))
        got = cache.load(keys[cell][1], key)
        if got is not None:
            found[cell] = got
            done += 1
        elif direction == "emotion":
            missing.setdefault((e, seed), []).append(cell)
    if progress is not None and done:
        progress(done, total)
    for cell in cells:  # unsteered baselines: one generation per seed, shared by the emotions
        e, direction, layer, alpha, seed = cell
        if direction != "none" or cell in found:
            continue
        if seed not in plain:
            plain[seed] = generate(model, prompts, [], positions=config.positions, config=gen_cfg(seed))
        g = plain[seed]
        found[cell] = cell_rows_of(e, direction, layer, alpha, seed, g, 0.0,
                                   score_texts(g.continuations, scorers, prompts=prompts, mask_emotion=e))
        cache.save(keys[cell][1], keys[cell][0], found[cell])
        done += 1
        if progress is not None:
            progress(done, total)
    for (e, seed), todo in missing.items():
        # every missing layer × α cell of this emotion and seed in one batched call: rows = prompt × cell
        specs = [spec_for(e, layer, alpha) for _, _, layer, alpha, _ in todo]
        g = generate_row_vectors(model, prompts, [sp.hook for sp in specs], torch.stack([sp.added_vector() for sp in specs]),
                                 positions=config.positions,
                                 config=GenerationConfig(**{**gen_cfg(seed).to_dict(), "batch_size": max(config.generation.batch_size, 96)}))
        n_c, n_p = len(todo), len(prompts)
        order = [i * n_c + c for c in range(n_c) for i in range(n_p)]  # prompt-major rows -> cell-major
        texts = [g.continuations[k] for k in order]
        scores = score_texts(texts, scorers, prompts=prompts * n_c, mask_emotion=e)  # one scoring pass per emotion and seed
        for c, (cell, sp) in enumerate(zip(todo, specs)):
            ks = order[c * n_p:(c + 1) * n_p]
            gc = type(g)(tuple(prompts), tuple(g.continuations[k] for k in ks), tuple(g.new_tokens[k] for k in ks), g.seed,
                         g.positions, g.config, (sp.describe(),))
            found[cell] = cell_rows_of(*cell, gc, sp.added_norm,
                                       {col: v[c * n_p:(c + 1) * n_p] for col, v in scores.items()})
            cache.save(keys[cell][1], keys[cell][0], found[cell])
            done += 1
            if progress is not None:
                progress(done, total)
    rows: list[dict] = [r for cell in cells for r in found[cell]]
    df = _expand_baseline(pd.DataFrame(rows), config.emotions, layers, config.hook_kind)
    agg = aggregate(df, config)

    rand_rows: list[dict] = []
    rand_effects: list[dict] = []
    if config.random_control:
        for e in config.emotions:
            target = config.target(e)
            sel = agg[(agg.emotion == e) & (agg.split == "selection") & (agg.alpha != 0)]
            pool = sel[sel.candidate] if sel.candidate.any() else sel
            chosen = pool.sort_values(["effect", "layer", "alpha"], ascending=[False, True, True]).head(config.random_max_cells)
            for c in chosen.itertuples():
                layer, alpha = int(c.layer), float(c.alpha)
                spec = spec_for(e, layer, alpha)
                for seed in config.seeds:
                    dirs = random_directions(config.n_random, model.cfg.d_model, config.random_seed + 1000 * layer)
                    vecs = dirs * spec.added_norm
                    key = {**base_key, "emotion": e, "direction": "random", "layer": layer, "alpha": alpha, "seed": seed,
                           "generation": gen_cfg(seed).to_dict(), "added_norm": spec.added_norm, "n_random": config.n_random,
                           "random_seed": config.random_seed, "eval_prompts": texts_hash(eval_prompts)}
                    name = cell_file_name(e, f"random{config.n_random}", layer, alpha, seed)
                    cell_rows = cache.load(name, key)
                    if cell_rows is None:
                        g = generate_row_vectors(model, eval_prompts, spec.hook, vecs, positions=config.positions,
                                                 config=GenerationConfig(**{**gen_cfg(seed).to_dict(),
                                                                            "batch_size": max(config.generation.batch_size, 64)}))
                        scores = score_texts(g.continuations, scorers, prompts=list(g.prompts), mask_emotion=e)
                        cell_rows = [{"emotion": e, "direction": "random", "layer": layer, "hook": spec.hook, "alpha": alpha,
                                      "scale": config.scale, "added_norm": float(vecs[k % config.n_random].norm()), "seed": seed,
                                      "prompt_idx": eval_idx[k // config.n_random], "split": "evaluation",
                                      "direction_idx": k % config.n_random, "prompt": p, "text": t, "n_new_tokens": len(ids),
                                      **{col: v[k] for col, v in scores.items()}}
                                     for k, (p, t, ids) in enumerate(zip(g.prompts, g.continuations, g.new_tokens))]
                        cache.save(name, key, cell_rows)
                    rand_rows += cell_rows
                    done += 1
                    if progress is not None:
                        progress(min(done, total), total)
                _score_random(agg, df, pd.DataFrame(rand_rows), e, layer, alpha, target, rand_effects)
    if progress is not None:
        progress(total, total)
    agg["usable"] = _usable(agg)
    all_rows = pd.concat([df, pd.DataFrame(rand_rows)], ignore_index=True) if rand_rows else df
    extra = {"n_prompts": len(prompts), "n_cells": len(cells), "n_random_runs": len({(r["emotion"], r["layer"], r["alpha"], r["seed"])
                                                                                      for r in rand_rows}),
             "splits": {"method": "interp.splits.split_indices by prompt text", "seed": config.split_seed,
                        "selection_fraction": config.selection_fraction, "selection": sel_idx, "evaluation": eval_idx,
                        "chosen_on": "selection (candidates, best cell)", "reported_on": "evaluation (effects, random control)"},
             "masking": {"placeholder": "thing", "suffix": "_masked",
                         "why": "a neutral placeholder keeps word counts (NRC per-word rates, distinct-n, VADER windows) aligned"},
             "cache": cache.describe(), "mean_resid_norms": norms,
             "vector_norms": {f"{e}@{layer}": float(vectors[(e, layer)].norm()) for e in config.emotions for layer in layers}}
    return SweepResult(all_rows, agg, config.to_dict(), extra, pd.DataFrame(rand_effects))


def _score_random(agg: pd.DataFrame, df: pd.DataFrame, rand: pd.DataFrame, emotion: str, layer: int, alpha: float,
                  target: str, sink: list[dict]) -> None:
    """Fill the random-direction columns of the cell's evaluation row (and mark the selection row as checked).

    A target without a masked twin (its scorer is not maskable, e.g. the Japanese ones) uses the raw score for the
    masked columns too, as :func:`steering.sweep_stats.aggregate` does.
    """
    tm = masked_column(target) if masked_column(target) in df.columns else target
    base = df[(df.emotion == emotion) & (df.direction == "emotion") & (df.layer == layer) & (df.alpha == 0) & (df.split == "evaluation")]
    emo = df[(df.emotion == emotion) & (df.direction == "emotion") & (df.layer == layer) & (df.alpha == alpha) & (df.split == "evaluation")]
    r = rand[(rand.emotion == emotion) & (rand.layer == layer) & (rand.alpha == alpha)]
    b = base.set_index(["prompt_idx", "seed"])
    out = {}
    for col, tag in ((target, ""), (tm, "_masked")):
        e_eff = float(np.mean(emo.set_index(["prompt_idx", "seed"])[col].to_numpy(float) - b.loc[emo.set_index(["prompt_idx", "seed"]).index][col].to_numpy(float)))
        effs = []
        for j, part in r.groupby("direction_idx", sort=True):
            p = part.set_index(["prompt_idx", "seed"])
            effs.append(float(np.mean(p[col].to_numpy(float) - b.loc[p.index][col].to_numpy(float))))
        out[tag] = RandomControl(e_eff, tuple(effs))
    for j in range(out[""].n):
        sink.append({"emotion": emotion, "layer": layer, "alpha": alpha, "split": "evaluation", "direction_idx": j,
                     "effect": out[""].random_effects[j], "effect_masked": out["_masked"].random_effects[j]})
    m = (agg.emotion == emotion) & (agg.layer == layer) & (agg.alpha == alpha)
    ev = m & (agg.split == "evaluation")
    agg.loc[m, "random_checked"] = True
    agg.loc[ev, "random_n"] = out[""].n
    agg.loc[ev, "random_p"], agg.loc[ev, "random_p_masked"] = out[""].p, out["_masked"].p
    agg.loc[ev, "random_p95"], agg.loc[ev, "random_p95_masked"] = out[""].p95, out["_masked"].p95
    agg.loc[ev, "random_mean"] = float(np.mean(out[""].random_effects))
    agg.loc[ev, "random_mean_masked"] = float(np.mean(out["_masked"].random_effects))


def _usable(agg: pd.DataFrame) -> pd.Series:
    """Candidate on the selection split and random control beaten (raw and masked) on the evaluation split; same flag on both rows."""
    key = ["emotion", "layer", "alpha"]
    sel = agg[agg.split == "selection"].set_index(key)
    ev = agg[agg.split == "evaluation"].set_index(key)
    ok = sel.candidate.reindex(ev.index, fill_value=False) & (ev.random_p < 0.05) & (ev.random_p_masked < 0.05)
    ok = ok.fillna(False)
    return pd.Series([bool(ok.get(tuple(r), False)) for r in agg[key].itertuples(index=False)], index=agg.index)


def _expand_baseline(df: pd.DataFrame, emotions: Sequence[str], layers: Sequence[int], hook_kind: str) -> pd.DataFrame:
    """Copy each emotion's α = 0 generations into each of its layers (direction ``emotion``) so each cell has its baseline rows."""
    base = df[df.direction == "none"]
    parts = [df[df.direction != "none"]]
    for e in emotions:
        b_e = base[base.emotion == e]
        for layer in layers:
            b = b_e.copy()
            b["direction"], b["layer"], b["hook"] = "emotion", layer, block_hook(hook_kind, layer)
            parts.append(b)
    return pd.concat(parts, ignore_index=True)


def extract_emotion_vectors(model, out_dir: str | Path, emotions: Sequence[str], layers: Sequence[int], *,
                            hook_kind: str = "resid_pre", profile: str = "baseline", method: str = "sentence_end",
                            contrast: str = "neutral") -> dict[tuple[str, int], EmotionVector]:
    """Extract ``profile`` activations at ``hook_kind`` of ``layers`` into ``out_dir`` and compute emotion vectors."""
    ds = load_dataset(profile)
    check_emotions(emotions, ds.emotions)
    layers = [validate_layer(layer, model.cfg.n_layers) for layer in layers]
    hooks = [block_hook(hook_kind, layer) for layer in layers]
    store = extract_activations(model, ds, out_dir, hooks=hooks, batch_size=32)
    out = {}
    for layer, hook in zip(layers, hooks):
        vecs = compute_emotion_vectors(store, hook, method=method, contrast=contrast, emotions=list(emotions))
        out.update({(e, layer): vecs[e] for e in emotions})
    return out


def vectors_from_file(path: str | Path, model, emotions: Sequence[str], layers: Sequence[int], *, hook_kind: str = "resid_pre",
                      allow_hook_mismatch: bool = False, allow_other_model: bool = False) -> dict[tuple[str, int], EmotionVector]:
    """Pick saved vectors (``steering.vectors.save_vectors``) for every emotion × layer, checked against ``model``
    (width, hook, and the model name + weight hash in their provenance unless ``allow_other_model``)."""
    saved = load_vectors(path)
    out = {}
    for e in emotions:
        for layer in layers:
            layer = validate_layer(layer, model.cfg.n_layers)
            hook = block_hook(hook_kind, layer)
            cands = [v for v in saved if v.emotion == e and (v.hook == hook or (allow_hook_mismatch and v.layer == layer))]
            if not cands:
                have = sorted({f"{v.emotion}@{v.hook}" for v in saved})
                other = [v for v in saved if v.emotion == e]
                if other and other[0].d_model != model.cfg.d_model:
                    other[0].check_compatible(model)  # raises the d_model mismatch error
                same_layer = [v for v in other if v.layer == layer]
                if same_layer and not allow_hook_mismatch:
                    same_layer[0].check_compatible(model, hook)  # same layer, other hook kind: the hook mismatch error
                raise ConfigError(f"{str(path)!r} has no {e!r} vector at layer {layer} ({hook}); it has: {', '.join(have)}; "
                                  "pick one of those layers or compute vectors at this one")
            cands[0].check_compatible(model, None if allow_hook_mismatch else hook, allow_other_model=allow_other_model)
            out[(e, layer)] = cands[0]
    return out


def check_emotions(emotions: Sequence[str], available: Sequence[str]) -> None:
    """Raise unless every emotion is a non-neutral emotion of the dataset."""
    ok = [e for e in available if e != "neutral"]
    for e in emotions:
        if e not in ok:
            raise ConfigError(f"unknown emotion {e!r}; choose from {', '.join(ok)}")
