"""Mode 'auto' for real: the Quantizer searches with real conversions and LiteRT, the
TFLiteExporter applies the chosen plan unchanged, the EdgeEvaluator gates on the outcome."""

import os
import time

import pytest
import tensorflow as tf

from tfx_edge.components import artifacts, record_files
from tfx_edge.components.core import holdout
from tfx_edge.pipelines import evaluation_text
from tfx_edge.schemas import AutoConfig, CalibrationConfig, EvaluationConfig, LatencyConfig, MetricThreshold, Mode
from tfx_edge.schemas import QuantizationConfig, Thresholds
from helpers import run_edge_evaluator, run_exporter, run_quantizer


def auto_config(cache_dir, **auto):
    auto.setdefault("max_absolute_drop", 0.01)
    return QuantizationConfig(mode=Mode.AUTO, calibration=CalibrationConfig(num_samples=64, seed=3),
                              auto=AutoConfig(cache_dir=str(cache_dir), latency_runs=20, **auto))


def read_plan(plan):
    return record_files.read_plan(plan.uri)[0]


def records(examples_artifact, split):
    path = os.path.join(examples_artifact.uri, f"Split-{split}", "data_tfrecord-00000-of-00001")
    return [r for b in tf.data.TFRecordDataset(path).batch(512).as_numpy_iterator() for r in b]


@pytest.fixture(scope="module")
def demo_auto(trained_model, examples_artifact, tmp_path_factory):
    root = tmp_path_factory.mktemp("auto_demo")
    config = auto_config(root / "cache", max_absolute_drop=0.05)
    start = time.monotonic()
    plan = run_quantizer(config, trained_model, examples_artifact, str(root / "plan"))
    return config, plan, time.monotonic() - start, root


METADATA_BYTES = 4096   # more than the exporter's LiteRT metadata takes on these models (about 600 bytes)


def test_generous_tolerance_picks_the_smallest_and_the_exporter_applies_it(demo_auto, trained_model):
    config, plan, _, root = demo_auto
    p = read_plan(plan)
    auto = p.auto
    # rank='size': every candidate converted first; the smallest (an int8 variant or dynamic range) passes at once
    assert auto.met and auto.selected in ("int8_strict", "int8", "dynamic_range")
    assert p.config.mode.value == auto.selected and [t.name for t in auto.trials] == [auto.selected]
    assert auto.trials[0].size_bytes < auto.float_bytes
    assert p.calibration.excluded_examples == auto.validation.examples > 100
    tflite, _ = run_exporter(trained_model, plan, str(root / "export"))
    size = os.path.getsize(os.path.join(tflite.uri, "Format-Serving", "tflite"))
    # the plan flowed to the exporter unchanged: its bytes plus the LiteRT metadata the exporter adds (a few
    # hundred bytes; tests/test_app_contract.py checks it changes no output)
    assert 0 < size - auto.trials[0].size_bytes <= METADATA_BYTES
    assert tflite.get_string_custom_property(artifacts.MODE_KEY) == auto.selected


def test_validation_subset_is_train_only_and_never_the_eval_split(demo_auto, examples_artifact):
    config, plan, _, _ = demo_auto
    auto = config.auto
    subset, _ = holdout.select(records(examples_artifact, "train"), auto.validation_fraction,
                               auto.max_validation_examples, auto.seed)
    assert len(subset) == read_plan(plan).auto.validation.examples
    assert not holdout.digests(subset) & holdout.digests(records(examples_artifact, "eval"))
    from tfx_edge.pipelines.pipeline import create_pipeline, demo_evaluation
    with pytest.raises(ValueError, match="auto.validation_split='eval' is the split the EdgeEvaluator gates on"):
        create_pipeline("p", "/tmp/root", "/tmp/data", "/tmp/serving",
                        auto_config("/tmp/c", validation_split="eval"), demo_evaluation(0.02, 0.9, 0.1))


def test_a_rerun_reads_every_trial_from_the_cache(demo_auto, trained_model, examples_artifact, tmp_path):
    config, plan, _, _ = demo_auto
    again = read_plan(run_quantizer(config, trained_model, examples_artifact, str(tmp_path / "plan")))
    assert all(t.cached for t in again.auto.trials)   # no trial converted again (timing: bench/auto_bench)
    assert again.config == read_plan(plan).config


