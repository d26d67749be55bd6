"""Additive statistics for TFMA's binary-classification metrics (pure numpy).

Each statistic is named by a small frozen spec (`Histogram`, `Thresholds`, `Moments`,
`Counts`): equal specs are one statistic, so de-duplication is plain equality (TFMA gets
the same effect from private names built of the arguments). `statistics(specs, ...)`
returns `{spec.key: accumulator}`, where every accumulator is a dict of float64 / int64
arrays and ints that `metrics.merge` adds key by key; no key starts with "max_".
Integer counts (`count`, `examples`) are exact in any grouping; float sums are identical
when batches are summed in the same order. binary_metrics.py derives TFMA's values.

Inputs are one (label, prediction, weight) per row, exactly as TFMA's
`to_label_prediction_example_weight(..., flatten=True)` yields them; `binarize` produces
them from a multi-class output like `MetricsSpec.binarize` / `aggregate` (class_id, k,
top_k, micro averaging with class weights). What TFMA assumes, this module assumes:
- predictions are probabilities in [0, 1]. Logits must be turned into probabilities by the
  caller (sigmoid / softmax) before they reach these functions; values outside [0, 1]
  are bucketed by TFMA's rule (the end buckets), never rescaled.
- labels are in [0, 1] (TFMA's `fractional_labels`: a label l counts as weight w*(1-l)
  negative and w*l positive); other labels raise ValueError, as TFMA does.
- NaN predictions raise ValueError in `Histogram` (TFMA fails on them: int(nan)); the
  caller counts and removes non-finite rows first, as metrics.classification_stats does.
Weights: None means 1 for every row (TFMA's example_weighted=False).
"""

from __future__ import annotations

import dataclasses
from typing import Iterable, Mapping, Sequence

import numpy as np

DEFAULT_NUM_BUCKETS = 10000   # calibration_histogram.DEFAULT_NUM_BUCKETS


@dataclasses.dataclass(frozen=True)
class Histogram:
    """TFMA's calibration histogram over [0, 1]: num_buckets + 2 buckets (below 0, above 1).

    Per bucket: Σw·label ("labels"), Σw·prediction ("predictions"), Σw ("examples") and the
    number of rows of non-zero weight ("count", an exact int; it also says which buckets
    TFMA's sparse histogram holds). AUC, AUCPrecisionRecall and every metric at num_thresholds use
    Histogram(10000); top-k metrics at TFMA's default threshold [-inf] use Histogram(1).
    """

    num_buckets: int = DEFAULT_NUM_BUCKETS

    def __post_init__(self):
        if int(self.num_buckets) < 1:
            raise ValueError(f"Histogram.num_buckets must be >= 1, got {self.num_buckets}")

    @property
    def key(self) -> str:
        return f"histogram_{self.num_buckets}"


@dataclasses.dataclass(frozen=True)
class Thresholds:
    """Confusion counts tp, tn, fp, fn at explicit thresholds, with TFMA's strict
    `prediction > threshold` (contrib/aggregates/binary_confusion_matrices.py)."""

    values: tuple = (0.5,)

    def __post_init__(self):
        values = tuple(float(v) for v in np.atleast_1d(self.values))
        if not values:
            raise ValueError("Thresholds.values must hold at least one threshold")
        object.__setattr__(self, "values", values)

    @property
    def key(self) -> str:
        return "thresholds_" + "_".join(repr(v) for v in self.values)


@dataclasses.dataclass(frozen=True)
class Moments:
    """Σw, Σw·label, Σw·prediction, Σw·(label-prediction)² (rows with a NaN error are
    left out of the last and of its own weight, as TFMA's MeanSquaredError does)."""

    @property
    def key(self) -> str:
        return "moments"


@dataclasses.dataclass(frozen=True)
class Counts:
    """Examples (an exact int) and weighted examples, before any binarization: TFMA's
    ExampleCount counts examples, not the (label, prediction) pairs of a multi-class row."""

    @property
    def key(self) -> str:
        return "counts"


Spec = Histogram | Thresholds | Moments | Counts


# --- binarization (metric_specs.binarize / aggregate, metric_util) --------------------------

def _one_hot(labels: np.ndarray, classes: int) -> np.ndarray:
    """Sparse class ids [B] (or [B, 1]) or dense labels [B, C] -> dense float64 [B, C]."""
    labels = np.asarray(labels)
    if labels.ndim == 2 and labels.shape[1] == classes and classes > 1:
        return labels.astype(np.float64)
    ids = labels.reshape(-1).astype(np.int64)
    if ids.size and (ids.min() < 0 or ids.max() >= classes):
        raise ValueError(f"class ids must be in [0, {classes - 1}], got {ids.min()}..{ids.max()}")
    dense = np.zeros((ids.size, classes))
    dense[np.arange(ids.size), ids] = 1.0
    return dense


