"""A tfma.EvalConfig as the EdgeEvaluator's config (schemas/tfma_config.py), checked against TFMA 0.52.

TFMA's protos come from tensorflow_model_analysis.proto.config_pb2 (in TFMA 0.52 `tfma.EvalConfig`
raises AttributeError until tfx has been imported). Change thresholds are decided by TFMA's own
validator (evaluators/metrics_validator.validate_metrics) and by the gate on the same values.
"""

from __future__ import annotations

import copy
import math

import pytest
from google.protobuf import json_format
from tensorflow_model_analysis.evaluators import metrics_validator
from tensorflow_model_analysis.metrics import metric_specs, metric_types
from tensorflow_model_analysis.proto import config_pb2
from tensorflow_model_analysis.proto import config_pb2 as tfma   # the names the TFX example uses

from tfx_edge.components.core import gate, metrics
from tfx_edge.schemas import names, tfma_config
from tfx_edge.schemas._strict import ConfigError
from tfx_edge.schemas.evaluation import (Budgets, EvaluationConfig, MetricThreshold, SliceThreshold, Task,
                                         Thresholds)
from tfx_edge.schemas.tfma_config import from_tfma


def taxi_eval_config() -> config_pb2.EvalConfig:
    """TFX 1.21's tfx/examples/chicago_taxi_pipeline/taxi_pipeline_native_keras.py, as written there."""
    eval_config = tfma.EvalConfig(
        model_specs=[
            tfma.ModelSpec(
                signature_name='serving_default', label_key='tips_xf',
                preprocessing_function_names=['transform_features'])
        ],
        slicing_specs=[tfma.SlicingSpec()],
        metrics_specs=[
            tfma.MetricsSpec(metrics=[
                tfma.MetricConfig(
                    class_name='BinaryAccuracy',
                    threshold=tfma.MetricThreshold(
                        value_threshold=tfma.GenericValueThreshold(
                            lower_bound={'value': 0.6}),
                        # Change threshold will be ignored if there is no
                        # baseline model resolved from MLMD (first run).
                        change_threshold=tfma.GenericChangeThreshold(
                            direction=tfma.MetricDirection.HIGHER_IS_BETTER,
                            absolute={'value': -1e-10})))
            ])
        ])
    return eval_config


def value(lower=None, upper=None) -> config_pb2.MetricThreshold:
    bounds = {k: {"value": v} for k, v in (("lower_bound", lower), ("upper_bound", upper)) if v is not None}
    return tfma.MetricThreshold(value_threshold=tfma.GenericValueThreshold(**bounds))


def extended_taxi() -> config_pb2.EvalConfig:
    """The taxi config without preprocessing_function_names, with more binary metrics gated."""
    config = taxi_eval_config()
    config.model_specs[0].ClearField("preprocessing_function_names")
    config.metrics_specs[0].metrics.extend([
        tfma.MetricConfig(class_name="AUC", threshold=value(lower=0.7)),
        tfma.MetricConfig(class_name="AUCPrecisionRecall", threshold=value(lower=0.5)),
        tfma.MetricConfig(class_name="Calibration", threshold=value(lower=0.9, upper=1.1)),
        tfma.MetricConfig(class_name="ExampleCount", threshold=value(lower=100)),
    ])
    return config


EXPECTED_TAXI = EvaluationConfig(
    thresholds=Thresholds(metrics={
        "binary_accuracy": MetricThreshold(lower_bound=0.6, max_absolute_drop=1e-10),
        "auc": MetricThreshold(lower_bound=0.7),
        "auc_precision_recall": MetricThreshold(lower_bound=0.5),
        "calibration": MetricThreshold(lower_bound=0.9, upper_bound=1.1),
        "example_count": MetricThreshold(lower_bound=100.0)}),
    label_feature="tips_xf", output_kind="probabilities")


# --- (a) TFX's taxi EvalConfig ---------------------------------------------------------------------

def test_taxi_config_as_is_is_refused_naming_preprocessing_function_names():
    with pytest.raises(ConfigError) as error:
        EvaluationConfig.coerce(taxi_eval_config())
    message = str(error.value)
    assert message.startswith("model_specs[0].preprocessing_function_names=['transform_features'] is invalid")
    assert "transformed_examples" in message and "remove this field" in message


def test_taxi_config_without_preprocessing_converts():
    config = EvaluationConfig.coerce(extended_taxi())
    assert config == EXPECTED_TAXI
    assert config.task == Task.CLASSIFICATION and config.label_feature == "tips_xf"
    assert config.output_kind.value == "probabilities" and config.output_name is None
    assert config.thresholds.metrics["binary_accuracy"] == MetricThreshold(lower_bound=0.6, max_absolute_drop=1e-10)
    assert config.thresholds.slices == () and config.slice_features == () and config.split == "eval"
    assert config.to_json() == EvaluationConfig.from_json(config.to_json()).to_json()   # plain native JSON


