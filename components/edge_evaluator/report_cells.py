"""The HTML report's cells and result-dict helpers, shared by report_charts and report_view.

Cell, Row and Table are the view-model's table parts (frozen dataclasses of plain text, no
markup); the functions turn result values into text and cells and read the typed result
(metrics.json: records.EvaluationResult). Imports go one way: report_cells <- report_charts <- report_view.
No TensorFlow, TFX or Beam here, nor Jinja2.
"""

from __future__ import annotations

import dataclasses
import json
import math
from typing import TypeGuard

from tfx_edge.schemas.names import OVERALL, QUANTIZED
from tfx_edge.schemas.records import EvaluationResult, SliceSummary



@dataclasses.dataclass(frozen=True)
class Cell:
    """A value as text; `span` wraps it in <span class=...> (na, pass, fail); `bold` follows in <b>."""
    text: str = ""
    cls: str = "num"     # the <td> class, "" for none
    span: str = ""
    bold: str = ""


@dataclasses.dataclass(frozen=True)
class Row:
    cells: tuple
    cls: str = ""


@dataclasses.dataclass(frozen=True)
class Table:
    cls: str
    headers: tuple
    rows: tuple


# ---- values -------------------------------------------------------------

def missing(value) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))


def is_number(value: object) -> TypeGuard[float]:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and not missing(value)


def text(value) -> str:
    """A value as plain text: numbers to 4 significant digits, "n/a" when missing."""
    if missing(value):
        return "n/a"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if math.isinf(value):
            return "inf" if value > 0 else "-inf"
        value += 0.0  # no "-0"
        return f"{value:,.0f}" if abs(value) >= 1e4 else f"{value:.4g}"
    if isinstance(value, str):
        return value
    return json.dumps(value, default=str)


def na(cls: str = "num") -> Cell:
    return Cell("n/a", cls, "na")


def relative(value) -> str:
    """A relative drop as a percentage of the reference's value; every other metric value and absolute
    drop is a fraction in text()'s form, as thresholds are written (lower_bound=0.9, max_absolute_drop=
    0.01). One convention for the page, report.txt and the console."""
    return f"{100 * value:.2f}%" if is_number(value) else "n/a"


def drop_text(drop) -> str:
    """An absolute drop with its 95% interval when it has one: "0.0056 [0.0011, 0.0102]"."""
    if drop is None or missing(drop.absolute):
        return "n/a"
    if is_number(drop.ci_low) and is_number(drop.ci_high):
        return f"{text(drop.absolute)} [{text(drop.ci_low)}, {text(drop.ci_high)}]"
    return text(drop.absolute)


def cell(value, cls: str = "num") -> Cell:
    """A value's cell; a grey n/a when missing."""
    return na(cls) if missing(value) else Cell(text(value), cls)


def kib(size) -> str:
    return f"{size / 1024:,.1f} KiB" if is_number(size) else "n/a"


def drop_cls(absolute) -> str:
    """Cell class for a drop: positive (worse) in red, negative (better) in green."""
    if not is_number(absolute) or absolute == 0:
        return "num"
    return "num worse" if absolute > 0 else "num better"


# ---- result access ------------------------------------------------------

def reference_names(result: EvaluationResult) -> list:
    return list(result.references)


def first_reference(result: EvaluationResult):
    return next(iter(reference_names(result)), None)


def model_names(result: EvaluationResult) -> list:
    return [QUANTIZED, *reference_names(result)]


def slice_of(result: EvaluationResult, key: str = OVERALL) -> SliceSummary | None:
    return result.slices.get(key)


def metric(slice_: SliceSummary | None, model: str, name: str):
    return slice_.metric(model, name) if slice_ is not None else None
