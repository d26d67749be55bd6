"""Typed configuration: bad values and combinations fail at construction, naming field,
value and fix; JSON round trips are exact."""

import pytest

from tfx_edge.schemas import (AeqConfig, Budgets, CalibrationConfig, ConfigError, EvaluationConfig,
                              LatencyConfig, MetricThreshold, Mode, OutputKind, QatConfig, QuantizationConfig,
                              SliceThreshold, Task, Thresholds)

ACC = {"accuracy": MetricThreshold(max_absolute_drop=0.01)}


def test_round_trip_is_exact():
    config = QuantizationConfig(mode=Mode.INT8, keep_float_ops=["CONV_2D"],
                                input_mapping={"image": "pixels"})
    assert QuantizationConfig.from_json(config.to_json()) == config
    evaluation = EvaluationConfig(
        thresholds=Thresholds(
            metrics={**ACC, "loss": MetricThreshold(upper_bound=0.5)},
            slices=(SliceThreshold(feature="region", value="eu", min_examples=5, metrics=ACC),),
            budgets=Budgets(max_model_bytes=10**6, max_latency_p95_us=50.0)),
        output_kind=OutputKind.LOGITS, top_k=(3,), slice_features=("region",), batch_size=7)
    assert EvaluationConfig.from_json(evaluation.to_json()) == evaluation


@pytest.mark.parametrize("data, words", [
    ({"mode": "int9"}, ["mode='int9'", "'int8_strict'"]),
    ({"calibraton": {}}, ["unknown option", "calibraton", "allowed"]),
    ({"calibration": {"num_samples": 0}}, ["calibration.num_samples=0", "at least 1"]),
    ({"calibration": {"num_sample": 3}}, ["calibration.num_sample", "unknown"]),
    ({"mode": "dynamic_range", "io_dtype": "int8"}, ["io_dtype='int8'", "int8_strict"]),
    ({"mode": "int8", "io_dtype": "int4"}, ["io_dtype='int4'", "float32, int8, uint8"]),
    ({"mode": "float16", "keep_float_ops": ["CONV_2D"]}, ["keep_float_ops", "mode='int8'"]),
    ({"mode": "qat"}, ["qat=None", "QatConfig"]),
    ({"mode": "aeq", "aeq": {"recipe": "nope"}}, ["aeq.recipe='nope'", "dynamic_wi8_afp32"]),
    ({"mode": "aeq", "aeq": {"recipe_file": "/no/such/recipe.json"}},
     ["aeq.recipe_file='/no/such/recipe.json'", "does not exist"]),
    ({"mode": "aeq", "aeq": {}}, ["exactly one of aeq.recipe"]),
    ({"mode": "dynamic_range", "layer_report": True}, ["layer_report=True", "'int8'"]),
    ({"calibration": {"num_samples": "10"}}, ["calibration.num_samples='10'", "expected int"]),
])
def test_refusals_name_field_value_and_fix(data, words):
    with pytest.raises(ConfigError) as error:
        QuantizationConfig.from_dict(data)
    for word in words:
        assert word in str(error.value)


def test_thresholds_need_a_metric_threshold():
    with pytest.raises(ConfigError, match="thresholds.metrics={}.*at least one metric threshold"):
        Thresholds(metrics={}, budgets=Budgets(max_model_bytes=10))
    with pytest.raises(ConfigError, match="set at least one of max_absolute_drop"):
        EvaluationConfig(thresholds=Thresholds(metrics={"accuracy": MetricThreshold()}))


@pytest.mark.parametrize("kwargs, words", [
    ({"batch_size": 0}, ["batch_size=0"]),
    ({"thresholds": Thresholds(metrics={"acuracy": MetricThreshold(lower_bound=0.5)})},
     ["thresholds.metrics['acuracy']='acuracy'", "'accuracy'"]),
    ({"thresholds": Thresholds(metrics={"loss": MetricThreshold(upper_bound=0.5)})},
     ["output_kind=None", "'loss' threshold needs output_kind"]),
    ({"thresholds": Thresholds(metrics={"top_5_accuracy": MetricThreshold(lower_bound=0.5)})},
     ["top_5_accuracy", "not a classification metric"]),
    ({"thresholds": Thresholds(metrics={"agreement": MetricThreshold(max_absolute_drop=0.1)})},
     ["max_absolute_drop=0.1", "use lower_bound / upper_bound"]),
    ({"thresholds": Thresholds(metrics={"accuracy": MetricThreshold(max_relative_drop=-0.1)})},
     ["max_relative_drop=-0.1", ">= 0"]),
    ({"thresholds": Thresholds(metrics={"accuracy": MetricThreshold(lower_bound=float("nan"))})},
     ["lower_bound=nan", "finite"]),
    ({"thresholds": Thresholds(metrics=ACC, slices=(SliceThreshold(feature="region", metrics=ACC),))},
     ["thresholds.slices[0].feature='region'", "slice_features"]),
    ({"thresholds": Thresholds(metrics=ACC, budgets=Budgets(max_latency_p50_us=10.0)),
      "latency": LatencyConfig(runs=0)}, ["latency.runs=0", "latency budget"]),
    ({"task": Task.REGRESSION}, ["not a regression metric", "'mae'", "'rmse'"]),
    ({"task": Task.REGRESSION, "top_k": (3,),
      "thresholds": Thresholds(metrics={"rmse": MetricThreshold(upper_bound=1.0)})}, ["top_k"]),
])
def test_evaluation_config_refusals(kwargs, words):
    kwargs.setdefault("thresholds", Thresholds(metrics=ACC))
    with pytest.raises(ConfigError) as error:
        EvaluationConfig(**kwargs)
    for word in words:
        assert word in str(error.value)


