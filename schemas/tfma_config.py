"""A TFMA EvalConfig as the EdgeEvaluator's config: `from_tfma(eval_config, **overrides)`.

The stock Evaluator's `tfma.EvalConfig` (the proto message, or its JSON/dict form as
`google.protobuf.json_format.MessageToDict` gives it, camelCase or snake_case keys) becomes an
`EvaluationConfig`; the EdgeEvaluator then gates the quantized TFLite model on it, with the
float32 TFLite reference as TFMA's baseline. One engine underneath: the result is a plain
EvaluationConfig, validated as every other one. Pure: no TensorFlow, no TFMA import
(google.protobuf.json_format only, lazily, to turn a message into a dict).

Everything of TFMA's that tfx-edge cannot do the same way is refused by name when the config is
built (a ConfigError naming the TFMA field path, the value and the fix), never ignored:

  TFMA field                              tfx-edge
  model_specs (one candidate)             label_key -> label_feature, prediction_key -> output_name,
                                          example_weight_key -> example_weight_key,
                                          inference_batch_size -> batch_size, name (matched against
                                          metrics_specs[].model_names); signature_name only
                                          'serving_default', model_type only 'tf_lite'.
  model_specs (is_baseline)               ignored: the EdgeEvaluator's baseline is the float32 TFLite
                                          reference exported with the quantized model (at most one).
  preprocessing_function_names,           refused (wire Transform's transformed_examples as the
  label_keys / prediction_keys /          EdgeEvaluator's examples instead; multi-output models are
  example_weight_keys, padding_options    not supported yet; ragged labels are not supported).
  metrics_specs[].metrics[]               class_name -> metric name (table _CLASSES below), config
                                          JSON checked key by key; a metric without a threshold is
                                          computed and reported anyway (tfx-edge computes its whole
                                          metric set); thresholded ones become Thresholds entries.
  metrics_specs[].output_names (one)      output_name (must agree with prediction_key).
  metrics_specs[].thresholds /            refused: TFMA 0.52 matches them only to the model's in-graph
  per_slice_thresholds (maps)             metrics (never to a MetricConfig's: 'Metric not found');
                                          set MetricConfig.threshold / per_slice_thresholds instead.
  metrics_specs[].example_weights         accepted where the weighting is what tfx-edge computes.
  binarize, aggregate, query_key,         refused (not supported yet).
  output_weights, cross_slice_thresholds,
  cross_slicing_specs
  value_threshold {lower_bound,           lower_bound / upper_bound (same inclusive comparisons).
  upper_bound}
  change_threshold {direction, absolute,  max_absolute_drop / max_relative_drop against the float32
  relative}                               reference (conversion in `_change_limits`).
  slicing_specs                           {} is the overall slice (required when slicing_specs is
                                          set: tfx-edge always gates the whole split);
                                          feature_keys [f] and feature_values {f: v} -> slice_features
                                          (one feature per spec; crosses and slice_keys_sql refused).
  MetricConfig.threshold                  TFMA applies it to every slice it computes, so it gates
                                          the overall slice and each slicing_specs slice
                                          (SliceThreshold value None for feature_keys, the value for
                                          feature_values).
  per_slice_thresholds                    SliceThreshold(feature, value, metrics); the slice must be
                                          one slicing_specs computes (else TFMA fails it as missing).
  options.min_slice_size                  SliceThreshold.min_examples of every slice threshold.
  options.compute_confidence_intervals    refused when true; confidence_intervals.method accepted
                                          (TFMA reads it only when intervals are computed).
  options.include_default_metrics         accepted either way: tfx-edge computes its own metric set
                                          and never reads the model's compiled metrics.
  options.disabled_outputs                refused (tfx-edge always writes its evaluation outputs).

output_kind: TFMA's binary metrics (AUC, Precision, Calibration, ...) and the cross-entropies read
the prediction as a probability, so output_kind is 'probabilities' whenever a configured metric
needs an output kind (metric_table `needs_output_kind`); 'logits' when the cross-entropy metrics
say from_logits=true. Pass output_kind=... to say otherwise.

The other EvaluationConfig fields (split, latency, guards, input_mapping, ...) keep their defaults;
`from_tfma(eval_config, split='eval', output_kind='logits', budgets=Budgets(...))` sets them
(`budgets` is Thresholds.budgets). A keyword that disagrees with what the EvalConfig says is refused.

Known differences that remain (tfx-edge is stricter or reports instead of failing):
  * slices: examples without the slice feature form a "<feature>=<missing>" slice, which value-None
    slice thresholds gate too (TFMA has no such slice).
  * min_slice_size: a slice smaller than it is reported and not gated (SliceThreshold value None);
    TFMA's validator fails such a slice ("Metric not found"). A slice named by value must have
    min_slice_size examples in both.
  * a relative change threshold against a reference whose value is exactly 0: TFMA fails it (its
    ratio is NaN); tfx-edge's relative drop is then 0 when the model is no worse, else infinite.
"""

from __future__ import annotations

import dataclasses
import json
import typing
from typing import Any, Callable, Mapping, NoReturn

from tfx_edge.schemas import _strict, metric_table
from tfx_edge.schemas._strict import ConfigError
from tfx_edge.schemas.evaluation import Budgets, EvaluationConfig, MetricThreshold, SliceThreshold, Thresholds
from tfx_edge.schemas.metric_table import HIGHER, Task

EVAL_CONFIG = "tensorflow_model_analysis.EvalConfig"
METRIC_THRESHOLD = "tensorflow_model_analysis.MetricThreshold"
# The top-level keys that tell an EvalConfig's dict form from a native EvaluationConfig dict.
EVAL_CONFIG_KEYS = frozenset({"modelSpecs", "model_specs", "metricsSpecs", "metrics_specs",
                              "slicingSpecs", "slicing_specs"})


def _refuse(field: str, value: Any, fix: str) -> NoReturn:
    """_strict.fail: a ConfigError naming the field, the value and the fix."""
    _strict.fail(field, value, fix)
    raise AssertionError("unreachable")


def is_message(value: Any, full_name: str) -> bool:
    """Whether `value` is a protobuf message of type `full_name` (no protobuf import needed)."""
    return getattr(getattr(value, "DESCRIPTOR", None), "full_name", None) == full_name


def is_eval_config_dict(data: Any) -> bool:
    return isinstance(data, Mapping) and any(key in data for key in EVAL_CONFIG_KEYS)


# --- the proto schema of TFMA 0.52's config.proto (tests check it against config_pb2) --------------

@dataclasses.dataclass(frozen=True)
class _Field:
    type: str                # a scalar ("string", "bool", "int32", "int64", "float", "double"), a
    #                          wrapper ("DoubleValue", "Int32Value", "BoolValue"), an enum or a message
    label: str = "single"    # "single" | "repeated" | "map" (string keys in the dict form)
    oneof: bool = False      # a oneof member: present even at its default value


def _rep(type_: str) -> _Field:
    return _Field(type_, "repeated")


def _map(type_: str) -> _Field:
    return _Field(type_, "map")


