"""The TF-free TFRecord reader never refuses a valid file and never allocates what a header
claims before checking it: records that embed TFRecord frames read by byte ranges exactly as
tf.data reads them (tfrecord.resolve), in the scoring job too; shards_per_file=1 reads each file
whole; a header claiming 1 TiB is a RecordError; a seeded fuzz of truncations, bit flips and
inserted frames agrees with tf.data or raises RecordError / ExamplesError.

tf.data (and tf.io.TFRecordWriter) only write the files and are the oracle.
"""

from __future__ import annotations

import gzip
import os
import struct
import tracemalloc

import numpy as np
import pytest

from test_scale_out import (IN_PROCESS, TWO_PROCESSES, _tf_data, _write, eval_records, make_job,  # noqa: F401
                            models, run_job, without_workers)
from tfx_edge.components.core import examples, tfrecord
from tfx_edge.components.edge_evaluator import beam_job
from tfx_edge.schemas import ConfigError, EvaluationConfig, MetricThreshold, Thresholds

OUTER = 300   # records of the embedded-frame file


def _tfrecord_file(path, records: list[bytes]) -> bytes:
    _write(str(path), records)
    with open(path, "rb") as f:
        return f.read()


def _with_frames(record: bytes, frames: bytes) -> bytes:
    """A serialized tf.Example with one more feature: a bytes feature holding `frames`."""
    import tensorflow as tf
    example = tf.train.Example.FromString(record)
    example.features.feature["frames"].bytes_list.value.append(frames)
    return example.SerializeToString()


@pytest.fixture(scope="module")
def embedded(eval_records, tmp_path_factory):  # noqa: F811
    """A plain file (> 1 MiB) of digits Examples that each hold a TFRecord file: of 17-40 Examples
    (short frames), of 20 random 64 KiB frames (> 16 frames and > 1 MiB), of 1,000 Examples (longer
    than a work unit: a range can sync onto them and end inside them), or of 3 Examples."""
    root = tmp_path_factory.mktemp("embedded")
    rng = np.random.default_rng(7)
    records = []
    for i in range(OUTER):
        if i % 50 == 7:
            inner = [rng.integers(0, 256, 64 << 10, dtype=np.uint8).tobytes() for _ in range(20)]
        elif i % 50 == 32:
            inner = [eval_records[(i + j) % len(eval_records)] for j in range(1000)]
        elif i % 10 == 3:
            inner = eval_records[i:i + 3]
        else:
            inner = [eval_records[(i + j) % len(eval_records)] for j in range(int(rng.integers(17, 41)))]
        records.append(_with_frames(eval_records[i], _tfrecord_file(root / "inner.tfrecord", inner)))
    path = str(root / "data_tfrecord-00000-of-00001")
    _write(path, records)
    assert os.path.getsize(path) > 1 << 20 and _tf_data(path) == records
    return path


def read_by_ranges(path: str, cuts: list[int], batch_size: int = 64) -> tuple[list[bytes], int]:
    """What the scoring job does across workers, in one process: each byte range read on its own
    (a failure after a scan marks it), tfrecord.resolve, check_spans. Returns the records in
    range order and how many ranges were read again."""
    size = os.path.getsize(path)
    bounds = list(zip([0] + cuts, cuts + [size]))
    records, spans, again = {}, [], []
    for start, end in bounds:
        got = []
        try:
            got = [r for b in tfrecord.read_range(path, start, end, batch_size, spans, size) for r in b]
        except tfrecord.RecordError as error:
            if not start:
                raise
            spans.append(tfrecord.Span(start, end, None, None, 0, str(error)))
        records[start, end] = got

    def reread(span, at):
        out = []
        records[span.start, span.end] = [r for b in tfrecord.read_range(path, at, span.end, batch_size, out,
                                                                         size, at=at) for r in b]
        again.append(span)
        return out[0]
    resolved = tfrecord.resolve(spans, reread)
    assert tfrecord.check_spans(path, size, resolved) == sum(len(r) for r in records.values())
    return [r for key in bounds for r in records[key]], len(again)


