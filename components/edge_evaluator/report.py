"""The EdgeEvaluator's record: one dict with every figure, and its text rendering."""

from __future__ import annotations

import dataclasses
import json

from schemas.evaluation import EvaluationConfig


def build(config: EvaluationConfig, summary: dict, timing: dict, checks, blessed: bool,
          quant_bytes: int, float_bytes: int, job, quant_path: str, mode: str | None) -> dict:
    return {
        "blessed": blessed,
        "mode": mode,
        "checks": [dataclasses.asdict(c) for c in checks],
        "summary": summary,
        "sizes": {"quant_bytes": quant_bytes, "float_bytes": float_bytes,
                  "ratio": quant_bytes / float_bytes if float_bytes else None},
        "latency": timing,
        "model": quant_path,
        "input_mapping": dict(job.mapping),
        "output_name": job.output_name,
        "num_classes": job.num_classes,
        "config": json.loads(config.to_json()),
    }


def _pct(value) -> str:
    return "n/a" if value is None or value != value else f"{100 * value:.2f}%"


def render(result: dict) -> str:
    s, sizes, lat = result["summary"], result["sizes"], result["latency"]
    lines = [
        f"EdgeEvaluator: {'BLESSED' if result['blessed'] else 'NOT BLESSED'}",
        f"examples: {s['examples']}",
        f"accuracy: quantized {_pct(s['accuracy_quant'])} ({s['correct_quant']}), "
        f"float32 {_pct(s['accuracy_float'])} ({s['correct_float']})",
        f"drop: {_pct(s['absolute_drop'])} absolute, {_pct(s['relative_drop'])} relative; "
        f"top-1 agreement {_pct(s['agreement'])}",
        f"size: {sizes['quant_bytes']:,} B quantized vs {sizes['float_bytes']:,} B float32",
    ]
    for name, t in sorted(lat.items()):
        lines.append(f"latency {name}: median {t['median_us']:.1f} us over {t['runs']} runs")
    lines.append("checks:")
    lines += [f"  [{'ok' if c['passed'] else 'FAIL'}] {c['name']}: {c['detail']}" for c in result["checks"]]
    return "\n".join(lines) + "\n"