_ENUMS = {
    "MetricDirection": ("UNKNOWN", "LOWER_IS_BETTER", "HIGHER_IS_BETTER"),
    "ConfidenceIntervalOptions.ConfidenceIntervalMethod": (
        "UNKNOWN_CONFIDENCE_INTERVAL_METHOD", "POISSON_BOOTSTRAP", "JACKKNIFE"),
}
_WRAPPERS = {"DoubleValue": "double", "Int32Value": "int32", "BoolValue": "bool"}
_S, _B, _F = _Field("string"), _Field("bool"), _Field("float")

MESSAGES: dict[str, dict[str, _Field]] = {
    "EvalConfig": {"model_specs": _rep("ModelSpec"), "slicing_specs": _rep("SlicingSpec"),
                   "cross_slicing_specs": _rep("CrossSlicingSpec"), "metrics_specs": _rep("MetricsSpec"),
                   "options": _Field("Options")},
    "ModelSpec": {"name": _S, "model_type": _S, "signature_name": _S, "preprocessing_function_names": _rep("string"),
                  "label_key": _S, "label_keys": _map("string"), "prediction_key": _S,
                  "prediction_keys": _map("string"), "example_weight_key": _S, "example_weight_keys": _map("string"),
                  "is_baseline": _B, "padding_options": _Field("PaddingOptions"),
                  "inference_batch_size": _Field("int32")},
    "PaddingOptions": {"label_int_padding": _Field("int64", oneof=True),
                       "label_float_padding": _Field("float", oneof=True),
                       "prediction_int_padding": _Field("int64", oneof=True),
                       "prediction_float_padding": _Field("float", oneof=True)},
    "SlicingSpec": {"feature_keys": _rep("string"), "feature_values": _map("string"), "slice_keys_sql": _S},
    "CrossSlicingSpec": {"baseline_spec": _Field("SlicingSpec"), "slicing_specs": _rep("SlicingSpec")},
    "MetricsSpec": {"metrics": _rep("MetricConfig"), "model_names": _rep("string"), "output_names": _rep("string"),
                    "output_weights": _map("float"), "binarize": _Field("BinarizationOptions"),
                    "aggregate": _Field("AggregationOptions"), "example_weights": _Field("ExampleWeightOptions"),
                    "query_key": _S, "thresholds": _map("MetricThreshold"),
                    "per_slice_thresholds": _map("PerSliceMetricThresholds"),
                    "cross_slice_thresholds": _map("CrossSliceMetricThresholds")},
    "MetricConfig": {"class_name": _S, "module": _S, "config": _S, "threshold": _Field("MetricThreshold"),
                     "per_slice_thresholds": _rep("PerSliceMetricThreshold"),
                     "cross_slice_thresholds": _rep("CrossSliceMetricThreshold")},
    "MetricThreshold": {"value_threshold": _Field("GenericValueThreshold", oneof=True),
                        "change_threshold": _Field("GenericChangeThreshold", oneof=True)},
    "GenericValueThreshold": {"lower_bound": _Field("DoubleValue"), "upper_bound": _Field("DoubleValue")},
    "GenericChangeThreshold": {"absolute": _Field("DoubleValue"), "relative": _Field("DoubleValue"),
                               "direction": _Field("MetricDirection")},
    "PerSliceMetricThreshold": {"slicing_specs": _rep("SlicingSpec"), "threshold": _Field("MetricThreshold")},
    "PerSliceMetricThresholds": {"thresholds": _rep("PerSliceMetricThreshold")},
    "CrossSliceMetricThreshold": {"cross_slicing_specs": _rep("CrossSlicingSpec"),
                                  "threshold": _Field("MetricThreshold")},
    "CrossSliceMetricThresholds": {"thresholds": _rep("CrossSliceMetricThreshold")},
    "BinarizationOptions": {"class_ids": _Field("RepeatedInt32Value"), "k_list": _Field("RepeatedInt32Value"),
                            "top_k_list": _Field("RepeatedInt32Value")},
    "RepeatedInt32Value": {"values": _rep("int32")},
    "RepeatedStringValue": {"values": _rep("string")},
    "AggregationOptions": {"micro_average": _Field("bool", oneof=True), "macro_average": _Field("bool", oneof=True),
                           "weighted_macro_average": _Field("bool", oneof=True), "class_weights": _map("float"),
                           "top_k_list": _Field("RepeatedInt32Value")},
    "ExampleWeightOptions": {"weighted": _B, "unweighted": _B},
    "Options": {"include_default_metrics": _Field("BoolValue"), "compute_confidence_intervals": _Field("BoolValue"),
                "confidence_intervals": _Field("ConfidenceIntervalOptions"),
                "min_slice_size": _Field("Int32Value"), "disabled_outputs": _Field("RepeatedStringValue")},
    "ConfidenceIntervalOptions": {"method": _Field("ConfidenceIntervalOptions.ConfidenceIntervalMethod")},
}

_UNSET = object()
_DEFAULTS: dict[str, Any] = {"string": "", "bool": False, "int32": 0, "int64": 0, "float": 0.0, "double": 0.0}


def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part[:1].upper() + part[1:] for part in rest)


def _join(path: str, name: str) -> str:
    return f"{path}.{name}" if path else name


def _normalize(data: Any, message: str, path: str) -> dict[str, Any]:
    """The dict form of a TFMA message with snake_case keys, typed values and proto3 defaults left
    out (scalars at their default are absent, as in the proto; messages and wrappers keep presence).
    Unknown keys are refused, so a misspelled field is never dropped."""
    if not isinstance(data, Mapping):
        _refuse(path or message, data, f"expected a mapping (the dict form of tfma.{message})")
    fields = MESSAGES[message]
    camel = {_camel(name): name for name in fields}
    out: dict[str, Any] = {}
    for key, value in data.items():
        name = key if isinstance(key, str) and key in fields else camel.get(str(key))
        if name is None:
            _refuse(_join(path, str(key)), value, f"not a field of tfma.{message.split('.')[-1]}; its fields are "
                    f"{', '.join(fields)} (snake_case or camelCase)")
        if name in out:
            _refuse(_join(path, name), value, "given twice (in camelCase and in snake_case); keep one")
        converted = _value(fields[name], value, _join(path, name))
        if converted is not _UNSET:
            out[name] = converted
    return out


def _value(field: _Field, value: Any, path: str) -> Any:
    if value is None:
        return _UNSET
    if field.label == "map":
        if not isinstance(value, Mapping):
            _refuse(path, value, "expected a mapping")
        items = {str(k): _single(field.type, v, f"{path}[{k!r}]") for k, v in value.items()}
        return items or _UNSET
    if field.label == "repeated":
        if not isinstance(value, (list, tuple)):
            _refuse(path, value, "expected a list")
        return [_single(field.type, v, f"{path}[{i}]") for i, v in enumerate(value)] or _UNSET
    converted = _single(field.type, value, path)
    if not field.oneof and (field.type in _DEFAULTS and converted == _DEFAULTS[field.type]
                            or field.type in _ENUMS and converted == _ENUMS[field.type][0]):
        return _UNSET
    return converted