def _even(size: int, n: int) -> list[int]:
    return [size * i // n for i in range(1, n)]


def test_records_holding_tfrecord_files_read_by_ranges_exactly_as_tf_data(embedded):
    expected, size = _tf_data(embedded), os.path.getsize(embedded)
    rng = np.random.default_rng(3)
    rereads = 0
    for cuts in [_even(size, n) for n in (2, 7, 16, 33, 64)] + \
            [sorted(rng.choice(size, int(rng.integers(1, 40)), replace=False).tolist()) for _ in range(10)]:
        got, again = read_by_ranges(embedded, cuts)
        assert got == expected, len(cuts)
        rereads += again
    assert rereads > 10   # ranges did sync onto embedded frames, and were resolved
    assert [r for b in tfrecord.read_interleaved(embedded, 0, 1, 100) for r in b] == expected


def test_a_read_from_a_known_boundary_does_not_scan(embedded):
    size = os.path.getsize(embedded)
    spans = []
    whole = [r for b in tfrecord.read_range(embedded, 0, size, 50, spans) for r in b]
    second = len(whole[0]) + 16
    again = []
    assert [r for b in tfrecord.read_range(embedded, 1, size, 50, again, size, at=second) for r in b] == whole[1:]
    assert again == [tfrecord.Span(1, size, second, size, len(whole) - 1)]
    nothing = []
    assert list(tfrecord.read_range(embedded, 1, 10, 50, nothing, size, at=second)) == []
    assert nothing == [tfrecord.Span(1, 10, None, None, 0)]


@pytest.fixture(scope="module")
def embedded_runs(embedded, models, tmp_path_factory):  # noqa: F811
    out = tmp_path_factory.mktemp("embedded_runs")
    whole = run_job([embedded], make_job(models, shards_per_file=1), str(out / "whole.json"), IN_PROCESS)
    ranges = run_job([embedded], make_job(models, shards_per_file=64), str(out / "ranges.json"), IN_PROCESS)
    return whole, ranges


def test_the_scoring_job_reads_embedded_frames_by_ranges_as_tf_data(embedded_runs):
    whole, ranges = embedded_runs
    [worker] = whole["workers"]
    assert whole["examples"] == ranges["examples"] == OUTER and worker["units"] == 1
    assert ranges["workers"][0]["units"] > 64   # some of the 64 ranges were scored again
    assert ranges["confusion"] == whole["confusion"]
    for key, values in whole["slices"].items():   # other units: floats summed in another order
        assert ranges["slices"][key]["examples"] == values["examples"]
        for model, m in values["metrics"].items():
            assert ranges["slices"][key]["metrics"][model] == pytest.approx(m, rel=1e-9, nan_ok=True)


def test_resolved_ranges_score_identically_on_two_processes(embedded, models, embedded_runs, tmp_path):  # noqa: F811
    again = run_job([embedded], make_job(models, shards_per_file=64), str(tmp_path / "s.json"), TWO_PROCESSES)
    assert without_workers(again) == without_workers(embedded_runs[1])


def test_shards_per_file_1_reads_each_file_whole_and_none_chooses(embedded, tmp_path):
    zipped = str(tmp_path / "data.gz")
    with open(embedded, "rb") as f, gzip.open(zipped, "wb") as g:
        g.write(f.read())
    size, zsize = os.path.getsize(embedded), os.path.getsize(zipped)
    assert sorted(beam_job.units([embedded, zipped], 1)) == sorted([(zipped, zsize, ("batches", 0, 1)),
                                                                    (embedded, size, ("range", 0, size))])
    assert len(beam_job.units([embedded])) == -(-size // beam_job.MIN_UNIT_BYTES) > 1   # automatic
    assert [p for _, _, p in beam_job.units([embedded], 3)] == [("range", size * i // 3, size * (i + 1) // 3)
                                                               for i in range(3)]
    thresholds = Thresholds(metrics={"accuracy": MetricThreshold(max_absolute_drop=0.01)})
    assert EvaluationConfig(thresholds=thresholds).shards_per_file is None
    assert EvaluationConfig.from_json(EvaluationConfig(thresholds=thresholds, shards_per_file=1).to_json()
                                      ).shards_per_file == 1
    with pytest.raises(ConfigError, match="shards_per_file=0 is invalid"):
        EvaluationConfig(thresholds=thresholds, shards_per_file=0)


# --- claimed lengths are checked before anything is allocated ---------------------------------

def _header(length: int) -> bytes:
    head = struct.pack("<Q", length)
    return head + struct.pack("<I", tfrecord.masked_crc(head))


@pytest.mark.parametrize("suffix", ["", ".gz"])
def test_a_header_claiming_1_tib_is_a_record_error_naming_its_offset(suffix, eval_records, tmp_path):  # noqa: F811
    good = _tfrecord_file(tmp_path / "good.tfrecord", eval_records[:50])
    data = good + _header(1 << 40) + b"\x00" * 200
    path = str(tmp_path / f"data_tfrecord{suffix}")
    with open(path, "wb") as f:
        f.write(gzip.compress(data) if suffix else data)
    words = rf"offset {len(good)}\b.*claims {1 << 40} bytes"
    with pytest.raises(tfrecord.RecordError, match=words):
        list(tfrecord.read_interleaved(path, 0, 1, 64))
    with pytest.raises(tfrecord.RecordError, match=words):
        list(tfrecord.read_interleaved(path, 1, 2, 64, by_batch=True))   # records another shard owns
    with pytest.raises(examples.ExamplesError, match=rf"record file '{path}' is corrupt.*offset {len(good)}"):
        list(examples.read_batches(path, 0, 1, 64))
    if not suffix:
        assert "only 212 bytes remain" in _error(lambda: list(tfrecord.read_range(path, 0, len(data), 64)))
        with pytest.raises(tfrecord.RecordError, match=words):   # a scanned range, read again from its boundary
            read_by_ranges(path, [len(good) // 2])


def _error(fn) -> str:
    with pytest.raises(tfrecord.RecordError) as caught:
        fn()
    return str(caught.value)


def test_a_gzip_stream_claiming_more_than_it_holds_allocates_only_what_it_holds(eval_records, tmp_path):  # noqa: F811
    path = str(tmp_path / "data.gz")
    with open(path, "wb") as f:
        f.write(gzip.compress(_tfrecord_file(tmp_path / "good", eval_records[:20]) + _header((3 << 29) - 1)))
    tracemalloc.start()
    try:
        with pytest.raises(tfrecord.RecordError, match=r"truncated record at offset \d+: its header claims"):
            list(tfrecord.read_interleaved(path, 0, 1, 64))
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 64 << 20, peak   # not the 1.5 GiB the header claims


# --- fuzz: truncations, bit flips, inserted frames ----------------------------------------------

@pytest.fixture(scope="module")
def fuzz_parts(tmp_path_factory):
    root = tmp_path_factory.mktemp("fuzz")
    rng = np.random.default_rng(11)
    inner = _tfrecord_file(root / "inner", [rng.integers(0, 256, int(n), dtype=np.uint8).tobytes()
                                            for n in rng.integers(0, 40, 20)])
    records = [rng.integers(0, 256, int(n), dtype=np.uint8).tobytes() for n in rng.integers(0, 300, 30)]
    for i in (3, 11, 25):
        records.insert(i, b"head" + inner + b"tail")
    good = _tfrecord_file(root / "good", records)
    boundaries, offset = [], 0
    for r in records:
        boundaries.append(offset)
        offset += 16 + len(r)
    return good, inner, boundaries


def _mutate(rng, good: bytes, inner: bytes, boundaries: list[int]) -> bytes:
    kind = rng.integers(0, 5)
    if kind == 0:                                     # truncated anywhere
        return good[:int(rng.integers(0, len(good)))]
    if kind == 1:                                     # one or more bit flips
        data = bytearray(good)
        for _ in range(int(rng.integers(1, 3))):
            data[int(rng.integers(0, len(data)))] ^= 1 << int(rng.integers(0, 8))
        return bytes(data)
    if kind == 2:                                     # a record holding a TFRecord file, at a boundary
        at = int(rng.choice(boundaries + [len(good)]))
        frame = b"x" + inner
        return good[:at] + _header(len(frame)) + frame + struct.pack("<I", tfrecord.masked_crc(frame)) + good[at:]
    if kind == 3:                                     # TFRecord frames inserted at any offset
        at = int(rng.integers(0, len(good) + 1))
        return good[:at] + inner[:int(rng.integers(12, len(inner) + 1))] + good[at:]
    at = int(rng.integers(0, len(good) + 1))          # frames inserted at a boundary, then cut
    return (good[:at] + inner + good[at:])[:int(rng.integers(len(good) // 2, len(good) + len(inner)))]


def _outcome(fn):
    """The records fn reads, or the exception it raises."""
    try:
        return list(fn())
    except Exception as error:  # pylint: disable=broad-except
        return error


def _tf_data_or_none(path: str):
    import tensorflow as tf
    try:
        return _tf_data(path)
    except tf.errors.OpError:
        return None


def _agrees(ours, expected, data: bytes) -> None:
    """Ours equals tf.data's records, or raises RecordError / ExamplesError where tf.data fails too.
    One deliberate difference: tf.data ends silently at a trailing partial header (fewer than 12
    bytes after the last record), we raise (the file was cut)."""
    if isinstance(ours, Exception):
        assert isinstance(ours, (tfrecord.RecordError, examples.ExamplesError)), repr(ours)
        if expected is not None:
            tail = len(data) - sum(16 + len(r) for r in expected)
            assert 0 < tail < 12 and "truncated record header" in str(ours), (tail, ours)
    else:
        assert expected is not None and ours == expected


def test_fuzz_reader_agrees_with_tf_data_or_raises_a_record_error(fuzz_parts, tmp_path):
    good, inner, boundaries = fuzz_parts
    rng = np.random.default_rng(2024)
    path, zipped = str(tmp_path / "case"), str(tmp_path / "case.gz")
    outcomes = {"read": 0, "refused": 0}
    for _ in range(300):
        data = _mutate(rng, good, inner, boundaries)
        with open(path, "wb") as f:
            f.write(data)
        with open(zipped, "wb") as f:
            f.write(gzip.compress(data))
        expected = _tf_data_or_none(path)
        outcomes["read" if expected is not None else "refused"] += 1
        cuts = sorted({int(c) for c in rng.integers(1, max(2, len(data)), int(rng.integers(1, 9)))
                       if c < len(data)})
        _agrees(_outcome(lambda: (r for b in examples.read_batches(path, 0, 1, 7) for r in b)), expected, data)
        _agrees(_outcome(lambda cuts=cuts: read_by_ranges(path, cuts, 5)[0]), expected, data)
        _agrees(_outcome(lambda: (r for b in examples.read_batches(zipped, 0, 1, 7) for r in b)),
                _tf_data_or_none(zipped), data)
    assert min(outcomes.values()) > 50, outcomes


def test_reader_bench_quick_reads_both_files_as_tf_data(tmp_path):
    from bench import reader_bench
    rows = reader_bench.measure(str(tmp_path), 2000, 1)
    assert {(r["file"], r["reader"]) for r in rows} == {(f, r) for f in ("plain", "embedded")
                                                        for r in reader_bench.READERS}
    assert all(r["identical_to_tf_data"] == "yes" and r["records_per_s"] for r in rows), rows
