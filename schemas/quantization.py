"""Typed configuration of the Quantizer (and of the conversion it plans).

Build it in Python (`QuantizationConfig(mode=Mode.INT8, ...)`) or from a dict
(`QuantizationConfig.from_dict({...})`); both validate at once, so a bad
combination fails at pipeline construction, not hours later in a container.
"""

from __future__ import annotations

import dataclasses
import enum
import math
import os

from tfx_edge.schemas import _strict, metric_table
from tfx_edge.schemas._strict import ConfigError, fail
from tfx_edge.schemas.modes import (AEQ_PREFIX, MODES, Calibration, Mode, Technique, auto_candidates,
                                    candidate_mode, modes_where, refined_mode)


IO_DTYPES = ("float32", "int8", "uint8")


class Placement(str, enum.Enum):
    """Where a Transform (inside a serialized-Example signature) goes.

    EMBEDDED: the .tflite takes the raw features and runs the preprocessing itself.
    TRANSFORMED: the .tflite takes Transform's outputs; wire Transform's
      transformed_examples into the EdgeEvaluator (the app applies the Transform).
    Dense signatures have nothing to place: the .tflite takes the signature's inputs.
    """

    EMBEDDED = "embedded"
    TRANSFORMED = "transformed"

# Presets shipped by ai-edge-quantizer 0.10 (functions of ai_edge_quantizer.recipe).
AEQ_PRESETS = (
    "dynamic_wi8_afp32",
    "dynamic_wi4_afp32",
    "weight_only_wi8_afp32",
    "weight_only_wi4_afp32",
    "static_wi8_ai8",
    "static_wi8_ai16",
)
AEQ_CALIBRATED_PRESETS = frozenset({"static_wi8_ai8", "static_wi8_ai16"})


@dataclasses.dataclass(frozen=True)
class CalibrationConfig:
    """Representative data for full-integer modes, sampled from the pipeline's Examples."""

    num_samples: int = 200
    seed: int = 0
    split: str = "train"

    def __post_init__(self) -> None:
        _strict.check_fields(self, "calibration")
        if self.num_samples < 1:
            fail("calibration.num_samples", self.num_samples,
                 "use at least 1 sample (a few hundred is typical)")
        if not self.split:
            fail("calibration.split", self.split, "name a split of the Examples, e.g. 'train'")
        _check_seed("calibration.seed", self.seed)


@dataclasses.dataclass(frozen=True)
class QatConfig:
    """Quantization-aware fine-tuning of the Trainer's Keras 2 (tf_keras) model."""

    epochs: int = 1
    steps_per_epoch: int | None = None
    batch_size: int = 32
    learning_rate: float = 1e-4
    split: str = "train"
    label_feature: str = "label"
    loss: str = "sparse_categorical_crossentropy"
    seed: int = 0

    def __post_init__(self) -> None:
        _strict.check_fields(self, "qat")
        if self.epochs < 1:
            fail("qat.epochs", self.epochs, "train for at least 1 epoch")
        if self.steps_per_epoch is not None and self.steps_per_epoch < 1:
            fail("qat.steps_per_epoch", self.steps_per_epoch, "use None (whole split) or >= 1")
        if self.batch_size < 1:
            fail("qat.batch_size", self.batch_size, "use a batch size >= 1")
        if not self.learning_rate > 0:
            fail("qat.learning_rate", self.learning_rate, "use a positive learning rate")
        _check_seed("qat.seed", self.seed)


@dataclasses.dataclass(frozen=True)
class AeqConfig:
    """An ai-edge-quantizer recipe: a named preset or a recipe JSON file."""

    recipe: str | None = None
    recipe_file: str | None = None
    float_scopes: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        object.__setattr__(self, "float_scopes", tuple(self.float_scopes))
        _strict.check_fields(self, "aeq")
        if (self.recipe is None) == (self.recipe_file is None):
            fail("aeq", {"recipe": self.recipe, "recipe_file": self.recipe_file},
                 "set exactly one of aeq.recipe (a preset) or aeq.recipe_file")
        if self.recipe is not None and self.recipe not in AEQ_PRESETS:
            fail("aeq.recipe", self.recipe, f"use one of {', '.join(AEQ_PRESETS)} or aeq.recipe_file")
        if self.recipe_file is not None and not _exists(self.recipe_file):
            fail("aeq.recipe_file", self.recipe_file,
                 "the file does not exist; give the path of an ai-edge-quantizer recipe JSON")
        if self.recipe_file is not None and self.float_scopes:
            fail("aeq.float_scopes", self.float_scopes,
                 "float scopes apply to presets; write them into your recipe file instead")

    @property
    def needs_calibration(self) -> bool:
        return self.recipe in AEQ_CALIBRATED_PRESETS or self.recipe_file is not None


# Candidates the auto search can try, most compressed / fastest first by default (from MODES).
# "int8_selective" keeps the worst layers of int8 in float, a few at a time.
AUTO_CANDIDATES = auto_candidates()
DEFAULT_AUTO_ORDER = auto_candidates(default_only=True)
AUTO_METRICS = metric_table.auto_metrics()


