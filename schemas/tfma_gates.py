"""The EvalConfig's metrics_specs as gates: each thresholded metric on the slices it applies to, then
the EvaluationConfig fields the metrics decide (task, output_kind, top_k, binary_thresholds) and the
Thresholds. Pure: no TensorFlow, no TFMA import.
"""

from __future__ import annotations

import dataclasses
from typing import Any, Mapping

from tfx_edge.schemas import metric_table
from tfx_edge.schemas._strict import ConfigError
from tfx_edge.schemas.evaluation import Budgets, SliceThreshold, Thresholds
from tfx_edge.schemas.metric_table import Task
from tfx_edge.schemas.tfma_binarize import OneVsRest, gated_names
from tfx_edge.schemas.tfma_metrics import _OVERALL_ONLY, _Metric, _metric
from tfx_edge.schemas.tfma_proto import _refuse
from tfx_edge.schemas.tfma_specs import _Specs
from tfx_edge.schemas.tfma_thresholds import _Gate, _kwargs, _limits, _merge, _native, _slice, _threshold


# cross_slicing_specs and cross-slice thresholds compare one slice's metrics with another's; a crossed slice
# (several features in one SlicingSpec) is supported.
CROSS_SLICE = ("TFMA's cross-slice comparisons (one slice's metrics against another's) are not supported; remove "
               "them (a crossed slice, several features in one SlicingSpec, is: feature_keys=['a', 'b'])")


