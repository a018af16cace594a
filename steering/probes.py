"""Linear separability of emotions: a cross-validated logistic-regression probe per layer.

Every reported accuracy is out-of-fold (stratified k-fold), with a bootstrap CI over
sentences, next to two baselines: chance (the majority-class rate) and the same probe
trained on shuffled labels; ``p_value`` is the permutation p-value of the real accuracy
against the shuffled-label runs.
"""

from dataclasses import dataclass

import numpy as np
from jaxtyping import Float
from torch import Tensor

from interp.errors import DatasetError
from interp.stats import Estimate, bootstrap_ci


@dataclass(frozen=True)
class ProbeResult:
    """Held-out accuracy of one probe with its baselines."""

    accuracy: Estimate
    chance: float
    shuffled: Estimate
    p_value: float
    n_folds: int
    n_shuffle: int
    classes: list[str]
    n: int

    def to_dict(self) -> dict:
        return {"accuracy": self.accuracy.to_dict(), "chance": self.chance, "shuffled": self.shuffled.to_dict(),
                "p_value": self.p_value, "n_folds": self.n_folds, "n_shuffle": self.n_shuffle,
                "classes": self.classes, "n": self.n}


def _oof_correct(x: np.ndarray, y: np.ndarray, folds: int, seed: int, c: float) -> np.ndarray:
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import StratifiedKFold
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    correct = np.zeros(len(y), dtype=bool)
    for train, test in StratifiedKFold(folds, shuffle=True, random_state=seed).split(x, y):
        clf = make_pipeline(StandardScaler(), LogisticRegression(C=c, max_iter=300))
        clf.fit(x[train], y[train])
        correct[test] = clf.predict(x[test]) == y[test]
    return correct


def probe_accuracy(acts: Float[Tensor, "n d_model"] | np.ndarray, labels: list[str], *, folds: int = 5,
                   n_shuffle: int = 3, c: float = 0.1, n_boot: int = 1000, seed: int = 0) -> ProbeResult:
    """Out-of-fold accuracy of a multinomial logistic-regression probe on ``acts``.

    Args:
        acts: one row per sentence.
        labels: class of each row (all classes, neutral included).
        folds: stratified CV folds; every class needs at least ``folds`` sentences.
        n_shuffle: probes trained on permuted labels (the shuffled baseline).
        c: inverse L2 regularisation strength (features are standardised first).
        n_boot: bootstrap resamples of the per-sentence correctness for the CI.
        seed: fixes folds, shuffles and bootstrap.
    """
    x = np.asarray(acts, dtype=np.float64)
    y = np.asarray(labels)
    if x.ndim != 2 or len(x) != len(y):
        raise DatasetError(f"acts must be [n, d_model] with one row per label; got shape {x.shape} for {len(y)} labels")
    classes, counts = np.unique(y, return_counts=True)
    if len(classes) < 2:
        raise DatasetError(f"a probe needs at least 2 classes; got {list(classes)}")
    if folds < 2:
        raise DatasetError(f"folds must be ≥ 2, got {folds}")
    if counts.min() < folds:
        raise DatasetError(f"class {classes[counts.argmin()]!r} has {counts.min()} sentence(s); "
                           f"{folds}-fold cross-validation needs at least {folds} per class (lower --folds)")
    correct = _oof_correct(x, y, folds, seed, c)
    acc = bootstrap_ci(correct.astype(float), n_boot=n_boot, seed=seed)
    rng = np.random.default_rng(seed)
    shuffled = np.array([_oof_correct(x, rng.permutation(y), folds, seed + 1 + k, c).mean() for k in range(n_shuffle)])
    if n_shuffle:
        sh = Estimate(float(shuffled.mean()), float(shuffled.min()), float(shuffled.max()), 1.0, n_shuffle)
        p = float((np.sum(shuffled >= correct.mean()) + 1) / (n_shuffle + 1))
    else:
        sh, p = Estimate(float("nan"), float("nan"), float("nan")), float("nan")
    return ProbeResult(accuracy=acc, chance=float(counts.max() / counts.sum()), shuffled=sh, p_value=p,
                       n_folds=folds, n_shuffle=n_shuffle, classes=[str(k) for k in classes], n=len(y))
