"""TFMA 0.52's binary-classification metric values from summed binary_stats statistics.

Pure numpy. Every formula is TFMA's, step for step, so that the values equal stock TFMA:
- `matrices_plan` picks the statistic and thresholds as ConfusionMatrixMetricBase and
  binary_confusion_matrices do (num_thresholds -> Histogram(10000) and the interpolated grid
  with -ε / 1+ε fences; explicit thresholds -> exact counts; top_k's [-inf] -> Histogram(1));
- `matrices` re-bins a histogram like calibration_histogram.rebin (+ε shift, fences) and
  accumulates it like _histogram_to_binary_confusion_matrices;
- `auc` is AUC._metric_value (ROC / PR; interpolation, minoring, majoring);
- `confusion_metric` applies ConfusionMatrixMetric.result per threshold with
  _divide_only_positive_denominator (NaN for a denominator <= 0);
- Calibration, MeanLabel, MeanPrediction (NaN when np.isclose(denominator, 0), atol 1e-8),
  MeanSquaredError (NaN when no weight), ExampleCount / WeightedExampleCount;
- `macro_average` / `weighted_macro_average` are aggregation.py's.
"""

from __future__ import annotations

import math
from typing import Callable, Mapping, NamedTuple, Sequence

import numpy as np

from tfx_edge.components.core.binary_stats import DEFAULT_NUM_BUCKETS, Histogram, Thresholds

EPSILON = 1e-7                  # binary_confusion_matrices._EPSILON
_KERAS_DEFAULT_NUM_THRESHOLDS = 200


class Matrices(NamedTuple):
    """binary_confusion_matrices.Matrices: counts per threshold (float64 arrays)."""

    thresholds: tuple
    tp: np.ndarray
    tn: np.ndarray
    fp: np.ndarray
    fn: np.ndarray


def interpolated_thresholds(num_thresholds: int) -> list[float]:
    """binary_confusion_matrices._interpolated_thresholds (Keras AUC's grid)."""
    inner = [(i + 1) * 1.0 / (num_thresholds - 1) for i in range(num_thresholds - 2)]
    return [-EPSILON] + inner + [1.0 + EPSILON]


def matrices_plan(thresholds=None, num_thresholds: int | None = None, top_k: int | None = None,
                  default_threshold: float | None = None):
    """(statistic spec, thresholds) that TFMA uses for a confusion-matrix metric.

    default_threshold: 0.5 for Precision, Recall, BinaryAccuracy, F1Score, ... (TFMA's
    ConfusionMatrixMetric), None for AUC / AUCPrecisionRecall (-> num_thresholds 10000).
    top_k: the metric's (or binarize's) top_k; its default thresholds are [-inf].
    """
    if num_thresholds is None and thresholds is None:
        if top_k:
            thresholds = [float("-inf")]
        elif default_threshold is not None:
            thresholds = [default_threshold]
    if thresholds is not None:
        thresholds = [float(t) for t in np.atleast_1d(thresholds)]
        if not num_thresholds and thresholds == interpolated_thresholds(len(thresholds)):
            num_thresholds, thresholds = len(thresholds), None
        elif (num_thresholds in (DEFAULT_NUM_BUCKETS, _KERAS_DEFAULT_NUM_THRESHOLDS)
              and len(thresholds) == num_thresholds - 2):
            thresholds = None
    if num_thresholds is not None and thresholds is not None:
        raise ValueError(f"only one of thresholds or num_thresholds can be set: "
                         f"num_thresholds={num_thresholds}, thresholds={thresholds}")
    if thresholds is None:
        num_thresholds = DEFAULT_NUM_BUCKETS if num_thresholds is None else int(num_thresholds)
        if num_thresholds <= 1:
            raise ValueError("num_thresholds must be > 1")
        return Histogram(DEFAULT_NUM_BUCKETS), tuple(interpolated_thresholds(num_thresholds))
    if len(thresholds) == 1 and thresholds[0] < 0:
        return Histogram(1), tuple(thresholds)
    return Thresholds(tuple(thresholds)), tuple(thresholds)


def matrices(accumulator: Mapping, spec, thresholds: Sequence[float]) -> Matrices:
    """Confusion matrices at `thresholds` from the summed statistic of `spec`.

    The single negative threshold (top_k's [-inf]) reads the histogram as TFMA's sparse one:
    the buckets that received rows, the lowest of them dropped when there are several. So
    when no row is at -inf (top_k = all classes, or top_k micro averaging) and some
    prediction is exactly >= 1.0, TFMA counts only those rows as predicted positive, and
    so does this function (a TFMA quirk, reproduced for equality).
    """
    if isinstance(spec, Thresholds):
        if tuple(thresholds) != spec.values:
            raise ValueError(f"thresholds {tuple(thresholds)} are not the counted {spec.values}")
        return Matrices(spec.values, *(np.asarray(accumulator[k], dtype=np.float64)
                                       for k in ("tp", "tn", "fp", "fn")))
    thresholds = [float(t) for t in thresholds]
    labels = np.asarray(accumulator["labels"], dtype=np.float64)
    examples = np.asarray(accumulator["examples"], dtype=np.float64)
    if len(thresholds) == 1 and thresholds[0] < 0:
        # TFMA reads its sparse histogram directly: only the buckets that received rows.
        present = np.asarray(accumulator["count"]) > 0
        return _accumulate(thresholds, labels[present], examples[present])
    rebin = [t + EPSILON if t != 0 else t for t in thresholds]
    if thresholds[0] >= 0:
        rebin = [-EPSILON] + rebin
    if thresholds[-1] < 1.0:
        rebin = rebin + [1.0 + EPSILON]
    return _accumulate(thresholds, *_rebin(rebin, labels, examples, spec.num_buckets))


