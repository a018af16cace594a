"""Run a study's phases in order, resuming and reusing finished work.

A phase's outputs live in ``<run>/<phase>/`` and are complete once ``done.json`` (with
the phase's key) is written, last and atomically. The key hashes the model's weight
hash, the dataset hash, the phase's config section and the keys of the phases it reads.

* Rerunning a study resumes its newest unfinished run with the same config: finished
  phases are skipped, an interrupted phase is rerun (phases that support it, such as
  the steering sweep, continue from their own stored partial results).
* A new run reuses a finished phase from any earlier run of the study with the same
  key (files are hard-linked, or copied across file systems).
* ``done.json`` also lists every file the phase wrote with its size and SHA-256; a phase
  folder is skipped or reused only if every listed file verifies. A damaged folder is
  recomputed (the phase itself resumes what still verifies, e.g. activation shards).
"""

import hashlib
import json
import os
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from experiments import phase_registry
from experiments.study_config import StudyConfig
from interp.activations import ActivationStore
from interp.attributes import DEFAULT_ATTRIBUTE, DEFAULT_LANGUAGE
from interp.datasets import EmotionDataset, load_dataset
from interp.errors import ConfigError
from interp.integrity import tree_problem, tree_records
from interp.io import atomic_write_json, read_json
from interp.models import dtype_name, load_model, parse_dtype, weight_identity
from interp.run_context import RunContext, validate_name
from interp.splits import split_by_profile, split_dataset

DONE = "done.json"


def _hash(obj) -> str:
    return hashlib.sha256(json.dumps(obj, sort_keys=True, default=str).encode()).hexdigest()[:16]


@dataclass
class StudyState:
    """What phases share while a study runs: config, run folder, loaded models, phase keys."""

    cfg: StudyConfig
    ctx: RunContext
    runs_root: Path
    progress: Callable[[int, int], None] = lambda done, total: None
    models: dict = field(default_factory=dict)
    keys: dict[str, str] = field(default_factory=dict)
    dataset: object = None
    split: object = None
    """``interp.splits.DataSplit`` of ``dataset``: selection and evaluation parts (disjoint)."""

    def split_indices(self, name: str) -> list[int]:
        """Indices into ``dataset.records`` (and so into the activation store) of the ``selection`` or ``evaluation`` split."""
        return self.split.indices(name, [r.id for r in self.dataset.records])

    @property
    def spec(self):
        """The registry's data of the study's attribute and language (:class:`interp.attributes.LanguageData`)."""
        return self.cfg.language_data()

    @property
    def reference(self) -> str:
        """The reference label the others are contrasted with (``neutral`` for emotion)."""
        return self.spec.reference

    def texts(self, emotion: str, split: str) -> list[str]:
        """Texts of ``emotion`` in the named split, in dataset order."""
        return [r.text for r in self.split.part(split).by_emotion(emotion)]

    def model(self, name: str):
        if name not in self.models:
            self.models[name] = load_model(name, device=self.cfg.study.device, dtype=parse_dtype(self.cfg.study.dtype))
            self.ctx.record_model(self.models[name])
        return self.models[name]

    def phase_dir(self, phase: str) -> Path:
        return self.ctx.sub(phase)

    def store(self, model_name: str | None = None):
        """The activation store written by the extract phase (for the main model or ``model_name``)."""
        sub = "activations" if model_name in (None, self.cfg.study.model) else f"activations-{model_name}"
        return ActivationStore(self.ctx.path / "extract" / sub)


PhaseFn = Callable[[StudyState, Path], dict]

OnPhase = Callable[[str, int, int, str | None], None]
"""``on_phase(phase, index, n_phases, status)``: ``status`` is None as the phase begins (``index`` counts
from 0 among the ``n_phases`` enabled ones), then its final status (computed, reused, done earlier)."""

OnProgress = Callable[[str, int, int], None]
"""``on_progress(phase, done, total)``: steps of a phase being computed, starting with (0, 1) as its function starts."""


