"""Crossed slices (several features in one slice, TFMA's SlicingSpec(feature_keys=['a', 'b'])), end to end:
the slices of a batch, the native config and its refusals, the TFMA EvalConfig's crosses, the gate, and
an EdgeEvaluator run on the digits eval split whose crossed per-slice threshold fails the gate, read back
by TFMA's own loaders. (Values per crossed slice equal stock TFMA's: tests/test_tfma_equality.py.)
"""

from __future__ import annotations

import html
import json
import os

import numpy as np
import pytest

from tfx_edge.components.core import gate, scoring, slicing
from tfx_edge.components.core import metrics as core_metrics
from tfx_edge.schemas import EvaluationConfig, LatencyConfig, MetricThreshold, SliceThreshold, Thresholds, records
from tfx_edge.schemas._strict import ConfigError

ACC = {"accuracy": MetricThreshold(max_absolute_drop=0.1)}


def config(slice_features, *slices, **kwargs) -> EvaluationConfig:
    return EvaluationConfig(thresholds=Thresholds(metrics=ACC, slices=slices), slice_features=slice_features,
                            **kwargs)


# --- the slices of a batch ------------------------------------------------------------------------

def test_a_cross_slices_by_every_combination_and_loses_no_example():
    island = np.empty(5, dtype=object)
    island[:] = [[b"Biscoe"], [b"Dream"], [], [b"Biscoe"], [b"Dream"]]
    features = {"island": island, "species": np.array([[b"Adelie"], [b"Adelie"], [b"Gentoo"], [b"Gentoo"],
                                                       [b"Adelie"]])}
    got = {columns: mask.tolist() for columns, mask in slicing.masks(features, [("species", "island")], 5)}
    assert got == {
        (): [True] * 5,
        (("species", "Adelie"), ("island", "Biscoe")): [True, False, False, False, False],
        (("species", "Adelie"), ("island", "Dream")): [False, True, False, False, True],
        (("species", "Gentoo"), ("island", "<missing>")): [False, False, True, False, False],
        (("species", "Gentoo"), ("island", "Biscoe")): [False, False, False, True, False]}
    assert list(got) == sorted(got)                        # value order, per feature in the cross's order
    assert np.sum([m for c, m in got.items() if c], axis=0).tolist() == [1] * 5   # each example in one slice
    assert slicing.key_of((("island", "Biscoe"), ("species", "Adelie"))) == "island=Biscoe & species=Adelie"
    assert slicing.key_of(()) == slicing.OVERALL and slicing.key_of((("g", "a"),)) == "g=a"


def test_the_summary_keys_crossed_slices_by_display_key_with_typed_columns():
    spec = scoring.ScoreSpec(core_metrics.Spec("classification", 3), "label", "out", ("g", ("h", "g")))
    features = {"label": np.array([[0], [1], [2], [1]]), "g": np.array([[1], [1], [2], [2]]),
                "h": np.array([[b"x"], [b"y"], [b"x"], [b"x"]])}
    quant, ref = np.eye(3)[[0, 1, 1, 1]], np.eye(3)[[0, 1, 2, 1]]
    summary = scoring.summarize(scoring.batch_stats(features, {"quantized": quant, "float_tflite": ref}, spec), spec)
    assert sorted(summary["slices"]) == ["", "g=1", "g=2", "h=x & g=1", "h=x & g=2", "h=y & g=1"]
    assert summary["slices"]["h=x & g=2"]["columns"] == (("h", "x"), ("g", "2"))
    assert summary["slices"]["h=x & g=2"]["examples"] == 2
    assert summary["slices"]["h=x & g=2"]["drops"]["float_tflite"]["accuracy"]["absolute"] == pytest.approx(0.5)


def test_two_slices_of_one_display_key_are_refused():
    spec = scoring.ScoreSpec(core_metrics.Spec("classification", 2), "label", "out", ("a", ("a", "b")))
    b = np.empty(2, dtype=object)
    b[:] = [[b"y"], []]
    features = {"label": np.array([[0], [1]]), "a": np.array([[b"x"], [b"x & b=y"]]), "b": b}
    with pytest.raises(slicing.SliceError, match="have the same key 'a=x & b=y'"):
        scoring.summarize(scoring.batch_stats(features, {"quantized": np.eye(2), "float_tflite": np.eye(2)}, spec),
                          spec)


# --- the native config ------------------------------------------------------------------------------

