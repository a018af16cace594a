"""report.html escapes everything stored (issue 15, finding 4): study name, sentences, titles, figure data, tokens;
and renders headline / generic / example tables, sections in phase order, figure counts and provenance."""

import html
import json
from html.parser import HTMLParser

import pytest

from experiments.report import build_report
from tests.interp.test_figures import PAYLOAD, assert_no_injected_script, assert_not_run_in_chromium


@pytest.fixture
def hostile_run(tmp_path):
    import plotly.graph_objects as go
    import torch

    from interp.figures import save_circuitsvis_spec

    run = tmp_path / "runs" / "study" / "20250101T000000Z-abcdef"
    (run / "sweep").mkdir(parents=True)
    (run / "screen").mkdir()
    (run / "manifest.json").write_text(json.dumps({"study": PAYLOAD, "wall_seconds": 1.0}))
    (run / "config.json").write_text(json.dumps({"study": {"name": PAYLOAD}}))
    (run / "sweep" / "summary.json").write_text(json.dumps({
        "text": PAYLOAD,
        "headline": [{"name": PAYLOAD, "value": 0.5, "lo": 0.1, "hi": 0.9, "baseline": PAYLOAD, "note": PAYLOAD}],
        "tables": [{"title": PAYLOAD, "columns": [PAYLOAD], "rows": [[PAYLOAD]]}],
    }))
    (run / "sweep" / "examples.json").write_text(json.dumps([{"prompt": PAYLOAD, "setting": "L1 α=1", "unsteered": PAYLOAD,
                                                             "steered": PAYLOAD, "scores": PAYLOAD}]))
    fig = go.Figure(go.Bar(x=[PAYLOAD], y=[1]), layout={"title": PAYLOAD})
    (run / "sweep" / "effects.plotly.json").write_text(fig.to_json())
    save_circuitsvis_spec("AttentionHeads", {"attention": torch.rand(1, 2, 2).tril(), "tokens": ["a", PAYLOAD]},
                          run / "screen" / "view.cv.json")
    return run


def test_report_escapes_stored_text_and_script_data(hostile_run):
    path = build_report(hostile_run)
    text = path.read_text()
    # plotly.js, circuitsvis bundle, one plotly figure, one circuitsvis view
    page = assert_no_injected_script(text, n_scripts=4)
    assert PAYLOAD in page.title, "the study name is shown as text"
    assert_not_run_in_chromium(path)


def test_report_refuses_a_non_identifier_circuitsvis_component(hostile_run):
    from interp.errors import ConfigError

    spec = hostile_run / "screen" / "view.cv.json"
    spec.write_text(json.dumps({"component": "AttentionHeads,alert(1)", "props": {}}))
    with pytest.raises(ConfigError, match="not a component name"):
        build_report(hostile_run)


# --- structure: tables, sections, ordering, escaping as text ----------------------------------------------------------


class _Tables(HTMLParser):
    """Every table as a list of rows of cell texts (entities decoded), plus h1/h2 texts and id attributes."""

    def __init__(self):
        super().__init__()
        self.tables: list[list[list[str]]] = []
        self.headings: dict[str, list[str]] = {"h1": [], "h2": [], "h3": []}
        self.ids: list[str] = []
        self.hrefs: list[str] = []
        self._cell: list[str] | None = None
        self._head: str | None = None

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if "id" in a:
            self.ids.append(a["id"])
        if tag == "a":
            self.hrefs.append(a.get("href", ""))
        if tag == "table":
            self.tables.append([])
        elif tag == "tr":
            self.tables[-1].append([])
        elif tag in ("td", "th"):
            self._cell = []
        elif tag in self.headings:
            self._head, self._text = tag, []

    def handle_endtag(self, tag):
        if tag in ("td", "th") and self._cell is not None:
            self.tables[-1][-1].append("".join(self._cell))
            self._cell = None
        elif tag == self._head:
            self.headings[tag].append("".join(self._text))
            self._head = None

    def handle_data(self, data):
        if self._cell is not None:
            self._cell.append(data)
        if self._head is not None:
            self._text.append(data)


def _run(tmp_path, manifest=None, phases=None):
    run = tmp_path / "runs" / "s" / "20250101T000000Z-000000"
    run.mkdir(parents=True)
    (run / "manifest.json").write_text(json.dumps({"study": "s", "wall_seconds": 12.5} if manifest is None else manifest))
    for name, summary in (phases or {}).items():
        (run / name).mkdir()
        if summary is not None:
            (run / name / "summary.json").write_text(json.dumps(summary))
    return run


def _page(path) -> _Tables:
    p = _Tables()
    p.feed(path.read_text(encoding="utf-8"))
    return p


