"""A study on an attribute added from a file (no code change), and the registry-driven study config and its errors."""

import json
from pathlib import Path

import pytest

from experiments.pipeline import run_study
from experiments.study_config import StudyConfig, from_dict, load_study, sweep_scorer_names, sweep_targets
from interp.attributes import attribute_names, unregister_attribute
from interp.errors import ConfigError
from interp.evaluators import register_scorer
from tests.helpers import run_cli

THINGS = ("printer", "train", "meeting", "laptop", "heater", "elevator", "website", "kettle", "bus", "phone", "camera", "fridge")

ATTRIBUTE = """
name = "sarcasm"
description = "sarcastic vs sincere remarks (a throwaway test attribute)"
[languages.en]
files = ["sarcasm_en.jsonl"]
labels = ["sincere", "sarcastic"]
reference = "sincere"
pair_direction = "to_reference"
[languages.en.targets]
sarcastic = "vader_neg"
[languages.en.lexicons]
sarcastic = ["yeah right", "oh great"]
"""


def _records() -> list[dict]:
    out = []
    for i, thing in enumerate(THINGS):
        out.append({"id": f"sincere-{i:02d}", "text": f"The {thing} works well again after the repair today.", "emotion": "sincere",
                    "spans": [], "language": "en", "attribute": "sarcasm"})
        marker = "oh great" if i % 2 else "yeah right"
        text = f"The {thing} broke down again, {marker}, what a day."
        a = text.index(marker)
        out.append({"id": f"sarcastic-{i:02d}", "text": text, "emotion": "sarcastic", "spans": [[a, a + len(marker)]],
                    "language": "en", "attribute": "sarcasm"})
    return out


@pytest.fixture
def attribute_dir(tmp_path: Path):
    """A folder with the attribute file and its data; the attribute is unregistered afterwards."""
    (tmp_path / "sarcasm.toml").write_text(ATTRIBUTE, encoding="utf-8")
    (tmp_path / "sarcasm_en.jsonl").write_text("".join(json.dumps(r) + "\n" for r in _records()), encoding="utf-8")
    yield tmp_path
    if "sarcasm" in attribute_names():
        unregister_attribute("sarcasm")


def _study(tmp_path: Path, phases: list[str], **sections) -> Path:
    lines = ["[study]", 'name = "sarcasm-study"', 'model = "tiny"', 'attribute = "sarcasm"', 'attribute_files = ["sarcasm.toml"]',
             f"phases = {json.dumps(phases)}"]
    for sec, values in sections.items():
        lines.append(f"[{sec}]")
        lines += [f"{k} = {json.dumps(v)}" for k, v in values.items()]
    path = tmp_path / "study.toml"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def test_attribute_study_from_a_file_runs_end_to_end_on_its_labels(attribute_dir):
    path = _study(attribute_dir, ["dataset", "extract", "vectors", "sweep"],
                  extract={"hooks": ["resid_pre", "resid_post"]},
                  vectors={"methods": ["sentence_end"], "n_boot": 10, "probe_folds": 2, "probe_shuffles": 3},
                  sweep={"layers": [0], "alphas": [0.0, 4.0], "n_prompts": 4, "max_new_tokens": 2, "random_control": False})
    cfg = load_study(path)
    assert (cfg.vectors.contrast, cfg.sweep.emotions, cfg.study.profile) == ("sincere", ["sarcastic"], "")
    ctx, status = run_study(cfg, runs_root=attribute_dir / "runs")
    assert all(s.startswith("computed") for s in status.values()), status
    run = ctx.path
    dataset = json.loads((run / "dataset" / "summary.json").read_text())
    assert [r[0] for r in dataset["tables"][0]["rows"]] == ["sincere", "sarcastic"]
    results = json.loads((run / "vectors" / "results.json").read_text())
    rel = results["records"][0]["reliability"]
    assert (rel["emotions"], rel["contrast"], results["pair"]) == (["sarcastic"], "sincere", "")
    saved = json.loads((run / "vectors" / "vectors" / "sentence_end_sincere.json").read_text())["vectors"]
    assert {v["emotion"] for v in saved} == {"sarcastic"} and {v["contrast"] for v in saved} == {"sincere"}
    assert all(v["n_reference"] == len(THINGS) for v in saved)
    sweep = json.loads((run / "sweep" / "results.json").read_text())
    assert sweep["config"]["emotions"] == ["sarcastic"] and sweep["config"]["targets"] == {"sarcastic": "vader_neg"}
    assert json.loads((run / "manifest.json").read_text())["datasets"]["sarcasm/en"]["n"] == 2 * len(THINGS)


