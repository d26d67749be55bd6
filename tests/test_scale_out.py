"""Scale-out of the EdgeEvaluator's scoring job: TF-free workers, byte-range work units, the same
statistics on DirectRunner (in-process and 2 worker processes) and DaskRunner (a LocalCluster of
2 worker processes), and the TensorFlow-free TFRecord reader against tf.data.

Small data: the demo's eval digits repeated to 3,000 records in 3 files, scored by a tiny dense
model built with tf.lite (float32) and its int8 conversion.
"""

from __future__ import annotations

import dataclasses
import gzip
import itertools
import json
import os
import pickle
import subprocess
import sys

import numpy as np
import pytest

from tfx_edge.components.core import examples, metrics, scoring, tfrecord
from tfx_edge.components.edge_evaluator import beam_job
from tfx_edge.schemas import names

RECORDS = 3000
FILES = 3


def _write(path: str, records: list[bytes], gzipped: bool = False) -> None:
    import tensorflow as tf
    with tf.io.TFRecordWriter(path, options="GZIP" if gzipped else None) as writer:
        for record in records:
            writer.write(record)


@pytest.fixture(scope="module")
def eval_records(data_root):
    records = list(examples.iter_records([os.path.join(data_root, "eval", "digits.tfrecord")]))
    return [records[i % len(records)] for i in range(RECORDS)]


@pytest.fixture(scope="module")
def split(eval_records, tmp_path_factory):
    """3 plain shards and the same 3 shards gzipped, as ExampleGen lays out a split."""
    root = tmp_path_factory.mktemp("split")
    plain, zipped = [], []
    for s in range(FILES):
        part = eval_records[s::FILES]
        plain.append(str(root / f"data_tfrecord-{s:05d}-of-{FILES:05d}"))
        zipped.append(str(root / f"data_tfrecord-{s:05d}-of-{FILES:05d}.gz"))
        _write(plain[-1], part)
        _write(zipped[-1], part, gzipped=True)
    return {"plain": plain, "gzip": zipped}


@pytest.fixture(scope="module")
def models(eval_records, tmp_path_factory):
    """A dense softmax classifier over the 64 pixels (fixed weights), float32 and int8."""
    import tensorflow as tf
    rng = np.random.default_rng(0)
    w = tf.constant(rng.normal(0, 0.3, (64, 10)).astype(np.float32))
    b = tf.constant(rng.normal(0, 0.1, (10,)).astype(np.float32))

    @tf.function(input_signature=[tf.TensorSpec([None, 64], tf.float32, name="image")])
    def serve(image):
        return {"probabilities": tf.nn.softmax(tf.matmul(image, w) + b)}

    module = tf.Module()
    module.serve = serve
    saved = str(tmp_path_factory.mktemp("saved_model"))
    tf.saved_model.save(module, saved, signatures={"serving_default": serve.get_concrete_function()})
    images = examples.Decoder().decode(eval_records[:200])["image"].astype(np.float32)
    out = {}
    for name, int8 in ((names.FLOAT_TFLITE, False), (names.QUANTIZED, True)):
        converter = tf.lite.TFLiteConverter.from_saved_model(saved, signature_keys=["serving_default"])
        if int8:
            converter.optimizations = [tf.lite.Optimize.DEFAULT]
            converter.representative_dataset = lambda: ([images[i:i + 1]] for i in range(len(images)))
        path = str(tmp_path_factory.mktemp("models") / f"{name}.tflite")
        with open(path, "wb") as f:
            f.write(converter.convert())
        out[name] = path
    return out


def make_job(models, shards_per_file=4, slices=("label",)) -> beam_job.Job:
    score = scoring.ScoreSpec(metrics.Spec("classification", 10, "probabilities", (3,)), "label",
                              "probabilities", slice_features=slices, references=(names.FLOAT_TFLITE,))
    return beam_job.Job({n: (beam_job.TFLITE, p) for n, p in models.items()}, "serving_default",
                        {"image": "image"}, score, batch_size=64, num_threads=1, shards_per_file=shards_per_file)


