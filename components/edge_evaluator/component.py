"""EdgeEvaluator: gates the Pusher on the accuracy lost to quantization.

Inputs:  examples (Examples), model (Model: the quantized TFLite from the
         TFLiteExporter), float_model (Model: its float32 reference TFLite),
         float_blessing (ModelBlessing, optional: the stock Evaluator's verdict
         on the float model; NOT_BLESSED there means NOT_BLESSED here),
         saved_model (Model, optional: the Trainer's float SavedModel, needed
         by config.compare_saved_model).
Outputs: blessing (ModelBlessing: int property `blessed` and a BLESSED /
         NOT_BLESSED file, what the stock Pusher reads), evaluation
         (tfxedge.EdgeEvaluation: metrics.json, report.txt, report.html).
Param:   config (schemas.EvaluationConfig), validated here at construction.
"""

from __future__ import annotations

from typing import Any, Mapping

from tfx import types
from tfx.dsl.components.base import base_beam_component, executor_spec
from tfx.types import component_spec, standard_artifacts

from components.artifacts import EdgeEvaluation
from components.edge_evaluator import executor
from schemas.evaluation import EvaluationConfig

EXAMPLES_KEY = "examples"
MODEL_KEY = "model"
FLOAT_MODEL_KEY = "float_model"
FLOAT_BLESSING_KEY = "float_blessing"
SAVED_MODEL_KEY = "saved_model"
BLESSING_KEY = "blessing"
EVALUATION_KEY = "evaluation"
CONFIG_KEY = "config"


class EdgeEvaluatorSpec(component_spec.ComponentSpec):
    PARAMETERS = {CONFIG_KEY: component_spec.ExecutionParameter(type=str)}
    INPUTS = {
        EXAMPLES_KEY: component_spec.ChannelParameter(type=standard_artifacts.Examples),
        MODEL_KEY: component_spec.ChannelParameter(type=standard_artifacts.Model),
        FLOAT_MODEL_KEY: component_spec.ChannelParameter(type=standard_artifacts.Model),
        FLOAT_BLESSING_KEY: component_spec.ChannelParameter(
            type=standard_artifacts.ModelBlessing, optional=True),
        SAVED_MODEL_KEY: component_spec.ChannelParameter(type=standard_artifacts.Model, optional=True),
    }
    OUTPUTS = {
        BLESSING_KEY: component_spec.ChannelParameter(type=standard_artifacts.ModelBlessing),
        EVALUATION_KEY: component_spec.ChannelParameter(type=EdgeEvaluation),
    }


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