def test_report_headline_table_formats_value_ci_p_and_missing_cells(tmp_path):
    run = _run(tmp_path, phases={"sweep": {"headline": [
        {"name": "cos gain", "value": 0.123456, "lo": 0.1, "hi": 0.2, "baseline": 0.01, "note": "n=12"},
        {"name": "effect", "value": 1234567.0, "p": 0.0004321},
        {"name": "count", "value": 7},
    ]}})
    page = _page(build_report(run))
    (table,) = page.tables
    assert table == [["measure", "value", "95% CI", "baseline", "note"],
                     ["cos gain", "0.1235", "[0.1, 0.2]", "0.01", "n=12"],
                     ["effect", "1.235e+06", "p = 0.0004321", "—", "—"],
                     ["count", "7", "—", "—", "—"]]


def test_report_generic_tables_and_examples_render_every_cell_as_text(tmp_path):
    hostile = "a & b <i>x</i> \"q\" 'r'"
    run = _run(tmp_path, phases={"screen": {"tables": [{"title": hostile, "columns": ["head", hostile],
                                                        "rows": [["L1H2", 0.5], ["L0H0", None]]}]}})
    (run / "screen" / "examples.json").write_text(json.dumps([{"prompt": hostile, "setting": "L1 α=4", "unsteered": "u",
                                                              "steered": "s", "scores": 0.25}]))
    path = build_report(run)
    text = path.read_text(encoding="utf-8")
    assert "<i>x</i>" not in text and "a &amp; b &lt;i&gt;x&lt;/i&gt;" in text
    page = _page(path)
    table, examples = page.tables
    assert table == [["head", hostile], ["L1H2", "0.5"], ["L0H0", "—"]]
    assert examples == [["prompt", "setting", "unsteered", "steered", "scores"], [hostile, "L1 α=4", "u", "s", "0.25"]]
    assert hostile in page.headings["h3"] and "Steering examples" in page.headings["h3"]


def test_report_orders_known_phases_then_unknown_ones_and_links_them(tmp_path):
    from experiments.report import PHASE_TITLES

    run = _run(tmp_path, phases={"zz_extra": {"text": "z"}, "aa_extra": {"text": "a"}, "no_summary": None,
                                 "ablate": {}, "dataset": None, "sweep": {"text": "swept"}})
    page = _page(build_report(run))
    assert page.headings["h2"] == [PHASE_TITLES["dataset"], PHASE_TITLES["sweep"], PHASE_TITLES["ablate"],
                                   "aa_extra", "zz_extra", "Provenance"]
    assert page.ids == ["dataset", "sweep", "ablate", "aa_extra", "zz_extra", "provenance"]
    assert page.hrefs == ["#" + i for i in page.ids], "the table of contents links every section"


def test_report_escapes_study_name_title_and_provenance(tmp_path):
    name = "<script>alert('x')</script> & co"
    run = _run(tmp_path, manifest={"study": name, "wall_seconds": 3.0}, phases={})
    (run / "config.json").write_text(json.dumps({"study": {"name": name}, "k": 3}))
    path = build_report(run)
    text = path.read_text(encoding="utf-8")
    assert "<script>alert" not in text and "&lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt; &amp; co" in text
    page = assert_no_injected_script(text, n_scripts=1)  # plotly.js only: no circuitsvis bundle without a view
    assert page.title == f"emotion-circuits report — {name}"
    assert _page(path).headings["h1"] == [f"emotion-circuits — {name}"]
    prov = text.split("<h2 id='provenance'>Provenance</h2><pre>")[1].split("</pre>")[0]
    assert json.loads(html.unescape(prov)) == {"manifest": {"study": name, "wall_seconds": 3.0},
                                                   "config": {"study": {"name": name}, "k": 3}}


def test_report_counts_figures_and_falls_back_to_folder_name(tmp_path):
    import plotly.graph_objects as go

    run = _run(tmp_path, manifest={}, phases={"vectors": {}})
    (run / "vectors" / "deep").mkdir()
    for p in (run / "vectors" / "a.plotly.json", run / "vectors" / "deep" / "b.plotly.json"):
        p.write_text(go.Figure(go.Scatter(x=[1, 2], y=[3, 4])).to_json())
    path = build_report(run)
    text = path.read_text(encoding="utf-8")
    assert text.count("Plotly.newPlot(") == 2 and "2 figures · 0 attention views" in text
    assert "wall time — s" in text and f"emotion-circuits — {run.name}" in _page(path).headings["h1"]


def test_report_refuses_a_folder_without_manifest_and_writes_atomically(tmp_path):
    from interp.errors import StoreError

    with pytest.raises(StoreError, match="is not a run folder"):
        build_report(tmp_path)
    assert not (tmp_path / "report.html").exists()
    run = _run(tmp_path, phases={"sweep": {"text": "marker-v1-xyzzy"}})
    build_report(run)
    (run / "sweep" / "summary.json").write_text(json.dumps({"text": "marker-v2-xyzzy"}))
    path = build_report(run)  # rebuilding replaces the page
    assert path == run / "report.html" and "marker-v2-xyzzy" in path.read_text() and "marker-v1-xyzzy" not in path.read_text()
    assert sorted(p.name for p in run.iterdir()) == ["manifest.json", "report.html", "sweep"], "no temporary left"