def test_taxi_slices_min_slice_size_and_per_slice_thresholds():
    """The taxi slicing of taxi_pipeline_simple.py ([{}, trip_start_hour]): TFMA applies a MetricConfig's
    threshold to every slice it computes, so it gates each hour too; AUC (overall only here) goes in
    per_slice_thresholds on the overall slice."""
    config = extended_taxi()
    del config.metrics_specs[0].metrics[1:3]                                  # AUC, AUCPrecisionRecall
    config.slicing_specs.append(tfma.SlicingSpec(feature_keys=["trip_start_hour"]))
    config.options.min_slice_size.value = 50
    config.metrics_specs[0].metrics.append(tfma.MetricConfig(
        class_name="AUC", per_slice_thresholds=[tfma.PerSliceMetricThreshold(
            slicing_specs=[tfma.SlicingSpec()], threshold=value(lower=0.7))]))
    config.metrics_specs[0].metrics.append(tfma.MetricConfig(
        class_name="Precision", config='"thresholds": [0.3], "name": "precision@0.3"',
        per_slice_thresholds=[tfma.PerSliceMetricThreshold(
            slicing_specs=[tfma.SlicingSpec(feature_values={"trip_start_hour": "8"})],
            threshold=value(lower=0.4))]))
    converted = from_tfma(config, split="test")
    every_hour = {"binary_accuracy": MetricThreshold(lower_bound=0.6, max_absolute_drop=1e-10),
                  "calibration": MetricThreshold(lower_bound=0.9, upper_bound=1.1),
                  "example_count": MetricThreshold(lower_bound=100.0)}
    assert converted.thresholds.metrics == {**every_hour, "auc": MetricThreshold(lower_bound=0.7)}
    assert converted.thresholds.slices == (
        SliceThreshold(feature="trip_start_hour", metrics=every_hour, min_examples=50),
        SliceThreshold(feature="trip_start_hour", value="8", min_examples=50,
                       metrics={"precision@0.3": MetricThreshold(lower_bound=0.4)}))
    assert converted.slice_features == ("trip_start_hour",) and converted.binary_thresholds == (0.3,)
    assert converted.split == "test"


def test_table_names_are_tfmas_own():
    """Every class the table maps, instantiated by TFMA from its MetricConfig, has the default name the
    table says (what `name` and the MetricsSpec.thresholds keys are checked against)."""
    registered = metric_types.registered_metrics()
    for class_name, cls in tfma_config._CLASSES.items():
        instance = metric_specs.metric_instance(config_pb2.MetricConfig(class_name=class_name), registered)
        assert instance.name == cls.tfma_name, class_name
    assert issubclass(registered["PPV"], registered["Precision"])
    assert issubclass(registered["TPR"], registered["Recall"])


def test_schema_table_is_config_proto():
    """schemas/tfma_config.MESSAGES (pure Python) is TFMA 0.52's config.proto, field by field."""
    def kind(field):
        if field.message_type is not None and field.message_type.GetOptions().map_entry:
            value = field.message_type.fields_by_name["value"]
            return (value.message_type.name if value.message_type else _SCALARS[value.type], "map")
        name = (field.message_type.full_name.split(".", 1)[1] if field.message_type and
                field.message_type.full_name.startswith("tensorflow_model_analysis.") else
                field.message_type.name if field.message_type else
                field.enum_type.full_name.split(".", 1)[1] if field.enum_type else _SCALARS[field.type])
        return (name, "repeated" if field.label == field.LABEL_REPEATED else "single")

    for message, fields in tfma_config.MESSAGES.items():
        descriptor = config_pb2.DESCRIPTOR.message_types_by_name[message.split(".")[0]]
        for part in message.split(".")[1:]:
            descriptor = descriptor.nested_types_by_name[part]
        assert list(fields) == [f.name for f in descriptor.fields], message
        for f in descriptor.fields:
            assert (fields[f.name].type, fields[f.name].label) == kind(f), (message, f.name)
            assert fields[f.name].oneof == (f.containing_oneof is not None), (message, f.name)
    for enum, values in tfma_config._ENUMS.items():
        descriptor = (config_pb2.DESCRIPTOR.enum_types_by_name.get(enum) or
                      config_pb2.ConfidenceIntervalOptions.DESCRIPTOR.enum_types_by_name[enum.split(".")[-1]])
        assert tuple(v.name for v in descriptor.values) == values


_SCALARS = {9: "string", 8: "bool", 5: "int32", 3: "int64", 2: "float", 1: "double"}


def test_specs_built_by_tfma_convert():
    """MetricsSpecs made by TFMA's own specs_from_metrics (Keras and TFMA metric objects) convert,
    the ExampleCount / WeightedExampleCount specs it adds included."""
    import tf_keras
    from tensorflow_model_analysis.metrics import calibration, confusion_matrix_metrics
    specs = metric_specs.specs_from_metrics([
        tf_keras.metrics.SparseCategoricalAccuracy(), confusion_matrix_metrics.AUC(),
        confusion_matrix_metrics.Precision(thresholds=[0.3]), tf_keras.metrics.SparseTopKCategoricalAccuracy(k=3),
        tf_keras.losses.SparseCategoricalCrossentropy(), calibration.Calibration(), tf_keras.metrics.BinaryAccuracy()])
    config = config_pb2.EvalConfig(model_specs=[config_pb2.ModelSpec(label_key="y")], metrics_specs=specs)
    config.metrics_specs[-1].metrics[0].threshold.CopyFrom(value(lower=0.5))
    converted = from_tfma(config)
    assert converted.thresholds.metrics == {"accuracy": MetricThreshold(lower_bound=0.5)}
    assert converted.top_k == (3,) and converted.binary_thresholds == (0.3,)
    assert converted.output_kind.value == "probabilities"


