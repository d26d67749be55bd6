"""Reading a QuantizationPlan artifact's files (written by the Quantizer executor)."""

from __future__ import annotations

import io
import os

import numpy as np
import tensorflow as tf

from tfx_edge.components import artifacts, io_utils
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
