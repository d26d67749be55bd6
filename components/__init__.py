"""tfx-edge components: Quantizer -> TFLiteExporter -> EdgeEvaluator (-> stock Pusher).

The names below load TFX, TensorFlow and Beam only when first used (PEP 562), so
`tfx_edge.components.core` (the pure logic) imports on its own.
"""

from __future__ import annotations

import importlib
from typing import Any

_LAZY = {
    "EdgeEvaluation": "tfx_edge.components.artifacts",
    "QuantizationPlan": "tfx_edge.components.artifacts",
    "EdgeEvaluator": "tfx_edge.components.edge_evaluator.component",
    "Quantizer": "tfx_edge.components.quantizer.component",
    "TFLiteExporter": "tfx_edge.components.tflite_exporter.component",
}

__all__ = sorted(_LAZY)


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'tfx_edge.components' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(__all__)
