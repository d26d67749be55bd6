"""The EdgeEvaluator executor on real artifacts: real LiteRT, real Beam, real models.

Metric values are checked against independent computations (a per-example
LiteRT loop parsing tf.train.Example, scikit-learn); fail-closed cases check
that nothing is blessed and nothing half-written is left.
"""

import json
import os

import numpy as np
import pytest
import tensorflow as tf
from ai_edge_litert import interpreter as litert

from tfx_edge.components import artifacts
from tfx_edge.components.core import examples as examples_lib
from tfx_edge.components.core.input_mapping import InputMappingError
from tfx_edge.schemas import (Budgets, EvaluationConfig, LatencyConfig, MetricThreshold, OutputKind, SliceThreshold,
                              Task, Thresholds)
from tfx_edge.components.core.input_mapping import TensorSpec
from tfx_edge.components.edge_evaluator import planning, tfma_output
from helpers import make_artifact, run_edge_evaluator, write_export_report, write_model

ACC = {"accuracy": MetricThreshold(max_absolute_drop=0.2, lower_bound=0.5)}
FAST = LatencyConfig(runs=20, warmup=2)


def config(**kwargs):
    kwargs.setdefault("thresholds", Thresholds(metrics=ACC))
    kwargs.setdefault("latency", FAST)
    kwargs.setdefault("batch_size", 50)
    return EvaluationConfig(**kwargs)


def read_json(path):
    with open(path) as f:
        return json.load(f)


def eval_file(examples_artifact):
    return os.path.join(examples_artifact.uri, "Split-eval", "data_tfrecord-00000-of-00001")


def tflite_path(model):
    return os.path.join(model.uri, "Format-Serving", "tflite")


def direct_predictions(model_path, record_file):
    """An independent loop: tf.train.Example parsing and one LiteRT invoke per example."""
    runner = litert.Interpreter(model_path=model_path).get_signature_runner("serving_default")
    labels, probs = [], []
    for record in tf.data.TFRecordDataset(record_file).as_numpy_iterator():
        example = tf.train.Example.FromString(record)
        image = np.array(example.features.feature["image"].float_list.value, np.float32)[None]
        labels.append(example.features.feature["label"].int64_list.value[0])
        probs.append(runner(image=image)["probabilities"][0])
    return np.array(labels), np.array(probs)


@pytest.fixture(scope="module")
def evaluated(int8_export, examples_artifact, tmp_path_factory):
    """One full evaluation with slices, top-k and loss, run once for the module."""
    thresholds = Thresholds(
        metrics={**ACC, "loss": MetricThreshold(max_absolute_drop=0.5), "agreement": MetricThreshold(lower_bound=0.9)},
        slices=(SliceThreshold(feature="label", metrics={"accuracy": MetricThreshold(max_absolute_drop=0.3)}),),
        budgets=Budgets(max_model_bytes=10**6, max_latency_p95_us=10**6, max_float_ops=0))
    cfg = config(thresholds=thresholds, output_kind=OutputKind.PROBABILITIES, top_k=(3,),
                 slice_features=("label",), shards_per_file=2)
    root = str(tmp_path_factory.mktemp("evaluated"))
    blessing, evaluation = run_edge_evaluator(cfg, examples_artifact, int8_export["tflite"],
                                              int8_export["float"], root)
    return blessing, evaluation, read_json(os.path.join(evaluation.uri, artifacts.METRICS_FILE))


