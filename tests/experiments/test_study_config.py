import pytest

from experiments.study_config import DEFAULT_PHASES, PHASES, from_dict, load_study
from interp.errors import ConfigError
from tests.helpers import run_cli


@pytest.mark.parametrize("name", ["emotion-circuits-baseline", "emotion-circuits-extended"])
def test_shipped_studies_validate(name):
    cfg = load_study(f"studies/{name}.toml")
    assert cfg.study.name == name and cfg.study.phases == list(DEFAULT_PHASES)


@pytest.mark.parametrize(("name", "phases"), [("attributes-en", None), ("emotions-ja", ["crosslingual"]),
                                              ("interference-en", ["interference"])])
def test_phase_10_studies_validate(name, phases):
    """The phase-10 studies load; the opt-in phases they name exist, and a study without `phases` does not run them."""
    cfg = load_study(f"studies/{name}.toml")
    assert cfg.study.name == name and set(cfg.study.phases) <= set(PHASES)
    assert all(p in cfg.study.phases for p in phases or [])
    assert "interference" not in DEFAULT_PHASES and "crosslingual" not in DEFAULT_PHASES


@pytest.mark.parametrize(
    ("data", "pattern"),
    [({"study": {"modle": "x"}}, "unknown key 'modle' in [study]; allowed keys: name, model"),
     ({"sweeps": {}}, "unknown section [sweeps]"),
     ({"study": {"phases": ["dataset", "steer"]}}, "unknown phase 'steer'; allowed phases: dataset, extract"),
     ({"study": {"phases": ["dataset", "vectors"]}}, "phase 'vectors' needs phase 'extract', which is disabled"),
     ({"study": {"phases": ["dataset", "extract", "ablate"]}}, "phase 'ablate' needs phase 'screen'"),
     ({"sweep": {"alphas": [0.0, "x"]}}, "[sweep] alphas must be a list of numbers"),
     ({"sweep": {"alphas": [0.0, float("nan")]}}, "NaN or inf"),
     ({"extract": {"batch_size": 0}}, "[extract] batch_size must be ≥ 1"),
     ({"screen": {"emotions": ["joy"]}}, "[screen] has unknown label 'joy' for attribute 'emotion' (en); allowed: gratitude, anger, apology"),
     ({"study": {"seed": "zero"}}, "[study] seed must be an integer"),
     ({"study": {"dtype": "float64"}}, "[study] dtype 'float64' is not a supported model dtype; choose one of float32, bfloat16"),
     ({"sweep": {"targets": ["vader_neg"]}}, "[sweep] targets must be a table of names to strings"),
     ({"sweep": {"targets": {"apology": "kw_apology"}}}, "[sweep] targets names 'apology', which is not in [sweep] emotions"),
     ({"align": {"model_b": "smollm2-135m"}}, "[align] model_b is the study's own model"),
     ({"ablate": {"emotion": "anger"}}, "unknown key 'emotion' in [ablate]; allowed keys: emotions"),
     ({"ablate": {"emotions": []}}, "[ablate] emotions is empty"),
     ({"patch_heads": {"modes": ["z", "values"]}}, "[patch_heads] modes has 'values'; allowed: pattern_v, v_only, pattern_only, z"),
     ({"screen": {"emotions": ["gratitude"]}}, "[ablate] needs the screening of anger, apology, which [screen] emotions"),
     ({"ablate": {"generate_prompts": -1}}, "[ablate] generate_prompts must be ≥ 0"),
     ({"study": {"phases": ["dataset", "extract", "ovqk", "screen", "vectors"]}, "extract": {"hooks": ["resid_pre"]}},
      "[vectors] hook is 'resid_post' but [extract] hooks ['resid_pre'] does not store it")],
)
def test_config_errors_name_the_key(data, pattern):
    with pytest.raises(ConfigError) as exc:
        from_dict(data, source="s.toml")
    assert pattern in str(exc.value)


def test_study_defaults_read_the_registry_and_derive_sweep_layers_from_depth():
    from interp.registry import DEFAULT_MODEL

    cfg = from_dict({})
    assert cfg.study.model == DEFAULT_MODEL and cfg.study.dtype == "float32" and cfg.sweep.layers == []
    cfg = from_dict({"study": {"model": "gemma3-270m", "dtype": "bf16", "device": "auto"}, "align": {"model_b": "smollm2-135m"}})
    assert (cfg.study.dtype, cfg.study.device) == ("bf16", "auto")