@pytest.fixture(scope="module")
def outlier_auto(outlier_model, examples_artifact, tmp_path_factory):
    root = tmp_path_factory.mktemp("auto_outlier")
    plan = run_quantizer(auto_config(root / "cache"), outlier_model, examples_artifact, str(root / "plan"))
    return plan, root


def test_where_int8_fails_the_search_falls_back_and_says_why(outlier_auto, outlier_model, examples_artifact):
    plan, root = outlier_auto
    auto = read_plan(plan).auto
    trials = {t.name: t for t in auto.trials}
    assert not trials["int8_strict"].passed and trials["int8_strict"].absolute_drop > 0.5
    assert auto.met and auto.selected not in ("int8_strict", "int8")
    assert auto.selected.startswith("int8_selective") or auto.selected in ("dynamic_range", "float16")
    from tfx_edge.components.core import auto_search
    assert f"selected: {auto.selected}" in auto_search.explain(auto)
    tflite, float_model = run_exporter(outlier_model, plan, str(root / "export"))
    gate = EvaluationConfig(thresholds=Thresholds(metrics={"accuracy": MetricThreshold(max_absolute_drop=0.02)}),
                            latency=LatencyConfig(runs=0))
    blessing, _ = run_edge_evaluator(gate, examples_artifact, tflite, float_model, str(root / "eval"))
    assert blessing.get_int_custom_property("blessed") == 1


def test_no_candidate_within_tolerance_is_planned_but_never_blessed(outlier_model, examples_artifact, tmp_path):
    config = auto_config(tmp_path / "cache", candidates=("int8_strict", "int8"))
    plan = run_quantizer(config, outlier_model, examples_artifact, str(tmp_path / "plan"))
    auto = read_plan(plan).auto
    assert not auto.met and auto.best in ("int8_strict", "int8") and auto.selected is None
    tflite, float_model = run_exporter(outlier_model, plan, str(tmp_path / "export"))
    gate = EvaluationConfig(thresholds=Thresholds(metrics={"accuracy": MetricThreshold(max_absolute_drop=0.99)}),
                            latency=LatencyConfig(runs=0))
    blessing, evaluation = run_edge_evaluator(gate, examples_artifact, tflite, float_model, str(tmp_path / "e"))
    result = evaluation_text.read_evaluation(os.path.join(evaluation.uri, "metrics.json"))
    failed = [c.name for c in result.failed]
    # int8 of the outlier model predicts class 0 for every example: the collapse guard says so too
    assert failed == ["auto_search_met_tolerance", "guards.class_collapse"] and blessing.get_int_custom_property("blessed") == 0


def test_qat_and_aeq_candidates_plan_what_the_exporter_rebuilds(trained_model, examples_artifact, tmp_path):
    from tfx_edge.schemas import QatConfig
    config = QuantizationConfig(
        mode=Mode.AUTO, calibration=CalibrationConfig(num_samples=64), qat=QatConfig(epochs=1, steps_per_epoch=20),
        auto=AutoConfig(max_absolute_drop=0.05, cache_dir=str(tmp_path / "c"), latency_runs=10, rank="order",
                        candidates=("qat", "aeq:static_wi8_ai8")))   # 'order': qat first (by size aeq would be)
    plan = run_quantizer(config, trained_model, examples_artifact, str(tmp_path / "plan"))
    p = read_plan(plan)
    assert p.auto.selected == "qat" and p.config.mode.value == "qat" and p.qat
    assert os.path.isdir(os.path.join(plan.uri, artifacts.QAT_MODEL_DIR))
    tflite, _ = run_exporter(trained_model, plan, str(tmp_path / "export"))
    assert 0 < os.path.getsize(os.path.join(tflite.uri, "Format-Serving", "tflite")) - p.auto.trials[0].size_bytes \
        <= METADATA_BYTES   # the trial's bytes plus the exporter's LiteRT metadata
    again = run_quantizer(config, trained_model, examples_artifact, str(tmp_path / "plan2"))   # trial cached
    assert read_plan(again).auto.trials[0].cached and read_plan(again).qat
    run_exporter(trained_model, again, str(tmp_path / "export2"))   # the fine-tuned model is there
