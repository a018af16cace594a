"""Build one self-contained ``report.html`` from a run folder's stored results.

Reads, per phase folder ``<run>/<phase>/``: ``summary.json`` (headline numbers with CIs
and baselines: ``{"headline": [{"name", "value", "lo", "hi", "baseline", "note"}], ...}``),
every ``*.plotly.json`` figure, every circuitsvis ``*.cv.json`` view, and
``examples.json`` (steering examples). plotly.js and the circuitsvis bundle are
inlined once each, so the page opens with no network.

Stored text (study name, sentences, generations, titles, folder names) is HTML-escaped;
figure data and circuitsvis props go into ``<script>`` as script-safe JSON
(:func:`interp.figures.script_json`), so stored text can never add markup or scripts.
"""

import html
import json
from datetime import datetime, timezone
from pathlib import Path

import plotly.offline

from experiments.phase_registry import PHASES
from interp.errors import StoreError
from interp.figures import circuitsvis_bundle, circuitsvis_div, plotly_div
from interp.io import atomic_write_text, read_json

PHASE_TITLES = {p.name: p.title for p in PHASES}
"""Report heading per phase (from :mod:`experiments.phase_registry`); phase sections appear in this order."""

_CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,sans-serif;margin:24px auto;max-width:1200px;color:#222;padding:0 16px}
h1{font-size:1.6em} h2{border-bottom:1px solid #ddd;padding-bottom:4px;margin-top:2em}
table{border-collapse:collapse;margin:8px 0;font-size:0.92em} td,th{border:1px solid #ccc;padding:3px 8px;text-align:left}
th{background:#f3f3f3} .note{color:#666;font-size:0.9em} .fig{margin:12px 0} pre{background:#f7f7f7;padding:8px;overflow-x:auto}
.ex td{vertical-align:top;max-width:420px}
"""


def _fmt(v) -> str:
    if isinstance(v, float):
        return f"{v:.4g}"
    if v is None:
        return "—"
    return html.escape(str(v))


def _headline_table(rows: list[dict]) -> str:
    if not rows:
        return ""
    out = ["<table><tr><th>measure</th><th>value</th><th>95% CI</th><th>baseline</th><th>note</th></tr>"]
    for r in rows:
        ci = f"[{_fmt(r.get('lo'))}, {_fmt(r.get('hi'))}]" if r.get("lo") is not None else (f"p = {_fmt(r['p'])}" if r.get("p") is not None else "—")
        out.append(f"<tr><td>{_fmt(r.get('name'))}</td><td>{_fmt(r.get('value'))}</td><td>{ci}</td>"
                   f"<td>{_fmt(r.get('baseline'))}</td><td class='note'>{_fmt(r.get('note'))}</td></tr>")
    out.append("</table>")
    return "\n".join(out)


def _plotly_div(fig_json: str, div_id: str) -> str:
    return plotly_div(fig_json, div_id)


def _cv_div(spec: dict, div_id: str) -> str:
    return circuitsvis_div(str(spec["component"]), spec["props"], div_id)


def _examples(examples: list[dict]) -> str:
    if not examples:
        return ""
    out = ["<table class='ex'><tr><th>prompt</th><th>setting</th><th>unsteered</th><th>steered</th><th>scores</th></tr>"]
    for e in examples:
        out.append(f"<tr><td>{_fmt(e.get('prompt'))}</td><td>{_fmt(e.get('setting'))}</td><td>{_fmt(e.get('unsteered'))}</td>"
                   f"<td>{_fmt(e.get('steered'))}</td><td class='note'>{_fmt(e.get('scores'))}</td></tr>")
    out.append("</table>")
    return "\n".join(out)


def build_report(run_dir: str | Path) -> Path:
    """Write ``<run_dir>/report.html`` from stored results; return its path."""
    run = Path(run_dir)
    if not (run / "manifest.json").exists():
        raise StoreError(f"{str(run)!r} is not a run folder (no manifest.json)")
    manifest = read_json(run / "manifest.json")
    config = read_json(run / "config.json") if (run / "config.json").exists() else {}
    parts: list[str] = []
    toc: list[str] = []
    n_fig = n_cv = 0
    phases = [p for p in PHASE_TITLES if (run / p).is_dir()] + sorted(
        d.name for d in run.iterdir() if d.is_dir() and d.name not in PHASE_TITLES and (d / "summary.json").exists())
    for phase in phases:
        pdir = run / phase
        title = PHASE_TITLES.get(phase, phase)
        anchor = html.escape(phase, quote=True)
        toc.append(f"<li><a href='#{anchor}'>{html.escape(title)}</a></li>")
        parts.append(f"<h2 id='{anchor}'>{html.escape(title)}</h2>")
        summary = read_json(pdir / "summary.json") if (pdir / "summary.json").exists() else {}
        if summary.get("text"):
            parts.append(f"<p>{html.escape(str(summary['text']))}</p>")
        parts.append(_headline_table(summary.get("headline", [])))
        for tbl in summary.get("tables", []):
            cols = tbl.get("columns", [])
            parts.append(f"<h3>{_fmt(tbl.get('title'))}</h3><table><tr>" + "".join(f"<th>{_fmt(c)}</th>" for c in cols) + "</tr>"
                         + "".join("<tr>" + "".join(f"<td>{_fmt(v)}</td>" for v in row) + "</tr>" for row in tbl.get("rows", [])) + "</table>")
        if (pdir / "examples.json").exists():
            parts.append("<h3>Steering examples</h3>" + _examples(read_json(pdir / "examples.json")))
        for fig_path in sorted(pdir.rglob("*.plotly.json")):
            n_fig += 1
            parts.append(f"<p class='note'>{html.escape(fig_path.name.replace('.plotly.json', ''))}</p>")
            parts.append(_plotly_div(fig_path.read_text(encoding="utf-8"), f"plotly-{n_fig}"))
        for cv_path in sorted(pdir.rglob("*.cv.json")):
            n_cv += 1
            parts.append(f"<p class='note'>{html.escape(cv_path.name.replace('.cv.json', ''))}</p>")
            parts.append(_cv_div(json.loads(cv_path.read_text(encoding="utf-8")), f"cv-{n_cv}"))
    prov = {"manifest": manifest, "config": config}
    page = [
        "<!DOCTYPE html><html><head><meta charset='utf-8'>",
        f"<title>emotion-circuits report — {html.escape(str(manifest.get('study', run.name)))}</title>",
        f"<style>{_CSS}</style>",
        f"<script type='text/javascript'>{plotly.offline.get_plotlyjs()}</script>",
        f"<script type='text/javascript'>{circuitsvis_bundle()}</script>" if n_cv else "",
        "</head><body>",
        f"<h1>emotion-circuits — {html.escape(str(manifest.get('study', run.name)))}</h1>",
        f"<p class='note'>run {html.escape(run.name)} · built {datetime.now(timezone.utc).isoformat(timespec='seconds')} · "
        f"wall time {_fmt(manifest.get('wall_seconds'))} s · {n_fig} figures · {n_cv} attention views</p>",
        "<ul>" + "".join(toc) + "<li><a href='#provenance'>Provenance</a></li></ul>",
        *parts,
        "<h2 id='provenance'>Provenance</h2><pre>" + html.escape(json.dumps(prov, indent=2, default=str)) + "</pre>",
        "</body></html>",
    ]
    return atomic_write_text(run / "report.html", "\n".join(page))