class _Converter(_Specs):
    """A tfma.EvalConfig (normalized dict form) read into EvaluationConfig fields and Thresholds."""

    # metrics_specs
    def metrics_specs(self, specs: list[dict[str, Any]]) -> None:
        one_vs_rest = OneVsRest()
        for i, spec in enumerate(specs):
            path = f"metrics_specs[{i}]"
            class_ids, average = one_vs_rest.spec(spec, path)
            if "query_key" in spec:
                _refuse(f"{path}.query_key", spec["query_key"], "query-based (ranking) metrics are not supported; "
                        "remove query_key")
            if "output_weights" in spec:
                _refuse(f"{path}.output_weights", spec["output_weights"], "multi-output models are not supported yet")
            if "cross_slice_thresholds" in spec:
                _refuse(f"{path}.cross_slice_thresholds", spec["cross_slice_thresholds"], CROSS_SLICE)
            for key, instead in (("thresholds", "threshold"), ("per_slice_thresholds", "per_slice_thresholds")):
                # TFMA 0.52 keys these by name with example_weighted=None, and a MetricConfig's value with
                # example_weighted False or True (metric_specs.metric_thresholds_from_metrics_specs,
                # keys_and_metrics_from_specs): they only ever match metrics the model computes in-graph.
                if key in spec:
                    name = next(iter(spec[key]))
                    _refuse(f"{path}.{key}[{name!r}]", name, f"TFMA 0.52 matches MetricsSpec.{key} only to "
                            f"metrics the model computes itself, never to a MetricConfig's (it fails those as "
                            f"'Metric not found'), and tfx-edge never reads the model's own metrics: set the "
                            f"MetricConfig's {instead} instead")
            for name in spec.get("model_names", []):
                if name != self.candidate_name:
                    _refuse(f"{path}.model_names", spec["model_names"], f"name the candidate model_specs entry "
                            f"({self.candidate_name!r}) only, or remove model_names: tfx-edge gates one model "
                            f"against the float32 reference")
            outputs = spec.get("output_names", [])
            if len(outputs) > 1:
                _refuse(f"{path}.output_names", outputs, "multi-output models are not supported yet; name one output")
            if outputs:
                self.set("output_name", outputs[0], f"{path}.output_names")
            for j, m in enumerate(spec.get("metrics", [])):
                read = _metric(m, f"{path}.metrics[{j}]")
                metric = self.binarized(read, m, class_ids, average) if class_ids or average else read
                if metric is None:
                    continue
                for c in m.get("cross_slice_thresholds", []):
                    _refuse(f"{metric.path}.cross_slice_thresholds", c, CROSS_SLICE)
                self.metrics.append(metric)
        self.check_names()
        binarize = one_vs_rest.field()
        if binarize is not None:
            self.set("binarize", binarize, "metrics_specs[].binarize / aggregate")
        for i, spec in enumerate(specs):
            path = f"metrics_specs[{i}]"
            for j, m in enumerate(spec.get("metrics", [])):
                found = next((x for x in self.metrics if x.path == f"{path}.metrics[{j}]"), None)
                if found is None:      # a binarized spec's metric without a binarized value: not computed
                    continue
                metric = found
                if "threshold" in m:
                    self.everywhere(metric, m["threshold"], f"{metric.path}.threshold")
                for k, per_slice in enumerate(m.get("per_slice_thresholds", [])):
                    self.per_slice(metric, per_slice, f"{metric.path}.per_slice_thresholds[{k}]")
            # A spec without thresholds is only reported (TFMA's specs_from_metrics adds an unweighted
            # ExampleCount spec to every config): its weighting decides no gate.
            if "example_weights" in spec and self.spec_gated(path):
                self.check_weighting(path, spec["example_weights"])

    @staticmethod
    def binarized(metric: _Metric, config: Mapping[str, Any], class_ids: tuple[int, ...],
                  average: str | None) -> _Metric | None:
        """A binarized spec's metric with the names TFMA computes it under; None for one tfx-edge does not
        binarize and that gates nothing (TFMA's ExampleCount, say)."""
        thresholded = "threshold" in config or "per_slice_thresholds" in config
        if metric.names[0] not in metric_table.BINARIZABLE and not thresholded:
            return None
        if len(metric.names) != 1 or metric.binary_thresholds:
            _refuse(f"{metric.path}.config", config.get("config"), "a binarized metric is computed at TFMA's "
                    "default threshold 0.5 only; remove thresholds / threshold")
        return dataclasses.replace(metric, gated=gated_names(metric.names[0], class_ids, average,
                                                              f"{metric.path}.class_name"))

    def spec_gated(self, path: str) -> bool:
        return any(p.startswith(path + ".") for gates in self.gates.values() for g in gates.values() for p in g.paths)

    def check_weighting(self, path: str, options: Mapping[str, Any]) -> None:
        """TFMA computes the thresholded metrics weighted or unweighted as example_weights says; tfx-edge
        weighs them exactly when example_weight_key is set (without one, both are the same)."""
        chosen = [key for key in ("weighted", "unweighted") if options.get(key)]
        weighted = "example_weight_key" in self.fields
        if not chosen or weighted and "unweighted" in chosen:
            _refuse(f"{path}.example_weights", dict(options), "tfx-edge computes the metrics weighted by "
                    "example_weight_key when it is set (else unweighted); with thresholds here, set "
                    + ("{weighted: true} or remove example_weights" if weighted else "weighted or unweighted"))

    def check_names(self) -> None:
        """TFMA keys a metric's value by its name: two metrics of one name that tfx-edge tells apart (e.g.
        precision at two thresholds) would be one value there."""
        by_name: dict[str, _Metric] = {}
        for metric in self.metrics:
            other = by_name.setdefault(metric.tfma_name, metric)
            if other.names != metric.names:
                _refuse(f"{metric.path}.config.name", metric.tfma_name, f"{other.path} is named "
                        f"{metric.tfma_name!r} too and TFMA keys metrics by name; name this one "
                        f"{metric.names[0]!r} (tfx-edge's name for it)")

    def limits(self, metric: _Metric, threshold: Mapping[str, Any], path: str) -> tuple[str, dict[str, float]]:
        name = metric.names[-1]
        limits = _limits(threshold, path, name)
        if limits and len(metric.names) != 1:
            _refuse(path, dict(threshold), f"{metric.class_name} with several thresholds gives TFMA an array, "
                    f"which its validator cannot check; gate one threshold per MetricConfig, named e.g. "
                    f"{metric.names[-1]!r}")
        if limits:
            try:
                _threshold(limits).validate(path, name)
            except ConfigError as error:
                raise ConfigError(f"{path} is tfx-edge's MetricThreshold({_kwargs(limits)}) on {name!r} "
                                  f"({metric.class_name}), refused: {error}") from None
        return name, limits

    def everywhere(self, metric: _Metric, threshold: Mapping[str, Any], path: str) -> None:
        """A threshold without a slice: TFMA checks it on every slice it computes (the overall slice and
        each slicing_specs slice)."""
        _, limits = self.limits(metric, threshold, path)
        if not limits:
            return
        for target in [None, *self.slices]:
            for name in metric.gates:
                if target is not None and metric_table.split_binarized(name)[0] in _OVERALL_ONLY:
                    _refuse(path, dict(threshold), f"TFMA applies this threshold to every slice of slicing_specs, "
                            f"but tfx-edge computes {name!r} for the whole split only; gate it on the overall slice: "
                            f"move it to per_slice_thresholds with slicing_specs [{{}}]")
                self.add(target, name, limits, path)

    def per_slice(self, metric: _Metric, per_slice: Mapping[str, Any], path: str) -> None:
        specs = per_slice.get("slicing_specs", [])
        if not specs:
            _refuse(f"{path}.slicing_specs", [], "name the slices it applies to (a per-slice threshold without "
                    "slicing_specs applies to none)")
        _, limits = self.limits(metric, per_slice.get("threshold", {}), f"{path}.threshold")
        if not limits:
            _refuse(f"{path}.threshold", per_slice.get("threshold"), "set value_threshold or change_threshold")
        for k, spec in enumerate(specs):
            where = f"{path}.slicing_specs[{k}]"
            target = _slice(spec, where)
            if target is not None and not self.computed(target):
                _refuse(where, spec, "TFMA computes no such slice (slicing_specs does not list it), so it fails "
                        f"this threshold as a missing slice; add SlicingSpec(feature_keys={list(target[0])!r}) "
                        "to slicing_specs")
            for name in metric.gates:
                if target is not None and metric_table.split_binarized(name)[0] in _OVERALL_ONLY:
                    _refuse(where, spec, f"tfx-edge computes {name!r} for the whole split only; gate this slice on "
                            "another metric (binary_accuracy, precision, recall, ...) or gate the overall slice")
                self.add(target, name, limits, f"{path}.threshold")

    def add(self, target: Any, name: str, limits: dict[str, float], path: str) -> None:
        gates = self.gates.setdefault(target, {})
        if name in gates:
            gates[name] = _Gate(_merge(gates[name].limits, limits), gates[name].paths + [path])
        else:
            gates[name] = _Gate(limits, [path])

    def derive(self) -> None:
        """task, output_kind, top_k and binary_thresholds from the configured metrics."""
        if not self.gates:
            _refuse("metrics_specs", [m.class_name for m in self.metrics], "give at least one metric a threshold "
                    "(MetricConfig.threshold with a value_threshold or change_threshold): a gate without a "
                    "quality threshold would bless any model")
        if None not in self.gates:
            _refuse("metrics_specs", [m.class_name for m in self.metrics], "tfx-edge gates the whole split: give a "
                    "metric a threshold on the overall slice (MetricConfig.threshold, or per_slice_thresholds with "
                    "slicing_specs [{}])")
        tasks = {m.task for m in self.metrics}
        if len(tasks) > 1:
            r = next(m for m in self.metrics if m.task == Task.REGRESSION)
            c = next(m for m in self.metrics if m.task == Task.CLASSIFICATION)
            _refuse(f"{c.path}.class_name", c.class_name, f"{c.class_name} is a classification metric and "
                    f"{r.class_name} ({r.path}) a regression one; tfx-edge evaluates one task per config")
        task = tasks.pop() if tasks else Task.CLASSIFICATION
        self.set("task", task, self.metrics[0].path if self.metrics else "metrics_specs")
        for metric in self.metrics:
            for name in metric.names:
                entry = metric_table.get(name)
                if entry is not None and task not in entry.tasks:
                    _refuse(f"{metric.path}.class_name", metric.class_name, f"tfx-edge computes {name!r} for "
                            f"classification only" + ("; gate a regression on RootMeanSquaredError (rmse, the "
                                                   "square root of the MSE)" if name == "mean_squared_error" else ""))
            if metric.top_k is not None:
                self.fields.setdefault("top_k", [])
                if metric.top_k not in self.fields["top_k"]:
                    self.fields["top_k"].append(metric.top_k)
                self.origins.setdefault("top_k", metric.path)
            for t in metric.binary_thresholds:
                self.fields.setdefault("binary_thresholds", [])
                if t not in self.fields["binary_thresholds"]:
                    self.fields["binary_thresholds"].append(t)
                self.origins.setdefault("binary_thresholds", metric.path)
        logits = {m.from_logits: m for m in self.metrics if m.from_logits is not None}
        if len(logits) > 1:
            _refuse(f"{logits[True].path}.config.from_logits", True, f"{logits[False].path} says from_logits=false; "
                    "the model has one output kind")
        needs = any((e := metric_table.get(n)) is not None and e.needs_output_kind
                    for m in self.metrics for n in m.names)
        if task == Task.CLASSIFICATION and (needs or logits):
            self.fields["output_kind"] = "logits" if True in logits else "probabilities"
            self.explicit_kind = bool(logits)
            self.origins["output_kind"] = (f"{next(iter(logits.values())).path}.config.from_logits" if logits
                                           else "the TFMA metrics, which read probabilities")
        self.check_intervals()
        for key in ("top_k", "binary_thresholds", "slice_features"):
            if key in self.fields:
                self.fields[key] = tuple(sorted(self.fields[key]) if key != "slice_features" else self.fields[key])

    def check_intervals(self) -> None:
        """compute_confidence_intervals: every configured metric must get an interval (TFMA gives one to
        each); tfx-edge's are of the drops, and TFMA, like tfx-edge by default, gates the point values."""
        if not self.confidence_intervals:
            return
        lacking = {n: m for m in self.metrics for n in (m.gated or m.names)
                   if (e := metric_table.get(n)) is None or not e.interval}
        if lacking:
            _refuse(self.confidence_intervals, True, f"tfx-edge has no interval for {', '.join(map(repr, lacking))} "
                    f"({', '.join(dict.fromkeys(m.class_name for m in lacking.values()))}; AUC's variance, for one, "
                    f"is not additive): remove compute_confidence_intervals (the gate reads point values either "
                    f"way) or those metrics; the others' drops get intervals whether it is set or not")

    def thresholds(self, budgets: Budgets) -> Thresholds:
        overall = {name: _threshold(g.limits) for name, g in self.gates[None].items()}
        slices: list[SliceThreshold] = []
        for target, gates in self.gates.items():
            if target is None:
                continue
            feature, value = _native(target)
            self.origins[f"thresholds.slices[{len(slices)}]"] = " / ".join(
                dict.fromkeys(p for g in gates.values() for p in g.paths))
            slices.append(SliceThreshold(feature=feature, value=value, min_examples=self.min_examples,
                                         metrics={name: _threshold(g.limits) for name, g in gates.items()}))
        for name, g in self.gates[None].items():
            self.origins[f"thresholds.metrics[{name!r}]"] = " / ".join(dict.fromkeys(g.paths))
        return Thresholds(metrics=overall, slices=tuple(slices), budgets=budgets)
