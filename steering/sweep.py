"""Layer × α steering sweeps with controls, a tidy per-generation table and per-cell statistics.

Every sweep has two controls at the same added norms: α = 0 (the unsteered model; one
generation shared by every layer, since adding a zero vector is a no-op) and a random
direction (a seeded Gaussian direction per layer, scaled so that ``|α|`` adds exactly the norm
the emotion vector adds at ``α``; a random direction's sign is arbitrary, so it is run at ``|α|``).

Per cell (emotion, direction, layer, α) the aggregates hold the mean target score with a
bootstrap CI, the effect over α = 0 with a paired bootstrap CI (pairs = same prompt and seed)
and a paired sign-flip permutation p-value (Holm-corrected within each emotion's steered
cells), and the perplexity ratio to α = 0 (geometric mean of per-text ratios, with CI).
The *usable window* is the set of steered cells whose target effect is positive and
significant (Holm p < 0.05) while the perplexity ratio stays ≤ ``ppl_bound``.
"""

import json
import math
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from interp.errors import ConfigError
from interp.hook_names import block_hook, validate_layer
from interp.io import atomic_write_json, atomic_write_text, atomic_write_with, ensure_writable_dir, read_json
from interp.stats import Estimate, bootstrap_ci, bootstrap_diff_ci, holm_bonferroni, sign_flip_pvalue
from steering.generation import GenerationConfig, generate
from steering.hooks import SCALE_MODES, SteeringSpec, check_alpha, mean_resid_norm

TARGET_SCORES: dict[str, str] = {"gratitude": "vader_compound", "anger": "nrc_anger", "apology": "kw_apology"}
"""Default score that steering toward an emotion should raise."""