def test_metrics_match_an_independent_loop_and_sklearn(evaluated, int8_export, examples_artifact):
    from sklearn import metrics as sk
    _, _, result = evaluated
    overall = result["slices"][""]
    for name, model in (("quantized", int8_export["tflite"]), ("float_tflite", int8_export["float"])):
        labels, probs = direct_predictions(tflite_path(model), eval_file(examples_artifact))
        pred = probs.argmax(axis=1)
        m = overall["metrics"][name]
        assert m["accuracy"] == sk.accuracy_score(labels, pred)
        assert m["top_3_accuracy"] == pytest.approx(sk.top_k_accuracy_score(labels, probs, k=3, labels=range(10)))
        assert m["loss"] == pytest.approx(sk.log_loss(labels, np.clip(probs, 1e-7, 1), labels=range(10),
                                                      normalize=True), rel=1e-4)
        assert m["macro_recall"] == pytest.approx(sk.recall_score(labels, pred, average="macro"))
        assert m["macro_precision"] == pytest.approx(sk.precision_score(labels, pred, average="macro", zero_division=0))
        assert result["confusion"][name] == sk.confusion_matrix(labels, pred, labels=range(10)).tolist()
        for c in range(10):
            assert m[f"recall_class_{c}"] == pytest.approx(sk.recall_score(labels, pred, labels=[c], average="macro"))
    assert overall["examples"] == result["examples"] == 360


def test_slices_partition_the_split_and_are_gated(evaluated):
    _, _, result = evaluated
    label_slices = {k: v for k, v in result["slices"].items() if k.startswith("label=")}
    assert sorted(label_slices) == sorted(f"label={i}" for i in range(10))
    assert sum(s["examples"] for s in label_slices.values()) == 360
    slice_checks = [c for c in result["checks"] if c["slice"].startswith("label=")]
    assert len(slice_checks) == 10 and all(c["name"] == "accuracy.max_absolute_drop" for c in slice_checks)


def test_decision_checks_and_outputs_are_recorded(evaluated):
    blessing, evaluation, result = evaluated
    assert result["blessed"] and blessing.get_int_custom_property("blessed") == 1
    assert os.listdir(blessing.uri) == ["BLESSED"]
    assert not blessing.has_custom_property("current_model_id")
    assert sorted(os.listdir(evaluation.uri)) == sorted(["metrics.json", "report.html", "report.txt",
                                                         *tfma_output.FILES])
    names = {c["name"] for c in result["checks"]}
    assert {"examples", "finite_outputs", "accuracy.lower_bound", "accuracy.max_absolute_drop",
            "loss.max_absolute_drop", "agreement.lower_bound", "budgets.max_model_bytes",
            "budgets.max_latency_p95_us", "budgets.max_float_ops"} <= names
    assert result["models"]["quantized"]["ops"]["float"] == 0
    lat = result["latency"]["quantized"]
    assert set(lat) == {"xnnpack", "builtin"} and 0 < lat["xnnpack"]["p50_us"] <= lat["xnnpack"]["p95_us"]
    assert evaluation.get_float_custom_property("accuracy_quantized") == result["slices"][""]["metrics"]["quantized"]["accuracy"]
    assert "<!DOCTYPE html>" in open(os.path.join(evaluation.uri, "report.html")).read()


def test_work_units_do_not_change_the_counts(evaluated, int8_export, examples_artifact, tmp_path):
    _, _, sharded = evaluated
    cfg = config(output_kind=OutputKind.PROBABILITIES, top_k=(3,), slice_features=("label",),
                 latency=LatencyConfig(runs=0), batch_size=None)
    _, evaluation = run_edge_evaluator(cfg, examples_artifact, int8_export["tflite"], int8_export["float"],
                                       str(tmp_path))
    single = read_json(os.path.join(evaluation.uri, artifacts.METRICS_FILE))
    assert (sharded["batch_size"], single["batch_size"]) == (50, planning.AUTO_BATCH_MAX)   # 64 floats an example
    assert single["confusion"] == sharded["confusion"]
    for model, values in sharded["slices"]["label=3"]["metrics"].items():
        again = single["slices"]["label=3"]["metrics"][model]
        assert {k: v is None for k, v in values.items()} == {k: v is None for k, v in again.items()}
        assert {k: v for k, v in values.items() if v is not None} == pytest.approx(
            {k: v for k, v in again.items() if v is not None})


