"""The report's diagnosis parts: which cells of the confusion matrix the quantization moved, and the
int8 layers with the largest error (the export's layer report). View-model only: text and numbers,
no markup (html_report renders them)."""

from __future__ import annotations

from tfx_edge.components.edge_evaluator.report_cells import Cell, Row, Table, cell, first_reference, is_number
from tfx_edge.schemas.names import QUANTIZED
from tfx_edge.schemas.records import EvaluationResult

TOP_CHANGES = 8


def confusion_changes(result: EvaluationResult) -> Table | None:
    """The cells whose count changed most from the first reference to the quantized model."""
    quantized = result.confusion.get(QUANTIZED)
    reference = first_reference(result)
    baseline = result.confusion.get(reference) if reference else None
    if result.task != "classification" or not quantized or not baseline:
        return None
    changes = [(q - b, i, j, q, b) for i, (q_row, b_row) in enumerate(zip(quantized, baseline))
               for j, (q, b) in enumerate(zip(q_row, b_row)) if is_number(q) and is_number(b) and q != b]
    if not changes:
        return None
    changes.sort(key=lambda c: (-abs(c[0]), c[1], c[2]))
    rows = tuple(Row((Cell(str(i)), Cell(str(j)), Cell("right" if i == j else "wrong", ""), cell(b), cell(q),
                      Cell(f"{d:+d}", "num worse" if (d < 0) == (i == j) else "num better")))
                 for d, i, j, q, b in changes[:TOP_CHANGES])
    return Table("changes", ("Label", "Predicted", "Decision", str(reference), QUANTIZED, "Change"), rows)


def worst_layers(result: EvaluationResult) -> Table | None:
    """The layer report's worst tensors (noise-to-signal ratio of int8 against float)."""
    if not result.worst_layers:
        return None
    rows = tuple(Row((Cell(layer.tensor, ""), Cell(layer.op, ""), cell(layer.trimmed_nsr)))
                 for layer in result.worst_layers)
    return Table("layers", ("Tensor", "Op", "Trimmed noise-to-signal"), rows)


def targets(result: EvaluationResult) -> Table | None:
    """Each deployment target beyond the host CPU: whether the model runs there, and what it measured."""
    if not result.targets:
        return None
    rows = tuple(Row((Cell(t.target, ""), Cell("runs" if t.runs else "refused", "pass" if t.runs else "fail"),
                      cell(t.arena_bytes), Cell(", ".join(o.op for o in t.refused) or "-", ""),
                      Cell(t.detail, ""), Cell(t.checked_by, "")))
                 for t in result.targets)
    return Table("targets", ("Target", "Result", "Arena bytes", "Ops it cannot run", "Detail", "Checked by"), rows)
