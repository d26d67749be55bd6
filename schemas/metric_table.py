"""The metrics, in one table: name, which direction is better, tasks, and how they may be used.

Pure data (no TensorFlow). The EvaluationConfig (schemas/evaluation.py) accepts the
table's names for its task, AutoConfig.metric (schemas/quantization.py) the entries with
`auto`, the gate (components/core/gate.py) refuses drop limits on `pair` metrics, and
components/core/metrics.py computes them and reads their directions for the drops.

Adding a metric = its `METRICS` entry here, and computing it in components/core/metrics.py
(tests/test_metric_table.py checks that every accepted name is computed).
"""

from __future__ import annotations

import dataclasses
import enum
import functools
import re


class Task(str, enum.Enum):
    CLASSIFICATION = "classification"
    REGRESSION = "regression"


HIGHER = "higher"
LOWER = "lower"
# <k>: one name per EvaluationConfig.top_k; <i>: per class index; <t>: per binary_thresholds value
# <b>: per class of EvaluationConfig.binarize.class_ids (one-vs-rest)
_PLACEHOLDERS = {"<k>": r"(\d+)", "<i>": r"(\d+)", "<t>": r"(\d+(?:\.\d+)?)", "<b>": r"(\d+)"}


@dataclasses.dataclass(frozen=True)
class Metric:
    """One metric, or a family of names when `name` holds a placeholder.

    name: e.g. "accuracy"; "top_<k>_accuracy" (one per configured k) or "precision_class_<i>"
      (any class index).
    direction: HIGHER or LOWER is better; None for a metric with no better side (calibration, a
      count): bounds apply to it, drops do not.
    tasks: the tasks that compute it.
    pair: compares the quantized model with its reference (agreement, largest output
      difference): a value of its own, so bounds apply and drops do not.
    auto: may be the metric of mode 'auto' (AutoConfig.metric).
    needs_output_kind: computed only when the classification output kind is known (the loss).
    upper: the largest value the metric can take (1.0 for fractions, None: unbounded); every
      metric is >= 0. Thresholds that can never pass or always pass are refused with it.
    binary: computed for a binary output only (two classes: one unit, or two), from TFMA's
      statistics (components/core/binary_scoring.py); weighted with example_weight_key.
    interval: its drop gets a 95% confidence interval (components/core/paired.py): a mean over
      examples from the paired differences; a ratio of sums (precision, recall, F1, a binary
      metric at another threshold, weighted binary metrics) by the delta method. Not AUC.
    binarized: one class of a multi-class output against the rest (`<metric>/class_<b>`) or an average
      over classes (`<metric>/micro`, `/macro`, `/weighted_macro`), computed only for the classes and
      averages of EvaluationConfig.binarize (TFMA's MetricsSpec.binarize / aggregate).
    """

    name: str
    direction: str | None
    tasks: frozenset
    pair: bool = False
    auto: bool = False
    needs_output_kind: bool = False
    upper: float | None = 1.0
    binary: bool = False
    interval: bool = False
    binarized: bool = False

    @property
    def placeholder(self) -> str | None:
        return next((p for p in _PLACEHOLDERS if p in self.name), None)

    @functools.cached_property
    def pattern(self) -> re.Pattern | None:
        """The regular expression of a family's names (None for a plain name)."""
        if self.placeholder is None:
            return None
        before, after = self.name.split(self.placeholder)
        return re.compile(re.escape(before) + _PLACEHOLDERS[self.placeholder] + re.escape(after) + "$")

    def expand(self, n: float) -> str:
        """A family's name for k, class index or threshold n."""
        if self.placeholder is None:
            raise ValueError(f"metric {self.name!r} is not a family (no placeholder to expand)")
        return self.name.replace(self.placeholder, format(n, "g"))


_C, _R = Task.CLASSIFICATION, Task.REGRESSION
_BOTH = frozenset({_C, _R})

# The binary metrics TFMA binarizes per class and averages over classes; '/' is in no other metric name, so
# `<metric>/class_<b>` and `<metric>/<average>` never collide with `precision_class_<i>` or `precision@<t>`.
BINARIZABLE = {"auc": HIGHER, "auc_precision_recall": HIGHER, "binary_accuracy": HIGHER, "precision": HIGHER,
               "recall": HIGHER, "f1_score": HIGHER, "mean_squared_error": LOWER, "calibration": None,
               "mean_prediction": None, "mean_label": None}
AVERAGES = ("micro", "macro", "weighted_macro")   # TFMA's micro_average, macro_average, weighted_macro_average
CLASS_SUFFIX = "/class_"


def _binarized() -> tuple:
    return tuple(Metric(f"{base}{suffix}", better, frozenset({_C}), needs_output_kind=True, binarized=True,
                        upper=None if base == "calibration" else 1.0)
                 for base, better in BINARIZABLE.items()
                 for suffix in (CLASS_SUFFIX + "<b>", *(f"/{a}" for a in AVERAGES)))