def _top_indices(scores: np.ndarray, k: int) -> np.ndarray:
    """metric_util.top_k_indices: the k largest per row, ties to the lower index (stable)."""
    if scores.shape[1] < k:
        raise ValueError(f"top_k / k = {k} but the output has {scores.shape[1]} classes")
    return np.argsort(-scores, axis=1, kind="stable")[:, :k]


def binarize(labels, scores, weights=None, *, class_id: int | None = None, k: int | None = None,
             top_k: int | None = None, micro: bool = False,
             class_weights: Mapping[int, float] | None = None):
    """(labels, predictions, weights) rows of one binary problem from a multi-class output.

    scores [B, C]; labels class ids [B] or dense [B, C]. Mirrors to_label_prediction_example_weight:
    class_id: that class's column, label (label == class_id).
    k: the k-th largest prediction of each row and its label.
    top_k (micro=False): all C columns, those outside each row's top k set to -inf
      (TFMA's default threshold is then [-inf]); micro=True: only the top-k columns.
    micro with neither: all C columns, row-major; class_weights then multiply each column's
      weight (missing classes weigh 0), as TFMA's micro average does.
    A single-column output [B] or [B, 1] is returned flat.
    """
    scores = np.asarray(scores, dtype=np.float64)
    rows = scores.shape[0]
    w = None if weights is None else np.asarray(weights, dtype=np.float64).reshape(rows)
    if scores.ndim == 1 or scores.shape[1] == 1:
        return np.asarray(labels, dtype=np.float64).reshape(rows), scores.reshape(rows), w
    classes = scores.shape[1]
    if class_id is not None:
        if not 0 <= class_id < classes:
            raise ValueError(f"class_id {class_id} out of range of {classes} classes")
        return _one_hot(labels, classes)[:, class_id], scores[:, class_id].copy(), w
    return _columns(_one_hot(labels, classes), scores, w, k, top_k, micro, class_weights)


def _columns(dense, scores, w, k, top_k, micro, class_weights):
    """binarize for k, top_k and micro averaging (dense labels [B, C])."""
    rows, classes = scores.shape
    if k is not None:
        idx = _top_indices(scores, k)[:, k - 1]
        picked = np.arange(rows)
        return dense[picked, idx], scores[picked, idx], w
    if top_k is not None and micro:
        idx = np.sort(_top_indices(scores, top_k), axis=1)
        cols = np.take_along_axis
        return cols(dense, idx, 1).ravel(), cols(scores, idx, 1).ravel(), _repeat(w, top_k)
    if top_k is not None:
        keep = np.full(scores.shape, -np.inf)
        idx = _top_indices(scores, top_k)
        np.put_along_axis(keep, idx, np.take_along_axis(scores, idx, 1), 1)
        return dense.ravel(), keep.ravel(), _repeat(w, classes)
    if not micro:
        raise ValueError("a multi-class output needs class_id, k, top_k or micro=True")
    flat_w = _repeat(w, classes)
    if class_weights:
        column = np.array([float(class_weights.get(i, 0.0)) for i in range(classes)])
        flat_w = (np.ones(rows * classes) if flat_w is None else flat_w) * np.tile(column, rows)
    return dense.ravel(), scores.ravel(), flat_w


def _repeat(weights: np.ndarray | None, times: int) -> np.ndarray | None:
    return None if weights is None else np.repeat(weights, times)


# --- statistics -------------------------------------------------------------------------------

def _rows(labels, predictions, weights):
    """Flat float64 labels, predictions and weights (ones for None) of equal length."""
    p = np.asarray(predictions, dtype=np.float64).reshape(-1)
    y = np.asarray(labels, dtype=np.float64).reshape(-1)
    if y.shape != p.shape:
        raise ValueError(f"{y.size} labels for {p.size} predictions")
    w = np.ones_like(p) if weights is None else np.asarray(weights, dtype=np.float64).reshape(-1)
    if w.shape != p.shape:
        raise ValueError(f"{w.size} weights for {p.size} predictions")
    return y, p, w


def check_labels(y: np.ndarray) -> bool:
    """True if every label is 0 or 1; ValueError outside [0, 1] (TFMA's fractional labels)."""
    if y.size and not (y.min() >= 0.0 and y.max() <= 1.0):   # also refuses NaN
        raise ValueError(f"labels must be within [0, 1] (TFMA fractional labels), got "
                         f"[{np.nanmin(y)}, {np.nanmax(y)}]")
    return bool(np.all((y == 0.0) | (y == 1.0)))


