"""The gate's default guards: collapsed classes and positive rates, and outputs the thresholds do
not read. Pure checks on hand-made statistics, then the EdgeEvaluator on real TFLite models."""

from __future__ import annotations

import os

import numpy as np
import pytest
import tensorflow as tf

from tfx_edge.components.core import guards, output_guard
from tfx_edge.schemas import (ConfigError, EvaluationConfig, Guards, LatencyConfig, MetricThreshold, OutputKind,
                              Thresholds, records)
from helpers import binary_eval_split, run_edge_evaluator, write_model

ON = Guards()


def failed(checks) -> dict[str, str]:
    return {c.name: c.detail for c in checks if not c.passed}


# ---- pure ----------------------------------------------------------------------------------

def test_a_class_the_reference_predicts_and_the_candidate_never_does_fails():
    reference = [[40, 5, 0], [3, 30, 2], [0, 4, 16]]          # predicts class 2 for 18 of 100 examples
    collapsed = [[45, 0, 0], [35, 0, 0], [0, 20, 0]]          # predicts classes 0 and 1, never 2
    checks = guards.checks(ON, {"quantized": collapsed, "float_tflite": reference}, "quantized",
                           ["float_tflite"], {})
    assert failed(checks) == {"guards.class_collapse": failed(checks)["guards.class_collapse"]}
    assert "never predicts class(es) [2] (class 2: 18 by float_tflite, 0 quantized" in failed(checks)[
        "guards.class_collapse"]
    assert "set guards.class_collapse=False" in failed(checks)["guards.class_collapse"]


def test_a_rare_class_below_the_floor_is_not_a_collapse():
    reference = [[90, 0, 0], [0, 6, 0], [0, 0, 4]]            # class 2: 4 predictions < max(5, 1%)
    candidate = [[90, 0, 0], [0, 6, 0], [4, 0, 0]]
    assert not failed(guards.checks(ON, {"quantized": candidate, "float_tflite": reference}, "quantized",
                                    ["float_tflite"], {}))


@pytest.mark.parametrize("candidate, collapsed", [([[77, 0], [23, 0]], True), ([[0, 77], [0, 23]], True),
                                                  ([[70, 7], [10, 13]], False)])
def test_a_binary_positive_rate_of_0_or_1_fails_when_the_reference_has_both(candidate, collapsed):
    reference = [[70, 7], [8, 15]]
    checks = guards.checks(Guards(class_collapse=False), {"quantized": candidate, "float_tflite": reference},
                           "quantized", ["float_tflite"], {})
    assert ("guards.positive_rate_collapse" in failed(checks)) == collapsed


def test_guards_switch_off_by_name():
    collapsed = {"quantized": [[77, 0], [23, 0]], "float_tflite": [[70, 7], [8, 15]]}
    off = Guards(class_collapse=False, positive_rate_collapse=False, other_outputs=False)
    assert guards.checks(off, collapsed, "quantized", ["float_tflite"], {"value": {}}) == []


def test_other_outputs_compare_agreement_or_relative_rms():
    rng = np.random.default_rng(0)
    ref = rng.normal(size=(200, 1))
    close, far = output_guard.compare(output_guard.stats(ref * 1.02, ref)), output_guard.compare(
        output_guard.stats(ref * 6.5, ref))
    assert close["agreement"] is None and close["relative_rms_difference"] == pytest.approx(0.02)
    assert far["relative_rms_difference"] == pytest.approx(5.5)
    scores = rng.normal(size=(200, 4))
    same = output_guard.compare(output_guard.stats(scores, scores))
    assert same["agreement"] == 1.0 and same["relative_rms_difference"] == 0.0
    checks = guards.checks(ON, {}, "quantized", ["float_tflite"],
                           {"value": {"float_tflite": far}, "scores": {"float_tflite": same}})
    assert set(failed(checks)) == {"guards.other_outputs[value]"}
    assert "relative RMS difference 5.5 <= guards.max_relative_difference 0.1: FAILED" in failed(checks)[
        "guards.other_outputs[value]"]


def test_guard_settings_are_validated():
    with pytest.raises(ConfigError, match=r"guards\.min_agreement=1\.5 is invalid"):
        Guards(min_agreement=1.5)


# ---- the EdgeEvaluator on real TFLite models ---------------------------------------------------

