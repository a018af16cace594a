"""The study pipeline end to end on tiny models: every phase, resume after SIGKILL mid-sweep, the offline report."""

import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest

from experiments.browser import chromium_path
from tests.helpers import run_cli

ROOT = Path(__file__).resolve().parents[2]

# Every phase, scaled down so a 2-layer random model runs it in seconds.
_SMALL = """
[study]
name = "{name}"
model = "tiny"
phases = {phases}
[extract]
hooks = ["resid_pre", "resid_post"]
[vectors]
n_boot = 20
probe_folds = 2
[subspace]
k = 3
n_random = 20
[align]
model_b = "{model_b}"
layer_a = 1
layer_b = 1
[sweep]
emotions = ["gratitude", "anger"]
layers = [0, 1]
alphas = [-1.0, 0.0, 1.0, 4.0]
n_prompts = {n_prompts}
max_new_tokens = 4
[screen]
n_perm = 50
n_boot = 50
[ablate]
emotions = ["gratitude", "anger"]
max_k = 3
n_random = 2
generate_prompts = 3
generate_random = 1
max_new_tokens = 3
[patch_heads]
emotions = ["gratitude"]
n_pairs = 6
generate_prompts = 4
max_new_tokens = 3
n_random = 1
[ovqk]
top_heads = 2
[report]
attention_views = 2
steering_examples = 2
"""

ALL = ["dataset", "extract", "vectors", "subspace", "align", "sweep", "screen", "ablate", "patch_heads", "ovqk"]


@pytest.fixture(scope="module")
def model_b(tmp_path_factory) -> Path:
    from interp.tiny_model import save_tiny_model

    return save_tiny_model(tmp_path_factory.mktemp("tiny_b"), seed=1, d_model=48)


def _study(tmp_path: Path, model_b: Path, *, name: str = "small", phases=ALL, n_prompts: int = 3) -> Path:
    p = tmp_path / f"{name}.toml"
    p.write_text(_SMALL.format(name=name, phases=json.dumps(phases), model_b=model_b, n_prompts=n_prompts))
    return p


@pytest.fixture(scope="module")
def full_run(tmp_path_factory, model_b):
    """One run of every phase; returns (summary, runs_root, study file)."""
    tmp = tmp_path_factory.mktemp("full")
    study = _study(tmp, model_b)
    proc = subprocess.run([sys.executable, "-m", "experiments.cli", "run", str(study), "--runs-root", str(tmp / "runs"), "--json"],
                          cwd=ROOT, capture_output=True, text=True, timeout=900, env={**os.environ, "OMP_NUM_THREADS": "1"})
    assert proc.returncode == 0, proc.stderr[-3000:]
    return json.loads(proc.stdout), tmp / "runs", study


def test_pipeline_runs_every_phase_with_headlines(full_run):
    summary, _, _ = full_run
    run = Path(summary["run_dir"])
    assert list(summary["phases"]) == ALL and all(v.startswith("computed") for v in summary["phases"].values())
    for phase in ALL:
        s = json.loads((run / phase / "summary.json").read_text())
        assert s["headline"], phase
        assert json.loads((run / phase / "done.json").read_text())["key"]
    # Numbers travel with uncertainty and a baseline in the analysis phases.
    for phase in ("vectors", "align", "sweep", "screen", "ablate", "patch_heads", "ovqk"):
        rows = json.loads((run / phase / "summary.json").read_text())["headline"]
        assert any((r["lo"] is not None or r["p"] is not None) and r["baseline"] for r in rows), phase
    # The sweep read its vectors from the vectors phase, the circuits phases the screening's top heads.
    from circuits.head_screening import ScreeningResult

    top = ScreeningResult.load(run / "screen").top(ScreeningResult.load(run / "screen").emotions[0], 3)
    abl = json.loads((run / "ablate" / "ablation_gratitude.json").read_text())
    assert abl["ranked_heads"] == [r.name for r in ScreeningResult.load(run / "screen").top("gratitude", 3)]
    # Ablation and patching are measured on the evaluation split, disjoint from the selection split (heads, reference).
    manifest = json.loads((run / "manifest.json").read_text())
    from interp.datasets import load_dataset
    from interp.splits import split_dataset

    sel_ids = {r.id for r in split_dataset(load_dataset("baseline"), fraction=0.5, seed=0).selection.records}
    sel_ids |= set(ScreeningResult.load(run / "screen").config.get("selection_ids") or [])
    pat = json.loads((run / "patch_heads" / "head_patching_gratitude.json").read_text())["split"]
    evaluated = set(abl["split"]["ids"]) | set(pat["source_ids"]) | set(pat["target_ids"])
    assert abl["split"]["evaluated_on"] == "evaluation" and evaluated and not evaluated & sel_ids
    assert manifest["split"]["evaluation"]["n"] >= len(evaluated)
    assert top and (run / "vectors" / "vectors" / "sentence_end_neutral.safetensors").exists()
    assert json.loads((run / "sweep" / "examples.json").read_text())
    assert list((run / "screen" / "views").glob("*.cv.json"))