def test_native_crosses_round_trip_through_json():
    c = config(("species", ["species", "island"]),
               SliceThreshold(feature=["species", "island"], value=["Adelie", None], metrics=ACC),
               SliceThreshold(feature=("species", "island"), metrics=ACC, min_examples=5),
               SliceThreshold(feature=("species", "island"), value=("Gentoo", "Biscoe"), metrics=ACC),
               SliceThreshold(feature="species", value="Adelie", metrics=ACC))
    assert c.slice_features == ("species", ("species", "island"))          # lists become tuples
    assert c.thresholds.slices[0].feature == ("species", "island") and c.thresholds.slices[0].value == ("Adelie", None)
    assert [st.named for st in c.thresholds.slices] == [False, False, True, True]
    again = EvaluationConfig.from_json(c.to_json())
    assert again == c and json.loads(c.to_json())["slice_features"] == ["species", ["species", "island"]]


ONE_CROSS = (("a", "b"),)


@pytest.mark.parametrize("slice_features, threshold, field, fix", [
    ((("a",),), None, "slice_features[0]=('a',)", "a crossed slice needs two or more features; slice by one "
     "feature as 'a'"),
    ((("a", "a"),), None, "slice_features[0]=('a', 'a')", "names each feature once"),
    ((("a", ""),), None, "slice_features[0]=('a', '')", "an empty name slices nothing"),
    (("a", "a"), None, "slice_features[1]='a'", "as slice_features[0]='a' does; list each slice once"),
    ((("a", "b"), ("b", "a")), None, "slice_features[1]=('b', 'a')", "list each slice once"),
    (ONE_CROSS, SliceThreshold(feature=("a", "c"), metrics=ACC), "thresholds.slices[0].feature=('a', 'c')",
     "add it to slice_features (now [('a', 'b')])"),
    (ONE_CROSS, SliceThreshold(feature=("b", "a"), metrics=ACC), "thresholds.slices[0].feature=('b', 'a')",
     "slice_features lists this cross as ('a', 'b'): name it in that order"),
    (ONE_CROSS, SliceThreshold(feature=("a",), metrics=ACC), "thresholds.slices[0].feature=('a',)",
     "two or more features"),
    (ONE_CROSS, SliceThreshold(feature=("a", "b"), value="x", metrics=ACC), "thresholds.slices[0].value='x'",
     "is a cross: give one value per feature, e.g. ('x', None)"),
    (ONE_CROSS, SliceThreshold(feature=("a", "b"), value=("x", None, "z"), metrics=ACC),
     "thresholds.slices[0].value=('x', None, 'z')", "a cross of 2 features: give 2 values, one per feature"),
    (("a",), SliceThreshold(feature="a", value=("x",), metrics=ACC), "thresholds.slices[0].value=('x',)",
     "'a' is one feature: give one value (a string)"),
])
def test_a_misconfigured_cross_is_refused_naming_field_value_and_fix(slice_features, threshold, field, fix):
    with pytest.raises(ConfigError) as error:
        config(slice_features, *((threshold,) if threshold else ()))
    assert str(error.value).startswith(f"{field} is invalid: ") and fix in str(error.value)


def test_a_cross_of_the_wrong_types_is_refused_on_construction():
    with pytest.raises(ConfigError, match=r"SliceThreshold\.feature=\('a', 3\) is invalid"):
        SliceThreshold(feature=("a", 3), metrics=ACC)
    with pytest.raises(ConfigError, match=r"slice_features\[0\]\[1\]=2 is invalid|slice_features\[0\]=\['a', 2\]"):
        EvaluationConfig.from_dict({"thresholds": {"metrics": {"accuracy": {"max_absolute_drop": 0.1}}},
                                    "slice_features": [["a", 2]]})


# --- TFMA's crosses ----------------------------------------------------------------------------------

GATED = {"threshold": {"value_threshold": {"lower_bound": 0.5}}}


def eval_config(slicing_specs, per_slice=(), **more) -> dict:
    metric = {"class_name": "BinaryAccuracy", **GATED, "per_slice_thresholds": list(per_slice)}
    return {"model_specs": [{"label_key": "y"}], "slicing_specs": [{}, *slicing_specs],
            "metrics_specs": [{"metrics": [metric]}], **more}


def bound(lower: float, *specs) -> dict:
    return {"slicing_specs": list(specs), "threshold": {"value_threshold": {"lower_bound": lower}}}