def _single(type_: str, value: Any, path: str) -> Any:
    if type_ in MESSAGES:
        return _normalize(value, type_, path)
    if type_ in _WRAPPERS:     # google.protobuf.DoubleValue & co: a bare value (JSON) or {"value": x}
        if isinstance(value, Mapping):
            if set(value) - {"value"}:
                _refuse(path, value, f"a {type_} is a number or {{'value': x}}")
            value = value.get("value", _DEFAULTS[_WRAPPERS[type_]])
        return _scalar(_WRAPPERS[type_], value, path)
    if type_ in _ENUMS:
        names = _ENUMS[type_]
        if isinstance(value, int) and not isinstance(value, bool) and 0 <= value < len(names):
            return names[value]
        if value not in names:
            _refuse(path, value, f"use one of {', '.join(names)}")
        return value
    return _scalar(type_, value, path)


def _scalar(type_: str, value: Any, path: str) -> Any:
    if type_ == "string":
        if not isinstance(value, str):
            _refuse(path, value, "expected a string")
        return value
    if type_ == "bool":
        if not isinstance(value, bool):
            _refuse(path, value, "expected true or false")
        return value
    if type_ in ("int32", "int64"):
        if type_ == "int64" and isinstance(value, str) and value.lstrip("-").isdigit():   # int64 in JSON
            return int(value)
        if isinstance(value, float) and value.is_integer():
            return int(value)
        if not isinstance(value, int) or isinstance(value, bool):
            _refuse(path, value, "expected an integer")
        return value
    if isinstance(value, str) and value in ("Infinity", "-Infinity", "NaN"):   # proto JSON of non-finite doubles
        return float(value.replace("Infinity", "inf"))
    if not isinstance(value, (int, float)) or isinstance(value, bool):
        _refuse(path, value, "expected a number")
    return float(value)


def _as_dict(config: Any, message: str) -> Mapping[str, Any]:
    """The dict form of a TFMA message, of its JSON text, or the dict itself."""
    if is_message(config, f"tensorflow_model_analysis.{message}"):
        from google.protobuf import json_format
        return json_format.MessageToDict(config, preserving_proto_field_name=True)
    if isinstance(config, str):
        try:
            loaded = json.loads(config)
        except json.JSONDecodeError as error:
            raise ConfigError(f"eval_config={config[:80]!r} is invalid: not JSON ({error}); pass a "
                              f"tfma.{message}, its MessageToDict dict or its JSON text") from None
        return loaded
    if isinstance(config, Mapping):
        return config
    raise ConfigError(f"eval_config={config!r} is invalid: pass a tfma.{message} "
                      f"(tensorflow_model_analysis.proto.config_pb2), its MessageToDict dict or its JSON text")


# --- the metrics: TFMA class name -> tfx-edge name ---------------------------------------------------

# A config key's check: returns a fix when the value is refused, else None.
_Check = Callable[[Any], "str | None"]


def _only(*allowed: Any, why: str) -> _Check:
    def check(value: Any) -> str | None:
        ok = any(value is a if a is None else value == a and not isinstance(value, bool) for a in allowed)
        return None if ok else f"{why} (accepted: {', '.join(json.dumps(a) for a in allowed)})"
    return check


def _null(why: str) -> _Check:
    return lambda value: None if value is None else why


def _boolean(value: Any) -> str | None:
    return None if isinstance(value, bool) else "expected true or false"


_NOT_BINARIZED = ("top-k / per-class binarization of a multi-class output is not supported yet: tfx-edge's "
                  "binary metrics are those of a binary output; remove it (per-class: precision_class_<i>, "
                  "recall_class_<i>; top-k accuracy: SparseTopKCategoricalAccuracy with k)")
_DTYPE = _only(None, "float32", why="TFMA computes float32 metrics only")
_CONFUSION = {"top_k": _null(_NOT_BINARIZED), "class_id": _null(_NOT_BINARIZED)}
_AUC = {**_CONFUSION,
        "summation_method": _only("interpolation", why="tfx-edge computes TFMA's default interpolated AUC"),
        "num_thresholds": _only(None, 10000, why="tfx-edge computes AUC over TFMA's default 10,000 buckets; "
                                "remove num_thresholds"),
        "thresholds": _null("tfx-edge computes AUC over TFMA's default 10,000 buckets; remove thresholds")}
_SMOOTHING = _only(0, 0.0, why="label smoothing is not supported: tfx-edge's loss is the plain cross-entropy")
_LOGITS = {"from_logits": _boolean}
_KERAS_LOSS = {"dtype": _DTYPE, **_LOGITS,
               "reduction": _only("auto", "sum_over_batch_size", why="tfx-edge averages over the examples")}


@dataclasses.dataclass(frozen=True)
class _Class:
    """What a TFMA metric class becomes: tfx-edge's name (the base name of a family), TFMA's default
    metric name, how its config reads, and the config keys accepted besides `name`."""

    ours: str
    tfma_name: str
    kind: str                      # plain | threshold (BinaryAccuracy) | thresholds | auc | top_k | loss
    keys: Mapping[str, _Check] = dataclasses.field(default_factory=dict)


# Cross-entropy -> `loss`: tfx-edge's loss (components/core/metrics.py `_cross_entropy`) is the mean
# over examples of -log p(label), p clipped below at 1e-7 as Keras clips it, from the probabilities or
# (output_kind 'logits') from log-softmax; a single-unit output is read as (1 - p, p). That is Keras's
# sparse and one-hot categorical cross-entropy, and Keras's and TFMA's binary cross-entropy of a binary
# output (differences below 1e-7 per example: Keras also clips at 1 - 1e-7; TFMA's own
# BinaryCrossEntropy / CategoricalCrossEntropy do not clip, so a probability of exactly 0 is infinite
# there). It is unweighted: with example_weight_key the EvaluationConfig refuses a loss threshold.
_CLASSES: dict[str, _Class] = {
    "SparseCategoricalAccuracy": _Class("accuracy", "sparse_categorical_accuracy", "plain", {"dtype": _DTYPE}),
    "CategoricalAccuracy": _Class("accuracy", "categorical_accuracy", "plain", {"dtype": _DTYPE}),
    "BinaryAccuracy": _Class("binary_accuracy", "binary_accuracy", "threshold", _CONFUSION),
    "AUC": _Class("auc", "auc", "auc", {**_AUC, "curve": _only("ROC", "PR", why="TFMA's curves")}),
    "AUCPrecisionRecall": _Class("auc_precision_recall", "auc_precision_recall", "auc", _AUC),
    "Precision": _Class("precision", "precision", "thresholds", _CONFUSION),
    "PPV": _Class("precision", "ppv", "thresholds", _CONFUSION),        # TFMA's alias of Precision
    "Recall": _Class("recall", "recall", "thresholds", _CONFUSION),
    "TPR": _Class("recall", "tpr", "thresholds", _CONFUSION),           # TFMA's alias of Recall
    "F1Score": _Class("f1_score", "f1_score", "thresholds", _CONFUSION),
    "Calibration": _Class("calibration", "calibration", "plain"),
    "MeanLabel": _Class("mean_label", "mean_label", "plain"),
    "MeanPrediction": _Class("mean_prediction", "mean_prediction", "plain"),
    "MeanSquaredError": _Class("mean_squared_error", "mean_squared_error", "plain"),
    "ExampleCount": _Class("example_count", "example_count", "plain"),
    "WeightedExampleCount": _Class("weighted_example_count", "weighted_example_count", "plain"),
    "SparseCategoricalCrossentropy": _Class("loss", "sparse_categorical_crossentropy", "loss", {
        **_KERAS_LOSS, "axis": _only(-1, why="the classes are on the last axis"),
        "ignore_class": _null("ignore_class is not supported: every example counts"),
        "fn": _only("sparse_categorical_crossentropy", why="Keras's function of this loss")}),
    "CategoricalCrossentropy": _Class("loss", "categorical_crossentropy", "loss", {
        **_KERAS_LOSS, "label_smoothing": _SMOOTHING, "axis": _only(-1, why="the classes are on the last axis"),
        "fn": _only("categorical_crossentropy", why="Keras's function of this loss")}),
    "BinaryCrossentropy": _Class("loss", "binary_crossentropy", "loss", {
        **_KERAS_LOSS, "label_smoothing": _SMOOTHING, "axis": _only(-1, why="the classes are on the last axis"),
        "fn": _only("binary_crossentropy", why="Keras's function of this loss")}),
    "BinaryCrossEntropy": _Class("loss", "binary_crossentropy", "loss", {**_LOGITS, "label_smoothing": _SMOOTHING}),
    "CategoricalCrossEntropy": _Class("loss", "categorical_crossentropy", "loss",
                                      {**_LOGITS, "label_smoothing": _SMOOTHING}),
    "MeanAbsoluteError": _Class("mae", "mean_absolute_error", "plain"),
    "RootMeanSquaredError": _Class("rmse", "root_mean_squared_error", "plain", {"dtype": _DTYPE}),
    "TopKCategoricalAccuracy": _Class("top_<k>_accuracy", "top_k_categorical_accuracy", "top_k", {"dtype": _DTYPE}),
    "SparseTopKCategoricalAccuracy": _Class("top_<k>_accuracy", "sparse_top_k_categorical_accuracy", "top_k",
                                            {"dtype": _DTYPE}),
}
_REGRESSION = frozenset({"mae", "rmse"})
# Computed for the whole split only (components/core/binary_scoring.py keeps the 10,000-bucket
# histogram for the overall slice): a threshold on them cannot apply to a slice.
_OVERALL_ONLY = frozenset({"auc", "auc_precision_recall"})
_PLOT = ("a plot, which tfx-edge does not compute (report.html draws its own confusion matrix and "
         "figures); remove it")
