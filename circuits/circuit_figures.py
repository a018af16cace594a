"""Plotly figures for circuit analyses (layer × head and layer × position heatmaps, effect-vs-k curves) and the one
text form of an estimate with its CI that their tables use."""

import plotly.graph_objects as go

from interp.stats import Estimate


def ci_text(est: Estimate, spec: str = ".3f", *, value: bool = True) -> str:
    """``"0.123 [0.045, 0.201]"`` (or only ``"[0.045, 0.201]"`` with ``value=False``), numbers in format ``spec``."""
    return f"{est:{spec}}" if value else f"[{est.lo:{spec}}, {est.hi:{spec}}]"


def layer_head_heatmap(values, *, title: str, hover=None, hover_name: str = "value"):
    """Heatmap of a [layer head] tensor (heads on x, layers on y)."""
    v = values.detach().cpu().numpy()
    kw = {}
    if hover is not None:
        kw = {"customdata": hover.detach().cpu().numpy(),
              "hovertemplate": f"L%{{y}}H%{{x}}: %{{z:.4f}}<br>{hover_name} %{{customdata:.3g}}<extra></extra>"}
    fig = go.Figure(go.Heatmap(z=v, colorscale="RdBu", zmid=0, **kw))
    fig.update_layout(title=title, xaxis_title="head", yaxis_title="layer")
    return fig


def layer_pos_heatmap(values, *, title: str, x_labels: list[str] | None = None):
    """Heatmap of a [layer pos] tensor."""
    v = values.detach().cpu().numpy()
    fig = go.Figure(go.Heatmap(z=v, x=x_labels, colorscale="RdBu", zmid=0))
    fig.update_layout(title=title, xaxis_title="position", yaxis_title="layer")
    return fig


def effect_vs_k(ks, top, top_lo, top_hi, rand, rand_lo, rand_hi, *, title: str, draws=None):
    """Cumulative top-k ablation effect next to k random heads, with CI bands as error bars (and each random draw as a dot)."""
    fig = go.Figure()
    if draws:
        xs = [k for k, d in zip(ks, draws) for _ in d]
        ys = [v for d in draws for v in d]
        fig.add_trace(go.Scatter(x=xs, y=ys, name="each random draw", mode="markers", marker={"size": 5, "opacity": 0.5}))
    for name, y, lo, hi in (("top-k screened", top, top_lo, top_hi), ("k random", rand, rand_lo, rand_hi)):
        fig.add_trace(go.Scatter(x=list(ks), y=list(y), name=name, mode="lines+markers",
                                 error_y={"type": "data", "symmetric": False,
                                          "array": [h - m for h, m in zip(hi, y)], "arrayminus": [m - l for m, l in zip(y, lo)]}))
    fig.update_layout(title=title, xaxis_title="k heads ablated", yaxis_title="Δ emotion log-prob")
    return fig
