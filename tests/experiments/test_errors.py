"""Walks the README's "## Errors" table through the CLI: every user error is one `error:` line, exit 2, no traceback."""

import json
import re
from pathlib import Path

import pytest
import torch

from tests.experiments.tone_error_cases import TONE_CASES
from tests.helpers import run_cli
from tests.humaneval.error_cases import HUMANEVAL_CASES

ROOT = Path(__file__).resolve().parents[2]


def _records(n=3):
    from interp.datasets import load_profile

    return load_profile("baseline").subset(limit_per_emotion=n).records


def _jsonl(path: Path, rows: list[dict]) -> Path:
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows))
    return path


def _small_dataset(tmp: Path) -> Path:
    return _jsonl(tmp / "small.jsonl", [{"id": r.id, "text": r.text, "emotion": r.emotion, "spans": [list(s) for s in r.spans]}
                                         for r in _records()])


def _damaged_store(tmp: Path) -> Path:
    from interp.activations import extract_activations
    from interp.datasets import EmotionDataset
    from interp.models import load_model

    store = extract_activations(load_model("tiny", device="cpu"), EmotionDataset(tuple(_records()), "t"), tmp / "store",
                                hooks=["resid_post"], batch_size=4)
    shard = store.path / "shard-00001.safetensors"
    with open(shard, "r+b") as fh:
        fh.truncate(shard.stat().st_size - 100)
    return store.path


def _other_model_vectors(tmp: Path) -> Path:
    from interp.models import load_model
    from steering.vectors import EmotionVector, save_vectors

    d = load_model("tiny", device="cpu").cfg.d_model
    v = EmotionVector("gratitude", torch.ones(d), "blocks.1.hook_resid_pre", 1, "sentence_end", "neutral",
                      "some-other-model", "0" * 64, "ds")
    return save_vectors([v], tmp / "other.safetensors")


def _study(tmp: Path, name: str) -> Path:
    p = tmp / "bad.toml"
    p.write_text(f'[study]\nname = "{name}"\nmodel = "tiny"\nphases = ["dataset"]\n')
    return p


def _attribute_study(tmp: Path, study: str, rest: str = "") -> Path:
    """A study file: ``study`` lines in [study] (model tiny), then ``rest`` (other sections)."""
    p = tmp / "attr.toml"
    p.write_text(f'[study]\nmodel = "tiny"\n{study}\n{rest}')
    return p


def _missing_extra_scorer() -> str:
    from interp.errors import ConfigError
    from interp.evaluators import register_scorer

    def factory(**kw):
        raise ConfigError("the test scorer needs its extra; install it with: pip install needs-extra")

    register_scorer("needs_extra", factory, replace=True)
    return "needs_extra"


def _tiny_vector_file(tmp: Path, hook: str) -> Path:
    from interp.models import load_model, model_info
    from steering.vectors import EmotionVector, save_vectors

    m = load_model("tiny", device="cpu")
    info = model_info(m)
    v = EmotionVector("gratitude", torch.ones(m.cfg.d_model), hook, int(hook.split(".")[1]), "sentence_end", "neutral",
                      info.name, info.source_hash, "ds")
    return save_vectors([v], tmp / "v.safetensors")


def _control_vector_of_width(tmp: Path, d: int) -> Path:
    from steering.export import export_gguf
    from steering.vectors import EmotionVector

    return export_gguf([EmotionVector("gratitude", torch.ones(d), "blocks.1.hook_resid_post", 1, "sentence_end", "neutral",
                                      "other", "0" * 64, "ds")], tmp / "w.gguf")