@dataclasses.dataclass(frozen=True)
class AutoConfig:
    """Accuracy-aware search: evaluate candidates on a held-out validation subset of
    `validation_split` and keep the smallest within the tolerated drop and the budgets.

    rank="size" (default) converts every candidate first to learn its size and evaluates
    them smallest first ('qat' is ranked by int8's size, as its fine-tune is expensive);
    ties keep the order of `candidates`. rank="order" evaluates them in the order of
    `candidates` and keeps the first that passes. The drop is measured against the
    float32 TFLite on the same subset, direction aware (accuracy falling, loss/mae/rmse
    rising). Set max_absolute_drop and/or max_relative_drop. "aeq:<preset>" candidates
    run an ai-edge-quantizer preset.
    """

    max_absolute_drop: float | None = None
    max_relative_drop: float | None = None
    metric: str = "accuracy"
    candidates: tuple[str, ...] = DEFAULT_AUTO_ORDER
    rank: str = "size"
    max_model_bytes: int | None = None
    max_latency_p50_us: float | None = None
    validation_split: str = "train"
    validation_fraction: float = 0.2
    max_validation_examples: int = 1000
    seed: int = 0
    max_trials: int = 12
    time_budget_s: float = 900.0
    max_float_layers: int = 8
    label_feature: str = "label"
    output_name: str | None = None
    output_kind: str | None = None
    latency_runs: int = 100
    cache_dir: str | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "candidates", tuple(self.candidates))
        _strict.check_fields(self, "auto")
        if self.max_absolute_drop is None and self.max_relative_drop is None:
            fail("auto", "no tolerance", "set auto.max_absolute_drop and/or auto.max_relative_drop "
                 "(e.g. 0.01 = one point of accuracy)")
        for name in ("max_absolute_drop", "max_relative_drop"):
            value = getattr(self, name)
            if value is not None and not (value >= 0 and value == value):
                fail(f"auto.{name}", value, "use a drop >= 0")
        if self.metric not in AUTO_METRICS:
            fail("auto.metric", self.metric, f"use one of {', '.join(AUTO_METRICS)}")
        if self.rank not in ("size", "order"):
            fail("auto.rank", self.rank, "use 'size' (evaluate the smallest converted candidate first) or "
                 "'order' (evaluate in the order of auto.candidates, keep the first that passes)")
        needs_kind = _strict.need(metric_table.get(self.metric), "auto.metric").needs_output_kind
        if needs_kind and self.output_kind not in ("probabilities", "logits"):
            fail("auto.output_kind", self.output_kind, f"metric {self.metric!r} needs 'probabilities' or 'logits'")
        self._check_candidates()
        self._check_numbers()

    def _check_candidates(self) -> None:
        if not self.candidates:
            fail("auto.candidates", self.candidates, f"list at least one of {', '.join(AUTO_CANDIDATES)}")
        for c in self.candidates:
            preset = c[len(AEQ_PREFIX):] if c.startswith(AEQ_PREFIX) else None
            if c not in AUTO_CANDIDATES and preset not in AEQ_PRESETS:
                fail("auto.candidates", c, f"use {', '.join(AUTO_CANDIDATES)} or {AEQ_PREFIX}<preset> "
                     f"with a preset of {', '.join(AEQ_PRESETS)}")
        if len(set(self.candidates)) != len(self.candidates):
            fail("auto.candidates", self.candidates, "list each candidate once")
        for c in self.candidates:
            refined = refined_mode(c)
            if refined is not None and refined.value not in self.candidates:
                fail("auto.candidates", self.candidates, f"{c!r} refines {refined.value!r}: "
                     f"list {refined.value!r} too")

    @property
    def uses_qat(self) -> bool:
        """Whether a candidate fine-tunes with QAT (and so needs QuantizationConfig.qat)."""
        return any(MODES[candidate_mode(c)].technique == Technique.QAT for c in self.candidates)

    def _check_numbers(self) -> None:
        _check_seed("auto.seed", self.seed)
        if not 0 < self.validation_fraction < 1:
            fail("auto.validation_fraction", self.validation_fraction, "use a fraction in (0, 1)")
        for name in ("max_validation_examples", "max_trials", "max_float_layers", "latency_runs"):
            if getattr(self, name) < 1:
                fail(f"auto.{name}", getattr(self, name), "use 1 or more")
        if not self.time_budget_s > 0:
            fail("auto.time_budget_s", self.time_budget_s, "use a positive number of seconds")
        if self.max_model_bytes is not None and self.max_model_bytes < 1:
            fail("auto.max_model_bytes", self.max_model_bytes, "use a positive byte count")
        if self.max_latency_p50_us is not None and not self.max_latency_p50_us > 0:
            fail("auto.max_latency_p50_us", self.max_latency_p50_us, "use a positive number")


def _check_seed(field: str, seed) -> None:
    if isinstance(seed, bool) or not isinstance(seed, int) or not 0 <= seed < 2**32:
        fail(field, seed, "use an integer seed in [0, 2**32) (numpy's generators take no negative seed)")


