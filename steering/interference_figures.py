"""Heatmap of an interference matrix: steered labels (rows) × scored targets (columns), colour = effect over α = 0."""

import numpy as np
import plotly.graph_objects as go


def interference_heatmap(matrix, *, on_target: list[list[bool]] | None = None, title: str = "interference: Δ score over α=0"):
    """Plotly heatmap of an :class:`~steering.interference.EffectMatrix` (evaluation prompts).

    Colour is the effect in each column's score units (diverging, centred on 0); hover shows the 95% CI, the α = 0
    mean, the random-direction mean and the rank p. Cells marked ``*`` have a CI excluding 0 and rank p < 0.05;
    on-target cells (``on_target[r][c]``) are outlined by a ``◆``.
    """
    m = matrix
    eff = np.asarray(m.effect, dtype=float)
    n_r, n_c = eff.shape
    hover, text = [], []
    for r in range(n_r):
        hrow, trow = [], []
        for c in range(n_c):
            sig = (m.lo[r, c] > 0 or m.hi[r, c] < 0) and m.random_p[r, c] < 0.05
            diag = bool(on_target and on_target[r][c])
            trow.append(f"{'◆' if diag else ''}{eff[r, c]:+.2f}{'*' if sig else ''}")
            hrow.append(f"steered {m.rows[r]}<br>scored {m.columns[c]}<br>Δ {eff[r, c]:+.3f} [{m.lo[r, c]:+.3f}, {m.hi[r, c]:+.3f}]"
                        f"<br>α=0 mean {m.baseline[c]:.3f}<br>random mean Δ {m.random_mean[r, c]:+.3f} "
                        f"[{m.random_lo[r, c]:+.3f}, {m.random_hi[r, c]:+.3f}]<br>p vs {m.n_random} random {m.random_p[r, c]:.3g}"
                        f"<br>sign-flip Holm p {m.p_holm[r, c]:.3g}")
        hover.append(hrow)
        text.append(trow)
    lim = float(np.nanmax(np.abs(eff))) if np.isfinite(eff).any() else 1.0
    fig = go.Figure(go.Heatmap(z=eff.tolist(), x=list(m.columns), y=list(m.rows), text=text, texttemplate="%{text}",
                               customdata=hover, hovertemplate="%{customdata}<extra></extra>", colorscale="RdBu_r",
                               zmin=-lim or -1.0, zmax=lim or 1.0, zmid=0.0, colorbar={"title": "Δ (score units)"}))
    fig.update_layout(title=f"{title} ({m.n_evaluation} evaluation prompts; * CI ∌ 0 and p < 0.05 vs random; ◆ on target)",
                      xaxis_title="scored target", yaxis_title="steered toward", yaxis={"autorange": "reversed"},
                      height=max(300, 60 * n_r + 200), width=max(500, 90 * n_c + 250))
    return fig
