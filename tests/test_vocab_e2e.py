"""Bring your own TFX pipeline: a string-vocabulary Transform through tfx-edge.

CsvExampleGen -> StatisticsGen -> SchemaGen -> Transform (tests/vocab_module.py:
compute_and_apply_vocabulary with OOV buckets on the string feature `color`, z-scored
floats) -> Trainer (Keras 3, Embedding, serving_default over serialized tf.Examples)
-> Quantizer -> TFLiteExporter -> EdgeEvaluator -> Pusher, with placement 'transformed'.

The gate's accuracy is checked against an independent LiteRT loop over the pushed file
and Transform's transformed eval examples. Placement 'embedded' is run through the
Quantizer (and the exporter if it derives): either the .tflite runs in ai_edge_litert and
its float32 reference agrees with the SavedModel signature, or it is refused naming the
vocabulary ops and the feature `color`.
"""

from __future__ import annotations

import glob
import os

import numpy as np
import pytest
import tensorflow as tf

from helpers import make_artifact, run_exporter, run_quantizer

pytestmark = pytest.mark.e2e

MODULE = "vocab_module"          # tests/vocab_module.py (tests/ is on sys.path under pytest)
COLORS = {"red": 1.5, "green": 0.0, "blue": -1.5}
RARE = tuple(f"rare{i}" for i in range(10))   # two rows each: below the vocabulary's frequency threshold
ROWS = 300
TRAIN_STEPS = 150
LABEL_NOISE = 0.08               # flipped labels: accuracy below 1, so that a miscount would show
MIN_ACCURACY = 0.75
MAX_DROP = 0.05


def _write_csv(path: str) -> None:
    """color (3 common values + 10 rare ones), size, weight, and a label that follows from them."""
    rng = np.random.default_rng(7)
    colors = list(rng.choice(list(COLORS), size=ROWS - 2 * len(RARE))) + [c for c in RARE for _ in range(2)]
    colors = [str(c) for c in rng.permutation(colors)]
    lines = ["color,size,weight,label"]
    for color in colors:
        while True:
            size, weight = rng.normal(10.0, 3.0), rng.normal(50.0, 10.0)
            score = (size - 10.0) / 3.0 + 0.5 * (weight - 50.0) / 10.0 + COLORS.get(color, 0.0)
            if abs(score) > 0.2:      # a margin, so that a small model learns the rule well
                break
        label = int(score > 0) ^ int(rng.random() < LABEL_NOISE)
        lines.append(f"{color},{size:.4f},{weight:.4f},{label}")
    with open(path, "w") as f:
        f.write("\n".join(lines) + "\n")


def _pipeline(root: str, quantization, evaluation):
    """The penguin demo's pipeline shape (CSV, Transform, Trainer, tfx-edge) with this module."""
    from tfx_edge.pipelines import penguin
    return penguin.create_penguin_pipeline(
        pipeline_name="tfx-edge-vocab", pipeline_root=os.path.join(root, "pipeline_root"),
        serving_dir=os.path.join(root, "serving"), quantization=quantization, evaluation=evaluation,
        data_root=os.path.join(root, "data"), metadata_path=os.path.join(root, "metadata.sqlite"),
        train_steps=TRAIN_STEPS, enable_cache=False, module=MODULE)


