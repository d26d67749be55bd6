"""One-vs-rest binarization of a multi-class output and averages over classes (TFMA's
MetricsSpec.binarize and aggregate), as EvaluationConfig.binarize configures them (pure)."""

from __future__ import annotations

import dataclasses
import enum
import math

from tfx_edge.schemas import _strict, metric_table
from tfx_edge.schemas._strict import fail


class Average(str, enum.Enum):
    """An average over classes of a binarized metric (TFMA's AggregationOptions)."""

    MICRO = "micro"                    # micro_average: all classes' rows pooled into one binary problem
    MACRO = "macro"                    # macro_average: the class_weights-weighted mean of the classes' values
    WEIGHTED_MACRO = "weighted_macro"  # weighted_macro_average: each class also weighs its share of the labels


@dataclasses.dataclass(frozen=True)
class Binarize:
    """One-vs-rest binary metrics of a multi-class output (TFMA's MetricsSpec.binarize and aggregate).

    class_ids: each class c against the rest: `<metric>/class_<c>` for the binary metrics of
      metric_table.BINARIZABLE (auc, precision, ...; AUC family on the whole split only).
    aggregate: `<metric>/micro`, `/macro`, `/weighted_macro`. micro pools every class (each class's
      rows weighted by class_weights[c] when given, 0 for a class not in it); macro and weighted_macro
      average the classes of class_weights (TFMA averages over those, and needs them).
    class_weights: (class id, weight) pairs, TFMA's AggregationOptions.class_weights.
    """

    class_ids: tuple[int, ...] = ()
    aggregate: tuple[Average, ...] = ()
    class_weights: tuple[tuple[int, float], ...] = ()

    def __post_init__(self) -> None:
        object.__setattr__(self, "class_ids", tuple(self.class_ids))
        object.__setattr__(self, "aggregate", _strict._coerce(tuple[Average, ...], self.aggregate, "aggregate"))
        object.__setattr__(self, "class_weights", tuple((int(c), float(w)) for c, w in self.class_weights))
        _strict.check_fields(self, "Binarize")

    @property
    def weights(self) -> dict[int, float]:
        return dict(self.class_weights)

    def classes(self) -> tuple[int, ...]:
        """The classes whose binarized statistics are gathered: class_ids, then those a macro average needs."""
        macro = any(a != Average.MICRO for a in self.aggregate)
        return tuple(dict.fromkeys(self.class_ids + (tuple(self.weights) if macro else ())))

    def names(self) -> set[str]:
        """The metric names it computes."""
        out = {metric_table.binarized(m, c) for m in metric_table.BINARIZABLE for c in self.class_ids}
        return out | {metric_table.averaged(m, a.value) for m in metric_table.BINARIZABLE for a in self.aggregate}

    def validate(self) -> None:
        if not self.class_ids and not self.aggregate:
            fail("binarize", self, "set class_ids (e.g. (0, 3)) or aggregate (e.g. ('micro',)), or binarize=None")
        for field, values in (("class_ids", self.class_ids), ("class_weights", [c for c, _ in self.class_weights])):
            if any(c < 0 for c in values) or len(set(values)) != len(values):
                fail(f"binarize.{field}", list(values), "use distinct class ids >= 0")
        if len(set(self.aggregate)) != len(self.aggregate):
            fail("binarize.aggregate", [a.value for a in self.aggregate], "list each average once")
        if any(not (math.isfinite(w) and w >= 0) for _, w in self.class_weights):
            fail("binarize.class_weights", self.class_weights, "use finite weights >= 0")
        macro = [a.value for a in self.aggregate if a != Average.MICRO]
        if macro and not self.class_weights:
            fail("binarize.aggregate", macro, "TFMA's macro averages are over the classes of class_weights: set "
                 "class_weights, e.g. ((0, 1.0), (3, 1.0)) (weight 1 each for the plain mean)")
        if self.class_weights and not self.aggregate:
            fail("binarize.class_weights", self.class_weights, "class weights weigh an average: set aggregate or "
                 "remove class_weights")
