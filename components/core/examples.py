"""Reading a split of a TFX Examples artifact as numpy feature arrays.

File lists are sorted so that every read (calibration sampling, evaluation)
sees records in the same order. Records are read without TensorFlow (tfrecord.py);
decoding uses tfx-bsl's Example decoder (the one TFX and TFMA use) into Arrow,
then numpy.
"""

from __future__ import annotations

import contextlib
import os
from typing import Iterator, Sequence

import numpy as np
import pyarrow as pa

from tfx_edge.components.core import input_mapping, single_valued, tfrecord


class ExamplesError(ValueError):
    """A split is missing, empty or holds features we cannot turn into arrays."""


def is_record_file(name: str) -> bool:
    """The rule for what in a split directory is data: every file except hidden ('.'-prefixed)
    and marker files ('_'-prefixed, e.g. Beam's and Hadoop's `_SUCCESS`)."""
    return not name.startswith((".", "_"))


def split_files(split_uri: str, what: str = "the split") -> list[str]:
    """The sorted record files of one split directory (see is_record_file; folders are skipped).
    `what` names the config that chose the split, e.g. "calibration.split='train'"."""
    import tensorflow as tf  # pylint: disable=g-import-not-at-top
    if not tf.io.gfile.isdir(split_uri):
        raise ExamplesError(f"{what}: split directory {split_uri!r} does not exist")
    names = tf.io.gfile.listdir(split_uri)
    files = sorted(os.path.join(split_uri, f) for f in names
                   if is_record_file(f) and not f.endswith("/")
                   and not tf.io.gfile.isdir(os.path.join(split_uri, f)))
    if not files:
        skipped = sorted(n for n in names if not is_record_file(n))
        raise ExamplesError(f"{what}: split directory {split_uri!r} holds no record files"
                            + (f" (skipped markers/hidden files: {skipped})" if skipped else "")
                            + "; re-run the ExampleGen that wrote it, or choose a split that has data")
    return files


def compression_of(files: Sequence[str]) -> str:
    kinds = {"GZIP" if f.endswith(".gz") else "" for f in files}
    if len(kinds) != 1:
        raise ExamplesError(f"mixed compressed and plain record files: {list(files)}")
    return kinds.pop()


def iter_records(files: Sequence[str]) -> Iterator[bytes]:
    """Serialized examples of the files, in file order."""
    compression_of(files)
    for path in files:
        for batch in read_batches(path, 0, 1, 1024):   # per-element iteration is ~50x slower
            yield from batch


def read_batches(path: str, shard: int, num_shards: int, batch_size: int) -> Iterator[list[bytes]]:
    """Lists of serialized examples from one file, every num_shards-th record from `shard`
    (read in chunks without TensorFlow, see tfrecord.py; a file is never loaded whole). A corrupt
    file, or one compressed otherwise than its name says, is an error naming the file."""
    compression_of([path])
    with _naming(path):
        yield from tfrecord.read_interleaved(path, shard, num_shards, batch_size)


def read_unit(path: str, unit: tuple, batch_size: int, spans: list | None = None,
              size: int | None = None) -> Iterator[list[bytes]]:
    """Batches of one work unit of a file: ("range", start, end) for the records whose frames
    start in that byte range (plain files; the range's tfrecord.Span is appended to `spans`),
    ("from", offset, end) for the same read from `offset`, a known record boundary, without
    scanning (see tfrecord.resolve), or ("batches", shard, num_shards) for every num_shards-th
    batch (GZIP files). `size`: the file's size if known. Errors name the file."""
    kind, a, b = unit
    with _naming(path):
        if kind == "range":
            yield from tfrecord.read_range(path, a, b, batch_size, spans, size)
        elif kind == "from":
            yield from tfrecord.read_range(path, a, b, batch_size, spans, size, at=a)
        else:
            yield from tfrecord.read_interleaved(path, a, b, batch_size, by_batch=True)


def corrupt_file(path: str, detail: str) -> ExamplesError:
    how = ("read as GZIP because its name ends in '.gz'" if tfrecord.is_gzip(path)
           else "read as uncompressed TFRecords; a GZIP file must be named '*.gz'")
    return ExamplesError(f"record file {path!r} is corrupt or not a TFRecord file ({how}): "
                         f"{str(detail).splitlines()[0][:200]}. Re-create it, or name it by its compression")


@contextlib.contextmanager
def _naming(path: str):
    try:
        yield
    except tfrecord.RecordError as error:
        raise corrupt_file(path, str(error)) from error


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


def model_inputs(records: Sequence[bytes], tensors, explicit=None, contract=None):
    """Decodes records and feeds every model input tensor from its mapped feature.

    Returns ({tensor name: array}, {tensor name: feature name}). Arrays keep the
    tensor's dtype (float, int64, bool...); float arrays are not yet quantized
    (the converter and LiteRT runner take care of that). contract: {feature: dtype} of
    single-valued VarLen features fed dense (single_valued.fill).
    """
    if not records:
        raise ExamplesError("no examples to read: the split is empty")
    features = single_valued.fill(Decoder().decode(records), contract or {}, len(records))
    mapping = input_mapping.resolve(tensors, list(features), explicit)
    plain = [input_mapping.TensorSpec(t.name, "float32" if t.quantized else t.dtype, t.shape) for t in tensors]
    return input_mapping.feed(features, plain, mapping), mapping
