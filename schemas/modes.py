"""The quantization modes and, in one registry, everything the code needs to know of each.

Pure data (no TensorFlow): converter settings are names (`"float16"` is `tf.float16`,
`"TFLITE_BUILTINS_INT8"` is `tf.lite.OpsSet.TFLITE_BUILTINS_INT8`), resolved where the
converter is configured (components/core/convert.py). The config validation
(schemas/quantization.py), the export checks (checks.py), the dispatch (quantize.py)
and the auto search (auto_search.py) all read `MODES`.

Adding a mode = a `Mode` member and its `MODES` entry (tests/test_modes.py checks that
every mode has one).
"""

from __future__ import annotations

import dataclasses
import enum


class Mode(str, enum.Enum):
    """How the model is shrunk."""

    DYNAMIC_RANGE = "dynamic_range"  # int8 weights, float activations quantized at run time
    INT8 = "int8"                    # full integer, float fallback for ops without int8 kernels
    INT8_STRICT = "int8_strict"      # builtin int8 ops only; optional int8/uint8 model I/O
    FLOAT16 = "float16"              # float16 weights
    INT16X8 = "int16x8"              # int16 activations, int8 weights
    QAT = "qat"                      # tensorflow-model-optimization quantization-aware training
    AEQ = "aeq"                      # LiteRT ai-edge-quantizer recipe applied to the float TFLite
    AUTO = "auto"                    # search: the most compressed candidate within a tolerated drop


class Technique(str, enum.Enum):
    """What produces the model (components/core/quantize.py dispatches on it)."""

    CONVERTER = "converter"  # tf.lite.TFLiteConverter on the SavedModel
    QAT = "qat"              # the converter on the QAT fine-tuned SavedModel (needs QatConfig)
    AEQ = "aeq"              # ai-edge-quantizer on the float TFLite (needs AeqConfig)
    SEARCH = "search"        # the Quantizer's search picks one of the others (needs AutoConfig)


class Calibration(str, enum.Enum):
    """Whether representative samples are needed."""

    NEVER = "never"
    ALWAYS = "always"
    BY_RECIPE = "by_recipe"  # the AEQ recipe decides (AeqConfig.needs_calibration)


class OpCheck(str, enum.Enum):
    """What the op kinds of the written model must show (components/core/checks.py)."""

    NONE = "none"
    ANY_INTEGER = "any_integer"              # at least one integer op
    HYBRID_OR_INTEGER = "hybrid_or_integer"  # at least one hybrid or integer op
    BUILTIN_INT8_ONLY = "builtin_int8_only"  # no float or hybrid op, and at least one integer op


@dataclasses.dataclass(frozen=True)
class ConverterSettings:
    """tf.lite.TFLiteConverter settings, by name."""

    optimize: bool = True                  # optimizations = [tf.lite.Optimize.DEFAULT]
    supported_types: tuple[str, ...] = ()  # target_spec.supported_types: attribute names of `tf`
    supported_ops: tuple[str, ...] = ()    # target_spec.supported_ops: member names of tf.lite.OpsSet


@dataclasses.dataclass(frozen=True)
class AutoCandidate:
    """How mode 'auto' may try a mode."""

    rank: int                        # position in the candidate list: most compressed / fastest first
    default: bool                    # in AutoConfig's default candidates
    refined_by: str | None = None    # a candidate that follows it and refines it (keeps layers in float)


@dataclasses.dataclass(frozen=True)
class ModeSpec:
    """Everything about one mode.

    full_integer: int8 activations and weights, so the QuantizationDebugger's per-layer
      error report applies (QuantizationConfig.layer_report).
    float_fallback: ops without an int8 kernel stay in float, so layers may be kept in
      float on purpose (keep_float_ops / keep_float_nodes).
    integer_io: the model's inputs and outputs may be int8 / uint8 (io_dtype).
    converter: settings of the converter, or None when no TFLiteConverter is configured.
    auto: how mode 'auto' tries it, or None when it is not a candidate.
    """

    technique: Technique
    calibration: Calibration
    op_check: OpCheck
    converter: ConverterSettings | None = None
    full_integer: bool = False
    float_fallback: bool = False
    integer_io: bool = False
    auto: AutoCandidate | None = None


