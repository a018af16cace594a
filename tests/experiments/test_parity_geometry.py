"""The study phases ``vectors | subspace | align`` and the CLI commands of the same names write identical files.

One tiny study (dataset, extract and the three geometry phases) runs in-process; each command then reads the
study's own stores with options equal to the study's config. ``results.json``, every figure (HTML and plotly
JSON) and the saved vectors must be byte-identical: both drivers call the same entry point of
:mod:`steering.geometry_analysis` and save the same report.
"""

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from experiments.cli import app

PHASES = ["dataset", "extract", "vectors", "subspace", "align"]


@pytest.fixture(scope="module")
def study(tmp_path_factory):
    """(run folder, model B's folder, runs root for the commands) of one tiny geometry study."""
    from experiments.pipeline import run_study
    from experiments.study_config import from_dict
    from interp.tiny_model import save_tiny_model

    tmp = tmp_path_factory.mktemp("parity_geometry")
    model_b = save_tiny_model(tmp / "tiny_b", seed=1, d_model=48)
    cfg = from_dict({"study": {"name": "parity", "model": "tiny", "phases": PHASES}, "extract": {"hooks": ["resid_pre", "resid_post"]},
                     "vectors": {"n_boot": 20, "probe_folds": 2, "probe_shuffles": 20, "methods": ["sentence_end", "token_matched"]},
                     "subspace": {"k": 3, "n_shuffle": 10, "layer_shuffles": 5}, "align": {"model_b": str(model_b)}})
    ctx, status = run_study(cfg, runs_root=tmp / "runs", resume=False)
    assert all(s.startswith("computed") for s in status.values()), status
    return ctx.path, model_b, tmp / "cli-runs"


def _command(args: list[str], runs_root: Path, name: str) -> Path:
    res = CliRunner().invoke(app, [*args, "--device", "cpu", "--runs-root", str(runs_root), "--json"])
    assert res.exit_code == 0, (res.output, res.exception)
    out = json.loads(res.stdout)
    assert Path(out["run_dir"]).parent == runs_root / name
    return Path(out["run_dir"])


def _assert_same_files(phase_dir: Path, run_dir: Path, patterns: tuple[str, ...]) -> None:
    files = sorted(p.relative_to(phase_dir) for pat in patterns for p in phase_dir.glob(pat))
    assert files and sorted(p.relative_to(run_dir) for pat in patterns for p in run_dir.glob(pat)) == files
    for rel in files:
        assert (phase_dir / rel).read_bytes() == (run_dir / rel).read_bytes(), rel


def test_vectors_command_writes_what_the_phase_writes(study):
    run, _, root = study
    out = _command(["vectors", "--store", str(run / "extract" / "activations"), "--hooks", "resid_post,resid_pre",
                    "--methods", "sentence_end,token_matched", "--contrasts", "neutral", "--n-boot", "20", "--n-splits", "20",
                    "--n-shuffle", "30", "--folds", "2", "--layer-probe-shuffles", "1", "--probe-shuffles", "20"], root, "vectors")
    _assert_same_files(run / "vectors", out, ("results.json", "figures/*", "vectors/*"))
    assert json.loads((out / "results.json").read_text())["headline_probes"]["sentence_end"]["transfer"]  # implicit / trap scored


def test_subspace_command_writes_what_the_phase_writes(study):
    run, _, root = study
    out = _command(["subspace", "--store", str(run / "extract" / "activations"), "--k", "3", "--n-boot", "20", "--n-shuffle", "10",
                    "--layer-shuffles", "5"], root, "subspace")
    _assert_same_files(run / "subspace", out, ("results.json", "figures/*"))


def test_align_command_writes_what_the_phase_writes(study):
    run, model_b, root = study
    out = _command(["align", "--model-a", "tiny", "--model-b", str(model_b), "--store-a", str(run / "extract" / "activations"),
                    "--store-b", str(run / "extract" / f"activations-{model_b}"), "--k", "3"], root, "align")
    _assert_same_files(run / "align", out, ("results.json", "figures/*"))
