#!/usr/bin/env python3
"""Build the hand-written English emotion sentence sets from the text files beside this script.

    python tools/build_emotion_data.py [--out DIR] [--sentences DIR]

Reads ``tools/emotion_sentences/`` (UTF-8, one sentence per line, ``\\n`` endings):
  baseline/<emotion>.txt  -- 70 sentences per emotion   -> emotions_baseline.jsonl (280 lines)
  extended/<emotion>.txt  -- 100 sentences per emotion  -> emotions_extended.jsonl (400 lines)
  steering_prompts.txt    -- 40 neutral prompt prefixes -> steering_prompts.jsonl
and writes the three files to ``--out`` (default ``interp/data``). Line n of
``baseline/anger.txt`` becomes record ``anger-b-<n:03d>`` (extended: ``-x-``); line n of the
prompts becomes ``prompt-<n:03d>``. To change a sentence, edit its line and rerun; the test
``tests/tools/test_build_emotion_data.py`` checks that the packaged files match this build.

Spans are never typed by hand: for each emotional sentence the script finds the single word of
``interp.lexicon.EMOTION_WORDS[emotion]`` with a case-insensitive word-boundary regex and
records its [start, end) character offsets. All validation rules are checked before any file is
written; if any rule fails the script prints every failure and exits with status 1.

Deterministic output; UTF-8, "\\n" line endings.
"""

from __future__ import annotations

import argparse
import json
import re
import statistics
import sys
from pathlib import Path

from interp.lexicon import EMOTION_WORDS, EMOTIONS, STRONG_AFFECT_WORDS

ROOT = Path(__file__).resolve().parent.parent
SENTENCES_DIR = Path(__file__).resolve().parent / "emotion_sentences"
DATA_DIR = ROOT / "interp" / "data"
BASELINE_NAME = "emotions_baseline.jsonl"
EXTENDED_NAME = "emotions_extended.jsonl"
PROMPTS_NAME = "steering_prompts.jsonl"
PROMPTS_FILE = "steering_prompts.txt"

# split -> (id code, sentences per emotion)
SPLITS = {"baseline": ("b", 70), "extended": ("x", 100)}
N_PROMPTS = 40
MIN_WORDS, MAX_WORDS = 7, 12

# Broader stem patterns per emotion, used to make sure a sentence carries exactly one emotion word
# of its own emotion (no inflected extras such as "apologized") and none of any other emotion.
# The lexicon's own words are added below, so the check always covers the package lexicon.
STEMS = {
    "gratitude": [r"thank\w*", r"grateful\w*", r"gratitude", r"appreciat\w*"],
    "anger": [r"anger\w*", r"angr\w*", r"furious\w*", r"fury", r"mad",
              r"madder", r"enrag\w*", r"outrag\w*", r"livid\w*", r"irate\w*",
              r"annoy\w*", r"infuriat\w*", r"irritat\w*", r"resent\w*",
              r"rage", r"rages", r"raging", r"fuming", r"seething"],
    "apology": [r"sorry", r"sorrier", r"apolog\w*", r"regret\w*",
                r"forgiv\w*"],
}

# Other strongly emotional words that neutral sentences and prompts must avoid; stricter than
# interp.lexicon.STRONG_AFFECT_WORDS, which is added below.
STRONG_WORDS = [
    r"happ(?:y|ier|iest|ily|iness)", r"unhappy", r"sad\w*", r"lov(?:e|ed|es|ing|ely)",
    r"hat(?:e|ed|es|ing|red)", r"glad\w*", r"upset\w*", r"afraid", r"scar(?:ed|y)",
    r"fear\w*", r"joy\w*", r"excit\w*", r"thrill\w*", r"delight\w*",
    r"miserabl\w*", r"terribl\w*", r"awful\w*", r"wonderful\w*", r"pleas\w*",
    r"cry", r"cries", r"cried", r"crying", r"tears?", r"nervous\w*", r"proud\w*",
    r"asham\w*", r"worr\w*", r"anxi\w*", r"lonel\w*", r"grie\w*", r"disgust\w*",
    r"jealous\w*", r"envy", r"envious", r"shame\w*", r"guilt\w*", r"depress\w*",
    r"hurt\w*", r"pain", r"pains", r"painful\w*", r"heartbr\w*", r"bitter\w*", r"frustrat\w*",
    r"disappoint\w*", r"hope\w*", r"hopeful\w*", r"kind\w*", r"cruel\w*",
    r"blame\w*", r"damn\w*", r"hell", r"wow", r"amazing", r"horribl\w*",
    r"embarrass\w*", r"panic\w*", r"calm\w*", r"tense", r"rude\w*", r"lie",
    r"lied", r"lying", r"mistake\w*", r"fault\w*", r"excuse\w*", r"pardon\w*",
    r"oops",
]


