"""Per-label steering controls for the tone agent: a vector, its layer and the calibrated usable α window.

A :class:`LabelControl` comes from a stored layer × α sweep (:class:`steering.sweep.SweepResult`) and its vectors:

* **layer** — the best cell's layer when that cell is usable, else the layer holding most usable cells, else (no usable
  cell: ``usable=False``) the best cell's layer;
* **window** — ``[0, alpha_hi]`` with ``alpha_hi`` the largest positive usable α at that layer (no usable cell: the best
  cell's α). Usable means the sweep's rule (:data:`steering.sweep.WINDOW_RULE`): significant on the selection prompts,
  perplexity and repetition bounded, and beating norm-matched random directions on the evaluation prompts;
* **calibration** — ``base`` (the α = 0 mean of the target score) and ``top`` (the mean at ``alpha_hi``), both on the
  sweep's *selection* prompts, which define the level scale of :mod:`steering.tone`: level = (score − base) / (top − base).

:func:`calibrate_controls` runs a small sweep when none is stored and saves it (with the vectors) so
:func:`controls_from_run` can read it back.
"""

from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

import torch
from jaxtyping import Float
from torch import Tensor

from interp.attributes import default_data
from interp.errors import ConfigError
from interp.hook_names import block_hook
from steering.generation import GenerationConfig
from steering.hooks import SteeringSpec
from steering.sweep import SweepConfig, SweepResult, default_sweep_layers, extract_emotion_vectors, run_sweep, vectors_from_file
from steering.sweep_analysis import sweep_scorers
from steering.vectors import EmotionVector, save_vectors

CALIBRATION_DIR = "calibration"
"""Sub-folder of a tone run holding ``vectors.safetensors`` and the calibration sweep (``sweep/``)."""


@dataclass(frozen=True)
class LabelControl:
    """How the agent steers toward one label.

    Attributes:
        label: the label (an emotion).
        vector: [d_model] direction added at ``hook``.
        layer, hook: where it is added (residual stream).
        alpha_hi: top of the usable window ``[0, alpha_hi]`` (unit of ``scale``).
        scale: ``raw`` / ``unit`` / ``mean_norm`` (:mod:`steering.hooks`); ``mean_norm`` needs ``mean_norm``.
        target: score column steering toward the label raises (attribute registry).
        base, top: calibration means of ``target`` at α = 0 and at ``alpha_hi`` (selection prompts).
        base_ppl: median perplexity at α = 0 (selection prompts), the fluency reference of the closed loop.
        usable: whether the window comes from usable cells (False: the best cell, flagged).
        source: where the vector and window come from (vector file and sweep folder, or ``calibration``).
        chat: whether the calibration prompts were wrapped in the chat template.
    """

    label: str
    vector: Float[Tensor, " d_model"]
    layer: int
    hook: str
    alpha_hi: float
    scale: str
    target: str
    base: float
    top: float
    base_ppl: float
    usable: bool
    source: str
    chat: bool = False
    mean_norm: float | None = None

    @property
    def span(self) -> float:
        """``top − base``: the score change the window's top buys (≤ 0: the label cannot be controlled)."""
        return self.top - self.base

    def level(self, score: float) -> float:
        """Achieved level of a score on the calibrated scale, clipped to [0, 1] (NaN when the span is not positive)."""
        if not self.span > 0:
            return float("nan")
        return float(min(max((score - self.base) / self.span, 0.0), 1.0))

    def spec(self, alpha: float) -> SteeringSpec:
        return SteeringSpec(self.hook, self.vector, alpha, self.scale, self.mean_norm, label=self.label)

    def added(self, alpha: float) -> Float[Tensor, " d_model"]:
        """The vector added to the residual at ``alpha`` (zeros at α = 0)."""
        return self.spec(alpha).added_vector() if alpha != 0 else torch.zeros_like(self.vector, dtype=torch.float32)

    def describe(self) -> dict:
        d = {k: v for k, v in asdict(self).items() if k != "vector"}
        d["vector_norm"] = float(self.vector.norm())
        return d


