"""The blessing decision: thresholds over measured figures, failing closed."""

from __future__ import annotations

import dataclasses
import math
from typing import Any, Mapping

from schemas.evaluation import Thresholds


@dataclasses.dataclass(frozen=True)
class Check:
    name: str
    value: Any
    limit: Any
    passed: bool
    detail: str


def _finite(value: Any) -> bool:
    return isinstance(value, (int, float)) and math.isfinite(value)


def _limit(name: str, value: Any, limit: float | None, upper: bool, what: str) -> Check | None:
    if limit is None:
        return None
    if not _finite(value):
        return Check(name, value, limit, False, f"{what} was not measured (got {value!r}): fail closed")
    ok = value <= limit if upper else value >= limit
    sign = "<=" if upper else ">="
    return Check(name, value, limit, ok, f"{what} {value:.6g} {sign} {limit:.6g}" + ("" if ok else ": FAILED"))


def decide(summary: Mapping[str, Any], thresholds: Thresholds, model_bytes: int | None,
           latency_us: float | None, float_blessed: bool | None) -> tuple[bool, list[Check]]:
    """(blessed, checks). Blessed only if every check ran and passed."""
    checks = [_examples_check(summary), _finite_check(summary)]
    if float_blessed is not None:
        checks.append(Check("float_model_blessed", float_blessed, True, bool(float_blessed),
                            "the float model's Evaluator blessing" +
                            (" is BLESSED" if float_blessed else " is NOT_BLESSED: FAILED")))
    t = thresholds
    optional = [
        _limit("max_absolute_drop", summary.get("absolute_drop"), t.max_absolute_drop, True,
               "accuracy drop (float - quantized)"),
        _limit("max_relative_drop", summary.get("relative_drop"), t.max_relative_drop, True,
               "relative accuracy drop"),
        _limit("min_accuracy", summary.get("accuracy_quant"), t.min_accuracy, False,
               "quantized accuracy"),
        _limit("max_model_bytes", model_bytes, t.max_model_bytes, True, "model size in bytes"),
        _limit("max_latency_us", latency_us, t.max_latency_us, True, "median latency (us)"),
    ]
    checks += [c for c in optional if c is not None]
    return all(c.passed for c in checks), checks


def _examples_check(summary: Mapping[str, Any]) -> Check:
    n = summary.get("examples", 0)
    ok = isinstance(n, int) and n > 0
    return Check("examples", n, "> 0", ok, f"{n} examples evaluated" + ("" if ok else ": FAILED (empty split)"))


def _finite_check(summary: Mapping[str, Any]) -> Check:
    bad = int(summary.get("nonfinite_quant", 0)) + int(summary.get("nonfinite_float", 0))
    metrics_ok = all(_finite(summary.get(k)) for k in ("accuracy_quant", "accuracy_float"))
    ok = bad == 0 and metrics_ok
    detail = (f"{bad} example(s) with NaN/inf outputs" if bad else "all outputs finite")
    if not metrics_ok:
        detail += "; accuracy could not be computed"
    return Check("finite_outputs", bad, 0, ok, detail + ("" if ok else ": FAILED"))
