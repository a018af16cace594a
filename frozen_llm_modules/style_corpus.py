"""The style corpus: hand-written templates per style × topics, split by whole template *and* topic.

``data/style_templates.json`` holds 12 independently written templates per style (fear, curiosity,
frustration, joy), 40 topics and 3 prompt forms; ``data/style_corpus.jsonl`` is built from it by
:func:`build_rows` (a test checks they agree). Each row is ``{style, template, topic, prompt, response}``.

Held out: the last :data:`N_HELDOUT_TEMPLATES` templates of each style (in file order) *and* the last
:data:`N_HELDOUT_TOPICS` topics. Training rows use a training template on a training topic, held-out
rows a held-out template on a held-out topic; rows mixing the two are dropped, so no held-out response
shares its template or its topic with training (checked on the text by :func:`shared_ngrams`).
``data/style_paraphrases.jsonl`` (8 per style, free-written on new topics, not from any template) is a
second evaluation set.
"""

import json
from dataclasses import dataclass
from importlib import resources

from frozen_llm_modules.state import ModuleError
from frozen_llm_modules.style_markers import TARGET_MARKER, count_phrases, lexicon, tokens

#: Style in the corpus → emotion whose high state should produce it.
STYLE_EMOTION = {"fear": "fear", "curiosity": "curiosity", "frustration": "frustration", "joy": "joy"}
N_HELDOUT_TEMPLATES = 3
N_HELDOUT_TOPICS = 10
#: Training topics each training template is written out on (rotating through the training topics).
TOPICS_PER_TEMPLATE = 10
FIELDS = ("style", "template", "topic", "prompt", "response")


def _data(name: str) -> str:
    return (resources.files("frozen_llm_modules") / "data" / name).read_text()


def templates() -> dict:
    return json.loads(_data("style_templates.json"))


def build_rows(spec: dict | None = None) -> list[dict]:
    """Corpus rows from a template spec (default the shipped one); deterministic, in file order."""
    spec = spec or templates()
    topics, forms = spec["topics"], spec["prompts"]
    train_topics, held_topics = topics[:-N_HELDOUT_TOPICS], topics[-N_HELDOUT_TOPICS:]
    rows = []
    for style, ts in spec["templates"].items():
        n_train = len(ts) - N_HELDOUT_TEMPLATES
        for j, t in enumerate(ts):
            if j < n_train:
                picks = [(j * TOPICS_PER_TEMPLATE + i) % len(train_topics) for i in range(TOPICS_PER_TEMPLATE)]
                cells = [(train_topics[k], (j + i) % len(forms)) for i, k in enumerate(picks)]
            else:
                cells = [(topic, (j + i) % len(forms)) for i, topic in enumerate(held_topics)]
            for topic, f in cells:
                rows.append({"style": style, "template": t["id"], "topic": topic,
                             "prompt": forms[f].format(task=topic), "response": t["text"].format(task=topic)})
    return rows


def load_style_corpus(path=None) -> list[dict]:
    """Rows ``{style, template, topic, prompt, response}``; default the shipped ``data/style_corpus.jsonl``."""
    return _read_rows(_data("style_corpus.jsonl") if path is None else _read_user(path), FIELDS, "style corpus")


def load_paraphrases(path=None) -> list[dict]:
    """The free-written paraphrase set: rows ``{style, prompt, response}`` (no template, new topics)."""
    return _read_rows(_data("style_paraphrases.jsonl") if path is None else _read_user(path), ("style", "prompt", "response"),
                      "paraphrase set")


def _read_user(path) -> str:
    try:
        return open(path, encoding="utf-8").read()
    except (OSError, UnicodeDecodeError) as exc:
        raise ModuleError(f"--corpus {str(path)!r} cannot be read ({exc}); give a JSONL file") from None


def _read_rows(text: str, fields: tuple[str, ...], what: str) -> list[dict]:
    rows = []
    for i, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        try:
            r = json.loads(line)
        except json.JSONDecodeError:
            raise ModuleError(f"{what} line {i} is not JSON; write one JSON object per line") from None
        if not isinstance(r, dict) or not set(fields) <= set(r) or r["style"] not in STYLE_EMOTION:
            raise ModuleError(f"{what} line {i} needs fields {', '.join(fields)} with style one of {list(STYLE_EMOTION)}")
        rows.append(r)
    if not rows:
        raise ModuleError(f"{what} has no rows; give a JSONL file with one row per response")
    return rows


