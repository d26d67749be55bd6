"""The EdgeEvaluator's typed result as one self-contained HTML page.

report_view.build_view (with report_charts, both built on report_cells) turns the result
(metrics.json, see report.build) into a small view-model of frozen dataclasses holding plain text
and numbers, no markup; templates/report.html.j2 renders it with autoescaping on, so every string
taken from the result is escaped. The page has inline CSS and SVG, no scripts and no external
assets. No TensorFlow, TFX or Beam here.
"""

from __future__ import annotations

import functools

import jinja2

from tfx_edge.components.edge_evaluator import report_charts, report_view
from tfx_edge.schemas.records import EvaluationResult

TITLE = "tfx-edge EdgeEvaluator report"
BLESSED_COLOUR = "#15803d"
NOT_BLESSED_COLOUR = "#b91c1c"
TEMPLATE = "report.html.j2"


@functools.cache
def _environment() -> jinja2.Environment:
    env = jinja2.Environment(loader=jinja2.PackageLoader("tfx_edge.components.edge_evaluator", "templates"),
                             autoescape=True, undefined=jinja2.StrictUndefined, trim_blocks=True,
                             lstrip_blocks=True, keep_trailing_newline=True)
    env.globals.update(title=TITLE, blessed_colour=BLESSED_COLOUR, not_blessed_colour=NOT_BLESSED_COLOUR,
                       slower=report_charts.SLOWER)
    return env


def render_html(result: EvaluationResult) -> str:
    """The whole report as one HTML document (inline CSS and SVG, no scripts)."""
    return _environment().get_template(TEMPLATE).render(r=report_view.build_view(result))
