"""Plotly figures for emotion geometry: norm profiles, cosine heatmaps, probe accuracy, overlap and alignment bars.

Each function takes the plain dicts written by ``emotion-circuits vectors / subspace / align``
(so a figure can be redrawn from a run folder) and returns a ``plotly.graph_objects.Figure``;
save with :func:`interp.figures.save_plotly`.
"""

import plotly.graph_objects as go
from plotly.subplots import make_subplots

from interp.stats import Estimate
from steering.reliability import pair_key

_COLOURS = ["#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b"]


def _band(fig, x, lo, hi, colour, name, row=None, col=None):
    kw = {"row": row, "col": col} if row else {}
    fig.add_trace(go.Scatter(x=list(x) + list(x)[::-1], y=list(hi) + list(lo)[::-1], fill="toself", fillcolor=colour,
                             opacity=0.2, line={"width": 0}, hoverinfo="skip", showlegend=False, name=name), **kw)


def norm_profile_figure(layers: list[dict], *, title: str = "emotion vector L2 norm by layer") -> go.Figure:
    """``layers``: records ``{"layer", "method", "contrast", "reliability": VectorReliability.to_dict()}``."""
    methods = list(dict.fromkeys(r["method"] for r in layers))
    fig = make_subplots(rows=1, cols=len(methods), subplot_titles=methods)
    for c, method in enumerate(methods, start=1):
        recs = [r for r in layers if r["method"] == method and r["contrast"] == "neutral"]
        if not recs:
            continue
        xs = [r["layer"] for r in recs]
        for i, e in enumerate(recs[0]["reliability"]["emotions"]):
            col = _COLOURS[i % len(_COLOURS)]
            n = [r["reliability"]["norm"][e] for r in recs]
            null = [r["reliability"]["norm_null"][e] for r in recs]
            _band(fig, xs, [v["lo"] for v in n], [v["hi"] for v in n], col, e, 1, c)
            fig.add_trace(go.Scatter(x=xs, y=[v["value"] for v in n], name=f"{e} ({method})", line={"color": col}), row=1, col=c)
            fig.add_trace(go.Scatter(x=xs, y=[v["hi"] for v in null], name=f"{e} shuffled-label 97.5%", line={"color": col, "dash": "dot"}), row=1, col=c)
    fig.update_layout(title=title + " (bands: 95% bootstrap CI; dotted: shuffled-label null)", xaxis_title="layer", yaxis_title="L2 norm")
    return fig


def ci_text(e: Estimate | dict) -> str:
    """``"value [lo, hi]"`` to 3 decimals, from an :class:`~interp.stats.Estimate` or its ``to_dict()``."""
    est = e if isinstance(e, Estimate) else Estimate(e["value"], e["lo"], e["hi"])
    return f"{est:.3f}"


def centre_cosine_matrices(records: list[dict], layer: int) -> dict[str, dict]:
    """:func:`cosine_heatmaps`' input from the vector records at ``layer``: one matrix per method and contrast."""
    out = {}
    for r in records:
        if r["layer"] == layer:
            rel, e = r["reliability"], r["reliability"]["emotions"]
            cos = {(a, b): rel["cosine"][pair_key(a, b)] for a in e for b in e if a != b}
            out[f"{r['method']} / {r['contrast']} (layer {layer}, evaluation split)"] = {
                "emotions": e, "matrix": [[1.0 if a == b else cos[a, b]["value"] for b in e] for a in e],
                "ci": [["1" if a == b else ci_text(cos[a, b]) for b in e] for a in e]}
    return out


def cosine_heatmaps(matrices: dict[str, dict], *, title: str = "cosine between emotion vectors") -> go.Figure:
    """``matrices``: ``{label: {"emotions": [...], "matrix": [[...]], "ci": [[text]]}}``, one heatmap each."""
    labels = list(matrices)
    fig = make_subplots(rows=1, cols=len(labels), subplot_titles=labels)
    for c, lab in enumerate(labels, start=1):
        m = matrices[lab]
        fig.add_trace(go.Heatmap(z=m["matrix"], x=m["emotions"], y=m["emotions"], zmin=-1, zmax=1, colorscale="RdBu_r",
                                 text=m.get("ci"), texttemplate="%{text}" if m.get("ci") else None, showscale=c == len(labels)),
                      row=1, col=c)
    fig.update_layout(title=title + " (cells: cosine [95% CI])")
    return fig


