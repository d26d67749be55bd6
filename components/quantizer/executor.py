"""Quantizer executor: check, sample calibration data / fine-tune, record the plan."""

from __future__ import annotations

import dataclasses
import os
from typing import Any

from absl import logging

from tfx.dsl.components.base import base_executor
from tfx.types import artifact, artifact_utils

from tfx_edge.components import artifacts, io_utils, record_files, specs
from tfx_edge.components.core import auto_eval, derive
from tfx_edge.components.quantizer import sampling, schema_facts
from tfx_edge.schemas import _strict, records
from tfx_edge.schemas.modes import MODES
from tfx_edge.schemas.quantization import Mode, Placement, QuantizationConfig


class Executor(base_executor.BaseExecutor):
    """Writes plan.json, the derived model (+ calibration.npz, parity sample, QAT SavedModel)."""

    def Do(self, input_dict: dict[str, list[artifact.Artifact]],
           output_dict: dict[str, list[artifact.Artifact]],
           exec_properties: dict[str, Any]) -> None:
        config = record_files.config_property(QuantizationConfig, exec_properties, "Quantizer")
        model = artifact_utils.get_single_instance(input_dict[specs.MODEL_KEY])
        plan_artifact = artifact_utils.get_single_instance(output_dict[specs.PLAN_KEY])
        examples_artifact = _single_or_none(input_dict.get(specs.EXAMPLES_KEY))
        io_utils.clean_dir(plan_artifact.uri)
        source = io_utils.serving_dir(model)
        derived_dir = os.path.join(plan_artifact.uri, artifacts.DERIVED_MODEL_DIR)
        probe = sampling.probe_records(config, examples_artifact) if config.placement == Placement.TRANSFORMED else None
        single = schema_facts.single_valued(_single_or_none(input_dict.get(specs.SCHEMA_KEY)),
                                            _single_or_none(input_dict.get(specs.STATISTICS_KEY)))
        derived = derive.derive(source, config.signature_key, derived_dir, config.placement, probe, single)
        _check_supported(config, derived)
        config = _sparse_in_float(config, derived)
        if config.mode == Mode.AUTO:
            from tfx_edge.components.quantizer import auto  # pylint: disable=g-import-not-at-top
            parts = auto.search(config, source, derived, derived_dir, examples_artifact, plan_artifact.uri)
        else:
            parts = _prepare(config, source, derived, derived_dir, examples_artifact, plan_artifact.uri)
        plan = _plan(config, source, derived, derived_dir, parts)
        record_files.write_record(os.path.join(plan_artifact.uri, artifacts.PLAN_FILE), plan)
        plan_artifact.set_string_custom_property(artifacts.MODE_KEY, plan.config.mode.value)


def _plan(config: QuantizationConfig, source: str, derived: derive.Derived, derived_dir: str,
          parts: dict[str, Any]) -> records.QuantizationPlanRecord:
    """The plan record: the source and derived models by path and fingerprint, and the parts."""
    fields: dict[str, Any] = {"config": config, "input_mapping": dict(config.input_mapping), **parts}
    return records.QuantizationPlanRecord(
        source_model=source, source_sha256=auto_eval.fingerprint(source),
        derived_model=artifacts.DERIVED_MODEL_DIR, derived_sha256=auto_eval.fingerprint(derived_dir),
        derivation=derived.record(), **fields)


def _check_supported(config: QuantizationConfig, derived: derive.Derived) -> None:
    if derived.raw_features and config.mode in (Mode.AUTO, Mode.QAT):
        raise ValueError(f"mode={config.mode.value!r} with placement='transformed' is not supported: the "
                         f"search and QAT read raw examples; use placement='embedded' or another mode")
    if derived.single_valued and config.mode in (Mode.AUTO, Mode.QAT):
        raise ValueError(f"mode={config.mode.value!r} with VarLen features fed dense ({list(derived.single_valued)}) "
                         f"is not supported yet; choose a mode (int8, dynamic_range, float16, ...)")


# LiteRT's int8 SPARSE_TO_DENSE gives wrong values (measured: outputs off by the output's own scale,
# against 0.04 with it in float), so where VarLen features are fed dense it stays in float.
SPARSE_FLOAT_OPS = ("SPARSE_TO_DENSE",)


def _sparse_in_float(config: QuantizationConfig, derived: derive.Derived) -> QuantizationConfig:
    """The config with SPARSE_FLOAT_OPS kept in float when the derived model densifies VarLen features
    and the mode quantizes activations with a float fallback; recorded in the plan's config."""
    if not derived.single_valued or not MODES[config.mode].float_fallback:
        return config
    ops = tuple(sorted(set(config.keep_float_ops) | set(SPARSE_FLOAT_OPS)))
    logging.info("Quantizer: keeping %s in float (VarLen features %s fed dense)", ops, list(derived.single_valued))
    return dataclasses.replace(config, keep_float_ops=ops)


def _prepare(config: QuantizationConfig, source: str, derived: derive.Derived, derived_dir: str,
             examples_artifact, plan_uri: str) -> dict[str, Any]:
    """Calibration data, the parity sample and, for QAT, the fine-tuned model."""
    out: dict[str, Any] = {}
    records_ = None
    if config.needs_calibration:
        out["calibration"], out["input_mapping"], _, records_ = sampling.calibrate(
            config, derived, derived_dir, examples_artifact, plan_uri)
    out["parity"] = sampling.parity_sample(config, examples_artifact, plan_uri, records_)
    if config.mode == Mode.QAT:
        out["qat"], out["input_mapping"] = fine_tune(source, config, list(derived.inputs), examples_artifact,
                                                     os.path.join(plan_uri, artifacts.QAT_MODEL_DIR))
    return out


def fine_tune(source: str, config: QuantizationConfig, tensors, examples_artifact, out_dir: str):
    """QAT fine-tuning into out_dir: (its record, with the saved model's fingerprint; input mapping)."""
    from tfx_edge.components.core import qat  # pylint: disable=g-import-not-at-top  (imports tfmot)
    record, mapping = qat.fine_tune(source, config, tensors,
                                    io_utils.split_uri(examples_artifact, _strict.need(config.qat, "qat").split,
                                                       "qat.split"), out_dir)
    record = {**record, "model_sha256": auto_eval.fingerprint(out_dir)}
    return _strict.from_dict(records.QatRecord, record), mapping


def _single_or_none(items):
    return artifact_utils.get_single_instance(items) if items else None
