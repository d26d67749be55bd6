"""A string column looked up inside the model (Keras 3 `StringLookup`, no Transform), placement
'embedded': the app feeds the raw string.

Freezing leaves the lookup table as a resource input whose contents the converter never sees;
derive rebuilds it from its contents (components/core/static_tables.py), LiteRT converts it to
builtin HASHTABLE ops with the vocabulary inside the .tflite. Checked against TensorFlow: parity
on the examples (an unseen value included, which maps to StringLookup's OOV id), the gate's
accuracy against an independent LiteRT loop fed raw strings, and the same bytes from the same
model twice.
"""

from __future__ import annotations

import os

import numpy as np
import pytest
import tensorflow as tf
from tfx.types import artifact_utils, standard_artifacts

from helpers import make_artifact, run_edge_evaluator, run_exporter, run_quantizer
from tfx_edge.components import artifacts
from tfx_edge.components.core import convert, derive, litert
from tfx_edge.pipelines import evaluation_text
from tfx_edge.schemas import (CalibrationConfig, EvaluationConfig, MetricThreshold, Mode, OutputKind, Placement,
                              QuantizationConfig, Thresholds)

KEY = "serving_default"
VOCAB = ("red", "green", "blue", "amber")
UNSEEN = "purple"   # in the eval split only: StringLookup's OOV id 0, as "other" (train only) is
SPEC = {"color": tf.io.FixedLenFeature([1], tf.string, default_value=""),
        "x": tf.io.FixedLenFeature([1], tf.float32)}


def _rows(n: int, seed: int, unseen: bool) -> list[tuple[str, float, int]]:
    """color, x and a label that follows from them (class = color's index, 0 out of vocabulary, or 3
    when x > 1)."""
    rng = np.random.default_rng(seed)
    colors = list(VOCAB[:3]) + [UNSEEN if unseen else "other"]
    rows = []
    for _ in range(n):
        color, x = colors[rng.integers(len(colors))], float(rng.normal())
        label = 3 if x > 1 else (VOCAB.index(color) if color in VOCAB else 0)
        rows.append((color, x, label))
    return rows


def _record(color: str, x: float, label: int) -> bytes:
    feature = {"color": tf.train.Feature(bytes_list=tf.train.BytesList(value=[color.encode()])),
               "x": tf.train.Feature(float_list=tf.train.FloatList(value=[x])),
               "label": tf.train.Feature(int64_list=tf.train.Int64List(value=[label]))}
    return tf.train.Example(features=tf.train.Features(feature=feature)).SerializeToString()


