"""Every mode of the technique matrix on a Keras 3 model (what `from tensorflow import keras` gives
in TF 2.21), saved as TFX Trainers save it: `tf.saved_model.save(model, dir, signatures=...)`.

Keras 3 keeps resource variables; converted as saved they leave VAR_HANDLE / READ_VARIABLE
ops (NaN float outputs, failing int8). Through the Quantizer's derived, frozen model
every mode exports, passes the exporter's checks and the float32 parity check; QAT
(tfmot needs Keras 2) refuses with its message.
"""

from __future__ import annotations

import os

import numpy as np
import pytest
import tensorflow as tf

from tfx_edge.components import record_files
from tfx_edge.components.core import litert
from tfx_edge.components.core.convert import ConversionError
from tfx_edge.schemas import AeqConfig, CalibrationConfig, Mode, QatConfig, QuantizationConfig
from helpers import make_artifact, run_exporter, run_quantizer

CAL = CalibrationConfig(num_samples=64, seed=1)
MODES = {
    "dynamic_range": QuantizationConfig(mode=Mode.DYNAMIC_RANGE),
    "int8": QuantizationConfig(mode=Mode.INT8, calibration=CAL),
    "int8_strict_int8_io": QuantizationConfig(mode=Mode.INT8_STRICT, calibration=CAL, io_dtype="int8"),
    "float16": QuantizationConfig(mode=Mode.FLOAT16),
    "int16x8": QuantizationConfig(mode=Mode.INT16X8, calibration=CAL),
    "aeq_weight_only_wi8_afp32": QuantizationConfig(mode=Mode.AEQ, aeq=AeqConfig(recipe="weight_only_wi8_afp32")),
    "aeq_static_wi8_ai8": QuantizationConfig(mode=Mode.AEQ, calibration=CAL, aeq=AeqConfig(recipe="static_wi8_ai8")),
}
VARIABLE_OPS = {"VAR_HANDLE", "READ_VARIABLE", "ASSIGN_VARIABLE"}


@pytest.fixture(scope="module")
def keras3_model(tmp_path_factory):
    """A Keras 3 MLP on the demo digits, trained briefly, as a Trainer Model artifact."""
    import keras
    from tfx.types import standard_artifacts
    from tfx_edge.pipelines import demo_data
    keras.utils.set_random_seed(0)
    x, y = demo_data.digits_split()["train"]
    model = keras.Sequential([keras.Input((64,), name="image"), keras.layers.Rescaling(1 / 16),
                              keras.layers.Dense(64, activation="relu"),
                              keras.layers.Dense(10, activation="softmax", name="probabilities")])
    model.compile("adam", "sparse_categorical_crossentropy")
    model.fit(x, y, epochs=5, batch_size=64, verbose=0)
    uri = str(tmp_path_factory.mktemp("keras3_model"))

    @tf.function(input_signature=[tf.TensorSpec([None, 64], tf.float32, name="image")])
    def serve(image):
        return {"probabilities": model(image)}
    tf.saved_model.save(model, os.path.join(uri, "Format-Serving"), signatures={"serving_default": serve})
    return make_artifact(standard_artifacts.Model, uri)


@pytest.mark.parametrize("name", sorted(MODES))
def test_every_mode_exports_a_frozen_checked_model(name, keras3_model, examples_artifact, tmp_path):
    plan = run_quantizer(MODES[name], keras3_model, examples_artifact, str(tmp_path / "plan"))
    tflite, float_model = run_exporter(keras3_model, plan, str(tmp_path))
    report, _ = record_files.read_export_report(tflite.uri)
    assert report.parity.passed and report.parity.worst_relative_diff < 1e-5
    for artifact in (tflite, float_model):
        model = open(os.path.join(artifact.uri, "Format-Serving", "tflite"), "rb").read()
        assert not set(litert.op_summary(model)["by_op"]) & VARIABLE_OPS
    ref = open(os.path.join(float_model.uri, "Format-Serving", "tflite"), "rb").read()
    out = litert.Runner(ref, "serving_default")({"image": np.ones((4, 64), np.float32)})
    assert np.isfinite(out["probabilities"]).all()


def test_qat_refuses_a_keras3_model(keras3_model, examples_artifact, tmp_path):
    config = QuantizationConfig(mode=Mode.QAT, qat=QatConfig(epochs=1, steps_per_epoch=2))
    with pytest.raises(ConversionError, match=r"not a tf_keras \(Keras 2\) model.*use mode='int8'"):
        run_quantizer(config, keras3_model, examples_artifact, str(tmp_path / "plan"))