# (case id, args builder (tmp, runs root) -> argv, pattern in the error line). Rows follow the README table.
CASES = [
    ("unknown-model", lambda t, r: ["extract", "--model", "gpt-none", "--runs-root", r], "unknown model"),
    ("unknown-hook", lambda t, r: ["extract", "--model", "tiny", "--hooks", "blocks.0.hook_bogus", "--runs-root", r], "unknown hook"),
    ("layer-out-of-range", lambda t, r: ["extract", "--model", "tiny", "--layers", "5", "--runs-root", r], "out of range"),
    ("layers-descending", lambda t, r: ["extract", "--model", "tiny", "--layers", "5-2", "--runs-root", r], "range '5-2' is descending"),
    ("layers-negative", lambda t, r: ["extract", "--model", "tiny", "--layers=-1", "--runs-root", r], "negative indices are not supported"),
    ("layers-empty", lambda t, r: ["extract", "--model", "tiny", "--layers", ",", "--runs-root", r], "--layers is empty"),
    ("layers-not-integers", lambda t, r: ["extract", "--model", "tiny", "--layers", "a,b", "--runs-root", r], "must be integers"),
    ("malformed-dataset", lambda t, r: ["extract", "--model", "tiny", "--runs-root", r, "--profile",
                                        str(_jsonl(t / "bad.jsonl", [{"id": "a", "emotion": "anger"}]))], "field 'text'"),
    ("validate-unsupported-language", lambda t, r: ["dataset", "validate", "--dataset", str(_jsonl(t / "de.jsonl", [
        {"id": "de-1", "text": "Vielen Dank für die schnelle Hilfe heute.", "emotion": "gratitude", "spans": [[0, 11]], "language": "de"}]))],
     "no emotion lexicon for language 'de'"),
    ("unknown-attribute", lambda t, r: ["dataset", "validate", "-a", "sarcasm"], "unknown attribute 'sarcasm'"),
    ("sentence-longer-than-context", lambda t, r: ["extract", "--model", "tiny", "--runs-root", r, "--profile",
                                                   str(_jsonl(t / "long.jsonl", [{"id": "huge-1", "text": "word " * 300,
                                                                                  "emotion": "neutral", "spans": []}]))],
     "record 'huge-1'"),
    ("out-is-a-file", lambda t, r: ["extract", "--model", "tiny", "--runs-root", r, "--profile", str(_small_dataset(t)),
                                    "--out", str(_jsonl(t / "file.txt", []))], "is an existing file"),
    ("attention-view-out-is-a-file", lambda t, r: ["attention-view", "--model", "tiny", "--heads", "L0H0", "--text",
                                                   "We are grateful.", "--runs-root", r, "--out",
                                                   str(_jsonl(t / "view.html", []))], "is an existing file"),
    ("bad-dtype", lambda t, r: ["extract", "--model", "tiny", "--dtype", "float64", "--runs-root", r],
     "--dtype 'float64' is not a supported model dtype; choose one of float32, bfloat16, float16"),
    ("store-other-settings", lambda t, r: (run_cli(["extract", "--model", "tiny", "--hooks", "resid_post", "--profile",
                                                    str(_small_dataset(t)), "--out", str(t / "s"), "--runs-root", r, "--json"],
                                                   _CAPSYS[0]),
                                           ["extract", "--model", "tiny", "--hooks", "resid_post", "--store-dtype", "float16",
                                            "--profile", str(t / "small.jsonl"), "--out", str(t / "s"), "--runs-root", r])[1],
     "other settings (dtype differ)"),
    ("corrupt-store-read-by-vectors", lambda t, r: ["vectors", "--model", "tiny", "--store", str(_damaged_store(t)),
                                                    "--runs-root", r], "shard-00001.safetensors"),
    ("device-this-machine-lacks", lambda t, r: ["extract", "--model", "tiny", "--device", "cuda:7", "--runs-root", r],
     "does not exist on this machine"),
    ("device-map-leaves-modules-unplaced", lambda t, r: ["--device-map", '{"model.layers.0": "cpu"}', "extract", "--model", "tiny",
                                                         "--runs-root", r], "without a device"),
    ("device-map-transformerlens-cannot-run", lambda t, r: ["--device-map", '{"": "disk"}', "extract", "--model", "tiny",
                                                            "--runs-root", r], "cannot place"),
    ("max-memory-malformed", lambda t, r: ["--device-map", '{"": "cpu"}', "--max-memory", "cpu=lots", "extract", "--model", "tiny",
                                           "--runs-root", r], "give a positive size with a unit"),
    ("ray-address-unreachable", lambda t, r: ["run", str(_study(t, "ray-study")), "--runs-root", r, "--no-screenshot",
                                              "--ray-address", "127.0.0.1:9"], "cannot reach the Ray cluster at 127.0.0.1:9"),
    ("unsafe-study-name", lambda t, r: ["run", str(_study(t, "../../x")), "--runs-root", r, "--no-screenshot"],
     "not a safe folder name"),
    ("study-label-not-of-attribute", lambda t, r: ["run", str(_attribute_study(t, 'attribute = "formality"\nphases = ["dataset"]',
                                                                           '[screen]\nemotions = ["formal"]\n')), "--runs-root", r],
     "[screen] has unknown label 'formal' for attribute 'formality' (en); allowed: casual"),
    ("study-scorer-wrong-language", lambda t, r: ["run", str(_attribute_study(
        t, 'attribute = "emotion"\nlanguage = "ja"\nphases = ["dataset", "extract", "vectors", "sweep"]',
        '[sweep]\nscorers = ["sentiment", "fluency"]\n')), "--runs-root", r], "is in 'ja' but scorer 'sentiment' scores en text"),
    ("study-scorer-extra-missing", lambda t, r: ["run", str(_attribute_study(
        t, 'phases = ["dataset", "extract", "vectors", "sweep"]', f'[sweep]\nscorers = ["{_missing_extra_scorer()}", "fluency"]\n')),
        "--runs-root", r], "install it with: pip install needs-extra"),
    ("study-sweep-label-without-target", lambda t, r: ["run", str(_attribute_study(
        t, 'attribute = "politeness"\nphases = ["dataset", "extract", "vectors", "sweep"]', '[sweep]\nemotions = ["impolite"]\n')),
        "--runs-root", r], "has no target score column"),
    ("vectors-from-other-model", lambda t, r: ["steer", "--model", "tiny", "--vectors", str(_other_model_vectors(t)),
                                               "--emotion", "gratitude", "--layer", "1", "--runs-root", r, "Hello there"],
     "--allow-other-model"),
    ("missing-vector-file", lambda t, r: ["steer", "--model", "gpt-none-never-loaded", "--vectors", str(t / "none.safetensors"),
                                          "--emotion", "gratitude", "--runs-root", r, "Hello"], "no saved vectors"),
    ("not-a-run-folder", lambda t, r: ["runs", "compare", str(t), str(t)], "not a run folder"),
    ("vectors-export-unknown-format", lambda t, r: ["vectors-export", str(_tiny_vector_file(t, "blocks.1.hook_resid_post")),
                                                    "--format", "onnx", "--out", str(t / "x.onnx")], "format 'onnx' is unknown"),
    ("vectors-export-resid-pre-0", lambda t, r: ["vectors-export", str(_tiny_vector_file(t, "blocks.0.hook_resid_pre")),
                                                 "--format", "gguf", "--out", str(t / "x.gguf")], "embedding output"),
    ("vectors-import-other-width", lambda t, r: ["vectors-import", str(_control_vector_of_width(t, 7)), "--model", "tiny",
                                                 "--out", str(t / "o.safetensors")], "has d_model 7 but the model has d_model"),
    ("vectors-import-not-a-control-vector", lambda t, r: ["vectors-import", str(_jsonl(t / "x.gguf", [{"a": 1}])), "--model", "tiny",
                                                          "--out", str(t / "o.safetensors")], "not a readable GGUF"),
]
CASES += HUMANEVAL_CASES
CASES += TONE_CASES
_CAPSYS: list = [None]