def run_job(files, job, out: str, argv) -> dict:
    import apache_beam as beam
    pipeline = beam.Pipeline(argv=argv)
    beam_job.build(pipeline, files, job, out)
    result = pipeline.run()
    result.wait_until_finish()
    if getattr(result, "client", None) is not None:    # DaskRunner: its client to our cluster
        result.client.close()
    return beam_job.read_summary(out)


def without_workers(summary: dict) -> str:
    return json.dumps({k: v for k, v in summary.items() if k != "workers"}, sort_keys=True)


IN_PROCESS = ["--direct_num_workers=1"]
TWO_PROCESSES = ["--direct_running_mode=multi_processing", "--direct_num_workers=2"]


@pytest.fixture(scope="module")
def in_process(split, models, tmp_path_factory):
    out = str(tmp_path_factory.mktemp("runs") / "in_process.json")
    return run_job(split["plain"], make_job(models), out, IN_PROCESS)


def test_units_are_byte_ranges_that_tile_each_file_and_many_per_worker(split, monkeypatch):
    work = beam_job.units(split["plain"], 4)
    assert len(work) == 12
    for path in split["plain"]:
        ranges = [part for p, _, part in work if p == path]
        assert ranges[0][1] == 0 and ranges[-1][2] == os.path.getsize(path)
        assert all(a[2] == b[1] for a, b in itertools.pairwise(ranges))
    # Automatic sizing: a big split gets about TARGET_UNITS units whatever its number of files;
    # a lone GZIP file (not splittable by bytes) GZIP_TARGET_UNITS interleaved shards.
    sizes = {f"/big/f{i}": 400 << 20 for i in range(3)}
    sizes["/big/g.gz"] = 1 << 30
    monkeypatch.setattr(tfrecord, "size_of", sizes.__getitem__)
    assert beam_job.TARGET_UNITS <= len(beam_job.units(list(sizes)[:3])) <= beam_job.TARGET_UNITS + 3
    assert [part for _, _, part in beam_job.units(["/big/g.gz"])] == [("batches", s, 4) for s in range(4)]


def test_in_process_counts_every_record_once(in_process, eval_records):
    assert in_process["examples"] == RECORDS
    assert sum(in_process["slices"][f"label={c}"]["examples"] for c in range(10)) == RECORDS
    [worker] = in_process["workers"]
    assert worker["units"] == 12 and worker["examples"] == RECORDS


def test_same_statistics_on_two_direct_runner_worker_processes(split, models, in_process, tmp_path):
    summary = run_job(split["plain"], make_job(models), str(tmp_path / "s.json"), TWO_PROCESSES)
    assert without_workers(summary) == without_workers(in_process)
    workers = summary["workers"]
    assert len(workers) == 2 and sum(w["examples"] for w in workers) == RECORDS
    assert all(w["units"] > 0 and not w["tensorflow_imported"] for w in workers), workers
    assert {w["worker"] for w in workers}.isdisjoint({w["worker"] for w in in_process["workers"]})


def test_same_statistics_on_dask_local_cluster_of_two_processes(split, models, in_process, tmp_path):
    from dask.distributed import LocalCluster
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None) as cluster:
        summary = run_job(split["plain"], make_job(models), str(tmp_path / "s.json"),
                          ["--runner=apache_beam.runners.dask.dask_runner.DaskRunner",
                           f"--dask_client_address={cluster.scheduler_address}"])
    assert without_workers(summary) == without_workers(in_process)
    workers = summary["workers"]
    assert len(workers) == 2, workers   # one Dask partition per unit: both processes score
    assert sum(w["examples"] for w in workers) == RECORDS
    assert not any(w["tensorflow_imported"] for w in workers), workers


