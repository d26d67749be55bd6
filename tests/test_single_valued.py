"""VarLen features with at most one value per example fed dense [batch, 1] (placement 'embedded').

TFX's SchemaGen(infer_feature_shape=False) (TFX's taxi pipeline) makes every column a VarLen
feature, which the serving signature parses as a sparse tensor; the schema says each has at most
one value (value_count.max 1). The app then feeds one dense tensor per feature, a missing value
written as components/core/single_valued.py says, and the .tflite rebuilds the sparse tensor.
Checked against the SavedModel on examples with missing values, through the Quantizer (with a
schema artifact), the TFLiteExporter and the EdgeEvaluator, int8 included.
"""

from __future__ import annotations

import os

import numpy as np
import pytest
import tensorflow as tf
from tfx.types import artifact_utils, standard_artifacts

from helpers import make_artifact, run_edge_evaluator, run_exporter
from tfx_edge.components import artifacts, specs
from tfx_edge.components.core import convert, derive, litert, parity, single_valued
from tfx_edge.components.core.graph_cut import DeriveError
from tfx_edge.pipelines import evaluation_text
from tfx_edge.schemas import (CalibrationConfig, EvaluationConfig, MetricThreshold, Mode, OutputKind, Placement,
                              QuantizationConfig, Thresholds)

KEY = "serving_default"
SPEC = {"a": tf.io.VarLenFeature(tf.float32), "c": tf.io.VarLenFeature(tf.int64),
        "s": tf.io.VarLenFeature(tf.string)}


def test_fill_writes_the_contract_for_missing_values_and_absent_columns():
    decoded = {"a": np.array([[1.5], None, []], dtype=object), "c": np.array([[4], [5], [6]])}
    out = single_valued.fill(decoded, {"a": "float32", "c": "int64", "z": "int64"}, 3)
    assert out["a"].shape == (3, 1) and out["a"][0, 0] == 1.5 and np.isnan(out["a"][1:, 0]).all()
    assert out["a"].dtype == np.float32
    assert out["a"][1:, 0].view(np.int32).tolist() == [single_valued.FLOAT_MISSING_BITS] * 2
    assert out["c"].tolist() == [[4], [5], [6]]
    assert out["z"].tolist() == [[single_valued.INT_MISSING]] * 3   # absent from the whole batch
    with pytest.raises(single_valued.SingleValuedError, match=r"feature 'a' holds 2 values.*value_count"):
        single_valued.fill({"a": np.array([[1.0, 2.0]], np.float32)}, {"a": "float32"}, 1)


def _fill(x: tf.SparseTensor, default):
    """TFX's taxi module's _fill_in_missing: [batch, 1] with the default where missing, squeezed."""
    return tf.squeeze(tf.sparse.to_dense(tf.SparseTensor(x.indices, x.values, [x.dense_shape[0], 1]), default), 1)


def _model(uses_string: bool):
    rng = np.random.default_rng(3)
    module = tf.Module()
    module.w1 = tf.Variable(rng.normal(size=(3, 16)).astype(np.float32))
    module.w2 = tf.Variable(rng.normal(size=(16, 3)).astype(np.float32))

    @tf.function(input_signature=[tf.TensorSpec([None], tf.string, name="examples")])
    def serve(serialized):
        parsed = tf.io.parse_example(serialized, SPEC)
        a, c = _fill(parsed["a"], -1.0), tf.cast(_fill(parsed["c"], 7), tf.float32)
        third = tf.cast(tf.equal(_fill(parsed["s"], ""), "x"), tf.float32) if uses_string else a + c / 8.0
        hidden = tf.nn.relu(tf.stack([a, c / 4.0, third], axis=1) @ module.w1)
        return {"outputs": hidden @ module.w2}
    module.serve = serve
    return module


def _record(i: int, rng) -> tuple[bytes, int]:
    """a (missing in every 3rd), c (missing in every 5th), s; label: the float model's class on a dense
    reading of the same values (so accuracy is high and drops are measurable)."""
    feature = {}
    a, c = float(rng.normal()), int(rng.integers(0, 9))
    if i % 3:
        feature["a"] = tf.train.Feature(float_list=tf.train.FloatList(value=[a]))
    if i % 5:
        feature["c"] = tf.train.Feature(int64_list=tf.train.Int64List(value=[c]))
    feature["s"] = tf.train.Feature(bytes_list=tf.train.BytesList(value=[b"x" if i % 2 else b"y"]))
    return tf.train.Example(features=tf.train.Features(feature=feature)).SerializeToString(), 0


@pytest.fixture(scope="module")
def source(tmp_path_factory):
    root = tmp_path_factory.mktemp("single_valued")
    module = _model(uses_string=False)
    path = str(root / "model" / "Format-Serving")
    tf.saved_model.save(module, path, signatures={KEY: module.serve})
    rng = np.random.default_rng(1)
    records = [_record(i, rng)[0] for i in range(300)]
    labels = np.argmax(module.serve(tf.constant(records))["outputs"].numpy(), axis=1)
    return root, path, records, labels


def test_without_a_schema_the_varlen_features_are_refused_naming_them_and_the_schema_wiring(source, tmp_path):
    _, path, _, _ = source
    with pytest.raises(DeriveError, match=r"features \['a', 'c'\] are used as sparse.*neither reached the "
                                          r"Quantizer.*edge_components\(\.\.\., schema=\.\.\., statistics=\.\.\.\)"):
        derive.derive(path, KEY, str(tmp_path / "d"), Placement.EMBEDDED)
    with pytest.raises(DeriveError, match=r"feature 'c' is used as a sparse.*value_count.max: 1.*statistics"):
        derive.derive(path, KEY, str(tmp_path / "d2"), Placement.EMBEDDED, single_valued=frozenset({"a"}))