_UNSUPPORTED = {
    "ConfusionMatrixPlot": _PLOT, "CalibrationPlot": _PLOT, "MultiClassConfusionMatrixPlot": _PLOT,
    "MultiLabelConfusionMatrixPlot": _PLOT, "ScoreDistributionPlot": _PLOT,
    "Accuracy": ("Keras's Accuracy compares the raw prediction with the label for equality; use "
                 "SparseCategoricalAccuracy (the predicted class) or BinaryAccuracy (a binary output)"),
    "MeanSquaredLogarithmicError": "not computed; gate a regression on MeanAbsoluteError or RootMeanSquaredError",
    "MeanAbsolutePercentageError": "not computed; gate a regression on MeanAbsoluteError or RootMeanSquaredError",
}
_BUILTIN_MODULES = ("tf_keras.", "keras.", "tensorflow.", "tensorflow_model_analysis.")


@dataclasses.dataclass
class _Metric:
    path: str                    # metrics_specs[i].metrics[j]
    class_name: str
    tfma_name: str               # the name TFMA keys its value by (config `name` or TFMA's default)
    names: tuple[str, ...]       # tfx-edge's names (several for a list of thresholds)
    task: Task
    top_k: int | None = None
    binary_thresholds: tuple[float, ...] = ()
    from_logits: bool | None = None


def _metric(m: Mapping[str, Any], path: str) -> _Metric:
    class_name = m.get("class_name", "")
    if class_name not in _CLASSES:
        why = _UNSUPPORTED.get(class_name, "not a metric tfx-edge computes; supported: " + ", ".join(sorted(_CLASSES)))
        _refuse(f"{path}.class_name", class_name, why)
    cls = _CLASSES[class_name]
    module = m.get("module", "")
    if module and not module.startswith(_BUILTIN_MODULES):
        _refuse(f"{path}.module", module, f"a custom implementation of {class_name} is not supported: tfx-edge "
                f"computes its own {class_name}; remove module")
    config = _config(m.get("config", ""), f"{path}.config")
    reads = _READS.get(cls.kind, ())      # checked below, with the value they set
    for key, value in config.items():
        if key == "name" or key in reads:
            continue
        check = cls.keys.get(key)
        fix = check(value) if check else (f"not an option of {class_name} that tfx-edge maps (it maps "
                                          + ", ".join(["name", *reads, *sorted(cls.keys)]) + "); remove it")
        if fix:
            _refuse(f"{path}.config.{key}", value, fix)
    top_k: int | None = None
    thresholds: tuple[float, ...] = (0.5,)
    ours = cls.ours
    if cls.kind == "top_k":
        top_k = config.get("k", 5)     # Keras's default k
        if not isinstance(top_k, int) or isinstance(top_k, bool) or top_k < 1:
            _refuse(f"{path}.config.k", top_k, "use an integer k >= 1")
        ours = metric_table.expand(metric_table.TOP_K_ACCURACY, top_k)
    elif cls.kind == "auc" and config.get("curve") == "PR":
        ours = "auc_precision_recall"
    elif cls.kind in ("threshold", "thresholds"):
        thresholds = _thresholds(config, cls, path)
    names = tuple(ours if t == 0.5 else metric_table.at_threshold(ours, t) for t in thresholds)
    name = config.get("name", cls.tfma_name)
    if name != cls.tfma_name and (len(names) != 1 or name != names[0]):
        _refuse(f"{path}.config.name", name, f"use TFMA's default name {cls.tfma_name!r}"
                + (f" or tfx-edge's {names[0]!r}" if len(names) == 1 else "")
                + f": tfx-edge names this metric {' / '.join(map(repr, names))}")
    from_logits = config.get("from_logits") if cls.kind == "loss" else None
    task = Task.REGRESSION if cls.ours in _REGRESSION else Task.CLASSIFICATION
    return _Metric(path, class_name, name, names, task, top_k,
                   tuple(t for t in thresholds if t != 0.5), from_logits)


_READS = {"threshold": ("threshold",), "thresholds": ("thresholds",), "top_k": ("k",)}


def _config(text: str, path: str) -> dict[str, Any]:
    """MetricConfig.config as TFMA reads it (metric_specs._metric_config: JSON, braces optional)."""
    if not text:
        return {}
    try:
        config = json.loads(text if text[0] == "{" else "{" + text + "}")
    except json.JSONDecodeError as error:
        raise ConfigError(f"{path}={text!r} is invalid: not JSON as TFMA reads it ({error}); write e.g. "
                          f"'\"thresholds\": [0.3]'") from None
    if not isinstance(config, dict):
        _refuse(path, text, "expected a JSON object of the metric's arguments")
    return config


def _thresholds(config: Mapping[str, Any], cls: _Class, path: str) -> tuple[float, ...]:
    key = "threshold" if cls.kind == "threshold" else "thresholds"
    value = config.get(key)
    if value is None:
        return (0.5,)     # TFMA's default threshold
    values = value if isinstance(value, list) and cls.kind == "thresholds" else [value]
    if not values or any(not isinstance(t, (int, float)) or isinstance(t, bool) or not 0 <= t <= 1 for t in values):
        _refuse(f"{path}.config.{key}", value, "use thresholds in [0, 1]" + (", e.g. [0.3]" if key == "thresholds"
                                                                           else ", e.g. 0.3"))
    return tuple(dict.fromkeys(float(t) for t in values))


