"""Quantizer: decides and prepares quantization of the Trainer's model.

Inputs:  model (Model, the Trainer's SavedModel), examples (Examples; needed for
         calibration and QAT).
Output:  plan (tfx_edge.QuantizationPlan): plan.json, calibration.npz, and for
         mode='qat' the fine-tuned SavedModel.
Param:   config (schemas.QuantizationConfig), validated here at construction.
"""

from __future__ import annotations

from typing import Any, Mapping

from tfx import types
from tfx.dsl.components.base import base_component, executor_spec

from tfx_edge.components.artifacts import QuantizationPlan
from tfx_edge.components.quantizer import executor
from tfx_edge.components.specs import QuantizerSpec
from tfx_edge.schemas.quantization import Mode, QuantizationConfig


class Quantizer(base_component.BaseComponent):
    """Plans post-training quantization, QAT or an ai-edge-quantizer recipe."""

    SPEC_CLASS = QuantizerSpec
    EXECUTOR_SPEC = executor_spec.ExecutorClassSpec(executor.Executor)

    def __init__(self, model: types.BaseChannel,
                 config: QuantizationConfig | Mapping[str, Any],
                 examples: types.BaseChannel | None = None, schema: types.BaseChannel | None = None,
                 statistics: types.BaseChannel | None = None):
        """schema / statistics: SchemaGen's / StatisticsGen's outputs; with them, placement 'embedded'
        feeds a VarLen feature that the schema declares, or the statistics of every split show, with
        at most one value per example as a dense [batch, 1] input (components/core/single_valued.py:
        what the app feeds for a missing value)."""
        config = QuantizationConfig.coerce(config)
        needs_examples = config.needs_calibration or config.mode == Mode.QAT
        if needs_examples and examples is None:
            raise ValueError(
                f"examples=None is invalid for mode={config.mode.value!r}: calibration/QAT "
                f"reads the pipeline's Examples; pass examples=example_gen.outputs['examples']")
        super().__init__(spec=QuantizerSpec(
            model=model, examples=examples, schema=schema, statistics=statistics, config=config.to_json(),
            plan=types.Channel(type=QuantizationPlan)))
