"""Counts, summaries and the gate: exact arithmetic, and the gate fails closed."""

import math

import numpy as np
import pytest

from components.core import gate, metrics
from schemas import Thresholds


def scores(preds, classes=3):
    out = np.zeros((len(preds), classes), dtype=np.float32)
    out[np.arange(len(preds)), preds] = 1.0
    return out


def test_counts_and_summary():
    labels = np.array([0, 1, 2, 2])
    c = metrics.batch_counts(labels, scores([0, 1, 1, 2]), scores([0, 1, 2, 2]), 3)
    s = metrics.summarize(c + metrics.Counts.zeros(3))
    assert (s["examples"], s["correct_quant"], s["correct_float"]) == (4, 3, 4)
    assert s["absolute_drop"] == pytest.approx(0.25) and s["relative_drop"] == pytest.approx(0.25)
    assert s["agreement"] == pytest.approx(0.75)
    assert s["per_class_accuracy_quant"] == [1.0, 1.0, 0.5]


def test_nan_rows_count_as_wrong_and_are_reported():
    q = scores([0, 1])
    q[1, 0] = np.nan
    c = metrics.batch_counts(np.array([0, 1]), q, scores([0, 1]), 3)
    assert c.nonfinite_quant == 1 and c.n == 2 and np.trace(c.confusion_quant) == 1


def test_binary_output_uses_threshold():
    pred, finite = metrics.predict(np.array([[0.2], [0.7]]))
    assert pred.tolist() == [0, 1] and finite.all()
    assert metrics.num_classes((-1, 1)) == 2 and metrics.num_classes((-1, 10)) == 10


def test_labels_out_of_range_are_refused():
    with pytest.raises(metrics.LabelError, match="value 10 outside"):
        metrics.labels_of(np.array([[1], [10]]), 10, "label")
    with pytest.raises(metrics.LabelError, match="exactly one value"):
        metrics.labels_of(np.zeros((2, 3)), 10, "label")


GOOD = {"examples": 100, "accuracy_quant": 0.95, "accuracy_float": 0.96, "absolute_drop": 0.01,
        "relative_drop": 0.01 / 0.96, "nonfinite_quant": 0, "nonfinite_float": 0}


def test_gate_blesses_within_thresholds():
    blessed, checks = gate.decide(GOOD, Thresholds(max_absolute_drop=0.02, min_accuracy=0.9),
                                  1000, None, True)
    assert blessed and {c.name for c in checks} >= {"max_absolute_drop", "min_accuracy"}


@pytest.mark.parametrize("change, thresholds, float_ok, failing", [
    ({}, Thresholds(max_absolute_drop=0.005), None, "max_absolute_drop"),
    ({}, Thresholds(max_relative_drop=0.001), None, "max_relative_drop"),
    ({}, Thresholds(min_accuracy=0.99), None, "min_accuracy"),
    ({}, Thresholds(min_accuracy=0.5, max_model_bytes=999), None, "max_model_bytes"),
    ({}, Thresholds(min_accuracy=0.5, max_latency_us=10.0), None, "max_latency_us"),
    ({}, Thresholds(min_accuracy=0.5), False, "float_model_blessed"),
    ({"examples": 0, "accuracy_quant": math.nan}, Thresholds(min_accuracy=0.5), None, "examples"),
    ({"nonfinite_quant": 1}, Thresholds(min_accuracy=0.5), None, "finite_outputs"),
    ({"absolute_drop": math.nan}, Thresholds(max_absolute_drop=0.5), None, "max_absolute_drop"),
    ({"absolute_drop": None}, Thresholds(max_absolute_drop=0.5), None, "max_absolute_drop"),
])
def test_gate_fails_closed(change, thresholds, float_ok, failing):
    latency = None if thresholds.max_latency_us is None else 11.0
    if failing == "max_latency_us":
        latency = 11.0
    blessed, checks = gate.decide({**GOOD, **change}, thresholds, 1000, latency, float_ok)
    assert not blessed
    assert failing in [c.name for c in checks if not c.passed]


def test_unmeasured_latency_with_a_budget_fails():
    blessed, checks = gate.decide(GOOD, Thresholds(min_accuracy=0.5, max_latency_us=1e9), 10, None, None)
    assert not blessed and "not measured" in [c for c in checks if not c.passed][0].detail