def test_string_varlen_features_are_refused_as_strings(tmp_path):
    module = _model(uses_string=True)
    path = str(tmp_path / "m")
    tf.saved_model.save(module, path, signatures={KEY: module.serve})
    with pytest.raises(DeriveError, match=r"feature 's' is used as a sparse.*string features \['s'\] stay sparse"):
        derive.derive(path, KEY, str(tmp_path / "d"), Placement.EMBEDDED, single_valued=frozenset({"a", "c", "s"}))


def test_dense_feeds_compute_what_the_savedmodel_computes_missing_values_included(source, tmp_path):
    _, path, records, _ = source
    out = str(tmp_path / "d")
    derived = derive.derive(path, KEY, out, Placement.EMBEDDED, single_valued=frozenset({"a", "c"}))
    assert [(t.name, t.dtype, t.shape) for t in derived.inputs] == [("a", "float32", (-1, 1)), ("c", "int64", (-1, 1))]
    assert derived.single_valued == ("a", "c")
    float_model = convert.convert_float(out, KEY)
    assert {"BITCAST", "SPARSE_TO_DENSE", "WHERE"} <= set(litert.op_summary(float_model)["by_op"])
    report = parity.check(float_model, KEY, path, derived, out, records[:30], None, 1e-6)
    assert report["passed"] and report["examples"] == 32 and report["worst_relative_diff"] == 0.0   # + a, c removed


def test_quantizer_with_the_schema_exports_int8_that_the_gate_blesses(source):
    root, path, records, labels = source
    from tensorflow_metadata.proto.v0 import schema_pb2
    from tfx_edge.components.artifacts import QuantizationPlan
    from tfx_edge.components.quantizer import executor
    schema = schema_pb2.Schema()
    for name, kind in (("a", schema_pb2.FLOAT), ("c", schema_pb2.INT), ("s", schema_pb2.BYTES),
                       ("label", schema_pb2.INT)):
        feature = schema.feature.add(name=name, type=kind)
        feature.value_count.min, feature.value_count.max = 1, 1
    schema_artifact = make_artifact(standard_artifacts.Schema, str(root / "schema"))
    with open(os.path.join(schema_artifact.uri, "schema.pbtxt"), "w") as f:
        from google.protobuf import text_format
        f.write(text_format.MessageToString(schema))
    examples = make_artifact(standard_artifacts.Examples, str(root / "examples"))
    examples.split_names = artifact_utils.encode_split_names(["train", "eval"])
    for split in ("train", "eval"):
        os.makedirs(os.path.join(examples.uri, f"Split-{split}"))
        with tf.io.TFRecordWriter(os.path.join(examples.uri, f"Split-{split}", "data.tfrecord")) as writer:
            for record, label in zip(records, labels):
                example = tf.train.Example.FromString(record)
                example.features.feature["label"].int64_list.value.append(int(label))
                writer.write(example.SerializeToString())
    model = make_artifact(standard_artifacts.Model, os.path.dirname(path))
    plan = make_artifact(QuantizationPlan, str(root / "plan"))
    config = QuantizationConfig(mode=Mode.INT8, placement=Placement.EMBEDDED,
                                calibration=CalibrationConfig(num_samples=200, seed=0))
    executor.Executor().Do({specs.MODEL_KEY: [model], specs.EXAMPLES_KEY: [examples],
                            specs.SCHEMA_KEY: [schema_artifact]},
                           {specs.PLAN_KEY: [plan]}, {specs.CONFIG_KEY: config.to_json()})
    tflite, float_model = run_exporter(model, plan, str(root / "export"))
    gate = EvaluationConfig(thresholds=Thresholds(metrics={
        "accuracy": MetricThreshold(max_absolute_drop=0.03, lower_bound=0.9)}),
        label_feature="label", output_kind=OutputKind.LOGITS)
    blessing, evaluation = run_edge_evaluator(gate, examples, tflite, float_model, str(root / "gate"))
    result = evaluation_text.read_evaluation(os.path.join(evaluation.uri, artifacts.METRICS_FILE))
    assert blessing.get_int_custom_property("blessed") == 1, [c.detail for c in result.failed]
    from tfx_edge.components import record_files
    report, _ = record_files.read_export_report(tflite.uri)
    assert report.plan.config.keep_float_ops == ("SPARSE_TO_DENSE",)   # LiteRT's int8 kernel is wrong
    assert report.plan.derivation.single_valued == ("a", "c") and report.parity.passed
    assert result.slices[""].metrics["float_tflite"]["accuracy"] == 1.0   # labels are the model's own classes


def test_statistics_of_every_split_decide_single_valued_features():
    """TFX's taxi data: empty CSV cells are present with no value, so SchemaGen writes no value_count for
    those columns; StatisticsGen's max_num_values (0 or 1) shows them single-valued."""
    from tensorflow_metadata.proto.v0 import schema_pb2, statistics_pb2
    from tfx_edge.components.quantizer import schema_facts

    def split(counts: dict) -> statistics_pb2.DatasetFeatureStatisticsList:
        stats = statistics_pb2.DatasetFeatureStatisticsList()
        dataset = stats.datasets.add()
        for name, most in counts.items():
            feature = dataset.features.add()
            feature.path.step.append(name)
            feature.num_stats.common_stats.max_num_values = most
        return stats
    assert schema_facts.statistics_names([split({"a": 1, "b": 1, "c": 0}), split({"a": 1, "b": 2})]) == ["a", "c"]
    schema = schema_pb2.Schema()
    schema.feature.add(name="a").value_count.max = 1
    schema.feature.add(name="b").value_count.max = 3
    schema.feature.add(name="c")
    assert schema_facts.schema_names(schema) == ["a"]
