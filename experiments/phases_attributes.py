"""Phase 10 study phases: the attribute interference matrix and the cross-lingual comparison.

Thin adapters over :func:`steering.interference.interference_analysis` and
:func:`steering.crosslingual.crosslingual_analysis`. Every direction comes from the selection split of its
sentence set; every reported effect comes from the evaluation half of the steering prompts (the analyses split them).
"""

from pathlib import Path

from torch import Tensor

from circuits.screening_analysis import screening_analysis
from experiments.pipeline import StudyState
from interp.activations import extract_activations
from interp.attributes import get_attribute
from interp.datasets import load_prompts
from interp.errors import ConfigError
from interp.hook_names import block_hook
from interp.splits import split_dataset
from steering.crosslingual import crosslingual_analysis, store_split, store_vectors, top_heads
from steering.generation import GenerationConfig
from steering.interference import interference_analysis


def _attribute_vectors(state: StudyState, out: Path, attribute: str, layer: int, m) -> dict[tuple[str, str], Tensor]:
    data = get_attribute(attribute).language(state.cfg.study.language)
    ds = data.load()
    store = extract_activations(m, ds, out / f"activations-{attribute}", hooks=[state.cfg.interference.hook_kind], layers=[layer],
                                batch_size=state.cfg.extract.batch_size)
    selection, _ = store_split(store, fraction=state.cfg.study.split_fraction, seed=state.cfg.study.seed)
    labels = [lab for lab in data.contrast_labels if lab in data.targets]
    vecs = store_vectors(store, block_hook(state.cfg.interference.hook_kind, layer), labels, data.reference, rows=selection)
    return {(attribute, lab): v for lab, v in vecs.items()}


def phase_interference(state: StudyState, out: Path) -> dict:
    """Phase 10: steer toward every label of every listed attribute and score every attribute's target (side effects)."""
    cfg, m = state.cfg.interference, state.model(state.cfg.study.model)
    layer = cfg.layer if cfg.layer >= 0 else round(0.3 * m.cfg.n_layers)
    vectors: dict = {}
    for i, attribute in enumerate(cfg.attributes):
        vectors.update(_attribute_vectors(state, out, attribute, layer, m))
        state.progress(i + 1, len(cfg.attributes) + 1)
    prompts = load_prompts(language=state.cfg.study.language)[: cfg.n_prompts]
    report = interference_analysis(m, vectors, prompts, layer=layer, alpha=cfg.alpha, scale=cfg.scale, hook_kind=cfg.hook_kind,
                                   language=state.cfg.study.language, attributes=cfg.attributes, n_boot=cfg.n_boot,
                                   n_random=cfg.n_random, seed=state.cfg.study.seed, random_seed=state.cfg.study.seed + 1234,
                                   selection_fraction=state.cfg.study.split_fraction, split_seed=state.cfg.study.seed,
                                   generation=GenerationConfig(max_new_tokens=cfg.max_new_tokens, seed=state.cfg.study.seed))
    report.save(out)
    return report.summary()


def _heads(state: StudyState, m, ds, labels, k: int):
    split = split_dataset(ds, fraction=state.cfg.study.split_fraction, seed=state.cfg.study.seed)
    rep = screening_analysis(m, ds, split, emotions=list(labels), n_boot=200, n_perm=200, seed=state.cfg.study.seed, n_views=0)
    return top_heads(rep.screening, labels, k)


def phase_crosslingual(state: StudyState, out: Path) -> dict:
    """Phase 10: the study's (Japanese) vectors against the same attribute's English ones in the same model — cosines with
    a label-shuffle null, cross-steering both ways, and whether the top screened heads are shared."""
    cfg, m, study = state.cfg.crosslingual, state.model(state.cfg.study.model), state.cfg.study
    if {study.language, cfg.other_language} != {"en", "ja"}:
        raise ConfigError(f"[crosslingual] compares English with Japanese; the study is in {study.language!r} and other_language is {cfg.other_language!r}")
    other = get_attribute(study.attribute).language(cfg.other_language).load()
    kind = state.cfg.crosslingual.hook_kind
    other_store = extract_activations(m, other, out / f"activations-{cfg.other_language}", hooks=[kind], batch_size=state.cfg.extract.batch_size,
                                      progress=state.progress)
    stores = {study.language: state.store(), cfg.other_language: other_store}
    hooks = [block_hook(kind, l) for l in range(m.cfg.n_layers)]
    prompts = {lang: load_prompts(language=lang)[: cfg.n_prompts] for lang in ("en", "ja")}
    heads = {}
    if cfg.top_heads > 0:
        labels = get_attribute(study.attribute).language(study.language).contrast_labels
        heads = {lang: _heads(state, m, ds, labels, cfg.top_heads) for lang, ds in ((study.language, state.dataset), (cfg.other_language, other))}
    report = crosslingual_analysis(stores["en"], stores["ja"], hooks, attribute=study.attribute, n_perm=cfg.n_perm, n_boot=cfg.n_boot,
                                   seed=study.seed, model=m, prompts=prompts, alpha=cfg.alpha, scale=cfg.scale,
                                   generation=GenerationConfig(max_new_tokens=cfg.max_new_tokens, seed=study.seed),
                                   n_random=cfg.n_random, en_heads=heads.get("en"), ja_heads=heads.get("ja"))
    report.save(out)
    return report.summary()
