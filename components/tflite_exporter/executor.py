"""TFLiteExporter executor: convert, check what was written, record."""

from __future__ import annotations

import os
from typing import Any

from absl import logging
import tensorflow as tf
from tfx.dsl.components.base import base_executor
from tfx.types import artifact, artifact_utils
from tfx.utils import path_utils

from tfx_edge.components import artifacts, io_utils, record_files, specs
import tfx_edge
from tfx_edge.components.core import app_contract, checks, convert, parity
from tfx_edge.components.core.input_mapping import InputMappingError
from tfx_edge.components.core import quantize as quantize_lib
from tfx_edge.schemas import _strict, records
from tfx_edge.schemas.export import ExportConfig


class Executor(base_executor.BaseExecutor):
    """Writes <tflite_model>/Format-Serving/tflite, <float_model>/Format-Serving/tflite, export_report.json."""

    def Do(self, input_dict: dict[str, list[artifact.Artifact]],
           output_dict: dict[str, list[artifact.Artifact]],
           exec_properties: dict[str, Any]) -> None:
        trainer_model = artifact_utils.get_single_instance(input_dict[specs.MODEL_KEY])
        plan_uri = artifact_utils.get_single_instance(input_dict[specs.PLAN_KEY]).uri
        out_model = artifact_utils.get_single_instance(output_dict[specs.TFLITE_MODEL_KEY])
        out_float = artifact_utils.get_single_instance(output_dict[specs.FLOAT_MODEL_KEY])
        for out in (out_model, out_float):
            io_utils.clean_dir(out.uri)

        plan, plan_sha256 = record_files.read_plan(plan_uri)
        config = plan.config
        record_files.check_source(plan_uri, plan, io_utils.serving_dir(trainer_model))
        derived_dir, derived = record_files.derived_model(plan_uri, plan)
        key = config.signature_key
        float_bytes = convert.convert_float(derived_dir, key)
        parity_report = _parity(float_bytes, trainer_model, plan, plan_uri, derived, derived_dir)
        qat_dir = record_files.qat_model(plan_uri, plan)
        result = quantize_lib.quantize(derived_dir, config, record_files.load_calibration(plan_uri, plan),
                                       float_bytes, qat_dir)

        extra: dict[str, Any] = {}
        if result.layer_report_csv is not None:
            io_utils.write_bytes(os.path.join(out_model.uri, artifacts.LAYER_REPORT_FILE),
                                 result.layer_report_csv.encode())
            extra["layer_report"] = artifacts.LAYER_REPORT_FILE
        if result.aeq_recipe is not None:
            io_utils.write_json(os.path.join(out_model.uri, artifacts.AEQ_RECIPE_FILE), result.aeq_recipe)
            extra["aeq_recipe"] = artifacts.AEQ_RECIPE_FILE
        export = _export_config(exec_properties)
        model, beside, contract = app_contract.package(result.model, artifacts.TFLITE_FILE, plan, plan_sha256,
                                                       export, tfx_edge.__version__)
        report = _check(model, float_bytes, plan, plan_sha256, parity_report, extra)
        _write_model(out_float, float_bytes)
        _write_model(out_model, model, beside, contract)
        record_files.write_record(os.path.join(out_model.uri, artifacts.EXPORT_REPORT_FILE), report)
        _record(out_model, out_float, report)
        logging.info("TFLite %s: %d bytes (float32 %d, ratio %.3f), with LiteRT metadata and %s.", config.mode.value,
                     len(model), len(float_bytes), report.size_ratio, sorted([artifacts.APP_CONTRACT_FILE, *beside]))


def _parity(float_bytes: bytes, trainer_model, plan: records.QuantizationPlanRecord, plan_uri: str, derived,
            derived_dir: str) -> dict:
    """The float32 TFLite against the Trainer's signature on the plan's parity sample (or probes)."""
    sample = record_files.parity_records(plan_uri, plan)
    config = plan.config
    try:
        return parity.check(float_bytes, config.signature_key, io_utils.serving_dir(trainer_model), derived,
                            derived_dir, sample, dict(plan.input_mapping), config.parity_tolerance)
    except InputMappingError as error:
        if plan.parity is None:
            raise
        where = os.path.join(plan_uri, plan.parity.file)
        raise InputMappingError(
            f"the parity sample {where!r} ({plan.parity.examples} examples of split {plan.parity.split!r}, drawn "
            f"by the Quantizer) cannot feed the model: {error}. If input_mapping is right, those examples lack the "
            f"feature: fix them, or set calibration.split to a split whose examples have it") from error


def _check(model: bytes, float_bytes: bytes, plan: records.QuantizationPlanRecord, plan_sha256: str,
           parity_report: dict, extra: dict[str, Any]) -> records.ExportReport:
    config = plan.config
    key = config.signature_key
    quant_desc = checks.describe(model, key)
    float_desc = checks.describe(float_bytes, key)
    found = checks.problems(quant_desc, config)
    if not float_desc["dynamic_batch"]:
        found.append("float32 reference has a fixed batch dimension")
    if found:
        raise checks.ExportCheckError(
            f"the {config.mode.value} TFLite model failed its checks: " + "; ".join(found))
    checks.smoke_run(model, key)
    checks.smoke_run(float_bytes, key)
    return records.ExportReport(
        plan_sha256=plan_sha256, plan=plan,
        quantized=_strict.from_dict(records.ModelDescription, quant_desc),
        float_model=_strict.from_dict(records.ModelDescription, float_desc),
        size_ratio=len(model) / len(float_bytes),
        parity=_strict.from_dict(records.ParityRecord, parity_report),
        tf_version=tf.__version__, **extra)


def _export_config(exec_properties: dict[str, Any]) -> ExportConfig:
    """The exporter's config; pipelines compiled before it had one give none."""
    if exec_properties.get(specs.CONFIG_KEY) is None:
        return ExportConfig()
    return record_files.config_property(ExportConfig, exec_properties, "TFLiteExporter")


def _write_model(out: artifact.Artifact, model: bytes, beside: dict[str, bytes] | None = None,
                 contract: records.AppContract | None = None) -> None:
    """Format-Serving/tflite and the files the app gets with it (what the stock Pusher copies)."""
    serving = path_utils.serving_model_path(out.uri)
    io_utils.write_bytes(os.path.join(serving, artifacts.TFLITE_FILE), model)
    for name, data in sorted((beside or {}).items()):
        io_utils.write_bytes(os.path.join(serving, name), data)
    if contract is not None:
        record_files.write_record(os.path.join(serving, artifacts.APP_CONTRACT_FILE), contract)


def _record(out_model: artifact.Artifact, out_float: artifact.Artifact, report: records.ExportReport) -> None:
    out_model.set_string_custom_property(artifacts.MODE_KEY, report.mode)
    out_model.set_int_custom_property(artifacts.SIZE_KEY, report.quantized.bytes)
    out_model.set_int_custom_property(artifacts.FLOAT_SIZE_KEY, report.float_model.bytes)
    out_float.set_string_custom_property(artifacts.MODE_KEY, "float32")
    out_float.set_int_custom_property(artifacts.SIZE_KEY, report.float_model.bytes)
