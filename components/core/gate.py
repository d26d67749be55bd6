"""The blessing decision: every configured check must run and pass (fails closed).

A value that is missing, None, NaN or infinite fails its check: the gate never
lets an unmeasured metric through. Drop limits apply against every reference
the quantized model was compared with.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any, Mapping, Sequence

from tfx_edge.components.core import guards, slicing
from tfx_edge.schemas.evaluation import (PAIR_METRICS, Guards, MetricThreshold, SliceThreshold, Thresholds,
                                         cross_of, values_of)
from tfx_edge.schemas import names, records


Check = records.CheckRecord   # one check: name, value, limit, passed, detail, slice, reference, columns


@dataclasses.dataclass(frozen=True)
class Evidence:
    """What was measured: per-slice summaries (scoring.summarize) and model facts."""

    slices: Mapping[str, Mapping]
    references: Sequence[str]
    model_bytes: int | None = None
    float_ops: int | None = None
    latency: Mapping[str, Mapping] = dataclasses.field(default_factory=dict)  # model -> kernel -> stats
    budget_kernel: str = "xnnpack"
    float_blessed: bool | None = None
    auto: records.AutoSearch | None = None  # the Quantizer's auto-search record, if mode was 'auto'
    split: str = "eval"                    # the split the gate evaluated
    confusion: Mapping[str, Sequence[Sequence[int]]] = dataclasses.field(default_factory=dict)  # overall
    other_outputs: Mapping[str, Mapping[str, Mapping]] = dataclasses.field(default_factory=dict)
    guards: Guards = dataclasses.field(default_factory=Guards)
    scored_outputs: Mapping[str, Mapping] = dataclasses.field(default_factory=dict)   # name -> its summary
    output_thresholds: Mapping[str, Mapping[str, MetricThreshold]] = dataclasses.field(default_factory=dict)
    targets: Sequence[records.TargetReport] = ()   # EvaluationConfig.targets beyond 'cpu'


def _finite(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def limit_check(name: str, value: Any, limit: float, upper: bool, what: str, **where) -> Check:
    if not _finite(value):
        return Check(name, value, limit, False, f"{what} was not measured (got {value!r}): FAILED", **where)
    ok = value <= limit if upper else value >= limit
    sign = "<=" if upper else ">="
    return Check(name, value, limit, ok, f"{what} {value:.6g} {sign} {limit:.6g}" + ("" if ok else ": FAILED"),
                 **where)


def decide(evidence: Evidence, thresholds: Thresholds) -> tuple[bool, list[Check]]:
    """(blessed, checks). Blessed only if every check ran and passed."""
    checks = _health_checks(evidence)
    for metric, threshold in sorted(thresholds.metrics.items()):
        checks += metric_checks(evidence, slicing.OVERALL, metric, threshold)
    for st in thresholds.slices:
        checks += _slice_checks(evidence, st)
    checks += _budget_checks(evidence, thresholds)
    checks += _target_checks(evidence.targets)
    checks += _output_checks(evidence)
    checks += guards.checks(evidence.guards, evidence.confusion, names.QUANTIZED, evidence.references,
                            evidence.other_outputs)
    return all(c.passed for c in checks), checks


def _output_checks(ev: Evidence) -> list[Check]:
    """The thresholds of each extra scored output (EvaluationConfig.outputs), on the whole split."""
    out = []
    for name, thresholds in sorted(ev.output_thresholds.items()):
        summary = ev.scored_outputs.get(name)
        if summary is None:
            out.append(Check(f"outputs[{name}]", None, "scored", False, f"output {name!r} was not scored: FAILED"))
            continue
        sub = dataclasses.replace(ev, slices=summary["slices"])
        for metric, threshold in sorted(thresholds.items()):
            out += [dataclasses.replace(c, name=f"outputs[{name}].{c.name}", detail=f"output {name!r}: {c.detail}")
                    for c in metric_checks(sub, slicing.OVERALL, metric, threshold)]
    return out


def _health_checks(ev: Evidence) -> list[Check]:
    overall = ev.slices.get(slicing.OVERALL, {})
    n = overall.get("examples", 0)
    ok = _finite(n) and n > 0
    checks = [Check("examples", n, "> 0", ok, f"{n} examples evaluated" + ("" if ok else ": FAILED (empty split)"))]
    bad = {m: c for m, c in overall.get("nonfinite", {}).items() if c}
    checks.append(Check("finite_outputs", sum(bad.values()), 0, not bad,
                        "all outputs finite" if not bad else f"NaN/inf outputs: {bad}: FAILED"))
    if ev.float_blessed is not None:
        checks.append(Check("float_model_blessed", ev.float_blessed, True, bool(ev.float_blessed),
                            "the float model's Evaluator blessing" +
                            (" is BLESSED" if ev.float_blessed else " is NOT_BLESSED: FAILED")))
    return checks + (_auto_checks(ev.auto, ev.split) if ev.auto else [])


def _auto_checks(auto: records.AutoSearch, split: str) -> list[Check]:
    """An auto-searched model must have met its tolerance, validated on another split."""
    met = auto.met is True
    detail = (f"auto search selected {auto.selected} within its tolerance" if met else
              f"auto search found no candidate within its tolerance (best: {auto.best}): FAILED")
    validated = auto.validation.split
    apart = validated != split
    return [Check("auto_search_met_tolerance", met, True, met, detail),
            Check("auto_validation_split", validated, f"!= {split}", apart,
                  f"auto search validated on split {validated!r}, the gate on {split!r}" +
                  ("" if apart else ": FAILED (the search must not see the gate's examples)"))]


def metric_checks(ev: Evidence, key: str, metric: str, t: MetricThreshold) -> list[Check]:
    """Bounds on the quantized value and drops against each reference, in one slice."""
    s = ev.slices.get(key, {})
    where = f" [{key}]" if key else ""
    columns = slicing.columns_of(s)
    checks = []
    if metric in PAIR_METRICS:
        for ref in ev.references:
            value = s.get("pairs", {}).get(ref, {}).get(metric)
            checks += _bounds(f"{metric}", value, t, f"{metric} vs {ref}{where}", slice=key, reference=ref,
                              columns=columns)
        return checks
    value = s.get("metrics", {}).get(names.QUANTIZED, {}).get(metric)
    checks += _bounds(metric, value, t, f"quantized {metric}{where}", slice=key, columns=columns)
    for ref in ev.references:
        drop = s.get("drops", {}).get(ref, {}).get(metric, {})
        reference = s.get("metrics", {}).get(ref, {}).get(metric)
        for kind in ("absolute", "relative"):
            limit = getattr(t, f"max_{kind}_drop")
            if limit is not None:
                value, what = _drop_value(drop, kind, reference, t.use_confidence_bound)
                check = limit_check(f"{metric}.max_{kind}_drop", value, limit, True,
                                    f"{metric} {kind} drop{what} vs {ref}{where}", slice=key, reference=ref,
                                    columns=columns)
                checks.append(dataclasses.replace(check, detail=check.detail + _interval_note(drop)))
    return checks


def _drop_value(drop: Mapping, kind: str, reference, upper: bool) -> tuple[Any, str]:
    """The drop to compare with a limit: the estimate, or with use_confidence_bound the upper end of
    its 95% interval (relative: divided by |reference|); missing is None, so the check fails."""
    if not upper:
        return drop.get(kind), ""
    high = drop.get("ci_high")
    if kind == "relative":
        high = high / abs(reference) if _finite(high) and _finite(reference) and reference != 0 else None
    return high, " (upper end of its 95% interval)"


def _interval_note(drop: Mapping) -> str:
    low, high, n = drop.get("ci_low"), drop.get("ci_high"), drop.get("ci_examples")
    if not (_finite(low) and _finite(high)):
        return ""
    return f" [absolute drop 95% interval {low:.4g} .. {high:.4g} over {n} paired examples]"


def _bounds(metric: str, value, t: MetricThreshold, what: str, **where) -> list[Check]:
    out = []
    if t.lower_bound is not None:
        out.append(limit_check(f"{metric}.lower_bound", value, t.lower_bound, False, what, **where))
    if t.upper_bound is not None:
        out.append(limit_check(f"{metric}.upper_bound", value, t.upper_bound, True, what, **where))
    return out


def _slice_checks(ev: Evidence, st: SliceThreshold) -> list[Check]:
    """A single feature's or a cross's slices the threshold names (value None, or a cross's None
    entries: every value), each gated on its own; a slice named by every value must be present."""
    cross, values = cross_of(st.feature), values_of(st.feature, st.value)
    keys = sorted(k for k, s in ev.slices.items() if slicing.matches(slicing.columns_of(s), cross, values))
    if not keys:
        columns = tuple((f, slicing.ANY if v is None else v) for f, v in zip(cross, values))
        wanted = slicing.key_of(columns)
        return [Check("slice_present", 0, st.min_examples, False,
                      f"slice {wanted} has no examples: FAILED", slice=wanted, columns=columns)]
    checks = []
    for key in keys:
        n = ev.slices[key].get("examples", 0)
        if n < st.min_examples:
            checks.append(Check("slice_min_examples", n, st.min_examples, not st.named,
                                f"slice {key} has {n} examples < min_examples {st.min_examples}: " +
                                ("FAILED" if st.named else "not gated"), slice=key,
                                columns=slicing.columns_of(ev.slices[key])))
            continue
        for metric, threshold in sorted(st.metrics.items()):
            checks += metric_checks(ev, key, metric, threshold)
    return checks


def _target_checks(reports: Sequence[records.TargetReport]) -> list[Check]:
    return [Check(f"targets.{r.target}", r.runs, True, r.runs,
                  f"{r.target}: {r.detail}" + ("" if r.runs else ": FAILED")) for r in reports]


def _arena(ev: Evidence) -> int | None:
    return next((r.arena_bytes for r in ev.targets if r.arena_bytes is not None), None)


def _budget_checks(ev: Evidence, thresholds: Thresholds) -> list[Check]:
    b = thresholds.budgets
    kernel = ev.budget_kernel
    quant = ev.latency.get(names.QUANTIZED, {}).get(kernel, {})
    ref = ev.latency.get(names.FLOAT_TFLITE, {}).get(kernel, {})
    ratio = (quant["p50_us"] / ref["p50_us"]) if _finite(quant.get("p50_us")) and ref.get("p50_us") else None
    wanted = [
        ("max_model_bytes", ev.model_bytes, b.max_model_bytes, "quantized model size (bytes)"),
        ("max_latency_p50_us", quant.get("p50_us"), b.max_latency_p50_us, f"quantized p50 latency, {kernel} (us)"),
        ("max_latency_p95_us", quant.get("p95_us"), b.max_latency_p95_us, f"quantized p95 latency, {kernel} (us)"),
        ("max_latency_ratio", ratio, b.max_latency_ratio, f"p50 latency quantized / float32, {kernel}"),
        ("max_float_ops", ev.float_ops, b.max_float_ops, "ops computing in float (float + hybrid)"),
        ("max_arena_bytes", _arena(ev), b.max_arena_bytes, "TFLite Micro tensor arena (bytes)"),
    ]
    return [limit_check(f"budgets.{name}", value, limit, True, what)
            for name, value, limit, what in wanted if limit is not None]


def failure_block(checks: Sequence[Check]) -> str:
    """The reasons for NOT_BLESSED, one per line, for the log."""
    failed = [c for c in checks if not c.passed]
    lines = [f"EdgeEvaluator: NOT BLESSED ({len(failed)} of {len(checks)} checks failed)"]
    lines += [f"  - {c.name}: {c.detail}" for c in failed]
    return "\n".join(lines)
