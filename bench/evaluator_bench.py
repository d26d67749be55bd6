"""EdgeEvaluator's scoring job (int8 + its float32 reference, what the gate runs) vs stock TFMA
vs a plain loop, on DirectRunner and on a real distributed engine (Dask), one run.

    .venv/bin/python -m bench.evaluator_bench [--examples 1000000] [--tfma-examples 200000]
                                              [--shards 4] [--rounds 1] [--pair-rounds 3]
                                              [--quick] [--out DIR]

The eval digits are repeated to --examples records in --shards plain files (counts are
rounded up to whole copies of the 360 eval digits so that every scorer sees the same
accuracy). Each record also holds `is_zero` (1 for the digit 0) and `weight` (0.5, 1 or 2),
which only the "all on" job reads; every job decodes them. Every scorer runs both models on
every example:
  * stock TFMA: tfma.run_model_analysis, candidate and baseline both model_type tf_lite,
    DirectRunner, on the first --tfma-examples records (it is slow: compared per example);
  * loop: one process, tf.data parse_example + batched LiteRT invokes (1 thread) of both
    models, accuracy only: what decode + inference cost without Beam or statistics;
  * ours: the EdgeEvaluator's Beam job (TF-free reading, tfx-bsl decoding, full statistics
    with per-label slices) on the DirectRunner in-process (2 LiteRT threads), on 2 DirectRunner
    worker processes (multi_processing) and on the DaskRunner against a dask.distributed
    LocalCluster of 2 worker processes started here (1 LiteRT thread per worker).
Today's gate job on 2 DirectRunner workers is measured side by side (--pair-rounds
interleaved rounds, the order rotated each round) with:
  * all on: a two-output pair (int8 and float32, built from the same SavedModel as above by
    the same conversions, plus an output `p_zero` = P(class 0), a slice of the softmax) scored
    on `p_zero` as a binary output: AUC (10,000-bucket histogram, overall slice), thresholded
    metrics at 0.5, 0.3 and 0.7 and moments in every slice, weighted by `weight`, with the
    10-class `probabilities` compared by the output guard (ScoreSpec.binary, weight_feature,
    other_outputs);
  * the same two-output models scored as today (statistics off): the extra head's LiteRT cost
    alone, so that all on / this is the statistics' own cost;
  * today's job and all on at the batch_size the EdgeEvaluator now chooses by default
    (batch_size=None: planning.auto_batch_size, 1024 for these models; today's job used 256);
  * the GZIP rows below.
Ratios are medians of per-round ratios, in wall time and in CPU time (this process and its
reaped children: the runners' worker processes).
GZIP: the same records (shuffled, as ExampleGen's Reshuffle leaves them) in GZIP TFRecord
files written as ExampleGen writes them (beam.io.WriteToTFRecord(..., file_name_suffix='.gz'):
Beam's CompressedFile, zlib level Z_DEFAULT_COMPRESSION = 6, num_shards=0, i.e. one file per
write bundle: 1 file on the demo's --direct_num_workers=1, n files on n workers), scored by
today's job on 2 workers: 1 file (4 interleaved units, each inflating the whole file) and
4 files (one unit each). Then one process reads the records with tfrecord.read_interleaved:
plain files, the GZIP file whole, the GZIP file as the job's 4 units read it, and inflate
alone, to price inflating per record. The per-example cost of decoding, LiteRT and each
job's statistics is also timed in one process (1 thread).
Then 1 worker vs 2 workers (1 LiteRT thread each) on both runners, the fixed cost of each
runner (a job over 360 records), and each worker's start-up, peak RSS and work. Worker
start-up is inside every timing (DirectRunner starts its workers per job; each Dask round
gets a fresh cluster, started before the clock). Today's job must give identical statistics
on every runner, and the same metrics (to 1e-9) on GZIP and at the default batch_size.
--quick: 1,440 records for every scorer (TFMA included), a model trained 50 steps, 1 round.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import math
import os
import resource
import statistics
import sys
import tempfile
import time
from typing import Any

import apache_beam as beam
import numpy as np

from bench import common
# Nothing imported here may import TensorFlow: Dask starts its worker processes with "spawn",
# which re-imports this module (as __mp_main__) in every worker.
from tfx_edge.components.core import binary_scoring, examples, litert, metrics, scoring, tfrecord
from tfx_edge.components.edge_evaluator import beam_job, planning
from tfx_edge.schemas import CalibrationConfig, Mode, QuantizationConfig
from tfx_edge.schemas import names

DIGITS = 360   # eval records of the demo split
BINARY_LABEL = "is_zero"      # the all-on job's binary label: 1 for the digit 0
WEIGHT = "weight"             # the all-on job's example weights
WEIGHTS = (0.5, 1.0, 2.0)     # by index among the 360 eval digits
P_ZERO = "p_zero"             # the two-output models' extra output: P(class 0), shape [B, 1]
PROBABILITIES = "probabilities"
THRESHOLDS = (0.3, 0.7)       # binary_thresholds beyond 0.5
GZIP_FILES = (1, 4)           # GZIP rows: 1 file (ExampleGen on 1 DirectRunner worker), 4 files

IN_PROCESS = ["--direct_num_workers=1"]


def direct_workers(n: int) -> list[str]:
    return ["--direct_running_mode=multi_processing", f"--direct_num_workers={n}"]


def write_records(path: str, records: list[bytes], count: int) -> None:
    import tensorflow as tf  # pylint: disable=g-import-not-at-top
    with tf.io.TFRecordWriter(path) as writer:
        for i in range(count):
            writer.write(records[i % len(records)])


def with_extras(record: bytes, index: int) -> bytes:
    """The eval record plus the all-on job's binary label and example weight."""
    import tensorflow as tf  # pylint: disable=g-import-not-at-top
    example = tf.train.Example.FromString(record)
    feature = example.features.feature
    feature[BINARY_LABEL].int64_list.value.append(int(feature["label"].int64_list.value[0] == 0))
    feature[WEIGHT].float_list.value.append(WEIGHTS[index % len(WEIGHTS)])
    return example.SerializeToString(deterministic=True)


