"""Quantizer executor: check, sample calibration data / fine-tune, record the plan."""

from __future__ import annotations

import io
import json
import os
from typing import Any

import numpy as np
from absl import logging
from tfx.dsl.components.base import base_executor
from tfx.types import artifact, artifact_utils

from tfx_edge.components import artifacts, io_utils, specs
from tfx_edge.components.core import calibration, examples, holdout, saved_model
from tfx_edge.schemas.quantization import Mode, QuantizationConfig


class Executor(base_executor.BaseExecutor):
    """Writes plan.json (+ calibration.npz, + QAT SavedModel) into the plan artifact."""

    def Do(self, input_dict: dict[str, list[artifact.Artifact]],
           output_dict: dict[str, list[artifact.Artifact]],
           exec_properties: dict[str, Any]) -> None:
        config = QuantizationConfig.from_json(exec_properties[specs.CONFIG_KEY])
        model = artifact_utils.get_single_instance(input_dict[specs.MODEL_KEY])
        plan_artifact = artifact_utils.get_single_instance(output_dict[specs.PLAN_KEY])
        source = io_utils.serving_dir(model)
        tensors = saved_model.signature_inputs(source, config.signature_key)
        examples_artifact = _single_or_none(input_dict.get(specs.EXAMPLES_KEY))

        plan: dict[str, Any] = {
            "config": json.loads(config.to_json()),
            "source_model": source,
            "signature_key": config.signature_key,
            "inputs": [{"name": t.name, "dtype": t.dtype, "shape": list(t.shape)} for t in tensors],
            "input_mapping": dict(config.input_mapping),
            "calibration": None,
            "qat": None,
        }
        if config.mode == Mode.AUTO:
            from tfx_edge.components.quantizer import auto  # pylint: disable=g-import-not-at-top
            plan.update(auto.search(config, source, tensors, examples_artifact, plan_artifact.uri))
            io_utils.write_json(os.path.join(plan_artifact.uri, artifacts.PLAN_FILE), plan)
            plan_artifact.set_string_custom_property(artifacts.MODE_KEY, plan["config"]["mode"])
            return
        if config.needs_calibration:
            plan["calibration"], plan["input_mapping"], _ = calibrate(
                config, tensors, examples_artifact, plan_artifact.uri)
        if config.mode == Mode.QAT:
            from tfx_edge.components.core import qat  # pylint: disable=g-import-not-at-top  (imports tfmot)
            plan["qat"], plan["input_mapping"] = qat.fine_tune(
                source, config, tensors, io_utils.split_uri(examples_artifact, config.qat.split, "qat.split"),
                os.path.join(plan_artifact.uri, artifacts.QAT_MODEL_DIR))
        io_utils.write_json(os.path.join(plan_artifact.uri, artifacts.PLAN_FILE), plan)
        plan_artifact.set_string_custom_property(artifacts.MODE_KEY, config.mode.value)


def _single_or_none(items):
    return artifact_utils.get_single_instance(items) if items else None


def calibrate(config: QuantizationConfig, tensors, examples_artifact, out_dir: str,
              exclude: frozenset[str] = frozenset()):
    """Samples calibration data into out_dir; records whose sha256 is in `exclude` are skipped.
    Returns (record, input mapping, arrays)."""
    cal = config.calibration
    files = examples.split_files(io_utils.split_uri(examples_artifact, cal.split, "calibration.split"))
    records, seen = calibration.reservoir_sample(
        holdout.without(examples.iter_records(files), exclude), cal.num_samples, cal.seed)
    arrays, mapping = examples.model_inputs(records, tensors, config.input_mapping)
    buffer = io.BytesIO()
    np.savez(buffer, **arrays)
    io_utils.write_bytes(os.path.join(out_dir, artifacts.CALIBRATION_FILE), buffer.getvalue())
    logging.info("Calibration: %d of %d examples from split %r (seed %d).",
                 len(records), seen, cal.split, cal.seed)
    record = {"split": cal.split, "seed": cal.seed, "requested": cal.num_samples,
              "used": len(records), "examples_seen": seen, "files": files,
              "sha256": calibration.digest(arrays), "file": artifacts.CALIBRATION_FILE,
              "excluded_examples": len(exclude)}
    return record, mapping, arrays

