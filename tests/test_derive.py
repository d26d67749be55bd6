"""Deriving a dense, frozen, convertible model from the signatures users have (Keras 3, tf.Examples).

Small Keras 3 models built here, saved the way TFX Trainers save them
(`tf.saved_model.save(model, dir, signatures=...)`): a dense signature with a
float and an int64 input, and a signature over serialized tf.Examples.
"""

from __future__ import annotations

import numpy as np
import pytest
import tensorflow as tf

from tfx_edge.components.core import checks, convert, derive, litert, parity
from tfx_edge.components.core.graph_cut import DeriveError
from tfx_edge.components.core.input_mapping import InputMappingError, TensorSpec, resolve
from tfx_edge.schemas import CalibrationConfig, Mode, Placement, QuantizationConfig

KEY = "serving_default"
VARIABLE_OPS = {"VAR_HANDLE", "READ_VARIABLE", "ASSIGN_VARIABLE"}


def _keras3_model(seed: int = 0):
    import keras  # Keras 3, whatever TF_USE_LEGACY_KERAS says
    keras.utils.set_random_seed(seed)
    x = keras.Input(shape=(3,), name="x")
    n = keras.Input(shape=(1,), dtype="int64", name="n")
    h = keras.layers.Concatenate()([x, keras.layers.Lambda(lambda t: keras.ops.cast(t, "float32"))(n)])
    h = keras.layers.Dense(64, activation="relu")(h)
    h = keras.layers.Dense(64, activation="relu")(h)   # 4,096 weights: dynamic range quantizes >= 1,024
    return keras.Model([x, n], keras.layers.Dense(3, name="logits")(h))


def _examples(count: int = 48, seed: int = 1) -> tuple[list[bytes], dict[str, np.ndarray]]:
    rng = np.random.default_rng(seed)
    x, n = rng.normal(size=(count, 3)).astype(np.float32), rng.integers(0, 5, size=(count, 1))
    records = [tf.train.Example(features=tf.train.Features(feature={
        "x": tf.train.Feature(float_list=tf.train.FloatList(value=x[i].tolist())),
        "n": tf.train.Feature(int64_list=tf.train.Int64List(value=n[i].tolist())),
        "label": tf.train.Feature(int64_list=tf.train.Int64List(value=[i % 3]))})).SerializeToString()
        for i in range(count)]
    return records, {"x": x, "n": n.astype(np.int64)}


@pytest.fixture(scope="module")
def keras3_dense(tmp_path_factory):
    model = _keras3_model()
    path = str(tmp_path_factory.mktemp("k3_dense"))

    @tf.function(input_signature=[tf.TensorSpec([None, 3], tf.float32, name="x"),
                                  tf.TensorSpec([None, 1], tf.int64, name="n")])
    def serve(x, n):
        return {"logits": model([x, n])}
    tf.saved_model.save(model, path, signatures={KEY: serve})
    return path


@pytest.fixture(scope="module")
def keras3_examples(tmp_path_factory):
    """TFX's default shape: `serving_default` parses serialized tf.Examples, then the model."""
    return _save_over_examples(_keras3_model(), str(tmp_path_factory.mktemp("k3_examples")))


def _save_over_examples(model, path: str) -> str:
    """Saves `model` with a `serving_default` that parses serialized tf.Examples first."""
    spec = {"x": tf.io.FixedLenFeature([3], tf.float32), "n": tf.io.FixedLenFeature([1], tf.int64)}

    @tf.function(input_signature=[tf.TensorSpec([None], tf.string, name="examples")])
    def serve(serialized):
        features = tf.io.parse_example(serialized, spec)
        return {"logits": model([features["x"] * 2.0, features["n"]])}
    tf.saved_model.save(model, path, signatures={KEY: serve})
    return path


def _ops(model: bytes) -> set[str]:
    return set(litert.op_summary(model)["by_op"])