def test_from_tfma_maps_feature_keys_feature_values_and_mixed_crosses():
    converted = EvaluationConfig.from_tfma(eval_config(
        [{"feature_keys": ["species", "island"]}, {"feature_values": {"sex": "F", "island": "Dream"}},
         {"feature_keys": ["sex"], "feature_values": {"island": "Biscoe"}}],
        [bound(0.9, {"feature_values": {"species": "Adelie", "island": "Dream"}}),
         bound(0.8, {"feature_keys": ["island"], "feature_values": {"species": "Gentoo"}})]))
    # crosses take TFMA's slice-key order (sorted by feature name); feature_values crosses compute every value
    assert converted.slice_features == (("island", "species"), ("island", "sex"))
    got = [(st.feature, st.value, st.metrics["binary_accuracy"].lower_bound) for st in converted.thresholds.slices]
    assert got == [
        (("island", "species"), None, 0.5),               # MetricConfig.threshold: every crossed slice too
        (("island", "sex"), ("Dream", "F"), 0.5),
        (("island", "sex"), ("Biscoe", None), 0.5),       # feature_keys + feature_values: every sex on Biscoe
        (("island", "species"), ("Dream", "Adelie"), 0.9),
        (("island", "species"), (None, "Gentoo"), 0.8)]
    assert EvaluationConfig.from_json(converted.to_json()) == converted


def test_from_tfma_merges_a_crossed_per_slice_threshold_into_its_slicing_spec_slice():
    converted = EvaluationConfig.from_tfma(eval_config(
        [{"feature_values": {"a": "x", "b": "y"}}], [bound(0.7, {"feature_values": {"b": "y", "a": "x"}})]))
    (st,) = converted.thresholds.slices
    assert (st.feature, st.value, st.metrics["binary_accuracy"].lower_bound) == (("a", "b"), ("x", "y"), 0.7)


@pytest.mark.parametrize("data, field, fix", [
    (eval_config([{"feature_keys": ["a", "b", "a"]}]), "slicing_specs[1].feature_keys", "name each feature once"),
    (eval_config([{"feature_keys": ["a", "b"], "feature_values": {"b": "1"}}]), "slicing_specs[1]",
     "'b' is in both feature_keys and feature_values"),
    (eval_config([{"feature_keys": ["a", "b"]}], [bound(0.5, {"feature_keys": ["a"]})]),
     "metrics_specs[0].metrics[0].per_slice_thresholds[0].slicing_specs[0]", "add SlicingSpec(feature_keys=['a'])"),
    (eval_config([{"feature_keys": ["a"], "feature_values": {"b": "1"}}], [bound(0.5, {"feature_values": {
        "a": "x", "b": "2"}})]), "metrics_specs[0].metrics[0].per_slice_thresholds[0].slicing_specs[0]",
     "add SlicingSpec(feature_keys=['a', 'b'])"),
    (eval_config([], cross_slicing_specs=[{"baseline_spec": {}}]), "cross_slicing_specs",
     "cross-slice comparisons (one slice's metrics against another's) are not supported"),
    (eval_config([{"slice_keys_sql": "SELECT a"}]), "slicing_specs[1].slice_keys_sql", "(or ['a', 'b'], crossed)"),
])
def test_from_tfma_refuses_what_a_cross_cannot_be(data, field, fix):
    with pytest.raises(ConfigError) as error:
        EvaluationConfig.from_tfma(data)
    assert str(error.value).startswith(f"{field}=") and fix in str(error.value)


# --- the gate ----------------------------------------------------------------------------------------

def summary(n: int, quant: float, columns=()) -> dict:
    return {"columns": columns, "examples": n, "nonfinite": {"quantized": 0, "float_tflite": 0},
            "metrics": {"quantized": {"accuracy": quant}, "float_tflite": {"accuracy": 0.9}},
            "pairs": {}, "drops": {"float_tflite": core_metrics.drops({"accuracy": quant}, {"accuracy": 0.9})}}


def crossed(island: str, species: str, n: int, quant: float) -> tuple[str, dict]:
    columns = (("island", island), ("species", species))
    return slicing.key_of(columns), summary(n, quant, columns)


SLICES = dict([("", summary(100, 0.9)), ("island=Biscoe", summary(50, 0.9, (("island", "Biscoe"),))),
               crossed("Biscoe", "Adelie", 30, 0.6), crossed("Biscoe", "Gentoo", 20, 0.9),
               crossed("Dream", "Adelie", 4, 0.5), crossed("Dream", "Gentoo", 46, 0.89)])
