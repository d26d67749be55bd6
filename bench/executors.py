"""Artifacts in plain directories and the Quantizer / TFLiteExporter executors run on them as TFX
would: what the benchmarks (and the tests, through tests/helpers.py) build models with."""

from __future__ import annotations

import os
from typing import Any


def make_artifact(cls: Any, uri: str) -> Any:
    artifact = cls()
    artifact.uri = uri
    os.makedirs(uri, exist_ok=True)
    return artifact


def run_quantizer(config: Any, model: Any, examples: Any, out_uri: str) -> Any:
    from tfx_edge.components import specs
    from tfx_edge.components.artifacts import QuantizationPlan
    from tfx_edge.components.quantizer import executor
    plan = make_artifact(QuantizationPlan, out_uri)
    executor.Executor().Do({specs.MODEL_KEY: [model], specs.EXAMPLES_KEY: [examples] if examples else []},
                           {specs.PLAN_KEY: [plan]}, {specs.CONFIG_KEY: config.to_json()})
    return plan


def run_exporter(model: Any, plan: Any, out_root: str, export: Any = None) -> tuple[Any, Any]:
    from tfx.types import standard_artifacts
    from tfx_edge.components import specs
    from tfx_edge.components.tflite_exporter import executor
    tflite = make_artifact(standard_artifacts.Model, os.path.join(out_root, "tflite_model"))
    float_model = make_artifact(standard_artifacts.Model, os.path.join(out_root, "float_model"))
    properties = {specs.CONFIG_KEY: export.to_json()} if export is not None else {}
    executor.Executor().Do({specs.MODEL_KEY: [model], specs.PLAN_KEY: [plan]},
                           {specs.TFLITE_MODEL_KEY: [tflite], specs.FLOAT_MODEL_KEY: [float_model]}, properties)
    return tflite, float_model