def test_keras3_dense_model_converts_frozen_with_int64_input(keras3_dense, tmp_path):
    derived = derive.derive(keras3_dense, KEY, str(tmp_path / "d"), Placement.EMBEDDED)
    assert derived.signature_kind == derive.DENSE
    assert [(t.name, t.dtype) for t in derived.inputs] == [("n", "int64"), ("x", "float32")]
    float_model = convert.convert_float(str(tmp_path / "d"), KEY)
    assert not _ops(float_model) & VARIABLE_OPS
    _, arrays = _examples()
    loaded = tf.saved_model.load(keras3_dense).signatures[KEY]
    expected = loaded(x=tf.constant(arrays["x"]), n=tf.constant(arrays["n"]))["logits"].numpy()
    got = litert.Runner(float_model, KEY)(arrays)["logits"]
    assert np.abs(got - expected).max() < 1e-5


@pytest.mark.parametrize("mode", [Mode.INT8, Mode.DYNAMIC_RANGE])
def test_mixed_dtype_model_quantizes(keras3_dense, tmp_path, mode):
    derive.derive(keras3_dense, KEY, str(tmp_path / "d"), Placement.EMBEDDED)
    _, arrays = _examples()
    config = QuantizationConfig(mode=mode, calibration=CalibrationConfig(num_samples=48))
    model = convert.convert(str(tmp_path / "d"), config, arrays if config.needs_calibration else None)
    desc = checks.describe(model, KEY)
    assert checks.problems(desc, config) == []
    assert not _ops(model) & VARIABLE_OPS
    assert {t["name"]: t["dtype"] for t in desc["inputs"]} == {"n": "int64", "x": "float32"}
    checks.smoke_run(model, KEY)


def test_example_signature_is_cut_at_its_parse_op(keras3_examples, tmp_path):
    out = str(tmp_path / "d")
    derived = derive.derive(keras3_examples, KEY, out, Placement.EMBEDDED)
    assert derived.signature_kind == derive.EXAMPLES
    assert [(t.name, t.dtype, t.shape) for t in derived.inputs] == [("n", "int64", (-1, 1)),
                                                                      ("x", "float32", (-1, 3))]
    records, _ = _examples()
    float_model = convert.convert_float(out, KEY)
    report = parity.check(float_model, KEY, keras3_examples, derived, out, records, None, 1e-4)
    assert report["passed"] and report["examples"] == 48 and report["worst_relative_diff"] < 1e-5


def test_parity_refuses_a_reference_that_computes_something_else(keras3_examples, tmp_path):
    """A float32 TFLite from other weights stands in for a conversion that changed the model."""
    path = _save_over_examples(_keras3_model(seed=7), str(tmp_path / "other"))
    broken = derive.derive(path, KEY, str(tmp_path / "d_other"), Placement.EMBEDDED)
    wrong_reference = convert.convert_float(str(tmp_path / "d_other"), KEY)
    records, _ = _examples()
    with pytest.raises(parity.ParityError, match=r"float32 TFLite of signature 'serving_default' does not "
                                                 r"compute what the SavedModel computes on 48 examples"):
        parity.check(wrong_reference, KEY, keras3_examples, broken, str(tmp_path / "d_other"), records,
                     None, 1e-4)


def test_a_used_sparse_feature_is_refused_naming_it(tmp_path):
    path = str(tmp_path / "sparse")

    class Model(tf.Module):
        @tf.function(input_signature=[tf.TensorSpec([None], tf.string, name="examples")])
        def serve(self, serialized):
            f = tf.io.parse_example(serialized, {"tags": tf.io.VarLenFeature(tf.float32),
                                                 "x": tf.io.FixedLenFeature([1], tf.float32)})
            return {"y": f["x"] + tf.sparse.reduce_sum(f["tags"], axis=1, keepdims=True)}
    module = Model()
    tf.saved_model.save(module, path, signatures={KEY: module.serve})
    with pytest.raises(DeriveError, match=r"feature 'tags' is used as a sparse \(VarLenFeature\) feature.*"
                                          r"placement='transformed'"):
        derive.derive(path, KEY, str(tmp_path / "d"), Placement.EMBEDDED)


