"""Write the example notebooks (outputs stripped) from the cell sources below.

    python tools/make_notebooks.py
"""

from pathlib import Path

import nbformat
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

OUT = Path(__file__).resolve().parent.parent / "examples"

EXPLORE = [
    new_markdown_cell("# 1 — Explore one sentence\n\nTokens, attention patterns (circuitsvis) and how strongly each layer's residual stream points along the gratitude direction, on the embedded default model."),
    new_code_cell("import os\nos.environ.setdefault('HF_HUB_OFFLINE', '1')\nimport torch\nfrom interp.models import load_model\nfrom interp.datasets import load_profile\nfrom interp.positions import token_ids_and_offsets\n\nmodel = load_model('smollm2-135m')\nmodel.ec_info"),
    new_code_cell("sentence = 'Thank you so much for staying late to help me.'\nids, offsets = token_ids_and_offsets(model, sentence)\nlist(zip(model.to_str_tokens(sentence), offsets))"),
    new_markdown_cell("## Attention of every head in one layer\n\n`circuitsvis.attention.attention_heads` renders an interactive view; its `local_src` inlines the JavaScript so it works offline."),
    new_code_cell("import circuitsvis as cv\nfrom interp.hook_names import hook_pattern\nlayer = 3\n_, cache = model.run_with_cache(model.to_tokens(sentence), names_filter=hook_pattern(layer))\npattern = cache[hook_pattern(layer)][0]\nassert torch.allclose(pattern.sum(-1), torch.ones_like(pattern.sum(-1)), atol=1e-4)\nview = cv.attention.attention_heads(attention=pattern, tokens=model.to_str_tokens(sentence))\nfrom IPython.display import HTML\nHTML(view.local_src)"),
    new_markdown_cell("## Per-layer projection on the gratitude direction\n\nEmotion vectors (sentence-end, emotion − neutral) from 20 sentences per emotion; the sentence's final-token residual at each layer is projected on each layer's unit vector, next to a neutral sentence."),
    new_code_cell("import tempfile\nfrom interp.activations import extract_activations\nfrom steering.vectors import compute_emotion_vectors\nds = load_profile('baseline').subset(limit_per_emotion=20)\nstore = extract_activations(model, ds, tempfile.mkdtemp(), hooks=['resid_post'], batch_size=40)\nvecs = {l: compute_emotion_vectors(store, f'blocks.{l}.hook_resid_post')['gratitude'] for l in range(model.cfg.n_layers)}"),
    new_code_cell("def projections(text):\n    names = [f'blocks.{l}.hook_resid_post' for l in range(model.cfg.n_layers)]\n    _, c = model.run_with_cache(model.to_tokens(text), names_filter=names)\n    return [float(c[n][0, -1] @ vecs[l].unit()) for l, n in enumerate(names)]\n\nneutral = 'The library closes at six on most weekday evenings.'\ng, n = projections(sentence), projections(neutral)\nimport plotly.graph_objects as go\nfig = go.Figure([go.Scatter(y=g, name='gratitude sentence'), go.Scatter(y=n, name='neutral sentence')])\nfig.update_layout(xaxis_title='layer', yaxis_title='projection on unit gratitude vector')\nassert sum(a > b for a, b in zip(g[10:], n[10:])) >= 15, 'the gratitude sentence should project higher in most mid/late layers'\nfig"),
]


def write(name: str, cells) -> Path:
    nb = new_notebook(cells=cells, metadata={"kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"}})
    path = OUT / name
    path.parent.mkdir(exist_ok=True)
    nbformat.write(nb, path)
    return path


NOTEBOOKS = {"01_explore_sentence.ipynb": EXPLORE}

if __name__ == "__main__":
    for name, cells in NOTEBOOKS.items():
        print(write(name, cells))
