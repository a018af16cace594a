"""Write the example notebooks (outputs stripped) from the cell sources below.

    python tools/make_notebooks.py

The notebooks in ``examples/`` are generated: edit the cells here and rerun. The test suite
executes every ``examples/*.ipynb`` and checks that they match this file
(``tests/experiments/test_notebooks.py``).
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


SCREEN_PATCH = [
    new_markdown_cell(
        "# 2 — Screen and patch heads\n\n"
        "Which attention heads look at the word *thank* / *grateful* …, and does copying such a head from a gratitude "
        "sentence into a neutral one push the model toward gratitude words? A small subset of the baseline dataset keeps "
        "this notebook to about a minute on a CPU; `emotion-circuits screen-heads` / `patch-heads` run the full version."),
    new_code_cell(
        "import os\nos.environ.setdefault('HF_HUB_OFFLINE', '1')\n"
        "import pandas as pd\nimport plotly.graph_objects as go\nimport torch\n"
        "from interp.models import load_model\nfrom interp.datasets import load_profile\n\n"
        "model = load_model('smollm2-135m')\n"
        "ds = load_profile('baseline').subset(emotions=['gratitude', 'neutral'], limit_per_emotion=30)\n"
        "len(ds), ds.emotions"),
    new_markdown_cell(
        "## Screening: attention to the emotion word, emotion − matched neutral\n\n"
        "For every head: the attention the last token pays to the gratitude-word tokens, minus the attention a neutral "
        "sentence's last token pays to the tokens at the same distance back. CIs are bootstraps over sentences; "
        "p-values are permutation tests, Holm-corrected over all 270 heads (with 30 sentences per side few heads survive "
        "that correction — the full dataset has more power)."),
    new_code_cell(
        "from circuits.head_screening import screen_heads\n\n"
        "screening = screen_heads(model, ds, emotions=['gratitude'], n_boot=500, n_perm=500, batch_size=30)\n"
        "top = pd.DataFrame([r.to_dict() for r in screening.top('gratitude', 10)])\n"
        "top[['name', 'delta', 'lo', 'hi', 'emotion_attn', 'neutral_attn', 'p', 'p_holm']].round(4)"),
    new_code_cell("screening.figure('gratitude')"),
    new_markdown_cell(
        "## The top head's attention (circuitsvis)\n\n"
        "`circuits.attention_view.head_patterns` returns the chosen heads' patterns on one sentence; `local_src` inlines "
        "the circuitsvis JavaScript so the view works offline."),
    new_code_cell(
        "import circuitsvis as cv\nfrom IPython.display import HTML\n"
        "from circuits.attention_view import head_patterns\n\n"
        "top_head = screening.top_heads('gratitude', 1)[0]\n"
        "name = f'L{top_head[0]}H{top_head[1]}'\n"
        "sentence = ds.by_emotion('gratitude')[0].text\n"
        "pattern, str_tokens = head_patterns(model, sentence, [top_head])\n"
        "print(name, 'on', repr(sentence))\n"
        "print('last token attends most to:', str_tokens[int(pattern[0, -1].argmax())])\n"
        "HTML(cv.attention.attention_heads(attention=pattern, tokens=str_tokens, attention_head_names=[name]).local_src)"),
    new_markdown_cell(
        "## Head patching: gratitude sentence → length-matched neutral sentence\n\n"
        "Metric: log P(next token is a gratitude word) at the neutral sentence's end; effect = patched − unpatched "
        "(nats, bootstrap CI over pairs). Modes on `hook_z` of the top head: `z` copies its whole output, `v_only` "
        "its values (keeping the neutral run's attention pattern), `pattern_only` its attention pattern (keeping the "
        "neutral values). Baseline: the same number of random heads patched the same way (`n_random` draws; here for `z` only)."),
    new_code_cell(
        "from circuits.head_patching import length_matched_pairs, patch_heads\n\n"
        "full = load_profile('baseline')\n"
        "sources = [r.text for r in full.by_emotion('gratitude')]\n"
        "targets = [r.text for r in full.by_emotion('neutral')]\n"
        "pairs = length_matched_pairs(model, sources, targets)[:16]\n"
        "src, tgt = [sources[i] for i, _ in pairs], [targets[j] for _, j in pairs]\n"
        "print(len(pairs), 'pairs, e.g.', repr(src[0]), '→', repr(tgt[0]))\n\n"
        "# the random-head baseline (3 draws) for the whole-output mode only, to keep the notebook quick\n"
        "patching = {mode: patch_heads(model, src, tgt, 'gratitude', [top_head], mode=mode, n_random=3 if mode == 'z' else 0, seed=0)\n"
        "            for mode in ('z', 'v_only', 'pattern_only')}\n"
        "pd.DataFrame([{'mode': m, 'effect': str(r.effect), 'random heads': str(r.random_effect or '-'),\n"
        "               'source − target': str(r.gap), 'fraction of gap': round(r.fraction_of_gap, 3)}\n"
        "              for m, r in patching.items()])"),
    new_code_cell(
        "def bar(name, key):\n"
        "    ests = [getattr(r, key) for r in patching.values()]\n"
        "    return go.Bar(name=name, x=list(patching), y=[e.value for e in ests],\n"
        "                  error_y=dict(type='data', symmetric=False, array=[e.hi - e.value for e in ests],\n"
        "                               arrayminus=[e.value - e.lo for e in ests]))\n\n"
        "z = patching['z']\n"
        "fig = go.Figure([bar(name, 'effect'), go.Bar(name='random head (z)', x=['z'], y=[z.random_effect.value],\n"
        "                 error_y=dict(type='data', symmetric=False, array=[z.random_effect.hi - z.random_effect.value],\n"
        "                              arrayminus=[z.random_effect.value - z.random_effect.lo]))])\n"
        "fig.update_layout(barmode='group', title=f'patching {name} into neutral sentences (95% CI)',\n"
        "                  yaxis_title='Δ log P(gratitude word)')\n"
        "fig"),
    new_markdown_cell(
        "## Checks\n\n"
        "What this notebook should show on the default model (the test suite runs it): the top head attends more to "
        "gratitude words than to matched neutral tokens; copying its output raises the gratitude log-prob, with a CI "
        "above zero and above the random-head baseline's CI; and the effect travels through the head's values, not its "
        "attention pattern."),
    new_code_cell(
        "assert top.loc[0, 'lo'] > 0, f'top head {name}: attention delta CI should exclude 0, got {top.loc[0].to_dict()}'\n"
        "assert z.effect.lo > 0, f'patching {name} (z) should raise log P(gratitude word): {z.effect}'\n"
        "assert z.effect.lo > z.random_effect.hi, f'{name} should beat random heads: {z.effect} vs {z.random_effect}'\n"
        "assert patching['v_only'].effect.value > patching['pattern_only'].effect.value, 'values should carry the effect'\n"
        "print(f'{name}: Δ attention {top.loc[0, \"delta\"]:.3f}; patching Δ {z.effect} nats vs random {z.random_effect}')"),
]

STEER_SCORE = [
    new_markdown_cell(
        "# 3 — Steer and score\n\n"
        "Add the gratitude direction to the residual stream at one layer while the model continues neutral prompts, "
        "then score the continuations (VADER sentiment, gratitude keywords, perplexity) against the unsteered model "
        "(α = 0) and a random direction of the same norm. `emotion-circuits sweep` runs the full layer × α grid."),
    new_code_cell(
        "import os\nos.environ.setdefault('HF_HUB_OFFLINE', '1')\n"
        "import tempfile\nimport numpy as np\nimport pandas as pd\nimport plotly.graph_objects as go\n"
        "from interp.models import load_model\nfrom interp.datasets import load_profile, load_prompts\n"
        "from interp.hook_names import resid_pre\n\n"
        "model = load_model('smollm2-135m')\n"
        "LAYER, ALPHA = 15, 0.2   # α in units of the mean residual norm at the hook\n"
        "hook = resid_pre(LAYER)\nhook"),
    new_markdown_cell(
        "## The gratitude vector\n\n"
        "Mean sentence-end residual of gratitude sentences minus that of neutral sentences, at `hook` (30 of each)."),
    new_code_cell(
        "from interp.activations import extract_activations\n"
        "from steering.vectors import compute_emotion_vectors\n\n"
        "ds = load_profile('baseline').subset(emotions=['gratitude', 'neutral'], limit_per_emotion=30)\n"
        "store = extract_activations(model, ds, tempfile.mkdtemp(), hooks=[hook], batch_size=30)\n"
        "vector = compute_emotion_vectors(store, hook)['gratitude']\n"
        "vector.provenance()"),
    new_markdown_cell(
        "## Steered generation\n\n"
        "`SteeringSpec(scale='mean_norm')`: α = 1 would add a vector as long as a typical residual at the hook, so "
        "α = 0.2 adds a fifth of that. The random control is a seeded Gaussian direction at the same added norm. "
        "Greedy decoding, so the only difference between the runs is the steering."),
    new_code_cell(
        "from steering.generation import GenerationConfig, generate\n"
        "from steering.hooks import SteeringSpec, mean_resid_norm\n"
        "from steering.sweep import random_direction\n\n"
        "prompts = load_prompts()[:16]\n"
        "norm = mean_resid_norm(model, hook, prompts)\n"
        "specs = {'gratitude': SteeringSpec(hook, vector.vector, ALPHA, 'mean_norm', norm, label='gratitude'),\n"
        "         'random': SteeringSpec(hook, random_direction(model.cfg.d_model, seed=1234), ALPHA, 'mean_norm', norm, label='random')}\n"
        "config = GenerationConfig(max_new_tokens=20)\n"
        "gens = {'unsteered': generate(model, prompts, config=config)}\n"
        "gens.update({k: generate(model, prompts, [s], config=config) for k, s in specs.items()})\n"
        "print('added norm', round(specs['gratitude'].added_norm, 2), 'for a mean residual norm of', round(norm, 2))\n"
        "pd.set_option('display.max_colwidth', 80)\n"
        "pd.DataFrame({'prompt': prompts, **{k: g.continuations for k, g in gens.items()}}).head(8)"),
    new_markdown_cell(
        "## Scores\n\n"
        "`interp.evaluators`: VADER compound in [−1, 1], gratitude keyword counts, and perplexity under the unsteered "
        "model (the fluency cost). Differences are paired over prompts (same prompt, same greedy decoding) with "
        "bootstrap CIs."),
    new_code_cell(
        "from interp.evaluators import make_scorer, score_texts\n"
        "from interp.stats import bootstrap_ci, bootstrap_diff_ci\n\n"
        "scorers = [make_scorer('sentiment'), make_scorer('keywords', emotions=['gratitude']), make_scorer('fluency', model=model)]\n"
        "scores = {k: score_texts(g.continuations, scorers, prompts=prompts) for k, g in gens.items()}\n"
        "cols = ['vader_compound', 'kw_gratitude', 'perplexity']\n"
        "pd.DataFrame({k: {c: str(bootstrap_ci(s[c])) for c in cols} for k, s in scores.items()})"),
    new_code_cell(
        "vader = {k: np.array(s['vader_compound']) for k, s in scores.items()}\n"
        "diffs = {'gratitude − unsteered': bootstrap_diff_ci(vader['gratitude'], vader['unsteered'], paired=True),\n"
        "         'random − unsteered': bootstrap_diff_ci(vader['random'], vader['unsteered'], paired=True),\n"
        "         'gratitude − random': bootstrap_diff_ci(vader['gratitude'], vader['random'], paired=True)}\n"
        "fig = go.Figure(go.Bar(x=list(diffs), y=[d.value for d in diffs.values()],\n"
        "                       error_y=dict(type='data', symmetric=False, array=[d.hi - d.value for d in diffs.values()],\n"
        "                                    arrayminus=[d.value - d.lo for d in diffs.values()])))\n"
        "fig.update_layout(title=f'VADER compound, steering at {hook}, α = {ALPHA} (95% paired bootstrap CI)',\n"
        "                  yaxis_title='Δ VADER compound')\n"
        "fig"),
    new_markdown_cell(
        "## Checks\n\n"
        "Steering must change the text (α > 0 is not a no-op, α = 0 is), raise VADER sentiment over the unsteered "
        "model with a CI above zero, and beat the random direction of the same norm."),
    new_code_cell(
        "check = generate(model, prompts[:4], [SteeringSpec(hook, vector.vector, 0.0, 'mean_norm', norm)], config=config)\n"
        "assert check.continuations == gens['unsteered'].continuations[:4], 'α = 0 must reproduce the unsteered text'\n"
        "assert gens['gratitude'].continuations != gens['unsteered'].continuations, 'α > 0 should change the text'\n"
        "assert np.isfinite(vader['gratitude']).all() and len(vader['gratitude']) == len(prompts)\n"
        "assert vader['gratitude'].mean() > vader['unsteered'].mean() and vader['gratitude'].mean() > vader['random'].mean()\n"
        "assert diffs['gratitude − unsteered'].lo > 0, f\"steering should raise VADER: {diffs['gratitude − unsteered']}\"\n"
        "print({k: str(d) for k, d in diffs.items()})"),
]


def notebook(cells) -> nbformat.NotebookNode:
    """A notebook of ``cells`` with no outputs; cell ids are fixed so regenerating gives the same file."""
    nb = new_notebook(cells=cells, metadata={"kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"},
                                             "language_info": {"name": "python"}})
    for i, cell in enumerate(nb.cells):
        cell["id"] = f"cell-{i:02d}"
    return nb


def write(name: str, cells, out: Path = OUT) -> Path:
    path = Path(out) / name
    path.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(notebook(cells), path)
    return path


NOTEBOOKS = {
    "01_explore_sentence.ipynb": EXPLORE,
    "02_screen_and_patch_heads.ipynb": SCREEN_PATCH,
    "03_steer_and_score.ipynb": STEER_SCORE,
}

if __name__ == "__main__":
    for name, cells in NOTEBOOKS.items():
        print(write(name, cells))
