"""The EdgeEvaluation in TFMA's own files, a view of metrics.json (never a second source).

Beside metrics.json the EdgeEvaluator writes what a stock TFMA run writes into its output path,
so `tfma.load_eval_result`, `tfma.load_metrics`, `tfma.load_validation_result` and TFMA's
notebook views read the evaluation: `eval_config.json` (an EvalRun), `metrics-*.tfrecord`
(MetricsForSlice: every metric of the candidate and of each reference, and the candidate's
`*_diff` values against the float32 reference, as TFMA writes for a baseline), `plots-*.tfrecord`
(none yet) and `validations-*.tfrecord` (the ValidationResult: validation_ok is the blessing; every
failed check is a failure). Model names follow TFX's Evaluator: the quantized model is `candidate`,
its float32 TFLite reference the `baseline`. Slice keys come from the slices' typed columns
(SliceSummary.columns, CheckRecord.columns), a crossed slice's columns sorted by feature name as
TFMA's slicer writes them; values are written as strings (bytes_value), as tfx-edge slices them.

The only module that imports TFMA (its protos); it runs in the executor, which has TFMA.
"""

from __future__ import annotations

import dataclasses
import os

import tensorflow as tf
from google.protobuf import json_format
from tensorflow_model_analysis import version as tfma_version
from tensorflow_model_analysis.proto import config_pb2, metrics_for_slice_pb2, validation_result_pb2

from tfx_edge.schemas import metric_table, names, records
from tfx_edge.schemas.evaluation import MetricThreshold, cross_of

CANDIDATE, BASELINE = "candidate", "baseline"
MODEL_NAMES = {names.QUANTIZED: CANDIDATE, names.FLOAT_TFLITE: BASELINE, names.SAVED_MODEL: names.SAVED_MODEL}
SHARD = "-00000-of-00001.tfrecord"
FILES = tuple(prefix + SHARD for prefix in ("metrics", "plots", "validations")) + ("eval_config.json",)


def write(result: records.EvaluationResult, out_dir: str, data_location: str) -> None:
    """The four files into out_dir (the EdgeEvaluation's directory)."""
    weighted = result.config.example_weight_key is not None
    _records(os.path.join(out_dir, "metrics" + SHARD),
             [_metrics_for_slice(s, weighted).SerializeToString() for _, s in sorted(result.slices.items())])
    _records(os.path.join(out_dir, "plots" + SHARD), [])
    _records(os.path.join(out_dir, "validations" + SHARD), [_validation(result).SerializeToString()])
    run = config_pb2.EvalRun(eval_config=_eval_config(result), version=tfma_version.VERSION,
                             data_location=data_location, file_format="tfrecords",
                             model_locations={MODEL_NAMES[m]: f.path for m, f in result.models.items()})
    with tf.io.gfile.GFile(os.path.join(out_dir, "eval_config.json"), "w") as f:
        f.write(json_format.MessageToJson(run))


def _records(path: str, serialized: list[bytes]) -> None:
    with tf.io.TFRecordWriter(path) as writer:
        for record in serialized:
            writer.write(record)


def slice_key(columns: tuple[tuple[str, str], ...]) -> metrics_for_slice_pb2.SliceKey:
    """A slice's columns (() the overall slice) as TFMA's SliceKey: one single slice key per column,
    sorted by feature name (TFMA's slicer yields a crossed slice's columns sorted)."""
    out = metrics_for_slice_pb2.SliceKey()
    for feature, value in sorted(columns):
        out.single_slice_keys.add(column=feature, bytes_value=value.encode())
    return out


def _metric_key(name: str, model: str, weighted: bool, is_diff: bool = False) -> metrics_for_slice_pb2.MetricKey:
    """TFMA's key of a metric: a binarized one (`auc/class_3`) is TFMA's name with sub_key {class_id: 3}, an
    average (`auc/macro`) the name with aggregation_type {macro_average: true}."""
    base, class_id, average = metric_table.split_binarized(name)
    key = metrics_for_slice_pb2.MetricKey(name=base, model_name=MODEL_NAMES[model], is_diff=is_diff)
    key.example_weighted.value = weighted
    if class_id is not None:
        key.sub_key.class_id.value = class_id
    if average is not None:
        setattr(key.aggregation_type, f"{average}_average", True)
    return key


