"""Reading and writing the records the gate trusts (schemas/records.py) as artifact files.

One writer (`write_record`) and one reader per record; the readers also verify what a record
points at: the plan's source model, derived model, calibration data, parity sample and QAT model
(by their recorded sha256), and, for the EdgeEvaluator, that the candidate and the reference it
was given are the two files the export report recorded. A mismatch names what was wired wrong.
"""

from __future__ import annotations

import io
import json
import os
from typing import Any, Mapping, TypeVar

import numpy as np
import tensorflow as tf

from tfx_edge.components import artifacts, io_utils
from tfx_edge.components.core import auto_eval, calibration, derive, examples
from tfx_edge.schemas import _strict, records

R = TypeVar("R", bound=records.Record)
C = TypeVar("C")

RERUN_QUANTIZER = "connect the Quantizer's outputs['plan'] (or re-run the Quantizer with this tfx-edge)"
RERUN_EXPORTER = "connect the TFLiteExporter's outputs['tflite_model'] (or re-run it with this tfx-edge)"


def write_record(path: str, record: records.Record) -> None:
    io_utils.write_bytes(path, record.to_json().encode())


def read_record(cls: type[R], path: str, what: str, fix: str) -> R:
    """A record file: missing, unreadable or not a valid record of `cls` is a RecordError."""
    if not tf.io.gfile.exists(path):
        raise records.RecordError(f"{what} {path!r} is missing; {fix}")
    return cls.from_json(io_utils.read_bytes(path), f"{what} {path!r}", fix)


def config_property(cls: type[C], exec_properties: Mapping[str, Any], component: str) -> C:
    """An executor's `config` parameter (JSON of a config dataclass), strictly parsed."""
    from tfx_edge.components import specs  # pylint: disable=g-import-not-at-top
    text = exec_properties.get(specs.CONFIG_KEY)
    fix = f"give {component}(config=...) a {cls.__name__} instance or a dict (the component serializes it)"
    if not isinstance(text, str):
        raise _strict.ConfigError(f"{component} parameter {specs.CONFIG_KEY}={text!r} is not a JSON string; {fix}")
    try:
        data = json.loads(text)
    except ValueError as error:
        raise _strict.ConfigError(f"{component} parameter {specs.CONFIG_KEY}={text[:80]!r} is not JSON "
                                  f"({error}); {fix}") from error
    return cls.from_dict(data)  # type: ignore[attr-defined]


# ---- the plan ------------------------------------------------------------------------------

def read_plan(plan_uri: str) -> tuple[records.QuantizationPlanRecord, str]:
    """plan.json and the sha256 of its bytes (the export report records it)."""
    path = os.path.join(plan_uri, artifacts.PLAN_FILE)
    if not tf.io.gfile.exists(path):
        raise records.RecordError(f"plan {path!r} is missing; {RERUN_QUANTIZER}")
    data = io_utils.read_bytes(path)
    return records.QuantizationPlanRecord.from_json(data, f"plan {path!r}", RERUN_QUANTIZER), records.sha256(data)


def check_source(plan_uri: str, plan: records.QuantizationPlanRecord, model_dir: str) -> None:
    """The plan must have been made for the model being exported (same path, same bytes)."""
    fix = ("give the Quantizer and the TFLiteExporter the same model channel (trainer.outputs['model'])")
    if plan.source_model != model_dir:
        raise ValueError(f"plan {plan_uri!r} was made for the model at {plan.source_model!r}, not the "
                         f"TFLiteExporter's model at {model_dir!r}: {fix}")
    if auto_eval.fingerprint(model_dir) != plan.source_sha256:
        raise ValueError(f"the model at {model_dir!r} is not the one plan {plan_uri!r} was made for (its files' "
                         f"sha256 differ from the plan's source_sha256: the model changed after the Quantizer "
                         f"ran); re-run the Quantizer on it, and {fix}")


def load_calibration(plan_uri: str, plan: records.QuantizationPlanRecord) -> dict[str, np.ndarray] | None:
    """The calibration arrays the plan records (None when it records none); a recorded file that
    is missing, unreadable or not the recorded data (sha256) is an error."""
    record = plan.calibration
    if record is None:
        return None
    path = os.path.join(plan_uri, record.file)
    if not tf.io.gfile.exists(path):
        raise FileNotFoundError(f"calibration data {path!r} recorded in the plan is missing; {RERUN_QUANTIZER}")
    try:
        with np.load(io.BytesIO(io_utils.read_bytes(path))) as data:
            arrays = {k: data[k] for k in sorted(data.files)}
    except Exception as error:  # zipfile.BadZipFile, ValueError, OSError, pickle refusals...
        raise ValueError(f"calibration data {path!r} is unreadable ({type(error).__name__}: {error}); "
                         f"{RERUN_QUANTIZER}") from error
    if calibration.digest(arrays) != record.sha256:
        raise ValueError(f"calibration data {path!r} is not what the plan recorded (sha256 differs); "
                         f"{RERUN_QUANTIZER}")
    return arrays