def _rebin(thresholds: list[float], labels: np.ndarray, examples: np.ndarray, num_buckets: int):
    """calibration_histogram.rebin: each bucket goes to the last threshold <= its left edge."""
    ids = np.arange(labels.size)
    edge = (ids - 1) / num_buckets * (1.0 - 0.0) + 0.0
    edge[0], edge[num_buckets + 1:] = -np.inf, np.inf
    size = len(thresholds)
    offset = np.clip(np.searchsorted(np.asarray(thresholds), edge, side="right") - 1, 0, size - 1)
    return (np.bincount(offset, weights=labels, minlength=size),
            np.bincount(offset, weights=examples, minlength=size))


def _accumulate(thresholds: list[float], labels: np.ndarray, examples: np.ndarray) -> Matrices:
    """_histogram_to_binary_confusion_matrices: tp/fp sum buckets >= i, fn/tn those < i."""
    n = labels.size
    if n == 0:    # TFMA's sparse histogram of no rows (it raises IndexError there)
        zeros = np.zeros(len(thresholds))
        return Matrices(tuple(thresholds), zeros, zeros.copy(), zeros.copy(), zeros.copy())
    neg = examples - labels
    tp, fp = np.cumsum(labels[::-1])[::-1], np.cumsum(neg[::-1])[::-1]
    fn = np.concatenate([[0.0], np.cumsum(labels)[:-1]])
    tn = np.concatenate([[0.0], np.cumsum(neg)[:-1]])
    offset = 1 if (thresholds[0] >= 0 or len(thresholds) == 1) and n > 1 else 0
    cut = slice(offset, offset + len(thresholds))
    tp, tn, fp, fn = (a[cut].copy() for a in (tp, tn, fp, fn))
    above = np.asarray(thresholds[:tp.size]) >= 1.0 + EPSILON
    if above.any():
        tp0, fp0 = (0.0, 0.0) if above[0] else (tp[0], fp[0])
        tp[above], fp[above], fn[above], tn[above] = 0.0, 0.0, tp0, fp0
    return Matrices(tuple(thresholds), tp, tn, fp, fn)


def auc(m: Matrices, curve: str = "ROC", summation_method: str = "interpolation") -> float:
    """AUC._metric_value: a Riemann sum over the thresholds (NaN terms dropped by nansum)."""
    curve, method = curve.upper(), summation_method.lower()
    if curve not in ("ROC", "PR") or method not in ("interpolation", "minoring", "majoring"):
        raise ValueError(f"curve {curve!r} / summation_method {summation_method!r} unknown")
    tp, tn, fp, fn = m.tp, m.tn, m.fp, m.fn
    with np.errstate(divide="ignore", invalid="ignore"):
        if curve == "PR" and method == "interpolation":
            return _pr_interpolation(tp, fp, fn)
        recall = np.divide(tp, tp + fn, out=np.zeros_like(tp), where=(tp + fn) != 0)
        if curve == "ROC":
            x = np.divide(fp, fp + tn, out=np.zeros_like(fp), where=(fp + tn) != 0)
            y = recall
        else:
            x = recall
            y = np.divide(tp, tp + fp, out=np.zeros_like(tp), where=(tp + fp) != 0)
        if method == "interpolation":
            heights = (y[:-1] + y[1:]) / 2.0
        elif method == "minoring":
            heights = np.minimum(y[:-1], y[1:])
        else:
            heights = np.maximum(y[:-1], y[1:])
        return float(np.nansum((x[:-1] - x[1:]) * heights))


def _pr_interpolation(tp: np.ndarray, fp: np.ndarray, fn: np.ndarray) -> float:
    """Davis & Goadrich interpolation, as AUC._metric_value computes it for the PR curve."""
    dtp = tp[:-1] - tp[1:]
    p = tp + fp
    dp = p[:-1] - p[1:]
    prec_slope = dtp / np.maximum(dp, 0)
    intercept = tp[1:] - prec_slope * p[1:]
    safe_p_ratio = np.divide(p[:-1], p[1:], out=np.ones_like(p[1:]), where=p[1:] != 0)
    increment = prec_slope * (dtp + intercept * np.log(safe_p_ratio)) / np.maximum(tp[1:] + fn[1:], 0)
    return float(np.nansum(increment))


def _div(numerator: float, denominator: float) -> float:
    """_divide_only_positive_denominator."""
    return numerator / denominator if denominator > 0 else float("nan")


