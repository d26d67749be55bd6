"""The EdgeEvaluator's typed result (records.EvaluationResult) as the HTML report's view-model.

build_view turns the result (metrics.json, see report.build) into frozen dataclasses holding
plain text and numbers, no markup, for html_report to render with templates/report.html.j2.
The classification and performance parts (per-class metrics, confusion matrices, size and
latency bars) come from report_charts; the cells and helpers both use are in report_cells.
No TensorFlow, TFX or Beam here, nor Jinja2.
"""

from __future__ import annotations

import dataclasses
import json

from tfx_edge.components.edge_evaluator import report_charts, report_curves, report_diagnosis
from tfx_edge.components.edge_evaluator.report_cells import (Cell, Row, Table, cell, drop_cls, drop_text,
                                                              first_reference, is_number, kib, metric,
                                                              model_names, na, reference_names, relative,
                                                              slice_of)
from tfx_edge.components.edge_evaluator.report_charts import BarChart, Confusion
from tfx_edge.schemas.names import OVERALL, QUANTIZED
from tfx_edge.schemas.records import Derivation, Drop, EvaluationResult, ParityRecord, SliceSummary, Trial


@dataclasses.dataclass(frozen=True)
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


@dataclasses.dataclass(frozen=True)
class Report:
    blessed: bool
    facts: tuple                # of (name, Cell)
    gate: Table | None
    auto: Auto | None
    metrics: Table | None
    other_outputs: Table | None
    scored_outputs: tuple       # of (output name, metrics Table | None)
    curves: tuple               # of report_curves.LineChart (a binary output)
    pairs: tuple                # of (reference, agreement Cell, max output difference Cell)
    per_class: Table | None
    confusion: Confusion | None
    confusion_changes: Table | None
    worst_layers: Table | None
    targets: Table | None
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
    return Cell(relative(value), cls) if is_number(value) else na(cls)


def _slice_name(key) -> str:
    return "(overall)" if key == OVERALL else str(key)


def _verdict(passed: bool, failed: str) -> Cell:
    return Cell("passed", "", "pass") if passed else Cell(failed, "", "fail")


def _drop(slice_: SliceSummary | None, reference: str, name: str) -> Drop | None:
    return slice_.drop(reference, name) if slice_ is not None else None


def _drop_cells(drop: Drop) -> tuple:
    """The absolute drop (with its 95% interval when there is one) and the relative drop."""
    cls = drop_cls(drop.absolute)
    absolute = Cell(drop_text(drop), cls) if is_number(drop.absolute) else na(cls)
    return absolute, _pct(drop.relative, cls)


# ---- header, gate, metrics ----------------------------------------------

def _facts(result: EvaluationResult) -> tuple:
    references = ", ".join(map(str, reference_names(result))) or None
    facts = [("mode", result.mode), ("task", result.task), ("examples", result.examples),
             ("primary metric", result.primary_metric), ("references", references)]
    host = result.latency_host
    optional = [("float32 vs SavedModel", _parity(result.parity)),
                ("latency measured on", f"this host (not a device): {host.cpu}, {host.cores} cores, "
                                        f"LiteRT {host.litert}" if host else None),
                ("the app feeds", _app_inputs(result.derivation))] + _identity(result)
    facts += [(name, value) for name, value in optional if value is not None]
    return tuple((name, cell(value, "")) for name, value in facts)


def _identity(result: EvaluationResult) -> list:
    """Which run, files and bytes this is of."""
    ident, prov = result.identity, result.provenance
    return [("quantized sha256", prov.quantized_sha256), ("float32 sha256", prov.float_sha256)] + (
        [("evaluated", f"{ident.evaluated_at} by tfx-edge {ident.tfx_edge_version}"),
         ("run", ident.pipeline_run_id), ("model", ident.model_uri), ("examples", ident.examples_uri)]
        if ident else [])


