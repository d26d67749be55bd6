"""Errors raised inside Beam workers, given back their own type and first line.

A runner that scores in other processes (the DirectRunner's multi_processing workers, Dask,
Dataflow) hands the driver a RuntimeError whose text is the worker's whole traceback, the real
error on its last line. `unwrap` finds that line and, for the scoring errors tfx-edge raises
(bad examples, labels, outputs, slices, input mapping, record framing), raises the same type
with the worker's message first and the traceback after it. Other errors pass unchanged.
"""

from __future__ import annotations

import re

from tfx_edge.components.core import examples, input_mapping, metrics, slicing, tfrecord

KNOWN: dict[str, type[Exception]] = {cls.__name__: cls for cls in (
    examples.ExamplesError, metrics.LabelError, metrics.OutputError, slicing.SliceError,
    input_mapping.InputMappingError, tfrecord.RecordError)}

_LINE = re.compile(r"^(?:[A-Za-z_][\w.]*\.)?(?P<type>[A-Za-z_]\w*): (?P<message>.*?)"
                   r"(?: \[while running '[^']*'\])?$")


def unwrap(error: BaseException) -> BaseException:
    """The worker's own error for a wrapped scoring error, else `error` itself."""
    if isinstance(error, tuple(KNOWN.values())):
        return error
    text = str(error)
    for line in reversed(text.strip().splitlines()):
        found = _LINE.match(line.strip())
        if found and found.group("type") in KNOWN:
            return KNOWN[found.group("type")](
                f"{found.group('message')}\n(raised in a Beam worker: {type(error).__name__}; its traceback "
                f"follows)\n{text}")
    return error