def _pick_layer(result: SweepResult, label: str) -> tuple[int, float, bool]:
    """(layer, alpha_hi, usable) of ``label`` (rules in the module docstring)."""
    best = result.best_cell(label)
    window = [(layer, a) for layer, a in result.usable_window(label).cells if a > 0]
    if not window:
        return best.cell.layer, best.cell.alpha, False
    if best.usable and best.cell.alpha > 0:
        layer = best.cell.layer
    else:
        layer = Counter(layer for layer, _ in window).most_common(1)[0][0]
    return layer, max(a for lay, a in window if lay == layer), True


def _selection_row(result: SweepResult, label: str, layer: int, alpha: float) -> dict:
    a = result.aggregates
    rows = a[(a.emotion == label) & (a.direction == "emotion") & (a.layer == layer) & (a.alpha == alpha)]
    if "split" in rows.columns and (rows.split == "selection").any():
        rows = rows[rows.split == "selection"]
    if rows.empty:
        raise ConfigError(f"the sweep has no cell {label} L{layer} α={alpha:g}; rerun the sweep")
    return rows.iloc[0].to_dict()


def controls_from_sweep(result: SweepResult, vectors: dict[str, EmotionVector], *, source: str = "") -> dict[str, LabelControl]:
    """One :class:`LabelControl` per swept label that has a vector at its chosen layer and a positive window.

    Args:
        result: a stored sweep (:meth:`SweepResult.load`).
        vectors: label → the vector at the sweep's hook kind of each layer, keyed ``f"{label}@{layer}"``.
    """
    c = result.config
    out = {}
    norms = {int(k): float(v) for k, v in (result.extra.get("mean_resid_norms") or {}).items()}
    for label in c["emotions"]:
        layer, hi, usable = _pick_layer(result, label)
        vec = vectors.get(f"{label}@{layer}")
        if vec is None or not hi > 0:
            continue
        row, base_row = _selection_row(result, label, layer, hi), _selection_row(result, label, layer, 0.0)
        out[label] = LabelControl(label, vec.vector.detach().float(), layer, block_hook(c["hook_kind"], layer), float(hi), c["scale"],
                                  row["target"], float(row["baseline"]), float(row["mean"]), float(base_row["median_ppl"]), usable,
                                  source, bool(c["generation"].get("chat", False)), norms.get(layer))
    return out


def _find(run_dir: Path, candidates: Sequence[str], what: str, fix: str) -> Path:
    for c in candidates:
        if (run_dir / c).exists():
            return run_dir / c
    raise ConfigError(f"{str(run_dir)!r} holds no {what} (looked for {', '.join(candidates)}); {fix}")


def run_files(run_dir: str | Path, *, vectors: str | Path | None = None) -> tuple[Path, Path]:
    """(sweep folder, vector file) of a run folder (layouts in :func:`controls_from_run`); checked without loading a model."""
    d = Path(run_dir)
    if not d.is_dir():
        raise ConfigError(f"run folder {str(d)!r} does not exist; give a study or tone run folder, or calibrate (omit --run)")
    sweep_dir = _find(d, (f"{CALIBRATION_DIR}/sweep", "sweep/results", "results"), "stored sweep (summary.json)",
                      "run 'emotion-circuits sweep' or a study with the sweep phase, or calibrate (omit --run)")
    if not (sweep_dir / "summary.json").exists():
        raise ConfigError(f"{str(sweep_dir)!r} has no summary.json; the sweep did not finish — rerun it")
    if vectors is not None:
        if not Path(vectors).exists():
            raise ConfigError(f"vector file {str(vectors)!r} does not exist; give the .safetensors file the sweep used")
        return sweep_dir, Path(vectors)
    return sweep_dir, _find(d, (f"{CALIBRATION_DIR}/vectors.safetensors", "vectors/vectors/sentence_end_neutral.safetensors"),
                            "emotion vectors", "pass the vector file the sweep used (--vectors)")