def write_gzip(path: str, records: list[bytes], order: np.ndarray) -> None:
    """records[i % len(records)] for i in order as a GZIP TFRecord file, compressed by Beam's
    CompressedFile as beam.io.WriteToTFRecord (ExampleGen's writer) does for a '.gz' name
    (zlib Z_DEFAULT_COMPRESSION, gzip container); TFRecord framing with masked crc32c."""
    import struct  # pylint: disable=g-import-not-at-top
    from apache_beam.io.filesystem import CompressionTypes  # pylint: disable=g-import-not-at-top
    from apache_beam.io.filesystems import FileSystems  # pylint: disable=g-import-not-at-top
    from tfx_edge.components.core import tfrecord  # pylint: disable=g-import-not-at-top
    framed = []
    for r in records:
        length = struct.pack("<Q", len(r))
        framed.append(length + struct.pack("<I", tfrecord.masked_crc(length)) + r
                      + struct.pack("<I", tfrecord.masked_crc(r)))
    with FileSystems.create(path, compression_type=CompressionTypes.GZIP) as f:
        for start in range(0, len(order), 4096):
            f.write(b"".join(framed[i % len(framed)] for i in order[start:start + 4096]))


def two_output_model(serving: str, path: str) -> str:
    """The SavedModel with a second output P_ZERO = probabilities[:, :1] (the binary head the
    all-on job scores); serving_default takes the same `image`."""
    import tensorflow as tf  # pylint: disable=g-import-not-at-top
    loaded = tf.saved_model.load(serving)
    serve = loaded.signatures["serving_default"]

    @tf.function(input_signature=[tf.TensorSpec([None, 64], tf.float32, name="image")])
    def two_outputs(image):
        probabilities = serve(image=image)[PROBABILITIES]
        return {PROBABILITIES: probabilities, P_ZERO: probabilities[:, :1]}

    tf.saved_model.save(loaded, path, signatures={"serving_default": two_outputs})
    return path


def tflite_pair(saved_model: str, root: str, prefix: str, calibration: np.ndarray) -> dict[str, str]:
    """The int8 model and its float32 reference of a SavedModel, as the TFLiteExporter converts them."""
    from tfx_edge.components.core import convert  # pylint: disable=g-import-not-at-top
    config = QuantizationConfig(mode=Mode.INT8, calibration=CalibrationConfig(num_samples=200))
    out = {}
    for name, data in (("int8", convert.convert(saved_model, config, {"image": calibration})),
                       ("float", convert.convert_float(saved_model, "serving_default"))):
        out[f"{prefix}{name}"] = os.path.join(root, f"{prefix}{name}.tflite")
        with open(out[f"{prefix}{name}"], "wb") as f:
            f.write(data)
    return out


