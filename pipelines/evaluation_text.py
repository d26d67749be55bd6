"""The summary of an EdgeEvaluation as text, read from its metrics.json (no TensorFlow, TFX or MLMD).

`tfx-edge report` and the demo's summary both print this, in the units of the HTML report and of
the thresholds (components/edge_evaluator/report_cells: fractions, relative drops in percent).
"""

from __future__ import annotations

import os

from tfx_edge.components.edge_evaluator.report_cells import drop_text, relative, text
from tfx_edge.schemas import names, records


def read_evaluation(path: str) -> records.EvaluationResult:
    """metrics.json, strictly (records.RecordError names the file, field and fix); no TensorFlow."""
    fix = "give an EdgeEvaluation artifact's directory written by this tfx-edge (or re-run the EdgeEvaluator)"
    if not os.path.isfile(path):
        what = "is a directory, not a file" if os.path.isdir(path) else "does not exist"
        raise records.RecordError(f"the EdgeEvaluator's result {path!r} {what}; {fix}")
    try:
        with open(path, "rb") as f:
            data = f.read()
    except OSError as error:
        raise records.RecordError(f"the EdgeEvaluator's result {path!r} is not readable ({error}); {fix}") from error
    return records.EvaluationResult.from_json(data, f"the EdgeEvaluator's result {path!r}", fix)


def _evaluation_lines(evaluation: records.EvaluationResult) -> list[str]:
    name, primary = evaluation.primary_metric, evaluation.primary()
    overall = evaluation.overall
    drop = overall.drop(names.FLOAT_TFLITE, name) if overall else None
    models, lat = evaluation.models, evaluation.latency
    quant, ref = models[names.QUANTIZED].size_bytes, models[names.FLOAT_TFLITE].size_bytes
    lines = [
        f"{name}: float32 {text(primary[f'{name}_float_tflite'])}  quantized "
        f"{text(primary[f'{name}_quantized'])}  drop {drop_text(drop)} "
        f"(relative {relative(drop.relative if drop else None)}, {evaluation.examples} eval examples)",
        f"size: float32 {_kib(ref)}  quantized {_kib(quant)}  ratio "
        f"{quant / ref if quant and ref else float('nan'):.3f} {evaluation.mode}",
    ]
    if all("xnnpack" in lat.get(m, {}) for m in (names.FLOAT_TFLITE, names.QUANTIZED)):
        x = {m: lat[m]["xnnpack"] for m in (names.FLOAT_TFLITE, names.QUANTIZED)}
        lines.append(f"latency (batch 1, {x[names.QUANTIZED].num_threads} thread, XNNPACK, p50 / p95): "
                     f"float32 {x[names.FLOAT_TFLITE].p50_us:.1f} / {x[names.FLOAT_TFLITE].p95_us:.1f} us  "
                     f"quantized {x[names.QUANTIZED].p50_us:.1f} / {x[names.QUANTIZED].p95_us:.1f} us")
    failed = evaluation.failed
    lines.append(f"gate: {'BLESSED' if evaluation.blessed else 'NOT BLESSED'} "
                 f"({len(evaluation.checks) - len(failed)} of {len(evaluation.checks)} checks passed)")
    lines += [f"  [FAIL] {c.detail}" for c in failed]
    return lines


def _kib(size: int | None) -> str:
    return "n/a" if size is None else f"{size / 1024:.0f} KiB"


def render(states: dict[str, str], evaluation: records.EvaluationResult | None, push: dict | None,
           report_path: str | None = None) -> str:
    lines = ["", "=== tfx-edge demo summary ==="]
    if states:
        lines.append("components: " + ", ".join(f"{k}={v}" for k, v in sorted(states.items())))
    if evaluation and evaluation.auto:
        from tfx_edge.components.core import auto_search  # pylint: disable=g-import-not-at-top
        lines.append(auto_search.explain(evaluation.auto))
    if evaluation:
        lines += _evaluation_lines(evaluation)
    if report_path:
        lines.append(f"report: {report_path}")
    if push:
        lines.append(f"pushed: {push['destination']}" if push["pushed"] else "pushed: nothing (not blessed)")
    return "\n".join(lines)
