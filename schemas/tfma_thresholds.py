"""TFMA thresholds and slices as tfx-edge's: a tfma.MetricThreshold's value_threshold and
change_threshold as MetricThreshold limits (`_change_limits` documents TFMA's sign conventions), the
merge of two thresholds on one metric and slice, and the slice a SlicingSpec names (`_Target`, a
single feature's or a crossed slice's). Pure: no TensorFlow, no TFMA import.
"""

from __future__ import annotations

import dataclasses
from typing import Any, Mapping

from tfx_edge.schemas import metric_table
from tfx_edge.schemas.evaluation import MetricThreshold
from tfx_edge.schemas.metric_table import HIGHER
from tfx_edge.schemas.tfma_proto import METRIC_THRESHOLD, _as_dict, _normalize, _refuse, is_message

def _change_limits(change: Mapping[str, Any], path: str, metric: str) -> dict[str, float]:
    """max_absolute_drop / max_relative_drop of a GenericChangeThreshold, exactly.

    TFMA 0.52 (evaluators/metrics_validator.py, validate_metrics._check_threshold) compares
    diff = candidate - baseline (evaluators/metrics_plots_and_validations_evaluator.py,
    add_diff_metrics), inclusively:
      HIGHER_IS_BETTER: passes iff diff >= absolute and diff / baseline >= relative
      LOWER_IS_BETTER:  passes iff diff <= absolute and diff / baseline <= relative
    (the ratio is NaN, so the check fails, when the baseline is exactly 0). tfx-edge's drop is how much
    worse the candidate is (components/core/metrics.py `drops`): baseline - candidate for HIGHER,
    candidate - baseline for LOWER, relative drop = drop / |baseline|, passing iff drop <= max (inclusive,
    components/core/gate.py). For HIGHER, diff >= a  <=>  -(diff) <= -a  <=>  drop <= -a, so
    max_absolute_drop = -a (TFX's taxi absolute -1e-10: the candidate may be 1e-10 worse). For LOWER,
    diff <= a  <=>  drop <= a, so max_absolute_drop = a. Relative: tfx-edge's metrics are >= 0, so a
    baseline is > 0 (or 0, above) and |baseline| = baseline: the same algebra gives max_relative_drop =
    -relative (HIGHER) or relative (LOWER). IEEE subtraction and division are sign-symmetric, so the two
    comparisons decide the same for every value, not only approximately (tests/test_tfma_config.py runs
    TFMA's validator against the gate). A threshold that asks the candidate to beat its reference (a
    negative limit) is refused: a drop limit is >= 0.
    """
    ours = metric_table.direction(metric)
    if metric_table.get(metric) is None:
        _refuse(path, metric, f"{metric!r} is not a tfx-edge metric name, so its direction is not known; key the "
                "threshold by tfx-edge's name (e.g. 'binary_accuracy' for TFMA's BinaryAccuracy, "
                "schemas/metric_table.py)")
    if ours is None:
        _refuse(path, dict(change), f"{metric!r} has no better side (a calibration, mean or count), so a change "
                "against the float32 reference means nothing; bound its value with value_threshold")
    direction = change.get("direction", "UNKNOWN")
    table = "HIGHER_IS_BETTER" if ours == HIGHER else "LOWER_IS_BETTER"
    if direction != table:
        _refuse(f"{path}.direction", direction, f"{metric!r} is {table} (schemas/metric_table.py); set direction "
                f"{table}" + ("" if direction == "UNKNOWN" else f", not {direction}"))
    if "absolute" not in change and "relative" not in change:
        _refuse(path, dict(change), "set absolute or relative: a change threshold with neither passes every model")
    out = {}
    for kind in ("absolute", "relative"):
        if kind in change:
            limit = (-change[kind] if ours == HIGHER else change[kind]) + 0.0   # + 0.0: no -0.0
            if limit < 0:
                _refuse(f"{path}.{kind}", change[kind], f"it asks the quantized model to beat its float32 reference "
                        f"by {abs(limit):g}; tfx-edge limits how much worse it may be: use "
                        + ("<= 0 for HIGHER_IS_BETTER (e.g. -0.01: at most 0.01 worse)" if ours == HIGHER else
                        ">= 0 for LOWER_IS_BETTER (e.g. 0.01: at most 0.01 worse)"))
            out[f"max_{kind}_drop"] = limit
    return out


