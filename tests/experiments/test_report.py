"""report.html escapes everything stored (issue 15, finding 4): study name, sentences, titles, figure data, tokens."""

import json

import pytest

from experiments.report import build_report
from tests.interp.test_figures import PAYLOAD, assert_no_injected_script, assert_not_run_in_chromium, parse


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
