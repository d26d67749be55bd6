"""Reading a QuantizationPlan artifact's files (written by the Quantizer executor)."""

from __future__ import annotations

import io
import os

import numpy as np
import tensorflow as tf

from tfx_edge.components import artifacts, io_utils
from tfx_edge.components.core import derive, examples
from tfx_edge.schemas.quantization import QuantizationConfig


def read_plan(plan_uri: str) -> tuple[dict, QuantizationConfig]:
    path = os.path.join(plan_uri, artifacts.PLAN_FILE)
    if not tf.io.gfile.exists(path):
        raise FileNotFoundError(f"plan {path!r} is missing: was the plan made by the Quantizer?")
    plan = io_utils.read_json(path)
    return plan, QuantizationConfig.from_dict(plan["config"])


def load_calibration(plan_uri: str) -> dict[str, np.ndarray] | None:
    path = os.path.join(plan_uri, artifacts.CALIBRATION_FILE)
    if not tf.io.gfile.exists(path):
        return None
    with np.load(io.BytesIO(io_utils.read_bytes(path))) as data:
        return {k: data[k] for k in sorted(data.files)}


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
    return list(examples.iter_records([os.path.join(plan_uri, plan["parity"]["file"])]))
