"""The phase registry declares every phase once; config, pipeline and report read it."""

import ast
import importlib.util
from dataclasses import fields
from pathlib import Path

import pytest

from experiments import phase_registry
from experiments.phase_registry import PHASES
from interp.errors import ConfigError

ROOT = Path(__file__).resolve().parents[2]


def test_phase_registry_names_are_unique_and_in_order():
    assert phase_registry.names() == tuple(p.name for p in PHASES)
    assert len(set(phase_registry.names())) == len(PHASES)
    assert all(phase_registry.phase(p.name) is p for p in PHASES)


def test_phase_registry_order_satisfies_every_prerequisite():
    seen: set[str] = set()
    for p in PHASES:
        assert set(p.prerequisites) <= seen, f"{p.name} needs {set(p.prerequisites) - seen} before it"
        seen.add(p.name)


def test_phase_registry_run_resolves_to_a_callable():
    for p in PHASES:
        fn = p.resolve()
        assert callable(fn) and fn.__name__ == p.run.partition(":")[2], p.run


def test_phase_registry_sections_are_study_config_fields():
    from experiments.study_config import StudyConfig

    config_fields = {f.name for f in fields(StudyConfig)}
    sections = {p.section for p in PHASES if p.section is not None}
    assert sections <= config_fields
    # Every other section is study-wide, not a phase's.
    assert config_fields - sections == {"study", "report"}


def test_phase_registry_unknown_phase_names_the_phases():
    with pytest.raises(ConfigError, match="unknown phase 'nope'; phases: dataset, extract"):
        phase_registry.phase("nope")


def test_phase_registry_feeds_study_config_and_report():
    from experiments.report import PHASE_TITLES
    from experiments.study_config import PHASES as CONFIG_PHASES
    from experiments.study_config import PREREQUISITES, StudySection

    assert CONFIG_PHASES == phase_registry.names()
    assert StudySection().phases == [p.name for p in PHASES if p.default] == list(phase_registry.default_names())
    assert PREREQUISITES == {p.name: p.prerequisites for p in PHASES}
    assert list(PHASE_TITLES.items()) == [(p.name, p.title) for p in PHASES]


def test_phase_registry_replaces_phase_common():
    assert importlib.util.find_spec("experiments.phase_common") is None
    assert not (ROOT / "experiments" / "phase_common.py").exists()
    assert phase_registry.row("m", 1.0, 0.5, 1.5, baseline=0.0)["hi"] == 1.5


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names = {a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names}
    return names | {n.module for n in ast.walk(tree) if isinstance(n, ast.ImportFrom) and n.module}


def test_phase_registry_and_pipeline_import_no_phase_module_or_cli():
    registry = _imports(ROOT / "experiments" / "phase_registry.py")
    assert not {m for m in registry if m.startswith(("experiments", "torch", "circuits", "steering"))}
    pipeline = _imports(ROOT / "experiments" / "pipeline.py")
    assert not {m for m in pipeline if m.startswith(("experiments.cli", "experiments.commands", "experiments.phases", "rich"))}
