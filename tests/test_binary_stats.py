"""binary_stats / binary_metrics against stock TFMA 0.52, the oracle.

TFMA's own computations (metric_specs.to_computations over MetricsSpec protos, so that
binarize / aggregate / example weights are TFMA's) are run by hand: each combiner over
one StandardMetricInputs per row, then the derived computations in order. Our values must
equal TFMA's to 1e-9 relative, counts exactly.
"""

from __future__ import annotations

import json
import time

import numpy as np
import pytest

from tfx_edge.components.core import binary_metrics as bm
from tfx_edge.components.core import binary_stats as bs
from tfx_edge.components.core import metrics

RTOL = 1e-9
THRESHOLDS = [0.3, 0.5, 0.7]
CONFUSION = ("Precision", "Recall", "BinaryAccuracy", "F1Score")


# --- TFMA, run by hand --------------------------------------------------------------------------

def _tfma():
    pytest.importorskip("tensorflow_model_analysis")
    from tensorflow_model_analysis.evaluators import metrics_plots_and_validations_evaluator as ev
    from tensorflow_model_analysis.metrics import metric_specs, metric_types
    from tensorflow_model_analysis.proto import config_pb2
    return ev, metric_specs, metric_types, config_pb2


def _tfma_run(metric_configs, labels, scores, weights, binarize=None, aggregate=None) -> dict:
    """{(name, sub_key, aggregation, weighted): value} for both example-weight options."""
    ev, metric_specs, metric_types, config_pb2 = _tfma()
    spec = config_pb2.MetricsSpec(
        metrics=[config_pb2.MetricConfig(class_name=c, config=json.dumps(cfg) if cfg else "")
                 for c, cfg in metric_configs],
        example_weights=config_pb2.ExampleWeightOptions(weighted=True, unweighted=True),
        binarize=binarize, aggregate=aggregate)
    computations = ev._filter_and_separate_computations(
        metric_specs.to_computations([spec], config_pb2.EvalConfig()))
    out = _tfma_combine(computations.non_derived_computations, labels, scores, weights)
    with np.errstate(divide="ignore", invalid="ignore"):
        for derived in computations.derived_computations:
            out.update(derived.result(out))
    return {(k.name, k.sub_key, k.aggregation_type, k.example_weighted): v
            for k, v in out.items() if not k.name.startswith("_")}


def _tfma_combine(computations, labels, scores, weights) -> dict:
    """Each combiner over one StandardMetricInputs per row."""
    _, _, metric_types, _ = _tfma()
    rows = [metric_types.StandardMetricInputs(
        {"labels": np.atleast_1d(labels[i]), "predictions": np.atleast_1d(scores[i]),
         "example_weights": np.array([weights[i]])}) for i in range(len(scores))]
    out: dict = {}
    for computation in computations:
        combiner = computation.combiner
        acc = combiner.create_accumulator()
        for row in rows:
            acc = combiner.add_input(acc, row)
        out.update(combiner.extract_output(acc))
    return out


def _key(name, weighted, class_id=None, k=None, top_k=None, micro=False, macro=False):
    _, _, metric_types, _ = _tfma()
    sub_key = None
    if class_id is not None or k is not None or top_k is not None:
        sub_key = metric_types.SubKey(class_id=class_id, k=k, top_k=top_k)
    aggregation = None
    if micro or macro:
        aggregation = metric_types.AggregationType(micro_average=micro or None,
                                                   macro_average=macro or None)
    return name, sub_key, aggregation, weighted


def _same(ours, theirs, exact=False):
    ours, theirs = np.asarray(ours, dtype=np.float64), np.asarray(theirs, dtype=np.float64)
    assert ours.shape == theirs.shape, (ours, theirs)
    if exact:
        np.testing.assert_array_equal(ours, theirs)
    else:
        np.testing.assert_allclose(ours, theirs, rtol=RTOL, atol=0.0, equal_nan=True)


# --- data ---------------------------------------------------------------------------------------

