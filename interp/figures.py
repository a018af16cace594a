"""Write plotly figures and circuitsvis views as standalone HTML that opens with no network."""

from pathlib import Path

from interp.io import atomic_write_text


def save_plotly(fig, path: str | Path) -> Path:
    """Save a plotly figure with plotly.js inlined (no CDN)."""
    html = fig.to_html(include_plotlyjs=True, full_html=True)
    return atomic_write_text(path, html)


def save_circuitsvis(view, path: str | Path, *, title: str = "attention") -> Path:
    """Save a circuitsvis ``RenderedHTML`` using its ``local_src`` (JavaScript inlined).

    ``str(view)`` would load the bundle from a CDN and render nothing offline.
    """
    body = view.local_src
    html = f"<!DOCTYPE html><html><head><meta charset='utf-8'><title>{title}</title></head><body>{body}</body></html>"
    return atomic_write_text(path, html)