def test_evaluation_config_from_dict_is_strict():
    with pytest.raises(ConfigError, match="unknown option.*treshold"):
        EvaluationConfig.from_dict({"treshold": {}, "thresholds": {"metrics": {}}})
    with pytest.raises(ConfigError, match="thresholds.budgets.max_model_bytes=-1"):
        EvaluationConfig.from_dict({"thresholds": {"metrics": {"accuracy": {"lower_bound": 0.5}},
                                                   "budgets": {"max_model_bytes": -1}}})
    parsed = EvaluationConfig.from_dict({"thresholds": {"metrics": {"accuracy": {"lower_bound": 0.5}}},
                                         "output_kind": "probabilities", "top_k": [3]})
    assert parsed.output_kind == OutputKind.PROBABILITIES and parsed.top_k == (3,)


def test_defaults_are_valid_and_sub_configs_parse():
    assert QuantizationConfig().mode == Mode.DYNAMIC_RANGE
    config = QuantizationConfig.from_dict({"mode": "qat", "qat": {"epochs": 2}})
    assert config.qat == QatConfig(epochs=2)
    assert QuantizationConfig(mode=Mode.INT8).needs_calibration
    assert not QuantizationConfig(mode=Mode.FLOAT16).needs_calibration
    assert QuantizationConfig(mode="aeq", aeq=AeqConfig(recipe="static_wi8_ai8")).needs_calibration
    assert CalibrationConfig().num_samples == 200


def test_a_slice_threshold_on_a_whole_split_metric_is_refused():
    from tfx_edge.schemas import EvaluationConfig, MetricThreshold, SliceThreshold, Thresholds
    with pytest.raises(ConfigError, match=r"thresholds\.slices\[0\]\.metrics\['auc'\]='auc' is invalid: it is computed "
                                          r"for the whole split only"):
        EvaluationConfig(output_kind="probabilities", slice_features=("group",), thresholds=Thresholds(
            metrics={"auc": MetricThreshold(max_absolute_drop=0.01)},
            slices=(SliceThreshold("group", {"auc": MetricThreshold(max_absolute_drop=0.02)}),)))


def test_from_tfma_is_a_classmethod_of_the_config():
    from tensorflow_model_analysis.proto import config_pb2 as cfg
    from tfx_edge.schemas import EvaluationConfig
    eval_config = cfg.EvalConfig(model_specs=[cfg.ModelSpec(label_key="label")], metrics_specs=[cfg.MetricsSpec(
        metrics=[cfg.MetricConfig(class_name="SparseCategoricalAccuracy", threshold=cfg.MetricThreshold(
            value_threshold=cfg.GenericValueThreshold(lower_bound={"value": 0.9})))])])
    config = EvaluationConfig.from_tfma(eval_config, split="test")
    assert config.split == "test" and config.thresholds.metrics["accuracy"].lower_bound == 0.9


@pytest.mark.parametrize("outputs, output_name, match", [
    ({"value": {"label_feature": "y", "metrics": {"rmse": {"max_absolute_drop": 0.1}}, "task": "regression"}}, None,
     r"output_name=None is invalid: with outputs=\{\.\.\.\} set output_name too"),
    ({"probabilities": {"label_feature": "y", "metrics": {"accuracy": {"max_absolute_drop": 0.1}}}}, "probabilities",
     r"outputs\['probabilities'\]='probabilities' is invalid: it is output_name already"),
    ({"value": {"label_feature": "y", "metrics": {"auc": {"lower_bound": 0.5}}, "output_kind": "probabilities"}},
     "probabilities", r"outputs\['value'\]\.metrics\['auc'\]='auc' is invalid: not a classification metric of an "
                      r"extra output"),
])
def test_extra_outputs_are_validated(outputs, output_name, match):
    from tfx_edge.schemas import EvaluationConfig
    with pytest.raises(ConfigError, match=match):
        EvaluationConfig.from_dict({"thresholds": {"metrics": {"accuracy": {"max_absolute_drop": 0.01}}},
                                    "output_name": output_name, "outputs": outputs})