def heldout_templates(rows: list[dict]) -> set[str]:
    """The last :data:`N_HELDOUT_TEMPLATES` distinct template ids of each style, in file order."""
    out = set()
    for s in STYLE_EMOTION:
        ids = list(dict.fromkeys(r["template"] for r in rows if r["style"] == s))
        if ids and len(ids) <= N_HELDOUT_TEMPLATES:
            raise ModuleError(f"style {s!r} has {len(ids)} templates; the split holds out {N_HELDOUT_TEMPLATES} and needs "
                              "at least one more for training")
        out |= set(ids[-N_HELDOUT_TEMPLATES:])
    return out


def heldout_topics(rows: list[dict]) -> set[str]:
    topics = list(dict.fromkeys(r["topic"] for r in rows))
    if len(topics) <= N_HELDOUT_TOPICS:
        raise ModuleError(f"the corpus has {len(topics)} topics; the split holds out {N_HELDOUT_TOPICS} and needs more")
    return set(topics[-N_HELDOUT_TOPICS:])


def split_corpus(rows: list[dict]) -> tuple[list[dict], list[dict]]:
    """(train, held-out): train = training template on a training topic; held-out = held-out template on a
    held-out topic; rows that mix the two are dropped."""
    ht, hp = heldout_templates(rows), heldout_topics(rows)
    train = [r for r in rows if r["template"] not in ht and r["topic"] not in hp]
    held = [r for r in rows if r["template"] in ht and r["topic"] in hp]
    return train, held


def heldout_prompts(rows: list[dict] | None = None) -> list[str]:
    """Prompts of the held-out topics, grouped by topic (its prompt forms consecutive)."""
    _, held = split_corpus(rows or load_style_corpus())
    out = []
    for topic in dict.fromkeys(r["topic"] for r in held):
        out.extend(dict.fromkeys(r["prompt"] for r in held if r["topic"] == topic))
    return out


def skeleton(row: dict) -> list[str]:
    """The response's words with its topic phrase replaced by one placeholder (the template as seen in text)."""
    text = row["response"].replace(row["topic"], " TOPICSLOT ") if row.get("topic") else row["response"]
    return ["<topic>" if w == "topicslot" else w for w in tokens(text)]


def ngrams(words: list[str], n: int) -> set[tuple[str, ...]]:
    return {tuple(words[i:i + n]) for i in range(len(words) - n + 1)}


def shared_ngrams(train: list[dict], held: list[dict], n: int = 5) -> set[tuple[str, ...]]:
    """Word ``n``-grams of held-out skeletons that also occur in a training skeleton (empty = no shared template text)."""
    seen = set().union(*(ngrams(skeleton(r), n) for r in train)) if train else set()
    return set().union(*(ngrams(skeleton(r), n) & seen for r in held)) if held else set()


def template_copy_rate(texts: list[str], train: list[dict], n: int = 5) -> float:
    """Share of ``texts`` that contain a word ``n``-gram of some training template's skeleton (a copied template)."""
    seen = set().union(*(ngrams(skeleton(r), n) for r in train)) if train else set()
    return sum(bool(ngrams(tokens(t), n) & seen) for t in texts) / max(len(texts), 1)


@dataclass(frozen=True)
class LexiconOverlap:
    """How a marker lexicon relates to a style's template text.

    ``lexicon_in_templates``: share of the lexicon's entries that occur in any of the style's templates;
    ``template_words_in_lexicon``: share of the templates' word tokens that are lexicon entries.
    """

    marker: str
    style: str
    lexicon_size: int
    lexicon_in_templates: float
    template_words_in_lexicon: float
    entries_used: tuple[str, ...]


def lexicon_overlap(style: str, *, legacy: bool = False, spec: dict | None = None) -> LexiconOverlap:
    spec = spec or templates()
    mk = TARGET_MARKER[STYLE_EMOTION[style]]
    lex = lexicon(mk, legacy=legacy)
    texts = [t["text"].replace("{task}", "") for t in spec["templates"][style]]
    used = tuple(sorted(p for p in lex if any(count_phrases(t, [p]) for t in texts)))
    words = sum(len(tokens(t)) for t in texts)
    hits = sum(count_phrases(t, lex) for t in texts)
    return LexiconOverlap(mk, style, len(lex), len(used) / len(lex), hits / max(words, 1), used)
