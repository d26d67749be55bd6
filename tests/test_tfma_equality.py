"""The EdgeEvaluator's binary metrics equal stock TFMA's on the same two .tflite files, weights and slices.

A binary task from the digits eval split ("is it a zero", 10% positives) with an example weight,
a slice feature and crossed slices (group x weight, and every group of the positives: TFMA's mixed
feature_keys + feature_values); the reference is a logistic regression, the candidate the same model
with coarsened weights (as quantization would). Stock TFMA 0.52 evaluates the candidate and the
reference (baseline) as tf_lite models in one run; every shared metric of every slice must match, and
TFMA's load_eval_result reads the same slice keys from both outputs.
"""

from __future__ import annotations

import json
import os

import numpy as np
import pytest
import tensorflow as tf

from tfx_edge.schemas import EvaluationConfig, LatencyConfig, MetricThreshold, OutputKind, Thresholds, records
from helpers import binary_eval_split, run_edge_evaluator, write_model

pytestmark = pytest.mark.e2e

THRESHOLDS = (0.3, 0.7)
METRICS = ["AUC", "AUCPrecisionRecall", "BinaryAccuracy", "Precision", "Recall", "F1Score", "Calibration",
           "MeanLabel", "MeanPrediction", "MeanSquaredError", "ExampleCount", "WeightedExampleCount"]
FLOAT32_SUMS = {"mean_squared_error": 1e-5, "mean_prediction": 1e-6, "calibration": 1e-6}
AT = {"BinaryAccuracy": "binary_accuracy", "Precision": "precision", "Recall": "recall", "F1Score": "f1_score"}


# TFMA's slicing_specs beside the overall slice, and tfx-edge's slice_features computing (at least) the same
# slices; the native cross ("weight", "group") is in its own order, TFMA's slice key sorts its columns.
SLICING_SPECS = [{"feature_keys": ["group"]}, {"feature_keys": ["weight", "group"]},
                 {"feature_keys": ["group"], "feature_values": {"label": "1"}}]
SLICE_FEATURES = ("group", ("weight", "group"), ("group", "label"))


def _text(value) -> str:
    """A TFMA slice value as tfx-edge's slice value text (an integral float as an integer)."""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def slice_of(key) -> frozenset:
    """A TFMA slice key (slicer_lib's tuple of (column, value)) as a set of (column, value text)."""
    return frozenset((column, _text(value)) for column, value in key)


def run_tfma(candidate: str, baseline: str, data: str, out: str) -> dict:
    """Stock TFMA on the two .tflite files: {slice (slice_of): {model: {metric name: value}}}."""
    import tensorflow_model_analysis as tfma
    from tensorflow_model_analysis.proto import config_pb2 as cfg
    configs = [cfg.MetricConfig(class_name=name) for name in METRICS]
    configs += [cfg.MetricConfig(class_name=cls, config=json.dumps({"thresholds": [t], "name": f"{name}@{t:g}"}))
                for cls, name in AT.items() if cls != "BinaryAccuracy" for t in THRESHOLDS]
    configs += [cfg.MetricConfig(class_name="BinaryAccuracy", config=json.dumps({"threshold": t,
                                                                                 "name": f"binary_accuracy@{t:g}"}))
                for t in THRESHOLDS]
    spec = dict(model_type=tfma.TF_LITE, label_key="label", example_weight_key="weight")
    eval_config = cfg.EvalConfig(
        model_specs=[cfg.ModelSpec(name="candidate", **spec), cfg.ModelSpec(name="baseline", is_baseline=True, **spec)],
        slicing_specs=[cfg.SlicingSpec(), *(cfg.SlicingSpec(**spec) for spec in SLICING_SPECS)],
        metrics_specs=[cfg.MetricsSpec(metrics=configs)])
    models = [tfma.default_eval_shared_model(eval_saved_model_path=path, model_name=name, eval_config=eval_config)
              for name, path in (("candidate", candidate), ("baseline", baseline))]
    tfma.run_model_analysis(eval_shared_model=models, eval_config=eval_config, data_location=data, output_path=out)
    from tensorflow_model_analysis.slicer import slicer_lib
    found: dict = {}
    for metrics_for_slice in tfma.load_metrics(out):
        key = slice_of(slicer_lib.deserialize_slice_key(metrics_for_slice.slice_key))
        for kv in metrics_for_slice.metric_keys_and_values:
            if kv.key.is_diff:
                continue
            model = "quantized" if kv.key.model_name == "candidate" else "float_tflite"
            found.setdefault(key, {}).setdefault(model, {})[kv.key.name] = kv.value.double_value.value
    return found