@pytest.mark.parametrize("record_bytes, shape, dtype, batch", [
    (400, (1, 64), "float32", 1024),             # digits: capped at the maximum
    (600_000, (1, 224, 224, 3), "float32", 16),  # images: never below the minimum
    (20_000, (1, 2000), "float32", 128),         # 2 x 8 KB inputs + 20 KB record -> 36 KB: 128 fits 8 MiB, 256 not
    (100, (1, 30), "bytes", 1024),             # LiteRT names string tensors numpy "bytes" (itemsize 0)
])
def test_the_scoring_batch_is_chosen_from_the_example_size(record_bytes, shape, dtype, batch):
    model = planning.LoadedModel("m", "m.tflite", b"", [TensorSpec("x", dtype, shape)],
                                 [TensorSpec("y", "float32", (1, 10))])
    assert planning.auto_batch_size(record_bytes, (model, model)) == batch


@pytest.mark.parametrize("thresholds, failing", [
    (Thresholds(metrics={"accuracy": MetricThreshold(lower_bound=1.0)}), "accuracy.lower_bound"),
    (Thresholds(metrics=ACC, budgets=Budgets(max_model_bytes=1000)), "budgets.max_model_bytes"),
    (Thresholds(metrics=ACC, budgets=Budgets(max_latency_p50_us=0.001)), "budgets.max_latency_p50_us"),
    (Thresholds(metrics=ACC, budgets=Budgets(max_latency_ratio=0.01)), "budgets.max_latency_ratio"),
])
def test_failing_thresholds_are_not_blessed(thresholds, failing, int8_export, examples_artifact, tmp_path):
    blessing, evaluation = run_edge_evaluator(config(thresholds=thresholds), examples_artifact,
                                              int8_export["tflite"], int8_export["float"], str(tmp_path))
    assert blessing.get_int_custom_property("blessed") == 0
    assert os.listdir(blessing.uri) == ["NOT_BLESSED"]
    result = read_json(os.path.join(evaluation.uri, "metrics.json"))
    assert [c["name"] for c in result["checks"] if not c["passed"]] == [failing]


def test_unblessed_float_model_blocks_the_edge_model(int8_export, examples_artifact, tmp_path):
    from tfx.types import standard_artifacts
    float_blessing = make_artifact(standard_artifacts.ModelBlessing, str(tmp_path / "fb"))
    float_blessing.set_int_custom_property("blessed", 0)
    blessing, _ = run_edge_evaluator(config(), examples_artifact, int8_export["tflite"],
                                     int8_export["float"], str(tmp_path / "out"), float_blessing)
    assert blessing.get_int_custom_property("blessed") == 0


def test_saved_model_comparison_when_asked(int8_export, trained_model, examples_artifact, tmp_path):
    cfg = config(compare_saved_model=True, latency=LatencyConfig(runs=0))
    _, evaluation = run_edge_evaluator(cfg, examples_artifact, int8_export["tflite"], int8_export["float"],
                                       str(tmp_path), saved_model=trained_model)
    result = read_json(os.path.join(evaluation.uri, "metrics.json"))
    overall = result["slices"][""]
    assert result["references"] == ["float_tflite", "saved_model"]
    # The float32 TFLite conversion is faithful: same accuracy as the SavedModel it came from.
    assert overall["metrics"]["saved_model"]["accuracy"] == overall["metrics"]["float_tflite"]["accuracy"]
    assert overall["pairs"]["saved_model"]["agreement"] > 0.99
    assert {c["reference"] for c in result["checks"] if c["name"] == "accuracy.max_absolute_drop"} == {
        "float_tflite", "saved_model"}


# --- fail closed ---------------------------------------------------------------------------

def nan_model(image):
    probs = tf.nn.softmax(image[:, :10])
    return {"probabilities": tf.where(image[:, 27:28] > 8.0, tf.fill(tf.shape(probs), np.nan), probs)}