CROSS = ("island", "species")


def failing(*slice_thresholds) -> list[str]:
    evidence = gate.Evidence(slices=SLICES, references=["float_tflite"])
    blessed, checks = gate.decide(evidence, Thresholds(metrics=ACC, slices=slice_thresholds))
    assert blessed == all(c.passed for c in checks)
    return [f"{c.name}[{c.slice}]" for c in checks if not c.passed]


def test_the_gate_checks_every_combination_of_a_cross_on_its_own():
    drop = {"accuracy": MetricThreshold(max_absolute_drop=0.1)}
    assert failing(SliceThreshold(feature=CROSS, metrics=drop)) == [
        "accuracy.max_absolute_drop[island=Biscoe & species=Adelie]",
        "accuracy.max_absolute_drop[island=Dream & species=Adelie]"]
    assert failing(SliceThreshold(feature=CROSS, metrics=drop, min_examples=5)) == [   # Dream & Adelie: 4, not gated
        "accuracy.max_absolute_drop[island=Biscoe & species=Adelie]"]
    assert failing(SliceThreshold(feature=CROSS, value=("Dream", None), metrics=drop, min_examples=5)) == []
    assert failing(SliceThreshold(feature=CROSS, value=(None, "Adelie"), metrics=drop)) == [
        "accuracy.max_absolute_drop[island=Biscoe & species=Adelie]",
        "accuracy.max_absolute_drop[island=Dream & species=Adelie]"]
    assert failing(SliceThreshold(feature=CROSS, value=("Dream", "Adelie"), metrics=drop, min_examples=5)) == [
        "slice_min_examples[island=Dream & species=Adelie]"]                  # named: too small fails
    assert failing(SliceThreshold(feature=CROSS, value=("Torgersen", None), metrics=drop)) == [
        "slice_present[island=Torgersen & species=*]"]
    assert failing(SliceThreshold(feature="island", metrics=drop)) == []       # a single feature: not the cross


def test_a_crossed_check_carries_its_typed_columns():
    evidence = gate.Evidence(slices=SLICES, references=["float_tflite"])
    absent = SliceThreshold(feature=CROSS, value=("Torgersen", "Adelie"), metrics=ACC)
    checks = gate._slice_checks(evidence, SliceThreshold(feature=CROSS, value=("Biscoe", "Adelie"), metrics=ACC))
    assert {c.columns for c in checks} == {(("island", "Biscoe"), ("species", "Adelie"))}
    (missing,) = gate._slice_checks(evidence, absent)
    assert missing.columns == (("island", "Torgersen"), ("species", "Adelie")) and not missing.passed


# --- an EdgeEvaluator run ----------------------------------------------------------------------------

def digits_with_slices(examples_artifact, root: str):
    """The digits eval split (labels unchanged) with three slice features: parity (b"odd" / b"even"
    from the digit), half (b"a" / b"b", by position) and tag (b"t", absent from every fifth example)."""
    import tensorflow as tf
    from tfx.types import artifact_utils, standard_artifacts
    from helpers import make_artifact
    source = os.path.join(examples_artifact.uri, "Split-eval", "data_tfrecord-00000-of-00001")
    os.makedirs(os.path.join(root, "Split-eval"))
    with tf.io.TFRecordWriter(os.path.join(root, "Split-eval", "data_tfrecord-00000-of-00001")) as writer:
        for i, record in enumerate(tf.data.TFRecordDataset(source).as_numpy_iterator()):
            example = tf.train.Example.FromString(record)
            digit = example.features.feature["label"].int64_list.value[0]
            example.features.feature["parity"].bytes_list.value.append(b"odd" if digit % 2 else b"even")
            example.features.feature["half"].bytes_list.value.append(b"ab"[i % 2:i % 2 + 1])
            if i % 5:
                example.features.feature["tag"].bytes_list.value.append(b"t")
            writer.write(example.SerializeToString())
    split = make_artifact(standard_artifacts.Examples, root)
    split.split_names = artifact_utils.encode_split_names(["eval"])
    return split


