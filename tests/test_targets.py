"""Deployment targets as gate checks (EvaluationConfig.targets, components/core/targets.py): the demo's
int8 model through the LiteRT GPU delegate's op table and TFLite Micro's own interpreter, and models
with ops each target lacks, refused by name."""

from __future__ import annotations

import os

import numpy as np
import pytest
import tensorflow as tf

from helpers import run_edge_evaluator, write_model
from tfx_edge.components.core import micro, targets
from tfx_edge.schemas import (Budgets, ConfigError, EvaluationConfig, LatencyConfig, MetricThreshold, Target,
                              Thresholds, records)

ALL = ("cpu", "gpu", "microcontroller")


NO_BUDGETS = Budgets()


def _config(budgets: Budgets = NO_BUDGETS, targets_=ALL) -> EvaluationConfig:
    return EvaluationConfig(thresholds=Thresholds(metrics={"accuracy": MetricThreshold(max_absolute_drop=0.05)},
                                                  budgets=budgets),
                            latency=LatencyConfig(runs=0), targets=targets_)


def _result(evaluation) -> records.EvaluationResult:
    with open(os.path.join(evaluation.uri, "metrics.json")) as f:
        return records.EvaluationResult.from_json(f.read(), "metrics.json", "re-run")


def _model_bytes(model) -> bytes:
    with open(os.path.join(model.uri, "Format-Serving", "tflite"), "rb") as f:
        return f.read()


@pytest.fixture(scope="module")
def demo(int8_export, examples_artifact, tmp_path_factory):
    """The demo's int8 model gated with every target (and a generous arena budget)."""
    out = str(tmp_path_factory.mktemp("targets"))
    blessing, evaluation = run_edge_evaluator(_config(Budgets(max_arena_bytes=1 << 20)), examples_artifact,
                                              int8_export["tflite"], int8_export["float"], out)
    return _result(evaluation), blessing


def test_the_demo_model_runs_under_tflite_micro_and_its_reshape_is_refused_by_the_gpu_delegate(demo, int8_export):
    result, blessing = demo
    by_target = {t.target: t for t in result.targets}
    assert list(by_target) == ["gpu", "microcontroller"]
    gpu, mcu = by_target["gpu"], by_target["microcontroller"]
    # Keras Reshape((8, 8, 1)) on a dynamic batch computes [batch, 8, 8, 1] with SHAPE at run time
    assert not gpu.runs and [o.op for o in gpu.refused] == ["SHAPE"] and "tf.reshape" in gpu.detail
    assert gpu.checked_by.startswith("google-ai-edge/LiteRT@")
    assert mcu.runs and mcu.agree and mcu.examples == targets.MICRO_EXAMPLES
    assert mcu.checked_by.startswith("tflite-micro ")
    assert mcu.arena_bytes == micro.arena_bytes(_model_bytes(int8_export["tflite"]))   # measured, reproducible
    assert 0 < mcu.arena_bytes < 1 << 20
    assert mcu.max_abs_diff == 0.0 < mcu.tolerance      # TFLM's kernels are LiteRT's reference kernels
    assert mcu.scored_max_abs_diff is not None and mcu.scored_max_abs_diff >= 0.0
    checks = {c.name: c for c in result.checks}
    assert not checks["targets.gpu"].passed and checks["targets.microcontroller"].passed
    assert checks["budgets.max_arena_bytes"].value == mcu.arena_bytes and checks["budgets.max_arena_bytes"].passed
    assert [c.name for c in result.checks if not c.passed] == ["targets.gpu"]
    assert not result.blessed and blessing.get_int_custom_property("blessed") == 0


def _dense_head(image):
    weights = tf.constant(np.linspace(-1, 1, 640, dtype=np.float32).reshape(64, 10))
    return tf.nn.softmax(tf.matmul(image, weights))


def test_a_model_of_delegate_ops_passes_the_gpu_target(int8_export, examples_artifact, tmp_path):
    like = int8_export["tflite"].uri
    ref = write_model(str(tmp_path), "ref", _dense_head, like)
    cand = write_model(str(tmp_path), "cand", _dense_head, like, reference_uri=ref.uri)
    _, evaluation = run_edge_evaluator(_config(targets_=("cpu", "gpu")), examples_artifact, cand, ref,
                                       str(tmp_path / "out"))
    (gpu,) = _result(evaluation).targets
    assert gpu.runs and not gpu.refused and gpu.detail == "every op is in the GPU delegate's table"


