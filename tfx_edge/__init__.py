"""tfx-edge: TFX components that quantize a trained model to TFLite and gate the Pusher.

A light package face: importing `tfx_edge` loads neither TFX nor TensorFlow.
The custom artifact types are reachable as `tfx_edge.QuantizationPlan` and
`tfx_edge.EdgeEvaluation`, which is exactly their MLMD type name: Kubeflow V2's
container entry point imports a non-`tfx.*` type name as a Python path.

    from tfx_edge.components import Quantizer, TFLiteExporter, EdgeEvaluator
    from tfx_edge.schemas import QuantizationConfig, EvaluationConfig
"""

from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.2.0"

_LAZY = {
    "QuantizationPlan": "tfx_edge.components.artifacts",
    "EdgeEvaluation": "tfx_edge.components.artifacts",
}

__all__ = ["EdgeEvaluation", "QuantizationPlan", "__version__"]


def __getattr__(name: str) -> Any:  # PEP 562: the artifact types load TFX only when asked for
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'tfx_edge' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(__all__)
