"""LiteRT interpreter helpers: load, describe signatures, run batches, inspect ops."""

from __future__ import annotations

import collections
from typing import Mapping

import numpy as np
from ai_edge_litert import interpreter as litert

from tfx_edge.components.core.input_mapping import TensorSpec, dequantize

BOUNDARY_OPS = frozenset({"QUANTIZE", "DEQUANTIZE"})
_FLOAT = ("float32", "float16", "float64")
_QUANTIZED = ("int8", "uint8", "int16", "int4")


def load(model: bytes, num_threads: int = 1, xnnpack: bool = True, reference: bool = False) -> litert.Interpreter:
    """An interpreter over model bytes; xnnpack=False disables the default delegates; reference=True
    runs LiteRT's reference kernels (the ones TFLite Micro's kernels are ported from)."""
    resolver = (litert.OpResolverType.BUILTIN_REF if reference else litert.OpResolverType.AUTO if xnnpack
                else litert.OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES)
    return litert.Interpreter(model_content=model, num_threads=num_threads,
                              experimental_op_resolver_type=resolver)


def _spec(name: str, detail: Mapping) -> TensorSpec:
    q = detail.get("quantization_parameters") or {}
    scales = np.asarray(q.get("scales", []))
    zps = np.asarray(q.get("zero_points", []))
    return TensorSpec(
        name=name,
        dtype=np.dtype(detail["dtype"]).name,
        shape=tuple(int(d) for d in detail["shape_signature"]),
        scale=float(scales[0]) if scales.size == 1 else 0.0,
        zero_point=int(zps[0]) if zps.size == 1 else 0,
    )


def signature_specs(interp: litert.Interpreter, key: str) -> tuple[list[TensorSpec], list[TensorSpec]]:
    """Input and output TensorSpecs of a signature, sorted by name."""
    available = list(interp.get_signature_list())
    if key not in available:
        raise ValueError(f"signature_key={key!r} is not in the TFLite model; it has {available}")
    runner = interp.get_signature_runner(key)
    inputs = [_spec(n, d) for n, d in sorted(runner.get_input_details().items())]
    outputs = [_spec(n, d) for n, d in sorted(runner.get_output_details().items())]
    return inputs, outputs


def input_order(model: bytes, key: str) -> list[str]:
    """The signature's input names in the model's positional input order (what tools that feed
    lists, like the QuantizationDebugger, must follow)."""
    interp = load(model)
    position = {d["index"]: i for i, d in enumerate(interp.get_input_details())}
    named = interp.get_signature_runner(key).get_input_details()
    return sorted(named, key=lambda name: position[named[name]["index"]])


class Runner:
    """Runs a signature on batches: integer inputs must already be quantized;
    outputs come back dequantized to float32."""

    def __init__(self, model: bytes, key: str, num_threads: int = 1) -> None:
        self.interpreter = load(model, num_threads=num_threads)
        self.inputs, self.outputs = signature_specs(self.interpreter, key)
        self._runner = self.interpreter.get_signature_runner(key)

    def __call__(self, feeds: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
        raw = self._runner(**feeds)
        return {o.name: dequantize(raw[o.name], o) for o in self.outputs}


def op_summary(model: bytes) -> dict:
    """Counts of ops by kind: integer (int8/int16 math), float, hybrid (float math on int8
    weights), boundary (QUANTIZE/DEQUANTIZE), shape (int32/bool shape arithmetic). Every subgraph
    counts: a recurrent layer's step runs in a WHILE body, which the interpreter's op list omits."""
    kinds: collections.Counter = collections.Counter()
    by_op: dict[str, collections.Counter] = collections.defaultdict(collections.Counter)
    for name, _, operands, results in _operators(model):
        kind = _op_kind(name, operands, results)
        kinds[kind] += 1
        by_op[name][kind] += 1
    return {
        "total": sum(kinds.values()),
        "integer": kinds["integer"], "float": kinds["float"],
        "hybrid": kinds["hybrid"], "boundary": kinds["boundary"], "shape": kinds["shape"],
        "by_op": {name: dict(sorted(c.items())) for name, c in sorted(by_op.items())},
    }


def op_versions(model: bytes) -> list[tuple[str, int]]:
    """(op name, op version) of every operator in every subgraph (what gpu_ops.incompatible takes)."""
    return [(name, version) for name, version, _, _ in _operators(model)]


def _operators(model: bytes):
    """(op name, op version, operand dtype names, result dtype names) of every operator in every
    subgraph, read with LiteRT's own flatbuffer reader."""
    from ai_edge_litert.tools import flatbuffer_utils as fb  # pylint: disable=g-import-not-at-top
    obj = fb.convert_bytearray_to_object(bytearray(model))
    for subgraph in obj.subgraphs:
        names = [fb.type_to_name(t.type).lower() for t in subgraph.tensors]
        for op in subgraph.operators:
            code = obj.operatorCodes[op.opcodeIndex]
            name = (code.customCode.decode() if code.customCode else fb.opcode_to_name(obj, op.opcodeIndex)) or "?"
            yield name, code.version, _types(names, op.inputs), _types(names, op.outputs)


def _types(names: list[str], indices) -> list[str]:
    return [names[i] for i in (indices if indices is not None else []) if i >= 0]


def _op_kind(name: str, operand_types, result_types) -> str:
    if name in BOUNDARY_OPS:
        return "boundary"
    results, operands = list(result_types), list(operand_types)
    if not any(r in _FLOAT for r in results):
        return "integer" if any(r in _QUANTIZED for r in results) else "shape"
    if any(o in ("int8", "uint8", "int4") for o in operands):
        return "hybrid"
    return "float"


def dynamic_batch(specs) -> bool:
    return all(len(s.shape) > 0 and s.shape[0] == -1 for s in specs)
