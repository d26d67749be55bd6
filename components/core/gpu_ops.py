"""Which operators of a .tflite model the LiteRT/TFLite GPU delegate cannot run, judged offline.

Why not LiteRT's own `tf.lite.experimental.Analyzer.analyze(..., gpu_compatibility=True)`: LiteRT's
tflite/python/analyzer_wrapper/model_analyzer.cc declares `gpu_incompatible_nodes` and never fills
it, and TensorFlow 2.21's analyzer likewise calls models with HASHTABLE, WHERE, TOPK_V2 and SHAPE
"compatible". The per-op check it once ran (tflite/tools/versioning/gpu_compatibility.cc) also
accepts ops the delegate has no parser for (BITCAST, TOPK_V2, REVERSE_V2, EMBEDDING_LOOKUP, ...).

Read from the GPU delegate's source in google-ai-edge/LiteRT (where TensorFlow Lite is developed
now; the tensorflow/tensorflow versions stored for reading here, e.g. 9a5c30170e25, are years
older, and that repository is too large to fetch here), commit
f67457790c9c2ab67347d6fe53270e8d3df20868 (2026-08-21), in which model_builder.cc last changed at
2bd0c6fabe0ca45c62570b9050e734d34de237c1:

- tflite/delegates/gpu/common/model_builder.cc, `NewOperationParser`: the builtin operators that
  have a parser (GPU_OPS; everything else gets `UnsupportedOperationParser`), the four custom
  ops it parses by name (GPU_CUSTOM_OPS; any other custom op, Flex ops included, is unsupported),
  and each parser's `CheckMaxSupportedOpVersion` cap (None where its `IsSupported` sets none).
  QUANTIZE and DEQUANTIZE get a parser only when quantized models are allowed, which
  `TfLiteGpuDelegateOptionsV2Default` (tflite/delegates/gpu/delegate_options.cc) turns on
  (TFLITE_GPU_EXPERIMENTAL_FLAGS_ENABLE_QUANT): `quantized=True` below.
- the same file, `GetOpsToReplace` / `IsAllAllowedTensors`: the dtypes a node's non-constant
  tensors may have (`tensor_types`, `holds`): float32/float16, int8/uint8 only when quantized
  models are allowed, bool out of the comparisons and in/out of LOGICAL_AND, bool into
  SELECT/SELECT_V2, int32 into CAST/GATHER/ONE_HOT and out of CAST; and no tensor, constant or
  not, of more than MAX_RANK dims. Constant tensors (weights, shapes, axes) may have any dtype.

What this does NOT check (it is an offline approximation; a run of the delegate on the device is
the final word):
- the per-op attribute, shape and input-count checks each parser's `IsSupported` makes through
  `CheckGpuDelegateCompatibility` (tflite/tools/versioning/gpu_compatibility.cc): fused
  activations, strides, broadcasts, constant axes, ADD_N with 2 inputs only, SOFTMAX beta 1,
  STRIDED_SLICE masks, RESHAPE/MEAN with constant shapes/axes, and the like;
- graph-structural rules: a comparison is taken only when its one consumer is a CAST/SELECT to
  float, a CAST from bool only after a comparison;
- the tensor rules themselves, per tensor: `incompatible` takes (op, version) pairs only;
  `tensor_types`/`holds` are for a caller that knows which tensors are non-constant;
- dynamic tensors: the delegate does not set kTfLiteDelegateFlagsAllowDynamicTensors, so the
  interpreter refuses it for the whole graph when any tensor is dynamic after Prepare
  (tflite/core/subgraph.cc), e.g. downstream of WHERE;
- that only the largest supported partition runs on the GPU by default
  (max_delegated_partitions = 1): one unsupported op mid-graph sends the smaller side to the CPU;
- failures in a parser's `Parse` while the GPU graph is built, and a device's GPU, driver and
  OpenCL/OpenGL/Metal backend differences.
"""

from __future__ import annotations

import dataclasses
import enum
from types import MappingProxyType
from typing import Iterable, Mapping

SOURCE = ("google-ai-edge/LiteRT@f67457790c9c2ab67347d6fe53270e8d3df20868:"
          "tflite/delegates/gpu/common/model_builder.cc")

_ELEMENTWISE = ("ABS", "ADD", "ADD_N", "COS", "DIV", "ELU", "EQUAL", "EXP", "FLOOR", "FLOOR_DIV", "FLOOR_MOD",
                "GELU", "GREATER", "GREATER_EQUAL", "LESS", "LESS_EQUAL", "LOG", "LOGICAL_AND", "LOGISTIC",
                "MAXIMUM", "MINIMUM", "NEG", "NOT_EQUAL", "POW", "RSQRT", "SIGN", "SIN", "SQRT", "SQUARE",
                "SQUARED_DIFFERENCE", "SUB", "TANH")   # ElementwiseOperationParser: cap 2 (MUL: 3)