def test_nan_outputs_fail_closed(int8_export, examples_artifact, tmp_path):
    nan = write_model(str(tmp_path), "nan", nan_model, int8_export["tflite"].uri)
    blessing, evaluation = run_edge_evaluator(config(latency=LatencyConfig(runs=0)), examples_artifact,
                                              nan, int8_export["float"], str(tmp_path / "out"))
    result = read_json(os.path.join(evaluation.uri, "metrics.json"))
    failed = {c["name"] for c in result["checks"] if not c["passed"]}
    assert "finite_outputs" in failed and blessing.get_int_custom_property("blessed") == 0
    assert result["slices"][""]["nonfinite"]["quantized"] > 0


@pytest.mark.parametrize("kwargs, error, match", [
    ({"label_feature": "digit"}, examples_lib.ExamplesError, "label_feature='digit' is missing from examples"),
    ({"slice_features": ("writer",)}, examples_lib.ExamplesError,
     "slice_features: no example of split 'eval' has feature 'writer'"),
    ({"input_mapping": {"image": "pixels"}}, InputMappingError, "Available features: \\['image', 'label'\\]"),
])
def test_missing_features_stop_with_a_clear_error(kwargs, error, match, int8_export, examples_artifact, tmp_path):
    with pytest.raises(error, match=match):
        run_edge_evaluator(config(**kwargs), examples_artifact, int8_export["tflite"], int8_export["float"],
                           str(tmp_path))
    assert not os.listdir(tmp_path / "blessing") and not os.listdir(tmp_path / "evaluation")


def test_unreadable_model_file_stops_naming_it(int8_export, examples_artifact, tmp_path):
    from tfx.types import standard_artifacts
    broken = make_artifact(standard_artifacts.Model, str(tmp_path / "broken"))
    os.makedirs(os.path.join(broken.uri, "Format-Serving"))
    with open(tflite_path(broken), "wb") as f:
        f.write(b"not a flatbuffer" * 8)
    write_export_report(broken.uri, int8_export["tflite"].uri)
    with pytest.raises(ValueError, match="model: .*broken/Format-Serving/tflite .*not a loadable TFLite"):
        run_edge_evaluator(config(), examples_artifact, broken, int8_export["float"], str(tmp_path / "o"))
    assert not os.listdir(tmp_path / "o" / "blessing")


def test_empty_split_is_not_blessed(int8_export, tmp_path):
    from tfx.types import artifact_utils, standard_artifacts
    empty = make_artifact(standard_artifacts.Examples, str(tmp_path / "ex"))
    os.makedirs(tmp_path / "ex" / "Split-eval")
    open(tmp_path / "ex" / "Split-eval" / "data_tfrecord-00000-of-00001", "wb").close()
    empty.split_names = artifact_utils.encode_split_names(["eval"])
    blessing, evaluation = run_edge_evaluator(config(), empty, int8_export["tflite"], int8_export["float"],
                                              str(tmp_path / "o"))
    result = read_json(os.path.join(evaluation.uri, "metrics.json"))
    failed = [c["name"] for c in result["checks"] if not c["passed"]]
    assert "examples" in failed and "accuracy.lower_bound" in failed
    assert os.listdir(blessing.uri) == ["NOT_BLESSED"]


def test_regression_task_mae_rmse(int8_export, examples_artifact, tmp_path):
    """A regression 'model' (mean pixel) against the digit label, quantized = reference."""
    def mean_pixel(image):
        return {"value": tf.reduce_mean(image, axis=1, keepdims=True)}
    model = write_model(str(tmp_path), "reg", mean_pixel, int8_export["tflite"].uri)
    write_export_report(model.uri, int8_export["tflite"].uri, reference_uri=model.uri)
    cfg = EvaluationConfig(task=Task.REGRESSION, latency=LatencyConfig(runs=0),
                           thresholds=Thresholds(metrics={"rmse": MetricThreshold(max_absolute_drop=0.0)}))
    blessing, evaluation = run_edge_evaluator(cfg, examples_artifact, model, model, str(tmp_path / "o"))
    result = read_json(os.path.join(evaluation.uri, "metrics.json"))
    labels, images = [], []
    for record in tf.data.TFRecordDataset(eval_file(examples_artifact)).as_numpy_iterator():
        example = tf.train.Example.FromString(record)
        images.append(example.features.feature["image"].float_list.value)
        labels.append(example.features.feature["label"].int64_list.value[0])
    err = np.mean(np.array(images, np.float32), axis=1) - np.array(labels)
    m = result["slices"][""]["metrics"]["quantized"]
    assert m["mae"] == pytest.approx(np.mean(np.abs(err)), rel=1e-5)
    assert m["rmse"] == pytest.approx(np.sqrt(np.mean(err ** 2)), rel=1e-5)
    assert result["blessed"] and result["primary_metric"] == "rmse"