def _compile(patterns: list[str]) -> re.Pattern[str]:
    return re.compile(r"\b(?:" + "|".join(patterns) + r")\b", re.IGNORECASE)


def _escaped(words) -> list[str]:
    return [re.escape(w) for w in words]


LEXICON_RE = {e: _compile(_escaped(ws)) for e, ws in EMOTION_WORDS.items()}
STEM_RE = {e: _compile(STEMS[e] + _escaped(EMOTION_WORDS[e])) for e in EMOTION_WORDS}
STRONG_RE = _compile(STRONG_WORDS + _escaped(STRONG_AFFECT_WORDS))
INTERNAL_BOUNDARY_RE = re.compile(r"[.!?][\"')\]]*\s")


# ---------------------------------------------------------------------------
# Reading the sentence files
# ---------------------------------------------------------------------------


def read_lines(path: Path, errors: list[str]) -> list[str]:
    """The lines of a UTF-8 text file, unstripped (stray whitespace is a validation error)."""
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        errors.append(f"{path}: missing")
        return []
    if b"\r" in raw:
        errors.append(f"{path}: contains carriage returns; save it with \\n line endings")
    text = raw.decode("utf-8")
    if not text.endswith("\n"):
        errors.append(f"{path}: missing trailing newline")
    lines = text.split("\n")
    if lines[-1] == "":
        lines.pop()
    for i, line in enumerate(lines, start=1):
        if not line.strip():
            errors.append(f"{path}:{i}: blank line; every line is one sentence")
    return lines


def read_split(src: Path, split: str, errors: list[str]) -> dict[str, list[str]]:
    """``{emotion: sentences}`` from ``src/<split>/<emotion>.txt``, in ``EMOTIONS`` order."""
    folder = src / split
    extra = sorted(p.name for p in folder.glob("*") if p.stem not in EMOTIONS or p.suffix != ".txt")
    if extra:
        errors.append(f"{folder}: unexpected files {extra}; expected one of "
                      f"{', '.join(e + '.txt' for e in EMOTIONS)}")
    return {emotion: read_lines(folder / f"{emotion}.txt", errors) for emotion in EMOTIONS}


# ---------------------------------------------------------------------------
# Validation and output
# ---------------------------------------------------------------------------


def normalize(text: str) -> str:
    """Case-insensitive, punctuation-insensitive key used for duplicate checks."""
    text = re.sub(r"[^\w\s]", "", text.lower())
    return " ".join(text.split())


def word_count(text: str) -> int:
    return len(text.split())