def phase_key(state: StudyState, phase: str, model_hash: str, dataset_hash: str) -> str:
    cfg = state.cfg
    declared = phase_registry.phase(phase)
    section = cfg.section(declared.section) if declared.section else {}
    upstream = {p: state.keys.get(p) for p in declared.prerequisites}
    extra = {"model": cfg.study.model, "seed": cfg.study.seed, "profile": cfg.study.profile,
             "split": state.split.describe() if state.split is not None else None}
    dtype = dtype_name(parse_dtype(cfg.study.dtype))
    if dtype != "float32":
        extra["dtype"] = dtype  # only when not float32, so phases finished before [study] dtype existed stay reusable
    if (cfg.study.attribute, cfg.study.language) != (DEFAULT_ATTRIBUTE, DEFAULT_LANGUAGE):
        extra["attribute"] = [cfg.study.attribute, cfg.study.language]  # likewise: only off the default
    if phase == "extract" and cfg.enabled("align"):
        extra["model_b"] = cfg.align.model_b  # extract also stores model B's activations for alignment
    return _hash({"phase": phase, "model_hash": model_hash, "dataset_hash": dataset_hash, "section": section,
                  "upstream": upstream, "extra": extra})


def phase_problem(pdir: Path, key: str) -> str | None:
    """Why the phase folder ``pdir`` cannot be trusted as finished for ``key``, or None.

    Finished means: ``done.json`` readable, its key equal to ``key``, and every file it lists present
    with the recorded size and SHA-256 (a marker without a file list, from older versions, is not trusted).
    """
    done = pdir / DONE
    if not done.exists():
        return "not finished"
    try:
        marker = read_json(done)
    except Exception:  # noqa: BLE001 - an unreadable marker just means "not finished"
        return "done.json is unreadable"
    if marker.get("key") != key:
        return "made with another config"
    if not isinstance(marker.get("files"), dict):
        return "done.json lists no files to verify"
    return tree_problem(pdir, marker["files"])


def _find_reusable(runs_root: Path, study: str, phase: str, key: str, exclude: Path) -> Path | None:
    for done in sorted((runs_root / study).glob(f"*/{phase}/{DONE}"), reverse=True):
        if done.parent.parent == exclude:
            continue
        try:
            if read_json(done).get("key") == key and phase_problem(done.parent, key) is None:
                return done.parent
        except Exception:  # noqa: BLE001 - an unreadable marker just means "not reusable"
            continue
    return None


def _link_tree(src: Path, dst: Path) -> None:
    if dst.exists():
        shutil.rmtree(dst)

    def link_or_copy(s, d):
        try:
            os.link(s, d)
        except OSError:
            shutil.copy2(s, d)

    shutil.copytree(src, dst, copy_function=link_or_copy)


def find_resumable_run(runs_root: Path, study: str, config_hash: str) -> Path | None:
    """Newest run of ``study`` with the same config that has not finished."""
    for manifest in sorted((runs_root / study).glob("*/manifest.json"), reverse=True):
        try:
            m = read_json(manifest)
        except Exception:  # noqa: BLE001
            continue
        if m.get("config_hash") == config_hash and "finished_utc" not in m:
            return manifest.parent
    return None


def run_study(cfg: StudyConfig, *, runs_root: Path = Path("runs"), phases: dict[str, PhaseFn] | None = None,
              resume: bool = True, on_phase: OnPhase | None = None,
              on_progress: OnProgress | None = None) -> tuple[RunContext, dict]:
    """Run every enabled phase; return the run context and ``{phase: status}``.

    Args:
        phases: phase name -> function; None: the functions :mod:`experiments.phase_registry` declares.
        on_phase: told as each enabled phase begins and settles (see :data:`OnPhase`).
        on_progress: told of the steps of each phase being computed (see :data:`OnProgress`).
    """
    enabled = [p for p in phase_registry.names() if cfg.enabled(p)]
    if phases is None:
        phases = {p: phase_registry.phase(p).resolve() for p in enabled}
    missing = [p for p in enabled if p not in phases]
    if missing:
        raise ConfigError(f"phase(s) {', '.join(missing)} have no phase function; remove them from [study] phases")
    state = open_study(cfg, runs_root=runs_root, resume=resume)
    model_hash, dataset_hash = weight_identity(cfg.study.model), state.dataset.hash()
    on_phase = on_phase or (lambda phase, index, n, status: None)
    on_progress = on_progress or (lambda phase, done, total: None)
    status: dict[str, str] = {}
    for i, phase in enumerate(enabled):
        on_phase(phase, i, len(enabled), None)
        state.keys[phase] = phase_key(state, phase, model_hash, dataset_hash)
        status[phase] = run_phase(state, phase, phases[phase], on_progress)
        state.ctx.record_step(phase, key=state.keys[phase], status=status[phase])
        on_phase(phase, i, len(enabled), status[phase])
    return state.ctx, status


