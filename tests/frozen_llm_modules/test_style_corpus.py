"""The style corpus: independent templates, a split that holds out whole templates and topics (checked on the
text), a free-written paraphrase set, and marker lexicons that are not the templates' own words."""

import json
from itertools import combinations

import numpy as np
import pytest

from frozen_llm_modules.state import ModuleError
from frozen_llm_modules.style_corpus import (
    N_HELDOUT_TEMPLATES,
    STYLE_EMOTION,
    build_rows,
    heldout_prompts,
    lexicon_overlap,
    load_paraphrases,
    load_style_corpus,
    ngrams,
    shared_ngrams,
    skeleton,
    split_corpus,
    templates,
)
from frozen_llm_modules.style_markers import TARGET_MARKER, markers


def test_style_corpus_is_built_from_independent_templates():
    rows = load_style_corpus()
    assert rows == build_rows()  # the shipped JSONL is exactly what the templates file builds
    assert len(rows) >= 240 and all(r["template"] and r["topic"] for r in rows)
    spec = templates()
    for style in STYLE_EMOTION:
        ts = spec["templates"][style]
        assert len({t["id"] for t in ts}) >= 10 and len({r["template"] for r in rows if r["style"] == style}) >= 10
    # wording differs, not only the topic: no two templates (any style) share a word 4-gram of their skeletons
    sk = [skeleton({"response": t["text"].replace("{task}", "X"), "topic": "X"}) for ts in spec["templates"].values() for t in ts]
    assert all(not (ngrams(a, 4) & ngrams(b, 4)) for a, b in combinations(sk, 2))


def test_split_holds_out_whole_templates_and_topics_checked_on_text():
    rows = load_style_corpus()
    train, held = split_corpus(rows)
    assert len(held) >= 4 * N_HELDOUT_TEMPLATES * 5 and len(train) >= 240
    assert not {r["template"] for r in train} & {r["template"] for r in held}
    assert not {r["topic"] for r in train} & {r["topic"] for r in held}
    assert not {r["prompt"] for r in train} & {r["prompt"] for r in held}
    for style in STYLE_EMOTION:
        assert len({r["template"] for r in held if r["style"] == style}) == N_HELDOUT_TEMPLATES
    # on the text: no held-out response shares a 5-word stretch of its template skeleton with a training response
    assert shared_ngrams(train, held, 5) == set()
    # ... and not even the raw text (topic words included) shares a 6-gram
    raw = set().union(*(ngrams(r["response"].lower().split(), 6) for r in train))
    assert not any(ngrams(r["response"].lower().split(), 6) & raw for r in held)
    prompts = heldout_prompts()
    assert len(prompts) == 30 and not set(prompts) & {r["prompt"] for r in train}


def test_text_check_catches_a_topic_only_split():
    """The old flaw: holding out topics only puts training templates in the held-out set; the text check sees it."""
    rows = build_rows()
    held_topics = {r["topic"] for r in split_corpus(rows)[1]}
    spec = templates()
    leaky = [{"style": s, "template": t["id"], "topic": topic, "response": t["text"].format(task=topic)}
             for s, ts in spec["templates"].items() for t in ts[:2] for topic in sorted(held_topics)[:2]]
    train, _ = split_corpus(rows)
    assert shared_ngrams(train, leaky, 5)


def test_split_rejects_a_corpus_without_enough_templates(tmp_path):
    rows = [{"style": "joy", "template": f"j{i}", "topic": f"t{i}", "prompt": "p", "response": "r"} for i in range(3)]
    p = tmp_path / "c.jsonl"
    p.write_text("\n".join(json.dumps(r) for r in rows))
    with pytest.raises(ModuleError, match="templates"):
        split_corpus(load_style_corpus(p))
    p.write_text(json.dumps({"style": "joy", "prompt": "p", "response": "r"}))
    with pytest.raises(ModuleError, match="line 1 needs fields style, template, topic"):
        load_style_corpus(p)


def test_paraphrase_set_is_free_written_on_new_topics():
    para = load_paraphrases()
    rows = load_style_corpus()
    for style in STYLE_EMOTION:
        assert sum(r["style"] == style for r in para) >= 5
    assert not {r["prompt"] for r in para} & {r["prompt"] for r in rows}
    assert shared_ngrams(rows, [dict(r, topic=None) for r in para], 5) == set()


def test_marker_lexicons_are_general_lists_not_the_templates_words():
    for style in STYLE_EMOTION:
        ov = lexicon_overlap(style)
        if ov.marker == "questions":
            continue
        # most of each lexicon never occurs in the templates, and most template words are not lexicon entries
        assert ov.lexicon_in_templates < 0.5 and ov.template_words_in_lexicon < 0.25, ov
    # the old warmth lexicon was mostly the templates' words; the new one is the VADER list (hundreds of entries)
    assert lexicon_overlap("joy", legacy=True).lexicon_in_templates > 0.5 > lexicon_overlap("joy").lexicon_in_templates
    assert lexicon_overlap("joy").lexicon_size > 300


def test_markers_separate_free_written_paraphrases_except_fear():
    """Validity on text the lexicons were not built from: the target marker is higher on its own style's
    paraphrases than on the other styles' (questions, alternatives, warmth). Fear's hedges do not separate
    (caution is expressed with warnings more than epistemic hedges): a known limit, reported with the numbers."""
    para = load_paraphrases()
    for style in ("curiosity", "frustration", "joy"):
        mk = TARGET_MARKER[style]
        own = np.mean([markers(r["response"]).get(mk) for r in para if r["style"] == style])
        other = np.mean([markers(r["response"]).get(mk) for r in para if r["style"] != style])
        assert own > other, (style, own, other)


def test_template_copy_rate_flags_copied_training_templates_only():
    from frozen_llm_modules.style_corpus import template_copy_rate

    train, held = split_corpus(load_style_corpus())
    copied = [r["response"].replace(r["topic"], "learn basic chess") for r in train[:5]]
    assert template_copy_rate(copied, train) == 1.0
    assert template_copy_rate([r["response"] for r in held], train) == 0.0
    assert template_copy_rate(["The best way is to practise every day and keep notes."], train) == 0.0