def probe_figure(records: list[dict], *, title: str = "held-out probe accuracy by layer") -> go.Figure:
    """``records``: ``{"layer", "method", "probe": ProbeResult.to_dict()}``."""
    fig = go.Figure()
    for i, method in enumerate(dict.fromkeys(r["method"] for r in records)):
        recs = [r for r in records if r["method"] == method]
        xs = [r["layer"] for r in recs]
        col = _COLOURS[i % len(_COLOURS)]
        acc = [r["probe"]["accuracy"] for r in recs]
        _band(fig, xs, [a["lo"] for a in acc], [a["hi"] for a in acc], col, method)
        fig.add_trace(go.Scatter(x=xs, y=[a["value"] for a in acc], name=f"{method}", line={"color": col}))
        fig.add_trace(go.Scatter(x=xs, y=[r["probe"]["shuffled"]["value"] for r in recs], name=f"{method} shuffled labels",
                                 line={"color": col, "dash": "dot"}))
    if records:
        ch = records[0]["probe"]["chance"]
        fig.add_hline(y=ch, line_dash="dash", annotation_text=f"chance {ch:.2f}")
    fig.update_layout(title=title, xaxis_title="layer", yaxis_title="accuracy", yaxis_range=[0, 1.02])
    return fig


def overlap_bars(items: list[dict], *, title: str = "subspace overlap vs random subspaces") -> go.Figure:
    """``items``: ``{"label", "overlap": OverlapResult.to_dict()}``; bars with CIs next to the random baselines."""
    labels = [it["label"] for it in items]
    ov = [it["overlap"]["overlap"] for it in items]
    rs = [it["overlap"]["random_sampled"] for it in items]
    fig = go.Figure()
    fig.add_trace(go.Bar(x=labels, y=[o["value"] for o in ov], name="overlap",
                         error_y={"type": "data", "symmetric": False, "array": [o["hi"] - o["value"] for o in ov],
                                  "arrayminus": [o["value"] - o["lo"] for o in ov]}))
    fig.add_trace(go.Bar(x=labels, y=[r["value"] for r in rs], name="random (sampled)",
                         error_y={"type": "data", "symmetric": False, "array": [r["hi"] - r["value"] for r in rs],
                                  "arrayminus": [r["value"] - r["lo"] for r in rs]}))
    fig.add_trace(go.Scatter(x=labels, y=[it["overlap"]["random_analytic"] for it in items], mode="markers",
                             name="random (analytic k/d)", marker={"symbol": "x", "size": 10}))
    fig.update_layout(title=title, yaxis_title="mean cos² of principal angles", barmode="group")
    return fig


def nulled_overlap_bars(items: list[dict], *, title: str = "difference-subspace overlap vs its nulls") -> go.Figure:
    """``items``: ``{"label", "overlap": NulledOverlap.to_dict()}``: overlap next to label-shuffled and neutral-only nulls."""
    labels = [it["label"] for it in items]
    fig = go.Figure()
    for key, name in (("overlap", "overlap"), ("shuffled_null", "label-shuffled null"), ("neutral_null", "neutral-only null")):
        es = [it["overlap"][key] for it in items]
        fig.add_trace(go.Bar(x=labels, y=[e["value"] for e in es], name=name,
                             error_y={"type": "data", "symmetric": False, "array": [e["hi"] - e["value"] for e in es],
                                      "arrayminus": [e["value"] - e["lo"] for e in es]}))
    fig.add_trace(go.Scatter(x=labels, y=[it["overlap"]["old_overlap"] for it in items], mode="markers",
                             name="old: centred emotion PCA", marker={"symbol": "x", "size": 10}))
    fig.update_layout(title=title, yaxis_title="mean cos² of principal angles", barmode="group")
    return fig


def alignment_bars(evaluation: dict, *, title: str = "emotion vectors of A mapped into B (held-out)") -> go.Figure:
    """``evaluation``: a ``MapEvaluation.to_dict()``: cos² before / after with CIs, random-map and shuffled-pair baselines."""
    emos = evaluation["emotions"]
    fig = go.Figure()
    for key, name in (("cos2_before", "before (zero-padded)"), ("cos2_after", "after"),
                      ("cos2_random_map", "random map"), ("cos2_shuffled_pairs", "map on shuffled pairs")):
        vals = [evaluation[key][e] for e in emos]
        fig.add_trace(go.Bar(x=emos, y=[v["value"] for v in vals], name=name,
                             error_y={"type": "data", "symmetric": False, "array": [v["hi"] - v["value"] for v in vals],
                                      "arrayminus": [v["value"] - v["lo"] for v in vals]}))
    fig.update_layout(title=f"{title}: {evaluation['kind']}", yaxis_title="cos²", barmode="group", yaxis_range=[0, 1.02])
    return fig
