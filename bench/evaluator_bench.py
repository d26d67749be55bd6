"""EdgeEvaluator's Beam scoring vs stock TFMA (model_type tf_lite) vs a plain loop, one run.

    .venv/bin/python -m bench.evaluator_bench [--examples 200000] [--shards 4] [--rounds 3]

The eval digits are repeated to --examples records in --shards files (as
ExampleGen shards a split). Every scorer evaluates the same int8 TFLite model
on the same records and must report the same accuracy:
  * loop: one process, tf.data parse_example + batched LiteRT invokes (1 thread),
    no metrics beyond accuracy: the ceiling for decode + inference;
  * TFMA: stock tfma.run_model_analysis, model_type tf_lite, DirectRunner;
  * ours: the EdgeEvaluator's Beam job (tfx-bsl decoding, explicit input mapping,
    full metric statistics) on DirectRunner, in one process with 1 or 2 LiteRT
    threads, and on 2 worker processes (multi_processing, start-up included).
A last row runs what the gate runs by default: int8 plus its float32 reference
(two models per example).
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time

import apache_beam as beam
import numpy as np
import tensorflow as tf

from bench import common
from tfx_edge.components.core import convert, examples, litert, metrics, scoring
from tfx_edge.components.edge_evaluator import beam_job
from tfx_edge.schemas import CalibrationConfig, Mode, QuantizationConfig
from tfx_edge.schemas import names


def prepare(root: str, count: int, shards: int) -> tuple[list[str], str, str]:
    from tfx_edge.pipelines import demo_data, digits_model  # pylint: disable=g-import-not-at-top
    paths = demo_data.write(os.path.join(root, "data"))
    serving = os.path.join(root, "model")
    digits_model.train(paths["train"], paths["eval"], serving, steps=300)
    records = list(examples.iter_records([paths["eval"]]))
    files = [os.path.join(root, f"eval-{s:05d}-of-{shards:05d}.tfrecord") for s in range(shards)]
    writers = [tf.io.TFRecordWriter(f) for f in files]
    for i in range(count):
        writers[i % shards].write(records[i % len(records)])
    for w in writers:
        w.close()
    train = examples.Decoder().decode(list(examples.iter_records([paths["train"]]))[:200])
    config = QuantizationConfig(mode=Mode.INT8, calibration=CalibrationConfig(num_samples=200))
    models = {}
    for name, data in (("int8", convert.convert(serving, config, {"image": train["image"].astype("float32")})),
                       ("float", convert.convert_float(serving, "serving_default"))):
        models[name] = os.path.join(root, f"{name}.tflite")
        with open(models[name], "wb") as f:
            f.write(data)
    return files, models["int8"], models["float"]


def run_loop(files: list[str], quant: str) -> tuple[float, float]:
    """One process: tf.data reads and parses, LiteRT runs batches of 256."""
    spec = {"image": tf.io.FixedLenFeature([64], tf.float32), "label": tf.io.FixedLenFeature([1], tf.int64)}
    runner = litert.Runner(open(quant, "rb").read(), "serving_default", 1)
    start, correct, n = time.perf_counter(), 0, 0
    dataset = tf.data.TFRecordDataset(files).batch(256).map(lambda x: tf.io.parse_example(x, spec))
    for batch in dataset.as_numpy_iterator():
        probs = runner({"image": batch["image"]})["probabilities"]
        correct += int(np.sum(np.argmax(probs, axis=1) == batch["label"][:, 0]))
        n += len(probs)
    return time.perf_counter() - start, correct / n


def run_ours(files: list[str], models: dict, out: str, threads: int, argv: list[str]) -> tuple[float, float]:
    score = scoring.ScoreSpec(metrics.Spec("classification", 10, "probabilities", ()), "label",
                              "probabilities", references=tuple(m for m in models if m != names.QUANTIZED))
    job = beam_job.Job({name: (beam_job.TFLITE, path) for name, path in models.items()}, "serving_default",
                       {"image": "image"}, score, batch_size=256, num_threads=threads)
    start = time.perf_counter()
    with beam.Pipeline(argv=argv) as pipeline:
        beam_job.build(pipeline, files, job, out)
    seconds = time.perf_counter() - start
    return seconds, beam_job.read_summary(out)["slices"][""]["metrics"][names.QUANTIZED]["accuracy"]


def run_tfma(files: list[str], quant: str, out: str) -> tuple[float, float]:
    import tensorflow_model_analysis as tfma  # pylint: disable=g-import-not-at-top
    model_dir = os.path.join(os.path.dirname(quant), "tfma_model")
    os.makedirs(model_dir, exist_ok=True)
    os.replace(quant, os.path.join(model_dir, "tflite"))  # TFMA reads <dir>/tflite
    eval_config = tfma.EvalConfig(
        model_specs=[tfma.ModelSpec(model_type=tfma.TF_LITE, label_key="label")],
        slicing_specs=[tfma.SlicingSpec()],
        metrics_specs=[tfma.MetricsSpec(metrics=[tfma.MetricConfig(class_name="SparseCategoricalAccuracy")])])
    start = time.perf_counter()
    result = tfma.run_model_analysis(
        eval_shared_model=tfma.default_eval_shared_model(eval_saved_model_path=model_dir, eval_config=eval_config),
        eval_config=eval_config, data_location=os.path.join(os.path.dirname(files[0]), "eval-*.tfrecord"),
        output_path=out)
    seconds = time.perf_counter() - start
    os.replace(os.path.join(model_dir, "tflite"), quant)
    return seconds, result.slicing_metrics[0][1][""][""]["sparse_categorical_accuracy"]["doubleValue"]


IN_PROCESS = ["--direct_num_workers=1"]
TWO_WORKERS = ["--direct_running_mode=multi_processing", "--direct_num_workers=2"]


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--examples", type=int, default=200000)
    parser.add_argument("--shards", type=int, default=4)
    parser.add_argument("--rounds", type=int, default=3, help="median of this many runs per scorer (TFMA: 1)")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="tfx-edge-evalbench-") as root:
        files, quant, ref = prepare(root, args.examples, args.shards)

        def out(name: str) -> str:
            return os.path.join(root, f"{name}.json")
        only, both = {names.QUANTIZED: quant}, {names.QUANTIZED: quant, names.FLOAT_TFLITE: ref}
        scorers = [
            ("loop: tf.data + batched LiteRT, int8, 1 thread", lambda: run_loop(files, quant)),
            ("ours, int8, 1 process, 1 thread", lambda: run_ours(files, only, out("a"), 1, IN_PROCESS)),
            ("ours, int8, 1 process, 2 threads", lambda: run_ours(files, only, out("b"), 2, IN_PROCESS)),
            ("ours, int8, 2 worker processes", lambda: run_ours(files, only, out("c"), 1, TWO_WORKERS)),
            ("ours, int8 + float32 reference, 2 threads", lambda: run_ours(files, both, out("d"), 2, IN_PROCESS)),
        ]
        timings = {name: [] for name, _ in scorers}
        for _ in range(args.rounds):          # interleaved rounds: the machine is shared and noisy
            for name, scorer in scorers:
                timings[name].append(scorer())
        tfma = run_tfma(files, quant, os.path.join(root, "tfma"))
    rows = [(name, statistics.median(s for s, _ in runs), runs[0][1]) for name, runs in timings.items()]
    rows.insert(1, ("stock TFMA tf_lite, int8", *tfma))
    return report(rows, args.examples)


def report(rows, n: int) -> int:
    rate = {name: n / seconds for name, seconds, _ in rows}
    loop, tfma = rate[rows[0][0]], rate[rows[1][0]]
    table = [[name, seconds, n / seconds, (n / seconds) / tfma, (n / seconds) / loop, acc]
             for name, seconds, acc in rows]
    print(common.table(["scorer", "seconds", "examples/s", "x TFMA", "x loop", "int8 accuracy"], table))
    accuracies = {round(acc, 6) for _, _, acc in rows}
    best = max(rate[name] for name, _, _ in rows[2:5])
    print(f"best int8-only EdgeEvaluator job: {best / tfma:.1f}x TFMA (target >= 10x), "
          f"{best / loop:.2f}x the loop (target >= 0.5x); accuracy equal everywhere: {len(accuracies) == 1}")
    print("wrote", common.write("evaluator", {
        "examples": n, "rows": [{"scorer": name, "seconds": s, "examples_per_s": n / s, "accuracy": a}
                                for name, s, a in rows],
        "best_vs_tfma": best / tfma, "best_vs_loop": best / loop}))
    return 0 if len(accuracies) == 1 else 1


if __name__ == "__main__":
    sys.exit(main())
