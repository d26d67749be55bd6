"""Evaluation statistics and the metrics derived from them (pure numpy).

Statistics are additive dicts (Beam sums them across batches and workers):
`merge` adds values, except keys starting with "max_", which take the maximum.
Metrics are computed from summed statistics only, so a test can recompute each
one independently from the raw predictions. Their names and directions are the
entries of schemas/metric_table.py.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Mapping

import numpy as np

from tfx_edge.components.core import input_mapping

from tfx_edge.schemas import metric_table
from tfx_edge.schemas.metric_table import HIGHER

_PROB_TOLERANCE = 1e-3
_EPSILON = 1e-7  # probability floor in the cross-entropy, as Keras clips


class LabelError(ValueError):
    """Labels that do not fit the model's outputs."""


class OutputError(ValueError):
    """Model outputs that do not fit what the configuration says they are."""


@dataclasses.dataclass(frozen=True)
class Spec:
    """What scoring needs to know: task, classes, output kind and top-k."""

    task: str                       # "classification" | "regression"
    num_classes: int | None = None
    output_kind: str | None = None  # "probabilities" | "logits" | None
    top_k: tuple[int, ...] = ()

    @property
    def classification(self) -> bool:
        return self.task == "classification"

    @property
    def classes(self) -> int:
        """The number of classes of a classification output (set by planning before scoring)."""
        if self.num_classes is None:
            raise OutputError("the number of classes of the classification output is not known; "
                              "planning sets it from the model's output shape")
        return self.num_classes


def merge(a: Mapping, b: Mapping) -> dict:
    """Sum of two statistics dicts (nested dicts merge key by key)."""
    out = dict(a)
    for key, value in b.items():
        if key not in out:
            out[key] = value
        elif isinstance(value, Mapping):
            out[key] = merge(out[key], value)
        elif key.startswith("max_"):
            out[key] = max(out[key], value)
        else:
            out[key] = out[key] + value
    return out


def num_classes(output_shape) -> int:
    """Classes of a classification output: its last dimension, 2 for a single unit."""
    last = int(output_shape[-1]) if len(output_shape) > 1 else 1
    return 2 if last == 1 else last


# --- labels and scores --------------------------------------------------------------------

def labels_of(values: np.ndarray, classes: int, feature: str) -> tuple[np.ndarray, str]:
    """Class indices from sparse (one value) or one-hot (`classes` values) labels."""
    if values.dtype == object:
        raise LabelError(f"label feature {feature!r} {input_mapping.object_problem(values)}; labels must be "
                         f"integer class ids (or one-hot), one per example: map strings to ids in a "
                         f"Transform step (e.g. tft.compute_and_apply_vocabulary) and set label_feature")
    flat = values.reshape(values.shape[0], -1)
    if flat.shape[1] == 1:
        return _sparse(flat[:, 0], classes, feature), "sparse"
    if flat.shape[1] == classes and _is_one_hot(flat):
        return np.argmax(flat, axis=1).astype(np.int64), "one_hot"
    raise LabelError(f"label feature {feature!r} has {flat.shape[1]} values per example: use one "
                     f"class index, or a one-hot vector of the model's {classes} classes")


def _is_one_hot(flat: np.ndarray) -> bool:
    return bool(np.all((flat == 0) | (flat == 1)) and np.all(flat.sum(axis=1) == 1))


def _sparse(labels: np.ndarray, classes: int, feature: str) -> np.ndarray:
    if not np.issubdtype(labels.dtype, np.integer):
        if not np.all(np.equal(np.mod(labels, 1), 0)):
            raise LabelError(f"label feature {feature!r} holds non-integer values, e.g. {labels[:3]}")
    labels = labels.astype(np.int64)
    bad = labels[(labels < 0) | (labels >= classes)]
    if bad.size:
        raise LabelError(f"label feature {feature!r} has value {int(bad[0])} outside the model's "
                         f"{classes} classes [0, {classes - 1}]")
    return labels