def _latest_uri(store, type_name: str, contains: str, error: str | None = None) -> str:
    found = [a for a in store.get_artifacts_by_type(type_name) if contains in a.uri]
    if not found:
        pytest.fail(f"no {type_name} artifact under {contains!r}; {error or ''}"[:3000], pytrace=False)
    return max(found, key=lambda a: a.id).uri


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    """The 'transformed' pipeline, run once with LocalDagRunner and SQLite metadata."""
    from tfx.orchestration.local.local_dag_runner import LocalDagRunner
    from tfx_edge.pipelines import summary
    from tfx_edge.schemas import (CalibrationConfig, EvaluationConfig, MetricThreshold, Mode, OutputKind,
                                  Placement, QuantizationConfig, SliceThreshold, Thresholds)
    root = str(tmp_path_factory.mktemp("vocab"))
    os.makedirs(os.path.join(root, "data"))
    _write_csv(os.path.join(root, "data", "data.csv"))
    label = "label_xf"
    quantization = QuantizationConfig(mode=Mode.INT8, placement=Placement.TRANSFORMED,
                                      calibration=CalibrationConfig(num_samples=100, seed=0))
    evaluation = EvaluationConfig(
        thresholds=Thresholds(
            metrics={"accuracy": MetricThreshold(max_absolute_drop=MAX_DROP, lower_bound=MIN_ACCURACY)},
            slices=(SliceThreshold(feature=label, min_examples=10,
                                   metrics={"accuracy": MetricThreshold(max_absolute_drop=0.1)}),)),
        label_feature=label, output_kind=OutputKind.LOGITS, slice_features=(label,))
    try:   # a failing tfx-edge component fails the 'transformed' tests; the Trainer's model is still there
        LocalDagRunner().run(_pipeline(root, quantization, evaluation))
        error = None
    except Exception as e:  # pylint: disable=broad-except
        error = f"the pipeline failed: {type(e).__name__}: {e}"
    store = summary.store_for(os.path.join(root, "metadata.sqlite"))
    serving = os.path.join(root, "serving")
    pushed = sorted(os.listdir(serving)) if os.path.isdir(serving) else []
    blessings = store.get_artifacts_by_type("ModelBlessing")
    return {
        "root": root, "store": store, "error": error, "evaluation": summary.latest_evaluation(store),
        "blessed": [b.custom_properties["blessed"].int_value for b in blessings],
        "pushed": os.path.join(serving, pushed[-1], "tflite") if pushed else None,
        "trainer_uri": _latest_uri(store, "Model", "/Trainer/", error),
        "raw_examples_uri": _latest_uri(store, "Examples", "/CsvExampleGen/", error),
        "transformed_uri": _latest_uri(store, "Examples", "/Transform/", error),
    }


def _records(examples_uri: str, split: str) -> list[bytes]:
    files = sorted(glob.glob(os.path.join(examples_uri, f"Split-{split}", "*")))
    assert files, f"no records in {examples_uri}/Split-{split}"
    compression = "GZIP" if files[0].endswith(".gz") else ""
    return [r.numpy() for r in tf.data.TFRecordDataset(files, compression_type=compression)]


def _feed(detail: dict, x: np.ndarray) -> np.ndarray:
    """What an app feeds a LiteRT input: quantized with rounding and clipping if it is quantized."""
    scale, zero = detail["quantization"]
    dtype = np.dtype(detail["dtype"])
    if scale and np.issubdtype(dtype, np.integer):
        info = np.iinfo(dtype)
        return np.clip(np.round(x / scale) + zero, info.min, info.max).astype(dtype)
    return x.astype(dtype)


def _feature_dtype(detail: dict) -> tf.DType:
    """How a raw feature feeding this LiteRT input is parsed (quantized inputs: from floats)."""
    dtype = np.dtype(detail["dtype"])
    if dtype.kind in "OSU":
        return tf.string
    return tf.float32 if detail["quantization"][0] else tf.as_dtype(dtype)


def _dequantize(detail: dict, y: np.ndarray) -> np.ndarray:
    scale, zero = detail["quantization"]
    return (y.astype(np.float32) - zero) * scale if scale else y


def _require_pipeline(run) -> None:
    if run["error"]:
        pytest.fail(run["error"][:3000], pytrace=False)


def test_transformed_placement_is_blessed_and_pushed(run):
    _require_pipeline(run)
    evaluation = run["evaluation"]
    assert evaluation is not None and evaluation.blessed, evaluation and [c.detail for c in evaluation.failed]
    assert run["blessed"] == [1]
    assert run["pushed"] and os.path.isfile(run["pushed"])
    assert evaluation.config.label_feature == "label_xf"
    assert evaluation.models["quantized"].ops.integer > 0
    from ai_edge_litert import interpreter as litert
    inputs = litert.Interpreter(model_path=run["pushed"]).get_signature_runner("serving_default").get_input_details()
    assert sorted(inputs) == ["color_xf", "size_xf", "weight_xf"]


