"""Component construction: configs are validated when the pipeline is built."""

import json

import pytest
from tfx import types
from tfx.types import standard_artifacts

from tfx_edge.components import EdgeEvaluator, Quantizer, TFLiteExporter, specs
from tfx_edge.schemas import ConfigError, EvaluationConfig, MetricThreshold, Mode, QuantizationConfig, Thresholds

ACC = {"accuracy": MetricThreshold(max_absolute_drop=0.01)}

MODEL = types.Channel(type=standard_artifacts.Model)
EXAMPLES = types.Channel(type=standard_artifacts.Examples)


def test_quantizer_takes_a_dict_and_stores_the_normalized_config():
    q = Quantizer(model=MODEL, examples=EXAMPLES, config={"mode": "int8", "calibration": {"num_samples": 5}})
    stored = json.loads(q.exec_properties[specs.CONFIG_KEY])
    assert stored["mode"] == "int8" and stored["calibration"]["num_samples"] == 5
    assert QuantizationConfig.from_json(q.exec_properties[specs.CONFIG_KEY]).mode == Mode.INT8


def test_quantizer_refuses_bad_config_at_construction():
    with pytest.raises(ConfigError, match="unknown option.*modee"):
        Quantizer(model=MODEL, examples=EXAMPLES, config={"modee": "int8"})
    with pytest.raises(TypeError, match="config='int8' is invalid"):
        Quantizer(model=MODEL, examples=EXAMPLES, config="int8")


def test_calibrated_mode_needs_examples():
    with pytest.raises(ValueError, match="examples=None is invalid for mode='int8'"):
        Quantizer(model=MODEL, config=QuantizationConfig(mode=Mode.INT8))
    Quantizer(model=MODEL, config=QuantizationConfig(mode=Mode.DYNAMIC_RANGE))  # no data needed


def test_edge_evaluator_and_exporter_wire_up():
    q = Quantizer(model=MODEL, config=QuantizationConfig())
    exporter = TFLiteExporter(model=MODEL, plan=q.outputs["plan"])
    assert set(exporter.outputs) == {"tflite_model", "float_model"}
    e = EdgeEvaluator(examples=EXAMPLES, model=exporter.outputs["tflite_model"],
                      float_model=exporter.outputs["float_model"],
                      config=EvaluationConfig(thresholds=Thresholds(metrics=ACC)))
    assert set(e.outputs) == {"blessing", "evaluation"}
    with pytest.raises(ConfigError, match="at least one metric threshold"):
        EdgeEvaluator(examples=EXAMPLES, model=MODEL, float_model=MODEL, config={"thresholds": {"metrics": {}}})
    with pytest.raises(ValueError, match="compare_saved_model=True needs saved_model="):
        EdgeEvaluator(examples=EXAMPLES, model=MODEL, float_model=MODEL,
                      config=EvaluationConfig(thresholds=Thresholds(metrics=ACC), compare_saved_model=True))
