"""Measuring one auto-search candidate for real: convert, check, score, time (no TFX).

The float32 TFLite reference is scored once on the validation subset; each
candidate is converted exactly as the TFLiteExporter would (same function,
same calibration), checked like an export, run on the subset with LiteRT and
timed at batch 1 with XNNPACK. `size` converts a candidate only to learn its
size (the search ranks by it) and keeps the bytes, so evaluating it does not
convert again. Results and sizes are cached on disk by content, so a re-run with
the same model, data and candidate does not convert again.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import time
from typing import Callable, Mapping

import numpy as np
import tensorflow as tf

from tfx_edge.components.core import (auto_search, calibration, checks, examples, holdout, input_mapping, latency,
                                      layer_errors, litert, metrics, single_valued)
from tfx_edge.components.core import quantize as quantize_lib
from tfx_edge.schemas import _strict
from tfx_edge.schemas import metric_table
from tfx_edge.schemas.modes import MODES, Technique
from tfx_edge.schemas.quantization import AutoConfig, QuantizationConfig


@dataclasses.dataclass(frozen=True)
class Validation:
    """The validation subset: decoded features, its digest, and how inputs are fed."""

    features: Mapping[str, np.ndarray]
    sha256: str
    mapping: Mapping[str, str]


def validation_subset(records, tensors, config: QuantizationConfig,
                      contract: Mapping[str, str] | None = None) -> tuple[list[bytes], Validation, dict]:
    """(held-out records, Validation, its record for the plan) from a split's records; contract:
    single-valued VarLen inputs fed dense (core/single_valued.py)."""
    auto = _strict.need(config.auto, "auto")
    subset, seen = holdout.select(records, auto.validation_fraction, auto.max_validation_examples, auto.seed)
    if not subset:
        raise examples.ExamplesError(
            f"auto.validation_split={auto.validation_split!r} gave no validation examples "
            f"({seen} records, validation_fraction={auto.validation_fraction}); raise the fraction")
    features = single_valued.fill(examples.Decoder().decode(subset), contract or {}, len(subset))
    if auto.label_feature not in features:
        raise examples.ExamplesError(f"auto.label_feature={auto.label_feature!r} is not in the examples; "
                                     f"features are {sorted(features)}")
    mapping = input_mapping.resolve(tensors, list(features), config.input_mapping)
    digest = calibration.digest(calibration.storable(features))
    record = {"split": auto.validation_split, "examples": len(subset), "examples_seen": seen,
              "fraction": auto.validation_fraction, "seed": auto.seed, "sha256": digest}
    return subset, Validation(features, digest, mapping), record


def fingerprint(saved_model_dir: str) -> str:
    """sha256 over a SavedModel directory's files (names and bytes, sorted)."""
    h = hashlib.sha256()
    for root, _, files in sorted(tf.io.gfile.walk(saved_model_dir)):
        for name in sorted(files):
            path = os.path.join(root, name)
            h.update(os.path.relpath(path, saved_model_dir).encode())
            with tf.io.gfile.GFile(path, "rb") as f:
                h.update(f.read())
    return h.hexdigest()