def _model(rows):
    import keras
    keras.utils.set_random_seed(11)
    color = keras.Input(shape=(1,), dtype="string", name="color")
    x = keras.Input(shape=(1,), name="x")
    ids = keras.layers.StringLookup(vocabulary=list(VOCAB))(color)
    embedded = keras.layers.Flatten()(keras.layers.Embedding(len(VOCAB) + 1, 4)(ids))
    hidden = keras.layers.Dense(16, activation="relu")(keras.layers.Concatenate()([embedded, x]))
    model = keras.Model({"color": color, "x": x}, keras.layers.Dense(4, name="logits")(hidden))
    model.compile(optimizer=keras.optimizers.Adam(0.03),
                  loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    features = {"color": tf.constant([[r[0]] for r in rows]), "x": np.array([[r[1]] for r in rows], np.float32)}
    model.fit(features, np.array([r[2] for r in rows]), epochs=30, batch_size=64, verbose=0)
    return model


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    root = tmp_path_factory.mktemp("string_lookup")
    train, evaluation = _rows(400, 1, unseen=False), _rows(200, 2, unseen=True)
    model = _model(train)

    @tf.function(input_signature=[tf.TensorSpec([None], tf.string, name="examples")])
    def serve(serialized):
        return {"outputs": model(tf.io.parse_example(serialized, SPEC))}
    saved = make_artifact(standard_artifacts.Model, str(root / "trainer"))
    tf.saved_model.save(model, os.path.join(saved.uri, "Format-Serving"), signatures={KEY: serve})
    examples = make_artifact(standard_artifacts.Examples, str(root / "examples"))
    examples.split_names = artifact_utils.encode_split_names(["train", "eval"])
    for split, rows in (("train", train), ("eval", evaluation)):
        os.makedirs(os.path.join(examples.uri, f"Split-{split}"))
        with tf.io.TFRecordWriter(os.path.join(examples.uri, f"Split-{split}", "data.tfrecord")) as writer:
            for row in rows:
                writer.write(_record(*row))
    return root, saved, examples, evaluation, serve


def _export(setup, mode: Mode, name: str):
    root, saved, examples, _, _ = setup
    config = QuantizationConfig(mode=mode, placement=Placement.EMBEDDED,
                                calibration=CalibrationConfig(num_samples=100, seed=0))
    plan = run_quantizer(config, saved, examples, str(root / name / "plan"))
    return run_exporter(saved, plan, str(root / name))


def _tflite(artifact) -> bytes:
    with open(os.path.join(artifact.uri, "Format-Serving", "tflite"), "rb") as f:
        return f.read()


@pytest.mark.parametrize("mode", [Mode.INT8, Mode.FLOAT16])
def test_string_lookup_model_is_blessed_embedded_with_figures_equal_to_an_independent_loop(setup, mode):
    from ai_edge_litert import interpreter as litert_interpreter
    root, saved, examples, rows, _ = setup
    tflite, float_model = _export(setup, mode, mode.value)
    model = _tflite(tflite)
    ops = litert.op_summary(model)["by_op"]
    assert {"HASHTABLE", "HASHTABLE_FIND", "HASHTABLE_IMPORT"} <= set(ops), ops
    config = EvaluationConfig(thresholds=Thresholds(metrics={
        "accuracy": MetricThreshold(max_absolute_drop=0.02, lower_bound=0.8)}),
        label_feature="label", output_kind=OutputKind.LOGITS)
    blessing, evaluation = run_edge_evaluator(config, examples, tflite, float_model, str(root / mode.value / "gate"))
    result = evaluation_text.read_evaluation(os.path.join(evaluation.uri, artifacts.METRICS_FILE))
    assert blessing.get_int_custom_property("blessed") == 1, [c.detail for c in result.failed]
    runner = litert_interpreter.Interpreter(model_content=model).get_signature_runner(KEY)
    inputs = runner.get_input_details()
    assert inputs["color"]["dtype"] == np.bytes_   # the app feeds the raw string
    x = np.array([[r[1]] for r in rows], np.float32)
    scale, zero = inputs["x"]["quantization"]
    fed = np.clip(np.round(x / scale) + zero, -128, 127).astype(inputs["x"]["dtype"]) if scale else x
    (out,) = runner(color=np.array([[r[0].encode()] for r in rows]), x=fed).values()
    correct = int(np.sum(np.argmax(out, axis=1) == np.array([r[2] for r in rows])))
    assert result.examples == len(rows)
    assert round(result.slices[""].metrics["quantized"]["accuracy"] * len(rows)) == correct


def test_rebuilt_table_maps_every_value_as_tensorflow_does_and_gives_the_same_bytes(setup, tmp_path):
    """The float32 reference equals the SavedModel on vocabulary values, the OOV value and the
    empty default; deriving twice gives the same derived model and .tflite bytes."""
    from ai_edge_litert import interpreter as litert_interpreter
    _, saved, _, _, serve = setup
    source = os.path.join(saved.uri, "Format-Serving")
    models = []
    for name in ("a", "b"):
        derive.derive(source, KEY, str(tmp_path / name), Placement.EMBEDDED)
        models.append(convert.convert_float(str(tmp_path / name), KEY))
    assert models[0] == models[1]
    values = list(VOCAB) + [UNSEEN, ""]
    records = [_record(v, 0.5, 0) for v in values]
    want = serve(tf.constant(records))["outputs"].numpy()
    runner = litert_interpreter.Interpreter(model_content=models[0]).get_signature_runner(KEY)
    (got,) = runner(color=np.array([[v.encode()] for v in values]), x=np.full((len(values), 1), 0.5, np.float32)
                    ).values()
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5)
