"""TFLiteExporter: converts the Trainer's SavedModel to TFLite as the plan says.

Inputs:  model (Model, the Trainer's SavedModel), plan (tfx_edge.QuantizationPlan).
Outputs: tflite_model (Model): Format-Serving/tflite, the quantized model the stock
         Pusher pushes and stock TFMA (model_type tf_lite) reads, with its LiteRT metadata,
         and beside it app_contract.json and (with config.label_names) labels.txt, pushed
         with it; export_report.json beside Format-Serving;
         float_model (Model): the float32 reference TFLite, same layout.
"""

from __future__ import annotations

from typing import Any, Mapping

from tfx import types
from tfx.dsl.components.base import base_component, executor_spec
from tfx.types import standard_artifacts

from tfx_edge.components.specs import TFLiteExporterSpec
from tfx_edge.components.tflite_exporter import executor
from tfx_edge.schemas.export import ExportConfig


class TFLiteExporter(base_component.BaseComponent):
    """Writes the quantized TFLite and its float32 reference, and checks both."""

    SPEC_CLASS = TFLiteExporterSpec
    EXECUTOR_SPEC = executor_spec.ExecutorClassSpec(executor.Executor)

    def __init__(self, model: types.BaseChannel, plan: types.BaseChannel,
                 config: ExportConfig | Mapping[str, Any] | None = None):
        """config: what the app gets beside the model (class names, description); default none."""
        export = ExportConfig.coerce(config if config is not None else ExportConfig())
        super().__init__(spec=TFLiteExporterSpec(
            model=model, plan=plan, config=export.to_json(),
            tflite_model=types.Channel(type=standard_artifacts.Model),
            float_model=types.Channel(type=standard_artifacts.Model)))
