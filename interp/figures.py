"""Write plotly figures and circuitsvis views as standalone HTML that opens with no network.

Each plotly figure is also stored as ``<name>.plotly.json`` beside its HTML, so a report
can re-embed every figure with plotly.js included once.
"""

import json
from pathlib import Path

from interp.io import atomic_write_text


def save_plotly(fig, path: str | Path) -> Path:
    """Save a plotly figure as standalone HTML (plotly.js inlined, no CDN) plus ``.plotly.json``."""
    p = Path(path)
    html = fig.to_html(include_plotlyjs=True, full_html=True)
    atomic_write_text(p.with_suffix(".plotly.json"), fig.to_json())
    return atomic_write_text(p, html)


def save_circuitsvis(view, path: str | Path, *, title: str = "attention") -> Path:
    """Save a circuitsvis ``RenderedHTML`` using its ``local_src`` (JavaScript inlined).

    ``str(view)`` would load the bundle from a CDN and render nothing offline.
    """
    body = view.local_src
    html = f"<!DOCTYPE html><html><head><meta charset='utf-8'><title>{title}</title></head><body>{body}</body></html>"
    return atomic_write_text(path, html)


def save_circuitsvis_spec(component: str, props: dict, path: str | Path) -> Path:
    """Store a circuitsvis view as ``{component, props}`` JSON (``.cv.json``) for a report to render."""
    from circuitsvis.utils.convert_props import convert_props

    return atomic_write_text(Path(path), json.dumps({"component": component, "props": json.loads(convert_props(props))}))


def circuitsvis_bundle() -> str:
    """The circuitsvis browser bundle (defines the global ``CircuitsVis``), safe to inline in a <script>."""
    import circuitsvis

    js = (Path(circuitsvis.__file__).parent / "dist" / "cdn" / "iife.js").read_text(encoding="utf-8")
    return js.replace("</script>", "")
