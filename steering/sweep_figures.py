"""Heatmaps of a steering sweep (selection prompts): target effect over α = 0, raw and lexicon-masked, and perplexity ratio."""

from pathlib import Path

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from interp.errors import ConfigError
from interp.figures import save_plotly

KINDS = ("effect", "fluency", "all")


def _grid(agg, value: str, direction: str):
    sub = agg[agg.direction == direction]
    if "split" in sub.columns:
        sub = sub[sub.split == "selection"]
    layers = sorted(sub.layer.unique())
    alphas = sorted(sub.alpha.unique())
    z = np.full((len(layers), len(alphas)), np.nan)
    text = [["" for _ in alphas] for _ in layers]
    for r in sub.itertuples():
        i, j = layers.index(r.layer), alphas.index(r.alpha)
        z[i, j] = getattr(r, value)
        if value == "effect":
            text[i][j] = f"{r.effect:+.3f}<br>[{r.effect_lo:+.3f}, {r.effect_hi:+.3f}]" + ("<br>usable" if r.usable and direction == "emotion" else "")
        elif value == "effect_masked":
            text[i][j] = (f"{r.effect_masked:+.3f}<br>[{r.effect_masked_lo:+.3f}, {r.effect_masked_hi:+.3f}]"
                          + ("<br>keyword-driven" if r.keyword_driven else ""))
        else:
            text[i][j] = f"{r.ppl_ratio:.2f}<br>[{r.ppl_ratio_lo:.2f}, {r.ppl_ratio_hi:.2f}]"
    return layers, alphas, z, text


def sweep_heatmap(result, *, kind: str = "all", emotion: str):
    """Plotly figure for one emotion: layer (rows) × α (columns).

    ``effect``: mean target score − α = 0 (paired bootstrap 95% CI in each cell) on the raw text and with the
    emotion's lexicon words masked, side by side; ``fluency``: perplexity ratio to α = 0; ``all``: the three
    panels. Numbers are from the selection prompts (where cells are chosen); "usable" also needs the
    evaluation-prompt random-direction control.
    """
    if kind not in KINDS:
        raise ConfigError(f"figure kind {kind!r} is unknown; choose one of {', '.join(KINDS)}")
    agg = result.aggregates[result.aggregates.emotion == emotion]
    if agg.empty:
        raise ConfigError(f"the sweep has no cells for emotion {emotion!r}")
    target = agg.target.iloc[0]
    panels = []
    if kind in ("effect", "all"):
        panels += [("effect", "emotion", f"Δ {target} (selection prompts)"), ("effect_masked", "emotion", f"Δ {target}, emotion words masked")]
    if kind in ("fluency", "all"):
        panels += [("ppl_ratio", "emotion", "perplexity ÷ α=0 (emotion vector)")]
    panels = [p for p in panels if (agg.direction == p[1]).any() and p[0] in agg.columns]
    fig = make_subplots(rows=1, cols=len(panels), subplot_titles=[p[2] for p in panels], horizontal_spacing=0.08)
    lim = float(np.nanmax(np.abs(agg.effect))) or 1.0
    for c, (value, direction, _) in enumerate(panels, start=1):
        layers, alphas, z, text = _grid(agg, value, direction)
        if value in ("effect", "effect_masked"):
            kw = dict(colorscale="RdBu", zmid=0, zmin=-lim, zmax=lim, colorbar=dict(x=0.62 if len(panels) > 2 else 1.0, len=0.9))
        else:
            kw = dict(colorscale="Viridis", z=np.log2(z), colorbar=dict(title="log2 ratio", x=1.0, len=0.9))
        fig.add_trace(go.Heatmap(**{"z": z, **kw}, x=[f"{a:g}" for a in alphas], y=[f"L{l}" for l in layers],
                                 text=text, texttemplate="%{text}", hovertemplate="layer %{y}, α %{x}<br>%{text}<extra></extra>",
                                 showscale=c != 2), row=1, col=c)
        fig.update_xaxes(title_text=f"α ({result.config['scale']})", row=1, col=c)
    fig.update_layout(title=f"Steering sweep — {emotion} (target {target}; {result.extra.get('n_prompts', '?')} prompts)",
                      height=140 + 70 * agg.layer.nunique(), width=520 * len(panels))
    return fig


def sweep_figures(result) -> dict:
    """``{"sweep_<emotion>": figure}``: one three-panel heatmap per emotion."""
    return {f"sweep_{e}": sweep_heatmap(result, kind="all", emotion=e) for e in result.config["emotions"]}


def save_sweep_figures(result, out_dir) -> list[Path]:
    """Save :func:`sweep_figures` as offline HTML (plus ``.plotly.json``) under ``out_dir``."""
    return [save_plotly(fig, Path(out_dir) / f"{stem}.html") for stem, fig in sweep_figures(result).items()]
