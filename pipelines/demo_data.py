"""The bundled demo data: scikit-learn's load_digits as tf.Examples, a fixed split.

Each example has `image` (64 floats, pixel intensities 0..16) and `label`
(int 0..9). Files are only rewritten when their bytes would change, so
ExampleGen's fingerprint (and so the pipeline cache) stays stable across runs.
"""

from __future__ import annotations

import os

import numpy as np

IMAGE_KEY = "image"
LABEL_KEY = "label"
EVAL_FRACTION = 0.2
SPLIT_SEED = 0


def digits_split() -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """{'train': (x, y), 'eval': (x, y)}: a stratified split with a fixed seed."""
    from tfx_edge import extras  # pylint: disable=g-import-not-at-top
    load_digits = extras.require("sklearn.datasets", "the digits demo data").load_digits
    train_test_split = extras.require("sklearn.model_selection", "the digits demo data").train_test_split
    digits = load_digits()
    x = digits.data.astype(np.float32)
    y = digits.target.astype(np.int64)
    x_tr, x_ev, y_tr, y_ev = train_test_split(x, y, test_size=EVAL_FRACTION,
                                              random_state=SPLIT_SEED, stratify=y)
    return {"train": (x_tr, y_tr), "eval": (x_ev, y_ev)}


def serialize(image: np.ndarray, label: int) -> bytes:
    import tensorflow as tf  # pylint: disable=g-import-not-at-top
    example = tf.train.Example(features=tf.train.Features(feature={
        IMAGE_KEY: tf.train.Feature(float_list=tf.train.FloatList(value=image.tolist())),
        LABEL_KEY: tf.train.Feature(int64_list=tf.train.Int64List(value=[int(label)])),
    }))
    return example.SerializeToString(deterministic=True)  # map order is otherwise per process


def _tfrecord_bytes(records: list[bytes]) -> bytes:
    """The TFRecord file format (length, masked crc32c, data, masked crc32c)."""
    import tempfile  # pylint: disable=g-import-not-at-top
    import tensorflow as tf  # pylint: disable=g-import-not-at-top
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "data.tfrecord")
        with tf.io.TFRecordWriter(path) as writer:
            for r in records:
                writer.write(r)
        with open(path, "rb") as f:
            return f.read()


def write(data_root: str) -> dict[str, str]:
    """Writes <data_root>/{train,eval}/digits.tfrecord if changed; returns split -> file."""
    paths = {}
    for split, (x, y) in digits_split().items():
        data = _tfrecord_bytes([serialize(img, lab) for img, lab in zip(x, y)])
        path = os.path.join(data_root, split, "digits.tfrecord")
        paths[split] = path
        if os.path.exists(path) and open(path, "rb").read() == data:
            continue
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path + ".tmp", "wb") as f:
            f.write(data)
        os.replace(path + ".tmp", path)
    return paths