def test_study_model_loads_in_the_study_dtype(tmp_path):
    """StudyState.model passes [study] dtype and device to the loader and records the dtype in the run manifest."""
    import torch

    from experiments.pipeline import StudyState
    from interp.run_context import RunContext

    cfg = from_dict({"study": {"model": "tiny", "dtype": "bf16", "device": "cpu", "phases": ["dataset"]}})
    ctx = RunContext.create("t", cfg.to_dict(), root=tmp_path)
    m = StudyState(cfg=cfg, ctx=ctx, runs_root=tmp_path).model("tiny")
    ctx.finish()
    assert {p.dtype for p in m.parameters()} == {torch.bfloat16}
    assert ctx.manifest["models"]["tiny"]["dtype"] == "bfloat16"


def test_run_cli_rejects_bad_config(tmp_path, capsys):
    bad = tmp_path / "bad.toml"
    bad.write_text('[study]\nname = "x"\nphases = ["dataset", "sweep"]\n')
    code, _, err = run_cli(["run", str(bad), "--runs-root", str(tmp_path)], capsys)
    assert code == 2 and "phase 'sweep' needs phase 'vectors'" in err and "Traceback" not in err
    bad.write_text("[study\n")
    code, _, err = run_cli(["run", str(bad), "--runs-root", str(tmp_path)], capsys)
    assert code == 2 and "not valid TOML" in err


def test_error_message_keeps_bracketed_section_names(tmp_path, capsys):
    bad = tmp_path / "bad.toml"
    bad.write_text('[study]\nmodle = "x"\n')
    code, _, err = run_cli(["run", str(bad), "--runs-root", str(tmp_path)], capsys)
    assert code == 2 and "unknown key 'modle' in [study]" in err


def test_pipeline_runs_resumes_and_reuses(tmp_path, capsys):
    study = tmp_path / "s.toml"
    study.write_text('[study]\nname = "t"\nmodel = "tiny"\nphases = ["dataset", "extract"]\n[extract]\nhooks = ["resid_post"]\n')
    code, out, _ = run_cli(["run", str(study), "--runs-root", str(tmp_path / "r"), "--no-screenshot", "--json"], capsys)
    import json

    first = json.loads(out)
    assert code == 0 and all(v.startswith("computed") for v in first["phases"].values())
    assert (tmp_path / first["report"]).exists() or __import__("pathlib").Path(first["report"]).exists()
    code, out, _ = run_cli(["run", str(study), "--runs-root", str(tmp_path / "r"), "--no-screenshot", "--json"], capsys)
    second = json.loads(out)
    assert all(v.startswith("reused") for v in second["phases"].values())


def test_with_model_moves_layer_keys_to_the_new_model(tmp_path):
    """`run STUDY --model gemma3-270m`: sweep layers at the same relative depth, align partner swapped, nothing else."""
    from experiments.study_config import load_study, validate

    base = load_study("studies/emotion-circuits-baseline.toml")
    cfg, notes = base.with_model("gemma3-270m")
    validate(cfg)
    assert cfg.study.model == "gemma3-270m" and cfg.align.model_b == "smollm2-135m"
    assert cfg.sweep.layers == [5, 9, 12]  # 9, 15, 21 of 30 layers → same fractions of 18 (round(l·17/29))
    assert all(0 <= l < 18 for l in cfg.sweep.layers) and len(notes) == 2
    assert base.study.model == "smollm2-135m" and base.sweep.layers == [9, 15, 21]  # the original is untouched
    assert cfg.to_dict()["ablate"] == base.to_dict()["ablate"]
    same, none = base.with_model("smollm2-135m")
    assert same.to_dict() == base.to_dict() and none == []


def test_default_alignment_partner_follows_the_default_model():
    from experiments.study_config import StudyConfig
    from interp.registry import DEFAULT_MODEL, partner_model

    cfg = StudyConfig()
    assert cfg.align.model_b == partner_model(DEFAULT_MODEL) != DEFAULT_MODEL
    assert partner_model("gemma3-270m") == "smollm2-135m"
