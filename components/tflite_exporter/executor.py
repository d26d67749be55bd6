"""TFLiteExporter executor: convert, check what was written, record."""

from __future__ import annotations

import os
from typing import Any

from absl import logging
import tensorflow as tf
from tfx.dsl.components.base import base_executor
from tfx.types import artifact, artifact_utils
from tfx.utils import path_utils

from tfx_edge.components import artifacts, io_utils, plan_files, specs
from tfx_edge.components.core import checks, convert, parity
from tfx_edge.components.core import quantize as quantize_lib
from tfx_edge.schemas import names


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

        plan, config = plan_files.read_plan(plan_uri)
        plan_files.check_source(plan_uri, plan, io_utils.serving_dir(trainer_model))
        derived_dir, derived = plan_files.derived_model(plan_uri, plan)
        key = config.signature_key
        float_bytes = convert.convert_float(derived_dir, key)
        parity_report = parity.check(float_bytes, key, io_utils.serving_dir(trainer_model), derived, derived_dir,
                                     plan_files.parity_records(plan_uri, plan), plan.get("input_mapping"),
                                     config.parity_tolerance)
        qat_dir = os.path.join(plan_uri, artifacts.QAT_MODEL_DIR) if plan.get("qat") else None
        result = quantize_lib.quantize(derived_dir, config, plan_files.load_calibration(plan_uri, plan),
                                       float_bytes, qat_dir)

        report = _check(result.model, float_bytes, config, plan)
        report["parity"] = parity_report
        if result.layer_report_csv is not None:
            io_utils.write_bytes(os.path.join(out_model.uri, artifacts.LAYER_REPORT_FILE),
                                 result.layer_report_csv.encode())
            report["layer_report"] = artifacts.LAYER_REPORT_FILE
        if result.aeq_recipe is not None:
            io_utils.write_json(os.path.join(out_model.uri, artifacts.AEQ_RECIPE_FILE), result.aeq_recipe)
            report["aeq_recipe"] = artifacts.AEQ_RECIPE_FILE
        _write_model(out_float, float_bytes)
        _write_model(out_model, result.model)
        io_utils.write_json(os.path.join(out_model.uri, artifacts.EXPORT_REPORT_FILE), report)
        _record(out_model, out_float, config.mode.value, report)
        logging.info("TFLite %s: %d bytes (float32 %d, ratio %.3f).", config.mode.value,
                     len(result.model), len(float_bytes), report["size_ratio"])


def _check(model: bytes, float_bytes: bytes, config, plan: dict) -> dict:
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
    return {
        artifacts.FORMAT_KEY: artifacts.FORMAT,
        "mode": config.mode.value,
        "config": plan["config"],
        "signature_key": key,
        "derivation": plan["derivation"],
        "input_mapping": plan.get("input_mapping") or {},
        "calibration": plan.get("calibration"),
        "qat": plan.get("qat"),
        "auto": plan.get("auto"),
        names.QUANTIZED: quant_desc,
        "float": float_desc,
        "size_ratio": len(model) / len(float_bytes),
        "layer_report": None,
        "tf_version": tf.__version__,
    }


def _write_model(out: artifact.Artifact, model: bytes) -> None:
    io_utils.write_bytes(os.path.join(path_utils.serving_model_path(out.uri), artifacts.TFLITE_FILE), model)


def _record(out_model: artifact.Artifact, out_float: artifact.Artifact, mode: str, report: dict) -> None:
    out_model.set_string_custom_property(artifacts.MODE_KEY, mode)
    out_model.set_int_custom_property(artifacts.SIZE_KEY, report[names.QUANTIZED]["bytes"])
    out_model.set_int_custom_property(artifacts.FLOAT_SIZE_KEY, report["float"]["bytes"])
    out_float.set_string_custom_property(artifacts.MODE_KEY, "float32")
    out_float.set_int_custom_property(artifacts.SIZE_KEY, report["float"]["bytes"])
