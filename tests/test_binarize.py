"""One-vs-rest binarization and averages over classes (EvaluationConfig.binarize) equal stock TFMA's
MetricsSpec.binarize / aggregate on the digits int8 model and its float32 reference; the config's refusals;
a gate on a binarized metric."""

from __future__ import annotations

import os

import pytest

from tfx_edge.schemas import (Binarize, ConfigError, EvaluationConfig, LatencyConfig, MetricThreshold, OutputKind,
                              Thresholds, records)
from tfx_edge.components.edge_evaluator import planning
from helpers import run_edge_evaluator

CLASS_IDS = (0, 3, 7)
CLASS_WEIGHTS = ((0, 1.0), (3, 2.0), (7, 1.0), (9, 0.5))
METRICS = ["AUC", "AUCPrecisionRecall", "Precision", "Recall", "F1Score", "BinaryAccuracy", "Calibration",
           "MeanLabel", "MeanPrediction", "MeanSquaredError"]
FLOAT32_SUMS = {"mean_squared_error": 1e-5, "mean_prediction": 1e-6, "calibration": 1e-6}   # as test_tfma_equality
# The float32 reference's values are TFMA's to the tolerances of test_tfma_equality. TFMA's tf.lite interpreter
# and LiteRT give a few examples of the int8 model a different output (a step or a few of 1/256 apart: the
# mean prediction of class 7 differs by 4/256 over 360 examples), so the values read from the candidate's
# probabilities are compared at 0.2%; its counts at 0.5 (precision, recall, ...) are exact.
EXACT_ON_INT8 = frozenset({"precision", "recall", "f1_score", "binary_accuracy", "mean_label"})
INT8_RUNTIMES = 2e-3
AVERAGES = {"micro_average": "micro", "macro_average": "macro", "weighted_macro_average": "weighted_macro"}


def _config(binarize: Binarize, metrics: dict, **kwargs) -> EvaluationConfig:
    return EvaluationConfig(output_kind=OutputKind.PROBABILITIES, binarize=binarize, latency=LatencyConfig(runs=0),
                            thresholds=Thresholds(metrics=metrics), **kwargs)


def _native_name(key) -> str:
    """tfx-edge's name of a TFMA MetricKey with a sub_key class_id or an aggregation_type."""
    if key.sub_key.HasField("class_id"):
        return f"{key.name}/class_{key.sub_key.class_id.value}"
    for field, average in AVERAGES.items():
        if getattr(key.aggregation_type, field):
            return f"{key.name}/{average}"
    return key.name


def tfma_specs(cfg) -> list[list]:
    """binarize {class_ids} and each aggregate in its own MetricsSpec; weighted_macro in a run of its own: TFMA
    0.52 keys a weighted_macro_average with aggregation_type {macro_average: true} (aggregation.py), so beside a
    macro_average the two would be one key."""
    configs = [cfg.MetricConfig(class_name=name) for name in METRICS]
    weights = dict(CLASS_WEIGHTS)
    return [[cfg.MetricsSpec(metrics=configs, binarize=cfg.BinarizationOptions(class_ids={"values": CLASS_IDS})),
             cfg.MetricsSpec(metrics=configs, aggregate=cfg.AggregationOptions(micro_average=True,
                                                                                class_weights=weights)),
             cfg.MetricsSpec(metrics=configs, aggregate=cfg.AggregationOptions(macro_average=True,
                                                                                class_weights=weights))],
            [cfg.MetricsSpec(metrics=configs, aggregate=cfg.AggregationOptions(weighted_macro_average=True,
                                                                                class_weights=weights))]]


def run_tfma(candidate: str, baseline: str, data: str, out: str, output: str, specs: list) -> dict:
    """Stock TFMA on the two .tflite files: {model: {native name: value}}."""
    import tensorflow_model_analysis as tfma
    from tensorflow_model_analysis.proto import config_pb2 as cfg
    spec = dict(model_type=tfma.TF_LITE, label_key="label", prediction_key=output)
    eval_config = cfg.EvalConfig(
        model_specs=[cfg.ModelSpec(name="candidate", **spec), cfg.ModelSpec(name="baseline", is_baseline=True, **spec)],
        slicing_specs=[cfg.SlicingSpec()], metrics_specs=specs)
    models = [tfma.default_eval_shared_model(eval_saved_model_path=path, model_name=name, eval_config=eval_config)
              for name, path in (("candidate", candidate), ("baseline", baseline))]
    tfma.run_model_analysis(eval_shared_model=models, eval_config=eval_config, data_location=data, output_path=out)
    found: dict = {}
    for metrics_for_slice in tfma.load_metrics(out):
        for kv in metrics_for_slice.metric_keys_and_values:
            if kv.key.is_diff or not kv.value.HasField("double_value"):
                continue
            model = "quantized" if kv.key.model_name == "candidate" else "float_tflite"
            found.setdefault(model, {})[_native_name(kv.key)] = kv.value.double_value.value
    return found