def test_a_fixed_batch_dimension_is_refused(tmp_path):
    path = str(tmp_path / "fixed")

    class Model(tf.Module):
        @tf.function(input_signature=[tf.TensorSpec([4, 3], tf.float32, name="x")])
        def serve(self, x):
            return {"y": x * 2.0}
    module = Model()
    tf.saved_model.save(module, path, signatures={KEY: module.serve})
    with pytest.raises(DeriveError, match=r"input 'x' has shape \[4, 3\]: the batch dimension must be dynamic"):
        derive.derive(path, KEY, str(tmp_path / "d"), Placement.EMBEDDED)


def test_an_unknown_signature_key_names_the_field(keras3_dense, tmp_path):
    with pytest.raises(DeriveError, match=r"signature_key='serve' is not in the SavedModel.*"
                                          r"\['serving_default'\]. Set QuantizationConfig.signature_key"):
        derive.derive(keras3_dense, "serve", str(tmp_path / "d"), Placement.EMBEDDED)


def test_every_unmapped_tensor_is_listed_at_once_with_a_mapping_to_paste():
    tensors = [TensorSpec(f"in_{i}", "float32", (-1, 1)) for i in range(13)]
    with pytest.raises(InputMappingError) as error:
        resolve(tensors, ["a", "b"])
    message = str(error.value)
    assert message.startswith("13 model input(s) cannot be fed")
    assert all(f"'in_{i}'" in message for i in range(13))
    assert "input_mapping={'in_0': '<feature>', 'in_1': '<feature>'" in message


def _category_model(output_mode: str):
    """Taxi's wide part: int ids -> Keras 3 CategoryEncoding (DenseBincount in TF) -> Dense."""
    import keras
    keras.utils.set_random_seed(3)
    ids = keras.Input(shape=(2,), dtype="int64", name="n")
    counts = keras.Input(shape=(2,), name="w")
    encoded = keras.layers.CategoryEncoding(num_tokens=7, output_mode=output_mode)(
        ids, count_weights=counts if output_mode == "count" else None)
    return keras.Model([ids, counts], keras.layers.Dense(3, name="logits")(encoded * 1.0))


@pytest.mark.parametrize("output_mode", ["multi_hot", "count"])
def test_category_encoding_becomes_builtin_ops_and_passes_parity(output_mode, tmp_path):
    """DenseBincount (refused before: no builtin op) is rewritten to ONE_HOT + a reduction; the
    float32 TFLite computes what the SavedModel computes, and int8 converts without Select ops."""
    model = _category_model(output_mode)
    spec = {"n": tf.io.FixedLenFeature([2], tf.int64), "w": tf.io.FixedLenFeature([2], tf.float32)}

    @tf.function(input_signature=[tf.TensorSpec([None], tf.string, name="examples")])
    def serve(serialized):
        features = tf.io.parse_example(serialized, spec)
        return {"logits": model([features["n"], features["w"]])}
    source = str(tmp_path / "src")
    tf.saved_model.save(model, source, signatures={KEY: serve})
    rng = np.random.default_rng(5)
    ids, weights = rng.integers(0, 7, size=(40, 2)), rng.uniform(0.5, 2, size=(40, 2)).astype(np.float32)
    ids[:5, 1] = ids[:5, 0]   # repeated ids: multi_hot stays 1, count adds the weights
    records = [tf.train.Example(features=tf.train.Features(feature={
        "n": tf.train.Feature(int64_list=tf.train.Int64List(value=ids[i].tolist())),
        "w": tf.train.Feature(float_list=tf.train.FloatList(value=weights[i].tolist()))})).SerializeToString()
        for i in range(40)]
    out = str(tmp_path / "d")
    derived = derive.derive(source, KEY, out, Placement.EMBEDDED)
    float_model = convert.convert_float(out, KEY)
    assert "ONE_HOT" in _ops(float_model)
    report = parity.check(float_model, KEY, source, derived, out, records, None, 1e-5)
    assert report["passed"] and report["examples"] == 40 and report["worst_relative_diff"] < 1e-6
    arrays = {"n": ids.astype(np.int64), "w": weights}
    int8 = convert.convert(out, QuantizationConfig(mode=Mode.INT8, calibration=CalibrationConfig(num_samples=40)),
                           arrays)
    checks.smoke_run(int8, KEY)


