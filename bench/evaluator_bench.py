"""EdgeEvaluator's Beam scoring job vs stock TFMA (model_type tf_lite), same data, one run.

    .venv/bin/python -m bench.evaluator_bench [--examples 50000]

The eval digits are repeated to --examples records. Both run on Beam's
DirectRunner in this process: TFMA scores the int8 TFLite alone; the
EdgeEvaluator job scores the int8 model and its float32 reference (two invokes
per example). Accuracy must agree; the table shows examples/s and the ratio.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time

import apache_beam as beam
import tensorflow as tf

from bench import common
from components.core import convert, examples, litert, metrics
from components.edge_evaluator import beam_job
from schemas import CalibrationConfig, Mode, QuantizationConfig


def prepare(root: str, count: int) -> tuple[str, str, str]:
    from pipelines import demo_data, digits_model  # pylint: disable=g-import-not-at-top
    data = os.path.join(root, "data")
    paths = demo_data.write(data)
    serving = os.path.join(root, "model")
    digits_model.train(paths["train"], paths["eval"], serving, steps=300)
    records = list(examples.iter_records([paths["eval"]]))
    big = os.path.join(root, "big.tfrecord")
    with tf.io.TFRecordWriter(big) as writer:
        for i in range(count):
            writer.write(records[i % len(records)])
    train = examples.Decoder().decode(list(examples.iter_records([paths["train"]]))[:200])
    config = QuantizationConfig(mode=Mode.INT8, calibration=CalibrationConfig(num_samples=200))
    models = {}
    for name, data_bytes in (("int8", convert.convert(serving, config, {"image": train["image"].astype("float32")})),
                             ("float", convert.convert_float(serving, "serving_default"))):
        models[name] = os.path.join(root, f"{name}.tflite")
        with open(models[name], "wb") as f:
            f.write(data_bytes)
    return big, models["int8"], models["float"]


def run_ours(big: str, quant: str, ref: str, out: str) -> tuple[float, float]:
    job = beam_job.Job(quant, ref, "serving_default", {"image": "image"}, "label", "probabilities",
                       10, batch_size=256)
    start = time.perf_counter()
    with beam.Pipeline(argv=["--direct_num_workers=1"]) as pipeline:
        beam_job.build(pipeline, [big], job, out)
    seconds = time.perf_counter() - start
    with open(out) as f:
        summary = metrics.summarize(beam_job.counts_from_json(f.read()))
    return seconds, summary["accuracy_quant"]


def run_tfma(big: str, quant: str, out: str) -> tuple[float, float]:
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
        eval_config=eval_config, data_location=big, output_path=out)
    seconds = time.perf_counter() - start
    os.replace(os.path.join(model_dir, "tflite"), quant)
    return seconds, result.slicing_metrics[0][1][""][""]["sparse_categorical_accuracy"]["doubleValue"]


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--examples", type=int, default=50000)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="tfx-edge-evalbench-") as root:
        big, quant, ref = prepare(root, args.examples)
        litert.load(open(quant, "rb").read())  # warm the LiteRT import
        ours_s, ours_acc = run_ours(big, quant, ref, os.path.join(root, "counts.json"))
        tfma_s, tfma_acc = run_tfma(big, quant, os.path.join(root, "tfma_out"))
    n = args.examples
    rows = [["EdgeEvaluator job (int8 + float32 ref)", ours_s, n / ours_s, ours_acc],
            ["stock TFMA tf_lite (int8 only)", tfma_s, n / tfma_s, tfma_acc]]
    print(common.table(["scorer", "seconds", "examples/s", "int8 accuracy"], rows))
    print(f"throughput ratio (ours / TFMA): {tfma_s / ours_s:.1f}x; accuracy equal: {abs(ours_acc - tfma_acc) < 1e-6}")
    print("wrote", common.write("evaluator", {"examples": n, "ours_s": ours_s, "tfma_s": tfma_s,
                                              "ours_accuracy": ours_acc, "tfma_accuracy": tfma_acc,
                                              "ratio": tfma_s / ours_s}))
    return 0 if abs(ours_acc - tfma_acc) < 1e-6 else 1


if __name__ == "__main__":
    sys.exit(main())
