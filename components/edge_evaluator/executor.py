"""EdgeEvaluator executor: load and check inputs, score with Beam, time, decide, record."""

from __future__ import annotations

import dataclasses
import datetime
import math
import os
from typing import Any

import tensorflow as tf
from absl import logging
from tfx.components.evaluator import constants as evaluator_constants
from tfx.components.util import model_utils
from tfx.dsl.components.base import base_beam_executor
from tfx.types import artifact, artifact_utils
from tfx.utils import io_utils as tfx_io_utils

import tfx_edge
from tfx_edge.components import artifacts, io_utils, record_files, specs
from tfx_edge.components.core import examples, gate, input_mapping, latency, layer_errors, slicing, targets
from tfx_edge.components.edge_evaluator import (beam_job, html_report, planning, report, tfma_output,
                                                worker_errors)
from tfx_edge.schemas.evaluation import EvaluationConfig, cross_of
from tfx_edge.schemas import names, records

_EXPORTER_OUTPUT = {"model": "tflite_model", "float_model": "float_model"}


class Executor(base_beam_executor.BaseBeamExecutor):
    """Writes the ModelBlessing the Pusher honours and an EdgeEvaluation with every figure."""

    def Do(self, input_dict: dict[str, list[artifact.Artifact]],
           output_dict: dict[str, list[artifact.Artifact]],
           exec_properties: dict[str, Any]) -> None:
        config = record_files.config_property(EvaluationConfig, exec_properties, "EdgeEvaluator")
        model = artifact_utils.get_single_instance(input_dict[specs.MODEL_KEY])
        blessing = artifact_utils.get_single_instance(output_dict[specs.BLESSING_KEY])
        evaluation = artifact_utils.get_single_instance(output_dict[specs.EVALUATION_KEY])
        for out in (blessing, evaluation):
            io_utils.clean_dir(out.uri)

        files = io_utils.split_files(artifact_utils.get_single_instance(input_dict[specs.EXAMPLES_KEY]),
                                     config.split, "split")
        export, quant, ref, provenance = _verified_models(model, input_dict)
        key = export.plan.signature_key
        saved_dir = _saved_model_dir(config, input_dict.get(specs.SAVED_MODEL_KEY) or [])
        mapping = config.input_mapping if config.input_mapping is not None else dict(export.plan.input_mapping)
        plan = planning.plan(config, quant, ref, files, key, mapping, saved_dir,
                             export.plan.derivation.missing_contract)

        summary = self._score(files, plan.job, evaluation.uri) if plan.job else report.EMPTY_SUMMARY
        _check_slice_features(config, summary)
        timing = _latency(config, key, {names.QUANTIZED: quant, names.FLOAT_TFLITE: ref}, plan)
        target_reports = targets.check(config.targets, quant.data, key, _rows(quant, plan, targets.MICRO_EXAMPLES))
        facts = report.model_facts(quant, ref, saved_dir)
        float_blessing = (input_dict.get(specs.FLOAT_BLESSING_KEY) or [None])[0]
        evidence = _evidence(config, summary, facts, timing, float_blessing, export, quant)
        blessed, checks = gate.decide(dataclasses.replace(evidence, targets=target_reports), config.thresholds)
        identity = _identity(self, model, input_dict, files)
        result = report.build(config, summary, facts, timing, checks, blessed, plan, export, provenance,
                              identity, _worst_layers(model, export), target_reports)
        _record(evaluation, blessing, model, result, float_blessing, os.path.dirname(files[0]))
        _log(timing, blessed, checks)

    def _score(self, files: list[str], job: beam_job.Job, out_uri: str) -> dict:
        """Runs the Beam scoring job (this component's beam_pipeline_args); returns the summary."""
        scratch = os.path.join(out_uri, ".scoring")
        path = os.path.join(scratch, "summary.json")
        try:
            with self._make_beam_pipeline() as pipeline:
                beam_job.build(pipeline, files, job, path)
        except Exception as error:  # pylint: disable=broad-except
            raise worker_errors.unwrap(error) from error
        summary = beam_job.read_summary(path)
        tf.io.gfile.rmtree(scratch)
        return summary


