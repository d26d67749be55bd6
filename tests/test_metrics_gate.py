"""Pure core: statistics, metrics, slices and the gate. Exact values against
independent computations (scikit-learn, plain numpy); the gate fails closed."""

import math

import numpy as np
import pytest
from sklearn import metrics as sk

from tfx_edge.components.core import gate, metrics, scoring, slicing
from tfx_edge.schemas import Budgets, MetricThreshold, SliceThreshold, Thresholds

RNG = np.random.default_rng(0)


def spec(classes=4, kind="probabilities", top_k=(2,)):
    return metrics.Spec("classification", classes, kind, top_k)


def softmax(z):
    e = np.exp(z - z.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def test_multiclass_metrics_match_sklearn():
    labels = RNG.integers(0, 4, 500)
    logits = RNG.normal(size=(500, 4)) + 1.5 * np.eye(4)[labels]
    for kind, scores in (("probabilities", softmax(logits)), ("logits", logits)):
        s = spec(kind=kind)
        stats = metrics.merge(metrics.classification_stats(labels[:200], scores[:200], s),
                              metrics.classification_stats(labels[200:], scores[200:], s))
        m = metrics.classification_metrics(stats, s)
        pred = softmax(logits).argmax(axis=1)
        assert m["accuracy"] == sk.accuracy_score(labels, pred)
        assert m["loss"] == pytest.approx(sk.log_loss(labels, softmax(logits)), rel=1e-9)
        assert m["top_2_accuracy"] == sk.top_k_accuracy_score(labels, softmax(logits), k=2)
        assert m["macro_precision"] == pytest.approx(sk.precision_score(labels, pred, average="macro"))
        assert m["recall_class_2"] == pytest.approx(sk.recall_score(labels, pred, labels=[2], average="macro"))
        assert np.array_equal(stats["confusion"], sk.confusion_matrix(labels, pred))


def test_one_hot_labels_equal_sparse_labels():
    labels = np.array([0, 2, 1, 2])
    sparse, fmt_sparse = metrics.labels_of(labels[:, None], 3, "y")
    dense, fmt_dense = metrics.labels_of(np.eye(3)[labels], 3, "y")
    assert np.array_equal(sparse, dense) and (fmt_sparse, fmt_dense) == ("sparse", "one_hot")
    with pytest.raises(metrics.LabelError, match="one-hot vector of the model's 3 classes"):
        metrics.labels_of(np.array([[1, 1, 0]]), 3, "y")
    with pytest.raises(metrics.LabelError, match="value 10 outside"):
        metrics.labels_of(np.array([[1], [10]]), 10, "y")


@pytest.mark.parametrize("kind, outputs", [("probabilities", [[0.2], [0.7], [0.5]]),
                                           ("logits", [[-1.0], [0.3], [0.0]])])
def test_binary_single_unit_thresholds_and_loss(kind, outputs):
    s = metrics.Spec("classification", 2, kind, ())
    scores = metrics.class_scores(np.array(outputs), s, "out")
    stats = metrics.classification_stats(np.array([0, 1, 1]), scores, s)
    assert stats["confusion"].tolist() == [[1, 0], [1, 1]]   # exactly at the threshold is class 0
    p = np.array(outputs)[:, 0] if kind == "probabilities" else 1 / (1 + np.exp(-np.array(outputs)[:, 0]))
    assert metrics.classification_metrics(stats, s)["loss"] == pytest.approx(sk.log_loss([0, 1, 1], p))


def test_single_unit_without_output_kind_is_refused():
    with pytest.raises(metrics.OutputError, match="set EvaluationConfig.output_kind"):
        metrics.class_scores(np.array([[0.3]]), metrics.Spec("classification", 2), "out")
    with pytest.raises(metrics.OutputError, match="set output_kind='logits'"):
        metrics.class_scores(np.array([[3.0, -1.0]]), spec(2), "out")


def test_nonfinite_rows_are_misses_and_spoil_the_loss():
    scores = softmax(RNG.normal(size=(3, 4)))
    scores[1, 0] = np.nan
    stats = metrics.classification_stats(np.array([0, 1, 2]), scores, spec())
    m = metrics.classification_metrics(stats, spec())
    assert stats["nonfinite"] == 1 and stats["confusion"].sum() == 3 and stats["confusion"][1, 1] == 0
    assert math.isnan(m["loss"])


def test_regression_and_pair_metrics():
    y = RNG.normal(size=(50, 1))
    a, b = y + 0.1 * RNG.normal(size=(50, 1)), y + 0.2 * RNG.normal(size=(50, 1))
    m = metrics.regression_metrics(metrics.regression_stats(y, a))
    assert m["mae"] == pytest.approx(sk.mean_absolute_error(y, a))
    assert m["rmse"] == pytest.approx(math.sqrt(sk.mean_squared_error(y, a)))
    pair = metrics.pair_metrics(metrics.merge(metrics.pair_stats(a[:20], b[:20], False),
                                              metrics.pair_stats(a[20:], b[20:], False)))
    assert pair["max_output_diff"] == pytest.approx(np.abs(a - b).max())


def test_drops_are_direction_aware():
    d = metrics.drops({"accuracy": 0.9, "loss": 0.5, "rmse": 2.0}, {"accuracy": 0.95, "loss": 0.4, "rmse": 2.5})
    assert d["accuracy"]["absolute"] == pytest.approx(0.05)       # accuracy fell: worse
    assert d["loss"]["absolute"] == pytest.approx(0.1)            # loss rose: worse
    assert d["rmse"]["absolute"] == pytest.approx(-0.5)           # rmse fell: better
    assert d["loss"]["relative"] == pytest.approx(0.25)


def test_slices_cover_every_example_including_missing():
    column = np.empty(4, dtype=object)
    column[:] = [[b"eu"], [b"us"], [], [b"eu"]]
    got = {slicing.key_of(k): m.tolist() for k, m in slicing.masks({"region": column}, ["region"], 4)}
    assert got == {"": [True] * 4, "region=eu": [True, False, False, True],
                   "region=us": [False, True, False, False], "region=<missing>": [False, False, True, False]}
    assert list(slicing.values_of(np.array([[3.0], [1.5]]), "x", 2)) == ["3", "1.5"]
    with pytest.raises(slicing.SliceError, match="has 2 values per example"):
        slicing.values_of(np.array([[1, 2]]), "x", 1)


def test_scoring_summary_per_slice():
    s = scoring.ScoreSpec(spec(3, top_k=()), "label", "out", ("g",))
    features = {"label": np.array([[0], [1], [2], [1]]), "g": np.array([[1], [1], [2], [2]])}
    quant = np.eye(3)[[0, 1, 1, 1]]
    ref = np.eye(3)[[0, 1, 2, 1]]
    summary = scoring.summarize(scoring.batch_stats(features, {"quantized": quant, "float_tflite": ref}, s), s)
    assert summary["examples"] == 4 and sorted(summary["slices"]) == ["", "g=1", "g=2"]
    assert summary["slices"]["g=2"]["drops"]["float_tflite"]["accuracy"]["absolute"] == pytest.approx(0.5)
    assert summary["slices"]["g=1"]["pairs"]["float_tflite"]["agreement"] == 1.0
    assert summary["confusion"]["quantized"] == [[1, 0, 0], [0, 2, 0], [0, 1, 0]]


# --- the gate -------------------------------------------------------------------------------

def slice_summary(n=100, quant=0.95, ref=0.96, loss=(0.2, 0.18), agreement=0.97, columns=()):
    return {"columns": columns, "examples": n, "nonfinite": {"quantized": 0, "float_tflite": 0},
            "metrics": {"quantized": {"accuracy": quant, "loss": loss[0]},
                        "float_tflite": {"accuracy": ref, "loss": loss[1]}},
            "pairs": {"float_tflite": {"agreement": agreement, "max_output_diff": 0.1}},
            "drops": {"float_tflite": metrics.drops({"accuracy": quant, "loss": loss[0]},
                                                    {"accuracy": ref, "loss": loss[1]})}}


LATENCY = {"quantized": {"xnnpack": {"p50_us": 10.0, "p95_us": 14.0}},
           "float_tflite": {"xnnpack": {"p50_us": 30.0, "p95_us": 35.0}}}


def evidence(**kwargs):
    slices = kwargs.pop("slices", {"": slice_summary(), "g=a": slice_summary(40, 0.9, 0.95, columns=(("g", "a"),)),
                                   "g=b": slice_summary(5, 0.6, 0.8, columns=(("g", "b"),))})
    kwargs.setdefault("latency", LATENCY)
    return gate.Evidence(slices=slices, references=["float_tflite"], model_bytes=1000, float_ops=2, **kwargs)


def failed(thresholds, **kwargs):
    blessed, checks = gate.decide(evidence(**kwargs), thresholds)
    names = [c.name + (f"[{c.slice}]" if c.slice else "") for c in checks if not c.passed]
    assert blessed == (not names)
    return names


@pytest.mark.parametrize("threshold, passing", [
    ({"accuracy": MetricThreshold(max_absolute_drop=0.02)}, True),
    ({"accuracy": MetricThreshold(max_absolute_drop=0.005)}, False),
    ({"accuracy": MetricThreshold(max_relative_drop=0.011)}, True),
    ({"accuracy": MetricThreshold(max_relative_drop=0.01)}, False),
    ({"accuracy": MetricThreshold(lower_bound=0.95)}, True),
    ({"accuracy": MetricThreshold(lower_bound=0.951)}, False),
    ({"loss": MetricThreshold(upper_bound=0.2)}, True),
    ({"loss": MetricThreshold(upper_bound=0.19)}, False),
    ({"loss": MetricThreshold(max_absolute_drop=0.021)}, True),     # loss rose 0.02: worse
    ({"loss": MetricThreshold(max_absolute_drop=0.019)}, False),
    ({"agreement": MetricThreshold(lower_bound=0.97)}, True),
    ({"agreement": MetricThreshold(lower_bound=0.98)}, False),
])
def test_each_metric_threshold_kind_passes_and_fails(threshold, passing):
    assert (failed(Thresholds(metrics=threshold)) == []) == passing


ACC = {"accuracy": MetricThreshold(lower_bound=0.5)}


@pytest.mark.parametrize("budgets, failing", [
    (Budgets(max_model_bytes=1000, max_latency_p50_us=10, max_latency_p95_us=14, max_latency_ratio=0.34,
             max_float_ops=2), []),
    (Budgets(max_model_bytes=999), ["budgets.max_model_bytes"]),
    (Budgets(max_latency_p50_us=9.9), ["budgets.max_latency_p50_us"]),
    (Budgets(max_latency_p95_us=13.9), ["budgets.max_latency_p95_us"]),
    (Budgets(max_latency_ratio=0.3), ["budgets.max_latency_ratio"]),
    (Budgets(max_float_ops=1), ["budgets.max_float_ops"]),
])
def test_budgets(budgets, failing):
    assert failed(Thresholds(metrics=ACC, budgets=budgets)) == failing


def test_unmeasured_latency_with_a_budget_fails_closed():
    assert failed(Thresholds(metrics=ACC, budgets=Budgets(max_latency_p50_us=1e9)), latency={}) == [
        "budgets.max_latency_p50_us"]


def test_slice_thresholds():
    drop = {"accuracy": MetricThreshold(max_absolute_drop=0.1)}
    every = SliceThreshold(feature="g", metrics=drop)
    assert failed(Thresholds(metrics=ACC, slices=(every,))) == ["accuracy.max_absolute_drop[g=b]"]
    big_only = SliceThreshold(feature="g", metrics=drop, min_examples=10)
    assert failed(Thresholds(metrics=ACC, slices=(big_only,))) == []
    named_small = SliceThreshold(feature="g", value="b", metrics=drop, min_examples=10)
    assert failed(Thresholds(metrics=ACC, slices=(named_small,))) == ["slice_min_examples[g=b]"]
    absent = SliceThreshold(feature="g", value="zz", metrics=drop)
    assert failed(Thresholds(metrics=ACC, slices=(absent,))) == ["slice_present[g=zz]"]


@pytest.mark.parametrize("overall, float_blessed, failing", [
    (slice_summary(n=0, quant=math.nan), None, ["examples", "accuracy.lower_bound"]),
    ({**slice_summary(), "nonfinite": {"quantized": 3, "float_tflite": 0}}, None, ["finite_outputs"]),
    ({**slice_summary(), "metrics": {"quantized": {}, "float_tflite": {}}}, None, ["accuracy.lower_bound"]),
    (slice_summary(quant=None), None, ["accuracy.lower_bound"]),
    (slice_summary(), False, ["float_model_blessed"]),
])
def test_gate_fails_closed(overall, float_blessed, failing):
    assert failed(Thresholds(metrics=ACC), slices={"": overall}, float_blessed=float_blessed) == failing


def test_failure_block_lists_every_reason():
    _, checks = gate.decide(evidence(), Thresholds(metrics={"accuracy": MetricThreshold(lower_bound=0.99)},
                                                   budgets=Budgets(max_model_bytes=1)))
    block = gate.failure_block(checks)
    assert block.startswith("EdgeEvaluator: NOT BLESSED (2 of") and block.count("\n  - ") == 2