def test_gzip_files_give_the_same_statistics(split, models, in_process, tmp_path):
    summary = run_job(split["gzip"], make_job(models, shards_per_file=2), str(tmp_path / "s.json"), IN_PROCESS)
    assert summary["examples"] == RECORDS
    # Other units (every 2nd batch instead of byte ranges) sum floats in another order.
    for key, values in in_process["slices"].items():
        again = summary["slices"][key]
        assert again["examples"] == values["examples"]
        for model, m in values["metrics"].items():
            assert again["metrics"][model] == pytest.approx(m, rel=1e-9, nan_ok=True)
    assert summary["confusion"] == in_process["confusion"]


_WORKER = """
import json, pickle, sys
from tfx_edge.components.edge_evaluator import beam_job
job, units = pickle.load(open(sys.argv[1], "rb"))
fn = beam_job.ScoreUnit(job)
fn.setup()
outputs = [out for unit in units for out in fn.process(unit)]
fn.teardown()
print(json.dumps({"tensorflow": sorted(m for m in sys.modules if m.split(".")[0] == "tensorflow"),
                  "examples": sum(next(iter(o["stats"].values()))["slices"][()]["models"]["quantized"]["n"]
                                  for o in outputs),
                  "facts": next(iter(outputs[-1]["workers"].values()))}))
"""


