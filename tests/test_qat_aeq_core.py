"""QAT (tensorflow-model-optimization) and AEQ (ai-edge-quantizer) on the real demo model.

No mocks: the session's trained demo CNN (conftest.serving_dir), its float32
TFLite, real calibration examples and LiteRT. QAT runs once per module, for a
few steps.
"""

from __future__ import annotations

import json
import os
import re

import numpy as np
import pytest

from tfx_edge.schemas.quantization import AEQ_PRESETS, AeqConfig, Mode, QatConfig, QuantizationConfig

KEY = "serving_default"


@pytest.fixture(scope="module")
def eval_data(data_root):
    from tfx_edge.components.core import examples
    records = list(examples.iter_records([os.path.join(data_root, "eval", "digits.tfrecord")]))
    features = examples.Decoder().decode(records)
    return features["image"].astype(np.float32), features["label"][:, 0]


@pytest.fixture(scope="module")
def float_model(serving_dir):
    from tfx_edge.components.core import convert
    return convert.convert_float(serving_dir, KEY)


@pytest.fixture(scope="module")
def calibration(serving_dir, data_root):
    from tfx_edge.components.core import examples, saved_model
    tensors = saved_model.signature_inputs(serving_dir, KEY)
    records = list(examples.iter_records([os.path.join(data_root, "train", "digits.tfrecord")]))
    arrays, _ = examples.model_inputs(records[:32], tensors)
    return arrays


def accuracy(model: bytes, eval_data) -> float:
    from tfx_edge.components.core import input_mapping, litert
    x, y = eval_data
    runner = litert.Runner(model, KEY)
    spec = runner.inputs[0]
    feeds = {spec.name: input_mapping.quantize(x, spec) if spec.quantized else x}
    return float((runner(feeds)["probabilities"].argmax(axis=1) == y).mean())


# --- QAT ---------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def qat_run(serving_dir, data_root, tmp_path_factory):
    from tfx_edge.components.core import qat, saved_model  # imports tfmot lazily, inside fine_tune
    config = QuantizationConfig(mode=Mode.QAT, io_dtype="int8",
                                qat=QatConfig(epochs=1, steps_per_epoch=10, batch_size=32, seed=1))
    out_dir = str(tmp_path_factory.mktemp("qat") / "qat_saved_model")
    tensors = saved_model.signature_inputs(serving_dir, KEY)
    record, mapping = qat.fine_tune(serving_dir, config, tensors,
                                    os.path.join(data_root, "train"), out_dir)
    return {"config": config, "record": record, "mapping": mapping, "dir": out_dir,
            "tensors": tensors}


def test_qat_record_and_signature(qat_run):
    from tfx_edge.components.core import saved_model
    record = qat_run["record"]
    assert qat_run["mapping"] == {"image": "image"}
    assert record["epochs"] == 1 and record["steps"] == 10 and record["seed"] == 1
    assert record["examples_used"] == 320 and record["examples_in_split"] > 1000
    assert record["final_accuracy"] > 0.85 and record["float_layers"] == []
    json.dumps(record)  # goes into plan.json
    assert saved_model.signature_inputs(qat_run["dir"], KEY) == qat_run["tensors"]


def test_qat_converts_to_int8_tflite_that_litert_runs(qat_run, float_model, eval_data):
    from tfx_edge.components.core import checks, convert
    model = convert.convert(qat_run["dir"], qat_run["config"], None)
    desc = checks.describe(model, KEY)
    assert checks.problems(desc, qat_run["config"]) == []
    assert desc["dynamic_batch"] and desc["inputs"][0]["dtype"] == "int8"
    assert desc["ops"]["float"] == 0 and desc["ops"]["hybrid"] == 0
    checks.smoke_run(model, KEY, batch=3)
    assert len(model) < 0.3 * len(float_model)
    assert accuracy(model, eval_data) >= accuracy(float_model, eval_data) - 0.03


def test_qat_refuses_subclassed_model(tmp_path, data_root):
    import tensorflow as tf
    import tf_keras
    from tfx_edge.components.core import qat, saved_model
    from tfx_edge.components.core.convert import ConversionError

    class DigitsSubclass(tf_keras.Model):
        def __init__(self):
            super().__init__()
            self.dense = tf_keras.layers.Dense(10, activation="softmax")

        def call(self, x):
            return self.dense(x)

    model = DigitsSubclass()
    model(np.zeros((1, 64), np.float32))

    @tf.function(input_signature=[tf.TensorSpec([None, 64], tf.float32, name="image")])
    def serve(image):
        return {"probabilities": model(image)}

    path = str(tmp_path / "subclassed")
    model.save(path, save_format="tf", signatures={KEY: serve})
    config = QuantizationConfig(mode=Mode.QAT, qat=QatConfig(steps_per_epoch=1))
    with pytest.raises(ConversionError, match=r"subclassed.*DigitsSubclass.*mode='int8'"):
        qat.fine_tune(path, config, saved_model.signature_inputs(path, KEY),
                      os.path.join(data_root, "train"), str(tmp_path / "out"))


# --- AEQ ---------------------------------------------------------------------------------