def targets_of(values: np.ndarray, width: int, feature: str) -> np.ndarray:
    """Regression targets [B, width] as float64."""
    if values.dtype == object:
        raise LabelError(f"label feature {feature!r} {input_mapping.object_problem(values)}; labels must be "
                         f"integer class ids (or one-hot), one per example: map strings to ids in a "
                         f"Transform step (e.g. tft.compute_and_apply_vocabulary) and set label_feature")
    flat = values.reshape(values.shape[0], -1)
    if flat.shape[1] != width:
        raise LabelError(f"label feature {feature!r} has {flat.shape[1]} values per example; "
                         f"the model output has {width}")
    return flat.astype(np.float64)


def class_scores(output: np.ndarray, spec: Spec, name: str) -> np.ndarray:
    """Output -> [B, classes] scores; a single unit becomes two columns whose argmax is
    the thresholded class (0.5 for probabilities, 0 for logits)."""
    flat = np.asarray(output, dtype=np.float64).reshape(output.shape[0], -1)
    if spec.output_kind == "probabilities":
        _check_probabilities(flat, name)
    if flat.shape[1] > 1:
        return flat
    if spec.output_kind is None:
        raise OutputError(f"output {name!r} has a single unit: set EvaluationConfig.output_kind to "
                          f"'probabilities' (threshold 0.5) or 'logits' (threshold 0)")
    if spec.output_kind == "probabilities":
        return np.concatenate([1.0 - flat, flat], axis=1)
    return np.concatenate([np.zeros_like(flat), flat], axis=1)


def _check_probabilities(flat: np.ndarray, name: str) -> None:
    finite = flat[np.isfinite(flat)]
    if finite.size and (finite.min() < -_PROB_TOLERANCE or finite.max() > 1 + _PROB_TOLERANCE):
        raise OutputError(f"output_kind='probabilities' but output {name!r} has values in "
                          f"[{finite.min():.4g}, {finite.max():.4g}]; set output_kind='logits'")


# --- per-batch statistics -----------------------------------------------------------------

def classification_stats(labels: np.ndarray, scores: np.ndarray, spec: Spec) -> dict:
    classes = spec.classes
    finite = np.isfinite(scores).all(axis=1)
    pred = np.argmax(np.where(np.isfinite(scores), scores, -np.inf), axis=1)
    # A non-finite row counts as a miss: predicted as the next class after its label.
    pred = np.where(finite, pred, (labels + 1) % classes)
    confusion = np.bincount(labels * classes + pred, minlength=classes * classes)
    label_score = scores[np.arange(len(labels)), labels]
    rank = np.sum(scores > label_score[:, None], axis=1)
    stats = {"n": int(len(labels)), "nonfinite": int(np.sum(~finite)),
             "confusion": confusion.reshape(classes, classes).astype(np.int64),
             "topk_correct": np.array([int(np.sum(finite & (rank < k))) for k in spec.top_k],
                                      dtype=np.int64)}
    if spec.output_kind is not None:
        stats["loss_sum"] = float(np.sum(_cross_entropy(scores[finite], labels[finite], spec)))
    return stats


def cross_entropy(scores: np.ndarray, labels: np.ndarray, spec: Spec) -> np.ndarray:
    """Each example's cross-entropy (NaN for a row with a non-finite score)."""
    out = np.full(len(labels), np.nan)
    finite = np.isfinite(scores).all(axis=1)
    out[finite] = _cross_entropy(scores[finite], labels[finite], spec)
    return out


def _cross_entropy(scores: np.ndarray, labels: np.ndarray, spec: Spec) -> np.ndarray:
    picked = scores[np.arange(len(labels)), labels]
    if spec.output_kind == "probabilities":
        return -np.log(np.clip(picked, _EPSILON, 1.0))
    top = scores.max(axis=1)
    return top + np.log(np.sum(np.exp(scores - top[:, None]), axis=1)) - picked


def regression_stats(targets: np.ndarray, outputs: np.ndarray) -> dict:
    flat = np.asarray(outputs, dtype=np.float64).reshape(targets.shape)
    finite = np.isfinite(flat).all(axis=1)
    err = flat[finite] - targets[finite]
    return {"n": int(len(targets)), "nonfinite": int(np.sum(~finite)),
            "values": int(err.size), "abs_sum": float(np.sum(np.abs(err))),
            "sq_sum": float(np.sum(err * err))}