def test_gate_accuracy_equals_an_independent_litert_loop_over_transformed_eval_examples(run):
    _require_pipeline(run)
    from ai_edge_litert import interpreter as litert
    records = _records(run["transformed_uri"], "eval")
    spec = {"color_xf": tf.io.FixedLenFeature([1], tf.int64), "size_xf": tf.io.FixedLenFeature([1], tf.float32),
            "weight_xf": tf.io.FixedLenFeature([1], tf.float32), "label_xf": tf.io.FixedLenFeature([1], tf.int64)}
    parsed = {k: v.numpy() for k, v in tf.io.parse_example(records, spec).items()}
    runner = litert.Interpreter(model_path=run["pushed"]).get_signature_runner("serving_default")
    inputs = runner.get_input_details()
    outputs = runner.get_output_details()
    correct = 0
    for start in range(0, len(records), 32):   # batches, as an app would
        feeds = {n: _feed(inputs[n], parsed[n][start:start + 32]) for n in inputs}
        out = runner(**feeds)
        (name,) = outputs
        logits = _dequantize(outputs[name], out[name])
        correct += int(np.sum(np.argmax(logits, axis=1) == parsed["label_xf"][start:start + 32, 0]))
    evaluation = run["evaluation"]
    accuracy = evaluation.slices[""].metrics["quantized"]["accuracy"]
    float_accuracy = evaluation.slices[""].metrics["float_tflite"]["accuracy"]
    print(f"\nvocab e2e: {len(records)} eval examples, independent loop {correct} correct "
          f"({correct / len(records):.4f}); gate quantized {accuracy:.4f}, float32 TFLite {float_accuracy:.4f}")
    assert evaluation.examples == len(records)
    assert round(accuracy * len(records)) == correct
    assert accuracy >= MIN_ACCURACY
    # the vocabulary is the three common colors; the rare ones hash into the two OOV buckets (ids 3, 4),
    # and the eval split has some
    ids = parsed["color_xf"][:, 0]
    assert ids.min() >= 0 and ids.max() < len(COLORS) + 2
    assert np.any(ids >= len(COLORS))


def test_embedded_placement_works_in_litert_or_names_the_vocabulary_ops_and_feature(run, tmp_path):
    from tfx.types import artifact_utils, standard_artifacts
    from tfx_edge.components.core.graph_cut import DeriveError
    from tfx_edge.schemas import CalibrationConfig, Mode, Placement, QuantizationConfig
    model = make_artifact(standard_artifacts.Model, run["trainer_uri"])
    examples = make_artifact(standard_artifacts.Examples, run["raw_examples_uri"])
    examples.split_names = artifact_utils.encode_split_names(["train", "eval"])
    config = QuantizationConfig(mode=Mode.INT8, placement=Placement.EMBEDDED,
                                calibration=CalibrationConfig(num_samples=64, seed=0))
    try:
        plan = run_quantizer(config, model, examples, str(tmp_path / "plan"))
    except DeriveError as e:
        message = str(e)
        print(f"\nvocab e2e: embedded placement refused: {message}")
        assert "LookupTableFindV2" in message or "StringToHashBucketFast" in message, message
        assert "'color'" in message, message
        return
    # It derived: the .tflite must run in ai_edge_litert and its float32 reference agree with
    # the SavedModel signature on the raw eval records.
    print("\nvocab e2e: embedded placement derived")
    from ai_edge_litert import interpreter as litert
    tflite, float_model = run_exporter(model, plan, str(tmp_path))
    records = _records(run["raw_examples_uri"], "eval")
    signature = tf.saved_model.load(os.path.join(run["trainer_uri"], "Format-Serving")).signatures["serving_default"]
    expected = signature(examples=tf.constant(records))["outputs"].numpy()
    for uri in (float_model.uri, tflite.uri):
        runner = litert.Interpreter(model_path=os.path.join(uri, "Format-Serving", "tflite")).get_signature_runner()
        inputs = runner.get_input_details()
        spec = {n: tf.io.FixedLenFeature([1], _feature_dtype(d)) for n, d in inputs.items()}
        parsed = {k: v.numpy() for k, v in tf.io.parse_example(records, spec).items()}
        out = runner(**{n: _feed(inputs[n], parsed[n]) for n in inputs})
        got = _dequantize(runner.get_output_details()["outputs"], out["outputs"])
        assert got.shape == expected.shape
        if uri == float_model.uri:
            assert np.abs(got - expected).max() <= 1e-4