METRICS: dict[str, Metric] = {m.name: m for m in (
    Metric("accuracy", HIGHER, frozenset({_C}), auto=True, interval=True),
    Metric("top_<k>_accuracy", HIGHER, frozenset({_C}), interval=True),
    Metric("macro_precision", HIGHER, frozenset({_C})),
    Metric("macro_recall", HIGHER, frozenset({_C})),
    Metric("precision_class_<i>", HIGHER, frozenset({_C})),
    Metric("recall_class_<i>", HIGHER, frozenset({_C})),
    Metric("loss", LOWER, frozenset({_C}), auto=True, needs_output_kind=True, upper=None, interval=True),
    Metric("mae", LOWER, frozenset({_R}), auto=True, upper=None, interval=True),
    Metric("rmse", LOWER, frozenset({_R}), auto=True, upper=None),
    # A binary output's metrics, as TFMA names them (its default threshold 0.5; <t>: binary_thresholds).
    Metric("binary_accuracy", HIGHER, frozenset({_C}), needs_output_kind=True, binary=True, interval=True),
    *(Metric(name, HIGHER, frozenset({_C}), needs_output_kind=True, binary=True) for name in (
        "auc", "auc_precision_recall")),
    *(Metric(name, HIGHER, frozenset({_C}), needs_output_kind=True, binary=True, interval=True) for name in (
        "precision", "recall", "f1_score", "binary_accuracy@<t>", "precision@<t>", "recall@<t>", "f1_score@<t>")),
    Metric("mean_squared_error", LOWER, frozenset({_C}), needs_output_kind=True, binary=True,   # Brier score
           interval=True),
    Metric("calibration", None, frozenset({_C}), needs_output_kind=True, upper=None, binary=True),
    Metric("mean_prediction", None, frozenset({_C}), needs_output_kind=True, binary=True),
    Metric("mean_label", None, frozenset({_C}), needs_output_kind=True, binary=True),
    Metric("example_count", None, frozenset({_C}), needs_output_kind=True, upper=None, binary=True),
    Metric("weighted_example_count", None, frozenset({_C}), needs_output_kind=True, upper=None, binary=True),
    *_binarized(),
    Metric("agreement", HIGHER, frozenset({_C}), pair=True),       # quantized vs a reference (no drop)
    Metric("max_output_diff", LOWER, _BOTH, pair=True, upper=None),
)}

TOP_K_ACCURACY = "top_<k>_accuracy"
PRECISION_CLASS = "precision_class_<i>"
RECALL_CLASS = "recall_class_<i>"

# Plain views of the table.
METRIC_DIRECTIONS = {n: m.direction for n, m in METRICS.items() if m.placeholder is None and not m.binarized}
BINARY_METRICS = frozenset(n for n, m in METRICS.items() if m.binary)
PAIR_METRICS = frozenset(n for n, m in METRICS.items() if m.pair)


def get(name: str) -> Metric | None:
    """The entry of a metric name (a family's entry for e.g. 'top_3_accuracy'), else None."""
    if name in METRICS:
        return METRICS[name]
    return next((m for m in METRICS.values() if m.pattern is not None and m.pattern.match(name)), None)


def direction(name: str) -> str | None:
    """HIGHER or LOWER for a known metric name, else None."""
    entry = get(name)
    return entry.direction if entry is not None else None


def expand(family: str, n: int) -> str:
    """The name of member n of a family, e.g. expand(TOP_K_ACCURACY, 3) == 'top_3_accuracy'."""
    return METRICS[family].expand(n)


def auto_metrics() -> tuple[str, ...]:
    """The names AutoConfig.metric accepts, in table order."""
    return tuple(n for n, m in METRICS.items() if m.auto)


def binarized(name: str, class_id: int) -> str:
    """A binary metric of class class_id against the rest, e.g. 'auc/class_3'."""
    return METRICS[f"{name}{CLASS_SUFFIX}<b>"].expand(class_id)


def averaged(name: str, average: str) -> str:
    """A binary metric averaged over classes, e.g. 'precision/macro'."""
    return METRICS[f"{name}/{average}"].name


def split_binarized(name: str) -> tuple[str, int | None, str | None]:
    """(base metric, class id or None, average or None) of a name; (name, None, None) if not binarized."""
    entry = get(name)
    if entry is None or not entry.binarized:
        return name, None, None
    base, _, rest = name.partition("/")
    if rest.startswith(CLASS_SUFFIX[1:]):
        return base, int(rest[len(CLASS_SUFFIX) - 1:]), None
    return base, None, rest


def at_threshold(name: str, threshold: float) -> str:
    """The name of a binary metric at a threshold other than 0.5, e.g. 'precision@0.3'."""
    return METRICS[f"{name}@<t>"].expand(threshold)


def task_names(task, top_k=(), output_kind=None, binary_thresholds=()) -> set[str]:
    """The plain metric names a task computes: top-k names for the configured k, binary metrics
    at each binary threshold; without an output kind, no metric that needs one. Per-class families
    are matched by `per_class`."""
    task = Task(task)
    names = set()
    counts = {"<k>": top_k, "<t>": binary_thresholds}
    for name, m in METRICS.items():
        if task not in m.tasks or (m.needs_output_kind and output_kind is None) or m.binarized:
            continue
        if m.placeholder is None:
            names.add(name)
        elif m.placeholder in counts:
            names |= {m.expand(n) for n in counts[m.placeholder]}
    return names


def per_class_families(task) -> tuple[str, ...]:
    """The per-class families of a task (any class index), e.g. 'precision_class_<i>'."""
    return tuple(n for n, m in METRICS.items() if m.placeholder == "<i>" and Task(task) in m.tasks)


def per_class(task, name: str) -> bool:
    """Whether name is a member of one of the task's per-class families."""
    return any((pattern := METRICS[f].pattern) is not None and pattern.match(name)
               for f in per_class_families(task))


__all__ = ["AVERAGES", "BINARIZABLE", "HIGHER", "LOWER", "METRICS", "averaged", "binarized", "split_binarized",
           "METRIC_DIRECTIONS", "Metric", "PAIR_METRICS", "Task", "auto_metrics",
           "direction", "expand", "get", "per_class", "per_class_families", "task_names"]