def open_study(cfg: StudyConfig, *, runs_root: Path, resume: bool) -> StudyState:
    """The run folder (the newest unfinished run with this config when ``resume``, else a new one) with its dataset and split."""
    study = validate_name(cfg.study.name, what="[study] name")
    config = cfg.to_dict()
    config_hash = _hash(config)
    run_dir = find_resumable_run(runs_root, study, config_hash) if resume else None
    ctx = RunContext.create(study, config, root=runs_root, seed=cfg.study.seed, run_dir=run_dir)
    ctx.manifest["config_hash"] = config_hash
    ctx.manifest.pop("finished_utc", None)
    ctx.save()
    state = StudyState(cfg=cfg, ctx=ctx, runs_root=runs_root)
    state.dataset, state.split = study_dataset(cfg)
    ctx.record_dataset(cfg.study.profile or f"{cfg.study.attribute}/{cfg.study.language}", state.dataset)
    ctx.manifest["split"] = state.split.describe()
    return state


def run_phase(state: StudyState, phase: str, fn: PhaseFn, on_progress: OnProgress) -> str:
    """Skip (verified earlier in this run), reuse (a verified folder of an earlier run) or compute ``phase``; its status.

    Computing removes a stale ``done.json`` first and writes ``summary.json`` and then ``done.json`` (key, seconds,
    every file's size and SHA-256) last, so a kill at any point leaves the phase unfinished.
    """
    key, pdir = state.keys[phase], state.ctx.path / phase
    done_file = pdir / DONE
    problem = phase_problem(pdir, key)
    if problem is None:
        return "done earlier in this run"
    if (src := _find_reusable(state.runs_root, state.ctx.path.parent.name, phase, key, state.ctx.path)) is not None:
        _link_tree(src, pdir)
        return f"reused from {src.parent.name}"
    on_progress(phase, 0, 1)
    state.progress = lambda done, total: on_progress(phase, done, total)
    t0 = time.perf_counter()
    if done_file.exists():  # damaged or stale: the marker goes first, so a kill now leaves it unfinished
        done_file.unlink()
    pdir.mkdir(parents=True, exist_ok=True)
    atomic_write_json(pdir / "summary.json", fn(state, pdir))
    secs = round(time.perf_counter() - t0, 2)
    atomic_write_json(done_file, {"key": key, "seconds": secs, "files": tree_records(pdir, exclude=(DONE,))})
    damaged = problem not in ("not finished", "made with another config")
    return f"computed in {secs} s" + (f" (earlier result not trusted: {problem})" if damaged else "")


def study_dataset(cfg: StudyConfig):
    """The study's dataset and its selection / evaluation split (``[study] split``).

    The dataset is ``[study] profile`` (a profile name or file), or when empty the registry's data of the study's
    attribute and language. ``halves``: split per label (records with a ``split`` field keep theirs). ``profile``: the
    dataset is the profile plus the records the evaluation profile adds (so one activation store holds both);
    selection = the profile, evaluation = the additions.
    """
    ds = load_dataset(cfg.study.profile) if cfg.study.profile else cfg.language_data().load()
    kinds = sorted({(r.attribute, r.language) for r in ds.records})
    if kinds != [(cfg.study.attribute, cfg.study.language)]:
        raise ConfigError(f"[study] profile {cfg.study.profile!r} holds {', '.join(f'{a}/{lang}' for a, lang in kinds)} records, "
                          f"but the study is of {cfg.study.attribute}/{cfg.study.language}; set [study] attribute and language "
                          "to match the data, or choose another profile")
    if cfg.study.split == "halves":
        return ds, split_dataset(ds, fraction=cfg.study.split_fraction, seed=cfg.study.seed)
    sp = split_by_profile(ds, load_dataset(cfg.study.evaluation_profile))
    union = EmotionDataset(ds.records + sp.evaluation.records, f"{ds.source} + {sp.evaluation.source}", ds.profile)
    return union, sp
