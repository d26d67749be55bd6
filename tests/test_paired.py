"""Confidence intervals of drops (core/paired): the formula, the scoring summary, the gate option."""

from __future__ import annotations

import math
import os

import numpy as np
import pytest

from tfx_edge.components.core import gate, metrics, paired, scoring
from tfx_edge.schemas import ConfigError, EvaluationConfig, LatencyConfig, MetricThreshold, Thresholds, records
from helpers import run_edge_evaluator


def test_the_interval_is_the_normal_interval_of_the_paired_differences():
    rng = np.random.default_rng(1)
    ref, cand = rng.integers(0, 2, 400).astype(float), rng.integers(0, 2, 400).astype(float)
    summed = paired.stats({"accuracy": cand}, {"accuracy": ref})["accuracy"]
    d = ref - cand
    half = 1.959963984540054 * d.std(ddof=1) / math.sqrt(len(d))
    assert paired.interval(summed) == pytest.approx((d.mean() - half, d.mean() + half), rel=1e-12)
    assert paired.interval({"n": 1, "sum": 1.0, "sq": 1.0}) == (None, None)


def test_a_lower_is_better_metric_counts_a_rise_as_the_drop():
    summed = paired.stats({"loss": np.array([2.0, 3.0])}, {"loss": np.array([1.0, 1.0])})["loss"]
    assert summed == {"n": 2, "sum": 3.0, "sq": 5.0}


def summary(labels, quant, ref):
    spec = scoring.ScoreSpec(metrics.Spec("classification", 3, "logits"), "label", "out")
    stats = scoring.batch_stats({"label": labels[:, None]}, {"quantized": quant, "float_tflite": ref}, spec)
    return scoring.summarize(stats, spec)


def test_the_accuracy_drop_is_the_mean_paired_difference_and_lies_in_its_interval():
    rng = np.random.default_rng(2)
    labels = rng.integers(0, 3, 300)
    ref = rng.normal(size=(300, 3)) + 3.0 * np.eye(3)[labels]
    quant = ref + rng.normal(scale=1.5, size=ref.shape)
    drop = summary(labels, quant, ref)["slices"][""]["drops"]["float_tflite"]["accuracy"]
    assert drop["ci_low"] < drop["absolute"] < drop["ci_high"] and drop["ci_examples"] == 300
    assert drop["ci_high"] - drop["ci_low"] < 0.12


def evidence(drop: dict, reference: float = 0.9) -> gate.Evidence:
    overall = {"examples": 360, "nonfinite": {}, "metrics": {"quantized": {"accuracy": reference - drop["absolute"]},
                                                             "float_tflite": {"accuracy": reference}},
               "drops": {"float_tflite": {"accuracy": drop}}, "pairs": {}}
    return gate.Evidence(slices={"": overall}, references=["float_tflite"])


@pytest.mark.parametrize("use_bound, blessed", [(False, True), (True, False)])
def test_the_gate_can_hold_the_limit_against_the_intervals_upper_end(use_bound, blessed):
    drop = {"absolute": 0.003, "relative": 0.003 / 0.9, "ci_low": -0.004, "ci_high": 0.010, "ci_examples": 360}
    limit = Thresholds(metrics={"accuracy": MetricThreshold(max_absolute_drop=0.005, use_confidence_bound=use_bound)})
    ok, checks = gate.decide(evidence(drop), limit)
    (check,) = [c for c in checks if c.name == "accuracy.max_absolute_drop"]
    assert ok == blessed and check.value == (0.010 if use_bound else 0.003)
    assert "95% interval -0.004 .. 0.01 over 360 paired examples" in check.detail
    assert ("upper end of its 95% interval" in check.detail) == use_bound


def test_a_bound_on_a_metric_without_an_interval_is_refused():
    with pytest.raises(ConfigError, match=r"use_confidence_bound=True is invalid: 'macro_precision' has no confidence"):
        EvaluationConfig(thresholds=Thresholds(metrics={"macro_precision": MetricThreshold(
            max_absolute_drop=0.01, use_confidence_bound=True)}))


def test_metrics_json_and_the_report_carry_the_intervals(int8_export, examples_artifact, tmp_path):
    config = EvaluationConfig(latency=LatencyConfig(runs=0), thresholds=Thresholds(
        metrics={"accuracy": MetricThreshold(max_absolute_drop=0.05, use_confidence_bound=True)}))
    blessing, evaluation = run_edge_evaluator(config, examples_artifact, int8_export["tflite"], int8_export["float"],
                                              str(tmp_path))
    result = records.EvaluationResult.from_json(open(os.path.join(evaluation.uri, "metrics.json")).read(), "m", "f")
    drop = result.slices[""].drops["float_tflite"]["accuracy"]
    assert drop.ci_examples == 360 and drop.ci_low <= drop.absolute <= drop.ci_high
    assert blessing.get_int_custom_property("blessed") == 1
    html = open(os.path.join(evaluation.uri, "report.html")).read()
    assert f"{drop.ci_low:.4g} .. {drop.ci_high:.4g}" in html


def test_right_or_wrong_metrics_use_the_paired_proportion_interval():
    agree = {"n": 360, "sum": 0.0, "sq": 0.0}                     # both models right / wrong on the same examples
    low, high = paired.interval(agree, right_or_wrong=True)
    assert low == pytest.approx(-high) and 0.004 < high < 0.007       # not [0, 0]
    assert paired.interval(agree) == (0.0, 0.0)                       # the plain normal interval collapses
    worse = {"n": 360, "sum": 6.0, "sq": 8.0}                         # 7 worse, 1 better
    low, high = paired.interval(worse, right_or_wrong=True)
    assert 0 < low < 6 / 360 < high