def _metrics_for_slice(s: records.SliceSummary, weighted: bool) -> metrics_for_slice_pb2.MetricsForSlice:
    out = metrics_for_slice_pb2.MetricsForSlice(slice_key=slice_key(s.columns))
    for model, values in sorted(s.metrics.items()):
        for name, value in sorted(values.items()):
            if value is not None:
                entry = out.metric_keys_and_values.add(key=_metric_key(name, model, weighted))
                entry.value.double_value.value = value
    candidate, baseline = s.metrics.get(names.QUANTIZED, {}), s.metrics.get(names.FLOAT_TFLITE, {})
    for name in sorted(set(candidate) & set(baseline)):
        if candidate[name] is not None and baseline[name] is not None:   # TFMA's diff: candidate - baseline
            entry = out.metric_keys_and_values.add(key=_metric_key(name, names.QUANTIZED, weighted, is_diff=True))
            entry.value.double_value.value = candidate[name] - baseline[name]  # type: ignore[operator]
            _diff_interval(entry, s.drop(names.FLOAT_TFLITE, name), name)
    return out


def _diff_interval(entry, drop: records.Drop | None, name: str) -> None:
    """The drop's 95% interval as TFMA's confidence interval of the diff (candidate - baseline: the
    negated drop for a higher-is-better metric)."""
    if drop is None or drop.ci_low is None or drop.ci_high is None:
        return
    low, high = ((-drop.ci_high, -drop.ci_low) if metric_table.direction(name) == metric_table.HIGHER
                 else (drop.ci_low, drop.ci_high))
    entry.confidence_interval.lower_bound.double_value.value = low
    entry.confidence_interval.upper_bound.double_value.value = high


_LIMITS = frozenset(f.name for f in dataclasses.fields(MetricThreshold)) - {"use_confidence_bound"}


def _checked_metric(check: str) -> str:
    """The metric a check is of: its name without the MetricThreshold field ('precision@0.3.lower_bound'
    -> 'precision@0.3'); a check of no metric ('targets.gpu', 'examples') keeps its whole name."""
    metric, _, limit = check.rpartition(".")
    return metric if limit in _LIMITS and metric else check


def _validation(result: records.EvaluationResult) -> validation_result_pb2.ValidationResult:
    out = validation_result_pb2.ValidationResult(validation_ok=result.blessed)
    weighted = result.config.example_weight_key is not None
    by_slice: dict[tuple[tuple[str, str], ...], list[records.CheckRecord]] = {}
    for check in result.failed:
        by_slice.setdefault(check.columns, []).append(check)
    for columns, failed in sorted(by_slice.items()):
        per_slice = out.metric_validations_per_slice.add(slice_key=slice_key(columns))
        for check in failed:
            failure = per_slice.failures.add(message=f"{check.name}: {check.detail}")
            failure.metric_key.CopyFrom(_metric_key(_checked_metric(check.name), names.QUANTIZED, weighted))
            if isinstance(check.value, (int, float)) and not isinstance(check.value, bool):
                failure.metric_value.double_value.value = float(check.value)
    return out


def _eval_config(result: records.EvaluationResult) -> config_pb2.EvalConfig:
    """What was evaluated, in TFMA's terms: the candidate and its baseline, the slices."""
    spec = dict(label_key=result.config.label_feature, prediction_key=result.output_name or "",
                example_weight_key=result.config.example_weight_key or "")
    config = config_pb2.EvalConfig(
        model_specs=[config_pb2.ModelSpec(name=CANDIDATE, model_type="tf_lite", **spec),
                     config_pb2.ModelSpec(name=BASELINE, model_type="tf_lite", is_baseline=True, **spec)],
        slicing_specs=[config_pb2.SlicingSpec()] + [config_pb2.SlicingSpec(feature_keys=list(cross_of(f)))
                                                    for f in result.config.slice_features])
    return config
