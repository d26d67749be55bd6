"""TFX's own taxi EvalConfig gates a binary model of TFX's taxi data, and decides as stock TFMA does.

The data is TFX's (`tfx/examples/chicago_taxi_pipeline/data/simple/data.csv`, in the wheel) with the
taxi module's label, tips_xf = tips > 20% of the fare; the model is a dense variant (four numeric
features, a logistic regression: the Transform-based taxi module itself is the taxi issue's). The
EvalConfig is taxi_pipeline_native_keras.py's (BinaryAccuracy >= 0.6 and no worse than the
baseline), without its preprocessing_function_names, extended with AUC, AUCPrecisionRecall,
Calibration and ExampleCount, sliced by trip_start_hour. Stock TFMA evaluates the same two .tflite
files (candidate and baseline) with the same EvalConfig: every shared metric, and the decision, agree.
"""

from __future__ import annotations

import csv
import os

import numpy as np
import pytest
import tensorflow as tf

from tfx_edge.schemas import EvaluationConfig, LatencyConfig, records
from helpers import make_artifact, run_edge_evaluator, write_export_report
from test_tfma_config import extended_taxi

pytestmark = pytest.mark.e2e

FEATURES = ("trip_miles", "fare", "trip_seconds", "credit_card", "trip_start_hour")
EVAL_ROWS = 2000


def taxi_rows() -> list[dict]:
    import tfx
    path = os.path.join(os.path.dirname(tfx.__file__), "examples", "chicago_taxi_pipeline", "data", "simple",
                        "data.csv")
    with open(path) as f:
        rows = [r for r in csv.DictReader(f)
                if all(r[k] for k in ("trip_miles", "fare", "trip_seconds", "trip_start_hour", "tips"))
                and float(r["fare"]) > 0]
    for r in rows:     # the module's strongest signal, as a dense feature: tips are recorded for card payments
        r["credit_card"] = float(r["payment_type"] == "Credit Card")
    return rows


def examples_of(rows, root: str):
    from tfx.types import artifact_utils, standard_artifacts
    os.makedirs(os.path.join(root, "Split-eval"))
    with tf.io.TFRecordWriter(os.path.join(root, "Split-eval", "data_tfrecord-00000-of-00001")) as writer:
        for r in rows:
            example = tf.train.Example()
            for k in FEATURES[:-1]:
                example.features.feature[k].float_list.value.append(float(r[k]))
            example.features.feature["trip_start_hour"].int64_list.value.append(int(r["trip_start_hour"]))
            example.features.feature["tips_xf"].int64_list.value.append(int(float(r["tips"]) > 0.2 * float(r["fare"])))
            writer.write(example.SerializeToString())
    split = make_artifact(standard_artifacts.Examples, root)
    split.split_names = artifact_utils.encode_split_names(["eval"])
    return split


def tflite_model(root: str, name: str, w: np.ndarray, b: float, mean: np.ndarray, scale: np.ndarray):
    """A Model artifact whose .tflite takes one [-1, 1] input per feature (named as the feature)."""
    from tfx.types import standard_artifacts
    specs = [tf.TensorSpec([None, 1], tf.int64 if k == "trip_start_hour" else tf.float32, name=k) for k in FEATURES]

    def fn(trip_miles, fare, trip_seconds, credit_card, trip_start_hour):
        x = tf.concat([trip_miles, fare, trip_seconds, credit_card, tf.cast(trip_start_hour, tf.float32)], axis=1)
        return {"probabilities": tf.sigmoid(((x - mean) / scale) @ tf.constant(w[:, None], tf.float32) + b)}
    module = tf.Module()
    module.fn = tf.function(fn, input_signature=specs)
    converter = tf.lite.TFLiteConverter.from_concrete_functions([module.fn.get_concrete_function()], module)
    model = make_artifact(standard_artifacts.Model, os.path.join(root, name))
    os.makedirs(os.path.join(model.uri, "Format-Serving"))
    with open(os.path.join(model.uri, "Format-Serving", "tflite"), "wb") as f:
        f.write(converter.convert())
    return model


def tfma_run(config_pb, candidate: str, baseline: str, data: str, out: str):
    import tensorflow_model_analysis as tfma
    from tensorflow_model_analysis.proto import config_pb2 as cfg
    run = cfg.EvalConfig()
    run.CopyFrom(config_pb)
    spec = run.model_specs[0]
    spec.name, spec.model_type = "candidate", tfma.TF_LITE
    spec.ClearField("signature_name")
    baseline_spec = run.model_specs.add()
    baseline_spec.CopyFrom(spec)
    baseline_spec.name, baseline_spec.is_baseline = "baseline", True
    models = [tfma.default_eval_shared_model(eval_saved_model_path=path, model_name=name, eval_config=run)
              for name, path in (("candidate", candidate), ("baseline", baseline))]
    tfma.run_model_analysis(eval_shared_model=models, eval_config=run, data_location=data, output_path=out)
    values = {}
    for m in tfma.load_metrics(out):
        keys = m.slice_key.single_slice_keys
        key = "" if not keys else f"{keys[0].column}={keys[0].int64_value}"
        for kv in m.metric_keys_and_values:
            if not kv.key.is_diff:
                model = "quantized" if kv.key.model_name == "candidate" else "float_tflite"
                values.setdefault(key, {}).setdefault(model, {})[kv.key.name] = kv.value.double_value.value
    return values, tfma.load_validation_result(out).validation_ok