def pair_stats(candidate: np.ndarray, reference: np.ndarray, classification: bool) -> dict:
    """Agreement of top-1 predictions and the largest output difference (finite rows)."""
    a = np.asarray(candidate, dtype=np.float64).reshape(candidate.shape[0], -1)
    b = np.asarray(reference, dtype=np.float64).reshape(reference.shape[0], -1)
    both = np.isfinite(a).all(axis=1) & np.isfinite(b).all(axis=1)
    stats = {"n": int(len(a)), "max_abs_diff": float(np.max(np.abs(a[both] - b[both]), initial=0.0))}
    if classification:
        stats["agree"] = int(np.sum(both & (np.argmax(a, axis=1) == np.argmax(b, axis=1))))
    return stats


# --- metrics from summed statistics --------------------------------------------------------

def _ratio(num: float, den: float) -> float:
    return float(num) / float(den) if den else math.nan


def classification_metrics(stats: Mapping, spec: Spec) -> dict[str, float]:
    confusion = np.asarray(stats["confusion"])
    n = int(confusion.sum())
    out = {"accuracy": _ratio(np.trace(confusion), n)}
    for k, correct in zip(spec.top_k, np.asarray(stats["topk_correct"]).tolist()):
        out[metric_table.expand(metric_table.TOP_K_ACCURACY, k)] = _ratio(correct, n)
    if "loss_sum" in stats:
        out["loss"] = _ratio(stats["loss_sum"], n) if stats["nonfinite"] == 0 else math.nan
    out.update(_per_class(confusion))
    return out


def _per_class(confusion: np.ndarray) -> dict[str, float]:
    diag, predicted, support = np.diag(confusion), confusion.sum(axis=0), confusion.sum(axis=1)
    out: dict[str, float] = {}
    present = support > 0
    # Macro averages over the classes present in the labels; a class never predicted has
    # precision 0 (scikit-learn's zero_division=0).
    precision = np.where(predicted > 0, diag / np.maximum(predicted, 1), 0.0)
    recall = diag / np.maximum(support, 1)
    out["macro_precision"] = float(precision[present].mean()) if present.any() else math.nan
    out["macro_recall"] = float(recall[present].mean()) if present.any() else math.nan
    for i in range(len(diag)):
        out[metric_table.expand(metric_table.PRECISION_CLASS, i)] = _ratio(diag[i], predicted[i])
        out[metric_table.expand(metric_table.RECALL_CLASS, i)] = _ratio(diag[i], support[i])
    return out


def regression_metrics(stats: Mapping) -> dict[str, float]:
    if stats["nonfinite"]:
        return {"mae": math.nan, "rmse": math.nan}
    return {"mae": _ratio(stats["abs_sum"], stats["values"]),
            "rmse": math.sqrt(_ratio(stats["sq_sum"], stats["values"]))}


def pair_metrics(stats: Mapping) -> dict[str, float]:
    out = {"max_output_diff": float(stats["max_abs_diff"])}
    if "agree" in stats:
        out["agreement"] = _ratio(stats["agree"], stats["n"])
    return out


def drops(candidate: Mapping[str, float], reference: Mapping[str, float]) -> dict[str, dict]:
    """Direction-aware worsening of every shared metric: positive means worse."""
    out = {}
    for name in sorted(set(candidate) & set(reference)):
        direction = metric_table.direction(name)
        if direction is None:
            continue
        cand, ref = _number(candidate[name]), _number(reference[name])
        absolute = ref - cand if direction == HIGHER else cand - ref
        out[name] = {"absolute": absolute, "relative": _relative(absolute, ref)}
    return out


def _number(value) -> float:
    return math.nan if value is None else float(value)


def _relative(absolute: float, ref: float) -> float:
    if not (math.isfinite(absolute) and math.isfinite(ref)):
        return math.nan
    if ref == 0:
        return 0.0 if absolute <= 0 else math.inf
    return absolute / abs(ref)
