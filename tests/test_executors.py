"""The Quantizer and TFLiteExporter executors on real artifacts in tmp dirs (real converter, real LiteRT, real Beam)."""

import json
import os

import numpy as np
import pytest
import tensorflow as tf
from ai_edge_litert import interpreter as litert

from tfx_edge.components import artifacts, record_files
from tfx_edge.components.core.input_mapping import InputMappingError
from tfx_edge.schemas import CalibrationConfig, Mode, QuantizationConfig, records
from helpers import run_exporter, run_quantizer

def read_json(path):
    with open(path) as f:
        return json.load(f)


def test_quantizer_writes_a_seeded_plan(int8_export):
    plan_uri = int8_export["plan"].uri
    plan, _ = record_files.read_plan(plan_uri)
    assert plan.input_mapping == {"image": "image"}
    assert plan.derivation.inputs == (records.TensorRecord("image", "float32", (-1, 64)),)
    cal = plan.calibration
    assert (cal.used, cal.seed, cal.split, cal.examples_seen) == (64, 3, "train", 1437)
    with np.load(os.path.join(plan_uri, artifacts.CALIBRATION_FILE)) as data:
        assert data["image"].shape == (64, 64) and data["image"].max() <= 16.0


def test_quantizer_same_config_same_samples(int8_export, trained_model, examples_artifact, tmp_path):
    again = run_quantizer(int8_export["config"], trained_model, examples_artifact, str(tmp_path / "p"))
    first = record_files.read_plan(int8_export["plan"].uri)[0].calibration
    second = record_files.read_plan(again.uri)[0].calibration
    assert first.sha256 == second.sha256


def test_exporter_writes_pushable_checked_models(int8_export):
    tflite_uri, float_uri = int8_export["tflite"].uri, int8_export["float"].uri
    quant_path = os.path.join(tflite_uri, "Format-Serving", "tflite")
    float_path = os.path.join(float_uri, "Format-Serving", "tflite")
    report, _ = record_files.read_export_report(tflite_uri)
    assert sorted(os.listdir(os.path.join(tflite_uri, "Format-Serving"))) == ["app_contract.json", "tflite"]
    assert report.quantized.bytes == os.path.getsize(quant_path)
    assert report.quantized.dynamic_batch and report.float_model.dynamic_batch
    assert report.quantized.ops.integer > 0 and report.float_model.ops.integer == 0
    assert 0.2 < report.size_ratio < 0.35
    assert "rmse_over_scale" in open(os.path.join(tflite_uri, artifacts.LAYER_REPORT_FILE)).readline()
    assert int8_export["tflite"].get_int_custom_property(artifacts.SIZE_KEY) == report.quantized.bytes
    interp = litert.Interpreter(model_path=float_path)
    assert interp.get_signature_runner()(image=np.zeros((3, 64), np.float32))["probabilities"].shape == (3, 10)


def test_exporter_is_deterministic(int8_export, trained_model, tmp_path):
    tflite, _ = run_exporter(trained_model, int8_export["plan"], str(tmp_path))
    a = open(os.path.join(tflite.uri, "Format-Serving", "tflite"), "rb").read()
    b = open(os.path.join(int8_export["tflite"].uri, "Format-Serving", "tflite"), "rb").read()
    assert a == b


def direct_litert_correct(model_path, record_file):
    """An independent loop: tf.train.Example parsing and one LiteRT invoke per example."""
    runner = litert.Interpreter(model_path=model_path).get_signature_runner("serving_default")
    correct = 0
    for record in tf.data.TFRecordDataset(record_file).as_numpy_iterator():
        example = tf.train.Example.FromString(record)
        image = np.array(example.features.feature["image"].float_list.value, np.float32)[None]
        label = example.features.feature["label"].int64_list.value[0]
        correct += int(np.argmax(runner(image=image)["probabilities"][0]) == label)
    return correct


def test_quantizer_refuses_a_model_input_no_feature_feeds(trained_model, examples_artifact, tmp_path):
    config = QuantizationConfig(mode=Mode.INT8, input_mapping={"image": "pixels"},
                                calibration=CalibrationConfig(num_samples=8))
    with pytest.raises(InputMappingError, match="Available features: \\['image', 'label'\\]"):
        run_quantizer(config, trained_model, examples_artifact, str(tmp_path / "plan"))


def test_stock_tfma_reads_the_exported_artifact_and_agrees(int8_export, examples_artifact, tmp_path):
    """The TFLite Model artifact is laid out for stock TFMA (model_type tf_lite) too."""
    import tensorflow_model_analysis as tfma
    from tensorflow_model_analysis.proto import config_pb2  # tfma's own face lacks them until tfx is imported
    eval_config = config_pb2.EvalConfig(
        model_specs=[config_pb2.ModelSpec(model_type=tfma.TF_LITE, label_key="label")],
        slicing_specs=[config_pb2.SlicingSpec()],
        metrics_specs=[config_pb2.MetricsSpec(metrics=[
            config_pb2.MetricConfig(class_name="SparseCategoricalAccuracy")])])
    serving = os.path.join(int8_export["tflite"].uri, "Format-Serving")
    record_file = os.path.join(examples_artifact.uri, "Split-eval", "data_tfrecord-00000-of-00001")
    result = tfma.run_model_analysis(
        eval_shared_model=tfma.default_eval_shared_model(eval_saved_model_path=serving, eval_config=eval_config),
        eval_config=eval_config, data_location=record_file, output_path=str(tmp_path))
    tfma_accuracy = result.slicing_metrics[0][1][""][""]["sparse_categorical_accuracy"]["doubleValue"]
    assert tfma_accuracy == pytest.approx(direct_litert_correct(os.path.join(serving, "tflite"), record_file) / 360)