def test_field_mappings():
    data = {"model_specs": [{"name": "candidate", "label_key": "y", "prediction_key": "probs",
                             "example_weight_key": "w", "inference_batch_size": 64},
                            {"name": "baseline", "is_baseline": True, "label_key": "ignored"}],
            "slicing_specs": [{}, {"feature_values": {"country": "NZ"}}],
            "metrics_specs": [{"model_names": ["candidate"], "output_names": ["probs"], "example_weights": {
                "weighted": True}, "metrics": [
                    {"class_name": "AUC", "config": '{"curve": "PR"}', "per_slice_thresholds": [
                        {"slicing_specs": [{}], "threshold": {"value_threshold": {"lower_bound": 0.5}}}]},
                    {"class_name": "PPV", **GATED, "per_slice_thresholds": [
                        {"slicing_specs": [{"feature_values": {"country": "NZ"}}], "threshold": {
                            "change_threshold": {"direction": "HIGHER_IS_BETTER", "relative": -0.05}}}]},
                    {"class_name": "TPR", "config": '"thresholds": [0.25], "name": "recall@0.25"'},
                    {"class_name": "WeightedExampleCount"}]},
                {"metrics": [{"class_name": "TPR", "config": '"thresholds": 0.25, "name": "recall@0.25"',
                              "threshold": {"value_threshold": {"upper_bound": 0.99}}}]}]}
    config = from_tfma(data)
    assert (config.label_feature, config.output_name, config.example_weight_key, config.batch_size) == (
        "y", "probs", "w", 64)
    assert config.thresholds.metrics == {"auc_precision_recall": MetricThreshold(lower_bound=0.5),
                                         "precision": MetricThreshold(lower_bound=0.6),
                                         "recall@0.25": MetricThreshold(upper_bound=0.99)}
    # The slicing_specs slice takes the thresholds without a slice and its per-slice one, merged (both apply).
    assert config.thresholds.slices == (SliceThreshold(feature="country", value="NZ", metrics={
        "precision": MetricThreshold(lower_bound=0.6, max_relative_drop=0.05),
        "recall@0.25": MetricThreshold(upper_bound=0.99)}),)
    assert config.slice_features == ("country",) and config.binary_thresholds == (0.25,)

    regression = from_tfma({"metrics_specs": [{"metrics": [
        {"class_name": "MeanAbsoluteError", "threshold": {"value_threshold": {"upper_bound": 3.0}}},
        {"class_name": "RootMeanSquaredError"}]}]})
    assert regression.task == Task.REGRESSION and regression.output_kind is None
    assert regression.thresholds.metrics == {"mae": MetricThreshold(upper_bound=3.0)}

    top_k = from_tfma({"metrics_specs": [{"metrics": [
        {"class_name": "SparseTopKCategoricalAccuracy", "config": '{"k": 3}', "threshold": {"change_threshold": {
            "direction": "HIGHER_IS_BETTER", "absolute": -0.01}}},
        {"class_name": "TopKCategoricalAccuracy", "config": '{"name": "top_5_accuracy"}'},
        {"class_name": "SparseCategoricalCrossentropy", "config": '{"from_logits": true}', "threshold": {
            "change_threshold": {"direction": "LOWER_IS_BETTER", "relative": 0.05}}}]}]})
    assert top_k.top_k == (3, 5) and top_k.output_kind.value == "logits"
    assert top_k.thresholds.metrics == {"top_3_accuracy": MetricThreshold(max_absolute_drop=0.01),
                                        "loss": MetricThreshold(max_relative_drop=0.05)}


# --- (b) the dict forms --------------------------------------------------------------------------

@pytest.mark.parametrize("preserving", [False, True], ids=["camelCase", "snake_case"])
def test_message_to_dict_forms_convert_through_from_dict(preserving):
    data = json_format.MessageToDict(extended_taxi(), preserving_proto_field_name=preserving)
    assert ("model_specs" in data) == preserving and ("modelSpecs" in data) != preserving
    assert EvaluationConfig.from_dict(data) == EXPECTED_TAXI
    assert EvaluationConfig.coerce(data) == EXPECTED_TAXI
    with pytest.raises(ConfigError, match=r"model_specs\[0\]\.preprocessing_function_names="):
        EvaluationConfig.from_dict(json_format.MessageToDict(taxi_eval_config(),
                                                             preserving_proto_field_name=preserving))


def test_json_text_and_wrapped_values():
    assert from_tfma(json_format.MessageToJson(extended_taxi())) == EXPECTED_TAXI
    data = json_format.MessageToDict(extended_taxi(), preserving_proto_field_name=True)
    data["metrics_specs"][0]["metrics"][0]["threshold"]["value_threshold"]["lower_bound"] = {"value": 0.6}
    assert EvaluationConfig.from_dict(data) == EXPECTED_TAXI        # {value: x}, as the constructors take it
    native = {"thresholds": {"metrics": {"accuracy": {"max_absolute_drop": 0.01}}}}     # native dicts still work
    assert EvaluationConfig.from_dict(native).thresholds.metrics["accuracy"].max_absolute_drop == 0.01


def test_edge_evaluator_component_takes_the_proto():
    import json

    from tfx import types
    from tfx.types import standard_artifacts

    from tfx_edge.components import EdgeEvaluator, specs
    model = types.Channel(type=standard_artifacts.Model)
    e = EdgeEvaluator(examples=types.Channel(type=standard_artifacts.Examples), model=model, float_model=model,
                      config=extended_taxi())
    stored = EvaluationConfig.from_json(e.exec_properties[specs.CONFIG_KEY])
    assert stored == EXPECTED_TAXI and "modelSpecs" not in json.loads(e.exec_properties[specs.CONFIG_KEY])
    with pytest.raises(ConfigError, match="preprocessing_function_names"):
        EdgeEvaluator(examples=types.Channel(type=standard_artifacts.Examples), model=model, float_model=model,
                      config=taxi_eval_config())


def test_overrides():
    config = from_tfma(extended_taxi(), split="test", output_kind="logits", budgets=Budgets(max_model_bytes=10_000),
                       latency={"runs": 5}, label_feature="tips_xf")
    assert config.split == "test" and config.output_kind.value == "logits" and config.latency.runs == 5
    assert config.thresholds.budgets.max_model_bytes == 10_000


# --- (c) change thresholds: TFMA's validator and the gate decide the same ------------------------

