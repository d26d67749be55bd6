"""Typed, validated configurations of the tfx-edge components."""

from tfx_edge.schemas._strict import ConfigError
from tfx_edge.schemas.evaluation import (Average, Binarize, Budgets, EvaluationConfig, Guards, Kernel, LatencyConfig,
                                         MetricThreshold, OutputConfig, OutputKind, SliceThreshold, Target, Task,
                                         Thresholds)
from tfx_edge.schemas.export import ExportConfig
from tfx_edge.schemas.quantization import (AEQ_PRESETS, AeqConfig, AutoConfig, CalibrationConfig, Mode,
                                           Placement, QatConfig, QuantizationConfig)

__all__ = [
    "AEQ_PRESETS", "AeqConfig", "AutoConfig", "Average", "Binarize", "Budgets", "CalibrationConfig", "ConfigError",
    "EvaluationConfig", "ExportConfig", "Guards", "Kernel", "LatencyConfig", "MetricThreshold", "Mode",
    "OutputConfig", "OutputKind",
    "Placement", "QatConfig", "QuantizationConfig", "SliceThreshold", "Target", "Task", "Thresholds",
]
