"""Write plotly figures and circuitsvis views as standalone HTML that opens with no network.

Each plotly figure is also stored as ``<name>.plotly.json`` beside its HTML, so a report
can re-embed every figure with plotly.js included once.

Everything user-supplied that reaches a page is escaped: text with :func:`html.escape`,
data inside ``<script>`` as JSON whose ``<``, ``>``, ``&`` (and U+2028/U+2029) are written
as ``\\u003c``-style escapes (:func:`script_json`), so a sentence, token or title holding
``</script><script>…`` stays data.
"""

import html
import json
import re
import uuid
from pathlib import Path

import circuitsvis
import plotly.offline
from circuitsvis.utils.convert_props import convert_props

from interp.errors import ConfigError
from interp.io import atomic_write_text

_SCRIPT_ESCAPES = {"<": "\\u003c", ">": "\\u003e", "&": "\\u0026", "\u2028": "\\u2028", "\u2029": "\\u2029"}
_SCRIPT_RE = re.compile("[<>&\u2028\u2029]")
_IDENT_RE = re.compile(r"^[A-Za-z_$][A-Za-z0-9_$]*$")


def script_json(obj=None, *, text: str | None = None) -> str:
    """JSON safe to inline in a ``<script>``: ``obj`` serialised (or JSON ``text`` as given) with ``<>&`` escaped.

    The escapes only occur inside JSON strings (JSON has no bare ``<``), so the value parses the same.
    """
    raw = text if text is not None else json.dumps(obj)
    return _SCRIPT_RE.sub(lambda m: _SCRIPT_ESCAPES[m.group(0)], raw)


def plotly_div(fig_json: str, div_id: str) -> str:
    """A div and a script drawing the plotly figure ``fig_json`` (JSON text) into it; needs plotly.js on the page."""
    return (f"<div class='fig' id='{html.escape(div_id, quote=True)}'></div><script>(function(){{var f={script_json(text=fig_json)};"
            f"Plotly.newPlot({script_json(div_id)}, f.data, f.layout, {{responsive:true}});}})();</script>")


def circuitsvis_div(component: str, props: dict, div_id: str) -> str:
    """A div and a script rendering circuitsvis ``component`` with ``props``; needs the circuitsvis bundle on the page."""
    if not _IDENT_RE.match(component):
        raise ConfigError(f"circuitsvis component {component!r} is not a component name (letters, digits, _)")
    return (f"<div class='fig cv' id='{html.escape(div_id, quote=True)}' style='margin:15px 0;'></div><script>"
            f"CircuitsVis.render({script_json(div_id)}, CircuitsVis.{component}, {script_json(props)});</script>")


def save_plotly(fig, path: str | Path, *, title: str | None = None) -> Path:
    """Save a plotly figure as standalone HTML (plotly.js inlined, no CDN) plus ``.plotly.json``."""
    p = Path(path)
    fig_json = fig.to_json()
    atomic_write_text(p.with_suffix(".plotly.json"), fig_json)
    page = (f"<!DOCTYPE html><html><head><meta charset='utf-8'><title>{html.escape(title or p.stem)}</title>"
            f"<script type='text/javascript'>{plotly.offline.get_plotlyjs()}</script></head><body>"
            f"{plotly_div(fig_json, 'plotly-figure')}</body></html>")
    return atomic_write_text(p, page)


def save_circuitsvis_view(component: str, props: dict, path: str | Path, *, title: str = "attention") -> Path:
    """Save a circuitsvis ``component`` with ``props`` as standalone HTML (bundle inlined, props as safe JSON)."""
    props = json.loads(convert_props(props))  # tensors → lists, as circuitsvis itself does
    page = (f"<!DOCTYPE html><html><head><meta charset='utf-8'><title>{html.escape(title)}</title>"
            f"<script type='text/javascript'>{circuitsvis_bundle()}</script></head><body>"
            f"{circuitsvis_div(component, props, 'cv-' + uuid.uuid4().hex[:12])}</body></html>")
    return atomic_write_text(path, page)


_LOCAL_SRC_RE = re.compile(r'CircuitsVis\.render\(\s*"[^"]*",\s*CircuitsVis\.(\w+),\s*(.*)\)\s*</script>\s*$', re.S)


def save_circuitsvis(view, path: str | Path, *, title: str = "attention") -> Path:
    """Save a circuitsvis ``RenderedHTML`` offline, re-serialising its props safely.

    ``view.local_src`` inlines the props with plain ``json.dumps`` (a token ``</script>`` would end the
    script), and ``str(view)`` loads the bundle from a CDN; so the component and props are read back
    from ``local_src`` and written with :func:`save_circuitsvis_view`.
    """
    tail = view.local_src.rsplit("CircuitsVis.render(", 1)
    m = _LOCAL_SRC_RE.search("CircuitsVis.render(" + tail[-1]) if len(tail) == 2 else None
    if m is None:
        raise ConfigError("this circuitsvis view has an unknown layout; save it with save_circuitsvis_view(component, props, path)")
    return save_circuitsvis_view(m.group(1), json.loads(m.group(2)), path, title=title)


def save_circuitsvis_spec(component: str, props: dict, path: str | Path) -> Path:
    """Store a circuitsvis view as ``{component, props}`` JSON (``.cv.json``) for a report to render."""
    return atomic_write_text(Path(path), json.dumps({"component": component, "props": json.loads(convert_props(props))}))


def circuitsvis_bundle() -> str:
    """The circuitsvis browser bundle (defines the global ``CircuitsVis``), safe to inline in a <script>."""
    js = (Path(circuitsvis.__file__).parent / "dist" / "cdn" / "iife.js").read_text(encoding="utf-8")
    return js.replace("</script>", "")
