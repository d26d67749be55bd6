"""Scoring one decoded batch against every model's outputs, per slice (pure numpy).

`batch_stats` turns a batch into additive statistics (see metrics.merge);
`summarize` turns summed statistics into per-slice metrics, the candidate's
agreement with each reference and its direction-aware drop against each.
"""

from __future__ import annotations

import dataclasses
from typing import Mapping

import numpy as np

from tfx_edge.components.core import binary_scoring, metrics, output_guard, paired, slicing
from tfx_edge.schemas import metric_table, names
from tfx_edge.schemas.evaluation import SliceFeature


@dataclasses.dataclass(frozen=True)
class ScoreSpec:
    metrics: metrics.Spec
    label_feature: str
    output_name: str
    slice_features: tuple[SliceFeature, ...] = ()   # features and crosses (EvaluationConfig.slice_features)
    candidate: str = names.QUANTIZED
    references: tuple[str, ...] = (names.FLOAT_TFLITE,)
    other_outputs: tuple[str, ...] = ()    # outputs the metrics do not read: compared (core/output_guard)
    binary: binary_scoring.BinarySpec | None = None   # a binary output: TFMA's binary metrics too
    weight_feature: str | None = None      # example_weight_key: weights of the binary metrics
    scored_outputs: tuple[ScoreSpec, ...] = ()   # other outputs scored with their own label and metrics
    one_vs_rest: binary_scoring.OneVsRest | None = None   # a multi-class output binarized (EvaluationConfig.binarize)

    @property
    def models(self) -> tuple[str, ...]:
        return (self.candidate,) + self.references


def batch_stats(features: Mapping[str, np.ndarray], outputs: Mapping[str, np.ndarray],
                spec: ScoreSpec) -> dict:
    """Statistics of one batch: {"label_format": {fmt: n}, "slices": {slice columns: {...}}} (the typed
    columns of slicing.masks; summarize keys the slices by their display key)."""
    if spec.label_feature not in features:
        raise metrics.LabelError(
            f"label_feature={spec.label_feature!r} is not in the examples; features are "
            f"{sorted(features)}. Set EvaluationConfig.label_feature")
    n = len(outputs[spec.candidate])
    preds, truth, fmt = _prepare(features[spec.label_feature], outputs, spec, n)
    weights = _weights(features, spec, n)
    values = {m: _per_example(truth, preds[m], spec) for m in spec.models}
    probability = ({m: binary_scoring.positive_probability(preds[m], spec.metrics.output_kind or "")
                    for m in spec.models} if spec.binary is not None else {})
    slices = {}
    masks = list(slicing.masks(features, spec.slice_features, n))
    binary = ({m: binary_scoring.batch_by_slice(truth, probability[m], weights, spec.binary, masks)
               for m in spec.models} if spec.binary is not None else {})
    one_vs_rest = _one_vs_rest(truth, preds, weights, spec, masks)
    parts = ({m: binary_scoring.ratio_parts(truth, probability[m], weights, spec.binary) for m in spec.models}
             if spec.binary is not None else {})
    ratios = ({r: paired.ratio_stats(*paired.ratio_rows(parts[spec.candidate], parts[r]), [m for _, m in masks])
               for r in spec.references} if parts else {})
    for index, (key, mask) in enumerate(masks):
        cand = {k: v[mask] for k, v in values[spec.candidate].items()}
        slices[key] = {
            "models": {m: _model_stats(truth[mask], preds[m][mask], spec.metrics) for m in spec.models},
            "pairs": {r: metrics.pair_stats(preds[spec.candidate][mask], preds[r][mask],
                                            spec.metrics.classification) for r in spec.references},
            "paired": {r: paired.stats(cand, {k: v[mask] for k, v in values[r].items()}) for r in spec.references},
        }
        for m in binary:
            slices[key]["models"][m]["binary"] = binary[m][key]
        for m in one_vs_rest:
            slices[key]["models"][m]["one_vs_rest"] = one_vs_rest[m][key]
        if ratios:
            slices[key]["paired_ratio"] = {r: ratios[r][index] for r in spec.references}
    return {"label_format": {fmt: n}, "slices": slices}


