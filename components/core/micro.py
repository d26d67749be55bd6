"""TFLite Micro on the host: whether a model runs under TFLM's own interpreter, the tensor arena it
needs, and its outputs on sample rows (the `microcontroller` target; components/core/targets.py
compares them with LiteRT's).

The interpreter is the `tflite-micro` package's (extra 'micro'): TFLM's C++ runtime with every
kernel TFLM ships registered, the reference kernels a microcontroller build starts from. What it
cannot tell: a device's optimized kernels (CMSIS-NN, ESP-NN, ...), its flash and RAM beyond the
arena, and timing. TFLM reports what it refuses (a missing op, an unsupported tensor type) only on
stderr, so construction runs with file descriptor 2 captured and those lines are parsed.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import re
import tempfile
from typing import Iterator, Sequence

import numpy as np

from tfx_edge import extras

ALIGN = 16                     # arena sizes are searched in steps of TFLM's buffer alignment
MAX_ARENA = 1 << 28            # 256 MiB: a model that needs more does not fit any microcontroller
_MISSING_OP = re.compile(r"Didn't find op for (?:builtin|custom) opcode '([^']+)'")


class MicroError(RuntimeError):
    """TFLM refused the model; `missing_ops` names the ops it lacks, the message what it printed."""

    def __init__(self, message: str, missing_ops: tuple[str, ...] = ()) -> None:
        super().__init__(message)
        self.missing_ops = missing_ops


@dataclasses.dataclass(frozen=True)
class MicroRun:
    arena_bytes: int                                   # the smallest arena TFLM allocates the model in
    outputs: tuple[tuple[np.ndarray, ...], ...]         # per row, per output position (TFLM's order)
    version: str                                       # the tflite-micro package's version


def runtime():
    return extras.require("tflite_micro.python.tflite_micro.runtime", "targets=('microcontroller',) (TFLite Micro)")


def run(model: bytes, rows: Sequence[Sequence[np.ndarray]], n_outputs: int) -> MicroRun:
    """Finds the arena the model needs, then runs each row (its inputs in the model's positional
    order, batch 1) in an interpreter of exactly that arena; returns its first n_outputs outputs
    per row. Raises MicroError when TFLM refuses."""
    import importlib.metadata  # pylint: disable=g-import-not-at-top
    arena = arena_bytes(model)
    interpreter, _ = _interpreter(model, arena)
    if interpreter is None:
        raise MicroError(f"TFLite Micro allocated the model in {arena} bytes once, then not again")
    outputs = []
    for row in rows:
        for i, value in enumerate(row):
            interpreter.set_input(value, i)
        printed: list[str] = []
        try:
            with _captured_stderr() as printed:
                interpreter.invoke()
        except RuntimeError as error:
            raise MicroError(f"TFLite Micro failed to invoke the model: {error}; it printed: "
                             f"{_text(printed)}") from None
        outputs.append(tuple(np.array(interpreter.get_output(j)) for j in range(n_outputs)))
        interpreter.reset()
    return MicroRun(arena, tuple(outputs), importlib.metadata.version("tflite-micro"))


def arena_bytes(model: bytes) -> int:
    """The smallest arena (a multiple of ALIGN) in which TFLM allocates every tensor of the model:
    doubling from the model's size until it fits, then bisection."""
    low, high = 0, max(ALIGN, -(-len(model) // ALIGN) * ALIGN)
    while True:
        interpreter, printed = _interpreter(model, high)
        if interpreter is not None:
            break
        missing = tuple(dict.fromkeys(_MISSING_OP.findall("".join(printed))))
        if missing or high >= MAX_ARENA:
            why = (f"it has no kernel for {', '.join(missing)}" if missing else
                   f"it cannot allocate the model in {MAX_ARENA} bytes")
            raise MicroError(f"TFLite Micro refused the model: {why}; it printed: {_text(printed)}", missing)
        low, high = high, high * 2
    while high - low > ALIGN:
        middle = (low + high) // 2 // ALIGN * ALIGN
        low, high = (low, middle) if _interpreter(model, middle)[0] is not None else (middle, high)
    return high


def _interpreter(model: bytes, arena: int):
    """(interpreter, []) when TFLM allocates the model in `arena` bytes, else (None, what it printed)."""
    rt = runtime()
    with _captured_stderr() as printed:
        try:
            return rt.Interpreter.from_bytes(model, arena_size=arena), []
        except (RuntimeError, ValueError):
            pass
    return None, printed


@contextlib.contextmanager
def _captured_stderr() -> Iterator[list[str]]:
    """File descriptor 2 (where TFLM's C++ prints) into a temporary file; the list yielded holds
    what was printed once the block ends."""
    printed: list[str] = []
    with tempfile.TemporaryFile(mode="w+b") as sink:
        saved = os.dup(2)
        os.dup2(sink.fileno(), 2)
        try:
            yield printed
        finally:
            os.dup2(saved, 2)
            os.close(saved)
            sink.seek(0)
            printed.append(sink.read().decode("utf-8", "replace"))


def _text(printed: list[str]) -> str:
    lines = [line.strip() for line in "".join(printed).splitlines() if line.strip()]
    return " / ".join(lines[:6]) or "(nothing)"