def test_a_scoring_worker_imports_no_tensorflow(split, models, tmp_path):
    """A fresh process runs what a worker runs: unpickle the DoFn, setup, process units."""
    job = make_job(models)
    arg = tmp_path / "job.pkl"
    with open(arg, "wb") as f:
        pickle.dump((job, beam_job.units(split["plain"], 4)[:3] + beam_job.units(split["gzip"], 2)[:1]), f)
    done = subprocess.run([sys.executable, "-c", _WORKER, str(arg)], capture_output=True, text=True,
                          check=False, timeout=300, env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"})
    assert done.returncode == 0, done.stderr[-3000:]
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result["tensorflow"] == [], f"a scoring worker imported {result['tensorflow'][:5]}"
    assert result["examples"] > 0
    facts = result["facts"]
    assert facts["import_s"] + facts["setup_s"] < 5 and 0 < facts["peak_rss_mb"] < 1000, facts


# --- the TF-free reader ------------------------------------------------------------------------

def _odd_records() -> list[bytes]:
    """Sizes that cross the reader's 1 MiB chunks: empty, tiny, 3 MiB, and many small ones."""
    rng = np.random.default_rng(1)
    sizes = [0, 1, 7, 3 << 20] + list(rng.integers(0, 5000, 600)) + [1 << 20, 0]
    return [rng.integers(0, 256, int(n), dtype=np.uint8).tobytes() for n in sizes]


def _tf_data(path: str) -> list[bytes]:
    import tensorflow as tf
    kind = "GZIP" if path.endswith(".gz") else ""
    return [r.numpy() for r in tf.data.TFRecordDataset(path, compression_type=kind)]


@pytest.mark.parametrize("suffix", ["", ".gz"])
def test_reader_agrees_byte_for_byte_with_tf_data(suffix, eval_records, tmp_path):
    for name, records in (("digits", eval_records), ("odd", _odd_records())):
        path = str(tmp_path / f"{name}.tfrecord{suffix}")
        _write(path, records, gzipped=bool(suffix))
        expected = _tf_data(path)
        assert expected == records
        assert [r for b in examples.read_batches(path, 0, 1, 100) for r in b] == expected
        for shards in (2, 3):   # every n-th record, as before, and every n-th batch (work units)
            for s in range(shards):
                assert [r for b in examples.read_batches(path, s, shards, 64) for r in b] == expected[s::shards]
            by_batch = [b for s in range(shards)
                        for b in examples.read_unit(path, ("batches", s, shards), 64)]
            assert sorted(r for b in by_batch for r in b) == sorted(expected)
        if not suffix:   # byte ranges: any cut points, one record each time, in order
            size = os.path.getsize(path)
            for n in (2, 5, 17):
                spans, got = [], []
                for i in range(n):
                    part = ("range", size * i // n, size * (i + 1) // n)
                    got += [r for b in examples.read_unit(path, part, 100, spans) for r in b]
                assert got == expected
                assert tfrecord.check_spans(path, size, spans) == len(expected)


def test_reader_finds_frames_embedded_in_records_are_not_frames(tmp_path):
    """A record that holds a whole TFRecord file: a range cut inside it must not sync on the
    embedded frames (the look-ahead rejects them), and any cut gives the same records."""
    inner = tmp_path / "inner.tfrecord"
    _write(str(inner), [b"x" * 50, b"y" * 60])
    records = [b"a" * 100, b"head" + inner.read_bytes() + b"tail", b"b" * 100] + [b"c" * 40] * 30
    path = str(tmp_path / "outer.tfrecord")
    _write(path, records)
    size = os.path.getsize(path)
    for cut in range(1, size, 7):
        spans, got = [], []
        for part in (("range", 0, cut), ("range", cut, size)):
            got += [r for b in examples.read_unit(path, part, 8, spans) for r in b]
        assert got == records, cut
        tfrecord.check_spans(path, size, spans)


def test_spans_that_do_not_meet_are_an_error_naming_the_file():
    gap = [tfrecord.Span(0, 100, 0, 110, 3), tfrecord.Span(100, 200, 120, 200, 2)]
    with pytest.raises(tfrecord.RecordError, match="begin at offset 120 but the previous records end at offset 110"):
        tfrecord.check_spans("f", 200, gap)
    acc = {"stats": {}, "sizes": {"/data/f": 200}, "spans": {"/data/f": [dataclasses.astuple(s) for s in gap]},
           "workers": {}}
    with pytest.raises(examples.ExamplesError, match=r"record file '/data/f' is corrupt .*begin at offset 120"):
        beam_job.summarize(acc, make_job({names.QUANTIZED: "q", names.FLOAT_TFLITE: "f"}).score)


def _corrupt(eval_records, tmp_path):
    path = tmp_path / "data_tfrecord-00001-of-00002"
    _write(str(path), eval_records[:300])
    good = path.read_bytes()
    yield "truncated", good[:len(good) - 100]
    flipped = bytearray(good)
    flipped[len(good) // 2] ^= 0x40
    yield "flipped byte", bytes(flipped)
    yield "gzip named plain", gzip.compress(good)


def test_a_corrupt_file_is_an_error_naming_it(eval_records, tmp_path):
    path = tmp_path / "data_tfrecord-00001-of-00002"
    for what, data in _corrupt(eval_records, tmp_path):
        path.write_bytes(data)
        with pytest.raises(examples.ExamplesError, match=rf"record file '{path}' is corrupt or not a TFRecord "
                           r"file \(read as uncompressed TFRecords; a GZIP file must be named '\*\.gz'\)"):
            list(examples.read_batches(str(path), 0, 1, 64))
        size = len(data)
        with pytest.raises((examples.ExamplesError, tfrecord.RecordError)):   # ranges: while reading, or
            spans = []                                                         # when the spans are checked
            for i in range(3):
                list(examples.read_unit(str(path), ("range", size * i // 3, size * (i + 1) // 3), 64, spans))
            tfrecord.check_spans(str(path), size, spans)
    named_gz = tmp_path / "data_tfrecord-00000-of-00001.gz"
    named_gz.write_bytes(b"\x00" * 100)
    with pytest.raises(examples.ExamplesError, match=rf"record file '{named_gz}' is corrupt or not a TFRecord "
                       r"file \(read as GZIP because its name ends in '\.gz'\).*name it by its compression"):
        list(examples.read_batches(str(named_gz), 0, 1, 64))


def test_a_corrupt_file_stops_the_beam_job_naming_it(split, models, eval_records, tmp_path):
    bad = tmp_path / "data_tfrecord-00003-of-00003"
    good = split["plain"][0]
    with open(good, "rb") as f:
        bad.write_bytes(f.read()[:-100])
    with pytest.raises(examples.ExamplesError, match=rf"record file '{bad}' is corrupt"):
        run_job([good, str(bad)], make_job(models), str(tmp_path / "s.json"), IN_PROCESS)