def _binary_data(n=3000, seed=0, fractional=False):
    rng = np.random.default_rng(seed)
    p = rng.random(n)
    edges = np.concatenate([
        [0.0, 1.0, 0.0, 1.0, 0.3, 0.5, 0.7, 0.3 + 1e-12, 0.5 - 1e-12, 1e-7, 1 - 1e-7],
        rng.integers(0, 10001, 60) / 10000.0,         # histogram bucket edges
        rng.integers(1, 9999, 60) / 9999.0,           # the interpolated thresholds
        rng.integers(1, 199, 20) / 199.0])
    p[rng.choice(n, edges.size, replace=False)] = edges
    labels = rng.random(n) if fractional else (rng.random(n) < 0.2).astype(np.int64)
    if not fractional:
        labels[p > 0.9] = rng.random(np.sum(p > 0.9)) < 0.6   # some signal: AUC > 0.5
    return labels, p, rng.uniform(0.05, 3.0, n)


def _multiclass_data(n=1500, classes=4, seed=1):
    rng = np.random.default_rng(seed)
    logits = rng.normal(size=(n, classes)) * 1.5
    labels = np.where(rng.random(n) < 0.7, np.argmax(logits + rng.normal(size=(n, classes)), 1),
                      rng.integers(0, classes, n)).astype(np.int64)
    scores = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    scores[:40] = 1.0 / classes                                 # ties: top-k picks lower ids
    scores[40:60] = np.eye(classes)[rng.integers(0, classes, 20)]  # exact 0 and 1
    return labels, scores, rng.uniform(0.05, 3.0, n)


# --- our side -----------------------------------------------------------------------------------

def _ours(y, p, w, n=None, example_weights=None):
    """Every binary metric of this test from our statistics (summed over one batch)."""
    plans = {"auc": bm.matrices_plan(), "auc200": bm.matrices_plan(num_thresholds=200),
             "confusion": bm.matrices_plan(THRESHOLDS, default_threshold=0.5),
             "default": bm.matrices_plan(default_threshold=0.5),
             "at1": bm.matrices_plan([1.0], default_threshold=0.5)}
    specs = bs.specs_union([plan[0] for plan in plans.values()], [bs.Moments(), bs.Counts()])
    stats = bs.statistics(specs, y, p, w, examples=n, example_weights=example_weights)
    return _derive(stats, plans, weighted=w is not None)


def _derive(stats, plans, weighted):
    m = {name: bm.matrices(stats[spec.key], spec, thr) for name, (spec, thr) in plans.items()}
    out = {"auc": bm.auc(m["auc"]), "auc_precision_recall": bm.auc(m["auc"], "PR"),
           "auc_minoring": bm.auc(m["auc"], summation_method="minoring"),
           "auc_majoring": bm.auc(m["auc"], summation_method="majoring"),
           "auc_pr_minoring": bm.auc(m["auc"], "PR", "minoring"),
           "auc_pr_majoring": bm.auc(m["auc"], "PR", "majoring"),
           "auc_200": bm.auc(m["auc200"]), "auc_pr_200": bm.auc(m["auc200"], "PR"),
           "precision_at_1": bm.confusion_metric("Precision", m["at1"])[0],
           "precision_default": bm.confusion_metric("Precision", m["default"])[0],
           "true_positives": bm.confusion_metric("TruePositives", m["confusion"]),
           "false_positives": bm.confusion_metric("FP", m["confusion"])}
    for class_name, name in zip(CONFUSION, ("precision", "recall", "binary_accuracy", "f1_score")):
        out[name] = bm.confusion_metric(class_name, m["confusion"])
    moments, counts = stats["moments"], stats["counts"]
    out.update(calibration=bm.calibration(moments), mean_label=bm.mean_label(moments),
               mean_prediction=bm.mean_prediction(moments),
               mean_squared_error=bm.mean_squared_error(moments),
               example_count=bm.example_count(counts, weighted),
               weighted_example_count=bm.example_count(counts, weighted))
    return out


BINARY_CONFIGS = [
    ("AUC", None), ("AUCPrecisionRecall", None),
    ("AUC", {"name": "auc_minoring", "summation_method": "minoring"}),
    ("AUC", {"name": "auc_majoring", "summation_method": "majoring"}),
    ("AUCPrecisionRecall", {"name": "auc_pr_minoring", "summation_method": "minoring"}),
    ("AUCPrecisionRecall", {"name": "auc_pr_majoring", "summation_method": "majoring"}),
    ("AUC", {"name": "auc_200", "num_thresholds": 200}),
    ("AUCPrecisionRecall", {"name": "auc_pr_200", "num_thresholds": 200}),
    # BinaryAccuracy's config field is `threshold` (it takes a list too), the others' `thresholds`
    *[(c, {"threshold" if c == "BinaryAccuracy" else "thresholds": THRESHOLDS}) for c in CONFUSION],
    ("TruePositives", {"thresholds": THRESHOLDS}), ("FalsePositives", {"thresholds": THRESHOLDS}),
    ("Precision", {"name": "precision_default"}),
    ("Precision", {"name": "precision_at_1", "thresholds": [1.0]}),   # no positives: NaN
    ("Calibration", None), ("MeanLabel", None), ("MeanPrediction", None),
    ("MeanSquaredError", None), ("ExampleCount", None), ("WeightedExampleCount", None)]
