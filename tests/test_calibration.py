"""Seeded reservoir sampling: deterministic, order-keeping, uniform enough."""

import collections

import numpy as np
import pytest

from tfx_edge.components.core.calibration import as_samples, digest, reservoir_sample


def test_same_seed_same_sample_in_original_order():
    a, seen = reservoir_sample(range(1000), 50, seed=7)
    b, _ = reservoir_sample(iter(range(1000)), 50, seed=7)
    assert a == b and seen == 1000 and a == sorted(a) and len(set(a)) == 50
    assert reservoir_sample(range(1000), 50, seed=8)[0] != a


def test_fewer_items_than_k_returns_all():
    assert reservoir_sample(range(5), 50, seed=0) == (list(range(5)), 5)
    with pytest.raises(ValueError, match="k=0"):
        reservoir_sample(range(5), 0, seed=0)


def test_roughly_uniform():
    hits = collections.Counter()
    for seed in range(400):
        hits.update(reservoir_sample(range(20), 5, seed)[0])
    # each item expected 100 times; a broken reservoir (e.g. keeps the first k) fails this
    assert min(hits.values()) > 60 and max(hits.values()) < 140


def test_digest_and_samples():
    arrays = {"b": np.arange(6).reshape(3, 2), "a": np.ones((3, 1))}
    assert digest(arrays) == digest(dict(reversed(list(arrays.items()))))
    assert digest(arrays) != digest({"b": arrays["b"] + 1, "a": arrays["a"]})
    samples = as_samples(arrays)
    assert len(samples) == 3 and samples[1]["b"].tolist() == [[2, 3]]