_Formula = Callable[[float, float, float, float], float]
CONFUSION_FORMULAS: dict[str, _Formula] = {
    "TruePositives": lambda tp, tn, fp, fn: tp,
    "TrueNegatives": lambda tp, tn, fp, fn: tn,
    "FalsePositives": lambda tp, tn, fp, fn: fp,
    "FalseNegatives": lambda tp, tn, fp, fn: fn,
    "BinaryAccuracy": lambda tp, tn, fp, fn: _div(tp + tn, tp + fp + tn + fn),
    "Precision": lambda tp, tn, fp, fn: _div(tp, tp + fp),
    "Recall": lambda tp, tn, fp, fn: _div(tp, tp + fn),
    "Specificity": lambda tp, tn, fp, fn: _div(tn, tn + fp),
    "FallOut": lambda tp, tn, fp, fn: _div(fp, fp + tn),
    "MissRate": lambda tp, tn, fp, fn: _div(fn, fn + tp),
    "NegativePredictiveValue": lambda tp, tn, fp, fn: _div(tn, tn + fn),
    "FalseDiscoveryRate": lambda tp, tn, fp, fn: _div(fp, fp + tp),
    "FalseOmissionRate": lambda tp, tn, fp, fn: _div(fn, fn + tn),
    "Prevalence": lambda tp, tn, fp, fn: _div(tp + fn, tp + tn + fp + fn),
    "ThreatScore": lambda tp, tn, fp, fn: _div(tp, tp + fn + fp),
    "F1Score": lambda tp, tn, fp, fn: _div(2 * tp, 2 * tp + fp + fn),
    "PredictedPositiveRate": lambda tp, tn, fp, fn: _div(tp + fp, tp + fp + tn + fn),
}
ALIASES = {"TP": "TruePositives", "TN": "TrueNegatives", "FP": "FalsePositives",
           "FN": "FalseNegatives", "PPV": "Precision", "TPR": "Recall", "TNR": "Specificity",
           "FPR": "FallOut", "FNR": "MissRate", "NPV": "NegativePredictiveValue"}


def confusion_metric(class_name: str, m: Matrices) -> np.ndarray:
    """ConfusionMatrixMetric.result at each threshold (TFMA returns a scalar for one
    threshold and an array for several; here always an array aligned with m.thresholds)."""
    formula = CONFUSION_FORMULAS[ALIASES.get(class_name, class_name)]
    return np.array([formula(float(a), float(b), float(c), float(d))
                     for a, b, c, d in zip(m.tp, m.tn, m.fp, m.fn)], dtype=np.float64)


# --- moments and counts ------------------------------------------------------------------------

def calibration(moments: Mapping) -> float:
    """Σw·prediction / Σw·label (calibration.py)."""
    if np.isclose(moments["weighted_labels"], 0.0):
        return math.nan
    return moments["weighted_predictions"] / moments["weighted_labels"]


def mean_label(moments: Mapping) -> float:
    if np.isclose(moments["weight"], 0.0):
        return math.nan
    return moments["weighted_labels"] / moments["weight"]


def mean_prediction(moments: Mapping) -> float:
    if np.isclose(moments["weight"], 0.0):
        return math.nan
    return moments["weighted_predictions"] / moments["weight"]


def mean_squared_error(moments: Mapping) -> float:
    """Σw·(label-prediction)² / Σw over rows with a defined error; the Brier score when the
    predictions are probabilities of the positive class."""
    if moments["squared_error_weight"] == 0.0:
        return math.nan
    return moments["squared_error"] / moments["squared_error_weight"]


def example_count(counts: Mapping, weighted: bool) -> float:
    """ExampleCount and WeightedExampleCount (both Σw when example_weighted, else the count)."""
    return float(counts["weighted_examples"]) if weighted else float(counts["examples"])


# --- aggregation.py -----------------------------------------------------------------------------

def macro_average(values: Mapping[int, float], class_weights: Mapping[int, float] | None) -> float:
    """Σ value·weight / Σ weight over the classes, in `values` order (TFMA: the order of
    AggregationOptions.class_weights); weight 1 without class_weights, else class_weights[c]."""
    total_value = total_weight = 0.0
    for class_id, value in values.items():
        weight = 1.0 if not class_weights else float(class_weights.get(class_id, 0.0))
        total_value += float(value) * weight
        total_weight += weight
    return total_value / total_weight if total_weight else math.nan


def weighted_macro_average(values: Mapping[int, float], label_weights: Mapping[int, float],
                           class_weights: Mapping[int, float] | None) -> float:
    """aggregation.weighted_macro_average: each class weighs its share of Σw·label over the
    classes of `values` (label_weights: each class's binarized Moments "weighted_labels"),
    times class_weights[c] when given."""
    total = sum(float(label_weights[c]) for c in values)
    shares = {c: (float(label_weights[c]) / total) if total else 0.0 for c in values}
    total_value = total_weight = 0.0
    for class_id, value in values.items():
        weight = 1.0 if not class_weights else 0.0
        if shares:
            weight = shares[class_id]
        if class_weights and class_id in class_weights:
            weight *= float(class_weights[class_id])
        total_value += float(value) * weight
        total_weight += weight
    return total_value / total_weight if total_weight else math.nan