def test_binary_metrics_equal_stock_tfma_on_the_same_tflite_files_weights_and_slices(
        int8_export, examples_artifact, tmp_path):
    from sklearn.linear_model import LogisticRegression
    split, images, labels = binary_eval_split(examples_artifact, str(tmp_path / "ex"), extras=True)
    fit = LogisticRegression(max_iter=2000, C=0.05).fit(images, labels)
    coef = fit.coef_.T.astype(np.float32)
    coarse = np.round(coef / np.abs(coef).max() * 7) / 7 * np.abs(coef).max()     # a 4-bit-ish candidate
    like = int8_export["tflite"].uri

    def model(w):
        w, b = tf.constant(w, tf.float32), tf.constant(fit.intercept_, tf.float32)
        return lambda image: {"probabilities": tf.sigmoid(image @ w + b)}
    ref = write_model(str(tmp_path), "ref", model(coef), like)
    cand = write_model(str(tmp_path), "cand", model(coarse), like, reference_uri=ref.uri)
    config = EvaluationConfig(
        output_kind=OutputKind.PROBABILITIES, example_weight_key="weight", binary_thresholds=THRESHOLDS,
        slice_features=SLICE_FEATURES, latency=LatencyConfig(runs=0),
        thresholds=Thresholds(metrics={"auc": MetricThreshold(max_absolute_drop=0.2, lower_bound=0.5)}))
    blessing, evaluation = run_edge_evaluator(config, split, cand, ref, str(tmp_path / "out"))
    ours = records.EvaluationResult.from_json(open(os.path.join(evaluation.uri, "metrics.json")).read(), "m", "f")
    theirs = run_tfma(os.path.join(cand.uri, "Format-Serving"), os.path.join(ref.uri, "Format-Serving"),
                      os.path.join(split.uri, "Split-eval", "data_tfrecord-00000-of-00001"), str(tmp_path / "tfma"))

    by_columns = {frozenset(s.columns): key for key, s in ours.slices.items()}   # the typed slice, unordered
    crossed = {key for key in theirs if len(key) == 2}
    assert crossed == {frozenset({("group", g), ("weight", w)}) for g in ("even", "odd") for w in "123"} | {
        frozenset({("group", "even"), ("label", "1")})}          # the positives (digit 0) are all even
    compared, per_slice = 0, dict.fromkeys(theirs, 0)
    for slice_, by_model in theirs.items():
        key = by_columns[slice_]
        for model_name, values in by_model.items():
            for name, value in values.items():
                if name not in ours.slices[key].metrics[model_name]:
                    assert key != "" and name in ("auc", "auc_precision_recall"), (key, name)  # overall only
                    continue
                mine = ours.slices[key].metrics[model_name][name]
                per_slice[slice_] += 1
                # TFMA sums the float32 predictions of the moment metrics (and subtracts them from the labels
                # for the squared error) in float32; we in float64. Counts, curves and AUCs are exact.
                rel = FLOAT32_SUMS.get(name, 1e-9)
                if value != value:          # TFMA's NaN is the record's null (not measured)
                    assert mine is None, (key, model_name, name, mine)
                    compared += 1
                    continue
                assert mine == pytest.approx(value, rel=rel, abs=1e-12), (key, model_name, name, mine, value)
                compared += 1
    # both models: overall, two group slices, six group x weight slices and group x label=1
    assert compared >= 2 * (12 + 8) + 2 * (2 + 6 + 1) * (10 + 8), compared
    assert all(per_slice[s] >= 2 * (10 + 8) for s in crossed), per_slice
    # TFMA's loader reads the same slice keys from our output as from its own (columns sorted alike)
    import tensorflow_model_analysis as tfma
    mine_loaded = {key for key, _ in tfma.load_eval_result(evaluation.uri, model_name="candidate").slicing_metrics}
    theirs_loaded = {key for key, _ in tfma.load_eval_result(str(tmp_path / "tfma"), model_name="candidate")
                     .slicing_metrics}
    assert {tuple((c, _text(v)) for c, v in key) for key in theirs_loaded} <= mine_loaded
    assert (("group", "even"), ("weight", "2")) in mine_loaded
    assert ours.slices[""].metrics["quantized"]["auc"] > 0.5 and blessing.get_int_custom_property("blessed") == 1
    # the curves of both models, on the whole split; the ROC curve's area is close to TFMA's AUC
    for model_name in ("quantized", "float_tflite"):
        roc = sorted(ours.curves[model_name].roc)
        area = sum((x1 - x0) * (y0 + y1) / 2 for (x0, y0), (x1, y1) in zip(roc, roc[1:]))
        assert area == pytest.approx(theirs[frozenset()][model_name]["auc"], abs=0.02)
        total = ours.slices[""].metrics[model_name]["weighted_example_count"]
        assert sum(w for _, _, w in ours.curves[model_name].calibration) == pytest.approx(total)   # every example