@pytest.mark.parametrize(("case", "argv", "pattern"), CASES, ids=[c[0] for c in CASES])
def test_user_error_is_one_line_exit_2(case, argv, pattern, tmp_path, capsys):
    _CAPSYS[0] = capsys
    args = argv(tmp_path, str(tmp_path / "runs"))
    capsys.readouterr()
    code, _, err = run_cli(args, capsys)
    assert code == 2, err
    assert "Traceback" not in err
    lines = [ln for ln in err.strip().splitlines() if ln.strip()]
    errors = [ln for ln in lines if ln.startswith("error:")]
    assert len(errors) == 1 and lines[-1] == errors[0], err
    assert pattern in " ".join(lines[lines.index(errors[0]):]), err


def test_missing_vector_file_fails_before_the_model_loads(tmp_path, capsys, monkeypatch):
    import experiments.cli_common as cc

    monkeypatch.setattr(cc, "load_model_cli", lambda *a, **k: pytest.fail("the model was loaded before the vector file was checked"))
    code, _, err = run_cli(["steer", "--model", "tiny", "--vectors", str(tmp_path / "none.safetensors"), "--emotion", "gratitude",
                            "--runs-root", str(tmp_path), "Hello"], capsys)
    assert code == 2 and "no saved vectors" in err


