"""The gate's default guards: a collapsed class or positive rate, and the outputs it does not score.

Thresholds name the metrics a user cares about; a quantized model can still break in ways those
metrics hide (a binary classifier that never predicts the positive class keeps its accuracy on
a skewed split; a second head nobody configured). These checks run unless switched off in
EvaluationConfig.guards, and each one's detail names the field that switches it off.
"""

from __future__ import annotations

from typing import Mapping, Sequence

import numpy as np

from tfx_edge.schemas import records
from tfx_edge.schemas.evaluation import Guards

COLLAPSE_MIN_EXAMPLES = 5     # a class the reference predicts this often (and >= 1% of the examples)...
COLLAPSE_MIN_SHARE = 0.01     # ...must be predicted by the candidate at least once


def checks(guards: Guards, confusion: Mapping[str, Sequence[Sequence[int]]], candidate: str,
           references: Sequence[str], other_outputs: Mapping[str, Mapping[str, Mapping]]) -> list[records.CheckRecord]:
    """Every enabled guard's checks (confusion: model -> matrix [label][prediction], overall)."""
    out: list[records.CheckRecord] = []
    for ref in references:
        if candidate in confusion and ref in confusion:
            quant, base = (np.asarray(confusion[m]).sum(axis=0) for m in (candidate, ref))
            if guards.class_collapse:
                out += _class_collapse(quant, base, ref)
            if guards.positive_rate_collapse and len(quant) == 2:
                out.append(_positive_rate(quant, base, ref))
    if guards.other_outputs:
        for name, by_ref in sorted(other_outputs.items()):
            out += [_other_output(name, ref, figures, guards) for ref, figures in sorted(by_ref.items())]
    return out


def _class_collapse(quant: np.ndarray, base: np.ndarray, ref: str) -> list[records.CheckRecord]:
    total = int(base.sum())
    floor = max(COLLAPSE_MIN_EXAMPLES, COLLAPSE_MIN_SHARE * total)
    gone = [c for c in range(len(base)) if base[c] >= floor and quant[c] == 0]
    if not gone:
        return [records.CheckRecord("guards.class_collapse", 0, 0, True,
                                    f"every class {ref} predicts for >= max({COLLAPSE_MIN_EXAMPLES}, "
                                    f"{COLLAPSE_MIN_SHARE:.0%}) of the examples is predicted", reference=ref)]
    counts = ", ".join(f"class {c}: {int(base[c])} by {ref}, 0 quantized" for c in gone)
    return [records.CheckRecord("guards.class_collapse", len(gone), 0, False,
                                f"the quantized model never predicts class(es) {gone} ({counts}): "
                                f"FAILED (set guards.class_collapse=False to switch this guard off)", reference=ref)]


def _positive_rate(quant: np.ndarray, base: np.ndarray, ref: str) -> records.CheckRecord:
    rate, ref_rate = float(quant[1] / max(quant.sum(), 1)), float(base[1] / max(base.sum(), 1))
    collapsed = rate in (0.0, 1.0) and ref_rate not in (0.0, 1.0)
    detail = (f"quantized positive rate {rate:.4g} (reference {ref_rate:.4g})" +
              (": FAILED, the quantized model predicts one class only (set guards.positive_rate_collapse=False "
               "to switch this guard off)" if collapsed else ""))
    return records.CheckRecord("guards.positive_rate_collapse", rate, "not 0 or 1", not collapsed, detail,
                               reference=ref)


def _other_output(name: str, ref: str, figures: Mapping, guards: Guards) -> records.CheckRecord:
    off = "set guards.other_outputs=False to switch this guard off, or gate the output with output_name"
    where = f"output {name!r} (not scored by the thresholds) vs {ref}"
    if figures["nonfinite"]:
        return records.CheckRecord(f"guards.other_outputs[{name}]", figures["nonfinite"], 0, False,
                                   f"{where}: {figures['nonfinite']} rows with NaN/inf: FAILED ({off})", reference=ref)
    if figures["agreement"] is not None:
        value, ok = figures["agreement"], figures["agreement"] >= guards.min_agreement
        detail = f"{where}: top-1 agreement {value:.4g} >= guards.min_agreement {guards.min_agreement:g}"
        return records.CheckRecord(f"guards.other_outputs[{name}]", value, guards.min_agreement, ok,
                                   detail + ("" if ok else f": FAILED ({off})"), reference=ref)
    value = figures["relative_rms_difference"]
    ok = value is not None and value <= guards.max_relative_difference
    detail = (f"{where}: relative RMS difference {value if value is None else format(value, '.4g')} <= "
              f"guards.max_relative_difference {guards.max_relative_difference:g}")
    return records.CheckRecord(f"guards.other_outputs[{name}]", value, guards.max_relative_difference, ok,
                               detail + ("" if ok else f": FAILED ({off})"), reference=ref)
