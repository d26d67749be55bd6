"""EdgeEvaluator's scoring job (int8 + its float32 reference, what the gate runs) vs stock TFMA
vs a plain loop, on DirectRunner and on a real distributed engine (Dask), one run.

    .venv/bin/python -m bench.evaluator_bench [--examples 1000000] [--tfma-examples 200000]
                                              [--shards 4] [--rounds 1] [--quick] [--out DIR]

The eval digits are repeated to --examples records in --shards plain files (as ExampleGen
shards a split; counts are rounded up to whole copies of the 360 eval digits so that every
scorer sees the same accuracy). Every scorer runs both models on every example:
  * stock TFMA: tfma.run_model_analysis, candidate and baseline both model_type tf_lite,
    DirectRunner, on the first --tfma-examples records (it is slow: compared per example);
  * loop: one process, tf.data parse_example + batched LiteRT invokes (1 thread) of both
    models, accuracy only: what decode + inference cost without Beam or statistics;
  * ours: the EdgeEvaluator's Beam job (TF-free reading, tfx-bsl decoding, full statistics
    with per-label slices) on the DirectRunner in-process (2 LiteRT threads), on 2 DirectRunner
    worker processes (multi_processing) and on the DaskRunner against a dask.distributed
    LocalCluster of 2 worker processes started here (1 LiteRT thread per worker).
Then 1 worker vs 2 workers (1 LiteRT thread each) on both runners, the fixed cost of each
runner (a job over 360 records), and each worker's start-up, peak RSS and work. Worker
start-up is inside every timing (DirectRunner starts its workers per job; each Dask round
gets a fresh cluster, started before the clock). All jobs must give identical statistics.
--quick: 1,440 records for every scorer (TFMA included), a model trained 50 steps.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
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
from tfx_edge.components.core import examples, litert, metrics, scoring
from tfx_edge.components.edge_evaluator import beam_job
from tfx_edge.schemas import CalibrationConfig, Mode, QuantizationConfig
from tfx_edge.schemas import names

DIGITS = 360   # eval records of the demo split

IN_PROCESS = ["--direct_num_workers=1"]


def direct_workers(n: int) -> list[str]:
    return ["--direct_running_mode=multi_processing", f"--direct_num_workers={n}"]


def write_records(path: str, records: list[bytes], count: int) -> None:
    import tensorflow as tf  # pylint: disable=g-import-not-at-top
    with tf.io.TFRecordWriter(path) as writer:
        for i in range(count):
            writer.write(records[i % len(records)])


def prepare(root: str, count: int, tfma_count: int, shards: int, steps: int) -> dict:
    from tfx_edge.components.core import convert  # pylint: disable=g-import-not-at-top
    from tfx_edge.pipelines import demo_data, digits_model  # pylint: disable=g-import-not-at-top
    paths = demo_data.write(os.path.join(root, "data"))
    serving = os.path.join(root, "model")
    digits_model.train(paths["train"], paths["eval"], serving, steps=steps)
    records = list(examples.iter_records([paths["eval"]]))
    out: dict[str, Any] = {"files": [], "tfma": []}
    for name, total in (("files", count), ("tfma", tfma_count)):
        folder = os.path.join(root, name)
        os.makedirs(folder)
        for s in range(shards):   # shard s holds records s, s + shards, ...: whole copies per shard
            path = os.path.join(folder, f"eval-{s:05d}-of-{shards:05d}.tfrecord")
            write_records(path, records[s::shards] if len(records) % shards == 0 else records,
                          total // shards)
            out[name].append(path)
    out["tiny"] = os.path.join(root, "tiny.tfrecord")
    write_records(out["tiny"], records, len(records))
    train = examples.Decoder().decode(list(examples.iter_records([paths["train"]]))[:200])
    config = QuantizationConfig(mode=Mode.INT8, calibration=CalibrationConfig(num_samples=200))
    for name, data in (("int8", convert.convert(serving, config, {"image": train["image"].astype("float32")})),
                       ("float", convert.convert_float(serving, "serving_default"))):
        out[name] = os.path.join(root, f"{name}.tflite")
        with open(out[name], "wb") as f:
            f.write(data)
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


def job_of(quant: str, ref: str, threads: int) -> beam_job.Job:
    score = scoring.ScoreSpec(metrics.Spec("classification", 10, "probabilities", ()), "label",
                              "probabilities", slice_features=("label",), references=(names.FLOAT_TFLITE,))
    models = {names.QUANTIZED: (beam_job.TFLITE, quant), names.FLOAT_TFLITE: (beam_job.TFLITE, ref)}
    return beam_job.Job(models, "serving_default", {"image": "image"}, score, batch_size=256, num_threads=threads)


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
    args = parser.parse_args(argv)
    args.examples = args.examples or (1 if args.quick else 1_000_000)   # rounded up to whole copies
    args.tfma_examples = args.tfma_examples or (1 if args.quick else 200_000)
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    whole = DIGITS * args.shards
    count = -(-args.examples // whole) * whole
    tfma_count = -(-args.tfma_examples // whole) * whole
    with tempfile.TemporaryDirectory(prefix="tfx-edge-evalbench-") as root:
        data = prepare(root, count, tfma_count, args.shards, 50 if args.quick else 300)
        quant, ref, files = data["int8"], data["float"], data["files"]
        one, two = job_of(quant, ref, 1), job_of(quant, ref, 2)

        def out(name: str) -> str:
            return os.path.join(root, f"{name}.json")

        def dask(workers: int, files_=files, name="dask"):
            def run():
                with dask_cluster(workers) as options:
                    return run_ours(files_, one, out(f"{name}{workers}"), options)
            return run

        scorers = {
            "loop": lambda: run_loop(files, quant, ref),
            "in_process": lambda: run_ours(files, two, out("in_process"), IN_PROCESS),
            "direct_2": lambda: run_ours(files, one, out("direct_2"), direct_workers(2)),
            "dask_2": dask(2),
            "direct_1": lambda: run_ours(files, one, out("direct_1"), direct_workers(1)),
            "dask_1": dask(1),
        }
        runs: dict[str, list[tuple[float, Any]]] = {name: [] for name in scorers}
        for _ in range(args.rounds):         # interleaved rounds: the machine may be shared
            for name, scorer in scorers.items():
                runs[name].append(scorer())
                print(f"  {name}: {runs[name][-1][0]:.1f} s", file=sys.stderr, flush=True)
        tiny = [data["tiny"]]
        fixed = {"DirectRunner in-process": run_ours(tiny, one, out("t0"), IN_PROCESS)[0],
                 "DirectRunner 2 workers": run_ours(tiny, one, out("t1"), direct_workers(2))[0],
                 "DaskRunner 2 workers (fresh cluster)": dask(2, tiny, "t2")()[0]}
        tfma = run_tfma(data["tfma"], quant, ref, root)
    return report(runs, tfma, fixed, count, tfma_count, args)


LABELS = {
    "loop": "loop: tf.data + batched LiteRT, both models, 1 thread",
    "in_process": "ours, DirectRunner in-process, 2 LiteRT threads",
    "direct_2": "ours, DirectRunner, 2 worker processes",
    "dask_2": "ours, DaskRunner, LocalCluster of 2 worker processes",
    "direct_1": "ours, DirectRunner, 1 worker process",
    "dask_1": "ours, DaskRunner, LocalCluster of 1 worker process",
}


def report(runs: dict, tfma: tuple[float, float], fixed: dict, n: int, tfma_n: int, args: argparse.Namespace) -> int:
    seconds = {name: statistics.median(s for s, _ in r) for name, r in runs.items()}
    rate = {name: n / s for name, s in seconds.items()}
    tfma_rate = tfma_n / tfma[0]
    summaries = {name: r[0][1] for name, r in runs.items() if name != "loop"}
    accuracy = {name: s["slices"][""]["metrics"][names.QUANTIZED]["accuracy"] for name, s in summaries.items()}
    accuracy["loop"] = runs["loop"][0][1]
    rows = [["stock TFMA, candidate + baseline tf_lite", tfma_n, tfma[0], tfma_rate, 1.0, tfma[1]]]
    rows += [[LABELS[name], n, seconds[name], rate[name], rate[name] / tfma_rate, accuracy[name]]
             for name in ("loop", "in_process", "direct_2", "dask_2")]
    print(f"\nint8 + float32 reference on every example ({os.cpu_count()} cores):")
    print(common.table(["scorer", "examples", "seconds", "examples/s", "x TFMA", "int8 accuracy"], rows))

    scale = [[runner, rate[f"{key}_1"], rate[f"{key}_2"], rate[f"{key}_2"] / rate[f"{key}_1"]]
             for runner, key in (("DirectRunner (multi_processing)", "direct"), ("DaskRunner (LocalCluster)", "dask"))]
    print("\n1 vs 2 worker processes, 1 LiteRT thread each:")
    print(common.table(["runner", "1 worker ex/s", "2 workers ex/s", "speed-up"], scale))

    workers = []
    for name in ("direct_1", "direct_2", "dask_1", "dask_2", "in_process"):
        for w in summaries[name]["workers"]:
            workers.append([LABELS[name].replace("ours, ", ""), w["worker"], w["process_uptime_s"],
                            w["import_s"], w["setup_s"], w["units"], w["examples"], w["busy_s"],
                            w["peak_rss_mb"], w["tensorflow_imported"]])
    print("\nworkers (process up: seconds since the process started, at set-up; imports/setup: what the "
          "scoring adds to the runner's start-up; RSS: peak, VmHWM):")
    print(common.table(["run", "worker", "process up s", "imports s", "setup s", "units", "examples",
                        "busy s", "peak RSS MB", "TF"], workers))
    print("\nfixed cost, a job over 360 records:")
    print(common.table(["runner", "seconds"], [[k, v] for k, v in fixed.items()]))

    bare = {name: json.dumps({k: v for k, v in s.items() if k != "workers"}, sort_keys=True)
            for name, s in summaries.items()}
    identical = len(set(bare.values())) == 1
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
    print("wrote", common.write("evaluator", {
        "examples": n, "tfma_examples": tfma_n,
        "rows": [{"scorer": r[0], "examples": r[1], "seconds": r[2], "examples_per_s": r[3], "x_tfma": r[4],
                  "int8_accuracy": r[5]} for r in rows],
        "scaling": [{"runner": r[0], "one_worker": r[1], "two_workers": r[2], "speedup": r[3]} for r in scale],
        "workers": {name: summaries[name]["workers"] for name in summaries},
        "fixed_cost_s": fixed, "best_vs_tfma": best / tfma_rate, "identical_statistics": identical,
        "all_runs_s": {name: [s for s, _ in r] for name, r in runs.items()}}, args))
    return 0 if identical else 1


if __name__ == "__main__":
    sys.exit(main())
