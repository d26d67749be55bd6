"""The binary-classification metrics TFX users gate on, for a binary output (pure numpy).

The statistics and formulas are TFMA's (core/binary_stats, core/binary_metrics: equal to stock
TFMA 0.52, tested against it); this module decides which statistics a batch needs and names the
values as TFMA does: auc, auc_precision_recall (10,000-bucket calibration histogram),
binary_accuracy, precision, recall, f1_score (exact counts at 0.5, TFMA's default threshold, and
`<name>@<t>` at each extra threshold), calibration, mean_label, mean_prediction,
mean_squared_error (the Brier score of a probability output), example_count and
weighted_example_count. With example weights every one of them is weighted, example_count too
(as stock TFMA does when a model spec has an example_weight_key).

The histogram is kept for the overall slice only (it is 10,002 buckets: kept per slice it would
cost ~320 KB per slice, model and work unit); slices get every threshold, moment and count metric.
"""

from __future__ import annotations

import dataclasses
from typing import Mapping

import numpy as np

from tfx_edge.components.core import binary_metrics, binary_stats
from tfx_edge.schemas import metric_table

DEFAULT_THRESHOLD = 0.5
HISTOGRAM = binary_stats.Histogram()
_AT = {"binary_accuracy": "BinaryAccuracy", "precision": "Precision", "recall": "Recall", "f1_score": "F1Score"}


@dataclasses.dataclass(frozen=True)
class BinarySpec:
    """Extra thresholds (beyond 0.5) and whether the statistics are weighted."""

    thresholds: tuple[float, ...] = ()
    weighted: bool = False

    @property
    def all_thresholds(self) -> tuple[float, ...]:
        return (DEFAULT_THRESHOLD,) + tuple(t for t in self.thresholds if t != DEFAULT_THRESHOLD)

    def specs(self, overall: bool) -> tuple:
        counted = (binary_stats.Thresholds(self.all_thresholds), binary_stats.Moments(), binary_stats.Counts())
        return ((HISTOGRAM,) if overall else ()) + counted


def positive_probability(scores: np.ndarray, output_kind: str) -> np.ndarray:
    """P(class 1) of a two-column score matrix (metrics.class_scores): for a single-unit output
    its columns are (1 - p, p) or (0, logit); for two units, probabilities or logits of each class."""
    scores = np.asarray(scores, dtype=np.float64)
    if output_kind == "probabilities":
        return scores[:, 1]
    diff = scores[:, 1] - scores[:, 0]          # logit of class 1 (softmax of two = sigmoid of the gap)
    return 1.0 / (1.0 + np.exp(-diff))


def derive(summed: Mapping, spec: BinarySpec) -> dict[str, float]:
    """The metric values of summed statistics, named as TFMA names them."""
    out: dict[str, float] = {}
    if HISTOGRAM.key in summed:
        plan, thresholds = binary_metrics.matrices_plan()
        matrices = binary_metrics.matrices(summed[HISTOGRAM.key], plan, thresholds)
        out["auc"] = binary_metrics.auc(matrices, "ROC")
        out["auc_precision_recall"] = binary_metrics.auc(matrices, "PR")
    counted = binary_stats.Thresholds(spec.all_thresholds)
    matrices = binary_metrics.matrices(summed[counted.key], counted, counted.values)
    for name, class_name in _AT.items():
        values = binary_metrics.confusion_metric(class_name, matrices)
        out[name] = float(values[0])
        for threshold, value in zip(spec.all_thresholds[1:], values[1:]):
            out[metric_table.at_threshold(name, threshold)] = float(value)
    moments, counts = summed[binary_stats.Moments().key], summed[binary_stats.Counts().key]
    out.update(calibration=binary_metrics.calibration(moments), mean_label=binary_metrics.mean_label(moments),
               mean_prediction=binary_metrics.mean_prediction(moments),
               mean_squared_error=binary_metrics.mean_squared_error(moments),
               example_count=binary_metrics.example_count(counts, weighted=spec.weighted),
               weighted_example_count=binary_metrics.example_count(counts, weighted=True))
    return out