SELECTIVE = "int8_selective"   # int8 with its worst layers kept in float, a few at a time
AEQ_PREFIX = "aeq:"            # "aeq:<preset>" candidates run an ai-edge-quantizer preset

MODES: dict[Mode, ModeSpec] = {
    Mode.DYNAMIC_RANGE: ModeSpec(
        Technique.CONVERTER, Calibration.NEVER, OpCheck.HYBRID_OR_INTEGER, ConverterSettings(),
        auto=AutoCandidate(rank=2, default=True)),
    Mode.INT8: ModeSpec(
        Technique.CONVERTER, Calibration.ALWAYS, OpCheck.ANY_INTEGER, ConverterSettings(),
        full_integer=True, float_fallback=True,
        auto=AutoCandidate(rank=1, default=True, refined_by=SELECTIVE)),
    Mode.INT8_STRICT: ModeSpec(
        Technique.CONVERTER, Calibration.ALWAYS, OpCheck.BUILTIN_INT8_ONLY,
        ConverterSettings(supported_ops=("TFLITE_BUILTINS_INT8",)),
        full_integer=True, integer_io=True, auto=AutoCandidate(rank=0, default=True)),
    Mode.FLOAT16: ModeSpec(
        Technique.CONVERTER, Calibration.NEVER, OpCheck.NONE, ConverterSettings(supported_types=("float16",)),
        auto=AutoCandidate(rank=3, default=True)),
    Mode.INT16X8: ModeSpec(
        Technique.CONVERTER, Calibration.ALWAYS, OpCheck.ANY_INTEGER,
        ConverterSettings(supported_ops=("EXPERIMENTAL_TFLITE_BUILTINS_ACTIVATIONS_INT16_WEIGHTS_INT8",)),
        auto=AutoCandidate(rank=4, default=False)),
    Mode.QAT: ModeSpec(
        Technique.QAT, Calibration.NEVER, OpCheck.ANY_INTEGER, ConverterSettings(),
        integer_io=True, auto=AutoCandidate(rank=5, default=False)),
    Mode.AEQ: ModeSpec(Technique.AEQ, Calibration.BY_RECIPE, OpCheck.NONE),
    Mode.AUTO: ModeSpec(Technique.SEARCH, Calibration.ALWAYS, OpCheck.NONE),
}


def modes_where(**facts) -> tuple[Mode, ...]:
    """The modes whose spec has all the given field values, in Mode order."""
    return tuple(m for m in Mode if all(getattr(MODES[m], k) == v for k, v in facts.items()))


def auto_candidates(default_only: bool = False) -> tuple[str, ...]:
    """Candidate names of mode 'auto' by rank, each refinement right after what it refines."""
    ranked = sorted((s.auto.rank, m) for m, s in MODES.items()
                    if s.auto is not None and (s.auto.default or not default_only))
    names: list[str] = []
    for _, mode in ranked:
        names.append(mode.value)
        candidate = MODES[mode].auto
        refined_by = candidate.refined_by if candidate is not None else None
        if refined_by:
            names.append(refined_by)
    return tuple(names)


def refined_mode(candidate: str) -> Mode | None:
    """The mode a refinement candidate (e.g. 'int8_selective') refines, else None."""
    return next((m for m, s in MODES.items() if s.auto is not None and s.auto.refined_by == candidate), None)


def candidate_mode(candidate: str) -> Mode:
    """The mode a candidate name of mode 'auto' runs ('aeq:<preset>' runs mode 'aeq')."""
    if candidate.startswith(AEQ_PREFIX):
        return Mode.AEQ
    return refined_mode(candidate) or Mode(candidate)


__all__ = ["AEQ_PREFIX", "AutoCandidate", "Calibration", "ConverterSettings", "MODES", "Mode", "ModeSpec",
           "OpCheck", "SELECTIVE", "Technique", "auto_candidates", "candidate_mode", "modes_where",
           "refined_mode"]
