"""One entry point over every technique: returns quantized TFLite bytes (+ layer report).

The technique of a mode is its registry entry's (schemas/modes.py)."""

from __future__ import annotations

import dataclasses
import typing
from typing import Mapping

import numpy as np

from tfx_edge.components.core import convert
from tfx_edge.schemas.modes import MODES, Technique
from tfx_edge.schemas.quantization import QuantizationConfig


@dataclasses.dataclass
class Result:
    model: bytes
    layer_report_csv: str | None = None
    aeq_recipe: list | None = None      # the ai-edge-quantizer recipe actually applied


def quantize(source_dir: str, config: QuantizationConfig,
             calibration: Mapping[str, np.ndarray] | None, float_model: bytes,
             qat_dir: str | None = None) -> Result:
    """Applies the config's technique to the SavedModel at source_dir (QAT: qat_dir)."""
    technique = MODES[config.mode].technique
    if technique == Technique.AEQ:
        from tfx_edge.components.core import aeq  # pylint: disable=g-import-not-at-top
        model, recipe = aeq.quantize_with_recipe(float_model, config, calibration)
        return Result(model, aeq_recipe=recipe)
    if technique == Technique.QAT:
        if not qat_dir:
            raise convert.ConversionError(f"mode={config.mode.value!r} but the plan holds no fine-tuned model")
        return Result(convert.convert(qat_dir, config, calibration))
    if technique == Technique.SEARCH:
        raise convert.ConversionError(f"mode={config.mode.value!r} is resolved by the Quantizer's search; "
                                      f"quantize the chosen candidate's config")
    if config.keep_float_ops or config.keep_float_nodes or config.wants_layer_report:
        from tfx_edge.components.core import debugger  # pylint: disable=g-import-not-at-top
        arrays = typing.cast(Mapping[str, np.ndarray], calibration)   # the debugger's modes are calibrated
        return Result(*debugger.quantize_with_debugger(source_dir, config, arrays, float_model))
    return Result(convert.convert(source_dir, config, calibration))