def test_the_arena_is_the_smallest_tflite_micro_allocates(int8_export):
    model = _model_bytes(int8_export["tflite"])
    arena = micro.arena_bytes(model)
    assert micro._interpreter(model, arena)[0] is not None
    assert micro._interpreter(model, arena - micro.ALIGN)[0] is None


@pytest.mark.parametrize("below, blessed", [(1, False), (0, True)])
def test_the_arena_budget_gates(below, blessed, demo, int8_export, examples_artifact, tmp_path):
    arena = next(t.arena_bytes for t in demo[0].targets if t.arena_bytes)
    _, evaluation = run_edge_evaluator(_config(Budgets(max_arena_bytes=arena - below), ("cpu", "microcontroller")),
                                       examples_artifact, int8_export["tflite"], int8_export["float"], str(tmp_path))
    result = _result(evaluation)
    check = next(c for c in result.checks if c.name == "budgets.max_arena_bytes")
    assert check.passed == blessed and check.value == arena and result.blessed == blessed


def _sorted_head(image):
    return tf.nn.softmax(tf.sort(image, direction="DESCENDING")[:, :10])


def test_an_op_tflite_micro_and_the_gpu_delegate_lack_is_refused_by_name(int8_export, examples_artifact, tmp_path):
    like = int8_export["tflite"].uri
    ref = write_model(str(tmp_path), "ref", _sorted_head, like)
    cand = write_model(str(tmp_path), "cand", _sorted_head, like, reference_uri=ref.uri)
    blessing, evaluation = run_edge_evaluator(_config(), examples_artifact, cand, ref, str(tmp_path / "out"))
    result = _result(evaluation)
    by_target = {t.target: t for t in result.targets}
    mcu = by_target["microcontroller"]
    assert not mcu.runs and [o.op for o in mcu.refused] == ["TOPK_V2"] and "TOPK_V2" in mcu.detail
    assert "TOPK_V2" in {o.op for o in by_target["gpu"].refused}
    failed = {c.name: c.detail for c in result.checks if not c.passed}
    assert set(failed) == {"targets.gpu", "targets.microcontroller"}
    assert "TOPK_V2" in failed["targets.microcontroller"]
    assert not result.blessed and blessing.get_int_custom_property("blessed") == 0
    with open(os.path.join(evaluation.uri, "report.html")) as f:
        html = f.read()
    assert 'id="targets"' in html and "TOPK_V2" in html


def test_outputs_off_by_more_than_a_step_disagree():
    step = 1 / 256
    assert targets._difference(np.float32([0.5]), np.float32([0.5 + step]), step) == pytest.approx((step, step))
    diff, limit = targets._difference(np.float32([0.5]), np.float32([0.5 + 2 * step]), step)
    assert diff > limit
    assert targets._difference(np.int8([3]), np.int8([5]), step) == pytest.approx((2 * step, step))
    assert targets._difference(np.int32([3]), np.int32([4]), 0.0) == (1.0, 0.0)       # class ids: exact
    assert targets._difference(np.zeros((1, 2)), np.zeros((1, 3)), step)[0] == float("inf")


@pytest.mark.parametrize("kwargs, message", [
    ({"targets": ("cpu", "cpu")}, "list each target once"),
    ({"targets": ()}, "list each target once"),
    ({"targets": ("tpu",)}, "tpu"),
    ({"budgets": Budgets(max_arena_bytes=1000), "targets": ("cpu", "gpu")}, "add it to targets"),
])
def test_targets_config_is_checked(kwargs, message):
    budgets = kwargs.pop("budgets", Budgets())
    with pytest.raises(ConfigError, match=message):
        _config(budgets, **{"targets_": kwargs["targets"]})


def test_targets_round_trip_through_json():
    config = _config()
    assert EvaluationConfig.from_json(config.to_json()).targets == (Target.CPU, Target.GPU, Target.MICROCONTROLLER)
    assert EvaluationConfig(thresholds=config.thresholds).targets == (Target.CPU,)
