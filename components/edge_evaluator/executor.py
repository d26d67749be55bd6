"""EdgeEvaluator executor: check inputs, score with Beam, time, decide, record."""

from __future__ import annotations

import os
from typing import Any

import tensorflow as tf
from absl import logging
from tfx.components.util import model_utils
from tfx.dsl.components.base import base_beam_executor
from tfx.types import artifact, artifact_utils
from tfx.utils import io_utils as tfx_io_utils

from components import artifacts, io_utils
from components.core import examples, gate, input_mapping, latency, litert, metrics
from components.edge_evaluator import beam_job, report
from schemas.evaluation import EvaluationConfig


class Executor(base_beam_executor.BaseBeamExecutor):
    """Writes the ModelBlessing the Pusher honours and an EdgeEvaluation with every figure."""

    def Do(self, input_dict: dict[str, list[artifact.Artifact]],
           output_dict: dict[str, list[artifact.Artifact]],
           exec_properties: dict[str, Any]) -> None:
        config = EvaluationConfig.from_json(exec_properties["config"])
        examples_artifact = artifact_utils.get_single_instance(input_dict["examples"])
        model = artifact_utils.get_single_instance(input_dict["model"])
        float_model = artifact_utils.get_single_instance(input_dict["float_model"])
        float_blessing = input_dict.get("float_blessing") or []
        blessing = artifact_utils.get_single_instance(output_dict["blessing"])
        evaluation = artifact_utils.get_single_instance(output_dict["evaluation"])

        files = examples.split_files(io_utils.split_uri(examples_artifact, config.split, "split"))
        quant_path, float_path = _tflite_path(model, "model"), _tflite_path(float_model, "float_model")
        quant_bytes, float_bytes = io_utils.read_bytes(quant_path), io_utils.read_bytes(float_path)
        export = _export_report(model)
        key = export.get("signature_key", "serving_default")
        job, first, inputs = _plan_job(config, export, quant_bytes, float_bytes, files, key,
                                       quant_path, float_path)

        summary = self._score(files, job, os.path.join(evaluation.uri, "counts.json"))
        timing = _latency(config, key, {"quant": (quant_bytes, inputs[0]), "float": (float_bytes, inputs[1])},
                          first, job.mapping)
        float_ok = model_utils.is_model_blessed(float_blessing[0]) if float_blessing else None
        blessed, checks = gate.decide(summary, config.thresholds, len(quant_bytes),
                                      timing.get("quant_xnnpack", {}).get("median_us"), float_ok)
        result = report.build(config, summary, timing, checks, blessed, len(quant_bytes),
                              len(float_bytes), job, quant_path, export.get("mode"))
        _record(evaluation, blessing, model, result)
        logging.info("EdgeEvaluator: %s", "BLESSED" if blessed else "NOT BLESSED")


    def _score(self, files: list[str], job: beam_job.Job, counts_path: str) -> dict:
        """Runs the Beam scoring job (this component's beam_pipeline_args) and summarizes."""
        with self._make_beam_pipeline() as pipeline:
            beam_job.build(pipeline, files, job, counts_path)
        return metrics.summarize(beam_job.counts_from_json(io_utils.read_bytes(counts_path).decode()))


_EXPORTER_OUTPUT = {"model": "tflite_model", "float_model": "float_model"}


def _tflite_path(model: artifact.Artifact, which: str) -> str:
    path = os.path.join(io_utils.serving_dir(model), artifacts.TFLITE_FILE)
    if not tf.io.gfile.exists(path):
        raise FileNotFoundError(f"{which}: no TFLite model at {path}; connect the TFLiteExporter's "
                                f"outputs['{_EXPORTER_OUTPUT[which]}'] here")
    return path


def _export_report(model: artifact.Artifact) -> dict:
    path = os.path.join(model.uri, artifacts.EXPORT_REPORT_FILE)
    return io_utils.read_json(path) if tf.io.gfile.exists(path) else {}


def _plan_job(config, export, quant_bytes, float_bytes, files, key, quant_path, float_path):
    """Resolves inputs, output and classes before any Beam work, so errors come early."""
    quant_in, quant_out = litert.signature_specs(litert.load(quant_bytes), key)
    float_in, float_out = litert.signature_specs(litert.load(float_bytes), key)
    if [t.name for t in quant_in] != [t.name for t in float_in]:
        raise ValueError(f"quantized and float models take different inputs: "
                         f"{[t.name for t in quant_in]} vs {[t.name for t in float_in]}")
    output = _output_name(config.output_name, quant_out)
    first_records = [next(iter(examples.iter_records(files)), None)]
    if first_records[0] is None:
        raise examples.ExamplesError(f"split {config.split!r} is empty: nothing to evaluate")
    first = examples.Decoder().decode(first_records)
    explicit = (config.input_mapping if config.input_mapping is not None
                else export.get("input_mapping") or {})
    mapping = input_mapping.resolve(quant_in, list(first), explicit)
    classes = metrics.num_classes([d for d in next(o for o in quant_out if o.name == output).shape])
    job = beam_job.Job(quant_path, float_path, key, mapping, config.label_feature, output,
                       classes, config.batch_size, config.num_threads)
    return job, first, (quant_in, float_in)


def _output_name(wanted: str | None, outputs) -> str:
    names = [o.name for o in outputs]
    if wanted is None:
        if len(names) != 1:
            raise ValueError(f"the model has outputs {names}; set EvaluationConfig.output_name to one")
        return names[0]
    if wanted not in names:
        raise ValueError(f"output_name={wanted!r} is not a model output; outputs are {names}")
    return wanted


def _latency(config, key, models: dict, first, mapping) -> dict:
    """Batch-1 latency of each (model bytes, input specs), with and without XNNPACK."""
    if config.latency_runs < 1:
        return {}
    timing = {}
    for label, (model, inputs) in models.items():
        feeds = input_mapping.feed(first, inputs, mapping)
        for xnnpack in (True, False):
            name = f"{label}_{'xnnpack' if xnnpack else 'no_xnnpack'}"
            timing[name] = latency.measure(model, key, feeds, config.latency_runs,
                                           config.num_threads, xnnpack)
    return timing


def _record(evaluation, blessing, model, result: dict) -> None:
    io_utils.write_json(os.path.join(evaluation.uri, artifacts.METRICS_FILE), result)
    io_utils.write_bytes(os.path.join(evaluation.uri, artifacts.REPORT_FILE),
                         report.render(result).encode())
    blessed = result["blessed"]
    tfx_io_utils.write_string_file(
        os.path.join(blessing.uri, artifacts.BLESSED_FILE if blessed else artifacts.NOT_BLESSED_FILE), "")
    blessing.set_int_custom_property(artifacts.BLESSED_KEY, 1 if blessed else 0)
    blessing.set_string_custom_property(artifacts.EDGE_MODEL_URI_KEY, model.uri)
    for artifact_ in (evaluation, blessing):
        s = result["summary"]
        artifact_.set_float_custom_property(artifacts.ACCURACY_KEY, s["accuracy_quant"])
        artifact_.set_float_custom_property(artifacts.FLOAT_ACCURACY_KEY, s["accuracy_float"])
        artifact_.set_float_custom_property(artifacts.DROP_KEY, s["absolute_drop"])
