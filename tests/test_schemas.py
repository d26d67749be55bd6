"""Typed configuration: bad values and combinations fail at construction, naming field,
value and fix; JSON round trips are exact."""

import pytest

from schemas import (AeqConfig, CalibrationConfig, ConfigError, EvaluationConfig, Mode,
                     QatConfig, QuantizationConfig, Thresholds)


def test_round_trip_is_exact():
    config = QuantizationConfig(mode=Mode.INT8, keep_float_ops=["CONV_2D"],
                                input_mapping={"image": "pixels"})
    assert QuantizationConfig.from_json(config.to_json()) == config
    evaluation = EvaluationConfig(thresholds=Thresholds(max_absolute_drop=0.01), batch_size=7)
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


def test_thresholds_need_an_accuracy_limit():
    with pytest.raises(ConfigError, match="at least one of max_absolute_drop"):
        Thresholds(max_model_bytes=10)
    with pytest.raises(ConfigError, match="thresholds.max_absolute_drop=1.5"):
        Thresholds(max_absolute_drop=1.5)
    with pytest.raises(ConfigError, match="thresholds.min_accuracy=nan"):
        Thresholds(min_accuracy=float("nan"))


def test_evaluation_config_refusals():
    t = Thresholds(max_absolute_drop=0.01)
    with pytest.raises(ConfigError, match="batch_size=0"):
        EvaluationConfig(thresholds=t, batch_size=0)
    with pytest.raises(ConfigError, match="unknown option.*treshold"):
        EvaluationConfig.from_dict({"treshold": {}, "thresholds": {"min_accuracy": 0.5}})
    with pytest.raises(ConfigError, match="latency_runs=0"):
        EvaluationConfig(thresholds=Thresholds(min_accuracy=0.5, max_latency_us=100), latency_runs=0)


def test_defaults_are_valid_and_sub_configs_parse():
    assert QuantizationConfig().mode == Mode.DYNAMIC_RANGE
    config = QuantizationConfig.from_dict({"mode": "qat", "qat": {"epochs": 2}})
    assert config.qat == QatConfig(epochs=2)
    assert QuantizationConfig(mode=Mode.INT8).needs_calibration
    assert not QuantizationConfig(mode=Mode.FLOAT16).needs_calibration
    assert QuantizationConfig(mode="aeq", aeq=AeqConfig(recipe="static_wi8_ai8")).needs_calibration
    assert CalibrationConfig().num_samples == 200