# --- thresholds ----------------------------------------------------------------------------------

def _change_limits(change: Mapping[str, Any], path: str, metric: str) -> dict[str, float]:
    """max_absolute_drop / max_relative_drop of a GenericChangeThreshold, exactly.

    TFMA 0.52 (evaluators/metrics_validator.py, validate_metrics._check_threshold) compares
    diff = candidate - baseline (evaluators/metrics_plots_and_validations_evaluator.py,
    add_diff_metrics), inclusively:
      HIGHER_IS_BETTER: passes iff diff >= absolute and diff / baseline >= relative
      LOWER_IS_BETTER:  passes iff diff <= absolute and diff / baseline <= relative
    (the ratio is NaN, so the check fails, when the baseline is exactly 0). tfx-edge's drop is how much
    worse the candidate is (components/core/metrics.py `drops`): baseline - candidate for HIGHER,
    candidate - baseline for LOWER, relative drop = drop / |baseline|, passing iff drop <= max (inclusive,
    components/core/gate.py). For HIGHER, diff >= a  <=>  -(diff) <= -a  <=>  drop <= -a, so
    max_absolute_drop = -a (TFX's taxi absolute -1e-10: the candidate may be 1e-10 worse). For LOWER,
    diff <= a  <=>  drop <= a, so max_absolute_drop = a. Relative: tfx-edge's metrics are >= 0, so a
    baseline is > 0 (or 0, above) and |baseline| = baseline: the same algebra gives max_relative_drop =
    -relative (HIGHER) or relative (LOWER). IEEE subtraction and division are sign-symmetric, so the two
    comparisons decide the same for every value, not only approximately (tests/test_tfma_config.py runs
    TFMA's validator against the gate). A threshold that asks the candidate to beat its reference (a
    negative limit) is refused: a drop limit is >= 0.
    """
    ours = metric_table.direction(metric)
    if metric_table.get(metric) is None:
        _refuse(path, metric, f"{metric!r} is not a tfx-edge metric name, so its direction is not known; key the "
                "threshold by tfx-edge's name (e.g. 'binary_accuracy' for TFMA's BinaryAccuracy, "
                "schemas/metric_table.py)")
    if ours is None:
        _refuse(path, dict(change), f"{metric!r} has no better side (a calibration, mean or count), so a change "
                "against the float32 reference means nothing; bound its value with value_threshold")
    direction = change.get("direction", "UNKNOWN")
    table = "HIGHER_IS_BETTER" if ours == HIGHER else "LOWER_IS_BETTER"
    if direction != table:
        _refuse(f"{path}.direction", direction, f"{metric!r} is {table} (schemas/metric_table.py); set direction "
                f"{table}" + ("" if direction == "UNKNOWN" else f", not {direction}"))
    if "absolute" not in change and "relative" not in change:
        _refuse(path, dict(change), "set absolute or relative: a change threshold with neither passes every model")
    out = {}
    for kind in ("absolute", "relative"):
        if kind in change:
            limit = (-change[kind] if ours == HIGHER else change[kind]) + 0.0   # + 0.0: no -0.0
            if limit < 0:
                _refuse(f"{path}.{kind}", change[kind], f"it asks the quantized model to beat its float32 reference "
                        f"by {abs(limit):g}; tfx-edge limits how much worse it may be: use "
                        + ("<= 0 for HIGHER_IS_BETTER (e.g. -0.01: at most 0.01 worse)" if ours == HIGHER else
                        ">= 0 for LOWER_IS_BETTER (e.g. 0.01: at most 0.01 worse)"))
            out[f"max_{kind}_drop"] = limit
    return out


def _limits(threshold: Mapping[str, Any], path: str, metric: str) -> dict[str, float]:
    """The MetricThreshold fields of a tfma.MetricThreshold (dict form) for tfx-edge's `metric`."""
    out: dict[str, float] = {}
    if "value_threshold" in threshold:
        value = threshold["value_threshold"]
        if not value:
            _refuse(f"{path}.value_threshold", value, "set lower_bound or upper_bound: an empty value threshold "
                    "passes every model")
        out.update({k: value[k] for k in ("lower_bound", "upper_bound") if k in value})
    if "change_threshold" in threshold:
        out.update(_change_limits(threshold["change_threshold"], f"{path}.change_threshold", metric))
    return out


def metric_threshold(threshold: Any, metric: str, path: str) -> MetricThreshold:
    """Our MetricThreshold for tfx-edge's metric `metric` from a tfma.MetricThreshold (the proto, or its
    dict form); what Thresholds / SliceThreshold do with a tfma.MetricThreshold given in their metrics."""
    limits = _limits(_normalize(_as_dict(threshold, "MetricThreshold"), "MetricThreshold", path), path, metric)
    if not limits:
        _refuse(path, threshold, "set value_threshold or change_threshold")
    return _threshold(limits)


def _threshold(limits: Mapping[str, float]) -> MetricThreshold:
    return MetricThreshold(max_absolute_drop=limits.get("max_absolute_drop"),
                           max_relative_drop=limits.get("max_relative_drop"),
                           lower_bound=limits.get("lower_bound"), upper_bound=limits.get("upper_bound"))


def native_thresholds(metrics: Any, path: str) -> Any:
    """`metrics` (a metric name -> threshold mapping) with every tfma.MetricThreshold proto in it converted;
    anything else is returned as it is (the strict field check then judges it)."""
    if not isinstance(metrics, Mapping) or not any(is_message(t, METRIC_THRESHOLD) for t in metrics.values()):
        return metrics
    return {name: metric_threshold(t, str(name), f"{path}[{name!r}]") if is_message(t, METRIC_THRESHOLD) else t
            for name, t in metrics.items()}


def _merge(a: dict[str, float], b: dict[str, float]) -> dict[str, float]:
    """Both thresholds at once (TFMA checks each; every check must pass): the tighter limit of each."""
    out = dict(a)
    for key, value in b.items():
        if key not in out:
            out[key] = value
        else:
            out[key] = max(out[key], value) if key == "lower_bound" else min(out[key], value)
    return out


# --- the EvalConfig ---------------------------------------------------------------------------------

@dataclasses.dataclass
class _Gate:
    limits: dict[str, float]
    paths: list[str]