def test_every_readme_error_row_is_walked():
    """The README's table and CASES stay in step: as many rows (less Ctrl-C) as distinct situations tested here."""
    text = (ROOT / "README.md").read_text()
    section = text.split("## Errors", 1)[1].split("\n## ", 1)[0]
    rows = [ln for ln in section.splitlines() if ln.startswith("| ") and not ln.startswith("| situation") and "| 2 |" in ln]
    assert len(rows) >= 18 and len(CASES) >= len(rows), (len(rows), len(CASES))


def test_extract_warns_on_what_dataset_validate_rejects(tmp_path, capsys):
    """A language without an emotion lexicon: `dataset validate` exits 2, `extract` warns with the same first problem and goes on."""
    ds = _jsonl(tmp_path / "de.jsonl", [{"id": f"de-{i}", "text": t, "emotion": "neutral", "spans": [], "language": "de"}
                                        for i, t in enumerate(["Heute regnet es den ganzen Tag.", "Zum Bahnhof sind es zehn Minuten."])])
    code, _, err_v = run_cli(["dataset", "validate", "--dataset", str(ds)], capsys)
    assert code == 2
    first = re.search(r"first: (.*)$", err_v.strip().splitlines()[-1]).group(1)
    code, out, err = run_cli(["extract", "--model", "tiny", "--hooks", "resid_post", "--profile", str(ds),
                              "--runs-root", str(tmp_path / "runs"), "--json"], capsys)
    assert code == 0 and json.loads(out)["dataset_valid"] is False
    assert err.startswith("warning:") and first in err


def test_allow_other_model_transfers_with_a_warning(tmp_path, capsys):
    code, out, err = run_cli(["steer", "--model", "tiny", "--vectors", str(_other_model_vectors(tmp_path)), "--emotion", "gratitude",
                              "--layer", "1", "--max-new-tokens", "2", "--allow-other-model", "--runs-root", str(tmp_path / "runs"),
                              "--json", "Hello there"], capsys)
    assert code == 0, err
    assert "warning: emotion vector 'gratitude' was computed on 'some-other-model'" in err


@pytest.mark.real
def test_real_model_refuses_vectors_from_another_model_of_the_same_width(real_model, tmp_path):
    """check_compatible on the real default model: width equal, provenance differs → HookError; allowed → warning."""
    from interp.errors import EmotionCircuitsWarning, HookError
    from steering.vectors import EmotionVector

    info = real_model.ec_info
    hook = "blocks.3.hook_resid_pre"
    foreign = EmotionVector("anger", torch.ones(info.d_model), hook, 3, "sentence_end", "neutral", "other", "f" * 64, "ds")
    with pytest.raises(HookError, match="computed on 'other'.*--allow-other-model"):
        foreign.check_compatible(real_model, hook)
    with pytest.warns(EmotionCircuitsWarning, match="using them anyway"):
        foreign.check_compatible(real_model, hook, allow_other_model=True)
    own = EmotionVector("anger", torch.ones(info.d_model), hook, 3, "sentence_end", "neutral", info.name, info.source_hash, "ds")
    own.check_compatible(real_model, hook)
