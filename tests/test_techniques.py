"""The technique matrix: every mode through the Quantizer and TFLiteExporter executors.

Each output must load in LiteRT, have the dtypes its mode promises, and be the
expected size relative to float32 (float16 about half, int8 variants about a
quarter, int4 weights about a seventh; tolerance +-0.05 of the ratio).
"""

import os

import numpy as np
import pytest
from ai_edge_litert import interpreter as litert

from tfx_edge.components import artifacts, record_files
from tfx_edge.components.core import checks, convert
from tfx_edge.schemas import AeqConfig, CalibrationConfig, Mode, QatConfig, QuantizationConfig
from helpers import run_exporter, run_quantizer

CAL = CalibrationConfig(num_samples=64, seed=1)

# mode config, expected size ratio to float32, expected model I/O dtype, ops that must be integer
MATRIX = {
    "dynamic_range": (QuantizationConfig(mode=Mode.DYNAMIC_RANGE), 0.26, "float32"),
    "int8": (QuantizationConfig(mode=Mode.INT8, calibration=CAL, layer_report=False), 0.27, "float32"),
    "int8_strict_int8_io": (QuantizationConfig(mode=Mode.INT8_STRICT, calibration=CAL, io_dtype="int8"),
                            0.27, "int8"),
    "int8_strict_uint8_io": (QuantizationConfig(mode=Mode.INT8_STRICT, calibration=CAL, io_dtype="uint8",
                                                layer_report=False), 0.27, "uint8"),
    "float16": (QuantizationConfig(mode=Mode.FLOAT16), 0.50, "float32"),
    "int16x8": (QuantizationConfig(mode=Mode.INT16X8, calibration=CAL), 0.28, "float32"),
    "qat_int8_io": (QuantizationConfig(mode=Mode.QAT, io_dtype="int8",
                                       qat=QatConfig(epochs=1, steps_per_epoch=10)), 0.27, "int8"),
    "aeq_dynamic_wi8_afp32": (QuantizationConfig(mode=Mode.AEQ, aeq=AeqConfig(recipe="dynamic_wi8_afp32")),
                              0.26, "float32"),
    "aeq_weight_only_wi4_afp32": (QuantizationConfig(mode=Mode.AEQ,
                                                     aeq=AeqConfig(recipe="weight_only_wi4_afp32")),
                                  0.14, "float32"),
    "aeq_static_wi8_ai8": (QuantizationConfig(mode=Mode.AEQ, calibration=CAL,
                                              aeq=AeqConfig(recipe="static_wi8_ai8")), 0.27, "float32"),
}


@pytest.fixture(scope="module", params=sorted(MATRIX))
def technique(request, trained_model, examples_artifact, tmp_path_factory):
    config, ratio, io_dtype = MATRIX[request.param]
    root = str(tmp_path_factory.mktemp(request.param))
    plan = run_quantizer(config, trained_model, examples_artifact, os.path.join(root, "plan"))
    tflite, float_model = run_exporter(trained_model, plan, root)
    report, _ = record_files.read_export_report(tflite.uri)
    return request.param, config, ratio, io_dtype, tflite, report


def test_output_loads_runs_and_has_promised_dtypes(technique):
    name, config, _, io_dtype, tflite, report = technique
    interp = litert.Interpreter(model_path=os.path.join(tflite.uri, "Format-Serving", "tflite"))
    runner = interp.get_signature_runner("serving_default")
    (inp,) = runner.get_input_details().values()
    (out,) = runner.get_output_details().values()
    assert (np.dtype(inp["dtype"]).name, np.dtype(out["dtype"]).name) == (io_dtype, io_dtype)
    result = runner(image=np.zeros((4, 64), dtype=inp["dtype"]))
    assert next(iter(result.values())).shape == (4, 10)
    ops = report.quantized.ops
    if config.mode == Mode.INT8_STRICT:
        assert ops.float == 0 and ops.hybrid == 0 and ops.integer > 0
        tensors = [t for t in interp.get_tensor_details() if np.dtype(t["dtype"]).name.startswith("float")]
        assert not tensors, f"{name}: float tensors left: {[t['name'] for t in tensors]}"
    if config.mode == Mode.INT16X8:
        assert any(np.dtype(t["dtype"]).name == "int16" for t in interp.get_tensor_details())
    if config.mode == Mode.FLOAT16:
        assert any(np.dtype(t["dtype"]).name == "float16" for t in interp.get_tensor_details())
    if config.mode == Mode.DYNAMIC_RANGE:
        assert ops.hybrid > 0
    if config.mode == Mode.QAT:
        assert ops.float == 0 and ops.hybrid == 0 and ops.integer > 0
    if config.mode == Mode.AEQ:
        recipe_file = os.path.join(tflite.uri, artifacts.AEQ_RECIPE_FILE)
        assert report.aeq_recipe == artifacts.AEQ_RECIPE_FILE and os.path.exists(recipe_file)
        assert report.quantized.dynamic_batch


def test_size_relative_to_float(technique):
    name, _, ratio, _, _, report = technique
    assert report.size_ratio == pytest.approx(ratio, abs=0.05), name


def test_strict_int8_refuses_an_op_without_int8_kernel(tmp_path):
    """SIN has no int8 kernel: the converter silently keeps it in float; our check names it."""
    import tensorflow as tf

    class SinModel(tf.Module):
        def __init__(self):
            self.w = tf.Variable(tf.random.stateless_normal([8, 4], seed=[1, 2]))

        @tf.function(input_signature=[tf.TensorSpec([None, 8], tf.float32, name="x")])
        def serve(self, x):
            return {"y": tf.matmul(tf.math.sin(x), self.w)}

    module = SinModel()
    tf.saved_model.save(module, str(tmp_path), signatures={"serving_default": module.serve})
    config = QuantizationConfig(mode=Mode.INT8_STRICT)
    model = convert.convert(str(tmp_path), config,
                            {"x": np.random.default_rng(0).normal(size=(16, 8)).astype(np.float32)})
    found = checks.problems(checks.describe(model, "serving_default"), config)
    assert len(found) == 1 and "SIN x1" in found[0] and "mode='int8'" in found[0]


def test_conversion_error_names_op_and_fallback():
    message = convert.explain("with mode='int8_strict'",
                              "error: 'tfl.custom_op' op is neither a custom op nor a flex op\nmore")
    assert "custom_op" in message and "mode='int8'" in message and "more" not in message


@pytest.mark.parametrize("keep, kind_of", [
    ({"keep_float_ops": ("CONV_2D",)}, {"CONV_2D": "float", "FULLY_CONNECTED": "integer"}),
    ({"keep_float_nodes": ("model/probabilities/MatMul;model/probabilities/BiasAdd",)},
     {"CONV_2D": "integer"}),
])
def test_selective_quantization_keeps_named_ops_in_float(keep, kind_of, trained_model,
                                                         examples_artifact, tmp_path):
    config = QuantizationConfig(mode=Mode.INT8, calibration=CAL, **keep)
    plan = run_quantizer(config, trained_model, examples_artifact, str(tmp_path / "plan"))
    tflite, _ = run_exporter(trained_model, plan, str(tmp_path))
    by_op = record_files.read_export_report(tflite.uri)[0].quantized.ops.by_op
    for op, kind in kind_of.items():
        assert set(by_op[op]) == {kind}, by_op
    if "keep_float_nodes" in keep:  # exactly one of the two FULLY_CONNECTED ops stays float
        assert by_op["FULLY_CONNECTED"] == {"float": 1, "integer": 1}, by_op
