"""The EdgeEvaluator's record: one dict with every figure (metrics.json), and its text.

NaN and infinities become None in the record (strict JSON); the gate has
already failed any check whose value was not finite.
"""

from __future__ import annotations

import dataclasses
import json
import math
from typing import Any

from tfx_edge.components.core import latency, litert, slicing
from tfx_edge.schemas.evaluation import EvaluationConfig
from tfx_edge.schemas import names

EMPTY_SUMMARY = {"examples": 0, "label_format": None, "slices": {}, "confusion": {}}


def model_facts(quant, ref, saved_model_dir: str | None) -> dict:
    """Size, path and op kinds of each model compared."""
    facts = {name: {"size_bytes": len(m.data), "path": m.path, "ops": _ops(litert.op_summary(m.data))}
             for name, m in ((names.QUANTIZED, quant), (names.FLOAT_TFLITE, ref))}
    if saved_model_dir is not None:
        facts[names.SAVED_MODEL] = {"size_bytes": None, "path": saved_model_dir, "ops": None}
    return facts


def _ops(summary: dict) -> dict:
    return {k: summary[k] for k in ("total", "integer", "float", "hybrid", "boundary", "shape")}


def float_ops(ops: dict) -> int:
    """Ops that compute in float: float and hybrid (float math on int8 weights)."""
    return int(ops["float"] + ops["hybrid"])


def primary(config: EvaluationConfig, summary: dict) -> dict:
    name = config.primary_metric
    overall = summary["slices"].get(slicing.OVERALL, {})
    values = overall.get("metrics", {})
    drop = overall.get("drops", {}).get(names.FLOAT_TFLITE, {}).get(name, {}).get("absolute")
    return {f"{name}_quantized": values.get(names.QUANTIZED, {}).get(name),
            f"{name}_float_tflite": values.get(names.FLOAT_TFLITE, {}).get(name),
            f"{name}_drop": drop}


def build(config: EvaluationConfig, summary: dict, facts: dict, timing: dict, checks, blessed: bool,
          plan, mode: str | None, auto: dict | None = None, export: dict | None = None) -> dict:
    job = plan.job
    return _finite_or_none({
        "blessed": blessed,
        "task": config.task.value,
        "mode": mode,
        "primary_metric": config.primary_metric,
        "primary": primary(config, summary),
        "examples": summary["examples"],
        "num_classes": plan.num_classes,
        "label_format": summary["label_format"],
        "output_name": job.score.output_name if job else None,
        "input_mapping": dict(job.mapping) if job else {},
        "references": config.references,
        "models": facts,
        "slices": summary["slices"],
        "confusion": summary["confusion"],
        "latency": timing,
        "latency_host": latency.host() if timing else None,
        "checks": [dataclasses.asdict(c) for c in checks],
        "auto": auto,
        "parity": (export or {}).get("parity"),
        "derivation": (export or {}).get("derivation"),
        "config": json.loads(config.to_json()),
    })


def _finite_or_none(value: Any) -> Any:
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: _finite_or_none(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_finite_or_none(v) for v in value]
    return value


def properties(result: dict) -> dict:
    """The figures users look for in the pipeline UIs (Vertex, Kubeflow, MLMD), as custom
    properties of the EdgeEvaluation and the blessing: the primary metric of each model and
    its drop, sizes and the size ratio, p50/p95 latency per model and kernel, how many checks
    ran and failed, and the first failure."""
    props = {k: v for k, v in result["primary"].items() if v is not None}
    sizes = {m: f["size_bytes"] for m, f in result["models"].items() if f.get("size_bytes") is not None}
    for model, size in sizes.items():
        props[f"size_bytes_{model}"] = int(size)
    if sizes.get(names.FLOAT_TFLITE) and sizes.get(names.QUANTIZED):
        props["size_ratio"] = sizes[names.QUANTIZED] / sizes[names.FLOAT_TFLITE]
    for model, kernels in result["latency"].items():
        for kernel, stats in kernels.items():
            for q in ("p50_us", "p95_us"):
                props[f"latency_{q}_{model}_{kernel}"] = float(stats[q])
    failed = [c for c in result["checks"] if not c["passed"]]
    props.update({"checks": len(result["checks"]), "failed_checks": len(failed),
                  "first_failure": f"{failed[0]['name']}: {failed[0]['detail']}" if failed else ""})
    return props


def slower_than_float(timing: dict) -> list[str]:
    """A line per kernel under which the quantized model is slower than its float32 reference."""
    quant, ref = timing.get(names.QUANTIZED, {}), timing.get(names.FLOAT_TFLITE, {})
    return [f"the quantized model is slower than float32 with {kernel}: p50 "
            f"{quant[kernel]['p50_us']:.1f} us vs {ref[kernel]['p50_us']:.1f} us"
            for kernel in sorted(set(quant) & set(ref))
            if quant[kernel]["p50_us"] > ref[kernel]["p50_us"]]


def _num(value, pct: bool = False) -> str:
    if value is None:
        return "n/a"
    return f"{100 * value:.2f}%" if pct else f"{value:.4g}"


def render(result: dict) -> str:
    """A plain-text summary: decision, overall metrics per model, sizes, latency, checks."""
    lines = [f"EdgeEvaluator: {'BLESSED' if result['blessed'] else 'NOT BLESSED'}",
             f"task: {result['task']}  mode: {result['mode']}  examples: {result['examples']}"]
    overall = result["slices"].get(slicing.OVERALL, {})
    name = result["primary_metric"]
    for model, values in overall.get("metrics", {}).items():
        lines.append(f"{name} {model}: {_num(values.get(name))}")
    for ref, pair in overall.get("pairs", {}).items():
        drop = overall["drops"][ref].get(name, {})
        lines.append(f"vs {ref}: {name} drop {_num(drop.get('absolute'))} "
                     f"(relative {_num(drop.get('relative'))}), agreement {_num(pair.get('agreement'))}, "
                     f"max output diff {_num(pair.get('max_output_diff'))}")
    for model, facts in result["models"].items():
        if facts["size_bytes"] is not None:
            lines.append(f"size {model}: {facts['size_bytes']:,} B")
    if result.get("latency_host"):
        h = result["latency_host"]
        lines.append(f"latency measured on this host: {h['cpu']} ({h['cores']} cores), LiteRT {h['litert']}")
    for model, kernels in result["latency"].items():
        for kernel, t in kernels.items():
            lines.append(f"latency {model} {kernel}: p50 {t['p50_us']:.1f} us, p95 {t['p95_us']:.1f} us "
                         f"({t['runs']} runs, {t['num_threads']} thread(s))")
    lines += [f"WARNING: {w}" for w in slower_than_float(result["latency"])]
    lines.append("checks:")
    lines += [f"  [{'ok' if c['passed'] else 'FAIL'}] {c['name']}: {c['detail']}" for c in result["checks"]]
    return "\n".join(lines) + "\n"