class _Converter:
    def __init__(self) -> None:
        self.fields: dict[str, Any] = {}          # EvaluationConfig fields the EvalConfig sets
        self.origins: dict[str, str] = {}         # EvaluationConfig field path -> TFMA field path
        self.candidate_name = ""
        self.slices: list[tuple[str, str | None]] = []    # slicing_specs' slices (overall aside)
        self.min_examples = 1
        self.metrics: list[_Metric] = []
        # slice -> metric -> limits; None: the whole split, (feature, value or None: every value)
        self.gates: dict[tuple[str, str | None] | None, dict[str, _Gate]] = {}
        self.explicit_kind = False               # output_kind from the cross-entropies' from_logits

    def set(self, field: str, value: Any, origin: str) -> None:
        if field in self.fields and self.fields[field] != value:
            _refuse(origin, value, f"it disagrees with {self.origins[field]}={self.fields[field]!r}; tfx-edge "
                    f"evaluates one model output: make them equal")
        self.fields[field] = value
        self.origins.setdefault(field, origin)

    # model_specs
    def model_specs(self, specs: list[dict[str, Any]]) -> None:
        baselines = [i for i, s in enumerate(specs) if s.get("is_baseline")]
        candidates = [i for i, s in enumerate(specs) if not s.get("is_baseline")]
        if len(baselines) > 1:
            _refuse("model_specs", [specs[i].get("name", "") for i in baselines], "at most one baseline spec: the "
                    "EdgeEvaluator's baseline is the float32 TFLite reference exported with the quantized model")
        if specs and len(candidates) != 1:
            _refuse("model_specs", [s.get("name", "") for s in specs], "give exactly one candidate ModelSpec (without "
                    "is_baseline): the EdgeEvaluator gates one model, the quantized TFLite")
        if not candidates:
            return
        i = candidates[0]
        spec, path = specs[i], f"model_specs[{i}]"
        self.candidate_name = spec.get("name", "")
        for key, value in spec.items():
            where = f"{path}.{key}"
            if key == "label_key":
                self.set("label_feature", value, where)
            elif key == "prediction_key":
                self.set("output_name", value, where)
            elif key == "example_weight_key":
                self.set("example_weight_key", value, where)
            elif key == "inference_batch_size":
                if value < 1:
                    _refuse(where, value, "use a batch size >= 1")
                self.set("batch_size", value, where)
            elif key == "signature_name" and value != "serving_default":
                _refuse(where, value, "the EdgeEvaluator evaluates the TFLite model, converted from the signature "
                        "QuantizationConfig.signature_key names (default 'serving_default'); set signature_key="
                        f"{value!r} on the Quantizer and remove signature_name here")
            elif key == "model_type" and value != "tf_lite":
                _refuse(where, value, "the EdgeEvaluator evaluates the TFLite models (TFMA's 'tf_lite'), not the "
                        "Trainer's model; remove model_type")
            elif key == "preprocessing_function_names":
                _refuse(where, value, "the EdgeEvaluator runs no preprocessing function: wire Transform's "
                        "transformed_examples as the EdgeEvaluator's examples instead (QuantizationConfig."
                        "placement='transformed', label_key the transformed label), or keep the Transform in the "
                        ".tflite (placement='embedded') with a raw-feature label_key; then remove this field")
            elif key in ("label_keys", "prediction_keys", "example_weight_keys"):
                _refuse(where, value, f"multi-output models are not supported yet; for one output use "
                        f"{key[:-1]} (a single key)")
            elif key == "padding_options":
                _refuse(where, value, "padded (ragged) labels and predictions are not supported: tfx-edge reads "
                        "one label per example; remove padding_options")
            # name: matched against metrics_specs[].model_names; is_baseline: False here

    # slicing_specs
    def slicing_specs(self, specs: list[dict[str, Any]]) -> None:
        overall = not specs
        for i, spec in enumerate(specs):
            target = _slice(spec, f"slicing_specs[{i}]")
            if target is None:
                overall = True
            else:
                if target[0] not in self.fields.setdefault("slice_features", []):
                    self.fields["slice_features"].append(target[0])
                    self.origins.setdefault("slice_features", f"slicing_specs[{i}]")
                if target not in self.slices:
                    self.slices.append(target)
        if not overall:
            _refuse("slicing_specs", specs, "add an empty SlicingSpec() (the overall slice): tfx-edge always gates "
                    "the whole split, and TFMA computes (and gates) the overall slice only when slicing_specs "
                    "lists it")

    def computed(self, target: tuple[str, str | None]) -> bool:
        return target in self.slices or target[1] is not None and (target[0], None) in self.slices

    # options
    def options(self, options: dict[str, Any]) -> None:
        for key, value in options.items():
            where = f"options.{key}"
            if key == "compute_confidence_intervals" and value:
                _refuse(where, value, "confidence intervals are not supported yet (TFMA gates the point values "
                        "either way; tfx-edge reports its own paired 95% intervals of the drops, and "
                        "MetricThreshold.use_confidence_bound gates on them); remove it or set it to false")
            elif key == "min_slice_size":
                if value < 0:
                    _refuse(where, value, "use 1 or more")
                self.min_examples = max(1, value)
            elif key == "disabled_outputs" and value:
                _refuse(where, value, "tfx-edge always writes its outputs (metrics.json, report.txt, report.html, "
                        "the blessing); remove disabled_outputs")
            # include_default_metrics: tfx-edge computes its own metric set, never the model's compiled
            # metrics (the MetricsSpec.thresholds that could name those are refused below);
            # confidence_intervals.method: TFMA reads it only with compute_confidence_intervals.

    # metrics_specs
    def metrics_specs(self, specs: list[dict[str, Any]]) -> None:
        for i, spec in enumerate(specs):
            path = f"metrics_specs[{i}]"
            for key in ("binarize", "aggregate"):
                if spec.get(key):
                    _refuse(f"{path}.{key}", spec[key], "one-vs-rest binarization and averaging over classes are not "
                            "supported yet: tfx-edge's binary metrics are those of a binary output; remove it "
                            "(per-class figures: precision_class_<i> / recall_class_<i>, macro_precision)")
            if "query_key" in spec:
                _refuse(f"{path}.query_key", spec["query_key"], "query-based (ranking) metrics are not supported; "
                        "remove query_key")
            if "output_weights" in spec:
                _refuse(f"{path}.output_weights", spec["output_weights"], "multi-output models are not supported yet")
            if "cross_slice_thresholds" in spec:
                _refuse(f"{path}.cross_slice_thresholds", spec["cross_slice_thresholds"],
                        "crossed slices are not supported yet; remove the cross-slice thresholds")
            for key, instead in (("thresholds", "threshold"), ("per_slice_thresholds", "per_slice_thresholds")):
                # TFMA 0.52 keys these by name with example_weighted=None, and a MetricConfig's value with
                # example_weighted False or True (metric_specs.metric_thresholds_from_metrics_specs,
                # keys_and_metrics_from_specs): they only ever match metrics the model computes in-graph.
                if key in spec:
                    name = next(iter(spec[key]))
                    _refuse(f"{path}.{key}[{name!r}]", name, f"TFMA 0.52 matches MetricsSpec.{key} only to "
                            f"metrics the model computes itself, never to a MetricConfig's (it fails those as "
                            f"'Metric not found'), and tfx-edge never reads the model's own metrics: set the "
                            f"MetricConfig's {instead} instead")
            for name in spec.get("model_names", []):
                if name != self.candidate_name:
                    _refuse(f"{path}.model_names", spec["model_names"], f"name the candidate model_specs entry "
                            f"({self.candidate_name!r}) only, or remove model_names: tfx-edge gates one model "
                            f"against the float32 reference")
            outputs = spec.get("output_names", [])
            if len(outputs) > 1:
                _refuse(f"{path}.output_names", outputs, "multi-output models are not supported yet; name one output")
            if outputs:
                self.set("output_name", outputs[0], f"{path}.output_names")
            for j, m in enumerate(spec.get("metrics", [])):
                metric = _metric(m, f"{path}.metrics[{j}]")
                for c in m.get("cross_slice_thresholds", []):
                    _refuse(f"{metric.path}.cross_slice_thresholds", c, "crossed slices are not supported yet; "
                            "remove the cross-slice thresholds")
                self.metrics.append(metric)
        self.check_names()
        for i, spec in enumerate(specs):
            path = f"metrics_specs[{i}]"
            for j, m in enumerate(spec.get("metrics", [])):
                metric = next(x for x in self.metrics if x.path == f"{path}.metrics[{j}]")
                if "threshold" in m:
                    self.everywhere(metric, m["threshold"], f"{metric.path}.threshold")
                for k, per_slice in enumerate(m.get("per_slice_thresholds", [])):
                    self.per_slice(metric, per_slice, f"{metric.path}.per_slice_thresholds[{k}]")
            # A spec without thresholds is only reported (TFMA's specs_from_metrics adds an unweighted
            # ExampleCount spec to every config): its weighting decides no gate.
            if "example_weights" in spec and self.spec_gated(path):
                self.check_weighting(path, spec["example_weights"])

    def spec_gated(self, path: str) -> bool:
        return any(p.startswith(path + ".") for gates in self.gates.values() for g in gates.values() for p in g.paths)

    def check_weighting(self, path: str, options: Mapping[str, Any]) -> None:
        """TFMA computes the thresholded metrics weighted or unweighted as example_weights says; tfx-edge
        weighs them exactly when example_weight_key is set (without one, both are the same)."""
        chosen = [key for key in ("weighted", "unweighted") if options.get(key)]
        weighted = "example_weight_key" in self.fields
        if not chosen or weighted and "unweighted" in chosen:
            _refuse(f"{path}.example_weights", dict(options), "tfx-edge computes the metrics weighted by "
                    "example_weight_key when it is set (else unweighted); with thresholds here, set "
                    + ("{weighted: true} or remove example_weights" if weighted else "weighted or unweighted"))

    def check_names(self) -> None:
        """TFMA keys a metric's value by its name: two metrics of one name that tfx-edge tells apart (e.g.
        precision at two thresholds) would be one value there."""
        by_name: dict[str, _Metric] = {}
        for metric in self.metrics:
            other = by_name.setdefault(metric.tfma_name, metric)
            if other.names != metric.names:
                _refuse(f"{metric.path}.config.name", metric.tfma_name, f"{other.path} is named "
                        f"{metric.tfma_name!r} too and TFMA keys metrics by name; name this one "
                        f"{metric.names[0]!r} (tfx-edge's name for it)")

    def limits(self, metric: _Metric, threshold: Mapping[str, Any], path: str) -> tuple[str, dict[str, float]]:
        name = metric.names[-1]
        limits = _limits(threshold, path, name)
        if limits and len(metric.names) != 1:
            _refuse(path, dict(threshold), f"{metric.class_name} with several thresholds gives TFMA an array, "
                    f"which its validator cannot check; gate one threshold per MetricConfig, named e.g. "
                    f"{metric.names[-1]!r}")
        if limits:
            try:
                _threshold(limits).validate(path, name)
            except ConfigError as error:
                raise ConfigError(f"{path} is tfx-edge's MetricThreshold({_kwargs(limits)}) on {name!r} "
                                  f"({metric.class_name}), refused: {error}") from None
        return name, limits

    def everywhere(self, metric: _Metric, threshold: Mapping[str, Any], path: str) -> None:
        """A threshold without a slice: TFMA checks it on every slice it computes (the overall slice and
        each slicing_specs slice)."""
        name, limits = self.limits(metric, threshold, path)
        if not limits:
            return
        for target in [None, *self.slices]:
            if target is not None and name in _OVERALL_ONLY:
                _refuse(path, dict(threshold), f"TFMA applies this threshold to every slice of slicing_specs, but "
                        f"tfx-edge computes {name!r} for the whole split only; gate it on the overall slice: move it "
                        f"to per_slice_thresholds with slicing_specs [{{}}]")
            self.add(target, name, limits, path)

    def per_slice(self, metric: _Metric, per_slice: Mapping[str, Any], path: str) -> None:
        specs = per_slice.get("slicing_specs", [])
        if not specs:
            _refuse(f"{path}.slicing_specs", [], "name the slices it applies to (a per-slice threshold without "
                    "slicing_specs applies to none)")
        name, limits = self.limits(metric, per_slice.get("threshold", {}), f"{path}.threshold")
        if not limits:
            _refuse(f"{path}.threshold", per_slice.get("threshold"), "set value_threshold or change_threshold")
        for k, spec in enumerate(specs):
            where = f"{path}.slicing_specs[{k}]"
            target = _slice(spec, where)
            if target is not None and not self.computed(target):
                _refuse(where, spec, "TFMA computes no such slice (slicing_specs does not list it), so it fails "
                        "this threshold as a missing slice; add " + (f"SlicingSpec(feature_keys=[{target[0]!r}])"
                                                                  f" to slicing_specs"))
            if target is not None and name in _OVERALL_ONLY:
                _refuse(where, spec, f"tfx-edge computes {name!r} for the whole split only; gate this slice on "
                        "another metric (binary_accuracy, precision, recall, ...) or gate the overall slice")
            self.add(target, name, limits, f"{path}.threshold")

    def add(self, target: Any, name: str, limits: dict[str, float], path: str) -> None:
        gates = self.gates.setdefault(target, {})
        if name in gates:
            gates[name] = _Gate(_merge(gates[name].limits, limits), gates[name].paths + [path])
        else:
            gates[name] = _Gate(limits, [path])

    def derive(self) -> None:
        """task, output_kind, top_k and binary_thresholds from the configured metrics."""
        if not self.gates:
            _refuse("metrics_specs", [m.class_name for m in self.metrics], "give at least one metric a threshold "
                    "(MetricConfig.threshold with a value_threshold or change_threshold): a gate without a "
                    "quality threshold would bless any model")
        if None not in self.gates:
            _refuse("metrics_specs", [m.class_name for m in self.metrics], "tfx-edge gates the whole split: give a "
                    "metric a threshold on the overall slice (MetricConfig.threshold, or per_slice_thresholds with "
                    "slicing_specs [{}])")
        tasks = {m.task for m in self.metrics}
        if len(tasks) > 1:
            r = next(m for m in self.metrics if m.task == Task.REGRESSION)
            c = next(m for m in self.metrics if m.task == Task.CLASSIFICATION)
            _refuse(f"{c.path}.class_name", c.class_name, f"{c.class_name} is a classification metric and "
                    f"{r.class_name} ({r.path}) a regression one; tfx-edge evaluates one task per config")
        task = tasks.pop() if tasks else Task.CLASSIFICATION
        self.set("task", task, self.metrics[0].path if self.metrics else "metrics_specs")
        for metric in self.metrics:
            for name in metric.names:
                entry = metric_table.get(name)
                if entry is not None and task not in entry.tasks:
                    _refuse(f"{metric.path}.class_name", metric.class_name, f"tfx-edge computes {name!r} for "
                            f"classification only" + ("; gate a regression on RootMeanSquaredError (rmse, the "
                                                   "square root of the MSE)" if name == "mean_squared_error" else ""))
            if metric.top_k is not None:
                self.fields.setdefault("top_k", [])
                if metric.top_k not in self.fields["top_k"]:
                    self.fields["top_k"].append(metric.top_k)
                self.origins.setdefault("top_k", metric.path)
            for t in metric.binary_thresholds:
                self.fields.setdefault("binary_thresholds", [])
                if t not in self.fields["binary_thresholds"]:
                    self.fields["binary_thresholds"].append(t)
                self.origins.setdefault("binary_thresholds", metric.path)
        logits = {m.from_logits: m for m in self.metrics if m.from_logits is not None}
        if len(logits) > 1:
            _refuse(f"{logits[True].path}.config.from_logits", True, f"{logits[False].path} says from_logits=false; "
                    "the model has one output kind")
        needs = any((e := metric_table.get(n)) is not None and e.needs_output_kind
                    for m in self.metrics for n in m.names)
        if task == Task.CLASSIFICATION and (needs or logits):
            self.fields["output_kind"] = "logits" if True in logits else "probabilities"
            self.explicit_kind = bool(logits)
            self.origins["output_kind"] = (f"{next(iter(logits.values())).path}.config.from_logits" if logits
                                           else "the TFMA metrics, which read probabilities")
        for key in ("top_k", "binary_thresholds", "slice_features"):
            if key in self.fields:
                self.fields[key] = tuple(sorted(self.fields[key]) if key != "slice_features" else self.fields[key])

    def thresholds(self, budgets: Budgets) -> Thresholds:
        overall = {name: _threshold(g.limits) for name, g in self.gates[None].items()}
        slices: list[SliceThreshold] = []
        for target, gates in self.gates.items():
            if target is None:
                continue
            feature, value = target
            self.origins[f"thresholds.slices[{len(slices)}]"] = " / ".join(
                dict.fromkeys(p for g in gates.values() for p in g.paths))
            slices.append(SliceThreshold(feature=feature, value=value, min_examples=self.min_examples,
                                         metrics={name: _threshold(g.limits) for name, g in gates.items()}))
        for name, g in self.gates[None].items():
            self.origins[f"thresholds.metrics[{name!r}]"] = " / ".join(dict.fromkeys(g.paths))
        return Thresholds(metrics=overall, slices=tuple(slices), budgets=budgets)


