"""The EdgeEvaluator's result dict as the HTML report's view-model.

build_view turns the result (metrics.json, see report.build) into frozen dataclasses holding
plain text and numbers, no markup, for html_report to render with templates/report.html.j2.
The classification and performance parts (per-class metrics, confusion matrices, size and
latency bars) come from report_charts; the cells and helpers both use are in report_cells.
No TensorFlow, TFX or Beam here, nor Jinja2.
"""

from __future__ import annotations

import json

from tfx_edge.components.edge_evaluator import report_charts
from tfx_edge.components.edge_evaluator.report_cells import (Cell, Row, Table, cell, drop_cls, frozen, is_number,
                                                              kib, metric, model_names, na, reference_names,
                                                              slice_of)
from tfx_edge.components.edge_evaluator.report_charts import BarChart, Confusion
from tfx_edge.schemas.names import OVERALL, QUANTIZED


@frozen
class Auto:
    trials: int
    seconds: Cell
    examples: Cell
    split: str
    metric: str
    tolerance: str
    met: bool
    selected: str
    best: str
    stopped: str
    table: Table


@frozen
class Report:
    blessed: bool
    facts: tuple                # of (name, Cell)
    gate: Table | None
    auto: Auto | None
    metrics: Table | None
    pairs: tuple                # of (reference, agreement Cell, max output difference Cell)
    per_class: Table | None
    confusion: Confusion | None
    size_chart: BarChart | None
    models: Table | None
    kernels: tuple
    slices: Table | None
    mapping: tuple              # of (model input, feature)
    output_name: Cell
    label_format: Cell
    config: str


# ---- cells and drops ----------------------------------------------------

def _pct(value, cls: str) -> Cell:
    return Cell(f"{100 * value:.2f}%", cls) if is_number(value) else na(cls)


def _slice_name(key) -> str:
    return "(overall)" if key == OVERALL else str(key)


def _verdict(passed: bool, failed: str) -> Cell:
    return Cell("passed", "", "pass") if passed else Cell(failed, "", "fail")


def _drop(slice_: dict, reference: str, name: str) -> dict:
    return ((slice_.get("drops") or {}).get(reference) or {}).get(name) or {}


def _drop_cells(drop: dict) -> tuple:
    cls = drop_cls(drop.get("absolute"))
    return cell(drop.get("absolute"), cls), _pct(drop.get("relative"), cls)


# ---- header, gate, metrics ----------------------------------------------

def _facts(result: dict) -> tuple:
    references = ", ".join(map(str, reference_names(result))) or None
    facts = [("mode", result.get("mode")), ("task", result.get("task")), ("examples", result.get("examples")),
             ("primary metric", result.get("primary_metric")), ("references", references)]
    host = result.get("latency_host")
    optional = [("float32 vs SavedModel", _parity(result.get("parity"))),
                ("latency measured on", f"this host (not a device): {host['cpu']}, {host['cores']} cores, "
                                        f"LiteRT {host['litert']}" if host else None),
                ("the app feeds", _app_inputs(result.get("derivation")))]
    facts += [(name, value) for name, value in optional if value is not None]
    return tuple((name, cell(value, "")) for name, value in facts)


def _parity(parity: dict | None) -> str | None:
    if not parity:
        return None
    what = "examples" if parity.get("source") == "examples" else "probe inputs"
    return (f"max relative difference {parity.get('worst_relative_diff', float('nan')):.2g} on "
            f"{parity.get('examples')} {what} (tolerance {parity.get('tolerance')})")


def _app_inputs(derivation: dict | None) -> str | None:
    if not derivation:
        return None
    inputs = ", ".join(f"{i['name']} {i['dtype']} {i['shape']}" for i in derivation.get("inputs", []))
    return f"{derivation.get('placement')} ({derivation.get('signature_kind')} signature): {inputs}"


def _gate(result: dict) -> Table | None:
    """A row per check, failed ones marked."""
    rows = []
    for check in result.get("checks") or []:
        passed, reference = bool(check.get("passed")), check.get("reference")
        cells = (Cell(str(check.get("name", "")), ""), Cell(_slice_name(check.get("slice", OVERALL)), ""),
                 Cell("—" if reference is None else str(reference), ""), cell(check.get("value")),
                 cell(check.get("limit")), _verdict(passed, "FAILED"), Cell(str(check.get("detail", "")), ""))
        rows.append(Row(cells, "passed" if passed else "failed"))
    headers = ("Check", "Slice", "Reference", "Value", "Limit", "Result", "Detail")
    return Table("gate", headers, tuple(rows)) if rows else None