def test_paired_correctness_counts_ties_as_accuracy_and_top_k_do():
    """int8 outputs tie often: accuracy takes the first of tied top scores (argmax, the confusion
    matrix's rule), top-k counts ties in; the paired differences must follow the same rules, or a
    drop of 10 examples gets an interval around 0 (seen on an int8 model before this was fixed)."""
    scores = np.array([[0.5, 0.5, 0.0], [0.2, 0.7, 0.7], [0.1, 0.1, 0.8], [np.nan, 1.0, 0.0]])
    labels = np.array([1, 2, 0, 1])
    spec = metrics.Spec("classification", 3, None, (1, 2))
    stats = metrics.classification_stats(labels, scores, spec)
    assert paired.correct(labels, scores).sum() == np.trace(stats["confusion"]) == 0
    assert [paired.correct(labels, scores, k).sum() for k in (1, 2)] == stats["topk_correct"].tolist() == [2, 3]


def _ratio_case(seed: int, n: int = 2000):
    """Labels, two correlated probability outputs and weights of a binary problem."""
    rng = np.random.default_rng(seed)
    y = (rng.random(n) < 0.3).astype(np.float64)
    ref = np.clip(0.35 * y + rng.random(n) * 0.7, 0, 1)
    cand = np.clip(ref + rng.normal(0, 0.08, n), 0, 1)
    return y, cand, ref, 1.0 + rng.integers(0, 3, n)


def _precision(y, p, w):
    pos = p > 0.5
    return np.sum(w * y * pos) / np.sum(w * pos)


@pytest.mark.parametrize("name", ["precision", "recall", "f1_score", "binary_accuracy", "mean_squared_error"])
def test_ratio_metric_intervals_are_the_delta_method_and_match_a_bootstrap(name):
    from tfx_edge.components.core import binary_scoring
    y, cand, ref, w = _ratio_case(0)
    spec = binary_scoring.BinarySpec(weighted=True)
    parts = {m: binary_scoring.ratio_parts(y, p, w, spec) for m, p in (("c", cand), ("r", ref))}
    summed = paired.ratio_stats(*paired.ratio_rows(parts["c"], parts["r"]), [np.ones(len(y), bool)])[0][name]
    low, high = paired.ratio_interval(summed, name)
    derived = {m: binary_scoring.derive(_binary_stats(y, p, w, spec), spec)[name] for m, p in (("c", cand), ("r", ref))}
    drop = derived["r"] - derived["c"] if name != "mean_squared_error" else derived["c"] - derived["r"]
    assert low < drop < high and (low + high) / 2 == pytest.approx(drop, abs=1e-12)
    rng = np.random.default_rng(1)                    # the paired bootstrap's spread of the same drop
    draws = []
    for _ in range(400):
        i = rng.integers(0, len(y), len(y))
        b = {m: binary_scoring.derive(_binary_stats(y[i], p[i], w[i], spec), spec)[name] for m, p in (("c", cand),
                                                                                                     ("r", ref))}
        draws.append(b["r"] - b["c"] if name != "mean_squared_error" else b["c"] - b["r"])
    assert (high - low) / 2 == pytest.approx(paired.Z_95 * np.std(draws), rel=0.15)


def _binary_stats(y, p, w, spec):
    from tfx_edge.components.core import binary_scoring
    mask = np.ones(len(y), bool)
    return binary_scoring.batch_by_slice(y, p, w, spec, [("", mask)])[""]


def test_a_ratio_without_a_denominator_has_no_interval():
    zeros = np.zeros(10)
    parts = {"precision": (zeros, zeros)}
    summed = paired.ratio_stats(*paired.ratio_rows(parts, parts), [np.ones(10, bool)])[0]["precision"]
    assert paired.ratio_interval(summed, "precision") == (None, None)


def test_binary_outputs_carry_ratio_intervals_in_metrics_json(int8_export, examples_artifact, tmp_path):
    from helpers import binary_eval_split, write_model
    split, _, _ = binary_eval_split(examples_artifact, str(tmp_path / "split"), extras=True)
    like = int8_export["tflite"].uri

    def head(scale):
        return lambda image: tf_sigmoid(scale)(image)

    ref = write_model(str(tmp_path), "ref", head(1.0), like)
    cand = write_model(str(tmp_path), "cand", head(0.9), like, reference_uri=ref.uri)
    config = EvaluationConfig(latency=LatencyConfig(runs=0), output_kind="probabilities", example_weight_key="weight",
                              thresholds=Thresholds(metrics={"precision": MetricThreshold(
                                  max_absolute_drop=0.5, use_confidence_bound=True)}))
    _, evaluation = run_edge_evaluator(config, split, cand, ref, str(tmp_path / "out"))
    result = records.EvaluationResult.from_json(open(os.path.join(evaluation.uri, "metrics.json")).read(), "m", "f")
    drops = result.slices[""].drops["float_tflite"]
    for name in ("precision", "recall", "f1_score", "binary_accuracy", "mean_squared_error"):
        assert drops[name].ci_low <= drops[name].absolute <= drops[name].ci_high, name
        assert drops[name].ci_examples == 360
    assert drops["auc"].ci_low is None                  # AUC has no additive variance
    check = next(c for c in result.checks if c.name == "precision.max_absolute_drop")
    assert check.value == pytest.approx(drops["precision"].ci_high)


def tf_sigmoid(scale):
    import tensorflow as tf

    def fn(image):
        return tf.sigmoid(scale * (tf.reduce_mean(image, axis=1, keepdims=True) - 4.5))
    return fn
