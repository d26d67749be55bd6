"""gpu_ops: the GPU delegate's op table, read from its model_builder.cc, against small converted models.

Each model is converted here with TensorFlow's converter (a second or less each) and listed with
litert.op_versions; assertions name ops, not counts.
"""

from __future__ import annotations

import numpy as np
import pytest
import tensorflow as tf

from tfx_edge.components.core import gpu_ops, litert
from tfx_edge.components.core.gpu_ops import Incompatible, Why

pytestmark = pytest.mark.filterwarnings("ignore:Statistics for quantized inputs were expected")   # int8 io


def _flagged(model: bytes, **kw) -> dict[str, Why]:
    return {i.op: i.why for i in gpu_ops.incompatible(litert.op_versions(model), **kw)}


def _from_function(fn, *specs, module=None) -> bytes:
    concrete = tf.function(fn, input_signature=list(specs)).get_concrete_function()
    return tf.lite.TFLiteConverter.from_concrete_functions([concrete], module).convert()


def _cnn(batch_size):
    rng = np.random.default_rng(0)
    inputs = tf.keras.Input((8, 8, 3), batch_size=batch_size)
    x = tf.keras.layers.Conv2D(4, 3, activation="relu")(inputs)
    x = tf.keras.layers.Add()([x, tf.keras.layers.DepthwiseConv2D(3, padding="same")(x)])
    x = tf.keras.layers.Flatten()(tf.keras.layers.MaxPooling2D()(x))
    model = tf.keras.Model(inputs, tf.keras.layers.Softmax()(tf.keras.layers.Dense(3)(x)))
    model.set_weights([rng.normal(size=w.shape).astype(np.float32) for w in model.get_weights()])
    return model


def _dense_int8(gather: bool, integer_io: bool = True) -> bytes:
    rng = np.random.default_rng(0)
    w = tf.constant(rng.normal(size=(4, 8)).astype(np.float32))

    def fn(x):
        h = tf.nn.relu(x @ w)
        return tf.gather(h, [0, 2, 5], axis=1) if gather else h
    concrete = tf.function(fn, input_signature=[tf.TensorSpec([1, 4], tf.float32)]).get_concrete_function()
    converter = tf.lite.TFLiteConverter.from_concrete_functions([concrete])
    converter.optimizations = [tf.lite.Optimize.DEFAULT]
    converter.representative_dataset = lambda: ([rng.random((1, 4), dtype=np.float32)] for _ in range(10))
    converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
    if integer_io:
        converter.inference_input_type = converter.inference_output_type = tf.int8
    return converter.convert()


def test_float_cnn_on_a_fixed_batch_has_no_incompatible_op():
    model = tf.lite.TFLiteConverter.from_keras_model(_cnn(batch_size=1)).convert()
    names = {name for name, _ in litert.op_versions(model)}
    assert {"CONV_2D", "DEPTHWISE_CONV_2D", "ADD", "MAX_POOL_2D", "RESHAPE", "FULLY_CONNECTED", "SOFTMAX"} <= names
    assert gpu_ops.incompatible(litert.op_versions(model)) == ()


def test_flatten_on_a_dynamic_batch_computes_the_shape_with_shape_which_has_no_parser():
    model = tf.lite.TFLiteConverter.from_keras_model(_cnn(batch_size=None)).convert()
    flagged = _flagged(model)
    assert flagged.get("SHAPE") is Why.NO_PARSER, flagged
    assert not {"CONV_2D", "FULLY_CONNECTED", "RESHAPE"} & set(flagged)


def test_sort_top_k_and_where_are_named():
    flagged = _flagged(_from_function(lambda x: tf.math.top_k(x, 3).values + tf.sort(x)[:, :3],
                                      tf.TensorSpec([1, 10], tf.float32)))
    assert flagged.get("TOPK_V2") is Why.NO_PARSER, flagged
    flagged = _flagged(_from_function(lambda x: tf.gather(x, tf.where(x > 0)[:, 0]), tf.TensorSpec([10], tf.float32)))
    assert flagged.get("WHERE") is Why.NO_PARSER, flagged
    assert "GATHER" not in flagged and "GREATER" not in flagged   # parsed; their tensor rules are not checked here


