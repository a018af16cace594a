"""Escaping in standalone figures (issue 15, finding 4): user text in titles and tokens cannot add scripts."""

import json
from html.parser import HTMLParser

import pytest
import torch

from experiments.browser import chromium_path
from interp.figures import save_circuitsvis, save_circuitsvis_view, save_plotly, script_json

PAYLOAD = "</script><script>window.__pwned=1;document.documentElement.setAttribute('data-pwned','1')</script>"
TITLE_PAYLOAD = "</title><script>window.__pwned=1;document.documentElement.setAttribute('data-pwned','1')</script>"


class _Page(HTMLParser):
    """Script elements (their text), the <title> text and the <html> element's attributes."""

    def __init__(self):
        super().__init__()
        self.scripts: list[str] = []
        self.title = ""
        self.html_attrs: dict = {}
        self._in = None

    def handle_starttag(self, tag, attrs):
        if tag == "script":
            self.scripts.append("")
        if tag == "html":
            self.html_attrs = dict(attrs)
        self._in = tag

    def handle_endtag(self, tag):
        self._in = None

    def handle_data(self, data):
        if self._in == "script":
            self.scripts[-1] += data
        elif self._in == "title":
            self.title += data


def parse(text: str) -> _Page:
    page = _Page()
    page.feed(text)
    return page


def assert_no_injected_script(text: str, n_scripts: int) -> _Page:
    page = parse(text)
    assert len(page.scripts) == n_scripts, f"expected {n_scripts} script elements, found {len(page.scripts)}"
    assert not any(s.lstrip().startswith("window.__pwned") for s in page.scripts)
    return page


def assert_not_run_in_chromium(path) -> None:
    if chromium_path() is None:
        pytest.skip("headless Chromium is not installed (apt-get install -y chromium)")
    from experiments.browser import dump_dom

    dom = dump_dom(path)
    assert "<body" in dom, "Chromium produced no DOM"
    assert "data-pwned" not in parse(dom).html_attrs, "the injected script ran"


def test_script_json_escapes_markup_and_round_trips():
    obj = {"tokens": ["</script>", "a&b", "<!--", "\u2028"], "n": 1}
    text = script_json(obj)
    assert "<" not in text and ">" not in text and "&" not in text and "\u2028" not in text
    assert json.loads(text) == obj


def test_circuitsvis_view_escapes_title_and_tokens(tmp_path):
    toks = ["<bos>", PAYLOAD, " thanks"]
    path = save_circuitsvis_view("AttentionHeads", {"attention": torch.rand(1, 3, 3).tril(), "tokens": toks}, tmp_path / "v.html",
                                 title=TITLE_PAYLOAD)
    text = path.read_text()
    page = assert_no_injected_script(text, n_scripts=2)  # the bundle, the render call
    assert page.title == TITLE_PAYLOAD, "the title is shown as text, whole"
    assert_not_run_in_chromium(path)


def test_save_circuitsvis_rendered_html_is_reserialised_safely(tmp_path):
    import circuitsvis as cv

    view = cv.attention.attention_patterns(attention=torch.rand(1, 2, 2).tril(), tokens=["a", PAYLOAD])
    assert PAYLOAD in view.local_src, "circuitsvis itself inlines the raw token (the reason for re-serialising)"
    path = save_circuitsvis(view, tmp_path / "v.html", title=TITLE_PAYLOAD)
    assert_no_injected_script(path.read_text(), n_scripts=2)
    assert_not_run_in_chromium(path)


def test_plotly_figure_title_cannot_inject(tmp_path):
    import plotly.graph_objects as go

    fig = go.Figure(go.Bar(x=[PAYLOAD], y=[1]), layout={"title": PAYLOAD})
    path = save_plotly(fig, tmp_path / "f.html", title=TITLE_PAYLOAD)
    assert_no_injected_script(path.read_text(), n_scripts=2)  # plotly.js, the newPlot call
    assert json.loads((tmp_path / "f.plotly.json").read_text())["layout"]["title"]["text"] == PAYLOAD
    assert_not_run_in_chromium(path)


@pytest.mark.real
def test_attention_view_of_injected_sentence_on_real_model(real_model, tmp_path):
    """attention-view with a sentence that tries to close the title and the script: no script runs, the view renders."""
    from circuits.attention_view import attention_view

    text = f"{TITLE_PAYLOAD} thanks"
    (path,) = attention_view(real_model, [text], [(0, 0)], tmp_path)
    page = assert_no_injected_script(path.read_text(), n_scripts=2)
    assert page.title.endswith(text)
    assert_not_run_in_chromium(path)


def test_attention_view_out_pointing_at_a_file_is_a_user_error(tiny_model, tmp_path):
    from circuits.attention_view import attention_view
    from interp.errors import StoreError

    f = tmp_path / "existing.html"
    f.write_text("keep me")
    with pytest.raises(StoreError, match="is an existing file"):
        attention_view(tiny_model, ["We are grateful."], [(0, 0)], f)
    assert f.read_text() == "keep me"