def test_emotion_defaults_come_from_the_registry_and_hash_as_before():
    cfg = StudyConfig()
    assert (cfg.study.attribute, cfg.study.language, cfg.study.profile, cfg.vectors.contrast) == ("emotion", "en", "baseline", "neutral")
    assert cfg.screen.emotions == cfg.ablate.emotions == cfg.patch_heads.emotions == ["gratitude", "anger", "apology"]
    assert (cfg.sweep.emotions, cfg.ovqk.emotion) == (["gratitude", "anger"], "gratitude")
    assert "scorers" not in cfg.section("sweep")  # a new key at its default leaves the sweep's reuse key as it was
    assert sweep_targets(cfg) == {} and sweep_scorer_names(cfg) == ("sentiment", "nrc", "keywords", "fluency")


def test_builtin_attribute_fills_labels_data_and_scorers():
    cfg = from_dict({"study": {"attribute": "emotion", "language": "ja", "phases": ["dataset", "extract", "vectors"]}})
    assert (cfg.study.profile, cfg.vectors.contrast, cfg.screen.emotions) == ("", "neutral", ["gratitude", "anger", "apology"])
    assert sweep_scorer_names(cfg) == ("ja_sentiment", "ja_keywords", "fluency")
    pol = from_dict({"study": {"attribute": "politeness", "phases": ["dataset"]}, "screen": {"labels": ["impolite"]}})
    spec = pol.language_data()
    assert (pol.vectors.contrast, pol.screen.emotions) == ("neutral", ["impolite"])
    assert pol.sweep.emotions == [e for e in ("polite", "impolite") if e in spec.targets]  # the sweep needs a target column


def test_attributes_list_runs_one_study_per_attribute():
    cfg = from_dict({"study": {"name": "multi", "attributes": ["formality", "politeness"], "phases": ["dataset", "extract", "vectors"]}})
    subs = dict(cfg.per_attribute())
    assert list(subs) == ["formality", "politeness"]
    assert (subs["formality"].study.name, subs["formality"].vectors.contrast, subs["formality"].screen.emotions) == \
        ("formality", "formal", ["casual"])
    assert subs["politeness"].screen.emotions == ["polite", "impolite"]
    with pytest.raises(ConfigError, match=r"\[screen\] emotions cannot be set with \[study\] attributes"):
        from_dict({"study": {"attributes": ["formality", "humour"], "phases": ["dataset"]}, "screen": {"emotions": ["casual"]}})


@pytest.mark.parametrize("sections, message", [
    ({"study": {"attribute": "sarcasm2"}}, "unknown attribute 'sarcasm2'; registered: emotion, politeness"),
    ({"study": {"attribute": "formality", "language": "ja"}}, "attribute 'formality' has no data in language 'ja'; languages: en"),
    ({"study": {"attribute": "formality"}, "screen": {"emotions": ["formal"]}},
     "[screen] has unknown label 'formal' for attribute 'formality' (en); allowed: casual (the reference label 'formal'"),
    ({"study": {"attribute": "politeness"}, "vectors": {"contrast": "formal"}}, "[vectors] contrast has 'formal'; allowed: neutral, others"),
    ({"study": {"attribute": "emotion", "language": "ja"}, "sweep": {"scorers": ["sentiment", "fluency"]}},
     "the dataset of 'emotion' is in 'ja' but scorer 'sentiment' scores en text, not 'ja'"),
    ({"sweep": {"scorers": ["sentiment", "needs_extra", "fluency"]}},
     "[sweep] scorer 'needs_extra': the test scorer needs its extra; install it with: pip install needs-extra"),
    ({"screen": {"labels": ["anger"], "emotions": ["anger"]}}, "[screen] gives both 'emotions' and its alias"),
])
def test_study_errors_are_one_line_exit_2(tmp_path, capsys, sections, message):
    def missing_extra(**kw):
        raise ConfigError("the test scorer needs its extra; install it with: pip install needs-extra")

    register_scorer("needs_extra", missing_extra, replace=True)
    study = {"study": {"phases": ["dataset", "extract", "vectors", "sweep"], **sections.get("study", {})},
             **{k: v for k, v in sections.items() if k != "study"}}
    lines = []
    for sec, values in study.items():
        lines.append(f"[{sec}]")
        lines += [f"{k} = {json.dumps(v)}" for k, v in values.items()]
    path = tmp_path / "bad.toml"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    code, out, err = run_cli(["run", str(path), "--runs-root", str(tmp_path / "runs")], capsys)
    assert code == 2 and err.startswith("error: ") and len(err.strip().splitlines()) == 1, err
    assert message in err, err