def derived_model(plan_uri: str, plan: records.QuantizationPlanRecord) -> tuple[str, derive.Derived]:
    """The plan's derived SavedModel directory (verified against its fingerprint) and what it takes."""
    path = os.path.join(plan_uri, plan.derived_model)
    if not tf.io.gfile.exists(os.path.join(path, "saved_model.pb")):
        raise FileNotFoundError(f"the plan's derived model {path!r} is missing; re-run the Quantizer")
    if auto_eval.fingerprint(path) != plan.derived_sha256:
        raise ValueError(f"the plan's derived model {path!r} is not what the Quantizer wrote (its files' sha256 "
                         f"differ from the plan's derived_sha256); re-run the Quantizer")
    return path, derive.Derived.from_record(plan.derivation)


def qat_model(plan_uri: str, plan: records.QuantizationPlanRecord) -> str | None:
    """The QAT fine-tuned SavedModel the plan records, verified against its fingerprint."""
    if plan.qat is None:
        return None
    path = os.path.join(plan_uri, artifacts.QAT_MODEL_DIR)
    if not tf.io.gfile.exists(path) or auto_eval.fingerprint(path) != plan.qat.model_sha256:
        raise ValueError(f"the plan's QAT model {path!r} is missing or not what the Quantizer wrote "
                         f"(sha256 differs from qat.model_sha256); re-run the Quantizer")
    return path


def parity_records(plan_uri: str, plan: records.QuantizationPlanRecord) -> list[bytes] | None:
    """The serialized examples of the plan's parity sample, or None when the plan recorded none
    (then the exporter probes). A recorded sample that is missing, unreadable, short or not the
    recorded bytes fails: the parity check is never weakened without a word."""
    sample = plan.parity
    if sample is None:
        return None
    path = os.path.join(plan_uri, sample.file)
    what = f"parity sample {path!r} (recorded in the plan: {sample.examples} examples)"
    if not tf.io.gfile.exists(path):
        raise FileNotFoundError(f"{what} is missing; {RERUN_QUANTIZER}")
    if records.sha256(io_utils.read_bytes(path)) != sample.sha256:
        raise ValueError(f"{what} is not what the Quantizer wrote (sha256 differs); {RERUN_QUANTIZER}")
    found = list(examples.iter_records([path]))
    if len(found) != sample.examples or not found:
        raise ValueError(f"{what} holds {len(found)} examples; {RERUN_QUANTIZER}")
    return found


# ---- the export report ---------------------------------------------------------------------

def read_export_report(model_uri: str) -> tuple[records.ExportReport, str]:
    """export_report.json beside the TFLite model, and the sha256 of its bytes."""
    path = os.path.join(model_uri, artifacts.EXPORT_REPORT_FILE)
    what = "the TFLiteExporter's report"
    if not tf.io.gfile.exists(path):
        raise records.RecordError(f"{what} {path!r} is missing; {RERUN_EXPORTER}")
    data = io_utils.read_bytes(path)
    return records.ExportReport.from_json(data, f"{what} {path!r}", RERUN_EXPORTER), records.sha256(data)


class WiringError(ValueError):
    """The EdgeEvaluator was given models that are not the export's pair."""


def check_custody(report: records.ExportReport, report_path: str, quantized: bytes, quantized_path: str,
                  reference: bytes, reference_path: str) -> None:
    """The candidate and the reference must be the bytes the export report recorded: both from
    the TFLiteExporter run that wrote the report beside the candidate."""
    wire = ("wire EdgeEvaluator(model=exporter.outputs['tflite_model'], float_model="
            "exporter.outputs['float_model']) from one TFLiteExporter")
    got_q, got_f = records.sha256(quantized), records.sha256(reference)
    if got_q != report.quantized.sha256:
        also = " (it is the float32 reference of that export)" if got_q == report.float_model.sha256 else ""
        raise WiringError(f"model: {quantized_path} ({len(quantized)} bytes, sha256 {got_q[:12]}) is not the "
                          f"quantized model that {report_path} recorded (sha256 {report.quantized.sha256[:12]})"
                          f"{also}; {wire}")
    if got_f != report.float_model.sha256:
        raise WiringError(f"float_model: {reference_path} ({len(reference)} bytes, sha256 {got_f[:12]}) is not the "
                          f"float32 reference that {report_path} recorded (sha256 "
                          f"{report.float_model.sha256[:12]}): it comes from another TFLiteExporter run; {wire}")
