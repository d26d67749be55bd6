"""Typed configuration of the EdgeEvaluator and of the gate it applies."""

from __future__ import annotations

import dataclasses
import math

from schemas import _strict
from schemas._strict import fail


@dataclasses.dataclass(frozen=True)
class Thresholds:
    """When the quantized model may be pushed. Unset (None) limits are not checked,
    but at least one accuracy limit must be set: a gate without one would bless anything.

    Drops are measured against the float32 TFLite reference of the same model:
    absolute drop = float_acc - quant_acc; relative drop = absolute drop / float_acc.
    """

    max_absolute_drop: float | None = None
    max_relative_drop: float | None = None
    min_accuracy: float | None = None
    max_model_bytes: int | None = None
    max_latency_us: float | None = None

    def __post_init__(self) -> None:
        for name in ("max_absolute_drop", "max_relative_drop", "min_accuracy"):
            value = getattr(self, name)
            if value is not None and not (math.isfinite(value) and 0.0 <= value <= 1.0):
                fail(f"thresholds.{name}", value, "use a fraction between 0 and 1 (0.01 = 1 point)")
        if (self.max_absolute_drop, self.max_relative_drop, self.min_accuracy) == (None,) * 3:
            fail("thresholds", self, "set at least one of max_absolute_drop, max_relative_drop, "
                 "min_accuracy; a gate without an accuracy limit would bless any model")
        if self.max_model_bytes is not None and self.max_model_bytes < 1:
            fail("thresholds.max_model_bytes", self.max_model_bytes, "use a positive byte count")
        if self.max_latency_us is not None and not self.max_latency_us > 0:
            fail("thresholds.max_latency_us", self.max_latency_us, "use a positive number of microseconds")


@dataclasses.dataclass(frozen=True)
class EvaluationConfig(_strict.JsonConfig):
    """What the EdgeEvaluator measures and how."""

    thresholds: Thresholds
    label_feature: str = "label"
    output_name: str | None = None
    split: str = "eval"
    batch_size: int = 256
    input_mapping: dict[str, str] | None = None
    latency_runs: int = 200
    num_threads: int = 1

    def __post_init__(self) -> None:
        if self.batch_size < 1:
            fail("batch_size", self.batch_size, "use a batch size >= 1")
        if self.latency_runs < 0:
            fail("latency_runs", self.latency_runs, "use 0 (skip) or a positive count")
        if self.thresholds.max_latency_us is not None and self.latency_runs < 1:
            fail("latency_runs", self.latency_runs, "a latency budget needs latency_runs >= 1")
        if self.num_threads < 1:
            fail("num_threads", self.num_threads, "use at least 1 thread")
        if not self.label_feature:
            fail("label_feature", self.label_feature, "name the Example feature holding the label")


__all__ = ["EvaluationConfig", "Thresholds"]