COUNTS = {"example_count", "weighted_example_count", "true_positives", "false_positives"}


@pytest.fixture(scope="module", params=["binary", "fractional"])
def binary_case(request):
    y, p, w = _binary_data(fractional=request.param == "fractional")
    return y, p, w, _tfma_run(BINARY_CONFIGS, y, p, w)


@pytest.mark.parametrize("weighted", [True, False])
def test_binary_metrics_equal_tfma(binary_case, weighted):
    y, p, w, tfma = binary_case
    ours = _ours(y, p, w if weighted else None)
    assert set(ours) == {name for name, _, _, _ in tfma}
    for name, value in ours.items():
        exact = name in COUNTS and not (weighted or np.any((y != 0) & (y != 1)))
        _same(value, tfma[_key(name, weighted)], exact=exact)
    assert np.isnan(ours["precision_at_1"]) and 0.5 < ours["auc"] < 1.0


@pytest.mark.parametrize("fractional", [False, True])
@pytest.mark.parametrize("weighted", [True, False])
def test_histogram_equals_tfma_bucket_by_bucket(weighted, fractional):
    from tensorflow_model_analysis.metrics import calibration_histogram
    y, p, w = _binary_data(n=2000, seed=11, fractional=fractional)
    p[:4] = [-0.5, 1.5, -1e-9, 1 + 1e-9]            # outside [0, 1]: the end buckets
    ours = bs.histogram_stats(bs.Histogram(), y, p, w if weighted else None)
    (buckets,) = _tfma_combine(calibration_histogram.calibration_histogram(
        example_weighted=weighted), y, p, w).values()
    ids = np.array([b.bucket_id for b in buckets])
    np.testing.assert_array_equal(np.flatnonzero(ours["count"]), ids)
    for field, attr in (("labels", "weighted_labels"), ("predictions", "weighted_predictions"),
                        ("examples", "weighted_examples")):
        _same(ours[field][ids], [getattr(b, attr) for b in buckets])
    assert ours["count"][0] >= 2 and ours["count"][-1] >= 2 and ours["count"].sum() == y.size


def test_binary_counts_are_exact_integers():
    y, p, _ = _binary_data()
    ours = _ours(y, p, None)
    assert ours["example_count"] == y.size
    expected = [np.sum((p > t) & (y == 1)) for t in THRESHOLDS]
    np.testing.assert_array_equal(ours["true_positives"], expected)


# --- multi-class: binarize and aggregate --------------------------------------------------------

MULTI_CONFIGS = [("AUC", None), ("Precision", None), ("Recall", None), ("MeanLabel", None)]


def _binary_values(labels, scores, w, **binarize):
    y, p, ww = bs.binarize(labels, scores, w, **binarize)
    plans = {"auc": bm.matrices_plan(top_k=binarize.get("top_k")),
             "p": bm.matrices_plan(top_k=binarize.get("top_k"), default_threshold=0.5)}
    stats = bs.statistics(bs.specs_union([s for s, _ in plans.values()], [bs.Moments()]), y, p, ww)
    m = {name: bm.matrices(stats[spec.key], spec, thr) for name, (spec, thr) in plans.items()}
    return {"auc": bm.auc(m["auc"]), "precision": bm.confusion_metric("Precision", m["p"])[0],
            "recall": bm.confusion_metric("Recall", m["p"])[0],
            "mean_label": bm.mean_label(stats["moments"]),
            "weighted_labels": stats["moments"]["weighted_labels"]}