def prepare(root: str, count: int, tfma_count: int, shards: int, steps: int) -> dict:
    from tfx_edge.pipelines import demo_data, digits_model  # pylint: disable=g-import-not-at-top
    paths = demo_data.write(os.path.join(root, "data"))
    serving = os.path.join(root, "model")
    digits_model.train(paths["train"], paths["eval"], serving, steps=steps)
    records = [with_extras(r, i) for i, r in enumerate(examples.iter_records([paths["eval"]]))]
    out: dict[str, Any] = {"files": [], "tfma": [], "records": records}
    for name, total in (("files", count), ("tfma", tfma_count)):
        folder = os.path.join(root, name)
        os.makedirs(folder)
        for s in range(shards):   # shard s holds records s, s + shards, ...: whole copies per shard
            path = os.path.join(folder, f"eval-{s:05d}-of-{shards:05d}.tfrecord")
            write_records(path, records[s::shards] if len(records) % shards == 0 else records,
                          total // shards)
            out[name].append(path)
    order = np.random.default_rng(0).permutation(count)   # ExampleGen reshuffles before writing
    for files in GZIP_FILES:
        folder = os.path.join(root, f"gzip_{files}")
        os.makedirs(folder)
        out[f"gzip_{files}"] = [os.path.join(folder, f"data_tfrecord-{s:05d}-of-{files:05d}.gz") for s in range(files)]
        for s, path in enumerate(out[f"gzip_{files}"]):
            write_gzip(path, records, order[s * count // files:(s + 1) * count // files])
    out["tiny"] = os.path.join(root, "tiny.tfrecord")
    write_records(out["tiny"], records, len(records))
    train = examples.Decoder().decode(list(examples.iter_records([paths["train"]]))[:200])["image"].astype("float32")
    out.update(tflite_pair(serving, root, "", train))
    out.update(tflite_pair(two_output_model(serving, os.path.join(root, "model_two_outputs")), root, "two_", train))
    return out


def run_loop(files: list[str], quant: str, ref: str) -> tuple[float, float]:
    """One process: tf.data reads and parses, LiteRT runs both models on batches of 256."""
    import tensorflow as tf  # pylint: disable=g-import-not-at-top
    spec = {"image": tf.io.FixedLenFeature([64], tf.float32), "label": tf.io.FixedLenFeature([1], tf.int64)}
    runners = []
    for path in (quant, ref):
        with open(path, "rb") as f:
            runners.append(litert.Runner(f.read(), "serving_default", 1))
    start, correct, n = time.perf_counter(), 0, 0
    dataset = tf.data.TFRecordDataset(files).batch(256).map(lambda x: tf.io.parse_example(x, spec))
    for batch in dataset.as_numpy_iterator():
        probs = [r({"image": batch["image"]})["probabilities"] for r in runners]
        correct += int(np.sum(np.argmax(probs[0], axis=1) == batch["label"][:, 0]))
        n += len(probs[0])
    return time.perf_counter() - start, correct / n


def job_of(quant: str, ref: str, threads: int, batch_size: int = 256) -> beam_job.Job:
    """Today's gate job: 10-class accuracy statistics with per-label slices."""
    score = scoring.ScoreSpec(metrics.Spec("classification", 10, PROBABILITIES, ()), "label",
                              PROBABILITIES, slice_features=("label",), references=(names.FLOAT_TFLITE,))
    return job_with(quant, ref, threads, score, batch_size)


def all_on_job(quant: str, ref: str, threads: int, batch_size: int = 256) -> beam_job.Job:
    """The two-output models scored on P_ZERO as a binary output, everything on: AUC histogram,
    thresholds 0.5 + THRESHOLDS, weighted by WEIGHT, per-label slices, PROBABILITIES compared."""
    score = scoring.ScoreSpec(metrics.Spec("classification", 2, PROBABILITIES, ()), BINARY_LABEL, P_ZERO,
                              slice_features=("label",), references=(names.FLOAT_TFLITE,),
                              other_outputs=(PROBABILITIES,),
                              binary=binary_scoring.BinarySpec(THRESHOLDS, weighted=True), weight_feature=WEIGHT)
    return job_with(quant, ref, threads, score, batch_size)


def default_batch(records: str, quant: str, ref: str) -> int:
    """The batch_size the EdgeEvaluator chooses by default (batch_size=None) for these models."""
    sample = next(tfrecord.read_interleaved(records, 0, 1, planning.FIRST_BATCH))
    models = tuple(planning.load_tflite(p, p, open(p, "rb").read(), "serving_default", "") for p in (quant, ref))
    return planning.auto_batch_size(sum(map(len, sample)) / len(sample), models)


def job_with(quant: str, ref: str, threads: int, score: scoring.ScoreSpec, batch_size: int) -> beam_job.Job:
    models = {names.QUANTIZED: (beam_job.TFLITE, quant), names.FLOAT_TFLITE: (beam_job.TFLITE, ref)}
    return beam_job.Job(models, "serving_default", {"image": "image"}, score, batch_size=batch_size,
                        num_threads=threads)


def read_costs(plain: list[str], gz: str, rounds: int) -> dict[str, float]:
    """Seconds to read every record in this process (tfrecord.read_interleaved, batches of 256;
    median of `rounds`, interleaved): the plain files whole, the GZIP file whole, the GZIP file
    as the job's units read it (GZIP_TARGET_UNITS interleaved shards of batches, each
    inflating the whole file) and inflating the GZIP file alone (1 MiB reads, no framing)."""
    import gzip  # pylint: disable=g-import-not-at-top
    from tfx_edge.components.core import tfrecord  # pylint: disable=g-import-not-at-top
    shards = beam_job.GZIP_TARGET_UNITS

    def records(batches) -> int:
        return sum(len(b) for b in batches)

    def inflate() -> int:
        with gzip.open(gz, "rb") as f:
            while f.read(1 << 20):
                pass
        return 0

    readers = {
        "plain files, whole": lambda: sum(records(tfrecord.read_interleaved(p, 0, 1, 256)) for p in plain),
        "GZIP file, whole": lambda: records(tfrecord.read_interleaved(gz, 0, 1, 256)),
        f"GZIP file, as the job's {shards} units": lambda: sum(
            records(tfrecord.read_interleaved(gz, s, shards, 256, by_batch=True)) for s in range(shards)),
        "GZIP file, inflate only": inflate,
    }
    times: dict[str, list[float]] = {name: [] for name in readers}
    for _ in range(rounds):
        for name, read in readers.items():
            start = time.perf_counter()
            read()
            times[name].append(time.perf_counter() - start)
    return {name: statistics.median(t) for name, t in times.items()}


def example_costs(data: dict, rounds: int) -> dict[str, float]:
    """Microseconds per example in this process, 1 LiteRT thread, over 4,096 examples in batches
    of 256 (and 1024; median of `rounds`): decoding, each pair's LiteRT invokes, each job's
    statistics (scoring.all_outputs_stats, what a worker runs per batch)."""
    records, total = data["records"], 4096
    pairs: dict[str, dict[str, litert.Runner]] = {}
    for prefix in ("", "two_"):
        pairs[prefix] = {}
        for role, kind in ((names.QUANTIZED, "int8"), (names.FLOAT_TFLITE, "float")):
            with open(data[f"{prefix}{kind}"], "rb") as f:
                pairs[prefix][role] = litert.Runner(f.read(), "serving_default", 1)
    decoder = examples.Decoder()
    batches, features, outputs = {}, {}, {}
    for size in (256, 1024):
        batches[size] = [[records[(b * size + i) % len(records)] for i in range(size)] for b in range(total // size)]
        features[size] = [decoder.decode(b) for b in batches[size]]
        outputs[size] = {p: [{m: r({"image": f["image"]}) for m, r in runners.items()} for f in features[size]]
                         for p, runners in pairs.items()}

    def invoke(prefix: str, size: int):
        return lambda: [{m: r({"image": f["image"]}) for m, r in pairs[prefix].items()} for f in features[size]]

    def stats(spec: scoring.ScoreSpec, prefix: str, size: int):
        return lambda: [scoring.all_outputs_stats(f, o, spec) for f, o in zip(features[size], outputs[size][prefix])]

    today, on = job_of("", "", 1).score, all_on_job("", "", 1).score
    steps = {
        "decode (tfx-bsl), batches of 256": lambda: [decoder.decode(b) for b in batches[256]],
        "LiteRT, today's pair, 256": invoke("", 256),
        "LiteRT, two-output pair, 256": invoke("two_", 256),
        "LiteRT, two-output pair, 1024": invoke("two_", 1024),
        "statistics, today's job, 256": stats(today, "", 256),
        "statistics, all on, 256": stats(on, "two_", 256),
        "statistics, today's job, 1024": stats(today, "", 1024),
        "statistics, all on, 1024": stats(on, "two_", 1024),
    }
    times: dict[str, list[float]] = {name: [] for name in steps}
    for _ in range(rounds):
        for name, step in steps.items():
            start = time.perf_counter()
            step()
            times[name].append((time.perf_counter() - start) / total * 1e6)
    return {name: statistics.median(t) for name, t in times.items()}


@contextlib.contextmanager
def dask_cluster(workers: int):
    """A dask.distributed LocalCluster of `workers` processes, 1 thread each."""
    from dask.distributed import LocalCluster  # pylint: disable=g-import-not-at-top
    with LocalCluster(n_workers=workers, threads_per_worker=1, processes=True, dashboard_address=None) as cluster:
        yield ["--runner=apache_beam.runners.dask.dask_runner.DaskRunner",
               f"--dask_client_address={cluster.scheduler_address}"]


def run_ours(files: list[str], job: beam_job.Job, out: str, argv: list[str]) -> tuple[float, dict]:
    start = time.perf_counter()
    pipeline = beam.Pipeline(argv=argv)
    beam_job.build(pipeline, files, job, out)
    result = pipeline.run()
    result.wait_until_finish()
    seconds = time.perf_counter() - start
    if getattr(result, "client", None) is not None:   # DaskRunner's client to the cluster
        result.client.close()
    return seconds, beam_job.read_summary(out)


def run_tfma(files: list[str], quant: str, ref: str, root: str) -> tuple[float, float]:
    """Stock TFMA evaluating the int8 TFLite against the float32 TFLite as its baseline."""
    import tensorflow_model_analysis as tfma  # pylint: disable=g-import-not-at-top
    dirs = {}
    for name, path in (("candidate", quant), ("baseline", ref)):
        dirs[name] = os.path.join(root, f"tfma_{name}")
        os.makedirs(dirs[name], exist_ok=True)
        with open(path, "rb") as src, open(os.path.join(dirs[name], "tflite"), "wb") as dst:
            dst.write(src.read())   # TFMA reads <dir>/tflite
    from tensorflow_model_analysis.proto import config_pb2 as cfg  # pylint: disable=g-import-not-at-top
    eval_config = cfg.EvalConfig(   # (this TFMA build's package face does not export the protos)
        model_specs=[cfg.ModelSpec(name="candidate", model_type=tfma.TF_LITE, label_key="label"),
                     cfg.ModelSpec(name="baseline", model_type=tfma.TF_LITE, label_key="label", is_baseline=True)],
        slicing_specs=[cfg.SlicingSpec()],
        metrics_specs=[cfg.MetricsSpec(metrics=[cfg.MetricConfig(class_name="SparseCategoricalAccuracy")])])
    models = [tfma.default_eval_shared_model(eval_saved_model_path=dirs[n], model_name=n, eval_config=eval_config)
              for n in ("candidate", "baseline")]
    start = time.perf_counter()
    result = tfma.run_model_analysis(
        eval_shared_model=models, eval_config=eval_config,
        data_location=os.path.join(os.path.dirname(files[0]), "eval-*.tfrecord"),
        output_path=os.path.join(root, "tfma_out"))
    seconds = time.perf_counter() - start
    results = result.get_results()
    candidate = next((r for r in results if str(getattr(r, "model_location", "")).endswith("tfma_candidate")),
                     results[0])   # model_specs order: the candidate first
    return seconds, candidate.slicing_metrics[0][1][""][""]["sparse_categorical_accuracy"]["doubleValue"]


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = common.parser(__doc__)
    parser.add_argument("--examples", type=int, help="records for our jobs and the loop (default 1,000,000)")
    parser.add_argument("--tfma-examples", type=int, help="records for TFMA (default 200,000)")
    parser.add_argument("--shards", type=int, default=4)
    parser.add_argument("--rounds", type=int, default=1, help="median of this many interleaved runs (TFMA: 1)")
    parser.add_argument("--pair-rounds", type=int, help="interleaved rounds of the side-by-side jobs (today's "
                        "job, all on, GZIP, default batch; 2 workers): default 3, --quick 1; at least --rounds")
    args = parser.parse_args(argv)
    args.examples = args.examples or (1 if args.quick else 1_000_000)   # rounded up to whole copies
    args.tfma_examples = args.tfma_examples or (1 if args.quick else 200_000)
    args.pair_rounds = max(args.rounds, args.pair_rounds or (1 if args.quick else 3))
    return args


# Measured side by side with today's job (DirectRunner, 2 workers) in every round, the order rotated.
SIDE = ("direct_2", "all_on_2", "two_off_2", "gzip1_2", "gzip4_2", "direct_2_auto", "all_on_2_auto")


def _cpu_s() -> float:
    """CPU seconds of this process and of its reaped children (the DirectRunner's and Dask's
    worker processes are children): unlike wall time, not inflated by other load on the host."""
    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    whole = DIGITS * args.shards
    count = -(-args.examples // whole) * whole
    tfma_count = -(-args.tfma_examples // whole) * whole
    with tempfile.TemporaryDirectory(prefix="tfx-edge-evalbench-") as root:
        data = prepare(root, count, tfma_count, args.shards, 50 if args.quick else 300)
        quant, ref, files = data["int8"], data["float"], data["files"]
        two_quant, two_ref = data["two_int8"], data["two_float"]
        one, two = job_of(quant, ref, 1), job_of(quant, ref, 2)
        auto = default_batch(files[0], two_quant, two_ref)

        def out(name: str) -> str:
            return os.path.join(root, f"{name}.json")

        def dask(workers: int, files_=files, name="dask"):
            def run():
                with dask_cluster(workers) as options:
                    return run_ours(files_, one, out(f"{name}{workers}"), options)
            return run

        def on_2(name: str, job: beam_job.Job, files_=files):
            return lambda: run_ours(files_, job, out(name), direct_workers(2))

        scorers = {
            "loop": lambda: run_loop(files, quant, ref),
            "in_process": lambda: run_ours(files, two, out("in_process"), IN_PROCESS),
            "direct_2": on_2("direct_2", one),
            "all_on_2": on_2("all_on_2", all_on_job(two_quant, two_ref, 1)),
            "two_off_2": on_2("two_off_2", job_of(two_quant, two_ref, 1)),
            **{f"gzip{n}_2": on_2(f"gzip{n}_2", one, data[f"gzip_{n}"]) for n in GZIP_FILES},
            "direct_2_auto": on_2("direct_2_auto", job_of(quant, ref, 1, auto)),
            "all_on_2_auto": on_2("all_on_2_auto", all_on_job(two_quant, two_ref, 1, auto)),
            "dask_2": dask(2),
            "direct_1": lambda: run_ours(files, one, out("direct_1"), direct_workers(1)),
            "dask_1": dask(1),
        }
        runs: dict[str, list[tuple[float, Any]]] = {name: [] for name in scorers}
        cpu: dict[str, list[float]] = {name: [] for name in scorers}
        for r in range(args.pair_rounds):    # interleaved rounds: the machine may be shared
            side = list(SIDE[r % len(SIDE):] + SIDE[:r % len(SIDE)])
            order = [n for n in scorers if n not in SIDE or n == SIDE[0]] if r < args.rounds else [SIDE[0]]
            for name in [m for n in order for m in (side if n == SIDE[0] else [n])]:
                before = _cpu_s()
                runs[name].append(scorers[name]())
                cpu[name].append(_cpu_s() - before)
                print(f"  round {r + 1} {name}: {runs[name][-1][0]:.1f} s, {cpu[name][-1]:.1f} CPU-s "
                      f"(load {os.getloadavg()[0]:.2f})", file=sys.stderr, flush=True)
        tiny = [data["tiny"]]
        fixed = {"DirectRunner in-process": run_ours(tiny, one, out("t0"), IN_PROCESS)[0],
                 "DirectRunner 2 workers": run_ours(tiny, one, out("t1"), direct_workers(2))[0],
                 "DaskRunner 2 workers (fresh cluster)": dask(2, tiny, "t2")()[0]}
        costs = example_costs(data, 3 if args.quick else 5)
        reads = read_costs(files, data["gzip_1"][0], 1 if args.quick else 3)
        sizes = {"plain": sum(os.path.getsize(f) for f in files),
                 **{f"gzip_{n}": sum(os.path.getsize(f) for f in data[f"gzip_{n}"]) for n in GZIP_FILES}}
        units = {"plain": len(beam_job.units(files)),
                 **{f"gzip_{n}": len(beam_job.units(data[f"gzip_{n}"])) for n in GZIP_FILES}}
        tfma = run_tfma(data["tfma"], quant, ref, root)
    return report(runs, cpu, tfma, fixed, count, tfma_count, args,
                  {"costs": costs, "reads": reads, "sizes": sizes, "units": units, "default_batch": auto})


LABELS = {
    "loop": "loop: tf.data + batched LiteRT, both models, 1 thread",
    "in_process": "ours, DirectRunner in-process, 2 LiteRT threads",
    "direct_2": "ours, DirectRunner, 2 worker processes",
    "all_on_2": "ours, all on (binary P(0): AUC, 3 thresholds, weights, 2nd output compared), 2 workers",
    "two_off_2": "ours, the all-on two-output models, today's statistics, 2 workers",
    "gzip1_2": "ours, GZIP: 1 file (ExampleGen on 1 DirectRunner worker), 2 workers",
    "gzip4_2": "ours, GZIP: 4 files (ExampleGen on 4 workers), 2 workers",
    "direct_2_auto": "ours, today's job at the default batch_size (chosen), 2 workers",
    "all_on_2_auto": "ours, all on at the default batch_size (chosen), 2 workers",
    "dask_2": "ours, DaskRunner, LocalCluster of 2 worker processes",
    "direct_1": "ours, DirectRunner, 1 worker process",
    "dask_1": "ours, DaskRunner, LocalCluster of 1 worker process",
}
RUNNERS = ("in_process", "direct_2", "dask_2", "direct_1", "dask_1")   # today's job on the plain files


def report(runs: dict, cpu: dict, tfma: tuple[float, float], fixed: dict, n: int, tfma_n: int,
           args: argparse.Namespace, extra: dict) -> int:
    seconds = {name: statistics.median(s for s, _ in r) for name, r in runs.items()}
    rate = {name: n / s for name, s in seconds.items()}
    tfma_rate = tfma_n / tfma[0]
    summaries = {name: r[0][1] for name, r in runs.items() if name != "loop"}
    binary_jobs = ("all_on_2", "all_on_2_auto")   # their scored output is P(class 0): see the all-on lines
    accuracy = {name: s["slices"][""]["metrics"][names.QUANTIZED]["accuracy"]
                for name, s in summaries.items() if name not in binary_jobs}
    accuracy["loop"] = runs["loop"][0][1]
    rows = [["stock TFMA, candidate + baseline tf_lite", tfma_n, tfma[0], tfma_rate, 1.0, tfma[1]]]
    rows += [[LABELS[name], n, seconds[name], rate[name], rate[name] / tfma_rate,
              accuracy.get(name, "(binary)")]
             for name in ("loop", "in_process", *SIDE, "dask_2")]
    print(f"\nint8 + float32 reference on every example ({os.cpu_count()} cores; 2-worker rows: median of "
          f"{args.pair_rounds} interleaved rounds):")
    print(common.table(["scorer", "examples", "seconds", "examples/s", "x TFMA", "int8 accuracy"], rows))

    # Side by side with today's job: the same records, runner and rounds; ratios per round, then the median.
    def paired(name: str, values: dict) -> float:
        return statistics.median(t / o for t, o in zip(values["direct_2"], values[name]))
    wall = {name: [s for s, _ in r] for name, r in runs.items()}
    side = {name: {"wall": paired(name, wall), "cpu": paired(name, cpu)} for name in SIDE}
    side_rows = [[LABELS[name].replace("ours, ", ""), len(runs[name]), rate[name], side[name]["wall"],
                  statistics.median(cpu[name]) / n * 1e6, side[name]["cpu"],
                  " ".join(f"{s:.1f}" for s in wall[name])] for name in SIDE]
    print(f"\nside by side with today's job (DirectRunner, 2 workers, {args.pair_rounds} interleaved rounds; x today: "
          f"median over rounds of today's seconds / this job's, wall and CPU; CPU-us: the driver's and workers' CPU "
          f"per example):")
    print(common.table(["job", "rounds", "examples/s", "x today", "CPU-us/example", "x today (CPU)",
                        "seconds per round"], side_rows))
    on = summaries["all_on_2"]
    overall = on["slices"][""]["metrics"][names.QUANTIZED]
    other = on["other_outputs"][PROBABILITIES][names.FLOAT_TFLITE]
    binary = {k: overall[k] for k in ("auc", "auc_precision_recall", "binary_accuracy", "precision", "recall",
                                      *(f"{m}@{t}" for t in THRESHOLDS for m in ("precision", "recall")),
                                      "calibration", "example_count", "weighted_example_count") if k in overall}
    print("all on, int8 overall: " + ", ".join(f"{k} {v:.4g}" if isinstance(v, float) else f"{k} {v}"
                                               for k, v in binary.items())
          + f"; {PROBABILITIES} vs float32: agreement {other['agreement']:.4f}, relative RMS difference "
          f"{other['relative_rms_difference']:.4f}; slices {len(on['slices'])}; the default batch gives the same "
          f"metrics (to 1e-9): {_same_metrics(on, summaries['all_on_2_auto'])}")

    costs = extra["costs"]
    print("\nper example in one process, 1 LiteRT thread (us; median of rounds over 4,096 examples):")
    print(common.table(["step", "us per example"], [[k, v] for k, v in costs.items()]))

    reads, sizes, units = extra["reads"], extra["sizes"], extra["units"]
    gz_rows = [["plain: 4 files, byte ranges", sizes["plain"] / 2**20, units["plain"], 1,
                rate["direct_2"], 1.0, statistics.median(cpu["direct_2"]) / n * 1e6, 1.0]]
    for files in GZIP_FILES:
        name = f"gzip{files}_2"
        gz_rows.append([f"GZIP: {files} file(s)", sizes[f"gzip_{files}"] / 2**20, units[f"gzip_{files}"],
                        units[f"gzip_{files}"] // files, rate[name], side[name]["wall"],
                        statistics.median(cpu[name]) / n * 1e6, side[name]["cpu"]])
    print("\nGZIP vs plain, today's job, DirectRunner 2 workers (x plain: median of per-round ratios):")
    print(common.table(["files", "MB", "units", "reads of each file", "examples/s", "x plain", "CPU-us/example",
                        "x plain (CPU)"], gz_rows))
    print(f"\nreading the {n:,} records in one process (tfrecord.read_interleaved, median):")
    print(common.table(["reader", "seconds", "us per record"], [[k, v, v / n * 1e6] for k, v in reads.items()]))
    job_read_us = reads[f"GZIP file, as the job's {beam_job.GZIP_TARGET_UNITS} units"] / n * 1e6
    plain_us = reads["plain files, whole"] / n * 1e6
    cpu_us = statistics.median(cpu["direct_2"]) / n * 1e6
    print(f"GZIP, 1 file: its {units['gzip_1']} units read {job_read_us:.2f} us per record in all vs "
          f"{plain_us:.2f} plain (inflate alone {reads['GZIP file, inflate only'] / n * 1e6:.2f} us per pass): "
          f"+{job_read_us - plain_us:.2f} on {cpu_us:.1f} CPU-us per example predicts "
          f"{cpu_us / (cpu_us + job_read_us - plain_us):.2f}x plain")

    scale = [[runner, rate[f"{key}_1"], rate[f"{key}_2"], rate[f"{key}_2"] / rate[f"{key}_1"]]
             for runner, key in (("DirectRunner (multi_processing)", "direct"), ("DaskRunner (LocalCluster)", "dask"))]
    print("\n1 vs 2 worker processes, 1 LiteRT thread each:")
    print(common.table(["runner", "1 worker ex/s", "2 workers ex/s", "speed-up"], scale))

    workers = []
    for name in ("direct_1", "direct_2", "all_on_2", "gzip1_2", "gzip4_2", "dask_1", "dask_2", "in_process"):
        for w in summaries[name]["workers"]:
            workers.append([name, w["worker"], w["process_uptime_s"], w["import_s"], w["setup_s"], w["units"],
                            w["examples"], w["busy_s"], w["peak_rss_mb"], w["tensorflow_imported"]])
    print("\nworkers (process up: seconds since the process started, at set-up; imports/setup: what the "
          "scoring adds to the runner's start-up; busy: seconds in units, summed over a worker's concurrent "
          "bundles; RSS: peak, VmHWM):")
    print(common.table(["run", "worker", "process up s", "imports s", "setup s", "units", "examples",
                        "busy s", "peak RSS MB", "TF"], workers))
    print("\nfixed cost, a job over 360 records:")
    print(common.table(["runner", "seconds"], [[k, v] for k, v in fixed.items()]))

    differ = [name for name in RUNNERS if _bare(summaries[name]) != _bare(summaries["direct_2"])]
    identical = not differ
    for name in differ:
        where = _first_difference(summaries["direct_2"], summaries[name])
        print(f"statistics of {name} differ from direct_2's, e.g. at {where}")
    same_as_plain = {name: _same_metrics(summaries["direct_2"], summaries[name])
                     for name in ("gzip1_2", "gzip4_2", "direct_2_auto")}
    best = max(rate[name] for name in ("in_process", "direct_2", "dask_2"))
    dist = [w for name in ("direct_1", "direct_2", "dask_1", "dask_2") for w in summaries[name]["workers"]]
    startup = max(w["import_s"] + w["setup_s"] for w in dist)
    rss = max(w["peak_rss_mb"] for w in dist)
    print(f"\ngate's job, best of ours: {best / tfma_rate:.1f}x TFMA (target >= 15x at 1,000,000 examples; "
          f"here {n:,}); 2 vs 1 workers: DirectRunner {scale[0][3]:.2f}x, Dask {scale[1][3]:.2f}x (target >= 1.7x); "
          f"worker start-up beyond the runner's <= {startup:.2f} s (target < 1 s); peak RSS per worker <= "
          f"{rss:.0f} MB (target < 500 MB); TensorFlow in a worker: {any(w['tensorflow_imported'] for w in dist)}; "
          f"identical statistics on every runner: {identical}; int8 accuracy equal everywhere: "
          f"{len({round(a, 6) for a in [*accuracy.values(), tfma[1]]}) == 1}")
    print(f"all on vs today's job (2 workers): {side['all_on_2']['wall']:.2f}x wall, {side['all_on_2']['cpu']:.2f}x "
          f"CPU (target >= 0.9x at 1,000,000 examples; here {n:,}); the statistics' own cost (all on vs the same "
          f"models with today's statistics): {side['all_on_2']['wall'] / side['two_off_2']['wall']:.2f}x; at "
          f"the default batch_size ({extra['default_batch']}): "
          f"{side['all_on_2_auto']['wall']:.2f}x wall, {side['all_on_2_auto']['cpu']:.2f}x CPU; "
          f"GZIP 1 file {side['gzip1_2']['wall']:.2f}x "
          f"plain, 4 files {side['gzip4_2']['wall']:.2f}x; metrics equal to direct_2's (to 1e-9): {same_as_plain}")
    print("wrote", common.write("evaluator", {
        "examples": n, "tfma_examples": tfma_n, "pair_rounds": args.pair_rounds,
        "default_batch_size": extra["default_batch"],
        "rows": [{"scorer": r[0], "examples": r[1], "seconds": r[2], "examples_per_s": r[3], "x_tfma": r[4],
                  "int8_accuracy": r[5]} for r in rows],
        "side_by_side": {name: {"label": LABELS[name], "examples_per_s": rate[name],
                                "x_today_wall": side[name]["wall"], "x_today_cpu": side[name]["cpu"],
                                "cpu_us_per_example": statistics.median(cpu[name]) / n * 1e6} for name in SIDE},
        "all_on": {"binary_metrics_int8": binary, "other_output": other, "slices": len(on["slices"])},
        "per_example_us": costs,
        "gzip": {"sizes_bytes": sizes, "units": units, "read_s": reads,
                 "writer": "beam CompressedFile (WriteToTFRecord, '.gz'): zlib Z_DEFAULT_COMPRESSION (6)"},
        "same_metrics_as_direct_2": same_as_plain,
        "scaling": [{"runner": r[0], "one_worker": r[1], "two_workers": r[2], "speedup": r[3]} for r in scale],
        "workers": {name: summaries[name]["workers"] for name in summaries},
        "fixed_cost_s": fixed, "best_vs_tfma": best / tfma_rate, "identical_statistics": identical,
        "all_runs_s": wall, "all_runs_cpu_s": cpu}, args))
    return 0 if identical and all(same_as_plain.values()) else 1


def _bare(summary: dict) -> str:
    return json.dumps({k: v for k, v in summary.items() if k != "workers"}, sort_keys=True)


def _first_difference(a: Any, b: Any, path: str = "") -> str | None:
    if isinstance(a, dict) and isinstance(b, dict):
        for k in sorted(set(a) | set(b), key=str):
            if k != "workers" and (found := _first_difference(a.get(k), b.get(k), f"{path}/{k}")):
                return found
        return None
    if isinstance(a, list) and isinstance(b, list) and len(a) == len(b):
        return next((f for i, (x, y) in enumerate(zip(a, b)) if (f := _first_difference(x, y, f"{path}[{i}]"))), None)
    same = a == b or (isinstance(a, float) and isinstance(b, float) and math.isnan(a) and math.isnan(b))
    return None if same else f"{path}: {a!r} vs {b!r}"


def _same_metrics(a: dict, b: dict, tolerance: float = 1e-9) -> bool:
    """The same examples and metrics (floats to `tolerance`, relative): units summed in another
    grouping change float sums in their last bits."""
    def equal(x, y) -> bool:
        if isinstance(x, dict) and isinstance(y, dict):
            return x.keys() == y.keys() and all(equal(x[k], y[k]) for k in x)
        if isinstance(x, list) and isinstance(y, list):
            return len(x) == len(y) and all(equal(u, v) for u, v in zip(x, y))
        if isinstance(x, float) and isinstance(y, float):
            return math.isclose(x, y, rel_tol=tolerance, abs_tol=tolerance) or (math.isnan(x) and math.isnan(y))
        return x == y
    return equal({k: v for k, v in a.items() if k != "workers"}, {k: v for k, v in b.items() if k != "workers"})


if __name__ == "__main__":
    sys.exit(main())