class Evaluator:
    """evaluate(name, config) -> Trial, size(name, config) -> bytes (or a failed Trial), and
    rank_layers() for int8_selective."""

    def __init__(self, source_dir: str, auto: AutoConfig, calibration: Mapping[str, np.ndarray],
                 float_model: bytes, validation: Validation, cache: Cache,
                 qat_dir: Callable[[], str] | None = None):
        self._source, self._auto, self._calibration = source_dir, auto, calibration
        self._float, self._validation, self._cache, self._qat_dir = float_model, validation, cache, qat_dir
        self._reference: float | None = None
        self._converted: dict[str, bytes] = {}   # size key -> model bytes converted by size(), until measured

    def _score(self, model: bytes, key: str) -> tuple[float, list]:
        """(metric on the validation subset, the model's input specs)."""
        runner = litert.Runner(model, key)
        output = self._auto.output_name or _only(runner.outputs)
        feeds = input_mapping.feed(self._validation.features, runner.inputs, self._validation.mapping)
        values = runner(feeds)[output]
        label = self._validation.features[self._auto.label_feature]
        return score(values, label, self._auto, output), runner.inputs

    def reference(self, key: str) -> float:
        if self._reference is None:
            self._reference, _ = self._score(self._float, key)
        return self._reference

    def __call__(self, name: str, config: QuantizationConfig) -> auto_search.Trial:
        key = self._cache.key(name, config)
        cached = self._cache.get(key)
        if cached is not None:
            return auto_search.Trial(**{**cached, "cached": True})
        trial = self._measure(name, config)
        if trial.error is None:   # a failure may be transient (memory, I/O): measure it again next time
            self._cache.put(key, dataclasses.asdict(trial))
        return trial

    def size(self, name: str, config: QuantizationConfig) -> int | auto_search.Trial:
        """The candidate's size in bytes, converted and checked exactly as _measure does (the bytes
        are kept for it); a cached trial or size answers without converting. A Trial with the error
        when it fails to convert or fails the export checks (not cached)."""
        cached = self._cache.get(self._cache.key(name, config))
        if cached is not None and cached.get("size_bytes") is not None:
            return int(cached["size_bytes"])
        key = self._cache.key("size", config)
        sized = self._cache.get(key)
        if sized is not None:
            return int(sized["size_bytes"])
        start = time.monotonic()
        try:
            model = self._convert(config)
        except Exception as error:  # a candidate that fails is a recorded, failed trial
            return auto_search.Trial(name=name, config=json.loads(config.to_json()), error=_error_text(error),
                                     seconds=time.monotonic() - start)
        self._converted[key] = model
        self._cache.put(key, {"size_bytes": len(model)})
        return len(model)

    def _convert(self, config: QuantizationConfig) -> bytes:
        """The candidate's model, as the TFLiteExporter will write it; ExportCheckError if a check fails."""
        qat = MODES[config.mode].technique == Technique.QAT
        qat_dir = _strict.need(self._qat_dir, "the QAT fine-tuning step")() if qat else None
        model = quantize_lib.quantize(self._source, config, self._calibration, self._float, qat_dir).model
        found = checks.problems(checks.describe(model, config.signature_key), config)
        if found:
            raise checks.ExportCheckError("; ".join(found))
        return model

    def _measure(self, name: str, config: QuantizationConfig) -> auto_search.Trial:
        start = time.monotonic()
        trial = auto_search.Trial(name=name, config=json.loads(config.to_json()))
        try:
            model = self._converted.pop(self._cache.key("size", config), None) or self._convert(config)
            trial.size_bytes = len(model)
            trial.metric, inputs = self._score(model, config.signature_key)
            trial.reference = self.reference(config.signature_key)
            trial.absolute_drop, trial.relative_drop = drop(trial.metric, trial.reference, self._auto.metric)
            trial.latency_p50_us = self._latency(model, config.signature_key, inputs)
        except Exception as error:  # a candidate that fails is a recorded, failed trial
            trial.error = _error_text(error)
        trial.seconds = time.monotonic() - start
        return trial

    def _latency(self, model: bytes, key: str, inputs) -> float:
        one = {n: v[:1] for n, v in self._validation.features.items()}
        feeds = input_mapping.feed(one, inputs, self._validation.mapping)
        return latency.measure(model, key, feeds, self._auto.latency_runs, 1, "xnnpack", 10)["p50_us"]

    def rank_layers(self, base: QuantizationConfig) -> list[str]:
        """Int8 layers, worst quantization error (RMSE/scale) first: QuantizationDebugger."""
        config = dataclasses.replace(auto_search.candidate_config("int8", base), layer_report=True)
        key = self._cache.key("layers", config)
        cached = self._cache.get(key)
        if cached is None:
            from tfx_edge.components.core import debugger  # pylint: disable=g-import-not-at-top
            report = debugger.layer_report_of(self._source, config, self._calibration, self._float)
            cached = {"layers": ranked_nodes(report)}
            self._cache.put(key, cached)
        return cached["layers"]


def ranked_nodes(layer_report_csv: str) -> list[str]:
    """Tensor names of the layer report, worst trimmed noise-to-signal ratio first (fixed-range ops left out)."""
    return [tensor for tensor, _, _ in layer_errors.ranked(layer_report_csv, layer_errors.FIXED_RANGE_OPS)]


def _error_text(error: Exception) -> str:
    return f"{type(error).__name__}: {(str(error).splitlines() or [''])[0][:300]}"


def _only(outputs) -> str:
    if len(outputs) != 1:
        raise ValueError(f"the model has outputs {[o.name for o in outputs]}; set auto.output_name")
    return outputs[0].name


def score(values: np.ndarray, label: np.ndarray, auto: AutoConfig, output: str) -> float:
    """The auto metric of one model's outputs on the validation subset (its task from
    schemas/metric_table.py)."""
    n = len(values)
    if metric_table.Task.CLASSIFICATION not in _strict.need(metric_table.get(auto.metric), "auto.metric").tasks:
        out = np.asarray(values).reshape(n, -1)
        stats = metrics.regression_stats(metrics.targets_of(label, out.shape[1], auto.label_feature), out)
        return metrics.regression_metrics(stats)[auto.metric]
    spec = metrics.Spec("classification", metrics.num_classes(values.shape), auto.output_kind, ())
    truth, _ = metrics.labels_of(label, spec.classes, auto.label_feature)
    stats = metrics.classification_stats(truth, metrics.class_scores(values, spec, output), spec)
    return metrics.classification_metrics(stats, spec)[auto.metric]


def drop(value: float, reference: float, metric: str) -> tuple[float, float]:
    d = metrics.drops({metric: value}, {metric: reference})[metric]
    return d["absolute"], d["relative"]


class Cache:
    """Trial results on disk (local or gs://), keyed by everything that decides them."""

    def __init__(self, directory: str | None, context: Mapping[str, str]):
        self._dir, self._context = directory, dict(context)

    def key(self, name: str, config: QuantizationConfig) -> str:
        blob = json.dumps({"name": name, "config": json.loads(config.to_json()), **self._context},
                          sort_keys=True)
        return hashlib.sha256(blob.encode()).hexdigest()

    def _path(self, key: str) -> str:
        return os.path.join(_strict.need(self._dir, "auto.cache_dir"), f"{key}.json")

    def get(self, key: str) -> dict | None:
        if self._dir is None:
            return None
        if not tf.io.gfile.exists(self._path(key)):
            return None
        with tf.io.gfile.GFile(self._path(key), "r") as f:
            return json.loads(f.read())

    def put(self, key: str, value: dict) -> None:
        if self._dir is None:
            return
        tf.io.gfile.makedirs(self._dir)
        tmp = self._path(key) + ".tmp"
        with tf.io.gfile.GFile(tmp, "w") as f:
            f.write(json.dumps(value, sort_keys=True))
        tf.io.gfile.rename(tmp, self._path(key), overwrite=True)
