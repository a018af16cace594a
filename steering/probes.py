"""Linear separability of emotions: a cross-validated logistic-regression probe per layer.

Every reported accuracy is out-of-fold (stratified k-fold), with a bootstrap CI over
sentences, next to two baselines: chance (the majority-class rate) and the same probe
trained on shuffled labels; ``p_value`` is the permutation p-value of the real accuracy
against the shuffled-label runs.

Baselines a reader would pick instead of the activations (:func:`text_baselines`, :func:`heldout_probe`):
a **bag-of-words** probe (scikit-learn, binary word counts of the sentences, same folds / same train-test
split) and the **lexicon rule** "has a lexicon word of emotion e → e, none → neutral" (``interp.lexicon``; for
another attribute or language its registry lexicons, ``find=LanguageData.find``, and its reference label).
Every shipped emotion sentence holds exactly one lexicon word, so the rule alone classifies them; an
activation probe earns its keep only above these, on the *implicit* set (emotion without lexicon words) and
with a low emotional rate on the *trap* set (lexicon words in neutral meaning).
"""

from collections.abc import Callable
from dataclasses import dataclass
from functools import partial

import numpy as np
from jaxtyping import Float
from sklearn.feature_extraction.text import CountVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import StratifiedKFold
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from torch import Tensor

from interp.errors import DatasetError
from interp.lexicon import emotion_word_hits, words
from interp.stats import Estimate, bootstrap_ci, bootstrap_diff_ci
from interp.textnorm import uses_characters


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


def activation_probe(c: float = 0.1):
    """The activation probe: standardised features, L2 logistic regression (inverse strength ``c``)."""
    return make_pipeline(StandardScaler(), LogisticRegression(C=c, max_iter=300))


def bow_probe(c: float = 1.0, *, language: str = "en"):
    """The bag-of-words baseline: binary word presence (``interp.lexicon.words``; character uni- and bigrams for languages
    written without spaces, :func:`interp.textnorm.uses_characters`), L2 logistic regression."""
    vec = CountVectorizer(analyzer="char", ngram_range=(1, 2), binary=True) if uses_characters(language) else \
        CountVectorizer(analyzer=words, binary=True)
    return make_pipeline(vec, LogisticRegression(C=c, max_iter=1000))


Finder = Callable[[str], dict[str, list[str]]]
"""``find(text) -> {label: [expressions found]}``: :func:`interp.lexicon.emotion_word_hits` (English emotion) or an
attribute's :meth:`interp.attributes.LanguageData.find`."""


def lexicon_rule(texts: list[str], *, find: Finder | None = None, reference: str = "neutral") -> np.ndarray:
    """'Has a lexicon word' rule: the label with the most lexicon expressions in the text (``find``, default the English
    emotion lexicon), ``reference`` when none."""
    find = find or emotion_word_hits
    out = []
    for t in texts:
        hits = {e: len(w) for e, w in find(t).items() if w}
        out.append(max(hits, key=hits.get) if hits else reference)
    return np.asarray(out)


def _folds(y: np.ndarray, folds: int, seed: int):
    # Depends on the labels and the seed only, so activation and text probes share the folds.
    return list(StratifiedKFold(folds, shuffle=True, random_state=seed).split(np.zeros(len(y)), y))


def _oof_correct(x: np.ndarray, y: np.ndarray, folds: int, seed: int, c: float, make=None) -> np.ndarray:
    correct = np.zeros(len(y), dtype=bool)
    for train, test in _folds(y, folds, seed):
        clf = (make or activation_probe)(c)
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


@dataclass(frozen=True)
class TextBaselines:
    """Out-of-fold accuracy of the bag-of-words probe and of the lexicon rule on the activation probe's folds."""

    bow: Estimate
    lexicon: Estimate
    n_folds: int
    n: int

    def to_dict(self) -> dict:
        return {"bow": self.bow.to_dict(), "lexicon_rule": self.lexicon.to_dict(), "n_folds": self.n_folds, "n": self.n}


def text_baselines(texts: list[str], labels: list[str], *, folds: int = 5, n_boot: int = 1000, seed: int = 0,
                   find: Finder | None = None, reference: str = "neutral", language: str = "en") -> TextBaselines:
    """BoW probe and lexicon rule (``find``, ``reference``: :func:`lexicon_rule`) scored on the same stratified folds as
    :func:`probe_accuracy` with this ``seed``."""
    x, y = np.asarray(texts, dtype=object), np.asarray(labels)
    if len(x) != len(y):
        raise DatasetError(f"text baselines need one text per label; got {len(x)} texts for {len(y)} labels")
    bow = _oof_correct(x, y, folds, seed, 1.0, make=partial(bow_probe, language=language))
    lex = lexicon_rule(list(texts), find=find, reference=reference) == y
    return TextBaselines(bootstrap_ci(bow.astype(float), n_boot=n_boot, seed=seed),
                         bootstrap_ci(lex.astype(float), n_boot=n_boot, seed=seed), folds, len(y))


