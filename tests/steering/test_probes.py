"""Cross-validated probes: separable data is found, shuffled labels sit at chance."""

import numpy as np
import pytest

from interp.errors import DatasetError
from steering.probes import probe_accuracy


def _blobs(sep, n=40, d=20, seed=0):
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(4, d)) * sep
    x = np.concatenate([rng.normal(size=(n, d)) + c for c in centres])
    return x, [e for e in ("anger", "apology", "gratitude", "neutral") for _ in range(n)]


def test_probe_accuracy_separable_data_beats_shuffled_labels():
    x, y = _blobs(3.0)
    r = probe_accuracy(x, y, n_shuffle=3)
    assert r.accuracy.value > 0.95 and r.chance == 0.25
    assert abs(r.shuffled.value - 0.25) < 0.12
    assert r.p_value <= 0.25 and r.accuracy.lo > r.shuffled.hi


def test_probe_accuracy_random_labels_near_chance():
    x, y = _blobs(0.0, n=50)
    r = probe_accuracy(x, y, n_shuffle=1)
    assert abs(r.accuracy.value - 0.25) < 0.12 and r.accuracy.lo < 0.25 + 0.1


def test_probe_accuracy_rejects_too_few_sentences_per_class():
    x, y = _blobs(1.0, n=3)
    with pytest.raises(DatasetError, match="folds"):
        probe_accuracy(x, y)


@pytest.mark.real
def test_probe_accuracy_real_layer_separates_emotions(baseline_store):
    from steering.vectors import reference_rows

    r = probe_accuracy(reference_rows(baseline_store, "blocks.15.hook_resid_post", "sentence_end"), baseline_store.labels, n_shuffle=1)
    assert r.accuracy.lo > r.chance + 0.3 and r.accuracy.lo > r.shuffled.hi
