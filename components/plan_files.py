"""Reading a QuantizationPlan artifact's files (written by the Quantizer executor)."""

from __future__ import annotations

import io
import os

import numpy as np
import tensorflow as tf

from tfx_edge.components import artifacts, io_utils
from tfx_edge.components.core import calibration, derive, examples
from tfx_edge.schemas.quantization import QuantizationConfig


_RERUN = "connect the Quantizer's outputs['plan'] (or re-run the Quantizer with this tfx-edge)"


def read_plan(plan_uri: str) -> tuple[dict, QuantizationConfig]:
    """plan.json: required, readable, of this format, with a valid config."""
    path = os.path.join(plan_uri, artifacts.PLAN_FILE)
    plan = io_utils.read_required_json(path, "plan", _RERUN)
    if not isinstance(plan, dict) or plan.get(artifacts.FORMAT_KEY) != artifacts.FORMAT:
        found = plan.get(artifacts.FORMAT_KEY) if isinstance(plan, dict) else type(plan).__name__
        raise ValueError(f"plan {path!r} has format {found!r}, this TFLiteExporter reads format "
                         f"{artifacts.FORMAT}; {_RERUN}")
    return plan, QuantizationConfig.from_dict(plan["config"])


def check_source(plan_uri: str, plan: dict, model_dir: str) -> None:
    """The plan must have been made for the model being exported."""
    if plan.get("source_model") != model_dir:
        raise ValueError(f"plan {plan_uri!r} was made for the model at {plan.get('source_model')!r}, not the "
                         f"TFLiteExporter's model at {model_dir!r}: give the Quantizer and the TFLiteExporter "
                         f"the same model channel (trainer.outputs['model'])")


def load_calibration(plan_uri: str, plan: dict) -> dict[str, np.ndarray] | None:
    """The calibration arrays the plan records (None when it records none); a recorded file that
    is missing, unreadable or not the recorded data (sha256) is an error."""
    record = plan.get("calibration")
    if not record:
        return None
    path = os.path.join(plan_uri, record["file"])
    if not tf.io.gfile.exists(path):
        raise FileNotFoundError(f"calibration data {path!r} recorded in the plan is missing; {_RERUN}")
    try:
        with np.load(io.BytesIO(io_utils.read_bytes(path))) as data:
            arrays = {k: data[k] for k in sorted(data.files)}
    except (ValueError, OSError) as error:
        raise ValueError(f"calibration data {path!r} is unreadable ({error}); {_RERUN}") from error
    if calibration.digest(arrays) != record["sha256"]:
        raise ValueError(f"calibration data {path!r} is not what the plan recorded (sha256 differs); {_RERUN}")
    return arrays


def derived_model(plan_uri: str, plan: dict) -> tuple[str, derive.Derived]:
    """The plan's derived SavedModel directory and what it takes."""
    if "derived_model" not in plan or "derivation" not in plan:
        raise ValueError(f"plan {os.path.join(plan_uri, artifacts.PLAN_FILE)!r} has no derived model: it was "
                         f"written by an older tfx-edge; re-run the Quantizer")
    path = os.path.join(plan_uri, plan["derived_model"])
    if not tf.io.gfile.exists(os.path.join(path, "saved_model.pb")):
        raise FileNotFoundError(f"the plan's derived model {path!r} is missing; re-run the Quantizer")
    return path, derive.Derived.from_record(plan["derivation"])


def parity_records(plan_uri: str, plan: dict) -> list[bytes] | None:
    """The serialized examples of the plan's parity sample, or None when it has none."""
    if not plan.get("parity"):
        return None
    path = os.path.join(plan_uri, plan["parity"]["file"])
    if not tf.io.gfile.exists(path):
        raise FileNotFoundError(f"parity sample {path!r} recorded in the plan is missing; {_RERUN}")
    return list(examples.iter_records([path]))
