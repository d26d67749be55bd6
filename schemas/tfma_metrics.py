"""TFMA metric classes as tfx-edge metrics: `_CLASSES` (class name -> tfx-edge name and the config
keys accepted) and `_metric`, which reads one MetricConfig (class_name, module, config JSON checked
key by key) into a `_Metric`. Pure: no TensorFlow, no TFMA import.
"""

from __future__ import annotations

import dataclasses
import json
from typing import Any, Callable, Mapping

from tfx_edge.schemas import metric_table
from tfx_edge.schemas._strict import ConfigError
from tfx_edge.schemas.metric_table import Task
from tfx_edge.schemas.tfma_proto import _refuse

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


_NOT_BINARIZED = ("a metric's own top_k / class_id is not supported: binarize the MetricsSpec instead "
                  "(MetricsSpec.binarize.class_ids, e.g. {values: [3]}: the metric of each class against the rest); "
                  "top-k accuracy: SparseTopKCategoricalAccuracy with k")
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
    gated: tuple[str, ...] = ()  # a binarized spec's: the names its thresholds gate (tfma_binarize.gated_names)

    @property
    def gates(self) -> tuple[str, ...]:
        return self.gated or self.names[-1:]


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
