"""Test helpers: build artifacts in tmp dirs and run each executor on them as TFX would."""

from __future__ import annotations

import os


def make_artifact(cls, uri: str):
    artifact = cls()
    artifact.uri = uri
    os.makedirs(uri, exist_ok=True)
    return artifact


def write_export_report(model_uri: str, **fields) -> None:
    """The minimal export_report.json a TFLiteExporter writes, for TFLite models built in a test."""
    import json
    from tfx_edge.components import artifacts
    report = {artifacts.FORMAT_KEY: artifacts.FORMAT, "mode": "float32", "signature_key": "serving_default",
              "input_mapping": {}, "auto": None, **fields}
    with open(os.path.join(model_uri, artifacts.EXPORT_REPORT_FILE), "w") as f:
        json.dump(report, f)


def run_quantizer(config, model, examples, out_uri):
    from tfx_edge.components import specs
    from tfx_edge.components.artifacts import QuantizationPlan
    from tfx_edge.components.quantizer import executor
    plan = make_artifact(QuantizationPlan, out_uri)
    executor.Executor().Do({specs.MODEL_KEY: [model], specs.EXAMPLES_KEY: [examples] if examples else []},
                           {specs.PLAN_KEY: [plan]}, {specs.CONFIG_KEY: config.to_json()})
    return plan


def run_exporter(model, plan, out_root):
    from tfx.types import standard_artifacts
    from tfx_edge.components import specs
    from tfx_edge.components.tflite_exporter import executor
    tflite = make_artifact(standard_artifacts.Model, os.path.join(out_root, "tflite_model"))
    float_model = make_artifact(standard_artifacts.Model, os.path.join(out_root, "float_model"))
    executor.Executor().Do({specs.MODEL_KEY: [model], specs.PLAN_KEY: [plan]},
                           {specs.TFLITE_MODEL_KEY: [tflite], specs.FLOAT_MODEL_KEY: [float_model]}, {})
    return tflite, float_model


def run_edge_evaluator(config, examples, tflite, float_model, out_root, float_blessing=None,
                       saved_model=None):
    from tfx.types import standard_artifacts
    from tfx_edge.components import specs
    from tfx_edge.components.artifacts import EdgeEvaluation
    from tfx_edge.components.edge_evaluator import executor
    blessing = make_artifact(standard_artifacts.ModelBlessing, os.path.join(out_root, "blessing"))
    evaluation = make_artifact(EdgeEvaluation, os.path.join(out_root, "evaluation"))
    inputs = {specs.EXAMPLES_KEY: [examples], specs.MODEL_KEY: [tflite], specs.FLOAT_MODEL_KEY: [float_model]}
    if float_blessing is not None:
        inputs[specs.FLOAT_BLESSING_KEY] = [float_blessing]
    if saved_model is not None:
        inputs[specs.SAVED_MODEL_KEY] = [saved_model]
    executor.Executor().Do(inputs, {specs.BLESSING_KEY: [blessing], specs.EVALUATION_KEY: [evaluation]},
                           {specs.CONFIG_KEY: config.to_json()})
    return blessing, evaluation
