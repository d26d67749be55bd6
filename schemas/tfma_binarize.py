"""A MetricsSpec's binarize / aggregate (TFMA's one-vs-rest binarization and averages over classes) as
EvaluationConfig.binarize, and the tfx-edge names a binarized spec's metric gates. Pure: no TFMA import.

TFMA 0.52 computes, per MetricsSpec, each metric for every binarize.class_ids entry (keyed sub_key
{class_id}) and for the one aggregate it reads (metric_specs._aggregation_type: the first of micro_average,
macro_average, weighted_macro_average), and applies a MetricConfig's threshold to each of those keys.
macro averages are over class_weights' classes (without class_weights TFMA raises).
"""

from __future__ import annotations

from typing import Any, Mapping

from tfx_edge.schemas import metric_table
from tfx_edge.schemas.tfma_proto import _refuse

_AVERAGES = {"micro_average": "micro", "macro_average": "macro", "weighted_macro_average": "weighted_macro"}


class OneVsRest:
    """The binarize / aggregate of every MetricsSpec, merged into one EvaluationConfig.binarize."""

    def __init__(self) -> None:
        self.class_ids: list[int] = []
        self.averages: list[str] = []
        self.class_weights: dict[int, float] | None = None
        self.weights_path = ""

    def spec(self, spec: Mapping[str, Any], path: str) -> tuple[tuple[int, ...], str | None]:
        """(class ids, average or None) of one MetricsSpec."""
        ids = tuple(int(c) for c in self._binarize(spec.get("binarize"), f"{path}.binarize"))
        average = self._aggregate(spec.get("aggregate"), f"{path}.aggregate")
        self.class_ids += [c for c in ids if c not in self.class_ids]
        if average is not None and average not in self.averages:
            self.averages.append(average)
        return ids, average

    @staticmethod
    def _binarize(options: Mapping[str, Any] | None, path: str) -> list:
        if not options:
            return []
        for key in ("k_list", "top_k_list"):
            if key in options:
                _refuse(f"{path}.{key}", options[key], "top-k / k-th binarization is not supported; binarize "
                        "class_ids (top-k accuracy: SparseTopKCategoricalAccuracy with k)")
        return list(options.get("class_ids", {}).get("values", []))

    def _aggregate(self, options: Mapping[str, Any] | None, path: str) -> str | None:
        if not options:
            return None
        if "top_k_list" in options:
            _refuse(f"{path}.top_k_list", options["top_k_list"], "top-k averages are not supported; remove it")
        chosen = [key for key in _AVERAGES if options.get(key)]
        if len(chosen) != 1:
            _refuse(path, dict(options), "set one of micro_average, macro_average, weighted_macro_average per "
                    "MetricsSpec (TFMA 0.52 computes only the first it finds): one MetricsSpec per average")
        weights = {int(c): float(w) for c, w in options.get("class_weights", {}).items()}
        if chosen[0] != "micro_average" and not weights:
            _refuse(f"{path}.class_weights", {}, f"TFMA's {chosen[0]} averages the classes of class_weights (and "
                    "fails without them): set class_weights, e.g. {0: 1.0, 1: 1.0}")
        if weights or self.class_weights is not None:
            if self.class_weights is not None and weights != self.class_weights:
                _refuse(f"{path}.class_weights", weights, f"{self.weights_path} has {self.class_weights}; tfx-edge "
                        f"weighs every average alike: use the same class_weights")
            self.class_weights, self.weights_path = weights, f"{path}.class_weights"
        return _AVERAGES[chosen[0]]

    def field(self) -> dict[str, Any] | None:
        """EvaluationConfig.binarize (its dict form), or None."""
        if not self.class_ids and not self.averages:
            return None
        return {"class_ids": sorted(self.class_ids), "aggregate": self.averages,
                "class_weights": [[c, w] for c, w in sorted((self.class_weights or {}).items())]}


def gated_names(name: str, class_ids: tuple[int, ...], average: str | None, path: str) -> tuple[str, ...]:
    """tfx-edge's names of a binarized spec's metric `name` (TFMA's keys: each class, then the average)."""
    if name not in metric_table.BINARIZABLE:
        _refuse(path, name, f"tfx-edge binarizes {', '.join(metric_table.BINARIZABLE)}; move this metric to a "
                f"MetricsSpec without binarize / aggregate")
    return (tuple(metric_table.binarized(name, c) for c in class_ids)
            + ((metric_table.averaged(name, average),) if average else ()))