@pytest.fixture(scope="module")
def multiclass():
    _, _, _, config_pb2 = _tfma()
    labels, scores, w = _multiclass_data()
    classes = scores.shape[1]
    binarize = config_pb2.BinarizationOptions(
        class_ids={"values": list(range(classes))}, k_list={"values": [1, 2]})
    top_k = config_pb2.BinarizationOptions(top_k_list={"values": [2]})
    class_weights = {0: 1.0, 1: 2.0, 2: 0.5, 3: 1.0}
    runs = {"binarize": _tfma_run(MULTI_CONFIGS, labels, scores, w, binarize=binarize)}
    # TFMA's MeanLabel fails under top_k (calibration.py indexes label[i] of a 1-value row)
    runs["binarize"].update(_tfma_run(MULTI_CONFIGS[:-1], labels, scores, w, binarize=top_k))
    for kind in ("micro_average", "macro_average", "weighted_macro_average"):
        aggregate = config_pb2.AggregationOptions(class_weights=class_weights, **{kind: True})
        runs[kind] = _tfma_run(MULTI_CONFIGS, labels, scores, w, aggregate=aggregate)
    runs["micro_plain"] = _tfma_run(
        MULTI_CONFIGS, labels, scores, w, aggregate=config_pb2.AggregationOptions(micro_average=True))
    for kind in ("micro_average", "macro_average"):   # over the top 2 (no class weights then)
        aggregate = config_pb2.AggregationOptions(top_k_list={"values": [2]}, **{kind: True})
        runs[kind + "_top_k"] = _tfma_run(MULTI_CONFIGS[:-1], labels, scores, w, aggregate=aggregate)
    return labels, scores, w, class_weights, runs


@pytest.mark.parametrize("weighted", [True, False])
def test_binarized_class_ids_k_and_top_k_equal_tfma(multiclass, weighted):
    labels, scores, w, _, runs = multiclass
    weights = w if weighted else None
    cases = [dict(class_id=c) for c in range(scores.shape[1])] + [dict(k=1), dict(k=2), dict(top_k=2)]
    for binarize in cases:
        ours = _binary_values(labels, scores, weights, **binarize)
        for name in ("auc", "precision", "recall") + (() if "top_k" in binarize else ("mean_label",)):
            _same(ours[name], runs["binarize"][_key(name, weighted, **binarize)])


@pytest.mark.parametrize("weighted", [True, False])
def test_micro_macro_and_weighted_macro_equal_tfma(multiclass, weighted):
    labels, scores, w, class_weights, runs = multiclass
    weights = w if weighted else None
    micro = _binary_values(labels, scores, weights, micro=True, class_weights=class_weights)
    plain = _binary_values(labels, scores, weights, micro=True)
    per_class = {c: _binary_values(labels, scores, weights, class_id=c) for c in class_weights}
    for name in ("auc", "precision", "recall", "mean_label"):
        # TFMA's MeanLabel (calibration.py) leaves the aggregation type out of its key
        micro_key = _key(name, weighted, micro=name != "mean_label")
        _same(micro[name], runs["micro_average"][micro_key])
        _same(plain[name], runs["micro_plain"][micro_key])
        values = {c: per_class[c][name] for c in class_weights}
        _same(bm.macro_average(values, class_weights),
              runs["macro_average"][_key(name, weighted, macro=True)])
        label_weights = {c: per_class[c]["weighted_labels"] for c in class_weights}
        _same(bm.weighted_macro_average(values, label_weights, class_weights),
              runs["weighted_macro_average"][_key(name, weighted, macro=True)])  # TFMA keys it macro


@pytest.mark.parametrize("weighted", [True, False])
def test_top_k_micro_and_macro_equal_tfma(multiclass, weighted):
    labels, scores, w, _, runs = multiclass
    weights = w if weighted else None
    micro = _binary_values(labels, scores, weights, top_k=2, micro=True)
    per_k = {k: _binary_values(labels, scores, weights, k=k) for k in (1, 2)}
    for name in ("auc", "precision", "recall"):
        _same(micro[name], runs["micro_average_top_k"][_key(name, weighted, top_k=2, micro=True)])
        _same(bm.macro_average({k: per_k[k][name] for k in per_k}, None),
              runs["macro_average_top_k"][_key(name, weighted, top_k=2, macro=True)])


def test_top_k_sparse_histogram_quirk_equals_tfma():
    """top_k = all classes and predictions of exactly 1.0: TFMA's sparse 1-bucket histogram
    then has no -inf bucket and drops its lowest bucket; we reproduce that value."""
    _, _, _, config_pb2 = _tfma()
    rng = np.random.default_rng(3)
    scores = np.eye(2)[rng.integers(0, 2, 200)]
    scores[:50] = [[0.4, 0.6]] * 50
    labels = rng.integers(0, 2, 200)
    w = rng.uniform(0.5, 2.0, 200)
    runs = _tfma_run([("Precision", None), ("Recall", None)], labels, scores, w,
                     binarize=config_pb2.BinarizationOptions(top_k_list={"values": [2]}))
    for weighted in (True, False):
        ours = _binary_values(labels, scores, w if weighted else None, top_k=2)
        for name in ("precision", "recall"):
            _same(ours[name], runs[_key(name, weighted, top_k=2)])


