"""The metric table (schemas/metric_table.py): what the configs accept is what
components/core/metrics.py computes, with the table's directions."""

import math

import numpy as np
import pytest

from tfx_edge.components.core import metrics
from tfx_edge.schemas import (AutoConfig, ConfigError, EvaluationConfig, MetricThreshold, OutputKind, Task,
                              Thresholds, evaluation, metric_table, quantization)
from tfx_edge.schemas.metric_table import HIGHER, LOWER, METRICS

def classification_metrics(classes=3, n=60, top_k=(2,), kind="logits") -> dict[str, float]:
    """Every metric core/metrics.py computes for a classification output and its reference."""
    rng = np.random.default_rng(3)
    spec = metrics.Spec("classification", classes, kind, top_k)
    labels = rng.integers(0, classes, n)
    logits = rng.normal(size=(n, classes)) + 2.0 * np.eye(classes)[labels]
    reference = logits + rng.normal(scale=0.1, size=logits.shape)
    out = metrics.classification_metrics(metrics.classification_stats(labels, logits, spec), spec)
    out.update(metrics.pair_metrics(metrics.pair_stats(logits, reference, classification=True)))
    return out


def binary_metrics(n=80, thresholds=(0.3,)) -> dict[str, float]:
    """A binary output: the classification metrics plus TFMA's binary ones (core/binary_scoring)."""
    from tfx_edge.components.core import binary_scoring
    rng = np.random.default_rng(5)
    spec = metrics.Spec("classification", 2, "probabilities", ())
    labels = rng.integers(0, 2, n)
    scores = metrics.class_scores(np.clip(0.3 * labels + rng.uniform(size=n) * 0.7, 0, 1)[:, None], spec, "p")
    out = metrics.classification_metrics(metrics.classification_stats(labels, scores, spec), spec)
    binary = binary_scoring.BinarySpec(thresholds)
    summed = binary_scoring.batch_by_slice(labels, scores[:, 1], None, binary, [("", np.ones(n, bool))])[""]
    out.update(binary_scoring.derive(summed, binary))
    out.update(metrics.pair_metrics(metrics.pair_stats(scores, scores, classification=True)))
    return out


def one_vs_rest_metrics(n=90) -> dict[str, float]:
    """A 3-class output binarized (core/binary_scoring.OneVsRest): each class and every average."""
    from tfx_edge.components.core import binary_scoring
    rng = np.random.default_rng(6)
    spec = binary_scoring.OneVsRest((0, 2), ("micro", "macro", "weighted_macro"), ((0, 1.0), (1, 2.0)))
    summed = binary_scoring.one_vs_rest_by_slice(rng.integers(0, 3, n), rng.dirichlet(np.ones(3), n), None, spec,
                                                 [("", np.ones(n, bool))])[""]
    return binary_scoring.derive_one_vs_rest(summed, spec)


def regression_metrics(n=40, width=2) -> dict[str, float]:
    rng = np.random.default_rng(4)
    targets = rng.normal(size=(n, width))
    outputs = targets + rng.normal(scale=0.2, size=(n, width))
    out = metrics.regression_metrics(metrics.regression_stats(targets, outputs))
    out.update(metrics.pair_metrics(metrics.pair_stats(outputs, targets + 0.01, classification=False)))
    return out


def accepts(config_kwargs: dict, name: str) -> bool:
    try:
        EvaluationConfig(thresholds=Thresholds(metrics={name: MetricThreshold(upper_bound=0.5)}), **config_kwargs)
    except ConfigError:
        return False
    return True


CASES = {
    "classification": (dict(task=Task.CLASSIFICATION, top_k=(2,), output_kind=OutputKind.LOGITS),
                       classification_metrics),
    "binary": (dict(task=Task.CLASSIFICATION, output_kind=OutputKind.PROBABILITIES, binary_thresholds=(0.3,)),
               binary_metrics),
    "regression": (dict(task=Task.REGRESSION), regression_metrics),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_every_accepted_name_is_computed_and_every_computed_name_accepted(case):
    kwargs, compute = CASES[case]
    computed = compute()
    config = EvaluationConfig(thresholds=Thresholds(metrics={"max_output_diff": MetricThreshold(upper_bound=1)}),
                              **kwargs)
    binary_only = metric_table.BINARY_METRICS | {n for n in config.metric_names() if "@" in n}
    accepted = config.metric_names() - (binary_only if case == "classification" else set())   # 3 classes
    assert accepted <= set(computed), sorted(accepted - set(computed))
    assert all(accepts(kwargs, name) for name in computed), [n for n in computed if not accepts(kwargs, n)]
    assert not accepts(kwargs, "no_such_metric")
    for name in computed:
        entry = metric_table.get(name)
        assert entry is not None and kwargs["task"] in entry.tasks, name
        assert entry.pair == (name in metrics.pair_metrics(
            metrics.pair_stats(np.zeros((1, 3)), np.zeros((1, 3)), case != "regression")))


def test_every_table_entry_is_computed_by_some_task():
    computed = (set(classification_metrics()) | set(regression_metrics()) | set(binary_metrics())
                | set(one_vs_rest_metrics()))
    for name, entry in METRICS.items():
        if entry.placeholder is None:
            assert name in computed, name
        else:
            assert any(entry.pattern.match(c) for c in computed), name


@pytest.mark.parametrize("metric", quantization.AUTO_METRICS)
def test_auto_metrics_are_computed_for_their_task(metric):
    computed = classification_metrics() if Task.CLASSIFICATION in METRICS[metric].tasks else regression_metrics()
    assert metric in computed and math.isfinite(computed[metric])
    AutoConfig(max_absolute_drop=0.1, metric=metric, output_kind="logits")
    assert quantization.AUTO_METRICS == ("accuracy", "loss", "mae", "rmse")


def test_without_output_kind_or_top_k_those_names_are_neither_computed_nor_accepted():
    computed = classification_metrics(top_k=(), kind=None)
    kwargs = dict(task=Task.CLASSIFICATION)
    assert "loss" not in computed and not accepts(kwargs, "loss")
    assert not any(n.startswith("top_") for n in computed) and not accepts(kwargs, "top_2_accuracy")
    assert all(accepts(kwargs, name) for name in computed)


def test_directions_decide_the_drops():
    worse = {HIGHER: -0.1, LOWER: 0.1}
    reference = {**classification_metrics(), **regression_metrics()}
    candidate = {}
    for name, value in reference.items():
        candidate[name] = value + worse[metric_table.direction(name)]
    drops = metrics.drops(candidate, reference)
    assert set(drops) == set(reference)
    assert all(d["absolute"] == pytest.approx(0.1) for d in drops.values())


def test_old_views_are_kept():
    assert evaluation.PAIR_METRICS == frozenset({"agreement", "max_output_diff"})
    assert evaluation.METRIC_DIRECTIONS == {
        "accuracy": HIGHER, "macro_precision": HIGHER, "macro_recall": HIGHER, "loss": LOWER,
        "mae": LOWER, "rmse": LOWER, "agreement": HIGHER, "max_output_diff": LOWER,
        **{name: HIGHER for name in ("auc", "auc_precision_recall", "binary_accuracy", "precision", "recall",
                                     "f1_score")},
        "mean_squared_error": LOWER, "calibration": None, "mean_prediction": None, "mean_label": None,
        "example_count": None, "weighted_example_count": None}
    assert evaluation.metric_direction("top_5_accuracy") == HIGHER
    assert evaluation.metric_direction("recall_class_12") == HIGHER
    assert evaluation.metric_direction("recall_class_x") is None
    assert evaluation.Task is metric_table.Task
