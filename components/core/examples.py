"""Reading a split of a TFX Examples artifact as numpy feature arrays.

File lists are sorted so that every read (calibration sampling, evaluation)
sees records in the same order. Decoding uses tfx-bsl's Example decoder (the
one TFX and TFMA use) into Arrow, then numpy.
"""

from __future__ import annotations

import os
from typing import Iterator, Sequence

import numpy as np
import pyarrow as pa

from tfx_edge.components.core import input_mapping


class ExamplesError(ValueError):
    """A split is missing, empty or holds features we cannot turn into arrays."""


def split_files(split_uri: str) -> list[str]:
    """The sorted record files of one split directory."""
    import tensorflow as tf  # pylint: disable=g-import-not-at-top
    if not tf.io.gfile.isdir(split_uri):
        raise ExamplesError(f"split directory {split_uri!r} does not exist")
    files = sorted(os.path.join(split_uri, f) for f in tf.io.gfile.listdir(split_uri)
                   if not f.startswith("."))
    if not files:
        raise ExamplesError(f"split directory {split_uri!r} holds no record files")
    return files


def compression_of(files: Sequence[str]) -> str:
    kinds = {"GZIP" if f.endswith(".gz") else "" for f in files}
    if len(kinds) != 1:
        raise ExamplesError(f"mixed compressed and plain record files: {list(files)}")
    return kinds.pop()


def iter_records(files: Sequence[str]) -> Iterator[bytes]:
    """Serialized examples of the files, in file order."""
    import tensorflow as tf  # pylint: disable=g-import-not-at-top
    dataset = tf.data.TFRecordDataset(list(files), compression_type=compression_of(files))
    for batch in dataset.batch(1024).as_numpy_iterator():   # per-element iteration is ~50x slower
        yield from batch


def read_batches(path: str, shard: int, num_shards: int, batch_size: int) -> Iterator[list[bytes]]:
    """Lists of serialized examples from one file, every num_shards-th record from `shard`
    (tf.data reads in C++; a file is never loaded whole)."""
    import tensorflow as tf  # pylint: disable=g-import-not-at-top
    dataset = tf.data.TFRecordDataset(path, compression_type=compression_of([path]))
    if num_shards > 1:
        dataset = dataset.shard(num_shards, shard)
    for batch in dataset.batch(batch_size).as_numpy_iterator():
        yield list(batch)


class Decoder:
    """Serialized tf.Examples -> {feature: np.ndarray [batch, values...]}."""

    def __init__(self) -> None:
        from tfx_bsl.coders import example_coder  # pylint: disable=g-import-not-at-top
        self._decoder = example_coder.ExamplesToRecordBatchDecoder()

    def decode(self, serialized: Sequence[bytes]) -> dict[str, np.ndarray]:
        batch = self._decoder.DecodeBatch(list(serialized))
        return {name: _column_to_numpy(name, batch.column(i))
                for i, name in enumerate(batch.schema.names)}


def _column_to_numpy(name: str, column: pa.Array) -> np.ndarray:
    """A list column with the same length in every row -> [rows, length] array.

    Columns that are missing in some rows or vary in length are returned as
    object arrays; they only fail if a model input actually needs them.
    """
    if column.null_count or not (pa.types.is_list(column.type) or pa.types.is_large_list(column.type)):
        return _ragged(column)
    offsets = np.asarray(column.offsets)
    lengths = np.diff(offsets)
    if len(lengths) and np.all(lengths == lengths[0]):
        values = column.flatten().to_numpy(zero_copy_only=False)
        return values.reshape(len(lengths), int(lengths[0]))
    return _ragged(column)


def _ragged(column: pa.Array) -> np.ndarray:
    rows = column.to_pylist()
    out = np.empty(len(rows), dtype=object)
    out[:] = rows
    return out


def model_inputs(records: Sequence[bytes], tensors, explicit=None):
    """Decodes records and feeds every model input tensor from its mapped feature.

    Returns ({tensor name: array}, {tensor name: feature name}). Arrays keep the
    tensor's dtype (float, int64, bool...); float arrays are not yet quantized
    (the converter and LiteRT runner take care of that).
    """
    if not records:
        raise ExamplesError("no examples to read: the split is empty")
    features = Decoder().decode(records)
    mapping = input_mapping.resolve(tensors, list(features), explicit)
    plain = [input_mapping.TensorSpec(t.name, "float32" if t.quantized else t.dtype, t.shape) for t in tensors]
    return input_mapping.feed(features, plain, mapping), mapping