def _exists(path: str) -> bool:
    if "://" in path:  # gs://... and friends: ask TF's filesystem layer lazily
        import tensorflow as tf  # pylint: disable=g-import-not-at-top
        return tf.io.gfile.exists(path)
    return os.path.exists(path)


@dataclasses.dataclass(frozen=True)
class QuantizationConfig(_strict.JsonConfig):
    """What the Quantizer plans and the TFLiteExporter applies."""

    mode: Mode = Mode.DYNAMIC_RANGE
    calibration: CalibrationConfig = CalibrationConfig()
    io_dtype: str = "float32"
    keep_float_ops: tuple[str, ...] = ()
    keep_float_nodes: tuple[str, ...] = ()
    layer_report: bool | None = None
    input_mapping: dict[str, str] = dataclasses.field(default_factory=dict)
    signature_key: str = "serving_default"
    placement: Placement = Placement.EMBEDDED
    parity_tolerance: float = 1e-4
    qat: QatConfig | None = None
    aeq: AeqConfig | None = None
    auto: AutoConfig | None = None

    def __post_init__(self) -> None:
        for name in ("keep_float_ops", "keep_float_nodes"):
            object.__setattr__(self, name, tuple(getattr(self, name)))
        if not isinstance(self.mode, Mode):
            object.__setattr__(self, "mode", _strict._coerce_enum(Mode, self.mode, "mode"))
        object.__setattr__(self, "placement", _strict._coerce_enum(Placement, self.placement, "placement"))
        _strict.check_fields(self, "QuantizationConfig")
        if not (math.isfinite(self.parity_tolerance) and self.parity_tolerance > 0):
            fail("parity_tolerance", self.parity_tolerance,
                 "use a positive bound on |float32 TFLite - SavedModel| (default 1e-4, relative to "
                 "1 + the largest output magnitude)")
        if self.io_dtype not in IO_DTYPES:
            fail("io_dtype", self.io_dtype, f"use one of {', '.join(IO_DTYPES)}")
        spec = MODES[self.mode]
        if self.io_dtype != "float32" and not spec.integer_io:
            first, *others = _values(integer_io=True)
            also = f" (or {', '.join(others)})" if others else ""
            fail("io_dtype", self.io_dtype,
                 f"integer model I/O needs a full-integer mode; set mode={first}{also}, "
                 f"or keep io_dtype='float32' with mode={self.mode.value!r}")
        self._check_selective()
        self._check_sub_configs()
        if self.layer_report and not spec.full_integer:
            fail("layer_report", self.layer_report,
                 f"the per-layer error report needs mode {' or '.join(_values(full_integer=True))}")

    def _check_selective(self) -> None:
        if (self.keep_float_ops or self.keep_float_nodes) and not MODES[self.mode].float_fallback:
            fail("keep_float_ops/keep_float_nodes", self.keep_float_ops or self.keep_float_nodes,
                 f"keeping layers in float needs mode={' or '.join(_values(float_fallback=True))} "
                 "(float fallback); with mode='aeq' use aeq.float_scopes")

    def _check_sub_configs(self) -> None:
        technique = MODES[self.mode].technique
        if (technique == Technique.SEARCH) != (self.auto is not None):
            fail("auto", self.auto, "set auto=AutoConfig(...) exactly when mode='auto'")
        if technique == Technique.SEARCH:
            self._check_search()
            return
        if (technique == Technique.QAT) != (self.qat is not None):
            fail("qat", self.qat, "set qat=QatConfig(...) exactly when mode='qat'")
        if (technique == Technique.AEQ) != (self.aeq is not None):
            fail("aeq", self.aeq, "set aeq=AeqConfig(...) exactly when mode='aeq'")

    def _check_search(self) -> None:
        if self.io_dtype != "float32":
            fail("io_dtype", self.io_dtype, "mode='auto' compares float32-I/O candidates; keep float32")
        if _strict.need(self.auto, "auto").uses_qat != (self.qat is not None):
            fail("qat", self.qat, "with mode='auto', set qat=QatConfig(...) exactly when "
                 "'qat' is one of auto.candidates")
        if self.aeq is not None or self.keep_float_ops or self.keep_float_nodes:
            fail("aeq/keep_float_*", self.aeq or self.keep_float_ops or self.keep_float_nodes,
                 "mode='auto' builds these itself; list 'aeq:<preset>' or 'int8_selective' "
                 "in auto.candidates")

    @property
    def needs_calibration(self) -> bool:
        calibration = MODES[self.mode].calibration
        if calibration == Calibration.BY_RECIPE:
            return _strict.need(self.aeq, "aeq").needs_calibration
        return calibration == Calibration.ALWAYS

    @property
    def wants_layer_report(self) -> bool:
        return MODES[self.mode].full_integer and self.layer_report is not False


def _values(**facts) -> list[str]:
    """The quoted values of the modes with these registry facts, for messages."""
    return [repr(m.value) for m in modes_where(**facts)]


__all__ = ["Placement", "AUTO_CANDIDATES", "AeqConfig", "AutoConfig", "CalibrationConfig", "ConfigError", "MODES",
           "Mode", "QatConfig", "QuantizationConfig", "AEQ_PRESETS"]