def _parity(parity: ParityRecord | None) -> str | None:
    if parity is None:
        return None
    what = "examples" if parity.source == "examples" else "probe inputs"
    worst = parity.worst_relative_diff
    return (f"max relative difference {float('nan') if worst is None else worst:.2g} on "
            f"{parity.examples} {what} (tolerance {parity.tolerance})")


def _app_inputs(derivation: Derivation | None) -> str | None:
    if derivation is None:
        return None
    inputs = ", ".join(f"{i.name} {i.dtype} {list(i.shape)}" for i in derivation.inputs)
    return f"{derivation.placement.value} ({derivation.signature_kind} signature): {inputs}"


def _gate(result: EvaluationResult) -> Table | None:
    """A row per check, failed ones marked."""
    rows = []
    for check in result.checks:
        passed, reference = check.passed, check.reference
        cells = (Cell(check.name, ""), Cell(_slice_name(check.slice), ""),
                 Cell("—" if reference is None else str(reference), ""), cell(check.value),
                 cell(check.limit), _verdict(passed, "FAILED"), Cell(check.detail, ""))
        rows.append(Row(cells, "passed" if passed else "failed"))
    headers = ("Check", "Slice", "Reference", "Value", "Limit", "Result", "Detail")
    return Table("gate", headers, tuple(rows)) if rows else None


def _metric_row(result: EvaluationResult, slice_: SliceSummary | None, name: str) -> Row:
    cells = [Cell(str(name), ""), *(cell(metric(slice_, m, name)) for m in model_names(result))]
    for reference in reference_names(result):
        drop = _drop(slice_, reference, name)
        cells += _drop_cells(drop) if drop else (Cell(), Cell())
    return Row(tuple(cells), "primary" if name == result.primary_metric else "")


def _metrics(result: EvaluationResult, slice_: SliceSummary | None = None, cls: str = "metrics") -> Table | None:
    """Overall metrics (not the per-class ones) of every model, and drops vs each reference (of the
    scored output, or of the given slice: an extra output's)."""
    slice_, models = slice_ or slice_of(result), model_names(result)
    per_class = ("precision_class_", "recall_class_")
    values = slice_.metrics if slice_ is not None else {}
    names = list(dict.fromkeys(n for m in models for n in values.get(m, {})
                               if not any(n.startswith(p) and n[len(p):].isdigit() for p in per_class)))
    if not names:
        return None
    headers = ["Metric", *map(str, models)]
    for reference in reference_names(result):
        headers += [f"drop vs {reference}", f"relative drop vs {reference}"]
    return Table(cls, tuple(headers), tuple(_metric_row(result, slice_, n) for n in names))


def _scored_outputs(result: EvaluationResult) -> tuple:
    """(output name, metrics table) of each extra scored output (EvaluationConfig.outputs)."""
    return tuple((name, _metrics(result, out.slices.get(OVERALL), "output-metrics"))
                 for name, out in sorted(result.scored_outputs.items()))


def _other_outputs(result: EvaluationResult) -> Table | None:
    """A row per output the thresholds do not read and reference: agreement, relative RMS difference."""
    rows = tuple(Row((Cell(name, ""), Cell(ref, ""), cell(c.examples), cell(c.agreement),
                      cell(c.relative_rms_difference), cell(c.max_abs_difference)))
                 for name, by_ref in result.other_outputs.items() for ref, c in by_ref.items())
    headers = ("Output", "Reference", "Examples", "Top-1 agreement", "Relative RMS difference", "Max |difference|")
    return Table("other-outputs", headers, rows) if rows else None


def _pairs(result: EvaluationResult) -> tuple:
    slice_ = slice_of(result)
    return tuple((str(ref), cell(p.get("agreement")), cell(p.get("max_output_diff")))
                 for ref, p in (slice_.pairs if slice_ is not None else {}).items())


# ---- slices, auto search, report ----------------------------------------

