"""Quantizer executor: check, sample calibration data / fine-tune, record the plan."""

from __future__ import annotations

import json
import os
from typing import Any

from tfx.dsl.components.base import base_executor
from tfx.types import artifact, artifact_utils

from tfx_edge.components import artifacts, io_utils, specs
from tfx_edge.components.core import derive
from tfx_edge.components.quantizer import sampling
from tfx_edge.schemas.quantization import Mode, QuantizationConfig


class Executor(base_executor.BaseExecutor):
    """Writes plan.json, the derived model (+ calibration.npz, parity sample, QAT SavedModel)."""

    def Do(self, input_dict: dict[str, list[artifact.Artifact]],
           output_dict: dict[str, list[artifact.Artifact]],
           exec_properties: dict[str, Any]) -> None:
        config = QuantizationConfig.from_json(exec_properties[specs.CONFIG_KEY])
        model = artifact_utils.get_single_instance(input_dict[specs.MODEL_KEY])
        plan_artifact = artifact_utils.get_single_instance(output_dict[specs.PLAN_KEY])
        examples_artifact = _single_or_none(input_dict.get(specs.EXAMPLES_KEY))
        io_utils.clean_dir(plan_artifact.uri)
        source = io_utils.serving_dir(model)
        derived_dir = os.path.join(plan_artifact.uri, artifacts.DERIVED_MODEL_DIR)
        derived = derive.derive(source, config.signature_key, derived_dir, config.placement)
        _check_supported(config, derived)
        plan = _plan(config, source, derived)
        if config.mode == Mode.AUTO:
            from tfx_edge.components.quantizer import auto  # pylint: disable=g-import-not-at-top
            plan.update(auto.search(config, source, derived, derived_dir, examples_artifact, plan_artifact.uri))
        else:
            plan.update(_prepare(config, source, derived, derived_dir, examples_artifact, plan_artifact.uri))
        io_utils.write_json(os.path.join(plan_artifact.uri, artifacts.PLAN_FILE), plan)
        plan_artifact.set_string_custom_property(artifacts.MODE_KEY, plan["config"]["mode"])


def _plan(config: QuantizationConfig, source: str, derived: derive.Derived) -> dict[str, Any]:
    derivation = derived.record()
    return {
        artifacts.FORMAT_KEY: artifacts.FORMAT,
        "config": json.loads(config.to_json()),
        "source_model": source,
        "signature_key": config.signature_key,
        "derived_model": artifacts.DERIVED_MODEL_DIR,
        "derivation": derivation,
        "inputs": derivation["inputs"],
        "input_mapping": dict(config.input_mapping),
        "calibration": None,
        "parity": None,
        "qat": None,
    }


def _check_supported(config: QuantizationConfig, derived: derive.Derived) -> None:
    if derived.raw_features and config.mode in (Mode.AUTO, Mode.QAT):
        raise ValueError(f"mode={config.mode.value!r} with placement='transformed' is not supported: the "
                         f"search and QAT read raw examples; use placement='embedded' or another mode")


def _prepare(config: QuantizationConfig, source: str, derived: derive.Derived, derived_dir: str,
             examples_artifact, plan_uri: str) -> dict[str, Any]:
    """Calibration data, the parity sample and, for QAT, the fine-tuned model."""
    out: dict[str, Any] = {}
    records = None
    if config.needs_calibration:
        out["calibration"], out["input_mapping"], _, records = sampling.calibrate(
            config, derived, derived_dir, examples_artifact, plan_uri)
    out["parity"] = sampling.parity_sample(config, examples_artifact, plan_uri, records)
    if config.mode == Mode.QAT:
        from tfx_edge.components.core import qat  # pylint: disable=g-import-not-at-top  (imports tfmot)
        out["qat"], out["input_mapping"] = qat.fine_tune(
            source, config, list(derived.inputs),
            io_utils.split_uri(examples_artifact, config.qat.split, "qat.split"),
            os.path.join(plan_uri, artifacts.QAT_MODEL_DIR))
    return out


def _single_or_none(items):
    return artifact_utils.get_single_instance(items) if items else None