def ratio_parts(labels: np.ndarray, probability: np.ndarray, weights: np.ndarray | None,
                spec: BinarySpec) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Per-example numerator and denominator of each ratio metric (core/paired's delta-method
    intervals): precision, recall, f1_score and binary_accuracy at every threshold, and, when
    weighted, mean_squared_error. The unweighted binary_accuracy and mean_squared_error at 0.5 are
    means, with paired.interval's exact-er intervals, and are left out. Rows with a non-finite
    probability weigh 0, as in batch_by_slice."""
    finite = np.isfinite(probability)
    w = (np.ones(len(labels)) if weights is None else np.asarray(weights, dtype=np.float64)) * finite
    y = np.where(finite, labels, 0).astype(np.float64)
    p = np.where(finite, probability, 0.0)
    out: dict[str, tuple[np.ndarray, np.ndarray]] = {}
    for threshold in spec.all_thresholds:
        pos = (p > threshold).astype(np.float64)
        hit = w * y * pos
        parts = {"precision": (hit, w * pos), "recall": (hit, w * y), "f1_score": (2 * hit, w * (pos + y)),
                 "binary_accuracy": (w * (pos == y), w)}
        for name, part in parts.items():
            if threshold != DEFAULT_THRESHOLD:
                out[metric_table.at_threshold(name, threshold)] = part
            elif name != "binary_accuracy" or spec.weighted:
                out[name] = part
    if spec.weighted:
        out["mean_squared_error"] = (w * (y - p) ** 2, w)
    return out


CURVE_POINTS = 101     # thresholds 0, 0.01, ..., 1 for the ROC and precision-recall curves
CALIBRATION_BINS = 10  # equal-width bins of the predicted probability for the calibration diagram


def curves(histogram: Mapping) -> dict[str, list[list[float]]]:
    """The ROC curve (false positive rate, true positive rate), the precision-recall curve (recall,
    precision; thresholds with no positive prediction left out) and the calibration diagram (mean
    prediction, mean label, weight of each non-empty bin) of a summed histogram."""
    thresholds = [i / (CURVE_POINTS - 1) for i in range(CURVE_POINTS)]
    m = binary_metrics.matrices(histogram, HISTOGRAM, thresholds)
    roc, pr = [], []
    for tp, tn, fp, fn in zip(m.tp, m.tn, m.fp, m.fn):
        if tp + fn > 0 and fp + tn > 0:
            roc.append([float(fp / (fp + tn)), float(tp / (tp + fn))])
        if tp + fp > 0 and tp + fn > 0:
            pr.append([float(tp / (tp + fn)), float(tp / (tp + fp))])
    return {"roc": roc, "pr": pr, "calibration": _calibration_bins(histogram)}


def _calibration_bins(histogram: Mapping) -> list[list[float]]:
    labels, predictions, weights = (np.asarray(histogram[k], dtype=np.float64)
                                    for k in ("labels", "predictions", "examples"))
    edges = np.linspace(0, len(weights), CALIBRATION_BINS + 1).astype(int)
    out = []
    for lo, hi in zip(edges[:-1], edges[1:]):
        w = weights[lo:hi].sum()
        if w > 0:
            out.append([float(predictions[lo:hi].sum() / w), float(labels[lo:hi].sum() / w), float(w)])
    return out


def batch_by_slice(labels: np.ndarray, probability: np.ndarray, weights: np.ndarray | None, spec: BinarySpec,
                   masks: list) -> dict:
    """Additive statistics of one batch for every slice at once: {slice key: statistics} for masks
    [(key, bool mask)], the first of them the overall slice, which alone gets the histogram. Rows
    with a non-finite probability are left out of everything but the example counts (the gate
    counts them as non-finite outputs and fails on them). The threshold counts, moments and counts
    of all slices come from one product each with the slices' membership matrix (a Python loop per
    slice cost ~30 us of numpy calls per slice, model and batch)."""
    n = len(labels)
    finite = np.isfinite(probability)
    w_all = np.ones(n) if weights is None else np.asarray(weights, dtype=np.float64)
    y = np.where(finite, labels, 0).astype(np.float64)
    p = np.where(finite, probability, 0.0)
    w = np.where(finite, w_all, 0.0)
    binary_stats.check_labels(y[finite])
    thresholds_key = binary_stats.Thresholds(spec.all_thresholds).key
    member = np.stack([mask for _, mask in masks], axis=1).astype(np.float64)          # rows x slices
    thresholds = np.asarray(spec.all_thresholds)
    above = (p[:, None] > thresholds[None, :]).astype(np.float64)                     # rows x thresholds
    pos, neg = w * y, w * (1.0 - y)
    tp, fp = (member * pos[:, None]).T @ above, (member * neg[:, None]).T @ above      # slices x thresholds
    err = (y - p) ** 2
    sums = member.T @ np.stack([w, pos, w * p, w * err, w_all], axis=1)              # slices x 5
    counts = member.sum(axis=0)
    out = {}
    for i, (key, mask) in enumerate(masks):
        weight, weighted_labels, weighted_predictions, squared, example_weight = sums[i]
        stats = {thresholds_key: {
                     "tp": tp[i], "fp": fp[i], "fn": weighted_labels - tp[i], "tn": (weight - weighted_labels) - fp[i]},
                 binary_stats.Moments().key: {
                     "weight": float(weight), "weighted_labels": float(weighted_labels),
                     "weighted_predictions": float(weighted_predictions), "squared_error": float(squared),
                     "squared_error_weight": float(weight)},
                 binary_stats.Counts().key: {"examples": int(counts[i]), "weighted_examples": float(example_weight)}}
        if i == 0:
            stats[HISTOGRAM.key] = binary_stats.histogram_stats(HISTOGRAM, y[mask & finite], p[mask & finite],
                                                                None if weights is None else w_all[mask & finite])
        out[key] = stats
    return out


# --- one-vs-rest binarization of a multi-class output (TFMA's MetricsSpec.binarize / aggregate) ---------------

MICRO = "micro"


@dataclasses.dataclass(frozen=True)
class OneVsRest:
    """The classes binarized (class_ids), the averages (micro, macro, weighted_macro) and TFMA's class weights."""

    class_ids: tuple[int, ...] = ()
    averages: tuple[str, ...] = ()
    class_weights: tuple[tuple[int, float], ...] = ()
    weighted: bool = False

    @property
    def classes(self) -> tuple[int, ...]:
        """The classes whose statistics are gathered: class_ids, then the classes a macro average needs."""
        macro = any(a != MICRO for a in self.averages)
        return tuple(dict.fromkeys(self.class_ids + (tuple(c for c, _ in self.class_weights) if macro else ())))

    @property
    def spec(self) -> BinarySpec:
        return BinarySpec((), self.weighted)


