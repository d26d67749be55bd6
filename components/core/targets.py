"""Deployment targets as gate checks (EvaluationConfig.targets): one TargetReport per target beyond
'cpu' (the host CPU, whose figures are the gate's own).

gpu: every operator of every subgraph, by name and version, against the LiteRT GPU delegate's op
  table (components/core/gpu_ops.py, read from the delegate's model builder). LiteRT's own offline
  analyzer is not used: it called models with HASHTABLE, WHERE and BITCAST GPU-compatible.
microcontroller: TFLite Micro's interpreter (components/core/micro.py) allocates the model, whose
  smallest arena is recorded, and runs the sample rows. Its outputs must equal those of LiteRT's
  reference kernels, which TFLM's kernels are ported from, within STEPS quantization steps of each
  output (or, for an output computed in float, FLOAT_TOLERANCE of the largest output): a larger
  difference means TFLM computes another model than the one LiteRT runs. Measured on the digits
  demo: equal to the bit. How far they are from the outputs the gate scored (LiteRT with XNNPACK,
  which rounds int8 differently; 7 steps on the demo) is recorded beside it.
"""

from __future__ import annotations

from typing import Mapping, Sequence

import numpy as np

from tfx_edge.components.core import gpu_ops, litert, micro
from tfx_edge.schemas import records
from tfx_edge.schemas.evaluation import Target

FLOAT_TOLERANCE = 1e-4      # relative to max(1, max |LiteRT output|), for outputs computed in float
STEPS = 1                   # quantization steps an output may differ from LiteRT's reference kernels by
SHAPE_OPS = frozenset({"SHAPE"})   # run-time shape arithmetic, e.g. Keras Reshape on a dynamic batch
MICRO_EXAMPLES = 16         # sample rows run through TFLite Micro (batch 1 each)


def check(targets: Sequence[Target], model: bytes, key: str,
          rows: Sequence[Mapping[str, np.ndarray]]) -> tuple[records.TargetReport, ...]:
    """The report of each target after 'cpu'. rows: batch-1 feeds by signature input name."""
    out = []
    for target in targets:
        if target == Target.GPU:
            out.append(gpu(model))
        elif target == Target.MICROCONTROLLER:
            out.append(microcontroller(model, key, rows[:MICRO_EXAMPLES]))
    return tuple(out)


def gpu(model: bytes) -> records.TargetReport:
    refused = tuple(records.TargetOp(r.op, r.reason) for r in gpu_ops.incompatible(litert.op_versions(model)))
    ops = sorted({r.op for r in refused})
    detail = ("every op is in the GPU delegate's table" if not refused else
              "the GPU delegate cannot run " + ", ".join(ops) + " (LiteRT would run them on the CPU and delegate "
              "only the largest part of the graph)")
    if SHAPE_OPS & set(ops):
        detail += ("; SHAPE is shape arithmetic on the dynamic batch dimension (e.g. a Keras Reshape computes "
                   "[batch, ...] at run time): reshape to [-1, ...] with tf.reshape, or give the model a fixed batch")
    return records.TargetReport(Target.GPU.value, not refused, detail, gpu_ops.SOURCE, refused)


def microcontroller(model: bytes, key: str, rows: Sequence[Mapping[str, np.ndarray]]) -> records.TargetReport:
    checked_by = "tflite-micro"
    if not rows:
        return records.TargetReport(Target.MICROCONTROLLER.value, False, "no example to run: the split is empty",
                                    checked_by)
    interp = litert.load(model, reference=True)
    runner = interp.get_signature_runner(key)
    scored = litert.load(model).get_signature_runner(key)   # XNNPACK: what the gate's figures come from
    inputs = _positions(interp.get_input_details(), runner.get_input_details())
    outputs = _positions(interp.get_output_details(), runner.get_output_details())
    steps = _steps(interp, [d["index"] for d in interp.get_output_details()])   # the runner allocated it
    try:
        run = micro.run(model, [[row[name] for name in inputs] for row in rows], len(outputs))
    except micro.MicroError as error:
        refused = tuple(records.TargetOp(op, "TFLite Micro has no kernel for it") for op in error.missing_ops)
        return records.TargetReport(Target.MICROCONTROLLER.value, False, str(error), checked_by, refused)
    checked_by = f"tflite-micro {run.version}"
    pairs = _compare(run.outputs, [runner(**row) for row in rows], outputs, steps)
    worst, tolerance = max(pairs, key=lambda p: p[0] - p[1])
    agree = all(diff <= limit for diff, limit in pairs)
    gate_diff = max(d for d, _ in _compare(run.outputs, [scored(**row) for row in rows], outputs, steps))
    detail = (f"TFLite Micro allocated the model in a {run.arena_bytes}-byte arena and ran {len(rows)} examples; "
              f"its outputs are {'within' if agree else 'NOT within'} {tolerance:.3g} of LiteRT's reference "
              f"kernels (largest difference {worst:.3g}; {gate_diff:.3g} from the XNNPACK outputs the gate scored)")
    return records.TargetReport(Target.MICROCONTROLLER.value, agree, detail, checked_by, (), run.arena_bytes,
                                len(rows), worst, tolerance, agree, gate_diff)


def _compare(got: Sequence[Sequence[np.ndarray]], want: Sequence[Mapping[str, np.ndarray]], names: Sequence[str],
             steps: Sequence[float]) -> list[tuple[float, float]]:
    """(difference, tolerance) of every output of every row."""
    return [_difference(value, expected[name], step)
            for row, expected in zip(got, want) for name, value, step in zip(names, row, steps)]


def _positions(positional: Sequence[Mapping], named: Mapping[str, Mapping]) -> list[str]:
    """The signature's tensor names in the model's positional order (TFLite Micro's)."""
    by_index = {d["index"]: name for name, d in named.items()}
    return [by_index[d["index"]] for d in positional]


def _steps(interp, output_indices: Sequence[int]) -> list[float]:
    """Each output's quantization step: its own scale when quantized, the scale of the DEQUANTIZE
    input it comes from when computed in int8, else 0 (computed in float). interp: an allocated
    interpreter without delegates (their nodes would hide the DEQUANTIZE)."""
    scale = {d["index"]: float(d["quantization"][0]) for d in interp.get_tensor_details()}
    producer = {int(i): op for op in interp._get_ops_details() for i in op["outputs"]}  # pylint: disable=protected-access
    steps = []
    for index in output_indices:
        op = producer.get(index)
        step = scale.get(index, 0.0)
        if not step and op is not None and op["op_name"] == "DEQUANTIZE":
            step = scale.get(int(op["inputs"][0]), 0.0)
        steps.append(step)
    return steps


def _difference(got: np.ndarray, want: np.ndarray, step: float) -> tuple[float, float]:
    """(largest |got - want| in the output's real units, the tolerance there)."""
    integer = np.issubdtype(np.asarray(want).dtype, np.integer)
    g, w = np.asarray(got, np.float64), np.asarray(want, np.float64)
    if g.shape != w.shape:
        return float("inf"), 0.0
    diff = float(np.max(np.abs(g - w))) if g.size else 0.0
    if step:
        return diff * step if integer else diff, STEPS * step
    if integer:
        return diff, 0.0                       # class ids, counts: exactly equal
    return diff, FLOAT_TOLERANCE * max(1.0, float(np.max(np.abs(w))) if w.size else 1.0)
