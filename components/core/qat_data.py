"""The Examples side of QAT: decode a split's records into (inputs, labels) batches and a
tf.data pipeline of unbatched (x, y) examples for Keras `fit`."""

from __future__ import annotations

from typing import Iterator, Sequence

import numpy as np
import tensorflow as tf

from tfx_edge.components.core import examples, input_mapping
from tfx_edge.components.core.input_mapping import TensorSpec
from tfx_edge.schemas.quantization import QuantizationConfig

_CHUNK = 512           # records decoded at a time
_SHUFFLE_BUFFER = 2048  # examples


def batches(files: Sequence[str], tensors: Sequence[TensorSpec], config: QuantizationConfig,
             label_feature: str, limit: int | None = None
             ) -> Iterator[tuple[dict[str, str], dict[str, np.ndarray], np.ndarray]]:
    """(mapping, {tensor: array}, labels) per chunk of records, in file order."""
    decoder = examples.Decoder()
    chunk: list[bytes] = []
    seen = 0
    for record in examples.iter_records(files):
        chunk.append(record)
        seen += 1
        if len(chunk) == _CHUNK or seen == limit:
            yield _decode(decoder, chunk, tensors, config, label_feature)
            chunk = []
        if seen == limit:
            return
    if chunk:
        yield _decode(decoder, chunk, tensors, config, label_feature)


def _decode(decoder, records, tensors, config, label_feature):
    features = decoder.decode(records)
    mapping = input_mapping.resolve(tensors, list(features), config.input_mapping)
    if label_feature not in features:
        raise examples.ExamplesError(
            f"qat.label_feature={label_feature!r} is not a feature of the examples; they have "
            f"{sorted(features)}. Set qat.label_feature")
    labels = features[label_feature]
    if labels.dtype == object:
        raise examples.ExamplesError(
            f"label feature {label_feature!r} is missing in some examples or has a varying "
            f"number of values; QAT needs one label (list) of fixed length per example")
    return mapping, input_mapping.feed(features, tensors, mapping), labels


def dataset(files, tensors, config, keras_inputs, x0, y0, shuffle_seed: int | None = None,
             repeat: bool = False) -> tf.data.Dataset:
    """Unbatched (x, y) examples; x is the one input tensor or a dict by Keras input name."""
    names = [t.name for t in tensors]
    single = len(names) == 1

    def generate():
        for _, x, y in batches(files, tensors, config, config.qat.label_feature):
            yield (x[names[0]] if single else {keras_inputs[n]: x[n] for n in names}), y

    def spec(array):
        return tf.TensorSpec((None,) + array.shape[1:], tf.as_dtype(array.dtype))

    x_spec = spec(x0[names[0]]) if single else {keras_inputs[n]: spec(x0[n]) for n in names}
    dataset = tf.data.Dataset.from_generator(generate, output_signature=(x_spec, spec(y0)))
    dataset = dataset.unbatch()
    if shuffle_seed is not None:
        dataset = dataset.shuffle(_SHUFFLE_BUFFER, seed=shuffle_seed, reshuffle_each_iteration=True)
    if repeat:
        dataset = dataset.repeat()
    return dataset
