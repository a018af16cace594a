"""``tools/build_emotion_data.py``: the packaged English emotion sets are exactly what the builder makes
from ``tools/emotion_sentences/``, and a sentence that breaks a rule stops the build before anything is written."""

import importlib.util
import shutil
from pathlib import Path

import pytest

import interp
from interp.lexicon import EMOTION_WORDS

ROOT = Path(__file__).resolve().parents[2]
PACKAGED = Path(interp.__file__).resolve().parent / "data"
OUTPUTS = ("emotions_baseline.jsonl", "emotions_extended.jsonl", "steering_prompts.jsonl")


@pytest.fixture(scope="module")
def builder():
    spec = importlib.util.spec_from_file_location("build_emotion_data", ROOT / "tools" / "build_emotion_data.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_build_emotion_data_reproduces_packaged_files_byte_for_byte(builder, tmp_path):
    assert builder.main(["--out", str(tmp_path)]) == 0
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(OUTPUTS)
    for name in OUTPUTS:
        assert (tmp_path / name).read_bytes() == (PACKAGED / name).read_bytes(), (
            f"interp/data/{name} differs from tools/emotion_sentences/: edit the .txt files and run "
            "'python tools/build_emotion_data.py'")


def test_build_emotion_data_spans_are_package_lexicon_words(builder):
    records, _, errors = builder.build()
    assert errors == []
    for split in records.values():
        for r in split:
            if r["emotion"] == "neutral":
                assert r["spans"] == []
            else:
                [(a, b)] = r["spans"]
                assert r["text"][a:b].lower() in EMOTION_WORDS[r["emotion"]]


@pytest.mark.parametrize(("file", "line", "message"), [
    ("baseline/neutral.txt", "The bus was late, thanks to the snow on the road.", "neutral sentence has gratitude word"),
    ("extended/anger.txt", "He apologized, but I was still furious about the car.", "anger sentence has apology word"),
    ("baseline/gratitude.txt", "Thanks.", "words (need 7-12)"),
])
def test_build_emotion_data_rejects_a_bad_sentence_and_writes_nothing(builder, tmp_path, capsys, file, line, message):
    src = tmp_path / "sentences"
    shutil.copytree(builder.SENTENCES_DIR, src)
    path = src / file
    lines = path.read_text(encoding="utf-8").split("\n")
    lines[0] = line
    path.write_text("\n".join(lines), encoding="utf-8")
    out = tmp_path / "out"
    assert builder.main(["--out", str(out), "--sentences", str(src)]) == 1
    assert message in capsys.readouterr().err
    assert not out.exists()
