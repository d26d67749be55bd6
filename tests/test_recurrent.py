"""Recurrent text classifiers (Embedding + LSTM / GRU / Bidirectional, Keras 3 and tf_keras) through
the Quantizer, the TFLiteExporter and the EdgeEvaluator in every post-training mode.

Their while loops keep a TensorList per step whose element shape has the dynamic batch; the
converter lowers them only with a static one, so every mode failed before ("'tf.TensorListReserve'
op requires element_shape to be static"). The task needs memory across steps: the label says
whether token 1 occurs anywhere in the 20 tokens. The gate's accuracy is checked against an
independent loop (tf.train.Example parsing and LiteRT over the exported file, batch 1).
"""

from __future__ import annotations

import json
import os

import numpy as np
import pytest
import tensorflow as tf

from tfx_edge.components import artifacts, record_files
from tfx_edge.components.core import litert
from tfx_edge.schemas import (CalibrationConfig, EvaluationConfig, LatencyConfig, MetricThreshold, Mode,
                              OutputKind, QuantizationConfig, Thresholds)
from helpers import make_artifact, run_edge_evaluator, run_exporter, run_quantizer

STEPS, VOCAB, ROWS = 20, 30, {"train": 1200, "eval": 300}
MODES = {"int8": QuantizationConfig(mode=Mode.INT8, calibration=CalibrationConfig(num_samples=100)),
         "dynamic_range": QuantizationConfig(mode=Mode.DYNAMIC_RANGE),
         "float16": QuantizationConfig(mode=Mode.FLOAT16)}
GATE = EvaluationConfig(thresholds=Thresholds(metrics={"accuracy": MetricThreshold(max_absolute_drop=0.03,
                                                                                   lower_bound=0.8)}),
                        output_kind=OutputKind.PROBABILITIES, latency=LatencyConfig(runs=5, warmup=1))


def _data(seed: int, count: int) -> tuple[np.ndarray, np.ndarray]:
    tokens = np.random.default_rng(seed).integers(0, VOCAB, size=(count, STEPS))
    return tokens, (tokens == 1).any(axis=1).astype(np.int64)


@pytest.fixture(scope="module")
def examples(tmp_path_factory):
    from tfx.types import artifact_utils, standard_artifacts
    root = str(tmp_path_factory.mktemp("tokens"))
    for seed, split in enumerate(ROWS):
        tokens, labels = _data(seed, ROWS[split])
        os.makedirs(os.path.join(root, f"Split-{split}"))
        with tf.io.TFRecordWriter(os.path.join(root, f"Split-{split}", "data_tfrecord-00000-of-00001")) as w:
            for t, y in zip(tokens, labels):
                w.write(tf.train.Example(features=tf.train.Features(feature={
                    "tokens": tf.train.Feature(int64_list=tf.train.Int64List(value=t.tolist())),
                    "label": tf.train.Feature(int64_list=tf.train.Int64List(value=[int(y)]))})).SerializeToString())
    artifact = make_artifact(standard_artifacts.Examples, root)
    artifact.split_names = artifact_utils.encode_split_names(list(ROWS))
    return artifact


def _trained(flavor: str, layer: str, root: str):
    """The classifier, trained briefly, saved as a Trainer saves it (a dense int64 signature)."""
    from tfx.types import standard_artifacts
    keras = __import__("tf_keras" if flavor == "tf_keras" else "keras")
    keras.utils.set_random_seed(0)
    recurrent = {"lstm": lambda: keras.layers.LSTM(32), "gru": lambda: keras.layers.GRU(32),   # >= 1,024 weights
                 "bilstm": lambda: keras.layers.Bidirectional(keras.layers.LSTM(16))}[layer]()
    inputs = keras.Input(shape=(STEPS,), dtype="int64", name="tokens")
    hidden = recurrent(keras.layers.Embedding(VOCAB, 16)(inputs))
    model = keras.Model(inputs, keras.layers.Dense(2, activation="softmax", name="probabilities")(hidden))
    model.compile(optimizer=keras.optimizers.Adam(0.01), loss="sparse_categorical_crossentropy")
    model.fit(*_data(0, ROWS["train"]), epochs=6, batch_size=32, verbose=0)

    @tf.function(input_signature=[tf.TensorSpec([None, STEPS], tf.int64, name="tokens")])
    def serve(tokens):
        return {"probabilities": model(tokens)}
    tf.saved_model.save(model, os.path.join(root, "Format-Serving"), signatures={"serving_default": serve})
    return make_artifact(standard_artifacts.Model, root)


def _independent_accuracy(tflite_uri: str) -> float:
    runner = litert.Runner(open(os.path.join(tflite_uri, "Format-Serving", "tflite"), "rb").read(),
                           "serving_default")
    tokens, labels = _data(1, ROWS["eval"])
    predicted = [int(np.argmax(runner({"tokens": t[None]})["probabilities"][0])) for t in tokens]
    return float(np.mean(np.array(predicted) == labels))


@pytest.mark.parametrize("flavor, layer, modes", [
    ("keras", "lstm", ("int8", "dynamic_range", "float16")),
    ("keras", "gru", ("int8", "dynamic_range", "float16")),
    ("tf_keras", "bilstm", ("int8", "dynamic_range")),
])
def test_recurrent_classifiers_are_gated_in_every_post_training_mode(flavor, layer, modes, examples, tmp_path):
    model = _trained(flavor, layer, str(tmp_path / "model"))
    for mode in modes:
        root = tmp_path / mode
        plan = run_quantizer(MODES[mode], model, examples, str(root / "plan"))
        tflite, float_model = run_exporter(model, plan, str(root))
        report, _ = record_files.read_export_report(tflite.uri)
        assert report.parity.passed and report.parity.worst_relative_diff < 1e-5   # batch of 64 examples
        ops = litert.op_summary(open(os.path.join(tflite.uri, "Format-Serving", "tflite"), "rb").read())
        assert "WHILE" in ops["by_op"]   # a builtin loop, its body's ops counted:
        assert ops["integer" if mode == "int8" else "float"] > 0
        _, evaluation = run_edge_evaluator(GATE, examples, tflite, float_model, str(root / "eval"))
        with open(os.path.join(evaluation.uri, artifacts.METRICS_FILE)) as f:
            result = json.load(f)
        assert result["blessed"], (mode, [c for c in result["checks"] if not c["passed"]])
        assert result["slices"][""]["metrics"]["quantized"]["accuracy"] == pytest.approx(
            _independent_accuracy(tflite.uri), abs=1e-12)
