"""Confidence intervals of drops from paired per-example differences (pure numpy).

For a metric that is a mean over examples of a per-example value (accuracy and top-k accuracy:
1 when right; loss: the example's cross-entropy; a binary output's binary_accuracy and
mean_squared_error; mae), the drop against a reference is the mean of the paired differences
d = reference value - candidate value (candidate - reference for a lower-is-better metric), taken
on the same examples. Its 95% confidence interval is mean(d) +- 1.96 * sd(d) / sqrt(n) (the
normal approximation; with a few hundred examples it is the honest resolution of a drop: one
example of 360 is 0.28 points). For a right/wrong metric (accuracy, top-k accuracy,
binary_accuracy) d is -1, 0 or 1 and the interval is Agresti and Min's for paired proportions
(0.5 added to each cell of the 2x2 table): unlike the plain normal interval it does not
collapse to [0, 0] when the two models agree on every example (360 agreeing examples: about
+-0.54 points). The statistics (n, sum d, sum d^2) are additive, so intervals are
identical on every runner. Ratio metrics (precision, recall, F1, weighted binary metrics) get the
delta method's interval (below); AUC gets none.
"""

from __future__ import annotations

import math
from typing import Mapping, Sequence

import numpy as np

from tfx_edge.schemas import metric_table

Z_95 = 1.959963984540054


def correct(labels: np.ndarray, scores: np.ndarray, k: int | None = None) -> np.ndarray:
    """1.0 where the example counts as right, exactly as metrics.classification_stats counts it (a
    non-finite row is a miss): k=None, accuracy: the label is the argmax (the first of tied top
    scores, as Keras and TFMA count; int8 outputs tie often); k: top-k accuracy, the label's
    score has fewer than k scores above it (ties count in, as tf.math.in_top_k)."""
    finite = np.isfinite(scores).all(axis=1)
    if k is None:
        return (finite & (np.argmax(scores, axis=1) == labels)).astype(np.float64)
    label_score = scores[np.arange(len(labels)), labels]
    rank = np.sum(scores > label_score[:, None], axis=1)
    return (finite & (rank < k)).astype(np.float64)


def stats(candidate: Mapping[str, np.ndarray], reference: Mapping[str, np.ndarray]) -> dict:
    """{metric: {"n", "sum", "sq"}} of the direction-aware paired differences (positive: worse)."""
    out = {}
    for name in sorted(set(candidate) & set(reference)):
        d = reference[name] - candidate[name]
        if metric_table.direction(name) == metric_table.LOWER:
            d = -d
        d = d[np.isfinite(d)]
        out[name] = {"n": int(d.size), "sum": float(np.sum(d)), "sq": float(np.sum(d * d))}
    return out


def interval(summed: Mapping, right_or_wrong: bool = False) -> tuple[float | None, float | None]:
    """The 95% interval of the mean paired difference (None for fewer than two examples)."""
    n = summed["n"]
    if n < 2:
        return None, None
    if right_or_wrong:
        worse, better = (summed["sq"] + summed["sum"]) / 2, (summed["sq"] - summed["sum"]) / 2   # discordant pairs
        p_worse, p_better = (worse + 0.5) / (n + 2), (better + 0.5) / (n + 2)
        mean = p_worse - p_better
        half = Z_95 * math.sqrt(max(p_worse + p_better - mean * mean, 0.0) / (n + 2))
        return mean - half, mean + half
    mean = summed["sum"] / n
    variance = max(summed["sq"] - n * mean * mean, 0.0) / (n - 1)
    half = Z_95 * math.sqrt(variance / n)
    return mean - half, mean + half


# --- ratio metrics: the delta method over paired per-example parts ------------------------------
#
# A ratio metric (precision = sum(w y pos) / sum(w pos), recall, F1, a weighted mean) is a ratio of
# two means over the same examples; its drop against a reference, num_r/den_r - num_c/den_c (the
# other way round for a lower-is-better metric), has the delta-method variance g' S g / n, where S
# is the sample covariance of the per-example (num_r, den_r, num_c, den_c) and g the drop's
# gradient at their means. The sums behind S (n, the four sums, their 16 cross products) are
# additive, so these intervals are identical on every runner too. Not AUC: its variance (DeLong's)
# needs the ranks of every example, which no additive statistic of this size carries.

Parts = Mapping[str, tuple[np.ndarray, np.ndarray]]   # metric -> (per-example numerator, denominator)


def ratio_rows(candidate: Parts, reference: Parts) -> tuple[tuple[str, ...], np.ndarray]:
    """The metrics both models have, and x = (num_ref, den_ref, num_cand, den_cand) per example and
    metric: an array [examples, metrics, 4], built once per batch for every slice's ratio_stats."""
    names = tuple(sorted(set(candidate) & set(reference)))
    if not names:
        return names, np.zeros((0, 0, 4))
    x = np.stack([np.stack([*reference[n], *candidate[n]], axis=1) for n in names], axis=1)
    return names, x.astype(np.float64)


def ratio_stats(names: tuple[str, ...], rows: np.ndarray, masks: Sequence[np.ndarray]) -> list[dict]:
    """For each mask (a slice): {metric: {"n", "s" [4], "q" [4, 4]}} of ratio_rows' x over its rows. Every
    slice's sums come from one product with the slices' membership matrix (a loop over slices cost a
    few numpy calls per slice, metric and batch)."""
    if not names:
        return [{} for _ in masks]
    # slices x rows, C-contiguous: a transposed operand sent OpenBLAS's threaded path to 20x the time
    member = np.stack(list(masks), axis=0).astype(np.float64)
    n, metrics = rows.shape[0], len(names)
    sums = (member @ rows.reshape(n, -1)).reshape(-1, metrics, 4)
    products = (member @ (rows[:, :, :, None] * rows[:, :, None, :]).reshape(n, -1)).reshape(-1, metrics, 4, 4)
    counts = member.sum(axis=1).astype(int)
    return [{name: {"n": int(counts[k]), "s": sums[k, i], "q": products[k, i]} for i, name in enumerate(names)}
            for k in range(member.shape[0])]


def ratio_interval(summed: Mapping, name: str) -> tuple[float | None, float | None]:
    """The 95% delta-method interval of a ratio metric's direction-aware drop (None when fewer than two
    examples or a denominator sums to 0)."""
    n = summed["n"]
    s, q = np.asarray(summed["s"], np.float64), np.asarray(summed["q"], np.float64)
    if n < 2 or s[1] == 0 or s[3] == 0:
        return None, None
    mean = s / n
    a, b, c, d = mean
    drop = a / b - c / d
    gradient = np.array([1 / b, -a / (b * b), -1 / d, c / (d * d)])
    if metric_table.direction(name) == metric_table.LOWER:
        drop, gradient = -drop, -gradient
    covariance = (q - n * np.outer(mean, mean)) / (n - 1)
    half = Z_95 * math.sqrt(max(float(gradient @ covariance @ gradient), 0.0) / n)
    return drop - half, drop + half