def _limits(threshold: Mapping[str, Any], path: str, metric: str) -> dict[str, float]:
    """The MetricThreshold fields of a tfma.MetricThreshold (dict form) for tfx-edge's `metric`."""
    out: dict[str, float] = {}
    if "value_threshold" in threshold:
        value = threshold["value_threshold"]
        if not value:
            _refuse(f"{path}.value_threshold", value, "set lower_bound or upper_bound: an empty value threshold "
                    "passes every model")
        out.update({k: value[k] for k in ("lower_bound", "upper_bound") if k in value})
    if "change_threshold" in threshold:
        out.update(_change_limits(threshold["change_threshold"], f"{path}.change_threshold", metric))
    return out


def metric_threshold(threshold: Any, metric: str, path: str) -> MetricThreshold:
    """Our MetricThreshold for tfx-edge's metric `metric` from a tfma.MetricThreshold (the proto, or its
    dict form); what Thresholds / SliceThreshold do with a tfma.MetricThreshold given in their metrics."""
    limits = _limits(_normalize(_as_dict(threshold, "MetricThreshold"), "MetricThreshold", path), path, metric)
    if not limits:
        _refuse(path, threshold, "set value_threshold or change_threshold")
    return _threshold(limits)


def _threshold(limits: Mapping[str, float]) -> MetricThreshold:
    return MetricThreshold(max_absolute_drop=limits.get("max_absolute_drop"),
                           max_relative_drop=limits.get("max_relative_drop"),
                           lower_bound=limits.get("lower_bound"), upper_bound=limits.get("upper_bound"))


def native_thresholds(metrics: Any, path: str) -> Any:
    """`metrics` (a metric name -> threshold mapping) with every tfma.MetricThreshold proto in it converted;
    anything else is returned as it is (the strict field check then judges it)."""
    if not isinstance(metrics, Mapping) or not any(is_message(t, METRIC_THRESHOLD) for t in metrics.values()):
        return metrics
    return {name: metric_threshold(t, str(name), f"{path}[{name!r}]") if is_message(t, METRIC_THRESHOLD) else t
            for name, t in metrics.items()}


def _merge(a: dict[str, float], b: dict[str, float]) -> dict[str, float]:
    """Both thresholds at once (TFMA checks each; every check must pass): the tighter limit of each."""
    out = dict(a)
    for key, value in b.items():
        if key not in out:
            out[key] = value
        else:
            out[key] = max(out[key], value) if key == "lower_bound" else min(out[key], value)
    return out


@dataclasses.dataclass
class _Gate:
    limits: dict[str, float]
    paths: list[str]


def _kwargs(limits: Mapping[str, float]) -> str:
    return ", ".join(f"{k}={v!r}" for k, v in limits.items())


# A SlicingSpec's slice: its features sorted by name (as TFMA's slice keys are) and, per feature, the value
# feature_values fixes or None (feature_keys: every value). One feature is a single slice, more a cross.
_Target = tuple[tuple[str, ...], tuple[str | None, ...]]


def _slice(spec: Mapping[str, Any], path: str) -> _Target | None:
    """The slice of a SlicingSpec: None (overall) or its _Target."""
    if "slice_keys_sql" in spec:
        _refuse(f"{path}.slice_keys_sql", spec["slice_keys_sql"], "SQL slices are not supported; slice by features: "
                "feature_keys=['f'] (or ['a', 'b'], crossed) and feature_values={'f': 'v'}")
    keys, values = spec.get("feature_keys", []), spec.get("feature_values", {})
    if len(set(keys)) != len(keys):
        _refuse(f"{path}.feature_keys", keys, "name each feature once")
    both = sorted(set(keys) & set(values))
    if both:
        _refuse(path, dict(spec), f"{both[0]!r} is in both feature_keys and feature_values (TFMA's slicer refuses "
                "that too); keep it in feature_keys (every value) or in feature_values (one value)")
    columns = sorted([(k, None) for k in keys] + list(values.items()))
    return (tuple(f for f, _ in columns), tuple(v for _, v in columns)) if columns else None


def _native(target: _Target) -> tuple[str | tuple[str, ...], str | tuple[str | None, ...] | None]:
    """A _Target as SliceThreshold (feature, value): a name and its value, or a cross and its values
    (None when every one is None: every combination)."""
    features, values = target
    if len(features) == 1:
        return features[0], values[0]
    return features, None if all(v is None for v in values) else values
