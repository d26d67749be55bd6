"""Optional parts of tfx-edge and the extra that installs each: a missing one is an error that
says which `pip install` brings it, at the moment the part is used."""

from __future__ import annotations

import importlib
from types import ModuleType

EXTRAS = {
    "tensorflow_model_optimization": "qat", "tf_keras": "qat",
    "ai_edge_quantizer": "aeq",
    "kfp": "kfp",
    "tflite_micro": "micro",
    "sklearn": "demo", "tensorboard": "demo",
}


def require(module: str, what: str) -> ModuleType:
    """importlib.import_module(module), or an ImportError naming the extra to install."""
    try:
        return importlib.import_module(module)
    except ImportError as error:
        extra = EXTRAS[module.split(".")[0]]
        raise ImportError(f"{what} needs the Python package {module.split('.')[0]!r}, which is not "
                          f"installed: pip install 'tfx-edge[{extra}]'") from error