def _metric_row(result: dict, slice_: dict, name: str) -> Row:
    cells = [Cell(str(name), ""), *(cell(metric(slice_, m, name)) for m in model_names(result))]
    for reference in reference_names(result):
        drop = _drop(slice_, reference, name)
        cells += _drop_cells(drop) if drop else (Cell(), Cell())
    return Row(tuple(cells), "primary" if name == result.get("primary_metric") else "")


def _metrics(result: dict) -> Table | None:
    """Overall metrics (not the per-class ones) of every model, and drops vs each reference."""
    slice_, models = slice_of(result), model_names(result)
    per_class = ("precision_class_", "recall_class_")
    names = list(dict.fromkeys(n for m in models for n in (slice_.get("metrics") or {}).get(m) or {}
                               if not any(n.startswith(p) and n[len(p):].isdigit() for p in per_class)))
    if not names:
        return None
    headers = ["Metric", *map(str, models)]
    for reference in reference_names(result):
        headers += [f"drop vs {reference}", f"relative drop vs {reference}"]
    return Table("metrics", tuple(headers), tuple(_metric_row(result, slice_, n) for n in names))


def _pairs(result: dict) -> tuple:
    return tuple((str(ref), cell(p.get("agreement")), cell(p.get("max_output_diff")))
                 for ref, p in (slice_of(result).get("pairs") or {}).items() if isinstance(p, dict))


# ---- slices, auto search, report ----------------------------------------

def _slices(result: dict) -> Table | None:
    """The primary metric per slice, overall first, when there are slices besides the overall one."""
    slices = result.get("slices") or {}
    if len(slices) < 2:
        return None
    primary, references, rows = result.get("primary_metric") or "", reference_names(result), []
    for key in sorted(slices, key=lambda k: k != OVERALL):  # overall first, others in given order
        slice_ = slices[key] or {}
        cells = [Cell(_slice_name(key), ""), cell(slice_.get("examples")), cell(metric(slice_, QUANTIZED, primary))]
        for reference in references:
            drop = _drop(slice_, reference, primary)
            cells += [cell(metric(slice_, reference, primary)), *(_drop_cells(drop) if drop else (na(), na()))]
        rows.append(Row(tuple(cells)))
    headers = ["Slice", "Examples", f"{primary} quantized"]
    for reference in references:
        headers += [f"{primary} {reference}", f"drop vs {reference}", f"relative drop vs {reference}"]
    return Table("slices", tuple(headers), tuple(rows))


def _trial_row(trial: dict, selected) -> Row:
    passed, drop = bool(trial.get("passed")), trial.get("absolute_drop")
    name = Cell(str(trial.get("name", "")), "", bold="(selected)" if trial.get("name") == selected else "")
    cells = (name, Cell(kib(trial.get("size_bytes"))), cell(trial.get("latency_p50_us")),
             cell(trial.get("metric")), cell(trial.get("reference")), cell(drop, drop_cls(drop)),
             cell(trial.get("seconds")), Cell("yes" if trial.get("cached") else "no", ""),
             _verdict(passed, "failed"), Cell("; ".join(trial.get("reasons") or []), ""))
    return Row(cells, "passed" if passed else "failed")


def _auto(result: dict) -> Auto | None:
    """The Quantizer's auto search, when mode was 'auto': every trial and the decision."""
    auto = result.get("auto")
    if not auto:
        return None
    validation, trials = auto.get("validation") or {}, auto.get("trials") or []
    headers = ("Candidate", "Size", "p50 us", "Metric", "Float32", "Drop", "Seconds", "Cached", "Result", "Why")
    table = Table("auto", headers, tuple(_trial_row(t, auto.get("selected")) for t in trials))
    return Auto(len(trials), cell(auto.get("seconds")), cell(validation.get("examples")),
                str(validation.get("split")), str(auto.get("metric")), str(auto.get("tolerance")),
                bool(auto.get("met")), str(auto.get("selected")), str(auto.get("best")),
                str(auto["stopped"]) if auto.get("stopped") else "", table)


def build_view(result: dict) -> Report:
    """The report's view-model: every figure of the result dict as text and numbers."""
    return Report(
        blessed=bool(result.get("blessed")), facts=_facts(result), gate=_gate(result), auto=_auto(result),
        metrics=_metrics(result), pairs=_pairs(result), per_class=report_charts.per_class_table(result),
        confusion=report_charts.confusion_matrices(result), size_chart=report_charts.size_chart(result),
        models=report_charts.models_table(result), kernels=report_charts.kernel_charts(result),
        slices=_slices(result),
        mapping=tuple((str(k), str(v)) for k, v in (result.get("input_mapping") or {}).items()),
        output_name=cell(result.get("output_name"), ""), label_format=cell(result.get("label_format"), ""),
        config=json.dumps(result.get("config"), indent=2, default=str))