def bucket_index(predictions: np.ndarray, num_buckets: int) -> np.ndarray:
    """_CalibrationHistogramCombiner._bucket_index, vectorized: trunc(p * N + 1) clipped to
    [0, N + 1]; p < 0 -> 0 (and -inf), p >= 1 -> N + 1 (and +inf)."""
    if np.isnan(predictions).any():
        raise ValueError("NaN predictions: TFMA's calibration histogram cannot bucket them; "
                         "count and drop non-finite rows before the statistics")
    raw = (predictions - 0.0) / 1.0 * num_buckets + 1
    return np.clip(raw, 0, num_buckets + 1).astype(np.int64)


def histogram_stats(spec: Histogram, labels, predictions, weights=None) -> dict:
    """Per-bucket sums in row order (np.bincount adds sequentially, as TFMA's loop does)."""
    y, p, w = _rows(labels, predictions, weights)
    size = spec.num_buckets + 2
    idx = bucket_index(p, spec.num_buckets)
    nonzero = w != 0.0          # TFMA yields no tuple of weight 0 (math.isclose(w, 0.0))
    count = np.bincount(idx[nonzero], minlength=size).astype(np.int64)
    if check_labels(y):
        weighted_predictions = np.where(nonzero, p * w, 0.0)
    else:   # fractional labels: TFMA's two tuples per row, w*(1-l) negative then w*l positive
        w = np.stack([w * (1.0 - y), w * y], axis=1).ravel()
        weighted_predictions = np.where(w != 0.0, np.repeat(p, 2) * w, 0.0)
        idx, y = np.repeat(idx, 2), np.tile([0.0, 1.0], p.size)
    return {"labels": np.bincount(idx, weights=y * w, minlength=size),
            "predictions": np.bincount(idx, weights=weighted_predictions, minlength=size),
            "examples": np.bincount(idx, weights=w, minlength=size), "count": count}


def confusion_stats(spec: Thresholds, labels, predictions, weights=None) -> dict:
    """tp, tn, fp, fn per threshold: a row of label l adds w*l to tp / fn and w*(1-l) to
    fp / tn by `prediction > threshold` (NaN is never above: a negative prediction)."""
    y, p, w = _rows(labels, predictions, weights)
    check_labels(y)
    pos, neg = w * y, w * (1.0 - y)
    above = (p[:, None] > np.asarray(spec.values)[None, :]).astype(np.float64)   # rows x thresholds
    tp, fp = pos @ above, neg @ above          # one product per class for every threshold at once
    return {"tp": tp, "fp": fp, "fn": pos.sum() - tp, "tn": neg.sum() - fp}


def moment_stats(labels, predictions, weights=None) -> dict:
    y, p, w = _rows(labels, predictions, weights)
    err = (y - p) ** 2
    ok = ~np.isnan(err)
    if ok.all():      # one product for the four sums (the usual case: no NaN error)
        weight, labels_, predictions_, squared = w @ np.stack([np.ones_like(y), y, p, err], axis=1)
        return {"weight": float(weight), "weighted_labels": float(labels_), "weighted_predictions": float(predictions_),
                "squared_error": float(squared), "squared_error_weight": float(weight)}
    return {"weight": float(np.sum(w)), "weighted_labels": float(np.sum(w * y)),
            "weighted_predictions": float(np.sum(w * p)),
            "squared_error": float(np.sum(w[ok] * err[ok])),
            "squared_error_weight": float(np.sum(w[ok]))}


def count_stats(rows: int, weights=None) -> dict:
    weighted = float(rows) if weights is None else float(np.sum(np.asarray(weights, dtype=np.float64)))
    return {"examples": int(rows), "weighted_examples": weighted}


def statistics(specs: Iterable[Spec], labels, predictions, weights=None,
               examples: int | None = None, example_weights=None) -> dict:
    """{spec.key: accumulator} for each distinct spec, over rows (labels, predictions, weights).

    Counts() uses `examples` / `example_weights` (the batch before binarize), defaulting to
    the rows themselves.
    """
    out: dict = {}
    for spec in dict.fromkeys(specs):
        if isinstance(spec, Histogram):
            out[spec.key] = histogram_stats(spec, labels, predictions, weights)
        elif isinstance(spec, Thresholds):
            out[spec.key] = confusion_stats(spec, labels, predictions, weights)
        elif isinstance(spec, Moments):
            out[spec.key] = moment_stats(labels, predictions, weights)
        elif isinstance(spec, Counts):
            rows = np.asarray(predictions).reshape(-1).size if examples is None else examples
            out[spec.key] = count_stats(rows, weights if examples is None else example_weights)
        else:
            raise TypeError(f"not a statistic spec: {spec!r}")
    return out


def empty(spec: Spec) -> dict:
    """The accumulator of no rows (for a merge that starts from nothing)."""
    return statistics([spec], np.zeros(0), np.zeros(0))[spec.key]


def specs_union(*groups: Sequence[Spec]) -> tuple:
    """The distinct specs of several metrics, in first-seen order."""
    return tuple(dict.fromkeys(spec for group in groups for spec in group))
