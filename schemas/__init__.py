"""Typed, validated configurations of the tfx-edge components."""

from schemas._strict import ConfigError
from schemas.evaluation import EvaluationConfig, Thresholds
from schemas.quantization import (AEQ_PRESETS, AeqConfig, CalibrationConfig, Mode,
                                  QatConfig, QuantizationConfig)

__all__ = [
    "AEQ_PRESETS", "AeqConfig", "CalibrationConfig", "ConfigError", "EvaluationConfig",
    "Mode", "QatConfig", "QuantizationConfig", "Thresholds",
]