# --- mergeability, edge cases, speed ------------------------------------------------------------

SPECS = [bs.Histogram(), bs.Thresholds(THRESHOLDS), bs.Moments(), bs.Counts()]


@pytest.mark.parametrize("weighted", [True, False])
def test_split_batches_merge_in_either_order(weighted):
    y, p, w = _binary_data(n=5000, seed=7)
    w = w if weighted else None

    def part(sl):
        return bs.statistics(SPECS, y[sl], p[sl], None if w is None else w[sl])

    whole, a, b = part(slice(None)), part(slice(None, 1234)), part(slice(1234, None))
    ab, ba = metrics.merge(a, b), metrics.merge(b, a)
    for key in whole:
        for field, value in whole[key].items():
            np.testing.assert_array_equal(ab[key][field], ba[key][field])   # identical floats
            if np.asarray(value).dtype.kind == "i" or not weighted and field in ("tp", "fp", "tn", "fn", "examples"):
                np.testing.assert_array_equal(ab[key][field], value)       # exact counts
            else:
                np.testing.assert_allclose(ab[key][field], value, rtol=1e-12, atol=1e-9)
    hist = bs.Histogram()
    _same(bm.auc(bm.matrices(ab[hist.key], hist, bm.interpolated_thresholds(10000))),
          bm.auc(bm.matrices(whole[hist.key], hist, bm.interpolated_thresholds(10000))))
    empty = {spec.key: bs.empty(spec) for spec in SPECS}
    merged = metrics.merge(empty, whole)
    for key in whole:
        for field in whole[key]:
            np.testing.assert_array_equal(merged[key][field], whole[key][field])


def test_nan_where_tfma_gives_nan():
    stats = bs.statistics(SPECS, np.zeros(5), np.full(5, 0.1), np.zeros(5))   # all weight 0
    assert np.isnan(bm.mean_label(stats["moments"])) and np.isnan(bm.calibration(stats["moments"]))
    assert np.isnan(bm.mean_squared_error(stats["moments"]))
    m = bm.matrices(stats["thresholds_0.3_0.5_0.7"], bs.Thresholds(THRESHOLDS), THRESHOLDS)
    assert np.isnan(bm.confusion_metric("Precision", m)).all()
    assert np.isnan(bm.confusion_metric("BinaryAccuracy", m)).all()


def test_refuses_what_tfma_refuses():
    with pytest.raises(ValueError, match="within"):
        bs.statistics([bs.Histogram()], np.array([2.0]), np.array([0.5]))
    with pytest.raises(ValueError, match="NaN"):
        bs.statistics([bs.Histogram()], np.array([1.0]), np.array([np.nan]))
    with pytest.raises(ValueError, match="only one"):
        bm.matrices_plan([0.5], num_thresholds=50)
    with pytest.raises(ValueError, match="class_id"):
        bs.binarize([0], np.array([[0.4, 0.6]]))


def test_specs_dedupe_by_equality():
    assert bs.Thresholds([0.5]) == bs.Thresholds((0.5,)) and bs.Histogram() == bs.Histogram(10000)
    plans = [bm.matrices_plan(), bm.matrices_plan(num_thresholds=200), bm.matrices_plan(top_k=2)]
    assert bs.specs_union([s for s, _ in plans]) == (bs.Histogram(), bs.Histogram(1))
    assert bm.matrices_plan(bm.interpolated_thresholds(50))[0] == bs.Histogram()


def test_statistics_are_vectorized():
    rng = np.random.default_rng(5)
    n = 1_000_000
    y, p, w = (rng.random(n) < 0.2).astype(np.int64), rng.random(n), rng.uniform(0.1, 3, n)
    start = time.perf_counter()
    stats = bs.statistics(SPECS, y, p, w)
    elapsed = time.perf_counter() - start
    assert stats["counts"]["examples"] == n and stats["histogram_10000"]["count"].sum() == n
    assert elapsed < 2.0, f"{elapsed:.2f} s for 1M examples"