def check_sentence(text: str, emotion: str, where: str, errors: list[str]) -> list[list[int]]:
    """Validate one sentence; return its spans (list of [start, end])."""
    n = word_count(text)
    if not (MIN_WORDS <= n <= MAX_WORDS):
        errors.append(f"{where}: {n} words (need {MIN_WORDS}-{MAX_WORDS}): {text!r}")
    if text != text.strip() or "  " in text:
        errors.append(f"{where}: stray whitespace: {text!r}")
    if not text[:1].isupper():
        errors.append(f"{where}: does not start with a capital letter: {text!r}")
    if text[-1:] not in ".!?":
        errors.append(f"{where}: does not end in . ! or ?: {text!r}")
    if INTERNAL_BOUNDARY_RE.search(text):
        errors.append(f"{where}: looks like more than one sentence: {text!r}")

    if emotion == "neutral":
        for emo, rx in STEM_RE.items():
            m = rx.search(text)
            if m:
                errors.append(f"{where}: neutral sentence has {emo} word {m.group(0)!r}: {text!r}")
        m = STRONG_RE.search(text)
        if m:
            errors.append(f"{where}: neutral sentence has emotional word {m.group(0)!r}: {text!r}")
        return []

    own = list(LEXICON_RE[emotion].finditer(text))
    own_stems = list(STEM_RE[emotion].finditer(text))
    if len(own) != 1:
        errors.append(f"{where}: expected exactly one {emotion} word, found "
                      f"{[m.group(0) for m in own]}: {text!r}")
        return []
    if len(own_stems) != 1:
        errors.append(f"{where}: extra {emotion}-like words "
                      f"{[m.group(0) for m in own_stems]}: {text!r}")
    for emo, rx in STEM_RE.items():
        if emo == emotion:
            continue
        m = rx.search(text)
        if m:
            errors.append(f"{where}: {emotion} sentence has {emo} word {m.group(0)!r}: {text!r}")
    m = own[0]
    start, end = m.start(), m.end()
    word = text[start:end]
    if word.lower() not in EMOTION_WORDS[emotion] or " " in word:
        errors.append(f"{where}: bad span word {word!r}: {text!r}")
    return [[start, end]]


def span_position(text: str, start: int) -> str:
    """'start' (first word), 'end' (last third of words) or 'middle'."""
    idx = len(text[:start].split())
    n = word_count(text)
    if idx == 0:
        return "start"
    if idx >= (2 * n) / 3:
        return "end"
    return "middle"


def build(src: Path = SENTENCES_DIR) -> tuple[dict[str, list[dict]], list[dict], list[str]]:
    """Read and validate every sentence file under ``src``.

    Returns:
        ``({split: records}, prompt records, errors)``; nothing may be written unless errors is empty.
    """
    errors: list[str] = []
    records: dict[str, list[dict]] = {split: [] for split in SPLITS}
    seen: dict[str, str] = {}

    for split, (code, expected) in SPLITS.items():
        source = read_split(src, split, errors)
        for emotion in EMOTIONS:
            sentences = source[emotion]
            if len(sentences) != expected:
                errors.append(f"{split}/{emotion}: {len(sentences)} sentences, expected {expected}")
            for i, text in enumerate(sentences, start=1):
                rid = f"{emotion}-{code}-{i:03d}"
                spans = check_sentence(text, emotion, rid, errors)
                key = normalize(text)
                if key in seen:
                    errors.append(f"{rid}: duplicate of {seen[key]}: {text!r}")
                else:
                    seen[key] = rid
                records[split].append({
                    "id": rid,
                    "text": text,
                    "emotion": emotion,
                    "spans": spans,
                    "language": "en",
                    "attribute": "emotion",
                })

    # Length balance: neutral vs emotional means, per split.
    for split, recs in records.items():
        neutral = [word_count(r["text"]) for r in recs if r["emotion"] == "neutral"]
        emo = [word_count(r["text"]) for r in recs if r["emotion"] != "neutral"]
        if neutral and emo and abs(statistics.mean(neutral) - statistics.mean(emo)) > 1.0:
            errors.append(f"{split}: neutral mean length {statistics.mean(neutral):.2f} vs "
                          f"emotional {statistics.mean(emo):.2f} differ by more than 1 word")
        # Span positions must be varied: each position bucket >= 10% per emotion.
        for emotion in EMOTIONS[:-1]:
            rs = [r for r in recs if r["emotion"] == emotion and r["spans"]]
            if not rs:
                continue
            buckets = {"start": 0, "middle": 0, "end": 0}
            for r in rs:
                buckets[span_position(r["text"], r["spans"][0][0])] += 1
            for b, c in buckets.items():
                if c < 0.10 * len(rs):
                    errors.append(f"{split}/{emotion}: only {c}/{len(rs)} spans at {b} position")

    # Steering prompts.
    steering_prompts = read_lines(src / PROMPTS_FILE, errors)
    prompts = []
    if len(steering_prompts) != N_PROMPTS:
        errors.append(f"prompts: {len(steering_prompts)}, expected {N_PROMPTS}")
    prompt_seen: set[str] = set()
    for i, text in enumerate(steering_prompts, start=1):
        pid = f"prompt-{i:03d}"
        if text != text.strip() or not text:
            errors.append(f"{pid}: stray whitespace: {text!r}")
        if not (3 <= word_count(text) <= 12):
            errors.append(f"{pid}: {word_count(text)} words, expected a short prefix: {text!r}")
        for emo, rx in STEM_RE.items():
            m = rx.search(text)
            if m:
                errors.append(f"{pid}: prompt has {emo} word {m.group(0)!r}: {text!r}")
        m = STRONG_RE.search(text)
        if m:
            errors.append(f"{pid}: prompt has emotional word {m.group(0)!r}: {text!r}")
        key = normalize(text)
        if key in prompt_seen:
            errors.append(f"{pid}: duplicate prompt: {text!r}")
        prompt_seen.add(key)
        prompts.append({"id": pid, "text": text})

    return records, prompts, errors


