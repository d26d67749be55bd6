"""The report's binary-output curves: ROC, precision-recall and calibration of every model (inline SVG).

report_view.build_view calls `curve_charts`; each chart is a frozen dataclass of plain numbers and
text (polyline points in SVG coordinates), rendered by templates/_macros.html.j2 `line_chart`.
No TensorFlow, TFX or Beam here, nor Jinja2.
"""

from __future__ import annotations

import dataclasses

from tfx_edge.schemas.names import QUANTIZED
from tfx_edge.schemas.records import EvaluationResult

SIZE, PAD = 240, 36          # plot square and margin (px)
COLOURS = {QUANTIZED: "#2563eb"}
OTHER_COLOUR = "#6b7280"


@dataclasses.dataclass(frozen=True)
class Line:
    model: str
    colour: str
    points: str          # "x,y x,y ..." in SVG coordinates
    dashed: bool = False


@dataclasses.dataclass(frozen=True)
class LineChart:
    title: str
    x_label: str
    y_label: str
    size: int
    pad: int
    lines: tuple


def _points(pairs, size: int = SIZE, pad: int = PAD) -> str:
    """(x, y) in [0, 1] to SVG coordinates (y grows downwards)."""
    return " ".join(f"{pad + x * size:.1f},{pad + (1 - y) * size:.1f}" for x, y in pairs)


def curve_charts(result: EvaluationResult) -> tuple:
    """ROC, precision-recall and calibration charts, one line per model (the diagonal dashed)."""
    if not result.curves:
        return ()
    diagonal = Line("ideal", "#d1d5db", _points([(0, 0), (1, 1)]), dashed=True)
    charts = []
    for title, x_label, y_label, pick in (
            ("ROC", "false positive rate", "true positive rate", lambda c: c.roc),
            ("Precision-recall", "recall", "precision", lambda c: c.pr),
            ("Calibration", "mean prediction", "mean label", lambda c: [(p, y) for p, y, _ in c.calibration])):
        lines = [Line(model, COLOURS.get(model, OTHER_COLOUR), _points(pick(curves)))
                 for model, curves in sorted(result.curves.items(), key=lambda kv: kv[0] != QUANTIZED)]
        extra = [diagonal] if title != "Precision-recall" else []
        charts.append(LineChart(title, x_label, y_label, SIZE, PAD, tuple(extra + lines)))
    return tuple(charts)