@pytest.mark.e2e
def test_a_crossed_slice_threshold_from_a_tfma_config_fails_the_gate_and_tfma_reads_it(
        int8_export, examples_artifact, tmp_path):
    import tfx  # noqa: F401  (TFMA 0.52's package face needs tfx imported first)
    import tensorflow_model_analysis as tfma
    from tensorflow_model_analysis.slicer import slicer_lib
    from helpers import run_edge_evaluator
    split = digits_with_slices(examples_artifact, str(tmp_path / "ex"))
    odd_halves = {"slicing_specs": [{"feature_keys": ["half"], "feature_values": {"parity": "odd"}}],
                  "threshold": {"value_threshold": {"lower_bound": 0.999}}}
    tfma_config = {
        "model_specs": [{"label_key": "label"}],
        "slicing_specs": [{}, {"feature_keys": ["parity", "half"]}, {"feature_keys": ["tag", "parity"]}],
        "metrics_specs": [{"metrics": [{"class_name": "SparseCategoricalAccuracy", "threshold": {
            "change_threshold": {"direction": "HIGHER_IS_BETTER", "absolute": -0.5}},
            "per_slice_thresholds": [odd_halves]}]}]}
    # a native cross in its own order beside the EvalConfig's (TFMA's slice key sorts its columns)
    config = EvaluationConfig.from_tfma(tfma_config, latency=LatencyConfig(runs=0),
                                        slice_features=(("half", "parity"), ("parity", "tag"), ("tag", "half")))
    blessing, evaluation = run_edge_evaluator(config, split, int8_export["tflite"], int8_export["float"],
                                              str(tmp_path / "out"))
    result = records.EvaluationResult.from_json(open(os.path.join(evaluation.uri, "metrics.json")).read(), "m", "f")

    # every example is in exactly one slice of each cross, examples without tag in its <missing> value
    for cross in config.slice_features:
        slices = [s for s in result.slices.values() if tuple(f for f, _ in s.columns) == cross]
        assert sum(s.examples for s in slices) == result.examples == 360
        assert all(slicing.key_of(s.columns) == key for key, s in result.slices.items())
    assert result.slices["tag=<missing> & half=a"].examples + result.slices["tag=<missing> & half=b"].examples == 72

    # the crossed threshold (every half of the odd digits) fails where the quantized accuracy is below 0.999
    odd = {k: s for k, s in result.slices.items() if s.columns in ((("half", h), ("parity", "odd")) for h in "ab")}
    bounds = [c for c in result.checks if c.name == "accuracy.lower_bound"]
    assert {c.slice for c in bounds} == set(odd) == {"half=a & parity=odd", "half=b & parity=odd"}
    for check in bounds:
        assert check.passed == (odd[check.slice].metric("quantized", "accuracy") >= 0.999)
        assert check.columns == odd[check.slice].columns
    assert not result.blessed and blessing.get_int_custom_property("blessed") == 0
    assert any(not c.passed for c in bounds)
    # the EvalConfig's threshold gates every crossed slice too (a drop of at most 0.5 passes everywhere)
    drops = {c.slice for c in result.checks if c.name == "accuracy.max_absolute_drop"}
    assert drops == {k for k, s in result.slices.items()
                     if tuple(f for f, _ in s.columns) in ((), ("half", "parity"), ("parity", "tag"))}

    # TFMA's loaders read the crossed slices, columns sorted by feature name as TFMA's slicer writes them
    loaded = tfma.load_eval_result(evaluation.uri, model_name="candidate")
    keys = {key for key, _ in loaded.slicing_metrics}
    expected = {tuple(sorted(s.columns)) for s in result.slices.values()}
    assert keys == expected
    assert (("half", "a"), ("tag", "t")) in keys and (("parity", "odd"), ("tag", "<missing>")) in keys
    specs = {tuple(s.feature_keys) for s in loaded.config.slicing_specs}
    assert specs == {(), ("half", "parity"), ("parity", "tag"), ("tag", "half")}
    validation = tfma.load_validation_result(evaluation.uri)
    assert not validation.validation_ok
    failed = {slicer_lib.deserialize_slice_key(s.slice_key) for s in validation.metric_validations_per_slice}
    wanted = {tuple(sorted(odd[c.slice].columns)) for c in bounds if not c.passed}
    assert failed == wanted and all(len(key) == 2 for key in failed)
    # the report's slices table names the crossed slices by their display key
    report = open(os.path.join(evaluation.uri, "report.html")).read()
    assert html.escape("half=a & parity=odd") in report and html.escape("tag=<missing> & half=b") in report