def _one_vs_rest(truth: np.ndarray, preds: Mapping[str, np.ndarray], weights: np.ndarray | None, spec: ScoreSpec,
                 masks: list) -> dict:
    """{model: {slice key: one-vs-rest statistics}} of a binarized multi-class output, else {}."""
    if spec.one_vs_rest is None:
        return {}
    kind = spec.metrics.output_kind or ""
    return {m: binary_scoring.one_vs_rest_by_slice(truth, binary_scoring.class_probabilities(preds[m], kind),
                                                   weights, spec.one_vs_rest, masks) for m in spec.models}


def _per_example(truth: np.ndarray, pred: np.ndarray, spec: ScoreSpec) -> dict[str, np.ndarray]:
    """Each example's value of the metrics that are means over examples (core/paired)."""
    m = spec.metrics
    if not m.classification:
        return {"mae": np.mean(np.abs(np.asarray(pred, np.float64).reshape(truth.shape) - truth), axis=1)}
    out = {"accuracy": paired.correct(truth, pred)}
    out.update({metric_table.expand(metric_table.TOP_K_ACCURACY, k): paired.correct(truth, pred, k) for k in m.top_k})
    if m.output_kind is not None:
        out["loss"] = metrics.cross_entropy(pred, truth, m)
    if spec.binary is not None and not spec.binary.weighted:
        p = binary_scoring.positive_probability(pred, m.output_kind or "")
        out["binary_accuracy"] = ((p > binary_scoring.DEFAULT_THRESHOLD) == (truth == 1)).astype(np.float64)
        out["mean_squared_error"] = (p - truth) ** 2
    return out


def _weights(features: Mapping[str, np.ndarray], spec: ScoreSpec, n: int) -> np.ndarray | None:
    """The example weights (one finite number >= 0 per example), or None without a weight feature."""
    if spec.weight_feature is None:
        return None
    if spec.weight_feature not in features:
        raise metrics.LabelError(f"example_weight_key={spec.weight_feature!r} is not in the examples; features "
                                 f"are {sorted(features)}. Set EvaluationConfig.example_weight_key")
    values = features[spec.weight_feature]
    flat = np.asarray(values, dtype=np.float64).reshape(n, -1) if values.dtype != object else None
    if flat is None or flat.shape[1] != 1 or not np.all(np.isfinite(flat)) or np.any(flat < 0):
        raise metrics.LabelError(f"example_weight_key={spec.weight_feature!r} must hold one finite number >= 0 "
                                 f"per example; fix the feature or the key")
    return flat[:, 0]


def all_outputs_stats(features: Mapping[str, np.ndarray], outputs: Mapping[str, Mapping[str, np.ndarray]],
                      spec: ScoreSpec) -> dict:
    """batch_stats of the scored output plus the comparison statistics of every other output
    (outputs: model -> {output name: array}, as the runners return them)."""
    stats = batch_stats(features, {m: o[spec.output_name] for m, o in outputs.items()}, spec)
    for sub in spec.scored_outputs:
        stats.setdefault("scored_outputs", {})[sub.output_name] = batch_stats(
            features, {m: o[sub.output_name] for m, o in outputs.items()}, sub)
    if spec.other_outputs:
        stats["other_outputs"] = output_guard.batch(outputs, spec.other_outputs, spec.candidate, spec.references)
    return stats


def _prepare(label: np.ndarray, outputs: Mapping[str, np.ndarray], spec: ScoreSpec, n: int):
    m = spec.metrics
    if m.classification:
        truth, fmt = metrics.labels_of(label, m.classes, spec.label_feature)
        preds = {name: metrics.class_scores(outputs[name], m, f"{name}:{spec.output_name}")
                 for name in spec.models}
        return preds, truth, fmt
    preds = {name: np.asarray(outputs[name]).reshape(n, -1) for name in spec.models}
    truth = metrics.targets_of(label, preds[spec.candidate].shape[1], spec.label_feature)
    return preds, truth, "value"


def _model_stats(truth: np.ndarray, pred: np.ndarray, spec: metrics.Spec) -> dict:
    if spec.classification:
        return metrics.classification_stats(truth, pred, spec)
    return metrics.regression_stats(truth, pred)