def test_a_quantized_model_slower_than_float_is_flagged():
    from tfx_edge.components.edge_evaluator import report
    timing = {"quantized": {"xnnpack": {"p50_us": 80.0}, "builtin": {"p50_us": 30.0}},
              "float_tflite": {"xnnpack": {"p50_us": 32.0}, "builtin": {"p50_us": 84.0}}}
    assert report.slower_than_float(timing) == [
        "the quantized model is slower than float32 with xnnpack: p50 80.0 us vs 32.0 us"]


def test_tfma_reads_the_evaluation(int8_export, examples_artifact, tmp_path):
    """tfma.load_eval_result, load_metrics and load_validation_result read the EdgeEvaluation."""
    import tfx  # noqa: F401  (TFMA 0.52's package face needs tfx imported first)
    import tensorflow_model_analysis as tfma
    strict = config(thresholds=Thresholds(metrics={"accuracy": MetricThreshold(lower_bound=0.999)}),
                    slice_features=("label",))
    _, evaluation = run_edge_evaluator(strict, examples_artifact, int8_export["tflite"], int8_export["float"],
                                       str(tmp_path))
    result = json.loads(open(os.path.join(evaluation.uri, "metrics.json")).read())
    eval_result = tfma.load_eval_result(evaluation.uri, model_name="candidate")
    by_slice = dict(eval_result.slicing_metrics)
    assert set(by_slice) == {(), *((("label", str(d)),) for d in range(10))}
    overall = by_slice[()][""][""]
    assert overall["accuracy"]["doubleValue"] == result["slices"][""]["metrics"]["quantized"]["accuracy"]
    assert eval_result.config.model_specs[1].is_baseline
    keys = {(kv.key.name, kv.key.model_name, kv.key.is_diff) for m in tfma.load_metrics(evaluation.uri)
            for kv in m.metric_keys_and_values}
    assert {("accuracy", "candidate", False), ("accuracy", "baseline", False), ("accuracy", "candidate", True)} <= keys
    validation = tfma.load_validation_result(evaluation.uri)
    assert not validation.validation_ok
    (failure,) = [f for s in validation.metric_validations_per_slice for f in s.failures]
    assert failure.metric_key.name == "accuracy" and failure.message.startswith("accuracy.lower_bound: ")


def test_tfma_output_carries_the_drop_interval(int8_export, examples_artifact, tmp_path):
    import tfx  # noqa: F401  (TFMA 0.52's package face needs tfx imported first)
    import tensorflow_model_analysis as tfma
    _, evaluation = run_edge_evaluator(config(), examples_artifact, int8_export["tflite"], int8_export["float"],
                                       str(tmp_path))
    result = json.loads(open(os.path.join(evaluation.uri, "metrics.json")).read())
    drop = result["slices"][""]["drops"]["float_tflite"]["accuracy"]
    (diff,) = [kv for m in tfma.load_metrics(evaluation.uri) for kv in m.metric_keys_and_values
               if kv.key.name == "accuracy" and kv.key.is_diff and not m.slice_key.single_slice_keys]
    interval = diff.confidence_interval
    assert (interval.lower_bound.double_value.value, interval.upper_bound.double_value.value) == (
        -drop["ci_high"], -drop["ci_low"])
