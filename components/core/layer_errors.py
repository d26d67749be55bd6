"""The per-layer error report (layer_report.csv, TFLite's QuantizationDebugger) read and ranked (pure).

Each row is one quantized tensor with its op and error metrics; `trimmed_nsr` (noise-to-signal
ratio of the int8 tensor against its float value, outliers trimmed) ranks them. Used by the auto
search (which layers int8_selective keeps in float) and by the EdgeEvaluator's report (the worst
layers, the first thing to read when int8 loses accuracy).
"""

from __future__ import annotations

import csv
import io
import math

RANK_BY = "trimmed_nsr"
# Ops whose int8 output range is fixed by the kernel: keeping them in float alone fixes nothing.
FIXED_RANGE_OPS = frozenset({"SOFTMAX", "LOGISTIC", "TANH", "LOG_SOFTMAX"})


def ranked(layer_report_csv: str, skip_ops: frozenset[str] = frozenset()) -> list[tuple[str, str, float]]:
    """(tensor name, op, trimmed_nsr) worst first, one row per tensor (a non-finite or missing error
    ranks last)."""
    rows = [r for r in csv.DictReader(io.StringIO(layer_report_csv))
            if r.get("tensor_name") and r.get("op_name") not in skip_ops]
    rows.sort(key=lambda r: _number(r.get(RANK_BY)), reverse=True)
    seen: dict[str, tuple[str, str, float]] = {}
    for r in rows:
        seen.setdefault(r["tensor_name"], (r["tensor_name"], r.get("op_name") or "", _number(r.get(RANK_BY))))
    return list(seen.values())


def _number(text) -> float:
    try:
        value = float(text)
    except (TypeError, ValueError):
        return float("-inf")
    return value if math.isfinite(value) else float("-inf")