def summarize(stats: Mapping, spec: ScoreSpec) -> dict:
    """{"examples", "label_format", "slices": {key: {...}}, "confusion": {model: matrix},
    "other_outputs": {output: {reference: output_guard.compare(...)}}}."""
    slices = _by_key({columns: _summarize_slice(columns, s, spec) for columns, s in stats.get("slices", {}).items()})
    overall = stats.get("slices", {}).get(slicing.OVERALL_COLUMNS)
    confusion = ({m: np.asarray(overall["models"][m]["confusion"]).tolist() for m in spec.models}
                 if overall and spec.metrics.classification else {})
    formats = sorted(stats.get("label_format", {}))
    others = {name: {ref: output_guard.compare(summed) for ref, summed in sorted(by_ref.items())}
              for name, by_ref in sorted(stats.get("other_outputs", {}).items())}
    curves = ({m: binary_scoring.curves(overall["models"][m]["binary"][binary_scoring.HISTOGRAM.key])
               for m in spec.models} if overall and spec.binary is not None else {})
    scored = {sub.output_name: _scored_output(summarize(stats.get("scored_outputs", {}).get(sub.output_name, {}), sub))
              for sub in spec.scored_outputs}
    return {"examples": slices.get(slicing.OVERALL, {}).get("examples", 0),
            "label_format": "+".join(formats) if formats else None,
            "slices": slices, "confusion": confusion, "other_outputs": others, "curves": curves,
            "scored_outputs": scored}


def _scored_output(summary: dict) -> dict:
    """What the record keeps of an extra scored output's summary (records.ScoredOutput)."""
    return {k: summary[k] for k in ("examples", "label_format", "slices", "confusion")}


def _by_key(slices: Mapping[slicing.Columns, dict]) -> dict[str, dict]:
    """The slice summaries by display key (slicing.key_of), sorted; two slices of one key are refused."""
    out: dict[str, dict] = {}
    for columns in sorted(slices, key=slicing.key_of):
        key = slicing.key_of(columns)
        if key in out:
            raise slicing.SliceError(f"slices {out[key]['columns']} and {columns} have the same key {key!r} (a "
                                     f"feature name or value holds '=' or {slicing.CROSS!r}); rename the feature")
        out[key] = slices[columns]
    return out


def _summarize_slice(columns: slicing.Columns, s: Mapping, spec: ScoreSpec) -> dict:
    values = {m: (metrics.classification_metrics(s["models"][m], spec.metrics)
                  if spec.metrics.classification else metrics.regression_metrics(s["models"][m]))
              for m in spec.models}
    if spec.binary is not None:
        for m in spec.models:
            values[m].update(binary_scoring.derive(s["models"][m]["binary"], spec.binary))
    if spec.one_vs_rest is not None:
        for m in spec.models:
            values[m].update(binary_scoring.derive_one_vs_rest(s["models"][m]["one_vs_rest"], spec.one_vs_rest))
    return {
        "columns": columns,
        "examples": int(s["models"][spec.candidate]["n"]),
        "nonfinite": {m: int(s["models"][m]["nonfinite"]) for m in spec.models},
        "metrics": values,
        "pairs": {r: metrics.pair_metrics(s["pairs"][r]) for r in spec.references},
        "drops": {r: _with_intervals(metrics.drops(values[spec.candidate], values[r]), s.get("paired", {}).get(r, {}),
                                     s.get("paired_ratio", {}).get(r, {}))
                  for r in spec.references},
    }


def _with_intervals(drops: dict, summed: Mapping, ratios: Mapping) -> dict:
    """Each drop with the 95% interval of its paired per-example differences (a mean over examples)
    or the delta method's (a ratio metric), where there is one."""
    for name, drop in drops.items():
        right_or_wrong = name in ("accuracy", "binary_accuracy") or metric_table.get(name) == metric_table.METRICS[
            metric_table.TOP_K_ACCURACY]
        low = high = examples = None
        if name in summed:
            (low, high), examples = paired.interval(summed[name], right_or_wrong), summed[name]["n"]
        elif name in ratios:
            (low, high), examples = paired.ratio_interval(ratios[name], name), ratios[name]["n"]
        drop.update(ci_low=low, ci_high=high, ci_examples=examples)
    return drops