def _evidence(config: EvaluationConfig, summary: dict, facts: dict, timing: dict, float_blessing,
              export: records.ExportReport, quant) -> gate.Evidence:
    return gate.Evidence(
        slices=summary["slices"], references=config.references,
        model_bytes=len(quant.data), float_ops=report.float_ops(facts[names.QUANTIZED]["ops"]),
        latency=timing, budget_kernel=config.latency.budget_kernel.value,
        float_blessed=model_utils.is_model_blessed(float_blessing) if float_blessing is not None else None,
        auto=export.plan.auto, split=config.split, confusion=summary["confusion"],
        other_outputs=summary["other_outputs"], guards=config.guards, scored_outputs=summary["scored_outputs"],
        output_thresholds={name: out.metrics for name, out in config.outputs.items()})


def _log(timing: dict, blessed: bool, checks) -> None:
    for warning in report.slower_than_float(timing):
        logging.warning("EdgeEvaluator: %s (set budgets.max_latency_ratio to gate on it)", warning)
    if blessed:
        logging.info("EdgeEvaluator: BLESSED (%d checks passed)", len(checks))
    else:
        logging.warning("%s", gate.failure_block(checks))


def _tflite_path(model: artifact.Artifact, which: str) -> str:
    path = os.path.join(io_utils.serving_dir(model), artifacts.TFLITE_FILE)
    if not tf.io.gfile.exists(path):
        raise FileNotFoundError(f"{which}: no TFLite model at {path}; connect the TFLiteExporter's "
                                f"outputs['{_EXPORTER_OUTPUT[which]}'] here")
    return path


def _verified_models(model: artifact.Artifact, input_dict):
    """The export report beside the candidate, and both TFLite models, verified to be the bytes that
    report recorded (chain of custody: one export, its plan, its two files). Returns
    (report, candidate, reference, provenance)."""
    export, report_sha256 = record_files.read_export_report(model.uri)
    report_path = os.path.join(model.uri, artifacts.EXPORT_REPORT_FILE)
    float_model = artifact_utils.get_single_instance(input_dict[specs.FLOAT_MODEL_KEY])
    paths = {"model": _tflite_path(model, "model"), "float_model": _tflite_path(float_model, "float_model")}
    data = {which: io_utils.read_bytes(path) for which, path in paths.items()}
    record_files.check_custody(export, report_path, data["model"], paths["model"],
                               data["float_model"], paths["float_model"])
    key = export.plan.signature_key
    quant, ref = (planning.load_tflite(which, paths[which], data[which], key,
                                       f"Re-run the TFLiteExporter that wrote outputs['{_EXPORTER_OUTPUT[which]}']")
                  for which in ("model", "float_model"))
    provenance = records.Provenance(export_report_sha256=report_sha256, plan_sha256=export.plan_sha256,
                                    quantized_sha256=export.quantized.sha256, float_sha256=export.float_model.sha256)
    return export, quant, ref, provenance


WORST_LAYERS = 5   # the layer report's tensors the report shows


def _identity(executor, model: artifact.Artifact, input_dict, files: list[str]) -> records.RunIdentity:
    """The run and files this evaluation is of (the run id when an orchestrator gave one)."""
    context = getattr(executor, "_context", None)
    float_model = artifact_utils.get_single_instance(input_dict[specs.FLOAT_MODEL_KEY])
    return records.RunIdentity(
        tfx_edge_version=tfx_edge.__version__,
        evaluated_at=datetime.datetime.now(datetime.UTC).replace(microsecond=0).isoformat(),
        pipeline_run_id=getattr(context, "pipeline_run_id", None) or None, model_uri=model.uri,
        float_model_uri=float_model.uri, examples_uri=os.path.dirname(os.path.dirname(files[0])))


def _worst_layers(model: artifact.Artifact, export: records.ExportReport) -> tuple[records.LayerError, ...]:
    """The worst tensors of the export's layer report, when it wrote one. A diagnosis, not a gate input:
    a report that is missing or unreadable is said in the log and leaves the section out."""
    if not export.layer_report:
        return ()
    path = os.path.join(model.uri, export.layer_report)
    try:
        text = io_utils.read_bytes(path).decode()
    except Exception as error:  # noqa: BLE001  (missing, unreadable, not text: the report goes without it)
        logging.warning("EdgeEvaluator: the export's layer report %s is unreadable (%s: %s); the report shows "
                        "no worst layers", path, type(error).__name__, error)
        return ()
    return tuple(records.LayerError(tensor, op, nsr if math.isfinite(nsr) else None)
                 for tensor, op, nsr in layer_errors.ranked(text)[:WORST_LAYERS])