def _gated_metrics(result: EvaluationResult) -> list[str]:
    """The primary metric, then every other metric a threshold names (overall or per slice)."""
    thresholds = result.config.thresholds
    named = [*thresholds.metrics, *(m for st in thresholds.slices for m in st.metrics)]
    return list(dict.fromkeys([result.primary_metric, *named]))


def _slices(result: EvaluationResult) -> Table | None:
    """Every gated metric per slice, the overall one first, then the slices by their primary drop
    (worst first), when there are slices besides the overall one."""
    slices = result.slices
    if len(slices) < 2:
        return None
    gated, reference = _gated_metrics(result), first_reference(result)

    def worst_first(key: str) -> tuple:
        drop = _drop(slices[key], reference, gated[0]) if reference else None
        value = drop.absolute if drop is not None and is_number(drop.absolute) else float("-inf")
        return (key != OVERALL, -value, key)
    rows = []
    for key in sorted(slices, key=worst_first):
        slice_ = slices[key]
        cells = [Cell(_slice_name(key), ""), cell(slice_.examples)]
        for name in gated:
            drop = _drop(slice_, reference, name) if reference else None
            cells += [cell(metric(slice_, QUANTIZED, name)), cell(metric(slice_, reference, name)) if reference
                      else na(), *(_drop_cells(drop)[:1] if drop else (na(),))]
        rows.append(Row(tuple(cells)))
    headers = ["Slice", "Examples"]
    for name in gated:
        headers += [f"{name} quantized", f"{name} {reference}", f"{name} drop"]
    return Table("slices", tuple(headers), tuple(rows))


def _trial_row(trial: Trial, selected) -> Row:
    passed, drop = trial.passed, trial.absolute_drop
    name = Cell(trial.name, "", bold="(selected)" if trial.name == selected else "")
    cells = (name, Cell(kib(trial.size_bytes)), cell(trial.latency_p50_us),
             cell(trial.metric), cell(trial.reference), cell(drop, drop_cls(drop)),
             cell(trial.seconds), Cell("yes" if trial.cached else "no", ""),
             _verdict(passed, "failed"), Cell("; ".join(trial.reasons), ""))
    return Row(cells, "passed" if passed else "failed")


def _auto(result: EvaluationResult) -> Auto | None:
    """The Quantizer's auto search, when mode was 'auto': every trial and the decision."""
    auto = result.auto
    if auto is None:
        return None
    validation, trials = auto.validation, auto.trials
    headers = ("Candidate", "Size", "p50 us", "Metric", "Float32", "Drop", "Seconds", "Cached", "Result", "Why")
    table = Table("auto", headers, tuple(_trial_row(t, auto.selected) for t in trials))
    return Auto(len(trials), cell(auto.seconds), cell(validation.examples),
                validation.split, auto.metric, str(dataclasses.asdict(auto.tolerance)),
                auto.met, str(auto.selected), str(auto.best), auto.stopped or "", table)


def build_view(result: EvaluationResult) -> Report:
    """The report's view-model: every figure of the typed result as text and numbers."""
    return Report(
        blessed=result.blessed, facts=_facts(result), gate=_gate(result), auto=_auto(result),
        metrics=_metrics(result), other_outputs=_other_outputs(result), scored_outputs=_scored_outputs(result),
        curves=report_curves.curve_charts(result), pairs=_pairs(result),
        per_class=report_charts.per_class_table(result),
        confusion=report_charts.confusion_matrices(result),
        confusion_changes=report_diagnosis.confusion_changes(result),
        worst_layers=report_diagnosis.worst_layers(result), targets=report_diagnosis.targets(result),
        size_chart=report_charts.size_chart(result),
        models=report_charts.models_table(result), kernels=report_charts.kernel_charts(result),
        slices=_slices(result),
        mapping=tuple((str(k), str(v)) for k, v in result.input_mapping.items()),
        output_name=cell(result.output_name, ""), label_format=cell(result.label_format, ""),
        config=json.dumps(json.loads(result.config.to_json()), indent=2))