def test_pipeline_rerun_reuses_every_phase(full_run, tmp_path):
    summary, runs, study = full_run
    code = subprocess.run([sys.executable, "-m", "experiments.cli", "run", str(study), "--runs-root", str(runs), "--json", "--new",
                           "--no-screenshot"], cwd=ROOT, capture_output=True, text=True, timeout=600)
    second = json.loads(code.stdout)
    assert second["run_dir"] != summary["run_dir"]
    assert all(v.startswith("reused") for v in second["phases"].values()), second["phases"]


def test_report_is_self_contained(full_run):
    summary, _, _ = full_run
    page = Path(summary["report"]).read_text(encoding="utf-8")
    assert "Plotly.newPlot" in page and "CircuitsVis.render" in page
    # No script or stylesheet is fetched from the network.
    assert not re.search(r"<script[^>]+src=['\"]https?://", page)
    assert not re.search(r"<link[^>]+href=['\"]https?://", page)
    for title in ("Phase 3 — emotion vectors", "Phases 4–5 — steering sweep", "Phase 9 — OV/QK roles", "Provenance"):
        assert title in page


@pytest.mark.skipif(chromium_path() is None, reason="headless Chromium is not installed (make browser / apt-get install chromium)")
def test_report_renders_offline_in_chromium(full_run):
    from experiments.browser import dump_dom

    summary, _, _ = full_run
    report = Path(summary["report"])
    dom = dump_dom(report)
    figs = re.findall(r'<div class="fig js-plotly-plot" id="plotly-\d+">', dom)  # plotly marks the divs it drew into
    assert len(figs) == Path(summary["report"]).read_text(encoding="utf-8").count("Plotly.newPlot(") >= 5
    assert dom.count('class="main-svg"') >= len(figs), "plotly did not draw an SVG for every figure"
    # circuitsvis mounts a React tree inside each view's div: the div's first child is the component.
    views = re.findall(r'<div class="fig cv" id="cv-\d+"[^>]*>(.{0,400})', dom, flags=re.S)
    assert views and all("Head Selector" in v for v in views), "circuitsvis components were not mounted"
    shot = Path(summary["screenshot"])
    assert shot.parent == Path(summary["run_dir"]) and shot.stat().st_size > 10_000


_SLOW_GENERATION = """
import time, steering.sweep as s
_orig = s.generate
def slow(*a, **k):
    time.sleep(0.4)
    return _orig(*a, **k)
s.generate = slow
from experiments.cli import main
main()
"""


def _snapshot(folder: Path) -> dict[str, tuple[int, float]]:
    return {str(p.relative_to(folder)): (p.stat().st_ino, p.stat().st_mtime_ns) for p in folder.rglob("*") if p.is_file()}


def test_sigkill_mid_sweep_resumes_without_recomputing(tmp_path, model_b):
    """Kill the study while the sweep is writing cells; the rerun recomputes no finished phase or cell and matches a clean run."""
    study = _study(tmp_path, model_b, name="killed", phases=["dataset", "extract", "vectors", "sweep"], n_prompts=4)
    runs = tmp_path / "runs"
    cmd = [sys.executable, "-c", _SLOW_GENERATION, "run", str(study), "--runs-root", str(runs), "--json", "--no-screenshot"]
    proc = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.time() + 600
    cells: list[Path] = []
    while time.time() < deadline and proc.poll() is None:
        cells = list(runs.glob("killed/*/sweep/cells/*.json"))
        if len(cells) >= 3:
            break
        time.sleep(0.05)
    assert proc.poll() is None, f"the study ended before it could be killed: {proc.stderr.read()[-2000:]}"
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    run_dir = cells[0].parents[2]
    assert not (run_dir / "sweep" / "done.json").exists()
    before = {ph: _snapshot(run_dir / ph) for ph in ("dataset", "extract", "vectors")}
    cached = _snapshot(run_dir / "sweep" / "cells")
    for f in (run_dir / "sweep" / "cells").glob("*.json"):
        json.loads(f.read_text())  # every finished cell is whole (atomic writes)

    out = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stderr[-3000:]
    resumed = json.loads(out.stdout)
    assert resumed["run_dir"] == str(run_dir)
    assert {k: v for k, v in resumed["phases"].items() if k != "sweep"} == {
        "dataset": "done earlier in this run", "extract": "done earlier in this run", "vectors": "done earlier in this run"}
    for ph, snap in before.items():
        assert _snapshot(run_dir / ph) == snap, f"phase {ph} was rewritten"
    after = _snapshot(run_dir / "sweep" / "cells")
    assert all(after[k] == v for k, v in cached.items()), "a finished sweep cell was recomputed"
    assert len(after) > len(cached)

    # The resumed sweep equals an uninterrupted one.
    clean = subprocess.run([sys.executable, "-m", "experiments.cli", "run", str(study), "--runs-root", str(tmp_path / "clean"), "--json",
                            "--no-screenshot"], cwd=ROOT, capture_output=True, text=True, timeout=600)
    ref = json.loads(clean.stdout)
    a = pd.read_csv(run_dir / "sweep" / "results" / "aggregates.csv")
    b = pd.read_csv(Path(ref["run_dir"]) / "sweep" / "results" / "aggregates.csv")
    pd.testing.assert_frame_equal(a, b)