def class_probabilities(scores: np.ndarray, output_kind: str) -> np.ndarray:
    """[B, C] class probabilities (a softmax of logits), the predictions TFMA binarizes."""
    scores = np.asarray(scores, dtype=np.float64)
    if output_kind == "probabilities":
        return scores
    shifted = np.exp(scores - scores.max(axis=1, keepdims=True))
    return shifted / shifted.sum(axis=1, keepdims=True)


def one_vs_rest_by_slice(labels: np.ndarray, probabilities: np.ndarray, weights: np.ndarray | None,
                         spec: OneVsRest, masks: list) -> dict:
    """{slice key: {"class_<c>" | "micro": batch_by_slice statistics}}: each class of spec.classes against the
    rest, and the micro average's pooled rows (binary_stats.binarize, class-major within each example)."""
    groups = {}
    for c in spec.classes:
        y, p, w = binary_stats.binarize(labels, probabilities, weights, class_id=c)
        groups[f"class_{c}"] = batch_by_slice(y, p, w, spec.spec, masks)
    if MICRO in spec.averages:
        y, p, w = binary_stats.binarize(labels, probabilities, weights, micro=True,
                                        class_weights=dict(spec.class_weights) or None)
        classes = probabilities.shape[1]
        groups[MICRO] = batch_by_slice(y, p, w, spec.spec, [(key, np.repeat(mask, classes)) for key, mask in masks])
    return {key: {group: by_slice[key] for group, by_slice in groups.items()} for key, _ in masks}


def derive_one_vs_rest(summed: Mapping, spec: OneVsRest) -> dict[str, float]:
    """`<metric>/class_<c>` and `<metric>/<average>` for the binarizable metrics (metric_table.BINARIZABLE)."""
    per = {c: derive(summed[f"class_{c}"], spec.spec) for c in spec.classes}
    out = {metric_table.binarized(m, c): per[c][m] for c in spec.class_ids for m in metric_table.BINARIZABLE
           if m in per[c]}
    for average in spec.averages:
        values = derive(summed[MICRO], spec.spec) if average == MICRO else _macro(average, per, summed, spec)
        out.update({metric_table.averaged(m, average): values[m] for m in metric_table.BINARIZABLE if m in values})
    return out


def _macro(average: str, per: Mapping[int, Mapping[str, float]], summed: Mapping, spec: OneVsRest) -> dict:
    """TFMA's macro_average / weighted_macro_average of each metric over the classes of class_weights."""
    weights = dict(spec.class_weights)
    labels = {c: summed[f"class_{c}"][binary_stats.Moments().key]["weighted_labels"] for c in weights}
    out = {}
    for m in metric_table.BINARIZABLE:
        if all(m in per[c] for c in weights):
            values = {c: per[c][m] for c in weights}
            out[m] = (binary_metrics.macro_average(values, weights) if average == "macro"
                      else binary_metrics.weighted_macro_average(values, labels, weights))
    return out
