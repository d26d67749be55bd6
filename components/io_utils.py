"""Artifact file I/O for the executors: atomic writes through tf.io.gfile (local or GCS)."""

from __future__ import annotations

import json
import os
from typing import Any

import tensorflow as tf
from tfx.types import artifact, artifact_utils
from tfx.utils import path_utils

from tfx_edge.components.core.examples import ExamplesError


def serving_dir(model: artifact.Artifact) -> str:
    """<Model.uri>/Format-Serving: what the Trainer exported and the Pusher copies."""
    return path_utils.serving_model_path(model.uri)


def split_uri(examples: artifact.Artifact | None, split: str, field: str) -> str:
    """The directory of `split` in an Examples artifact; `field` names the config to fix."""
    if examples is None:
        raise ExamplesError(f"{field}={split!r} needs Examples but none were given; pass examples=...")
    names = artifact_utils.decode_split_names(examples.split_names)
    if split not in names:
        raise ExamplesError(f"{field}={split!r} is not a split of the Examples artifact; it has "
                            f"{names}. Set {field} to one of them")
    return artifact_utils.get_split_uri([examples], split)


def clean_dir(uri: str) -> None:
    """Empties an output directory before an executor writes into it: a retry into the same
    URI (what orchestrators do) never leaves an earlier attempt's files beside the new ones."""
    if tf.io.gfile.exists(uri):
        for name in tf.io.gfile.listdir(uri):
            path = os.path.join(uri, name.rstrip("/"))
            if tf.io.gfile.isdir(path):
                tf.io.gfile.rmtree(path)
            else:
                tf.io.gfile.remove(path)
    tf.io.gfile.makedirs(uri)


def split_files(examples: artifact.Artifact | None, split: str, field: str) -> list[str]:
    """The record files of `split`; errors name the config field that chose it."""
    from tfx_edge.components.core import examples as examples_lib  # pylint: disable=g-import-not-at-top
    return examples_lib.split_files(split_uri(examples, split, field), f"{field}={split!r}")


def write_bytes(path: str, data: bytes) -> None:
    """Writes via a temporary name and a rename, so no half-written file is left behind."""
    tf.io.gfile.makedirs(os.path.dirname(path))
    tmp = path + ".tmp"
    with tf.io.gfile.GFile(tmp, "wb") as f:
        f.write(data)
    tf.io.gfile.rename(tmp, path, overwrite=True)


def write_records(path: str, records: list[bytes]) -> None:
    """A TFRecord file of serialized records, via a temporary name and a rename."""
    tf.io.gfile.makedirs(os.path.dirname(path))
    tmp = path + ".tmp"
    with tf.io.TFRecordWriter(tmp) as writer:
        for record in records:
            writer.write(record)
    tf.io.gfile.rename(tmp, path, overwrite=True)


def write_json(path: str, data: Any) -> None:
    write_bytes(path, (json.dumps(data, indent=2, sort_keys=True, default=_default) + "\n").encode())


def _default(value: Any) -> Any:
    if hasattr(value, "item"):
        return value.item()
    if hasattr(value, "tolist"):
        return value.tolist()
    raise TypeError(f"not JSON serializable: {type(value).__name__}")


def read_bytes(path: str) -> bytes:
    with tf.io.gfile.GFile(path, "rb") as f:
        return f.read()