def write_jsonl(path: Path, rows: list[dict]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", encoding="utf-8", newline="\n") as f:
        for row in rows:
            f.write(json.dumps(row, ensure_ascii=False) + "\n")


def verify_written(path: Path, rows: list[dict], errors: list[str]) -> None:
    """Re-read a written file and check it round-trips and spans still hold."""
    raw = path.read_bytes()
    if b"\r" in raw:
        errors.append(f"{path}: contains carriage returns")
    lines = raw.decode("utf-8").split("\n")
    if lines[-1] != "":
        errors.append(f"{path}: missing trailing newline")
    parsed = [json.loads(line) for line in lines[:-1]]
    if parsed != rows:
        errors.append(f"{path}: contents do not round-trip")
    for r in parsed:
        for s, e in r.get("spans", []):
            if r["text"][s:e].lower() not in EMOTION_WORDS.get(r["emotion"], ()):
                errors.append(f"{path}: {r['id']} span {s}:{e} -> {r['text'][s:e]!r}")


def _shown(path: Path) -> Path:
    return path.relative_to(ROOT) if path.is_relative_to(ROOT) else path


def report(records: dict[str, list[dict]], prompts: list[dict], out: Path) -> None:
    paths = {"baseline": out / BASELINE_NAME, "extended": out / EXTENDED_NAME}
    for split, recs in records.items():
        print(f"{_shown(paths[split])}: {len(recs)} lines")
        for emotion in EMOTIONS:
            rs = [r for r in recs if r["emotion"] == emotion]
            lens = [word_count(r["text"]) for r in rs]
            pos = {"start": 0, "middle": 0, "end": 0}
            for r in rs:
                if r["spans"]:
                    pos[span_position(r["text"], r["spans"][0][0])] += 1
            pos_s = "" if emotion == "neutral" else (
                f"  span position start/middle/end = {pos['start']}/{pos['middle']}/{pos['end']}")
            print(f"  {emotion:<9} n={len(rs):>3}  words mean={statistics.mean(lens):.2f} "
                  f"min={min(lens)} max={max(lens)}{pos_s}")
    print(f"{_shown(out / PROMPTS_NAME)}: {len(prompts)} lines")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=DATA_DIR,
                        help="folder for the .jsonl files (default: interp/data)")
    parser.add_argument("--sentences", type=Path, default=SENTENCES_DIR,
                        help="folder of sentence files (default: tools/emotion_sentences)")
    args = parser.parse_args(argv)
    out = args.out.resolve()

    records, prompts, errors = build(args.sentences)
    if errors:
        for e in errors:
            print("ERROR:", e, file=sys.stderr)
        print(f"{len(errors)} validation error(s); nothing written.", file=sys.stderr)
        return 1
    outputs = ((out / BASELINE_NAME, records["baseline"]),
               (out / EXTENDED_NAME, records["extended"]),
               (out / PROMPTS_NAME, prompts))
    for path, rows in outputs:
        write_jsonl(path, rows)
    post: list[str] = []
    for path, rows in outputs:
        verify_written(path, rows, post)
    if post:
        for e in post:
            print("ERROR:", e, file=sys.stderr)
        return 1
    report(records, prompts, out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