def test_a_string_hashtable_is_named_and_its_string_tensors_cannot_be_held():
    class Lookup(tf.Module):
        def __init__(self):
            self.table = tf.lookup.StaticHashTable(tf.lookup.KeyValueTensorInitializer(
                tf.constant(["a", "b"]), tf.constant([1, 2], tf.int64)), -1)

        @tf.function(input_signature=[tf.TensorSpec([None], tf.string)])
        def __call__(self, x):
            return tf.cast(self.table.lookup(x), tf.float32) * 2.0
    module = Lookup()
    model = tf.lite.TFLiteConverter.from_concrete_functions([module.__call__.get_concrete_function()],
                                                            module).convert()
    assert {"HASHTABLE", "HASHTABLE_FIND", "HASHTABLE_IMPORT"} <= set(_flagged(model))
    assert not gpu_ops.holds("string") and not gpu_ops.holds("int64")


def test_full_integer_int8_dense_is_parsed_but_int8_gather_is_above_its_version_cap():
    assert gpu_ops.incompatible(litert.op_versions(_dense_int8(gather=False))) == ()
    (gather,) = gpu_ops.incompatible(litert.op_versions(_dense_int8(gather=True)))
    assert (gather.op, gather.why, gather.max_version) == ("GATHER", Why.VERSION, 1) and gather.version > 1
    assert gpu_ops.holds("int8") and not gpu_ops.holds("int8", quantized=False)


def test_quantize_and_dequantize_need_quantized_models_allowed():
    model = _dense_int8(gather=False, integer_io=False)
    assert _flagged(model) == {}
    assert _flagged(model, quantized=False) == {"QUANTIZE": Why.QUANT_OFF, "DEQUANTIZE": Why.QUANT_OFF}


def test_incompatible_is_sorted_once_per_op_and_version_and_covers_custom_ops():
    ops = [("WHERE", 1), ("BITCAST", 1), ("CONV_2D", 6), ("CONV_2D", 7), ("WHERE", 1), ("SPARSE_TO_DENSE", 3),
           ("HASHTABLE", 1), ("Convolution2DTransposeBias", 1), ("MaxPoolingWithArgmax2D", 3), ("FlexAsString", 1),
           ("TILE", 9)]
    assert gpu_ops.incompatible(ops) == (
        Incompatible("BITCAST", 1, Why.NO_PARSER), Incompatible("CONV_2D", 7, Why.VERSION, 6),
        Incompatible("FlexAsString", 1, Why.NO_PARSER), Incompatible("HASHTABLE", 1, Why.NO_PARSER),
        Incompatible("MaxPoolingWithArgmax2D", 3, Why.VERSION, 2), Incompatible("SPARSE_TO_DENSE", 3, Why.NO_PARSER),
        Incompatible("WHERE", 1, Why.NO_PARSER))
    assert str(Incompatible("CONV_2D", 7, Why.VERSION, 6)) == (
        "CONV_2D v7: version 7 is above 6, the highest its GPU delegate parser accepts")
    assert Incompatible("WHERE", 1, Why.NO_PARSER).reason == Why.NO_PARSER.value


def test_the_table_uses_litert_builtin_operator_names():
    from ai_edge_litert import schema_py_generated as schema
    names = {k for k in vars(schema.BuiltinOperator) if not k.startswith("_")}
    assert set(gpu_ops.GPU_OPS) <= names and not set(gpu_ops.GPU_CUSTOM_OPS) & names


@pytest.mark.parametrize("op, ins, outs", [
    ("CONV_2D", {"float32", "float16", "int8", "uint8"}, {"float32", "float16", "int8", "uint8"}),
    ("CAST", {"float32", "float16", "int8", "uint8", "bool", "int32"},
     {"float32", "float16", "int8", "uint8", "bool", "int32"}),
    ("GREATER", {"float32", "float16", "int8", "uint8"}, {"float32", "float16", "int8", "uint8", "bool"}),
])
def test_tensor_types_follow_get_ops_to_replace(op, ins, outs):
    assert gpu_ops.tensor_types(op) == (ins, outs)
    assert gpu_ops.tensor_types("SUB", quantized=False) == ({"float32", "float16"}, {"float32", "float16"})
