"""The plotly summary of a human-evaluation report (six panels, no data beyond the report)."""

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots


def _bars(fig, names: list[str], estimates, row: int, col: int, color: str) -> None:
    vals = [e.value for e in estimates]
    fig.add_trace(go.Bar(x=names, y=vals, marker_color=color, showlegend=False,
                         error_y={"type": "data", "symmetric": False,
                                  "array": [e.hi - e.value for e in estimates],
                                  "arrayminus": [e.value - e.lo for e in estimates]}), row=row, col=col)


def summary_figure(report) -> go.Figure:
    """BT strengths, win rates (row beat column), naturalness, best–worst, α and attention checks, with 95% CIs."""
    names = report.ranking()
    fig = make_subplots(rows=2, cols=3, subplot_titles=(
        "Bradley–Terry log-strength", "win rate (row beat column)", "naturalness (1–5)",
        "best–worst score", "Krippendorff's α (CI over items)", "attention checks failed per rater"))
    _bars(fig, names, [s.strength for s in report.scores], 1, 1, "#2f6fd6")
    order = [report.systems.index(n) for n in names]
    fig.add_trace(go.Heatmap(z=report.win_rates()[np.ix_(order, order)].tolist(), x=names, y=names, zmin=0, zmax=1,
                             colorscale="RdBu", showscale=False, hovertemplate="%{y} beat %{x}: %{z:.2f}<extra></extra>"),
                  row=1, col=2)
    fig.update_yaxes(autorange="reversed", row=1, col=2)
    _bars(fig, names, [s.naturalness for s in report.scores], 1, 3, "#4a9d5b")
    _bars(fig, names, [s.best_worst for s in report.scores], 2, 1, "#c7732c")
    _bars(fig, [f"{a.task} · {a.metric}" for a in report.alphas], [a.alpha for a in report.alphas], 2, 2, "#7a5bc7")
    fig.add_trace(go.Bar(x=[r.rater for r in report.raters], y=[r.n_failed for r in report.raters], showlegend=False,
                         marker_color=["#d9534f" if r.excluded else "#8a94a6" for r in report.raters],
                         hovertemplate="%{x}: %{y} failed<extra></extra>"), row=2, col=3)
    fig.update_layout(title=f"Human evaluation · '{report.tone}' · item set {report.item_set} · "
                            f"{sum(not r.excluded for r in report.raters)} raters", height=760, template="plotly_white")
    return fig