@pytest.mark.e2e
def test_binarized_and_averaged_metrics_equal_stock_tfma(int8_export, examples_artifact, tmp_path):
    binarize = Binarize(CLASS_IDS, ("micro", "macro", "weighted_macro"), CLASS_WEIGHTS)
    config = _config(binarize, {"auc/class_3": MetricThreshold(lower_bound=0.5),
                                "precision/macro": MetricThreshold(max_absolute_drop=0.2)})
    blessing, evaluation = run_edge_evaluator(config, examples_artifact, int8_export["tflite"], int8_export["float"],
                                              str(tmp_path / "out"))
    ours = records.EvaluationResult.from_json(open(os.path.join(evaluation.uri, "metrics.json")).read(), "m", "f")
    from tensorflow_model_analysis.proto import config_pb2
    theirs: dict = {}
    for i, specs in enumerate(tfma_specs(config_pb2)):
        for model_name, values in run_tfma(
                os.path.join(int8_export["tflite"].uri, "Format-Serving"), os.path.join(int8_export["float"].uri,
                                                                                        "Format-Serving"),
                os.path.join(examples_artifact.uri, "Split-eval", "data_tfrecord-00000-of-00001"),
                str(tmp_path / f"tfma{i}"), ours.output_name, specs).items():
            theirs.setdefault(model_name, {}).update(
                {name.replace("/macro", "/weighted_macro") if i else name: v for name, v in values.items()})
    compared = 0
    for model_name, values in theirs.items():
        for name, value in values.items():
            if "/" not in name:
                continue
            mine = ours.slices[""].metrics[model_name][name]
            rel = FLOAT32_SUMS.get(name.split("/")[0], 1e-9)
            if value != value:
                assert mine is None, (model_name, name, mine)
            else:
                if model_name == "quantized" and name.split("/")[0] not in EXACT_ON_INT8:
                    rel = INT8_RUNTIMES
                assert mine == pytest.approx(value, rel=rel, abs=1e-12), (model_name, name, mine, value)
            compared += 1
    # both models: 10 metrics for each of 3 classes and 3 averages
    # both models: 10 metrics for each of 3 classes, macro and weighted_macro; micro: the 6 confusion / AUC ones
    # (TFMA 0.52 writes no micro average of Calibration, MeanLabel, MeanPrediction, MeanSquaredError)
    assert compared == 2 * (10 * 5 + 6), compared
    assert blessing.get_int_custom_property("blessed") == 1
    # TFMA's loader finds our values under TFMA's own keys (sub_key / aggregation_type)
    import tensorflow_model_analysis as tfma
    (_, loaded), = tfma.load_eval_result(evaluation.uri, model_name="candidate").slicing_metrics
    assert loaded[""]["classId:3"]["auc"]["doubleValue"] == ours.slices[""].metrics["quantized"]["auc/class_3"]
    mine_keys = {_native_name(kv.key) for m in tfma.load_metrics(evaluation.uri) for kv in m.metric_keys_and_values}
    assert {"auc/class_7", "precision/micro", "recall/weighted_macro"} <= mine_keys


@pytest.mark.e2e
def test_a_failing_threshold_on_a_binarized_metric_fails_the_gate(int8_export, examples_artifact, tmp_path):
    with pytest.raises(ConfigError):       # a bound above 1 never passes: refused as such
        _config(Binarize((3,)), {"recall/class_3": MetricThreshold(lower_bound=1.5)})
    config = _config(Binarize((3,)), {"recall/class_3": MetricThreshold(lower_bound=0.9999)})
    blessing, evaluation = run_edge_evaluator(config, examples_artifact, int8_export["tflite"], int8_export["float"],
                                              str(tmp_path / "out"))
    result = records.EvaluationResult.from_json(open(os.path.join(evaluation.uri, "metrics.json")).read(), "m", "f")
    assert blessing.get_int_custom_property("blessed") == 0
    assert [c.name for c in result.failed] == ["recall/class_3.lower_bound"], result.failed