def _kwargs(limits: Mapping[str, float]) -> str:
    return ", ".join(f"{k}={v!r}" for k, v in limits.items())


def _slice(spec: Mapping[str, Any], path: str) -> tuple[str, str | None] | None:
    """The slice of a SlicingSpec: None (overall), (feature, None) or (feature, value)."""
    if "slice_keys_sql" in spec:
        _refuse(f"{path}.slice_keys_sql", spec["slice_keys_sql"], "SQL slices are not supported; slice by one "
                "feature: feature_keys=['f'] or feature_values={'f': 'v'}")
    keys, values = spec.get("feature_keys", []), spec.get("feature_values", {})
    if len(keys) + len(values) > 1 or len(set(keys)) != len(keys):
        _refuse(path, dict(spec), "crossed slices are not supported yet; slice by one feature per SlicingSpec")
    if keys:
        return keys[0], None
    if values:
        feature, value = next(iter(values.items()))
        return feature, value
    return None


# EvaluationConfig fields from_tfma sets from the EvalConfig: a keyword may repeat them, not contradict
# them; the tuples may be extended (more slices, k or thresholds reported; the gates stay the EvalConfig's).
_DERIVED = ("task", "label_feature", "output_name", "example_weight_key", "batch_size")
_EXTENSIBLE = ("top_k", "slice_features", "binary_thresholds")