def _check_slice_features(config: EvaluationConfig, summary: dict) -> None:
    """A slice feature (alone or in a cross) that no example of the split has is a misconfiguration, not a
    slice."""
    for feature in dict.fromkeys(f for entry in config.slice_features for f in cross_of(entry)):
        values = {v for s in summary["slices"].values() for f, v in slicing.columns_of(s) if f == feature}
        if values == {slicing.MISSING}:
            raise examples.ExamplesError(
                f"slice_features: no example of split {config.split!r} has feature {feature!r}; "
                f"fix the feature name in slice_features")


def _saved_model_dir(config: EvaluationConfig, saved: list[artifact.Artifact]) -> str | None:
    if not config.compare_saved_model:
        return None
    if not saved:
        raise ValueError("compare_saved_model=True needs the Trainer's model: pass saved_model="
                         "trainer.outputs['model'] to the EdgeEvaluator")
    return io_utils.serving_dir(saved[0])


def _rows(model, plan: planning.Plan, n: int) -> list[dict]:
    """Batch-1 feeds of the first n examples, by signature input name (the latency feed, the targets' sample)."""
    if plan.first is None:
        return []
    mapping = plan.job.mapping if plan.job else {}
    count = min(n, len(next(iter(plan.first.values()))))
    return [input_mapping.feed({name: values[i:i + 1] for name, values in plan.first.items()}, model.inputs, mapping)
            for i in range(count)]


def _latency(config: EvaluationConfig, key: str, models, plan: planning.Plan) -> dict:
    """Batch-1 latency of each TFLite model under each kernel: {model: {kernel: stats}}."""
    if config.latency.runs < 1 or plan.first is None:
        return {}
    lat, timing = config.latency, {}
    for name, model in models.items():
        feeds = _rows(model, plan, 1)[0]
        timing[name] = {
            kernel: latency.measure(model.data, key, feeds, lat.runs, lat.num_threads, kernel, lat.warmup)
            for kernel in latency.KERNELS}
    return timing


def _record(evaluation, blessing, model, result: records.EvaluationResult, float_blessing,
            data_location: str) -> None:
    """Evaluation files first, the blessing last: a crash in between blesses nothing. The output
    directories were emptied first, so only this attempt's decision file exists."""
    record_files.write_record(os.path.join(evaluation.uri, artifacts.METRICS_FILE), result)
    tfma_output.write(result, evaluation.uri, data_location)
    io_utils.write_bytes(os.path.join(evaluation.uri, artifacts.REPORT_FILE),
                         report.render(result).encode())
    io_utils.write_bytes(os.path.join(evaluation.uri, artifacts.HTML_REPORT_FILE),
                         html_report.render_html(result).encode())
    blessed = result.blessed
    tfx_io_utils.write_string_file(
        os.path.join(blessing.uri, artifacts.BLESSED_FILE if blessed else artifacts.NOT_BLESSED_FILE), "")
    blessing.set_int_custom_property(artifacts.BLESSED_KEY, 1 if blessed else 0)
    blessing.set_string_custom_property(artifacts.EDGE_MODEL_URI_KEY, model.uri)
    _copy_float_parent(float_blessing, blessing)
    for artifact_ in (evaluation, blessing):
        for prop, value in report.properties(result).items():
            if isinstance(value, str):
                artifact_.set_string_custom_property(prop, value)
            elif isinstance(value, int):
                artifact_.set_int_custom_property(prop, value)
            else:
                artifact_.set_float_custom_property(prop, value)


def _copy_float_parent(float_blessing, blessing) -> None:
    """The float model the float Evaluator blessed and the gate compared against, as the baseline
    resolvers read it (int id locally, the artifact's resource name on Vertex)."""
    if float_blessing is None:
        return
    for key in (evaluator_constants.ARTIFACT_PROPERTY_CURRENT_MODEL_ID_KEY,
                evaluator_constants.ARTIFACT_PROPERTY_CURRENT_MODEL_URI_KEY):
        if float_blessing.has_custom_property(key):
            value = float_blessing.get_custom_property(key)
            if isinstance(value, int):
                blessing.set_int_custom_property(key, value)
            else:
                blessing.set_string_custom_property(key, str(value))