@pytest.mark.parametrize("binarize, metrics, fix", [
    (Binarize(), {"auc/class_0": MetricThreshold(lower_bound=0.5)}, "set class_ids"),
    (Binarize((0, 0)), {"auc/class_0": MetricThreshold(lower_bound=0.5)}, "distinct class ids"),
    (Binarize(aggregate=("macro",)), {"auc/macro": MetricThreshold(lower_bound=0.5)}, "class_weights"),
    (Binarize((1,), class_weights=((1, 1.0),)), {"auc/class_1": MetricThreshold(lower_bound=0.5)}, "set aggregate"),
    (Binarize((1,)), {"auc/class_2": MetricThreshold(lower_bound=0.5)}, "add the class to binarize.class_ids"),
    (Binarize((1,)), {"auc/micro": MetricThreshold(lower_bound=0.5)}, "average to binarize.aggregate"),
])
def test_config_refusals(binarize, metrics, fix):
    with pytest.raises(ConfigError, match=fix):
        _config(binarize, metrics)


def test_binarize_needs_output_kind_and_a_multi_class_output():
    with pytest.raises(ConfigError, match="output_kind"):
        EvaluationConfig(binarize=Binarize((1,)), thresholds=Thresholds(metrics={"accuracy": MetricThreshold(
            lower_bound=0.5)}))
    config = _config(Binarize((12,), ("micro",)), {"auc/class_12": MetricThreshold(lower_bound=0.5)})
    with pytest.raises(ValueError, match=r"class ids \[12\] are outside output 'p''s 10 classes"):
        planning._one_vs_rest(config, 10, "p")
    with pytest.raises(ValueError, match="multi-class output"):
        planning._one_vs_rest(config, 2, "p")


def test_a_tfma_eval_config_binarize_and_aggregate_map_to_the_native_config():
    from tensorflow_model_analysis.proto import config_pb2 as cfg
    bound = cfg.MetricThreshold(value_threshold=cfg.GenericValueThreshold(lower_bound={"value": 0.5}))
    gated = [cfg.MetricConfig(class_name="AUC", threshold=bound), cfg.MetricConfig(class_name="ExampleCount")]
    specs = [cfg.MetricsSpec(metrics=gated, binarize=cfg.BinarizationOptions(class_ids={"values": CLASS_IDS})),
             cfg.MetricsSpec(metrics=[cfg.MetricConfig(class_name="Precision", threshold=bound)],
                             aggregate=cfg.AggregationOptions(weighted_macro_average=True,
                                                              class_weights=dict(CLASS_WEIGHTS)))]
    config = EvaluationConfig.from_tfma(cfg.EvalConfig(model_specs=[cfg.ModelSpec(label_key="label")],
                                                       metrics_specs=specs))
    assert config.binarize == Binarize(CLASS_IDS, ("weighted_macro",), CLASS_WEIGHTS)
    assert sorted(config.thresholds.metrics) == ["auc/class_0", "auc/class_3", "auc/class_7",
                                                 "precision/weighted_macro"]
    assert config.thresholds.metrics["auc/class_3"].lower_bound == 0.5
    specs[1].aggregate.class_weights[3] = 9.0
    specs[0].aggregate.CopyFrom(cfg.AggregationOptions(micro_average=True, class_weights=dict(CLASS_WEIGHTS)))
    with pytest.raises(ConfigError, match=r"metrics_specs\[1\].aggregate.class_weights.*same class_weights"):
        EvaluationConfig.from_tfma(cfg.EvalConfig(model_specs=[cfg.ModelSpec(label_key="label")],
                                                  metrics_specs=specs))


def test_the_native_config_round_trips_through_json():
    config = _config(Binarize(CLASS_IDS, ("micro", "weighted_macro"), CLASS_WEIGHTS),
                     {"f1_score/weighted_macro": MetricThreshold(lower_bound=0.1)}, example_weight_key="w")
    assert EvaluationConfig.from_json(config.to_json()) == config


def test_a_binarized_auc_is_gated_on_the_whole_split_only():
    from tfx_edge.schemas import SliceThreshold
    with pytest.raises(ConfigError, match="whole split only"):
        EvaluationConfig(
            output_kind=OutputKind.PROBABILITIES, binarize=Binarize((3,)), slice_features=("g",),
            thresholds=Thresholds(metrics={"recall/class_3": MetricThreshold(lower_bound=0.5)}, slices=(
                SliceThreshold(feature="g", metrics={"auc/class_3": MetricThreshold(lower_bound=0.5)}),)))