def from_tfma(eval_config: Any, **overrides: Any) -> EvaluationConfig:
    """The EdgeEvaluator's EvaluationConfig from a tfma.EvalConfig (see the module docstring for the
    mapping): a `tensorflow_model_analysis.proto.config_pb2.EvalConfig`, its MessageToDict form
    (camelCase, or snake_case with preserving_proto_field_name=True) or its JSON text.

    The baseline is the float32 TFLite reference exported with the quantized model: a model spec with
    is_baseline is ignored, and change thresholds apply against that reference. Metrics without a
    threshold are computed and reported anyway (tfx-edge computes its whole metric set); the
    thresholded ones gate. output_kind is 'probabilities' (TFMA reads predictions as probabilities)
    when a configured metric needs one, 'logits' when the cross-entropies say from_logits.

    overrides: EvaluationConfig fields (split='eval', output_kind='logits', latency=..., ...) and
    `budgets` (Thresholds.budgets). `thresholds` comes from the EvalConfig; a field the EvalConfig
    sets (label_feature, output_name, ...) may only be repeated with the same value.
    """
    data = _normalize(_as_dict(eval_config, "EvalConfig"), "EvalConfig", "")
    convert = _Converter()
    convert.model_specs(data.get("model_specs", []))
    convert.slicing_specs(data.get("slicing_specs", []))
    if "cross_slicing_specs" in data:
        _refuse("cross_slicing_specs", data["cross_slicing_specs"], "crossed slices are not supported yet; remove "
                "cross_slicing_specs")
    convert.options(data.get("options", {}))
    convert.metrics_specs(data.get("metrics_specs", []))
    convert.derive()
    return _build(convert, overrides)


def _build(convert: _Converter, overrides: dict[str, Any]) -> EvaluationConfig:
    hints = typing.get_type_hints(EvaluationConfig)
    budgets = _strict._coerce(Budgets, overrides.pop("budgets", Budgets()), "budgets")
    kwargs = dict(convert.fields)
    for name, value in overrides.items():
        if name == "thresholds":
            _refuse(name, value, "the thresholds come from the EvalConfig's metrics_specs; pass budgets=Budgets(...) "
                    "for size and latency budgets")
        if name not in hints:
            _refuse(name, value, "not an EvaluationConfig field; use one of " + ", ".join(sorted(hints)) + ", budgets")
        value = _strict._coerce(hints[name], value, name)
        if name in kwargs and (name in _DERIVED or name == "output_kind" and convert.explicit_kind):
            if _plain(value) != _plain(kwargs[name]):
                _refuse(name, _plain(value), f"the EvalConfig sets it to {_plain(kwargs[name])!r} "
                        f"({convert.origins[name]}); change it there or drop this argument")
        if name in _EXTENSIBLE and name in kwargs and not set(kwargs[name]) <= set(value):
            _refuse(name, value, f"the EvalConfig sets {tuple(kwargs[name])!r} ({convert.origins[name]}); keep "
                    f"those values (more may be added)")
        kwargs[name] = value
    try:
        return EvaluationConfig(thresholds=convert.thresholds(budgets), **kwargs)
    except ConfigError as error:
        field = str(error).split("=", 1)[0]
        origin = next((o for p, o in sorted(convert.origins.items(), key=lambda kv: -len(kv[0]))
                       if field.startswith(p)), None)
        raise ConfigError(f"{error} [converted from the TFMA EvalConfig" + (f": {origin}]" if origin else "]")
                          ) from None


def _plain(value: Any) -> Any:
    return getattr(value, "value", value)


__all__ = ["EVAL_CONFIG", "METRIC_THRESHOLD", "from_tfma", "is_eval_config_dict", "is_message",
           "metric_threshold", "native_thresholds"]
