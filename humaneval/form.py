"""One self-contained offline HTML rating form per rater, items and sides shuffled with a per-rater seed.

Every piece of user text (tone, prompts, outputs, rater name) is escaped with :func:`html.escape`; the form's
configuration sits in a JSON ``<script>`` written by :func:`interp.figures.script_json`, so no text can end a
script or add markup. Answers are saved as JSON (format :data:`ANSWER_FORMAT`) by the inline script.
"""

import hashlib
import html
from pathlib import Path

import numpy as np

from humaneval.design import SCALE, TASKS, Item, Key
from humaneval.form_assets import CSS, JS
from interp.errors import ConfigError
from interp.figures import script_json
from interp.io import atomic_write_text, ensure_writable_dir

ANSWER_FORMAT = "emotion-circuits-humaneval-answers"
SECTION_TITLES = {"pairwise": "Which is more {tone}?", "bestworst": "Most and least {tone}",
                  "naturalness": "How natural does it read?"}
_LETTERS = "ABCD"


def rater_seed(seed: int, rater: str) -> list[int]:
    """The seed sequence of one rater's shuffles: the make seed plus a stable number from the rater id."""
    return [seed, int(hashlib.sha256(rater.encode("utf-8")).hexdigest()[:8], 16)]


def rater_items(key: Key, rater: str, *, seed: int | None = None) -> list[tuple[Item, tuple[str, ...]]]:
    """(item, output ids in the order shown) for one rater: tasks in :data:`TASKS` order, items and sides shuffled.

    ``seed`` defaults to the one the key was made with.
    """
    rng = np.random.default_rng(rater_seed(key.config.get("seed", 0) if seed is None else seed, rater))
    out = []
    for kind in TASKS:
        items = key.item_set.by_kind(kind)
        for i in rng.permutation(len(items)):
            item = items[i]
            out.append((item, tuple(item.outputs[j] for j in rng.permutation(len(item.outputs)))))
    return out


def render_form(key: Key, rater: str, *, seed: int | None = None, post_url: str | None = None) -> str:
    """The whole form page for ``rater`` as HTML text."""
    shown = rater_items(key, rater, seed=seed)
    s = key.item_set
    cfg = {"format": ANSWER_FORMAT, "item_set": s.id, "rater": rater, "post_url": post_url,
           "items": [{"id": it.id, "kind": it.kind, "shown": list(order)} for it, order in shown]}
    tone = html.escape(s.tone)
    body = [f"<h1>Rating texts</h1><p class='meta'>rater <b>{html.escape(rater)}</b> · item set <code>{s.id}</code> · "
            f"{len(shown)} questions</p>", _instructions(tone, bool(post_url))]
    for kind in TASKS:
        group = [(it, order) for it, order in shown if it.kind == kind]
        if group:
            body.append(f"<h2>{SECTION_TITLES[kind].format(tone=tone)}</h2>")
            body += [_ITEM_RENDERERS[kind](it, order, s.texts, tone, n) for n, (it, order) in enumerate(group, 1)]
    body.append("<h2>Comments (optional)</h2><textarea id='he-comment' aria-label='comments'></textarea>")
    return (f"<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>"
            f"<meta name='viewport' content='width=device-width, initial-scale=1'>"
            f"<title>Rating form · {html.escape(rater)}</title><style>{CSS}</style></head><body>{''.join(body)}"
            f"<footer><span id='he-progress'></span><button type='button' id='he-save'>Save answers</button>"
            f"<span id='he-status'></span></footer>"
            f"<script id='he-config' type='application/json'>{script_json(cfg)}</script><script>{JS}</script></body></html>")


def write_forms(key: Key, out_dir: str | Path, *, seed: int | None = None, post_url: str | None = None) -> dict[str, Path]:
    """Write ``<out_dir>/<rater>.html`` for every rater in the key; return {rater: path}."""
    check_post_url(post_url)
    folder = ensure_writable_dir(out_dir)
    return {r: atomic_write_text(folder / f"{r}.html", render_form(key, r, seed=seed, post_url=post_url)) for r in key.raters}


def check_post_url(url: str | None) -> None:
    if url is not None and not url.lower().startswith(("http://", "https://")):
        raise ConfigError(f"--post-url {url!r} is not an http(s) URL; give e.g. 'https://example.org/answers' or leave it out")


def _instructions(tone: str, posts: bool) -> str:
    where = ("The file is also sent to the study server when you save; keep the downloaded copy until told it arrived."
             if posts else "Send the downloaded file to the study team.")
    return (f"<div class='instructions'><p>You will read short texts written in answer to a prompt. "
            f"Judge only what each question asks: how <b>{tone}</b> a text is, or how natural it reads. "
            f"There are no right answers except on a few attention checks, which tell you what to choose.</p>"
            f"<p>Your answers stay in this browser while you work. When done, press <b>Save answers</b> at the bottom: "
            f"it downloads a file named <code>answers-….json</code>. {where}</p></div>")


def _prompt(item: Item) -> str:
    return f"<div class='prompt'>Prompt: {html.escape(item.prompt)}</div>"


def _open(item: Item, n: int) -> str:
    return f"<section class='item' id='item-{item.id}' data-item='{item.id}' data-kind='{item.kind}'><div class='meta'>{n}.</div>"


def _pairwise(item: Item, order: tuple[str, ...], texts: dict[str, str], tone: str, n: int) -> str:
    opts = "".join(f"<label class='option'><input type='radio' name='{item.id}' value='{oid}'><span class='tag'>{_LETTERS[j]}</span>"
                   f"<div class='text'>{html.escape(texts[oid])}</div></label>" for j, oid in enumerate(order))
    return (f"{_open(item, n)}{_prompt(item)}<p class='question'>Which text is more <b>{tone}</b>?</p>"
            f"<div class='options'>{opts}</div></section>")


def _naturalness(item: Item, order: tuple[str, ...], texts: dict[str, str], tone: str, n: int) -> str:
    scale = "".join(f"<label><input type='radio' name='{item.id}' value='{v}'> {v}</label>" for v in SCALE)
    return (f"{_open(item, n)}{_prompt(item)}<div class='text'>{html.escape(texts[order[0]])}</div>"
            f"<p class='question'>How natural does this text read?</p><div class='scale'><span>1 = very unnatural</span>"
            f"{scale}<span>5 = completely natural</span></div></section>")


def _bestworst(item: Item, order: tuple[str, ...], texts: dict[str, str], tone: str, n: int) -> str:
    rows = "".join(f"<tr><td class='pick'><input type='radio' name='{item.id}:best' value='{oid}' aria-label='most {_LETTERS[j]}'></td>"
                   f"<td><span class='tag'>{_LETTERS[j]}</span><div class='text'>{html.escape(texts[oid])}</div></td>"
                   f"<td class='pick'><input type='radio' name='{item.id}:worst' value='{oid}' aria-label='least {_LETTERS[j]}'></td></tr>"
                   for j, oid in enumerate(order))
    return (f"{_open(item, n)}{_prompt(item)}<p class='question'>Mark the <b>most {tone}</b> and the <b>least {tone}</b> text.</p>"
            f"<table class='bw'><tr><th>most</th><th>text</th><th>least</th></tr>{rows}</table></section>")


_ITEM_RENDERERS = {"pairwise": _pairwise, "naturalness": _naturalness, "bestworst": _bestworst}