@dataclass(frozen=True)
class SweepConfig:
    """What a sweep runs.

    Attributes:
        emotions: emotions to steer toward.
        layers: layers (the hook is ``hook_kind`` at each).
        alphas: coefficients, in the unit of ``scale``; 0 is always added.
        hook_kind: residual hook kind (``resid_pre``, ``resid_post``…).
        scale: ``raw`` (α × the emotion vector), ``unit`` or ``mean_norm`` (see :mod:`steering.hooks`).
        positions: steered positions (``all``, ``prompt``, ``generated``).
        seeds: one generation per prompt and seed.
        random_control: run the random-direction control.
        ppl_bound: max perplexity ratio to α = 0 for the usable window.
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
    ppl_bound: float = 1.5
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


def _cell_key(emotion: str, direction: str, layer: int, alpha: float, seed: int) -> str:
    return f"{emotion}__{direction}__L{layer}__a{alpha:+g}__s{seed}"


@dataclass(frozen=True)
class SweepResult:
    """Tidy rows (one per generation), per-cell aggregates, the usable window and the best cells."""

    rows: pd.DataFrame
    aggregates: pd.DataFrame
    config: dict
    extra: dict = field(default_factory=dict)

    def usable_window(self, emotion: str | None = None) -> pd.DataFrame:
        a = self.aggregates
        a = a[(a.direction == "emotion") & a.usable]
        return a if emotion is None else a[a.emotion == emotion]

    def best_cell(self, emotion: str) -> dict:
        """The usable cell with the largest effect (else the steered cell with the largest effect, flagged)."""
        a = self.aggregates
        cand = a[(a.emotion == emotion) & (a.direction == "emotion") & (a.alpha != 0)]
        if cand.empty:
            raise ConfigError(f"the sweep has no steered cells for {emotion!r}")
        usable = cand[cand.usable]
        pick = (usable if not usable.empty else cand).sort_values("effect", ascending=False).iloc[0]
        ctrl = a[(a.emotion == emotion) & (a.direction == "random") & (a.layer == pick.layer) & (a.alpha == abs(pick.alpha))]
        out = {"cell": _record(pick), "usable": bool(pick.usable), "random_control": _record(ctrl.iloc[0]) if not ctrl.empty else None}
        return out

    def summary(self) -> dict:
        return {"config": self.config, **self.extra,
                "best": {e: self.best_cell(e) for e in self.config["emotions"]},
                "usable_window": {e: [[int(r.layer), float(r.alpha)] for r in self.usable_window(e).itertuples()]
                                  for e in self.config["emotions"]}}

    def to_dict(self) -> dict:
        return self.summary()

    def save(self, out_dir: str | Path) -> Path:
        """Write ``generations.parquet`` (+ ``.csv``), ``aggregates.csv`` and ``summary.json`` atomically."""
        d = ensure_writable_dir(out_dir)
        atomic_write_with(d / "generations.parquet", lambda p: self.rows.to_parquet(p, index=False))
        atomic_write_text(d / "generations.csv", self.rows.to_csv(index=False))
        atomic_write_text(d / "aggregates.csv", self.aggregates.to_csv(index=False))
        atomic_write_json(d / "summary.json", self.summary())
        return d

    @classmethod
    def load(cls, out_dir: str | Path) -> "SweepResult":
        d = Path(out_dir)
        s = read_json(d / "summary.json")
        extra = {k: v for k, v in s.items() if k not in ("config", "best", "usable_window")}
        return cls(pd.read_parquet(d / "generations.parquet"), pd.read_csv(d / "aggregates.csv"), s["config"], extra)

    def figure(self, kind: str = "effect", emotion: str | None = None):
        from steering.sweep_figures import sweep_heatmap

        return sweep_heatmap(self, kind=kind, emotion=emotion or self.config["emotions"][0])


def _nan_stat(fn, values) -> float:
    x = np.asarray(values, dtype=float)
    return float(fn(x)) if np.isfinite(x).any() else float("nan")


def _record(row) -> dict:
    return {k: (v.item() if hasattr(v, "item") else v) for k, v in row.to_dict().items()}


def aggregate(rows: pd.DataFrame, config: SweepConfig) -> pd.DataFrame:
    """Per-cell statistics (see module docstring); α = 0 rows are the baseline of every cell."""
    out = []
    for emotion in config.emotions:
        target = config.target(emotion)
        sub = rows[rows.emotion == emotion]
        base = sub[sub.alpha == 0].drop_duplicates(["prompt_idx", "seed"]).set_index(["prompt_idx", "seed"])
        for (direction, layer, alpha), cell in sub.groupby(["direction", "layer", "alpha"], sort=True):
            cell = cell.set_index(["prompt_idx", "seed"])
            cell = cell.loc[base.index.intersection(cell.index)]
            b = base.loc[cell.index]
            y, y0 = cell[target].to_numpy(float), b[target].to_numpy(float)
            mean = bootstrap_ci(y, n_boot=config.n_boot, seed=0)
            eff = bootstrap_diff_ci(y, y0, paired=True, n_boot=config.n_boot, seed=0) if alpha != 0 else Estimate(0.0, 0.0, 0.0)
            p = sign_flip_pvalue(y - y0, n_perm=config.n_boot, seed=0) if alpha != 0 else 1.0
            lr = np.log(cell.perplexity.to_numpy(float)) - np.log(b.perplexity.to_numpy(float))
            lr = lr[np.isfinite(lr)]
            ppl = bootstrap_ci(lr, n_boot=config.n_boot, seed=0) if len(lr) else Estimate(float("nan"), float("nan"), float("nan"))
            out.append({"emotion": emotion, "direction": direction, "layer": int(layer), "alpha": float(alpha),
                        "target": target, "n": len(y), "added_norm": float(cell.added_norm.iloc[0]),
                        "mean": mean.value, "mean_lo": mean.lo, "mean_hi": mean.hi, "baseline": float(np.mean(y0)),
                        "effect": eff.value, "effect_lo": eff.lo, "effect_hi": eff.hi, "p": p,
                        "ppl_ratio": math.exp(ppl.value) if math.isfinite(ppl.value) else float("nan"),
                        "ppl_ratio_lo": math.exp(ppl.lo) if math.isfinite(ppl.lo) else float("nan"),
                        "ppl_ratio_hi": math.exp(ppl.hi) if math.isfinite(ppl.hi) else float("nan"),
                        "median_ppl": _nan_stat(np.nanmedian, cell.perplexity), "distinct_2": _nan_stat(np.nanmean, cell.distinct_2),
                        "longest_repeat": float(cell.longest_repeat.mean())})
    agg = pd.DataFrame(out)
    agg["p_holm"] = 1.0
    for emotion in config.emotions:
        for direction in agg.direction.unique():
            m = (agg.emotion == emotion) & (agg.direction == direction) & (agg.alpha != 0)
            if m.any():
                agg.loc[m, "p_holm"] = holm_bonferroni(agg.loc[m, "p"].to_numpy())
    agg["usable"] = (agg.alpha != 0) & (agg.effect > 0) & (agg.p_holm < 0.05) & (agg.ppl_ratio <= config.ppl_bound)
    return agg


def run_sweep(model, prompts: Sequence[str], vectors: dict[tuple[str, int], torch.Tensor], config: SweepConfig,
              scorers: Sequence, *, cache_dir: str | Path | None = None,
              progress: Callable[[int, int], None] | None = None) -> SweepResult:
    """Generate and score every cell of the sweep.

    Args:
        model: the bridge (unsteered weights; hooks are added per cell and removed after).
        prompts: neutral prompts.
        vectors: ``(emotion, layer) → [d_model]`` emotion vector at ``config.hook_kind`` of that layer.
        config: the sweep settings.
        scorers: :class:`~interp.evaluators.Scorer` objects; must provide ``perplexity`` and every target column.
        cache_dir: per-cell results are kept here so an interrupted sweep resumes where it stopped.
        progress: called as ``progress(done, total)`` after each cell.
    """
    from interp.evaluators import score_texts

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
    alphas = sorted({float(a) for a in config.alphas} | {0.0})
    steered = [a for a in alphas if a != 0]
    rand_alphas = sorted({abs(a) for a in steered})
    norms = {layer: mean_resid_norm(model, block_hook(config.hook_kind, layer), prompts) for layer in layers} \
        if config.scale == "mean_norm" else {}
    cells: list[tuple[str, str, int, float, int]] = [("*", "none", -1, 0.0, s) for s in config.seeds]
    for e in config.emotions:
        for layer in layers:
            for s in config.seeds:
                cells += [(e, "emotion", layer, a, s) for a in steered]
                if config.random_control:
                    cells += [(e, "random", layer, a, s) for a in rand_alphas]
    cache = ensure_writable_dir(cache_dir) if cache_dir is not None else None
    gen_cfg = config.generation
    rows: list[dict] = []
    for done, (e, direction, layer, alpha, seed) in enumerate(cells, start=1):
        key = _cell_key(e, direction, layer, alpha, seed)
        path = cache / f"{key}.json" if cache is not None else None
        if path is not None and path.exists():
            rows += read_json(path)
        else:
            specs, added = [], 0.0
            if direction != "none":
                hook = block_hook(config.hook_kind, layer)
                v = vectors[(e, layer)].detach().float()
                if direction == "random":
                    r = random_direction(v.shape[0], config.random_seed + layer)
                    v = r * v.norm() if config.scale == "raw" else r
                spec = SteeringSpec(hook, v, alpha, config.scale, norms.get(layer), label=f"{e}:{direction}")
                specs, added = [spec], spec.added_norm
            g = generate(model, prompts, specs, positions=config.positions,
                         config=GenerationConfig(**{**gen_cfg.to_dict(), "seed": seed}))
            scores = score_texts(g.continuations, scorers, prompts=list(prompts))
            cell_rows = [{"emotion": e, "direction": direction, "layer": layer, "hook": block_hook(config.hook_kind, layer) if layer >= 0 else "",
                          "alpha": alpha, "scale": config.scale, "added_norm": added, "seed": seed, "prompt_idx": i,
                          "prompt": p, "text": t, "n_new_tokens": len(ids), **{c: v[i] for c, v in scores.items()}}
                         for i, (p, t, ids) in enumerate(zip(g.prompts, g.continuations, g.new_tokens))]
            if path is not None:
                atomic_write_text(path, json.dumps(cell_rows, allow_nan=True))
            rows += cell_rows
        if progress is not None:
            progress(done, len(cells))
    df = _expand_baseline(pd.DataFrame(rows), config.emotions, layers, config.hook_kind)
    for e in config.emotions:
        if config.target(e) not in df.columns:
            raise ConfigError(f"target score {config.target(e)!r} for {e!r} is not produced by the scorers")
    if "perplexity" not in df.columns:
        raise ConfigError("a sweep needs the fluency scorer (perplexity column) for the usable window")
    extra = {"n_prompts": len(prompts), "n_cells": len(cells), "mean_resid_norms": norms,
             "vector_norms": {f"{e}@{layer}": float(vectors[(e, layer)].norm()) for e in config.emotions for layer in layers}}
    return SweepResult(df, aggregate(df, config), config.to_dict(), extra)


def _expand_baseline(df: pd.DataFrame, emotions: Sequence[str], layers: Sequence[int], hook_kind: str) -> pd.DataFrame:
    """Copy the shared α = 0 generations into every (emotion, direction, layer) so each cell has its baseline rows."""
    base = df[df.direction == "none"]
    parts = [df[df.direction != "none"]]
    for e in emotions:
        for direction in df[df.direction != "none"].direction.unique():
            for layer in layers:
                b = base.copy()
                b["emotion"], b["direction"], b["layer"], b["hook"] = e, direction, layer, block_hook(hook_kind, layer)
                parts.append(b)
    return pd.concat(parts, ignore_index=True)


def extract_emotion_vectors(model, out_dir: str | Path, emotions: Sequence[str], layers: Sequence[int], *,
                            hook_kind: str = "resid_pre", profile: str = "baseline", method: str = "sentence_end",
                            contrast: str = "neutral") -> dict[tuple[str, int], "EmotionVector"]:  # noqa: F821
    """Extract ``profile`` activations at ``hook_kind`` of ``layers`` into ``out_dir`` and compute emotion vectors."""
    from interp.activations import extract_activations
    from interp.datasets import load_dataset
    from steering.vectors import compute_emotion_vectors

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
                      allow_hook_mismatch: bool = False) -> dict[tuple[str, int], "EmotionVector"]:  # noqa: F821
    """Pick saved vectors (``steering.vectors.save_vectors``) for every emotion × layer, checked against ``model``."""
    from steering.vectors import load_vectors

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
                if other and not allow_hook_mismatch:
                    other[0].check_compatible(model, hook)  # raises the hook (or d_model) mismatch error
                raise ConfigError(f"{str(path)!r} has no {e!r} vector at {hook}; it has: {', '.join(have)}")
            cands[0].check_compatible(model, None if allow_hook_mismatch else hook)
            out[(e, layer)] = cands[0]
    return out


def check_emotions(emotions: Sequence[str], available: Sequence[str]) -> None:
    """Raise unless every emotion is a non-neutral emotion of the dataset."""
    ok = [e for e in available if e != "neutral"]
    for e in emotions:
        if e not in ok:
            raise ConfigError(f"unknown emotion {e!r}; choose from {', '.join(ok)}")
