"""The EdgeEvaluator's record (metrics.json: records.EvaluationResult), its properties and text.

NaN and infinities become None in the record (strict JSON); the gate has
already failed any check whose value was not finite.
"""

from __future__ import annotations

import dataclasses
import json
from typing import Any, Mapping

from tfx_edge.components.core import latency, litert
from tfx_edge.components.edge_evaluator.report_cells import drop_text, relative, text
from tfx_edge.schemas.evaluation import EvaluationConfig
from tfx_edge.schemas import _strict, names, records

EMPTY_SUMMARY: dict[str, Any] = {"examples": 0, "label_format": None, "slices": {}, "confusion": {},
                                 "other_outputs": {}, "curves": {}, "scored_outputs": {}}


def model_facts(quant, ref, saved_model_dir: str | None) -> dict:
    """Size, path and op kinds of each model compared."""
    facts = {name: {"size_bytes": len(m.data), "path": m.path, "ops": _ops(litert.op_summary(m.data)),
                    "sha256": records.sha256(m.data)}
             for name, m in ((names.QUANTIZED, quant), (names.FLOAT_TFLITE, ref))}
    if saved_model_dir is not None:
        facts[names.SAVED_MODEL] = {"size_bytes": None, "path": saved_model_dir, "ops": None}
    return facts


def _ops(summary: dict) -> dict:
    return {k: summary[k] for k in ("total", "integer", "float", "hybrid", "boundary", "shape")}


def float_ops(ops: dict) -> int:
    """Ops that compute in float: float and hybrid (float math on int8 weights)."""
    return int(ops["float"] + ops["hybrid"])


def build(config: EvaluationConfig, summary: dict, facts: dict, timing: dict, checks, blessed: bool,
          plan, export: records.ExportReport, provenance: records.Provenance,
          identity: records.RunIdentity | None = None,
          worst_layers: tuple[records.LayerError, ...] = (),
          targets: tuple[records.TargetReport, ...] = ()) -> records.EvaluationResult:
    """The typed result (metrics.json) from the scoring summary, model facts, timing and checks;
    built through the strict reader, so what is recorded is exactly what can be read back."""
    job, auto = plan.job, export.plan.auto
    body = {
        "blessed": blessed, "task": config.task.value,
        "mode": f"{export.mode} (auto: {auto.planned})" if auto else export.mode,
        "primary_metric": config.primary_metric, "examples": summary["examples"],
        "num_classes": plan.num_classes, "label_format": summary["label_format"],
        "batch_size": job.batch_size if job else None,
        "output_name": job.score.output_name if job else None,
        "input_mapping": dict(job.mapping) if job else {},
        "references": config.references, "models": facts, "slices": summary["slices"],
        "confusion": summary["confusion"], "other_outputs": summary["other_outputs"], "curves": summary["curves"],
        "scored_outputs": summary["scored_outputs"],
        "latency": timing,
        "latency_host": latency.host() if timing else None,
        "checks": [dataclasses.asdict(c) for c in checks],
        "config": json.loads(config.to_json()), "provenance": dataclasses.asdict(provenance),
        "auto": _strict.to_dict(auto) if auto else None, "parity": _strict.to_dict(export.parity),
        "derivation": _strict.to_dict(export.plan.derivation),
        "identity": dataclasses.asdict(identity) if identity else None,
        "worst_layers": [dataclasses.asdict(layer) for layer in worst_layers],
        "targets": [dataclasses.asdict(t) for t in targets],
    }
    plain = json.loads(json.dumps(body, default=_numpy_scalar))
    data = {"kind": records.EvaluationResult.KIND, "version": records.EvaluationResult.VERSION,
            **records.finite_or_none(plain)}
    return records.EvaluationResult.from_dict(data, "the EdgeEvaluator's result", "this is a bug in tfx-edge")


def _numpy_scalar(value: Any) -> Any:
    if hasattr(value, "tolist"):
        return value.tolist()
    raise TypeError(f"not JSON serializable: {type(value).__name__}")


