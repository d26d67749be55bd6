"""A SavedModel signature's inputs as TensorSpecs, and a batch runner for it (no TFX)."""

from __future__ import annotations

import tensorflow as tf

from tfx_edge.components.core.input_mapping import TensorSpec


def signature_inputs(saved_model_dir: str, key: str) -> list[TensorSpec]:
    return _inputs_of(_signature(tf.saved_model.load(saved_model_dir), saved_model_dir, key), key)


def _signature(loaded, saved_model_dir: str, key: str):
    if key not in loaded.signatures:
        raise ValueError(f"signature_key={key!r} is not in the SavedModel at {saved_model_dir}; "
                         f"it has {sorted(loaded.signatures)}")
    return loaded.signatures[key]


def _inputs_of(signature, key: str) -> list[TensorSpec]:
    _, kwargs = signature.structured_input_signature
    specs = []
    for name, spec in sorted(kwargs.items()):
        if spec.dtype == tf.string:
            raise ValueError(
                f"signature {key!r} input {name!r} takes strings (serialized Examples): run it on the "
                f"Quantizer's derived model (plan/derived_model, components/core/derive.py), which takes "
                f"the parsed features, or choose a dense signature with signature_key")
        shape = tuple(-1 if d is None else int(d) for d in spec.shape.as_list())
        specs.append(TensorSpec(name=name, dtype=spec.dtype.name, shape=shape))
    return specs


class Runner:
    """Runs a SavedModel signature on float batches; the same interface as litert.Runner."""

    def __init__(self, saved_model_dir: str, key: str) -> None:
        self._loaded = tf.saved_model.load(saved_model_dir)   # keeps the signature's variables alive
        self._fn = _signature(self._loaded, saved_model_dir, key)
        self.inputs = _inputs_of(self._fn, key)

    def __call__(self, feeds) -> dict:
        out = self._fn(**{name: tf.constant(value) for name, value in feeds.items()})
        return {name: tensor.numpy() for name, tensor in out.items()}