def two_models(class_name: str, threshold: config_pb2.MetricThreshold, config: str = "") -> config_pb2.EvalConfig:
    return config_pb2.EvalConfig(
        model_specs=[config_pb2.ModelSpec(name="candidate", label_key="y"),
                     config_pb2.ModelSpec(name="baseline", label_key="y", is_baseline=True)],
        metrics_specs=[config_pb2.MetricsSpec(model_names=["candidate"], metrics=[
            config_pb2.MetricConfig(class_name=class_name, config=config, threshold=threshold)])])


def tfma_passes(eval_config: config_pb2.EvalConfig, candidate: float, baseline: float) -> bool:
    """TFMA 0.52's decision: its validator over the candidate, baseline and diff values of the overall slice
    (diff = candidate - baseline, as its add_diff_metrics computes it)."""
    values = {}
    for key in metric_specs.metric_thresholds_from_metrics_specs(eval_config.metrics_specs, eval_config=eval_config):
        plain = key._replace(is_diff=False)
        values[plain] = candidate
        values[plain.make_baseline_key("baseline")] = baseline
        values[plain.make_diff_key()] = candidate - baseline
    return metrics_validator.validate_metrics(((), values), eval_config).validation_ok


def gate_passes(config: EvaluationConfig, metric: str, candidate: float, baseline: float) -> bool:
    ref = names.FLOAT_TFLITE
    evidence = gate.Evidence(references=[ref], slices={names.OVERALL: {
        "metrics": {names.QUANTIZED: {metric: candidate}, ref: {metric: baseline}},
        "drops": {ref: metrics.drops({metric: candidate}, {metric: baseline})}}})
    checks = gate.metric_checks(evidence, names.OVERALL, metric, config.thresholds.metrics[metric])
    return bool(checks) and all(c.passed for c in checks)


def change(direction: str, absolute: float | None = None, relative: float | None = None) -> config_pb2.MetricThreshold:
    limits = {k: {"value": v} for k, v in (("absolute", absolute), ("relative", relative)) if v is not None}
    return config_pb2.MetricThreshold(change_threshold=config_pb2.GenericChangeThreshold(
        direction=config_pb2.MetricDirection.Value(direction), **limits))


CHANGES = [  # class, tfx-edge metric, TFMA threshold, baseline value, expected MetricThreshold
    ("BinaryAccuracy", "binary_accuracy", change("HIGHER_IS_BETTER", absolute=-1e-10), 0.8,
     MetricThreshold(max_absolute_drop=1e-10)),                                      # the taxi pipeline's
    ("BinaryAccuracy", "binary_accuracy", change("HIGHER_IS_BETTER", absolute=-0.01), 0.8,
     MetricThreshold(max_absolute_drop=0.01)),
    ("AUC", "auc", change("HIGHER_IS_BETTER", absolute=0.0), 0.9, MetricThreshold(max_absolute_drop=0.0)),
    ("Precision", "precision", change("HIGHER_IS_BETTER", relative=-0.02), 0.7,
     MetricThreshold(max_relative_drop=0.02)),
    ("Recall", "recall", change("HIGHER_IS_BETTER", absolute=-0.01, relative=-0.05), 0.3,
     MetricThreshold(max_absolute_drop=0.01, max_relative_drop=0.05)),
    ("SparseCategoricalAccuracy", "accuracy", change("HIGHER_IS_BETTER", absolute=-0.005), 0.93,
     MetricThreshold(max_absolute_drop=0.005)),
    ("SparseCategoricalCrossentropy", "loss", change("LOWER_IS_BETTER", absolute=0.05), 0.31,
     MetricThreshold(max_absolute_drop=0.05)),
    ("BinaryCrossentropy", "loss", change("LOWER_IS_BETTER", relative=0.1), 0.42,
     MetricThreshold(max_relative_drop=0.1)),
    ("MeanSquaredError", "mean_squared_error", change("LOWER_IS_BETTER", absolute=0.01), 0.12,
     MetricThreshold(max_absolute_drop=0.01)),
    ("MeanAbsoluteError", "mae", change("LOWER_IS_BETTER", absolute=0.5), 2.0, MetricThreshold(max_absolute_drop=0.5)),
    ("RootMeanSquaredError", "rmse", change("LOWER_IS_BETTER", absolute=0.2, relative=0.05), 3.3,
     MetricThreshold(max_absolute_drop=0.2, max_relative_drop=0.05)),
]


@pytest.mark.parametrize("class_name, metric, threshold, baseline, expected", CHANGES,
                         ids=[f"{c[0]}-{i}" for i, c in enumerate(CHANGES)])
def test_change_threshold_decides_as_tfmas_validator(class_name, metric, threshold, baseline, expected):
    eval_config = two_models(class_name, threshold)
    config = from_tfma(eval_config)
    assert config.thresholds.metrics == {metric: expected}
    higher = metric not in ("loss", "mean_squared_error", "mae", "rmse")
    c = threshold.change_threshold
    # The candidate at each limit's edge, one ulp either side, and clearly inside / outside.
    edges = ([baseline + c.absolute.value] if c.HasField("absolute") else []) + (
        [baseline * (1 + c.relative.value)] if c.HasField("relative") else [])
    outside = min(edges) - 0.1 if higher else max(edges) + 0.1
    candidates = {baseline, outside}
    for edge in edges:
        candidates |= {edge, math.nextafter(edge, math.inf), math.nextafter(edge, -math.inf), edge + 1e-6, edge - 1e-6}
    decisions = {cand: tfma_passes(eval_config, cand, baseline) for cand in sorted(candidates)}
    assert decisions == {cand: gate_passes(config, metric, cand, baseline) for cand in sorted(candidates)}
    assert decisions[baseline] and not decisions[outside]
    if len(edges) == 1:   # just past the edge fails, on its better side passes
        worse, better = (edges[0] - 1e-6, edges[0] + 1e-6) if higher else (edges[0] + 1e-6, edges[0] - 1e-6)
        assert not decisions[worse] and decisions[better]


