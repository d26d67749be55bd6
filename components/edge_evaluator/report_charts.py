"""The report's classification and performance parts: per-class metrics, confusion matrices, model
sizes and latencies (inline SVG bars).

report_view.build_view calls the public functions here; they return view-model parts (frozen
dataclasses of plain text and numbers, no markup) built on report_cells' cells and helpers.
No TensorFlow, TFX or Beam here, nor Jinja2.
"""

from __future__ import annotations

import dataclasses
from typing import Mapping

from tfx_edge.components.edge_evaluator.report_cells import (Cell, Row, Table, cell, drop_cls, first_reference,
                                                              is_number, kib, metric, model_names, na,
                                                              slice_of, text)
from tfx_edge.schemas.names import FLOAT_TFLITE, QUANTIZED
from tfx_edge.schemas.records import EvaluationResult, LatencyStats, SliceSummary

SLOWER = "slower than float"
_LABEL_W, _BAR_W, _CHART_W, _ROW_H = 170, 460, 1000, 24   # bar chart geometry (px)


@dataclasses.dataclass(frozen=True)
class ConfusionCell:
    text: str
    na: bool = False
    alpha: float = 0.0          # the share of the row: the cell's shading
    worse: bool = False         # an error the reference makes less often
    title: str | None = None    # the reference's count


@dataclasses.dataclass(frozen=True)
class Matrix:
    name: str
    width: int
    rows: tuple                 # of tuples of ConfusionCell


@dataclasses.dataclass(frozen=True)
class Confusion:
    matrices: tuple
    reference: str | None       # set when the quantized matrix is compared with it


@dataclasses.dataclass(frozen=True)
class Bar:
    x: int
    y: int
    width: float
    height: int
    fill: str


@dataclasses.dataclass(frozen=True)
class BarRow:
    name: str
    label_x: int
    text_y: int
    bars: tuple
    note: str
    note_x: float


@dataclasses.dataclass(frozen=True)
class BarChart:
    label: str
    width: int
    height: int
    rows: tuple


@dataclasses.dataclass(frozen=True)
class KernelChart:
    kernel: str
    slower: bool
    chart: BarChart


# ---- classification -----------------------------------------------------

def _class_ids(result: EvaluationResult, slice_: SliceSummary | None) -> list:
    count = result.num_classes
    if count is not None and count > 0:
        return list(range(count))
    prefix = "recall_class_"
    names = slice_.metrics.get(QUANTIZED, {}) if slice_ else {}
    return sorted(int(n[len(prefix):]) for n in names if n.startswith(prefix) and n[len(prefix):].isdigit())


def _per_class_row(slice_: SliceSummary | None, i: int, reference) -> Row:
    cells = [Cell(str(i))]
    for model in [QUANTIZED] + ([reference] if reference else []):
        cells += [cell(metric(slice_, model, f"{kind}_class_{i}")) for kind in ("precision", "recall")]
    if reference:
        quant, ref = (metric(slice_, m, f"recall_class_{i}") for m in (QUANTIZED, reference))
        drop = ref - quant if is_number(quant) and is_number(ref) else None
        cells.append(cell(drop, drop_cls(drop)))
    return Row(tuple(cells))


def per_class_table(result: EvaluationResult) -> Table | None:
    slice_ = slice_of(result)
    ids = _class_ids(result, slice_) if result.task == "classification" else []
    if not ids:
        return None
    reference = first_reference(result)
    headers = ["Class", "precision quantized", "recall quantized"]
    if reference:
        headers += [f"precision {reference}", f"recall {reference}", "recall drop"]
    return Table("per-class", tuple(headers), tuple(_per_class_row(slice_, i, reference) for i in ids))


def _cell_value(matrix, i: int, j: int):
    try:
        return matrix[i][j]
    except (IndexError, KeyError, TypeError):
        return None


def _confusion_cell(count, total, baseline_count, diagonal: bool) -> ConfusionCell:
    if not is_number(count):
        return ConfusionCell("n/a", na=True)
    alpha = count / total if is_number(total) and total > 0 else 0.0
    worse = not diagonal and is_number(baseline_count) and count > baseline_count
    title = None if baseline_count is None else text(baseline_count)
    return ConfusionCell(text(count), alpha=alpha, worse=worse, title=title)


def _matrix(name: str, matrix, baseline) -> Matrix:
    rows = tuple(tuple(_confusion_cell(c, sum(x for x in row if is_number(x)), _cell_value(baseline, i, j), i == j)
                       for j, c in enumerate(row)) for i, row in enumerate(matrix))
    return Matrix(str(name), max((len(row) for row in matrix), default=0), rows)


def confusion_matrices(result: EvaluationResult) -> Confusion | None:
    """The quantized matrix, outlined where it errs more than the first reference's, and that one."""
    confusion = result.confusion
    if result.task != "classification" or not confusion:
        return None
    reference = first_reference(result)
    baseline = confusion.get(reference) if reference else None
    matrices = [_matrix(QUANTIZED, confusion[QUANTIZED], baseline)] if confusion.get(QUANTIZED) else []
    if baseline:
        matrices.append(_matrix(reference, baseline, None))
    return Confusion(tuple(matrices), str(reference) if baseline else None) if matrices else None


