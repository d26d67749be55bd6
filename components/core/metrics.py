"""Classification counts for a quantized model and its float reference (pure numpy).

Counts are additive (Beam combines them); summaries are derived from counts,
so the accuracy a test recomputes with a plain loop must match exactly.
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np


class LabelError(ValueError):
    """Labels that do not fit the model's outputs."""


@dataclasses.dataclass
class Counts:
    """Confusion matrices (rows: label, columns: prediction) and agreement."""

    confusion_quant: np.ndarray
    confusion_float: np.ndarray
    agree: int = 0
    nonfinite_quant: int = 0
    nonfinite_float: int = 0

    @classmethod
    def zeros(cls, num_classes: int) -> "Counts":
        z = np.zeros((num_classes, num_classes), dtype=np.int64)
        return cls(z, z.copy())

    @property
    def n(self) -> int:
        return int(self.confusion_quant.sum())

    def __add__(self, other: "Counts") -> "Counts":
        return Counts(self.confusion_quant + other.confusion_quant,
                      self.confusion_float + other.confusion_float,
                      self.agree + other.agree,
                      self.nonfinite_quant + other.nonfinite_quant,
                      self.nonfinite_float + other.nonfinite_float)


def num_classes(output_shape) -> int:
    last = int(output_shape[-1]) if len(output_shape) > 1 else 1
    return 2 if last == 1 else last


def predict(scores: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Predicted class per row and whether the row's scores were all finite.

    [B, C] -> argmax; [B] or [B, 1] -> binary with threshold 0.5. Rows with a
    NaN or inf are predicted as -1 (always wrong).
    """
    scores = np.asarray(scores, dtype=np.float32)
    flat = scores.reshape(scores.shape[0], -1)
    finite = np.isfinite(flat).all(axis=1)
    if flat.shape[1] == 1:
        pred = (flat[:, 0] > 0.5).astype(np.int64)
    else:
        pred = np.argmax(np.where(np.isfinite(flat), flat, -np.inf), axis=1).astype(np.int64)
    return np.where(finite, pred, -1), finite


def labels_of(values: np.ndarray, classes: int, feature: str) -> np.ndarray:
    if values.dtype == object or values.reshape(values.shape[0], -1).shape[1] != 1:
        raise LabelError(f"label feature {feature!r} must hold exactly one value per example")
    labels = values.reshape(-1)
    if not np.issubdtype(labels.dtype, np.integer):
        if not np.all(np.equal(np.mod(labels, 1), 0)):
            raise LabelError(f"label feature {feature!r} holds non-integer values, e.g. {labels[:3]}")
        labels = labels.astype(np.int64)
    bad = labels[(labels < 0) | (labels >= classes)]
    if bad.size:
        raise LabelError(f"label feature {feature!r} has value {int(bad[0])} outside the model's "
                         f"{classes} classes [0, {classes - 1}]")
    return labels.astype(np.int64)


def batch_counts(labels: np.ndarray, quant_scores: np.ndarray, float_scores: np.ndarray,
                 classes: int) -> Counts:
    pq, fq = predict(quant_scores)
    pf, ff = predict(float_scores)
    counts = Counts.zeros(classes)
    _accumulate(counts.confusion_quant, labels, pq)
    _accumulate(counts.confusion_float, labels, pf)
    counts.agree = int(np.sum((pq == pf) & fq & ff))
    counts.nonfinite_quant = int(np.sum(~fq))
    counts.nonfinite_float = int(np.sum(~ff))
    return counts


def _accumulate(confusion: np.ndarray, labels: np.ndarray, pred: np.ndarray) -> None:
    """Adds each example once; a non-finite prediction (-1) lands in the label's row as
    a miss on column 0 unless the label is 0, then on column 1 (still wrong)."""
    classes = confusion.shape[0]
    wrong_col = np.where(labels == 0, 1 % classes, 0)
    cols = np.where(pred < 0, wrong_col, pred)
    np.add.at(confusion, (labels, cols), 1)


def _ratio(num: float, den: float) -> float:
    return num / den if den else math.nan


def summarize(counts: Counts) -> dict:
    n = counts.n
    acc_q = _ratio(np.trace(counts.confusion_quant), n)
    acc_f = _ratio(np.trace(counts.confusion_float), n)
    drop = acc_f - acc_q
    return {
        "examples": n,
        "correct_quant": int(np.trace(counts.confusion_quant)),
        "correct_float": int(np.trace(counts.confusion_float)),
        "accuracy_quant": acc_q,
        "accuracy_float": acc_f,
        "absolute_drop": drop,
        "relative_drop": _ratio(drop, acc_f) if acc_f else math.nan,
        "agreement": _ratio(counts.agree, n),
        "nonfinite_quant": counts.nonfinite_quant,
        "nonfinite_float": counts.nonfinite_float,
        "per_class_accuracy_quant": _per_class(counts.confusion_quant),
        "per_class_accuracy_float": _per_class(counts.confusion_float),
    }


def _per_class(confusion: np.ndarray) -> list[float | None]:
    rows = confusion.sum(axis=1)
    return [float(confusion[i, i] / rows[i]) if rows[i] else None for i in range(len(rows))]
