"""The TensorFlow-free TFRecord reader (components/core/tfrecord.py) against tf.data.

    .venv/bin/python -m bench.reader_bench [--records 200000] [--rounds 5] [--quick] [--out DIR]

Writes two plain TFRecord files with tf.io.TFRecordWriter: "plain", --records digits-like
serialized tf.Examples (64 float pixel values and an int64 label, ~300 bytes each), and
"embedded", --records / 30 Examples that each also hold a bytes feature with a serialized
TFRecord file of 17-40 such Examples (more than the 16 frames a byte-range reader looks ahead
when it syncs, so a range that starts inside one can falsely sync onto an embedded frame).
For each file, records/s of: tf.data.TFRecordDataset iterated in batches of 1,024; our
whole-file reader (tfrecord.read_interleaved(path, 0, 1, 1024)); our byte-range reading of
the file cut into 32 ranges (read_range over each range, tfrecord.resolve, check_spans), as
the EdgeEvaluator's workers read a split. Repetitions are interleaved (this machine is shared
and noisy); each figure is the median of --rounds, ratios are against tf.data in the same
run. Every reader's records are compared with tf.data's once, outside the timings.
--quick: 2,000 records, 1 round (seconds; what the tests run), JSON in a temporary directory.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import statistics
import sys
import tempfile
import time

import numpy as np

from bench import common
from tfx_edge.components.core import tfrecord

BATCH = 1024
RANGES = 32
INNER = (17, 40)    # Examples in the TFRecord file each "embedded" record holds (at random)
EMBEDDED = 30       # "embedded" has --records / EMBEDDED records
DISTINCT = 2000     # distinct Examples, repeated to --records


def _example(rng, payload: bytes | None = None) -> bytes:
    import tensorflow as tf  # pylint: disable=g-import-not-at-top
    feature = {"image": tf.train.Feature(float_list=tf.train.FloatList(
                   value=rng.integers(0, 17, 64).astype(np.float32).tolist())),
               "label": tf.train.Feature(int64_list=tf.train.Int64List(value=[int(rng.integers(0, 10))]))}
    if payload is not None:
        feature["frames"] = tf.train.Feature(bytes_list=tf.train.BytesList(value=[payload]))
    return tf.train.Example(features=tf.train.Features(feature=feature)).SerializeToString()


def _write(path: str, records) -> None:
    import tensorflow as tf  # pylint: disable=g-import-not-at-top
    with tf.io.TFRecordWriter(path) as writer:
        for record in records:
            writer.write(record)


def prepare(root: str, count: int) -> dict[str, str]:
    rng = np.random.default_rng(0)
    distinct = [_example(rng) for _ in range(min(count, DISTINCT))]
    paths = {"plain": os.path.join(root, "plain.tfrecord"), "embedded": os.path.join(root, "embedded.tfrecord")}
    _write(paths["plain"], (distinct[i % len(distinct)] for i in range(count)))
    inner_path, embedded = os.path.join(root, "inner.tfrecord"), []
    for i in range(max(1, min(count // EMBEDDED, 200))):
        inner = int(rng.integers(INNER[0], INNER[1] + 1))
        _write(inner_path, [distinct[(i * INNER[1] + j) % len(distinct)] for j in range(inner)])
        with open(inner_path, "rb") as f:
            embedded.append(_example(rng, f.read()))
    _write(paths["embedded"], (embedded[i % len(embedded)] for i in range(max(1, count // EMBEDDED))))
    return paths


def tf_data(path: str, keep: bool = False):
    import tensorflow as tf  # pylint: disable=g-import-not-at-top
    count, out = 0, []
    for batch in tf.data.TFRecordDataset(path).batch(BATCH):
        count += int(batch.shape[0])
        if keep:
            out.extend(batch.numpy().tolist())
    return out if keep else count


def whole(path: str, keep: bool = False):
    count, out = 0, []
    for batch in tfrecord.read_interleaved(path, 0, 1, BATCH):
        count += len(batch)
        if keep:
            out.extend(batch)
    return out if keep else count


def ranges(path: str, keep: bool = False):
    """The workers' reading: each of RANGES byte ranges read on its own (read_range; a range
    that does not start at 0 scans for its first record; a failure marks the range), then
    tfrecord.resolve reads again, from the true record boundary, every range that began
    elsewhere or failed, and check_spans proves that the ranges tile the file."""
    size = os.path.getsize(path)
    records: dict[tuple[int, int], list[bytes]] = {}
    spans: list[tfrecord.Span] = []
    for i in range(RANGES):
        start, end = size * i // RANGES, size * (i + 1) // RANGES
        try:
            span, records[start, end] = _range(path, start, end, size, keep)
        except tfrecord.RecordError as error:
            if not start:
                raise
            span, records[start, end] = tfrecord.Span(start, end, None, None, 0, str(error)), []
        spans.append(span)

    def reread(span: tfrecord.Span, at: int) -> tfrecord.Span:
        again, records[span.start, span.end] = _range(path, at, span.end, size, keep, at)
        return again
    count = tfrecord.check_spans(path, size, tfrecord.resolve(spans, reread))
    return [r for key in sorted(records) for r in records[key]] if keep else count


def _range(path: str, start: int, end: int, size: int, keep: bool, at: int | None = None):
    spans: list[tfrecord.Span] = []
    out: list[bytes] = []
    for batch in tfrecord.read_range(path, start, end, BATCH, spans, size, at=at):
        if keep:
            out.extend(batch)
    return spans[0], out


READERS = {"tf.data": tf_data, "whole file": whole, f"{RANGES} byte ranges": ranges}


def _digest(records: list[bytes]) -> str:
    h = hashlib.sha256()
    for r in records:
        h.update(len(r).to_bytes(8, "little"))
        h.update(r)
    return h.hexdigest()


def _verdicts(paths: dict[str, str]) -> dict[tuple[str, str], str]:
    """Per (file, reader): "yes" (tf.data's records, in order), "no", or the error's class."""
    out = {}
    for name, path in paths.items():
        expected = _digest(tf_data(path, keep=True))
        for reader, fn in READERS.items():
            try:
                out[name, reader] = "yes" if _digest(fn(path, keep=True)) == expected else "no"
            except (tfrecord.RecordError, ValueError) as error:
                out[name, reader] = f"refused ({type(error).__name__})"
    return out


def _timed(fn, path: str) -> tuple[float, int] | None:
    start = time.perf_counter()
    try:
        count = fn(path)
    except (tfrecord.RecordError, ValueError):
        return None
    return time.perf_counter() - start, count


def measure(root: str, count: int, rounds: int) -> list[dict]:
    paths = prepare(root, count)
    verdicts = _verdicts(paths)
    seconds: dict[tuple[str, str], list[float]] = {k: [] for k in verdicts}
    counts: dict[tuple[str, str], int] = {}
    for _ in range(rounds):                      # interleaved: every reader in every round
        for name, path in paths.items():
            for reader, fn in READERS.items():
                if verdicts[name, reader] == "yes" and (timed := _timed(fn, path)) is not None:
                    seconds[name, reader].append(timed[0])
                    counts[name, reader] = timed[1]
    return [_row(name, reader, paths[name], seconds, counts, verdicts) for name, reader in verdicts]


def _row(name, reader, path, seconds, counts, verdicts) -> dict:
    s = statistics.median(seconds[name, reader]) if seconds[name, reader] else None
    base = statistics.median(seconds[name, "tf.data"]) if seconds[name, "tf.data"] else None
    n = counts.get((name, reader), counts.get((name, "tf.data")))
    return {"file": name, "reader": reader, "records": n, "mb": os.path.getsize(path) / 1e6, "seconds": s,
            "records_per_s": n / s if s else None, "x_tf_data": base / s if s and base else None,
            "identical_to_tf_data": verdicts[name, reader], "runs": seconds[name, reader]}


def main(argv=None) -> int:
    p = common.parser(__doc__)
    p.add_argument("--records", type=int, default=200_000)
    p.add_argument("--rounds", type=int, default=5)
    args = p.parse_args(argv)
    count, rounds = (2000, 1) if args.quick else (args.records, args.rounds)
    root = tempfile.mkdtemp(prefix="tfx-edge-reader-")
    try:
        rows = measure(root, count, rounds)
    finally:
        shutil.rmtree(root, ignore_errors=True)
    dash = lambda v: "-" if v is None else v  # noqa: E731
    print(common.table(["file", "reader", "records", "MB", "median s", "records/s", "x tf.data", "identical"],
                       [[r["file"], r["reader"], dash(r["records"]), r["mb"], dash(r["seconds"]),
                         dash(r["records_per_s"] and round(r["records_per_s"])), dash(r["x_tf_data"]),
                         r["identical_to_tf_data"]] for r in rows]))
    data = {"rows": rows, "rounds": rounds, "records": count, "ranges": RANGES}
    print("wrote", common.write("reader", data, args))
    return 0


if __name__ == "__main__":
    sys.exit(main())