def test_run_rejects_bad_phase_setup(tmp_path, capsys, model_b):
    study = tmp_path / "bad.toml"
    study.write_text('[study]\nname = "b"\nmodel = "tiny"\nphases = ["dataset", "extract", "vectors"]\n[extract]\nhooks = ["resid_pre"]\n')
    code, _, err = run_cli(["run", str(study), "--runs-root", str(tmp_path)], capsys)
    assert code == 2 and "[vectors] hook is 'resid_post'" in err and "add 'resid_post' to [extract] hooks" in err


def test_runs_list_and_compare(full_run, capsys):
    """A reused run has the same headline numbers: compare shows them side by side with difference 0."""
    summary, runs, study = full_run
    code, out, _ = run_cli(["run", str(study), "--runs-root", str(runs), "--json", "--new", "--no-screenshot"], capsys)
    second = json.loads(out)
    code, out, _ = run_cli(["runs", "list", "--runs-root", str(runs), "--json"], capsys)
    listed = {r["path"]: r for r in json.loads(out)}
    assert code == 0 and {summary["run_dir"], second["run_dir"]} <= set(listed)
    assert all(listed[r]["complete"] and listed[r]["study"] == "small" for r in (summary["run_dir"], second["run_dir"]))
    code, out, _ = run_cli(["runs", "compare", summary["run_dir"], second["run_dir"], "--json"], capsys)
    rows = json.loads(out)
    numeric = [r for r in rows if r["diff"] is not None]
    assert code == 0 and len(numeric) >= 10
    assert all(r["diff"] == 0 and r["a"]["lo"] == r["b"]["lo"] for r in numeric)
    assert any(r["measure"].startswith("sweep: gratitude: best cell") for r in numeric)
    code, _, err = run_cli(["runs", "compare", summary["run_dir"], str(runs / "nope"), "--json"], capsys)
    assert code == 2 and "not a run folder" in err


def test_phase_key_names_the_model_dtype_only_when_not_float32():
    """bfloat16 phases never reuse float32 ones; float32 keys stay those made before [study] dtype existed."""
    from experiments.pipeline import StudyState, phase_key
    from experiments.study_config import from_dict

    def key(**study) -> str:
        cfg = from_dict({"study": {"model": "tiny", **study}})
        return phase_key(StudyState(cfg=cfg, ctx=None, runs_root=Path(".")), "extract", "model-hash", "dataset-hash")

    assert key() == key(dtype="float32") == key(dtype="fp32")
    assert key(dtype="bf16") == key(dtype="bfloat16") != key()
    assert key(dtype="float16") not in (key(), key(dtype="bfloat16"))


def test_run_study_reports_progress_through_callbacks(tmp_path, capsys):
    """The pipeline tells its caller of each phase and step (the CLI draws the bars); it prints nothing itself."""
    from experiments.pipeline import run_study
    from experiments.study_config import from_dict

    def counting_phase(state, out: Path) -> dict:
        state.progress(1, 2)
        state.progress(2, 2)
        return {"headline": []}

    cfg = from_dict({"study": {"name": "callbacks", "model": "tiny", "phases": ["dataset"]}})
    events = []
    kw = dict(runs_root=tmp_path, phases={"dataset": counting_phase},
              on_phase=lambda *a: events.append(("phase", *a)), on_progress=lambda *a: events.append(("step", *a)))
    _, status = run_study(cfg, **kw)
    assert events == [("phase", "dataset", 0, 1, None), ("step", "dataset", 0, 1), ("step", "dataset", 1, 2),
                      ("step", "dataset", 2, 2), ("phase", "dataset", 0, 1, status["dataset"])]
    events.clear()
    _, status = run_study(cfg, **kw)  # resumes the unfinished run: nothing computed, no steps
    assert status == {"dataset": "done earlier in this run"}
    assert events == [("phase", "dataset", 0, 1, None), ("phase", "dataset", 0, 1, "done earlier in this run")]
    assert capsys.readouterr() == ("", "")


def test_run_draws_the_study_bar_and_prints_the_status_table(tmp_path, capsys):
    study = tmp_path / "bars.toml"
    study.write_text('[study]\nname = "bars"\nmodel = "tiny"\nphases = ["dataset"]\n')
    code, out, err = run_cli(["run", str(study), "--runs-root", str(tmp_path / "runs"), "--no-screenshot"], capsys)
    assert code == 0, err
    assert "study bars" in err and "1/1" in err
    assert "dataset" in out and "computed in" in out and "report:" in out and "wall time:" in out
