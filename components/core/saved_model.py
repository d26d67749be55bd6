"""What a SavedModel signature takes, as TensorSpecs (no TFX)."""

from __future__ import annotations

import tensorflow as tf

from components.core.input_mapping import TensorSpec


def signature_inputs(saved_model_dir: str, key: str) -> list[TensorSpec]:
    loaded = tf.saved_model.load(saved_model_dir)
    if key not in loaded.signatures:
        raise ValueError(f"signature_key={key!r} is not in the SavedModel at {saved_model_dir}; "
                         f"it has {sorted(loaded.signatures)}")
    _, kwargs = loaded.signatures[key].structured_input_signature
    specs = []
    for name, spec in sorted(kwargs.items()):
        if spec.dtype == tf.string:
            raise ValueError(
                f"signature {key!r} input {name!r} takes strings (serialized Examples?); TFLite "
                f"needs a dense numeric signature: export one (see pipelines/digits_model.py)")
        shape = tuple(-1 if d is None else int(d) for d in spec.shape.as_list())
        specs.append(TensorSpec(name=name, dtype=spec.dtype.name, shape=shape))
    return specs