@pytest.mark.parametrize("class_name, threshold, words", [
    ("BinaryAccuracy", change("LOWER_IS_BETTER", absolute=0.01),
     ["change_threshold.direction='LOWER_IS_BETTER'", "HIGHER_IS_BETTER"]),
    ("SparseCategoricalCrossentropy", change("HIGHER_IS_BETTER", absolute=-0.01),
     ["change_threshold.direction='HIGHER_IS_BETTER'", "LOWER_IS_BETTER"]),
    ("AUC", change("UNKNOWN", absolute=-0.01), ["change_threshold.direction='UNKNOWN'", "set direction HIGHER"]),
    ("AUC", change("HIGHER_IS_BETTER", absolute=0.01), ["change_threshold.absolute=0.01", "beat", "<= 0"]),
    ("MeanAbsoluteError", change("LOWER_IS_BETTER", relative=-0.1), ["change_threshold.relative=-0.1", ">= 0"]),
    ("Calibration", change("HIGHER_IS_BETTER", absolute=-0.1), ["threshold.change_threshold=", "no better side"]),
    ("ExampleCount", change("HIGHER_IS_BETTER", absolute=-1), ["no better side", "value_threshold"]),
    ("AUC", config_pb2.MetricThreshold(change_threshold=config_pb2.GenericChangeThreshold(
        direction=config_pb2.MetricDirection.HIGHER_IS_BETTER)), ["set absolute or relative"]),
    ("BinaryAccuracy", change("HIGHER_IS_BETTER", absolute=-1.0), ["metrics[0].threshold",
                                                                   "a drop of 1 always passes"]),
])
def test_change_threshold_refusals(class_name, threshold, words):
    with pytest.raises(ConfigError) as error:
        from_tfma(two_models(class_name, threshold))
    assert "metrics_specs[0].metrics[0].threshold" in str(error.value)
    for word in words:
        assert word in str(error.value)


def test_known_differences_from_tfma():
    """Pinned, documented in schemas/tfma_config.py: (1) a relative change against a reference of exactly 0
    fails in TFMA (NaN ratio) and passes here when the candidate is no worse; (2) a slice smaller than
    min_slice_size fails TFMA's validator ("Metric not found") and is reported, not gated, here."""
    eval_config = two_models("MeanAbsoluteError", change("LOWER_IS_BETTER", relative=0.1))
    assert not tfma_passes(eval_config, 0.0, 0.0) and gate_passes(from_tfma(eval_config), "mae", 0.0, 0.0)

    eval_config = taxi_eval_config()
    eval_config.model_specs[0].ClearField("preprocessing_function_names")
    eval_config.slicing_specs.append(tfma.SlicingSpec(feature_keys=["h"]))
    eval_config.options.min_slice_size.value = 10
    small = metrics_validator.validate_metrics(((("h", 3),), {"__ERROR__": "too small"}), eval_config)
    assert not small.validation_ok
    assert small.metric_validations_per_slice[0].failures[0].message == "Metric not found."
    st = from_tfma(eval_config).thresholds.slices[0]
    assert st.value is None and st.min_examples == 10
    evidence = gate.Evidence(references=[names.FLOAT_TFLITE], slices={
        "": {}, "h=3": {"columns": [["h", "3"]], "examples": 4}})
    [check] = gate._slice_checks(evidence, st)
    assert check.name == "slice_min_examples" and check.passed and "not gated" in check.detail


def test_tfma_fails_metrics_spec_threshold_maps_on_metric_configs():
    """Why MetricsSpec.thresholds is refused: TFMA 0.52 keys it with example_weighted=None and a
    MetricConfig's value with False, so its validator never finds the value, whatever it is."""
    eval_config = config_pb2.EvalConfig(metrics_specs=[config_pb2.MetricsSpec(
        metrics=[config_pb2.MetricConfig(class_name="BinaryAccuracy")], thresholds={"binary_accuracy": value(0.6)})])
    [key] = [k for k, _, _ in metric_specs.keys_and_metrics_from_specs(eval_config, eval_config.metrics_specs)]
    for good_or_bad in (0.99, 0.1):
        result = metrics_validator.validate_metrics(((), {key: good_or_bad}), eval_config)
        assert not result.validation_ok
        assert result.metric_validations_per_slice[0].failures[0].message == "Metric not found."


def test_compute_confidence_intervals_is_accepted_when_every_metric_has_one():
    data = edit("options", {"compute_confidence_intervals": True}) | {"metrics_specs": [{"metrics": [
        {"class_name": "BinaryAccuracy", **GATED}, {"class_name": "Precision"}, {"class_name": "Recall"}]}]}
    config = tfma_config.from_tfma(data)
    assert config.thresholds.metrics["binary_accuracy"].lower_bound == 0.6
    assert not config.thresholds.metrics["binary_accuracy"].use_confidence_bound   # TFMA gates point values too


# --- (d) refusals: one per unsupported field -------------------------------------------------------

BASE = {"model_specs": [{"label_key": "y"}],
        "metrics_specs": [{"metrics": [{"class_name": "BinaryAccuracy",
                                        "threshold": {"value_threshold": {"lower_bound": 0.6}}}]}]}
GATED = {"threshold": {"value_threshold": {"lower_bound": 0.6}}}


def edit(path: str, value) -> dict:
    """BASE with the value at a dotted path ('metrics_specs.0.metrics.0.config') set."""
    data = copy.deepcopy(BASE)
    *parents, last = path.split(".")
    node = data
    for part in parents:
        node = node[int(part)] if isinstance(node, list) else node.setdefault(part, {})
    if isinstance(node, list):
        node[int(last)] = value
    else:
        node[last] = value
    return data


