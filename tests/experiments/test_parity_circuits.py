"""The ``screen-heads`` / ``ovqk`` commands and the study's ``screen`` / ``ovqk`` phases write the same files for the
same inputs (tiny model): both are adapters over one library call and save the same report."""

import json
import re
from pathlib import Path

import pytest

from experiments.phases import phase_extract
from experiments.phases_circuits import phase_ovqk, phase_screen
from experiments.pipeline import StudyState, study_dataset
from experiments.study_config import StudyConfig
from interp.run_context import RunContext
from tests.helpers import run_cli

_VIEW_ID = re.compile(r"cv-[0-9a-f]{12}")  # each offline circuitsvis page gets a fresh random div id


def _same_files(phase_dir: Path, cmd_dir: Path) -> list[str]:
    """Every file the phase wrote exists byte-identical under the command's run folder; returns the compared paths."""
    compared = []
    for f in sorted(p for p in phase_dir.rglob("*") if p.is_file()):
        rel = f.relative_to(phase_dir)
        a, b = f.read_bytes(), (cmd_dir / rel).read_bytes()
        if f.suffix == ".html" and rel.parts[0] == "views":
            a, b = _VIEW_ID.sub("cv-", a.decode()), _VIEW_ID.sub("cv-", b.decode())
        assert a == b, f"{rel} differs between the phase and the command"
        compared.append(str(rel))
    return compared


@pytest.fixture(scope="module")
def study(tmp_path_factory):
    """The screen and ovqk phases of a small study on the tiny model (extract first, for the OV/QK vectors)."""
    root = tmp_path_factory.mktemp("parity")
    cfg = StudyConfig()
    cfg.study.model, cfg.study.phases = "tiny", ["dataset", "extract", "screen", "ovqk"]
    cfg.extract.hooks = ["resid_post"]
    cfg.screen.emotions, cfg.screen.n_boot, cfg.screen.n_perm = ["gratitude", "anger"], 50, 50
    cfg.ovqk.top_heads, cfg.report.attention_views = 2, 2
    state = StudyState(cfg=cfg, ctx=RunContext.create("parity", cfg.to_dict(), root=root / "runs"), runs_root=root / "runs")
    state.dataset, state.split = study_dataset(cfg)
    phase_extract(state, state.phase_dir("extract"))
    summaries = {p: fn(state, state.phase_dir(p)) for p, fn in (("screen", phase_screen), ("ovqk", phase_ovqk))}
    return state.ctx.path, summaries, root


def _cli(args: list[str], capsys) -> dict:
    code, out, err = run_cli(args, capsys)
    assert code == 0, err
    return json.loads(out)


def test_screen_heads_cmd_writes_what_the_screen_phase_writes(study, capsys):
    run, summaries, root = study
    out = _cli(["screen-heads", "--model", "tiny", "--device", "cpu", "--emotions", "gratitude,anger", "--n-boot", "50",
                "--n-perm", "50", "--views", "2", "--runs-root", str(root / "cli"), "--json"], capsys)
    compared = _same_files(run / "screen", Path(out["run_dir"]))
    assert {"results.json", "screening.json", "figures/screening_gratitude.html", "views/attention_anger_top3.cv.json",
            "views/gratitude/attention_000.html"} <= set(compared)
    assert out["headline"] == json.loads(json.dumps(summaries["screen"]["headline"]))
    assert out["tables"] == json.loads(json.dumps(summaries["screen"]["tables"]))
    assert out["screening"] == str(Path(out["run_dir"]) / "screening.json")


def test_ovqk_cmd_writes_what_the_ovqk_phase_writes(study, capsys):
    run, summaries, root = study
    out = _cli(["ovqk", "--model", "tiny", "--device", "cpu", "--emotion", "gratitude", "--screening", str(run / "screen"),
                "--top", "2", "--store", str(run / "extract" / "activations"), "--runs-root", str(root / "cli"), "--json"], capsys)
    assert _same_files(run / "ovqk", Path(out["run_dir"])) == ["results.json"]
    assert out["headline"] == json.loads(json.dumps(summaries["ovqk"]["headline"])) and out["headline"]
    assert json.loads((run / "ovqk" / "results.json").read_text())["roles"]