def test_a_binary_model_that_predicts_no_positives_is_not_blessed_under_accuracy_only(
        int8_export, examples_artifact, tmp_path):
    """A logistic-regression reference of 'is it a zero' and a candidate stuck at 0.05: accuracy drops
    by less than the accuracy-only gate allows (the split is 90% negatives), the guards refuse."""
    from sklearn.linear_model import LogisticRegression
    split, images, labels = binary_eval_split(examples_artifact, str(tmp_path / "ex"))
    fit = LogisticRegression(max_iter=2000).fit(images, labels)
    w, b = tf.constant(fit.coef_.T, tf.float32), tf.constant(fit.intercept_, tf.float32)
    like = int8_export["tflite"].uri
    ref = write_model(str(tmp_path), "ref", lambda image: {"probabilities": tf.sigmoid(image @ w + b)}, like)
    cand = write_model(str(tmp_path), "cand", lambda image: {"probabilities": 0.05 + 0.0 * image[:, :1]}, like,
                       reference_uri=ref.uri)
    config = EvaluationConfig(output_kind=OutputKind.PROBABILITIES, latency=LatencyConfig(runs=0),
                              thresholds=Thresholds(metrics={"accuracy": MetricThreshold(max_absolute_drop=0.15)}))
    blessing, evaluation = run_edge_evaluator(config, split, cand, ref, str(tmp_path / "out"))
    result = records.EvaluationResult.from_json(open(os.path.join(evaluation.uri, "metrics.json")).read(), "m", "f")
    by_name = {c.name: c for c in result.checks}
    assert by_name["accuracy.max_absolute_drop"].passed      # the accuracy-only gate alone would bless it
    assert not by_name["guards.positive_rate_collapse"].passed and not by_name["guards.class_collapse"].passed
    assert "never predicts class(es) [1]" in by_name["guards.class_collapse"].detail
    assert not result.blessed and blessing.get_int_custom_property("blessed") == 0


def two_heads(value_scale: float):
    def fn(image):
        return {"probabilities": tf.nn.softmax(image[:, :10]),
                "value": value_scale * tf.reduce_mean(image, axis=1, keepdims=True)}
    return fn


@pytest.mark.parametrize("value_scale, blessed", [(1.0, True), (6.5, False)])
def test_the_head_the_thresholds_do_not_read_is_guarded(value_scale, blessed, int8_export, examples_artifact,
                                                        tmp_path):
    like = int8_export["tflite"].uri
    ref = write_model(str(tmp_path), "ref", two_heads(1.0), like)
    cand = write_model(str(tmp_path), "cand", two_heads(value_scale), like, reference_uri=ref.uri)
    config = EvaluationConfig(output_name="probabilities", latency=LatencyConfig(runs=0),
                              thresholds=Thresholds(metrics={"accuracy": MetricThreshold(max_absolute_drop=0.01)}))
    blessing, evaluation = run_edge_evaluator(config, examples_artifact, cand, ref, str(tmp_path / "out"))
    result = records.EvaluationResult.from_json(open(os.path.join(evaluation.uri, "metrics.json")).read(), "m", "f")
    check = next(c for c in result.checks if c.name == "guards.other_outputs[value]")
    assert check.passed == blessed and result.blessed == blessed
    value = result.other_outputs["value"]["float_tflite"]
    assert value.examples == 360 and value.relative_rms_difference == pytest.approx(value_scale - 1, abs=1e-5)


@pytest.mark.parametrize("value_scale, blessed", [(1.0, True), (6.5, False)])
def test_both_heads_gated_each_on_its_own_label_and_metrics(value_scale, blessed, int8_export, examples_artifact,
                                                            tmp_path):
    from tfx_edge.schemas import OutputConfig
    like = int8_export["tflite"].uri
    ref = write_model(str(tmp_path), "ref", two_heads(1.0), like)
    cand = write_model(str(tmp_path), "cand", two_heads(value_scale), like, reference_uri=ref.uri)
    config = EvaluationConfig(
        output_name="probabilities", latency=LatencyConfig(runs=0),
        thresholds=Thresholds(metrics={"accuracy": MetricThreshold(max_absolute_drop=0.01)}),
        outputs={"value": OutputConfig(label_feature="label", task="regression",
                                       metrics={"rmse": MetricThreshold(max_relative_drop=0.1)})})
    blessing, evaluation = run_edge_evaluator(config, examples_artifact, cand, ref, str(tmp_path / "out"))
    result = records.EvaluationResult.from_json(open(os.path.join(evaluation.uri, "metrics.json")).read(), "m", "f")
    by_name = {c.name: c for c in result.checks}
    assert by_name["outputs[value].rmse.max_relative_drop"].passed == blessed == result.blessed
    assert "guards.other_outputs[value]" not in by_name          # scored, so not merely guarded
    value = result.scored_outputs["value"].slices[""]
    assert value.examples == 360 and value.metrics["quantized"]["rmse"] > 0
    assert "Output value (overall)" in open(os.path.join(evaluation.uri, "report.html")).read()