def metric(class_name: str, config: str = "", **more) -> dict:
    return {"class_name": class_name, **({"config": config} if config else {}), **GATED, **more}


def slices(*specs) -> dict:
    return edit("slicing_specs", [{}, *specs])


REFUSALS = [  # EvalConfig dict, the field path named, words of the fix
    (edit("model_specs.0.preprocessing_function_names", ["transform_features"]),
     "model_specs[0].preprocessing_function_names", "transformed_examples"),
    (edit("model_specs.0.label_keys", {"a": "y"}), "model_specs[0].label_keys", "not supported yet"),
    (edit("model_specs.0.prediction_keys", {"a": "p"}), "model_specs[0].prediction_keys", "not supported yet"),
    (edit("model_specs.0.example_weight_keys", {"a": "w"}), "model_specs[0].example_weight_keys", "not supported yet"),
    (edit("model_specs.0.signature_name", "eval"), "model_specs[0].signature_name", "signature_key='eval'"),
    (edit("model_specs.0.model_type", "tf_keras"), "model_specs[0].model_type", "remove model_type"),
    (edit("model_specs.0.padding_options", {"label_int_padding": 0}), "model_specs[0].padding_options",
     "remove padding_options"),
    (edit("model_specs", [{"name": "a"}, {"name": "b"}]), "model_specs", "exactly one candidate"),
    (edit("model_specs", [{"name": "a"}, {"name": "b", "is_baseline": True}, {"name": "c", "is_baseline": True}]),
     "model_specs", "at most one baseline"),
    (edit("metrics_specs.0.binarize", {"top_k_list": {"values": [2]}}), "metrics_specs[0].binarize.top_k_list",
     "class_ids"),
    (edit("metrics_specs.0.binarize", {"k_list": {"values": [1]}}), "metrics_specs[0].binarize.k_list", "class_ids"),
    (edit("metrics_specs.0.aggregate", {"macro_average": True}), "metrics_specs[0].aggregate.class_weights",
     "set class_weights"),
    (edit("metrics_specs.0.aggregate", {"micro_average": True, "top_k_list": {"values": [2]}}),
     "metrics_specs[0].aggregate.top_k_list", "remove it"),
    (edit("metrics_specs.0.query_key", "q"), "metrics_specs[0].query_key", "remove query_key"),
    (edit("metrics_specs.0.output_weights", {"a": 1.0}), "metrics_specs[0].output_weights", "not supported yet"),
    (edit("metrics_specs.0.output_names", ["a", "b"]), "metrics_specs[0].output_names", "name one output"),
    (edit("metrics_specs.0.output_names", ["probs"]) | {"model_specs": [{"label_key": "y", "prediction_key": "p"}]},
     "metrics_specs[0].output_names", "disagrees with model_specs[0].prediction_key='p'"),
    (edit("metrics_specs.0.model_names", ["other"]), "metrics_specs[0].model_names", "candidate"),
    (edit("metrics_specs.0.example_weights", {"unweighted": True}) | {"model_specs": [
        {"label_key": "y", "example_weight_key": "w"}]}, "metrics_specs[0].example_weights", "weighted: true"),
    (edit("metrics_specs.0.cross_slice_thresholds", {"binary_accuracy": {"thresholds": [GATED]}}),
     "metrics_specs[0].cross_slice_thresholds", "cross-slice comparisons"),
    (edit("metrics_specs.0.metrics.0.cross_slice_thresholds", [GATED]),
     "metrics_specs[0].metrics[0].cross_slice_thresholds", "cross-slice comparisons"),
    (edit("cross_slicing_specs", [{"baseline_spec": {}}]), "cross_slicing_specs", "a crossed slice, several features"),
    (slices({"feature_keys": ["a", "a"]}), "slicing_specs[1].feature_keys", "name each feature once"),
    (slices({"feature_keys": ["a"], "feature_values": {"a": "1"}}), "slicing_specs[1]",
     "'a' is in both feature_keys and feature_values"),
    (slices({"slice_keys_sql": "SELECT a"}), "slicing_specs[1].slice_keys_sql", "SQL slices are not supported"),
    (edit("slicing_specs", [{"feature_keys": ["a"]}]), "slicing_specs", "add an empty SlicingSpec()"),
    (edit("options", {"compute_confidence_intervals": True}) | {"metrics_specs": [{"metrics": [
        {"class_name": "BinaryAccuracy", **GATED}, {"class_name": "AUC"}]}]}, "options.compute_confidence_intervals",
     "no interval for 'auc' (AUC"),
    (edit("options", {"compute_confidence_intervals": True, "confidence_intervals": {"method": "JACKKNIFE"}}),
     "options.confidence_intervals.method", "analytic"),
    (edit("options", {"disabled_outputs": {"values": ["metrics"]}}), "options.disabled_outputs", "remove"),
    (edit("options", {"min_slice_size": -1}), "options.min_slice_size", "1 or more"),
    (edit("metrics_specs.0.metrics.0", metric("FPR")), "metrics_specs[0].metrics[0].class_name", "supported: "),
    (edit("metrics_specs.0.metrics.0", metric("ConfusionMatrixPlot")), "metrics_specs[0].metrics[0].class_name",
     "a plot"),
    (edit("metrics_specs.0.metrics.0", metric("Accuracy")), "metrics_specs[0].metrics[0].class_name",
     "SparseCategoricalAccuracy"),
    (edit("metrics_specs.0.metrics.0", metric("AUC", module="my_metrics")), "metrics_specs[0].metrics[0].module",
     "remove module"),
    (edit("metrics_specs.0.metrics.0", metric("Precision", '{"top_k": 3}')),
     "metrics_specs[0].metrics[0].config.top_k", "binarize the MetricsSpec"),
    (edit("metrics_specs.0.metrics.0", metric("Recall", '{"class_id": 1}')),
     "metrics_specs[0].metrics[0].config.class_id", "binarize the MetricsSpec"),
    (edit("metrics_specs.0.metrics.0", metric("AUC", '{"num_thresholds": 200}')),
     "metrics_specs[0].metrics[0].config.num_thresholds", "10,000"),
    (edit("metrics_specs.0.metrics.0", metric("AUC", '{"summation_method": "minoring"}')),
     "metrics_specs[0].metrics[0].config.summation_method", "interpolation"),
    (edit("metrics_specs.0.metrics.0", metric("AUC", '{"curve": "ROCK"}')),
     "metrics_specs[0].metrics[0].config.curve", "ROC"),
    (edit("metrics_specs.0.metrics.0", metric("BinaryCrossentropy", '{"label_smoothing": 0.1}')),
     "metrics_specs[0].metrics[0].config.label_smoothing", "label smoothing is not supported"),
    (edit("metrics_specs.0.metrics.0", metric("SparseCategoricalCrossentropy", '{"ignore_class": 0}')),
     "metrics_specs[0].metrics[0].config.ignore_class", "not supported"),
    (edit("metrics_specs.0.metrics.0", metric("SparseCategoricalAccuracy", '{"dtype": "float16"}')),
     "metrics_specs[0].metrics[0].config.dtype", "float32"),
    (edit("metrics_specs.0.metrics.0", metric("BinaryAccuracy", '{"foo": 1}')),
     "metrics_specs[0].metrics[0].config.foo", "remove it"),
    (edit("metrics_specs.0.metrics.0", metric("BinaryAccuracy", '{"name": "acc"}')),
     "metrics_specs[0].metrics[0].config.name", "'binary_accuracy'"),
    (edit("metrics_specs.0.metrics.0", metric("Precision", '{"thresholds": [0.3], "name": "precision@0.4"}')),
     "metrics_specs[0].metrics[0].config.name", "'precision@0.3'"),
    (edit("metrics_specs.0.metrics.0", metric("Precision", "{thresholds: 0.3}")), "metrics_specs[0].metrics[0].config",
     "not JSON"),
    (edit("metrics_specs.0.metrics.0", metric("Precision", '"thresholds": [1.5]')),
     "metrics_specs[0].metrics[0].config.thresholds", "[0, 1]"),
    (edit("metrics_specs.0.metrics.0", metric("Precision", '"thresholds": [0.3, 0.7]')),
     "metrics_specs[0].metrics[0].threshold", "array"),
    (edit("metrics_specs.0.metrics.0", metric("SparseTopKCategoricalAccuracy", '"k": 0')),
     "metrics_specs[0].metrics[0].config.k", "k >= 1"),
    (edit("metrics_specs.0.metrics.0", metric("SparseTopKCategoricalAccuracy", '"top_k": 3')),
     "metrics_specs[0].metrics[0].config.top_k", "remove it"),
    (edit("metrics_specs.0.metrics.0", metric("ExampleCount", threshold={"value_threshold": {}})),
     "metrics_specs[0].metrics[0].threshold.value_threshold", "passes every model"),
    (edit("metrics_specs.0.metrics.0", {"class_name": "BinaryAccuracy"}), "metrics_specs", "bless any model"),
    (edit("metrics_specs.0.metrics.0", {"class_name": "BinaryAccuracy", "per_slice_thresholds": [
        {"slicing_specs": [{"feature_keys": ["a"]}], **GATED}]}) | {"slicing_specs": [{}, {"feature_keys": ["a"]}]},
     "metrics_specs", "the whole split"),
    (edit("metrics_specs.0.metrics", [metric("BinaryAccuracy"), metric("MeanAbsoluteError")]),
     "metrics_specs[0].metrics[0].class_name", "one task per config"),
    (edit("metrics_specs.0.metrics", [metric("MeanSquaredError"), metric("RootMeanSquaredError")]),
     "metrics_specs[0].metrics[0].class_name", "RootMeanSquaredError"),
    (edit("metrics_specs.0.metrics.0", {"class_name": "BinaryAccuracy", **GATED, "per_slice_thresholds": [
        {"slicing_specs": [{"feature_keys": ["a"]}], **GATED}]}),
     "metrics_specs[0].metrics[0].per_slice_thresholds[0].slicing_specs[0]", "add SlicingSpec(feature_keys=['a'])"),
    (edit("metrics_specs.0.metrics.0", {"class_name": "BinaryAccuracy", **GATED, "per_slice_thresholds": [GATED]}),
     "metrics_specs[0].metrics[0].per_slice_thresholds[0].slicing_specs", "name the slices"),
    (edit("metrics_specs.0.metrics", [metric("BinaryAccuracy"), metric("AUC")]) | {"slicing_specs": [
        {}, {"feature_keys": ["a"]}]}, "metrics_specs[0].metrics[1].threshold", "per_slice_thresholds"),
    (edit("metrics_specs.0.thresholds", {"binary_accuracy": GATED["threshold"]}),
     "metrics_specs[0].thresholds['binary_accuracy']", "set the MetricConfig's threshold instead"),
    (edit("metrics_specs.0.per_slice_thresholds", {"binary_accuracy": {"thresholds": [
        {"slicing_specs": [{}], **GATED}]}}), "metrics_specs[0].per_slice_thresholds['binary_accuracy']",
     "set the MetricConfig's per_slice_thresholds instead"),
    (edit("metrics_specs.0.metrics", [metric("Precision"), metric("Precision", '"thresholds": 0.3')]),
     "metrics_specs[0].metrics[1].config.name", "name this one 'precision@0.3'"),
    (edit("metrics_specs.0.metrics.0", metric("ExampleCount", threshold={"value_threshold": {"lower_bound": 0}})),
     "metrics_specs[0].metrics[0].threshold", "never below 0"),
    (edit("metrics_specs.0.metrics.0", metric("SparseCategoricalAccuracy")) | {"model_specs": [
        {"label_key": "y", "example_weight_key": "w"}]}, "metrics_specs[0].metrics[0].threshold",
     "computed unweighted"),
    (edit("metrics_specs.0.metrics", [metric("BinaryCrossentropy", '"from_logits": true'),
                                      metric("CategoricalCrossentropy", '"from_logits": false')]),
     "metrics_specs[0].metrics[0].config.from_logits", "one output kind"),
    (edit("model_specs.0.labelKeyy", "y"), "model_specs[0].labelKeyy", "not a field of tfma.ModelSpec"),
    (edit("metrics_specs.0.metrics.0.threshold.change_threshold", {"direction": "BETTER", "absolute": 0}),
     "metrics_specs[0].metrics[0].threshold.change_threshold.direction", "HIGHER_IS_BETTER"),
]