def controls_from_run(model, run_dir: str | Path, *, vectors: str | Path | None = None) -> dict[str, LabelControl]:
    """Controls from a run folder: a tone calibration (``calibration/``), a study (``vectors/vectors/…``, ``sweep/results``)
    or a ``sweep`` command run (``results/``; its vectors are not stored, so pass ``vectors``). Vectors are checked against
    ``model`` (width, hook, name and weight hash)."""
    sweep_dir, vec_file = run_files(run_dir, vectors=vectors)
    result = SweepResult.load(sweep_dir)
    c = result.config
    vecs = {}
    for label in c["emotions"]:
        layer, _, _ = _pick_layer(result, label)
        got = vectors_from_file(vec_file, model, [label], [layer], hook_kind=c["hook_kind"])
        vecs[f"{label}@{layer}"] = got[(label, layer)]
    return controls_from_sweep(result, vecs, source=f"{vec_file} + {sweep_dir}")


def calibration_layers(n_layers: int) -> list[int]:
    """Default calibration layers: the second and third of :func:`steering.sweep.default_sweep_layers` (0.3 and 0.5 of the depth)."""
    layers = default_sweep_layers(n_layers)
    return layers[1:3] or layers


@dataclass(frozen=True)
class CalibrationConfig:
    """A small calibration sweep (see :class:`steering.sweep.SweepConfig` for the rules it inherits).

    Attributes:
        labels: labels to calibrate (default: every tone label).
        layers: layers (default :func:`calibration_layers`).
        alphas: positive α values in the unit of ``scale`` (0 is added); the default ``mean_norm`` unit adds α × a typical
            residual norm (on smollm2-135m in the chat template, raw α ≤ 4 at layer 9 left replies nearly unchanged).
        max_new_tokens, chat: generation settings (the agent replies with the same).
        n_random: norm-matched random directions at the best cell (≥ 20).
        profile: dataset profile the vectors are extracted from.
    """

    labels: tuple[str, ...] = field(default_factory=lambda: default_data().contrast_labels)
    layers: tuple[int, ...] = ()
    alphas: tuple[float, ...] = (0.125, 0.25, 0.5)
    scale: str = "mean_norm"
    max_new_tokens: int = 24
    chat: bool = True
    n_random: int = 20
    profile: str = "baseline"
    seed: int = 0

    def __post_init__(self) -> None:
        if not self.alphas or any(not a > 0 for a in self.alphas):
            raise ConfigError(f"calibration alphas must be positive (the window is [0, alpha_hi]), got {list(self.alphas)}")


def calibrate_controls(model, prompts: Sequence[str], config: CalibrationConfig, out_dir: str | Path, *,
                       progress: Callable[[int, int], None] | None = None) -> dict[str, LabelControl]:
    """Extract vectors, sweep ``config`` on ``prompts`` (split into selection / evaluation halves) and save both under
    ``out_dir`` (``vectors.safetensors``, ``sweep/``, ``activations/``); returns the controls read from them."""
    out = Path(out_dir)
    layers = list(config.layers) or calibration_layers(model.cfg.n_layers)
    vecs = extract_emotion_vectors(model, out / "activations", config.labels, layers, profile=config.profile)
    save_vectors(list(vecs.values()), out / "vectors.safetensors")
    sweep_cfg = SweepConfig(emotions=tuple(config.labels), layers=tuple(layers), alphas=tuple(config.alphas), scale=config.scale,
                            n_random=config.n_random, random_max_cells=1, random_seed=config.seed + 1234, split_seed=config.seed,
                            generation=GenerationConfig(max_new_tokens=config.max_new_tokens, chat=config.chat, seed=config.seed))
    scorers = sweep_scorers(model, ("sentiment", "keywords", "fluency"), chat=config.chat)
    result = run_sweep(model, prompts, {k: v.vector for k, v in vecs.items()}, sweep_cfg, scorers, cache_dir=out / "cells",
                       progress=progress)
    result.save(out / "sweep")
    picked = {f"{e}@{layer}": vecs[(e, layer)] for e in config.labels for layer in layers}
    return controls_from_sweep(result, picked, source=f"calibration ({out})")