# Builtin operator (BuiltinOperator enum name) -> the highest version its parser accepts; None: no cap.
GPU_OPS: Mapping[str, int | None] = MappingProxyType({
    **dict.fromkeys(_ELEMENTWISE, 2), "MUL": 3,
    "AVERAGE_POOL_2D": 2, "MAX_POOL_2D": 2,                        # Pooling2DOperationParser
    "BATCH_MATMUL": None, "CAST": None, "CONCATENATION": 2,
    "CONV_2D": 6, "DEPTHWISE_CONV_2D": 6, "TRANSPOSE_CONV": 3,
    "CUMSUM": 1, "DENSIFY": 1, "DEPTH_TO_SPACE": None, "SPACE_TO_DEPTH": 2,
    "DEQUANTIZE": 3, "QUANTIZE": 2,                                # only when quantized models are allowed
    "FULLY_CONNECTED": 9, "GATHER": 1, "HARD_SWISH": None, "LSTM": 4, "ONE_HOT": 1,
    "MEAN": None, "REDUCE_MAX": None, "REDUCE_MIN": None, "REDUCE_PROD": None, "SUM": None,
    "PAD": 2, "PADV2": 2, "MIRROR_PAD": 2,                         # PadOperationParser
    "RELU": 2, "RELU6": 2, "RELU_0_TO_1": 2, "RELU_N1_TO_1": 2, "LEAKY_RELU": 2,   # ReLUOperationParser
    "PRELU": 1, "RESHAPE": 1, "RESIZE_BILINEAR": 3, "RESIZE_NEAREST_NEIGHBOR": 3,
    "SELECT": 1, "SELECT_V2": 1, "SLICE": 2, "STRIDED_SLICE": 4, "SOFTMAX": 2,
    "PACK": None, "UNPACK": None, "SPLIT": None, "SPLIT_V": None, "TILE": None, "TRANSPOSE": 4,
})

# Custom operators (custom code) NewOperationParser parses by name; MaxPoolingWithArgmax2D is pooling (cap 2).
GPU_CUSTOM_OPS: Mapping[str, int | None] = MappingProxyType({
    "Convolution2DTransposeBias": None, "MaxPoolingWithArgmax2D": 2, "MaxUnpooling2D": None, "Resampler": None,
})

QUANT_OPS = frozenset({"QUANTIZE", "DEQUANTIZE"})
MAX_RANK = 4   # IsAllAllowedTensors: a tensor of 5 or more dims is refused

_FLOAT = frozenset({"float32", "float16"})
_QUANTIZED = frozenset({"int8", "uint8"})
_COMPARISONS = frozenset({"EQUAL", "NOT_EQUAL", "GREATER", "GREATER_EQUAL", "LESS", "LESS_EQUAL"})  # IsLogicalCode
_EXTRA_IN = {"CAST": {"bool", "int32"}, "GATHER": {"int32"}, "ONE_HOT": {"int32"},
             "SELECT": {"bool"}, "SELECT_V2": {"bool"}, "LOGICAL_AND": {"bool"}}
_EXTRA_OUT = {"CAST": {"int32", "bool"}, "LOGICAL_AND": {"bool"}, **{op: {"bool"} for op in _COMPARISONS}}


class Why(str, enum.Enum):
    NO_PARSER = "the GPU delegate has no parser for it (NewOperationParser's switch)"
    QUANT_OFF = ("parsed only when quantized models are allowed (the default; "
                 "a DEQUANTIZE of float16 weights is taken either way)")
    VERSION = "its version is above the highest its GPU delegate parser accepts"


@dataclasses.dataclass(frozen=True, order=True)
class Incompatible:
    op: str
    version: int
    why: Why
    max_version: int | None = None   # the parser's cap, when why is VERSION

    @property
    def reason(self) -> str:
        if self.why is Why.VERSION:
            return f"version {self.version} is above {self.max_version}, the highest its GPU delegate parser accepts"
        return self.why.value

    def __str__(self) -> str:
        return f"{self.op} v{self.version}: {self.reason}"


def incompatible(ops: Iterable[tuple[str, int]], *, quantized: bool = True) -> tuple[Incompatible, ...]:
    """The (op name, version) pairs (litert.op_versions) the delegate's parsers refuse, once each,
    sorted. quantized: whether the delegate allows quantized models (its default)."""
    out: set[Incompatible] = set()
    for op, version in set(ops):
        table = GPU_CUSTOM_OPS if op in GPU_CUSTOM_OPS else GPU_OPS
        if op not in table:
            out.add(Incompatible(op, version, Why.NO_PARSER))
        elif op in QUANT_OPS and not quantized:
            out.add(Incompatible(op, version, Why.QUANT_OFF))
        elif (cap := table[op]) is not None and version > cap:
            out.add(Incompatible(op, version, Why.VERSION, cap))
    return tuple(sorted(out))


def tensor_types(op: str, *, quantized: bool = True) -> tuple[frozenset[str], frozenset[str]]:
    """(input dtypes, output dtypes) the delegate accepts on op's non-constant tensors
    (GetOpsToReplace); dtype names as numpy/litert.py spell them ('float32', 'int8', 'bool')."""
    base = _FLOAT | _QUANTIZED if quantized else _FLOAT
    return base | _EXTRA_IN.get(op, set()), base | _EXTRA_OUT.get(op, set())


def holds(dtype: str, *, quantized: bool = True) -> bool:
    """Whether any op of the delegate takes a non-constant tensor of this dtype: False for string,
    int64, int16, float64, complex and the like (a model computing on those runs them on the CPU)."""
    return any(dtype in side for op in GPU_OPS for side in tensor_types(op, quantized=quantized))