# ---- size and latency (inline SVG bars) ---------------------------------

def _bar_width(value, scale) -> float:
    if not is_number(value) or not is_number(scale) or scale <= 0:
        return 0.0
    return max(1.0, _BAR_W * min(value, scale) / scale)


def _bar_chart(rows: list, scale, label: str) -> BarChart:
    """rows: (name, [(value, colour), ...] drawn in order over each other, plain-text note)."""
    chart_rows = []
    for k, (name, bars, note) in enumerate(rows):
        y = 3 + k * _ROW_H
        widths = [_bar_width(value, scale) for value, _ in bars] or [0.0]
        rects = tuple(Bar(_LABEL_W, y + 3, w, _ROW_H - 7, colour) for (_, colour), w in zip(bars, widths))
        chart_rows.append(BarRow(str(name), _LABEL_W - 8, y + 16, rects, note, _LABEL_W + max(widths) + 6))
    return BarChart(label, _CHART_W, _ROW_H * len(rows) + 6, tuple(chart_rows))


def _colours(model: str, slower: bool = False) -> tuple:
    """(dark, light) fill for a model's bars."""
    if slower:
        return "#dc2626", "#fca5a5"
    return ("#2563eb", "#93c5fd") if model == QUANTIZED else ("#6b7280", "#d1d5db")


def size_chart(result: EvaluationResult) -> BarChart | None:
    """A bar per model; the quantized one's note gives its share of the first reference's size."""
    models = result.models
    sizes = {m: models[m].size_bytes for m in model_names(result) if m in models}
    reference = first_reference(result)
    ref_size, rows = sizes.get(reference), []
    for model, size in sizes.items():
        note = kib(size)
        if model == QUANTIZED and is_number(size) and is_number(ref_size) and ref_size > 0:
            note += f" ({100 * size / ref_size:.1f}% of {reference})"
        rows.append((model, [(size, _colours(model)[0])], note))
    scale = max((s for s in sizes.values() if is_number(s)), default=None)
    return _bar_chart(rows, scale, "model size") if rows else None


def models_table(result: EvaluationResult) -> Table | None:
    models = result.models
    rows = []
    for name in [m for m in model_names(result) if m in models]:
        model = models[name]
        size, ops = model.size_bytes, model.ops
        counts = {k: v for k, v in dataclasses.asdict(ops).items() if k != "by_op"} if ops else {}
        ops_text = ", ".join(f"{k} {text(v)}" for k, v in counts.items())
        rows.append(Row((Cell(str(name), ""), Cell(kib(size)) if is_number(size) else na(),
                         cell(model.path, ""), Cell(ops_text, "") if ops else na(""))))
    return Table("models", ("Model", "Size", "Path", "Ops"), tuple(rows)) if rows else None


def _stat(latency: Mapping[str, Mapping[str, LatencyStats]], model: str, kernel: str, key: str):
    stats = latency.get(model, {}).get(kernel)
    return getattr(stats, key) if stats is not None else None


def _is_slower(latency: Mapping[str, Mapping[str, LatencyStats]], kernel: str) -> bool:
    """Quantized p50 above the float reference's p50 under this kernel."""
    quant, ref = (_stat(latency, m, kernel, "p50_us") for m in (QUANTIZED, FLOAT_TFLITE))
    return is_number(quant) and is_number(ref) and quant > ref


def _latency_rows(result: EvaluationResult, latency: Mapping[str, Mapping[str, LatencyStats]], kernel: str,
                  slower: bool) -> list:
    """A row per model measured under this kernel: light bar p95 under dark bar p50."""
    names, rows = model_names(result), []
    for model in [*names, *(m for m in latency if m not in names)]:
        if latency.get(model, {}).get(kernel) is None:
            continue
        p50, p95 = (_stat(latency, model, kernel, k) for k in ("p50_us", "p95_us"))
        marked = slower and model == QUANTIZED
        dark, light = _colours(model, marked)
        note = f"p50 {text(p50)} µs · p95 {text(p95)} µs" + (f" · {SLOWER}" if marked else "")
        rows.append((model, [(p95, light), (p50, dark)], note))
    return rows


def kernel_charts(result: EvaluationResult) -> tuple:
    """A chart per kernel, all on one scale."""
    latency = result.latency
    kernels = list(dict.fromkeys(k for per_model in latency.values() for k in per_model))
    stats = (_stat(latency, m, k, key) for m in latency for k in kernels for key in ("p95_us", "p50_us"))
    scale = max((v for v in stats if is_number(v)), default=None)
    charts = []
    for kernel in kernels:
        slower = _is_slower(latency, kernel)
        rows = _latency_rows(result, latency, kernel, slower)
        charts.append(KernelChart(str(kernel), slower, _bar_chart(rows, scale, f"latency {kernel}")))
    return tuple(charts)