@pytest.mark.parametrize("preset", AEQ_PRESETS)
def test_aeq_preset_is_smaller_runs_and_is_deterministic(preset, float_model, calibration,
                                                         eval_data):
    from tfx_edge.components.core import aeq, checks
    config = QuantizationConfig(mode=Mode.AEQ, aeq=AeqConfig(recipe=preset))
    cal = calibration if config.needs_calibration else None
    model = aeq.quantize(float_model, config, cal)
    assert model == aeq.quantize(float_model, config, cal)
    limit = 0.15 if "wi4" in preset else 0.3
    assert len(model) < limit * len(float_model)
    desc = checks.describe(model, KEY)
    assert checks.problems(desc, config) == []
    assert desc["dynamic_batch"]
    assert [t["dtype"] for t in desc["inputs"] + desc["outputs"]] == ["float32", "float32"]
    assert [t["shape"] for t in desc["outputs"]] == [[-1, 10]]
    checks.smoke_run(model, KEY, batch=3)
    assert accuracy(model, eval_data) >= accuracy(float_model, eval_data) - 0.03


def test_aeq_float_scopes_keep_the_scope_in_float(float_model, calibration):
    from tfx_edge.components.core import aeq, litert
    from tfx_edge.components.core.convert import ConversionError
    config = QuantizationConfig(mode=Mode.AEQ, aeq=AeqConfig(recipe="static_wi8_ai8",
                                                             float_scopes=("probabilities",)))
    ops = litert.op_summary(aeq.quantize(float_model, config, calibration))["by_op"]
    assert ops["FULLY_CONNECTED"] == {"float": 1, "integer": 1}
    typo = QuantizationConfig(mode=Mode.AEQ, aeq=AeqConfig(recipe="static_wi8_ai8",
                                                           float_scopes=("probabilties",)))
    with pytest.raises(ConversionError, match="'probabilties' matches no op"):
        aeq.quantize(float_model, typo, calibration)


@pytest.mark.parametrize("content, expected", [
    ("[{\"regex\": \".*\", \"operation\": \"*\",", "not valid JSON"),
    ("[{\"regex\": \".*\", \"operation\": \"*\"}]", "entry 0 .* lacks algorithm_key"),
    (json.dumps([{"regex": ".*", "operation": "*", "algorithm_key": "bogus", "op_config": {
        "weight_tensor_config": {"num_bits": 8, "symmetric": True, "granularity": "CHANNELWISE"},
        "compute_precision": "INTEGER", "explicit_dequantize": False}}]),
     "Unsupported algorithm key: bogus"),
    ("[{\"regex\": \".*\", \"operation\": \"*\", \"algorithm_key\": "
     "\"min_max_uniform_quantize\", \"op_config\": {}}]", "lacks key 'weight_tensor_config'"),
])
def test_aeq_malformed_recipe_file_names_the_file(tmp_path, float_model, content, expected):
    from tfx_edge.components.core import aeq
    from tfx_edge.components.core.convert import ConversionError
    path = tmp_path / "recipe.json"
    path.write_text(content)
    config = QuantizationConfig(mode=Mode.AEQ, aeq=AeqConfig(recipe_file=str(path)))
    with pytest.raises(ConversionError) as error:
        aeq.quantize(float_model, config, None)
    message = str(error.value)
    assert str(path) in message and re.search(expected, message)
    assert "fallback" in message or "use a preset" in message


def test_aeq_recipe_file_that_quantizes_nothing_is_refused(tmp_path, float_model):
    from ai_edge_quantizer import recipe
    from tfx_edge.components.core import aeq
    from tfx_edge.components.core.convert import ConversionError
    entry = recipe.dynamic_wi8_afp32()[0]
    entry["op_config"]["weight_tensor_config"]["num_bits"] = 3  # AEQ silently skips it
    path = tmp_path / "three_bits.json"
    path.write_text(json.dumps([entry]))
    config = QuantizationConfig(mode=Mode.AEQ, aeq=AeqConfig(recipe_file=str(path)))
    with pytest.raises(ConversionError, match="quantized no tensor"):
        aeq.quantize(float_model, config, None)


def test_qat_refuses_a_savedmodel_that_is_not_tf_keras(tmp_path):
    """A Keras 3 export or a plain tf.Module has no keras_metadata.pb: tfmot cannot use it."""
    import tensorflow as tf
    from tfx_edge.components.core import qat
    from tfx_edge.components.core.convert import ConversionError

    module = tf.Module()
    module.w = tf.Variable(tf.ones([64, 10]))
    module.serve = tf.function(lambda image: {"probabilities": tf.matmul(image, module.w)},
                               input_signature=[tf.TensorSpec([None, 64], tf.float32, name="image")])
    tf.saved_model.save(module, str(tmp_path), signatures={KEY: module.serve})
    with pytest.raises(ConversionError, match=r"not a tf_keras \(Keras 2\) model.*Keras 3.*mode='int8'"):
        qat.load_keras_model(str(tmp_path))


def test_qat_refuses_an_unsupported_layer_by_name():
    import tf_keras
    from tfx_edge.components.core import qat
    from tfx_edge.components.core.convert import ConversionError

    inputs = tf_keras.Input(shape=(64,), name="image")
    x = tf_keras.layers.LayerNormalization()(inputs)
    model = tf_keras.Model(inputs, tf_keras.layers.Dense(10)(x))
    with pytest.raises(ConversionError, match=r"LayerNormalization.*mode='int8'"):
        qat.quantize_model(model)