@dataclass(frozen=True)
class HeldoutProbe:
    """Activation probe trained on one split and scored on another, next to BoW and lexicon-rule baselines.

    ``p_value`` compares the activation accuracy with ``n_shuffle`` probes trained on permuted training labels
    (``p_floor`` = 1/(n_shuffle+1)). ``vs_bow`` / ``vs_lexicon``: paired bootstrap CIs of the accuracy
    differences over test sentences. ``transfer``: per extra set (``implicit``, ``trap``), each predictor's
    accuracy (implicit) or rate of being classed as emotional (trap); ``notes`` says which sets were absent.
    """

    accuracy: Estimate
    bow: Estimate
    lexicon: Estimate
    vs_bow: Estimate
    vs_lexicon: Estimate
    chance: float
    shuffled: Estimate
    p_value: float
    n_shuffle: int
    n_train: int
    n_test: int
    classes: list[str]
    transfer: dict
    notes: list[str]

    @property
    def p_floor(self) -> float:
        return 1.0 / (self.n_shuffle + 1)

    def to_dict(self) -> dict:
        return {"accuracy": self.accuracy.to_dict(), "bow": self.bow.to_dict(), "lexicon_rule": self.lexicon.to_dict(),
                "activation_minus_bow": self.vs_bow.to_dict(), "activation_minus_lexicon": self.vs_lexicon.to_dict(),
                "chance": self.chance, "shuffled": self.shuffled.to_dict(), "p_value": self.p_value, "p_floor": self.p_floor,
                "n_shuffle": self.n_shuffle, "n_train": self.n_train, "n_test": self.n_test, "classes": self.classes,
                "transfer": self.transfer, "notes": self.notes}


def heldout_probe(train_x, train_labels: list[str], train_texts: list[str], test_x, test_labels: list[str], test_texts: list[str],
                  *, extra: dict[str, tuple] | None = None, n_shuffle: int = 200, c: float = 0.1, n_boot: int = 1000,
                  seed: int = 0, find: Finder | None = None, reference: str = "neutral", language: str = "en") -> HeldoutProbe:
    """Train on the selection split, score on the evaluation split; BoW and lexicon rule on the same split.

    Args:
        train_x, test_x: activation rows [n, d_model]; ``*_labels`` / ``*_texts`` aligned with them.
        extra: ``{"implicit": (x, texts, labels), "trap": (x, texts, labels)}``, each optional: the implicit set
            is scored by accuracy, the trap set (lexicon words in neutral meaning) by the share classed non-neutral.
        n_shuffle: probes trained on permuted training labels for the permutation p (≥ 200 recommended).
        find, reference: the lexicon rule's finder and reference label (:func:`lexicon_rule`); language: the texts' (:func:`bow_probe`).
    """
    xtr, xte = np.asarray(train_x, dtype=np.float64), np.asarray(test_x, dtype=np.float64)
    ytr, yte = np.asarray(train_labels), np.asarray(test_labels)
    if len(np.unique(ytr)) < 2:
        raise DatasetError(f"a probe needs at least 2 classes in the training split; got {list(np.unique(ytr))}")
    if len(xtr) != len(ytr) or len(xte) != len(yte) or len(train_texts) != len(ytr) or len(test_texts) != len(yte):
        raise DatasetError("heldout_probe needs one activation row and one text per label in each split")
    act = activation_probe(c).fit(xtr, ytr)
    bow = bow_probe(language=language).fit(np.asarray(train_texts, dtype=object), ytr)
    a_ok = act.predict(xte) == yte
    b_ok = bow.predict(np.asarray(test_texts, dtype=object)) == yte
    l_ok = lexicon_rule(list(test_texts), find=find, reference=reference) == yte
    rng = np.random.default_rng(seed)
    shuffled = np.array([(activation_probe(c).fit(xtr, rng.permutation(ytr)).predict(xte) == yte).mean() for _ in range(n_shuffle)])
    transfer, notes = {}, []
    for name, item in (extra or {}).items():
        if item is None:
            notes.append(f"{name} set absent: skipped")
            continue
        x, texts, labels = item
        x, texts, labels = np.asarray(x, dtype=np.float64), list(texts), np.asarray(labels)
        preds = {"activation": act.predict(x), "bow": bow.predict(np.asarray(texts, dtype=object)),
                 "lexicon_rule": lexicon_rule(texts, find=find, reference=reference)}
        if name == "trap":
            transfer[name] = {k: bootstrap_ci((p != reference).astype(float), n_boot=n_boot, seed=seed).to_dict() for k, p in preds.items()}
            transfer[name]["metric"] = "share classed as emotional (lower is better)"
        else:
            transfer[name] = {k: bootstrap_ci((p == labels).astype(float), n_boot=n_boot, seed=seed).to_dict() for k, p in preds.items()}
            transfer[name]["metric"] = "accuracy"
        transfer[name]["n"] = len(labels)
    counts = np.unique(yte, return_counts=True)[1]
    sh = Estimate(float(shuffled.mean()), float(np.quantile(shuffled, 0.025)), float(np.quantile(shuffled, 0.975)), 0.95, n_shuffle) \
        if n_shuffle else Estimate(float("nan"), float("nan"), float("nan"))
    p = float((np.sum(shuffled >= a_ok.mean()) + 1) / (n_shuffle + 1)) if n_shuffle else float("nan")
    return HeldoutProbe(
        accuracy=bootstrap_ci(a_ok.astype(float), n_boot=n_boot, seed=seed), bow=bootstrap_ci(b_ok.astype(float), n_boot=n_boot, seed=seed),
        lexicon=bootstrap_ci(l_ok.astype(float), n_boot=n_boot, seed=seed),
        vs_bow=bootstrap_diff_ci(a_ok.astype(float), b_ok.astype(float), n_boot=n_boot, seed=seed, paired=True),
        vs_lexicon=bootstrap_diff_ci(a_ok.astype(float), l_ok.astype(float), n_boot=n_boot, seed=seed, paired=True),
        chance=float(counts.max() / counts.sum()), shuffled=sh, p_value=p, n_shuffle=n_shuffle, n_train=len(ytr), n_test=len(yte),
        classes=[str(k) for k in np.unique(ytr)], transfer=transfer, notes=notes)