@pytest.mark.parametrize("data, path, fix", REFUSALS, ids=[f"{i}-{r[1]}" for i, r in enumerate(REFUSALS)])
def test_unsupported_fields_are_refused_by_name(data, path, fix):
    with pytest.raises(ConfigError) as error:
        EvaluationConfig.from_dict(data)
    message = str(error.value)
    assert path in message and fix in message, message
    assert "is invalid" in message


def test_base_of_the_refusal_table_converts():
    assert from_tfma(BASE).thresholds.metrics == {"binary_accuracy": MetricThreshold(lower_bound=0.6)}


@pytest.mark.parametrize("overrides, words", [
    ({"label_feature": "tips"}, ["label_feature='tips'", "model_specs[0].label_key"]),
    ({"thresholds": Thresholds(metrics={"accuracy": MetricThreshold(max_absolute_drop=0.01)})}, ["budgets="]),
    ({"splitt": "eval"}, ["not an EvaluationConfig field"]),
    ({"slice_features": ()}, ["keep those values"]),
])
def test_conflicting_overrides_are_refused(overrides, words):
    data = slices({"feature_keys": ["a"]})
    with pytest.raises(ConfigError) as error:
        from_tfma(data | {"model_specs": [{"label_key": "y"}]}, **overrides)
    for word in words:
        assert word in str(error.value)


