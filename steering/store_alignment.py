"""Cross-model alignment of two activation stores (phase 3.5), shared by the CLI and the pipeline.

Sentences are matched by (text, label) across the stores; ridge and Procrustes maps are fitted
on neutral sentences only and judged on held-out neutral rows and on the emotion vectors. "Neutral" is the
reference label (``reference``: ``neutral`` for emotion, the attribute registry's otherwise, :mod:`interp.attributes`).
"""

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

import torch

from interp.errors import ConfigError, DatasetError
from interp.hook_names import parse_hook
from steering.alignment import KINDS, AlignmentSide, MapEvaluation, evaluate_map, fit_map, rotation_self_check, split_train_test
from steering.reliability import strongest_band, vector_reliability
from steering.vectors import reference_rows


def hook_layer(hook: str) -> int:
    layer = parse_hook(hook)[0]
    return -1 if layer is None else layer


def strongest_layer(store, hooks: list[str], *, seed: int = 0, rows: list[int] | None = None, reference: str = "neutral") -> int:
    """Centre of the band of layers whose sentence-end emotion vectors stand furthest above their shuffled null.

    ``rows``: the sentences (store indices) the choice may look at — the selection split, so that what is then
    reported at this layer comes from other sentences; None = every sentence.
    """
    idx = list(range(len(store.labels))) if rows is None else list(rows)
    labels = [store.labels[i] for i in idx]
    vals = [vector_reliability(reference_rows(store, h, "sentence_end")[idx], labels, n_boot=10, n_splits=1, n_shuffle=20,
                               seed=seed, contrast=reference, reference=reference).signal_ratio() for h in hooks]
    band = strongest_band(vals, [hook_layer(h) for h in hooks])
    return band[len(band) // 2]


def _rows_by_text(store, hook: str, method: str, rows: Sequence[str], reference: str) -> tuple[dict, dict, dict]:
    end = store.at_positions(hook, "end")
    mean = reference_rows(store, hook, "token")  # neutral sentences: mean over real tokens after BOS
    emo = reference_rows(store, hook, method, reference=reference)
    train_rows = {"end": end, "mean": mean}
    by_text = {}
    for i, (t, lab) in enumerate(zip(store.texts, store.labels)):
        by_text.setdefault((t, lab), i)
    return by_text, {r: train_rows[r] for r in rows}, {"end": end, "emo": emo}


@dataclass(frozen=True)
class StoreAlignment:
    """Both maps' held-out evaluations and rotation self-checks, with the sizes they rest on."""

    hook_a: str
    hook_b: str
    d_a: int
    d_b: int
    n_neutral_train: int
    n_neutral_test: int
    n_train_rows: int
    n_emotion_sentences: int
    evaluations: dict[str, MapEvaluation]
    checks: dict[str, dict]

    def to_dict(self) -> dict:
        return {"hook_a": self.hook_a, "hook_b": self.hook_b, "d_a": self.d_a, "d_b": self.d_b,
                "n_neutral_train": self.n_neutral_train, "n_neutral_test": self.n_neutral_test,
                "n_train_rows": self.n_train_rows, "n_emotion_sentences": self.n_emotion_sentences,
                "maps": {k: ev.to_dict() for k, ev in self.evaluations.items()}, "rotation_self_check": self.checks}


def align_stores(sa, sb, hook_a: str, hook_b: str, *, method: str = "sentence_end", rows: Sequence[str] = ("end", "mean"),
                 k: int = 10, alpha: float = 1e-2, common_dim: int | None = None, test_fraction: float = 0.3,
                 n_boot: int = 200, seed: int = 0, evaluate_on: set[str] | None = None, progress=None,
                 reference: str = "neutral") -> StoreAlignment:
    """Fit and judge every map kind from ``hook_a`` of store ``sa`` into ``hook_b`` of store ``sb``.

    ``evaluate_on``: texts of the emotion sentences the emotion vectors are judged on (the evaluation split);
    None = every shared emotion sentence.
    """
    for st, h in ((sa, hook_a), (sb, hook_b)):
        if h not in st.hooks:
            raise ConfigError(f"hook {h!r} is not in the store at {str(st.path)!r}; it holds {', '.join(st.hooks[:4])}…")
    rows = list(rows)
    ia, ta, ea = _rows_by_text(sa, hook_a, method, rows, reference)
    ib, tb, eb = _rows_by_text(sb, hook_b, method, rows, reference)
    shared = [key for key in ia if key in ib]
    neutral = [key for key in shared if key[1] == reference]
    if not neutral:
        raise DatasetError(f"the two stores share no {reference} sentences (matched by text); extract both from the same dataset")
    emotional = [key for key in shared if key[1] != reference and (evaluate_on is None or key[0] in evaluate_on)]
    counts = Counter(key[1] for key in emotional)
    if not counts or min(counts.values()) < 2:
        raise DatasetError(f"the two stores share too few emotion sentences ({dict(counts)}); every emotion needs at least 2")
    tr, te = split_train_test(len(neutral), test_fraction=test_fraction, seed=seed)

    def side(idx, train_rows, other):
        # Held-out neutral rows are read the way the emotion vectors are (``reference_rows`` of ``method``).
        train = torch.cat([train_rows[r][[idx[neutral[i]] for i in tr]] for r in rows])
        return AlignmentSide(train=train, test_neutral=other["emo"][[idx[neutral[i]] for i in te]],
                             emotion=other["emo"][[idx[key] for key in emotional]], emotion_labels=[key[1] for key in emotional])

    A, B = side(ia, ta, ea), side(ib, tb, eb)
    evals, checks = {}, {}
    for n, kind in enumerate(KINDS):
        mp = fit_map(kind, A.train, B.train, alpha=alpha, common_dim=common_dim)
        evals[kind] = evaluate_map(mp, A, B, k=k, n_boot=n_boot, alpha=alpha, common_dim=common_dim, seed=seed)
        checks[kind] = rotation_self_check(A, kind=kind, alpha=alpha, common_dim=common_dim, seed=seed)
        if progress:
            progress(n + 1, len(KINDS))
    return StoreAlignment(hook_a, hook_b, int(A.train.shape[1]), int(B.train.shape[1]), len(tr), len(te),
                          int(A.train.shape[0]), len(emotional), evals, checks)
