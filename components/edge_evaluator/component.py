"""EdgeEvaluator: gates the Pusher on the accuracy lost to quantization.

Inputs:  examples (Examples), model (Model: the quantized TFLite from the
         TFLiteExporter), float_model (Model: its float32 reference TFLite),
         float_blessing (ModelBlessing, optional: the stock Evaluator's verdict
         on the float model; NOT_BLESSED there means NOT_BLESSED here),
         saved_model (Model, optional: the Trainer's float SavedModel, needed
         by config.compare_saved_model).
Outputs: blessing (ModelBlessing: int property `blessed` and a BLESSED /
         NOT_BLESSED file, what the stock Pusher reads), evaluation
         (tfx_edge.EdgeEvaluation: metrics.json, report.txt, report.html).
Param:   config (schemas.EvaluationConfig), validated here at construction.
"""

from __future__ import annotations

from typing import Any, Mapping

from tfx import types
from tfx.dsl.components.base import base_beam_component, executor_spec
from tfx.types import standard_artifacts

from tfx_edge.components.artifacts import EdgeEvaluation
from tfx_edge.components.edge_evaluator import executor
from tfx_edge.components.specs import EdgeEvaluatorSpec
from tfx_edge.schemas.evaluation import EvaluationConfig


class EdgeEvaluator(base_beam_component.BaseBeamComponent):
    """Runs quantized and float TFLite over the eval split (Beam) and blesses or not."""

    SPEC_CLASS = EdgeEvaluatorSpec
    EXECUTOR_SPEC = executor_spec.BeamExecutorSpec(executor.Executor)

    def __init__(self, examples: types.BaseChannel, model: types.BaseChannel,
                 float_model: types.BaseChannel, config: EvaluationConfig | Mapping[str, Any],
                 float_blessing: types.BaseChannel | None = None,
                 saved_model: types.BaseChannel | None = None):
        config = EvaluationConfig.coerce(config)
        if config.compare_saved_model and saved_model is None:
            raise ValueError("config.compare_saved_model=True needs saved_model=trainer.outputs['model']")
        super().__init__(spec=EdgeEvaluatorSpec(
            examples=examples, model=model, float_model=float_model, float_blessing=float_blessing,
            saved_model=saved_model, config=config.to_json(),
            blessing=types.Channel(type=standard_artifacts.ModelBlessing),
            evaluation=types.Channel(type=EdgeEvaluation)))