def fit_models(tmp_path, collapsed: bool):
    """The reference (a logistic regression) and a candidate: the same with weights rounded to 2 decimals,
    or, collapsed, a constant 'no tip' predictor (what int8 made of TFX's taxi model in the issue) against
    a weak reference (one that does not see the payment type, like a barely trained taxi model)."""
    from sklearn.linear_model import LogisticRegression
    rows = taxi_rows()
    train = rows[:-EVAL_ROWS]
    x = np.array([[float(r[k]) for k in FEATURES] for r in train])
    if collapsed:
        x[:, FEATURES.index("credit_card")] = 0.0
    y = np.array([float(r["tips"]) > 0.2 * float(r["fare"]) for r in train], dtype=int)
    mean, scale = x.mean(axis=0), x.std(axis=0) + 1e-6
    fit = LogisticRegression(max_iter=1000).fit((x - mean) / scale, y)
    w, b = fit.coef_[0], float(fit.intercept_[0])
    ref = tflite_model(str(tmp_path), "ref", w, b, mean, scale)
    cand = (tflite_model(str(tmp_path), "cand", 0 * w, -3.0, mean, scale) if collapsed
            else tflite_model(str(tmp_path), "cand", np.round(w, 2), b, mean, scale))
    return ref, cand, rows[-EVAL_ROWS:]


def taxi_as_written():
    """taxi_pipeline_native_keras.py's EvalConfig without preprocessing_function_names (BinaryAccuracy only)."""
    from test_tfma_config import taxi_eval_config
    config = taxi_eval_config()
    config.model_specs[0].ClearField("preprocessing_function_names")
    return config


def extended_and_sliced():
    from tensorflow_model_analysis.proto import config_pb2 as cfg
    eval_config = extended_taxi()
    eval_config.slicing_specs.append(cfg.SlicingSpec(feature_keys=["trip_start_hour"]))
    for metric in eval_config.metrics_specs[0].metrics:   # tfx-edge's AUCs are whole-split: gate them there
        if metric.class_name in ("AUC", "AUCPrecisionRecall"):
            metric.per_slice_thresholds.add(slicing_specs=[cfg.SlicingSpec()], threshold=metric.threshold)
            metric.ClearField("threshold")
    return eval_config


def run_both(eval_config, collapsed: bool, int8_export, tmp_path):
    ref, cand, evaluation = fit_models(tmp_path, collapsed)
    write_export_report(cand.uri, int8_export["tflite"].uri, reference_uri=ref.uri)
    config = EvaluationConfig.from_tfma(eval_config, latency=LatencyConfig(runs=0), input_mapping={})
    split = examples_of(evaluation, str(tmp_path / "ex"))
    blessing, out = run_edge_evaluator(config, split, cand, ref, str(tmp_path / "out"))
    ours = records.EvaluationResult.from_json(open(os.path.join(out.uri, "metrics.json")).read(), "m", "f")
    theirs, tfma_ok = tfma_run(eval_config, os.path.join(cand.uri, "Format-Serving"),
                               os.path.join(ref.uri, "Format-Serving"),
                               os.path.join(split.uri, "Split-eval", "data_tfrecord-00000-of-00001"),
                               str(tmp_path / "tfma"))
    return ours, theirs, tfma_ok, blessing


def compare_metrics(ours, theirs) -> int:
    compared = 0
    for key, by_model in theirs.items():
        for model, values in by_model.items():
            for name, value in values.items():
                mine = ours.slices[key].metrics[model].get(name)
                if (mine is None and value != value) or (name in ("auc", "auc_precision_recall") and key):
                    continue                                   # NaN is null; AUCs are whole split only
                rel = 1e-6 if name in ("calibration", "mean_prediction") else 1e-9
                assert mine == pytest.approx(value, rel=rel), (key, model, name, mine, value)
                compared += 1
    return compared


def test_tfx_taxi_eval_config_extended_and_sliced_decides_as_stock_tfma(int8_export, tmp_path):
    ours, theirs, tfma_ok, blessing = run_both(extended_and_sliced(), False, int8_export, tmp_path)
    assert compare_metrics(ours, theirs) > 100
    gate_checks = [c for c in ours.checks if not c.name.startswith("guards.")]
    assert all(c.passed for c in gate_checks) == tfma_ok, [c.detail for c in gate_checks if not c.passed]
    assert all(c.passed for c in ours.checks if c.name.startswith("guards."))
    assert ours.slices[""].metrics["float_tflite"]["auc"] > 0.8
    assert ours.blessed == tfma_ok == (blessing.get_int_custom_property("blessed") == 1)


def test_a_collapsed_taxi_model_stock_tfma_passes_is_refused_by_the_guards(int8_export, tmp_path):
    """The issue's story: against a weak reference, a constant 'no tip' model keeps (here: gains one
    example of) binary accuracy, so TFX's own EvalConfig (BinaryAccuracy >= 0.6, no worse than the
    baseline) passes it in stock TFMA; tfx-edge's gate passes those checks too, and its guards refuse it."""
    ours, theirs, tfma_ok, blessing = run_both(taxi_as_written(), True, int8_export, tmp_path)
    compare_metrics(ours, theirs)
    failed = {c.name for c in ours.failed}
    assert tfma_ok, "stock TFMA with TFX's own taxi EvalConfig passes the collapsed model"
    # the weak reference predicts 'tip' for too few examples for the class guard's floor (max(5, 1%)):
    # the positive-rate guard is the one that catches a binary collapse whatever the rates
    assert "guards.positive_rate_collapse" in failed
    assert failed <= {"guards.class_collapse", "guards.positive_rate_collapse"}, failed
    assert not ours.blessed and blessing.get_int_custom_property("blessed") == 0