def properties(result: records.EvaluationResult) -> dict:
    """The figures users look for in the pipeline UIs (Vertex, Kubeflow, MLMD), as custom
    properties of the EdgeEvaluation and the blessing: the primary metric of each model and
    its drop, sizes and the size ratio, p50/p95 latency per model and kernel, how many checks
    ran and failed, and the first failure."""
    props: dict[str, Any] = {k: v for k, v in result.primary().items() if v is not None}
    sizes = {m: f.size_bytes for m, f in result.models.items() if f.size_bytes is not None}
    for model, size in sizes.items():
        props[f"size_bytes_{model}"] = int(size)
    if sizes.get(names.FLOAT_TFLITE) and sizes.get(names.QUANTIZED):
        props["size_ratio"] = sizes[names.QUANTIZED] / sizes[names.FLOAT_TFLITE]
    for model, kernels in result.latency.items():
        for kernel, stats in kernels.items():
            props[f"latency_p50_us_{model}_{kernel}"] = float(stats.p50_us)
            props[f"latency_p95_us_{model}_{kernel}"] = float(stats.p95_us)
    failed = result.failed
    props.update({"checks": len(result.checks), "failed_checks": len(failed),
                  "first_failure": f"{failed[0].name}: {failed[0].detail}" if failed else ""})
    return props


def slower_than_float(timing: Mapping[str, Mapping[str, Any]]) -> list[str]:
    """A line per kernel under which the quantized model is slower than its float32 reference
    (timing: model -> kernel -> LatencyStats, or the same as dicts before they are recorded)."""
    quant, ref = timing.get(names.QUANTIZED, {}), timing.get(names.FLOAT_TFLITE, {})
    return [f"the quantized model is slower than float32 with {kernel}: p50 "
            f"{_p50(quant[kernel]):.1f} us vs {_p50(ref[kernel]):.1f} us"
            for kernel in sorted(set(quant) & set(ref))
            if _p50(quant[kernel]) > _p50(ref[kernel])]


def _p50(stats) -> float:
    return stats["p50_us"] if isinstance(stats, Mapping) else stats.p50_us


def render(result: records.EvaluationResult) -> str:
    """A plain-text summary: decision, overall metrics per model, sizes, latency, checks."""
    lines = [f"EdgeEvaluator: {'BLESSED' if result.blessed else 'NOT BLESSED'}",
             f"task: {result.task}  mode: {result.mode}  examples: {result.examples}"]
    overall, name = result.overall, result.primary_metric
    for model, values in (overall.metrics if overall else {}).items():
        lines.append(f"{name} {model}: {text(values.get(name))}")
    for ref, pair in (overall.pairs if overall else {}).items():
        drop = overall.drop(ref, name) if overall else None
        lines.append(f"vs {ref}: {name} drop {drop_text(drop)} (relative {relative(drop.relative if drop else None)})"
                     f", agreement {text(pair.get('agreement'))}, max output diff {text(pair.get('max_output_diff'))}")
    for model, facts in result.models.items():
        if facts.size_bytes is not None:
            lines.append(f"size {model}: {facts.size_bytes:,} B")
    if result.latency_host:
        h = result.latency_host
        lines.append(f"latency measured on this host: {h.cpu} ({h.cores} cores), LiteRT {h.litert}")
    for model, kernels in result.latency.items():
        for kernel, t in kernels.items():
            lines.append(f"latency {model} {kernel}: p50 {t.p50_us:.1f} us, p95 {t.p95_us:.1f} us "
                         f"({t.runs} runs, {t.num_threads} thread(s))")
    lines += [f"WARNING: {w}" for w in slower_than_float(result.latency)]
    lines.append("checks:")
    lines += [f"  [{'ok' if c.passed else 'FAIL'}] {c.name}: {c.detail}" for c in result.checks]
    return "\n".join(lines) + "\n"
