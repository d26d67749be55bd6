"""What a written TFLite model must satisfy for its quantization mode (pure)."""

from __future__ import annotations

import hashlib
from typing import Any

import numpy as np

from tfx_edge.components.core import litert
from tfx_edge.components.core.input_mapping import TensorSpec
from tfx_edge.schemas.modes import MODES, OpCheck
from tfx_edge.schemas.quantization import QuantizationConfig


class ExportCheckError(RuntimeError):
    """The converted model does not hold what its mode promises."""


def describe(model: bytes, key: str) -> dict[str, Any]:
    """Size, signature tensors (dtype, shape, quantization), op kinds, dynamic batch."""
    interp = litert.load(model)
    inputs, outputs = litert.signature_specs(interp, key)
    return {
        "bytes": len(model),
        "sha256": hashlib.sha256(model).hexdigest(),
        "inputs": [_spec_dict(s) for s in inputs],
        "outputs": [_spec_dict(s) for s in outputs],
        "dynamic_batch": litert.dynamic_batch(inputs),
        "ops": litert.op_summary(model),
    }


def _spec_dict(spec: TensorSpec) -> dict[str, Any]:
    return {"name": spec.name, "dtype": spec.dtype, "shape": list(spec.shape),
            "scale": spec.scale, "zero_point": spec.zero_point}


def problems(desc: dict[str, Any], config: QuantizationConfig) -> list[str]:
    """Everything wrong with a described quantized model, given its config."""
    found = []
    if not desc["dynamic_batch"]:
        found.append("batch dimension is fixed; export the signature with shape [None, ...]")
    io_dtype = config.io_dtype
    for t in desc["inputs"] + desc["outputs"]:
        if io_dtype != "float32" and t["dtype"] != io_dtype:
            found.append(f"tensor {t['name']!r} is {t['dtype']}, configured io_dtype={io_dtype!r}")
        if io_dtype == "float32" and t["dtype"] not in ("float32",) and t["dtype"].startswith("float"):
            found.append(f"tensor {t['name']!r} is {t['dtype']}, expected float32")
    return found + op_problems(desc["ops"], MODES[config.mode].op_check)


def op_problems(ops: dict[str, Any], check: OpCheck) -> list[str]:
    """What the op kinds (litert.op_summary) lack for a mode's op check (schemas/modes.py)."""
    found = []
    if check == OpCheck.BUILTIN_INT8_ONLY and (ops["float"] or ops["hybrid"]):
        names = ", ".join(f"{name} x{sum(k.get(kind, 0) for kind in ('float', 'hybrid'))}"
                          for name, k in ops["by_op"].items() if k.get("float") or k.get("hybrid"))
        found.append(f"strict int8 left op(s) {names} in float (no int8 kernel); use "
                     f"mode='int8' (float fallback, optionally keep_float_ops=[...]) or change the model")
    if check in (OpCheck.ANY_INTEGER, OpCheck.BUILTIN_INT8_ONLY) and not ops["integer"]:
        found.append("no op was quantized to integer")
    if check == OpCheck.HYBRID_OR_INTEGER and not (ops["hybrid"] or ops["integer"]):
        found.append("dynamic range quantization left every op in float (the converter only quantizes "
                     "weight tensors of 1,024 or more values); use mode='int8' for a model this small")
    return found


def smoke_run(model: bytes, key: str, batch: int = 2) -> None:
    """Invokes the model on a batch of `batch` zeros: proves resizing really works."""
    runner = litert.Runner(model, key)
    feeds = {}
    for spec in runner.inputs:
        shape = [batch] + [max(d, 1) for d in spec.shape[1:]]
        feeds[spec.name] = np.zeros(shape, dtype=spec.dtype)
    outputs = runner(feeds)
    for name, value in outputs.items():
        if value.shape[0] != batch:
            raise ExportCheckError(f"output {name!r} has batch {value.shape[0]} for an input batch of {batch}")