@pytest.mark.parametrize("what, named, not_named", [
    ("with mode='int8'", ["mode='dynamic_range'"], ["mode='int8'"]),
    ("with mode='dynamic_range'", ["mode='int8' (float fallback"], ["mode='dynamic_range'"]),
    (convert.FLOAT_REFERENCE, ["no quantization mode changes it"], ["mode='int8'", "mode='dynamic_range'"]),
])
def test_conversion_hints_never_name_what_the_user_already_did(what, named, not_named):
    message = convert.explain(what, "'tf.Foo' op is neither a custom op nor a flex op")
    hint = message.split("tf.Foo' op is neither a custom op nor a flex op", 1)[1]
    assert "Foo" in message and all(n in hint for n in named) and not any(n in hint for n in not_named)


@pytest.mark.parametrize("side", ["right", "left"])
def test_transform_buckets_become_builtin_comparisons_and_pass_parity(side, tmp_path):
    """tf.Transform's own apply_buckets (tf.searchsorted: UpperBound / LowerBound, not in LiteRT's
    builtin set) is rewritten to a count of boundaries at or below each value; values equal to a
    boundary and beyond both ends included, the float32 TFLite equals the SavedModel and int8 converts."""
    import tensorflow_transform as tft
    from tensorflow_transform import tf_utils
    boundaries = tf.constant([[-1.0, 0.0, 0.5, 2.0]])
    weights = tf.Variable(np.linspace(-1, 1, 5 * 3, dtype=np.float32).reshape(5, 3))
    spec = {"x": tf.io.FixedLenFeature([1], tf.float32)}

    @tf.function(input_signature=[tf.TensorSpec([None], tf.string, name="examples")])
    def serve(serialized):
        x = tf.io.parse_example(serialized, spec)["x"][:, 0]
        if side == "right":
            ids = tft.apply_buckets(x, boundaries)
        else:
            ids = tf_utils.assign_buckets(x, boundaries, side=tf_utils.Side.LEFT)
        return {"logits": tf.one_hot(ids, 5) @ weights}
    module = tf.Module()
    module.weights, module.serve = weights, serve
    source = str(tmp_path / "src")
    tf.saved_model.save(module, source, signatures={KEY: serve})
    values = [-3.0, -1.0, -0.5, 0.0, 0.25, 0.5, 1.0, 2.0, 7.0] * 4
    records = [tf.train.Example(features=tf.train.Features(feature={
        "x": tf.train.Feature(float_list=tf.train.FloatList(value=[v]))})).SerializeToString() for v in values]
    out = str(tmp_path / "d")
    derived = derive.derive(source, KEY, out, Placement.EMBEDDED)
    float_model = convert.convert_float(out, KEY)
    ops = _ops(float_model)
    assert not {"UPPER_BOUND", "LOWER_BOUND"} & ops and "SUM" in ops, ops
    report = parity.check(float_model, KEY, source, derived, out, records, None, 1e-6)
    assert report["passed"] and report["worst_relative_diff"] == 0.0
    int8 = convert.convert(out, QuantizationConfig(mode=Mode.INT8, calibration=CalibrationConfig(num_samples=36)),
                           {"x": np.array(values, np.float32).reshape(-1, 1)})
    checks.smoke_run(int8, KEY)