def test_from_logits_sets_output_kind_and_overrides_must_agree():
    data = edit("metrics_specs.0.metrics.0", metric("BinaryCrossentropy", '"from_logits": true'))
    assert from_tfma(data).output_kind.value == "logits"
    with pytest.raises(ConfigError, match=r"output_kind='probabilities'.*from_logits"):
        from_tfma(data, output_kind="probabilities")
    assert from_tfma(BASE, output_kind="logits").output_kind.value == "logits"   # no from_logits: yours wins


# --- (e) a tfma.MetricThreshold inside the native Thresholds -------------------------------------

def test_tfma_metric_threshold_in_native_thresholds_is_converted():
    thresholds = Thresholds(metrics={
        "auc": tfma.MetricThreshold(value_threshold=tfma.GenericValueThreshold(lower_bound={"value": 0.7})),
        "binary_accuracy": tfma.MetricThreshold(change_threshold=tfma.GenericChangeThreshold(
            direction=tfma.MetricDirection.HIGHER_IS_BETTER, absolute={"value": -0.01})),
        "loss": MetricThreshold(max_relative_drop=0.05)})
    assert thresholds.metrics == {"auc": MetricThreshold(lower_bound=0.7),
                                  "binary_accuracy": MetricThreshold(max_absolute_drop=0.01),
                                  "loss": MetricThreshold(max_relative_drop=0.05)}
    st = SliceThreshold(feature="a", metrics={"binary_accuracy": value(lower=0.5)})
    assert st.metrics == {"binary_accuracy": MetricThreshold(lower_bound=0.5)}
    config = EvaluationConfig(thresholds=thresholds, output_kind="probabilities")
    assert config.thresholds.metrics["auc"].lower_bound == 0.7


@pytest.mark.parametrize("name, threshold, words", [
    ("calibration", change("HIGHER_IS_BETTER", absolute=-0.1),
     ["Thresholds.metrics['calibration'].change_threshold=", "no better side"]),
    ("loss", change("HIGHER_IS_BETTER", absolute=-0.1),
     ["Thresholds.metrics['loss'].change_threshold.direction='HIGHER_IS_BETTER'", "LOWER_IS_BETTER"]),
    ("BinaryAccuracy", change("HIGHER_IS_BETTER", absolute=-0.1),
     ["Thresholds.metrics['BinaryAccuracy']", "not a tfx-edge metric name", "'binary_accuracy'"]),
    ("auc", config_pb2.MetricThreshold(), ["Thresholds.metrics['auc']", "set value_threshold or change_threshold"]),
])
def test_tfma_metric_threshold_in_native_thresholds_refusals(name, threshold, words):
    with pytest.raises(ConfigError) as error:
        Thresholds(metrics={name: threshold})
    for word in words:
        assert word in str(error.value)


@pytest.mark.parametrize("check, metric", [("precision@0.3.lower_bound", "precision@0.3"),
                                           ("auc/class_3.max_absolute_drop", "auc/class_3"),
                                           ("outputs[value].rmse.max_relative_drop", "outputs[value].rmse"),
                                           ("targets.gpu", "targets.gpu"), ("examples", "examples")])
def test_a_failed_check_is_keyed_by_its_whole_metric_name_in_tfmas_validation(check, metric):
    from tfx_edge.components.edge_evaluator import tfma_output
    assert tfma_output._checked_metric(check) == metric
