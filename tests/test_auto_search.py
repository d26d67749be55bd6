"""Mode 'auto', pure parts: the ranking by size, the search order, budgets, stops and the held-out subset.

The search takes its conversion and its evaluation as functions; here they read a
table of measured results, so each rule is checked on its own.
tests/test_auto_quantizer.py runs the real thing.
"""

import dataclasses
import hashlib
import json

import pytest

from tfx_edge.components.core import auto_search, holdout
from tfx_edge.schemas import AutoConfig, ConfigError, Mode, QatConfig, QuantizationConfig, _strict, records

TABLE = {  # name -> (size bytes, p50 us, absolute accuracy drop)
    "int8_strict": (100, 10.0, 0.05), "int8": (101, 10.0, 0.04), "dynamic_range": (102, 11.0, 0.005),
    "float16": (300, 30.0, 0.0), "int16x8": (105, 600.0, 0.001), "qat": (99, 10.0, 0.0),
}


def measured(name, config, table):
    """(size, p50, drop) of a candidate: the table's, int8_selective(k) bigger and closer with k."""
    if name.startswith("int8_selective"):
        k = len(config.keep_float_nodes)
        return 101 + 50 * k, 12.0, 0.04 / (k * k)
    return table[name]


def fake(table=TABLE, calls=None, errors=()):
    def evaluate(name, config):
        if calls is not None:
            calls.append(name)
        if name in errors:
            return auto_search.Trial(name, json.loads(config.to_json()), error="ConversionError: boom")
        size, p50, drop = measured(name, config, table)
        return auto_search.Trial(name, json.loads(config.to_json()), size_bytes=size, latency_p50_us=p50,
                                 metric=0.9 - drop, reference=0.9, absolute_drop=drop, relative_drop=drop / 0.9)
    return evaluate


def fake_size(table=TABLE, calls=None, errors=()):
    """size(name, config): the table's bytes, or a failed Trial for a name in `errors`."""
    def size(name, config):
        if calls is not None:
            calls.append(name)
        if name in errors:
            return auto_search.Trial(name, json.loads(config.to_json()), error="ConverterError: no kernel")
        return measured(name, config, table)[0]
    return size


def search_config(qat=False, **auto):
    auto.setdefault("max_absolute_drop", 0.01)
    return QuantizationConfig(mode=Mode.AUTO, qat=QatConfig() if qat else None, auto=AutoConfig(**auto))


def run(calls=None, errors=(), layers=("a", "b", "c", "d", "e"), clock=None, table=TABLE, sized=None,
        size_errors=(), qat=False, **auto):
    kwargs = {"clock": clock} if clock else {}
    return auto_search.Search(search_config(qat, **auto), fake(table, calls, errors), lambda: list(layers),
                              fake_size(table, sized, size_errors), **kwargs).run()


def summary(outcome, float_bytes, **auto):
    """The plan's record of a search, as components/quantizer/auto.py writes it."""
    config, chosen = search_config(**auto), outcome.chosen
    return _strict.from_dict(records.AutoSearch, {
        "met": outcome.selected is not None, "selected": outcome.selected.name if outcome.selected else None,
        "best": None if outcome.selected else chosen.name, "planned": chosen.name, "metric": "accuracy",
        "tolerance": {"max_absolute_drop": config.auto.max_absolute_drop, "max_relative_drop": None},
        "budgets": {"max_model_bytes": None, "max_latency_p50_us": None}, "float_bytes": float_bytes,
        "validation": {"split": "train", "examples": 200, "examples_seen": 1000, "fraction": 0.2, "seed": 0,
                       "sha256": "0" * 64},
        "requested": json.loads(config.to_json()), "trials": [dataclasses.asdict(t) for t in outcome.trials],
        "stopped": outcome.stopped, "seconds": 1.0})


def test_smallest_passing_candidate_wins_regardless_of_the_configured_order():
    calls, sized = [], []
    outcome = run(calls=calls, sized=sized)
    # every candidate is converted first; then smallest first: int8_strict and int8 miss the tolerance,
    # int8's refinements are sized (151, 201, ... bytes), dynamic_range (102 bytes) passes before them.
    assert sized == ["int8_strict", "int8", "dynamic_range", "float16", "int8_selective(1)",
                     "int8_selective(2)", "int8_selective(4)", "int8_selective(5)"]
    assert calls == ["int8_strict", "int8", "dynamic_range"] and outcome.selected.name == "dynamic_range"
    outcome = run(calls=(calls := []), candidates=("float16", "dynamic_range", "int8"))
    assert calls == ["int8", "dynamic_range"] and outcome.selected.name == "dynamic_range"


def test_generous_tolerance_picks_the_smallest_at_once():
    outcome = run(max_absolute_drop=0.1)
    assert outcome.selected.name == "int8_strict" and len(outcome.trials) == 1


def test_budgets_decide_among_sized_candidates():
    outcome = run(max_latency_p50_us=50, candidates=("float16", "int16x8"))
    assert [t.name for t in outcome.trials] == ["int16x8", "float16"] and outcome.selected.name == "float16"
    assert outcome.trials[0].reasons == ["p50 latency (us) 600.0 > 50"]
    outcome = run(max_model_bytes=150, max_absolute_drop=0.001, candidates=("int8", "int8_selective", "float16"))
    assert outcome.selected is None and any("size 300 > 150" in r for t in outcome.trials for r in t.reasons)


def test_selective_refinements_join_the_queue_by_size():
    table = {**TABLE, "dynamic_range": (180, 11.0, 0.02)}   # between int8_selective(1) and (2), and fails
    calls = []
    outcome = run(calls=calls, table=table)
    assert calls == ["int8_strict", "int8", "int8_selective(1)", "dynamic_range", "int8_selective(2)"]
    assert [t.size_bytes for t in outcome.trials] == [100, 101, 151, 180, 201]
    assert outcome.selected.name == "int8_selective(2)" and outcome.selected.config["keep_float_nodes"] == ["a", "b"]


def test_a_candidate_larger_than_float32_only_when_nothing_smaller_passes():
    outcome = run(candidates=("float16", "dynamic_range"))   # float16 (300 bytes) is listed first
    assert outcome.selected.name == "dynamic_range"
    assert "saves nothing" not in auto_search.explain(summary(outcome, 250, candidates=("float16", "dynamic_range")))
    outcome = run(max_absolute_drop=0.001, candidates=("float16", "dynamic_range"))   # dynamic_range drops 0.005
    assert [t.name for t in outcome.trials] == ["dynamic_range", "float16"] and outcome.selected.name == "float16"
    text = auto_search.explain(summary(outcome, 250, max_absolute_drop=0.001, candidates=("float16", "dynamic_range")))
    assert "selected: float16" in text and "float32 model 250 bytes" in text
    assert "float16 saves nothing: it is 300 bytes, the float32 model 250 bytes; no smaller candidate passed" in text


def test_sizing_errors_are_failed_trials_and_no_evaluations():
    calls = []
    outcome = run(calls=calls, size_errors=("int8_strict", "int8"), max_trials=1)
    assert calls == ["dynamic_range"] and outcome.selected.name == "dynamic_range"   # no int8 to refine
    assert [(t.name, t.reasons) for t in outcome.trials[:2]] == [
        ("int8_strict", ["ConverterError: no kernel"]), ("int8", ["ConverterError: no kernel"])]
    assert len(outcome.trials) == 3   # sizing counts neither as a trial against max_trials=1 nor as one


def test_qat_is_ranked_by_int8s_size_else_after_every_sized_candidate():
    calls, sized = [], []
    table = {**TABLE, "qat": (99, 10.0, 0.02)}   # its real size, only known once it is evaluated
    outcome = run(calls=calls, sized=sized, table=table, qat=True, max_absolute_drop=0.001,
                  candidates=("dynamic_range", "qat", "int8", "float16"))
    assert "qat" not in sized and calls == ["qat", "int8", "dynamic_range", "float16"]   # ties: configured order
    assert outcome.trials[0].size_bytes == 99 and outcome.selected.name == "float16"
    outcome = run(calls=(calls := []), table=table, qat=True, max_absolute_drop=0.03, size_errors=("int8",),
                  candidates=("qat", "int8", "float16"))
    assert calls == ["float16"] and outcome.selected.name == "float16"   # int8 unsized: qat after float16
    outcome = run(calls=(calls := []), table=table, qat=True, max_absolute_drop=0.0001, size_errors=("int8",),
                  candidates=("qat", "int8", "dynamic_range"))
    assert calls == ["dynamic_range", "qat"] and outcome.best.name == "dynamic_range"


def test_rank_order_keeps_the_configured_order():
    calls, sized = [], []
    outcome = run(calls=calls, sized=sized, rank="order")
    # int8 misses by 0.04: selective keeps 1, 2 layers in float (drop 0.04, 0.01) and stops.
    assert calls == ["int8_strict", "int8", "int8_selective(1)", "int8_selective(2)"] and sized == []
    assert outcome.selected.name == "int8_selective(2)" and outcome.selected.config["keep_float_nodes"] == ["a", "b"]
    assert [t.passed for t in outcome.trials] == [False, False, False, True]
    outcome = run(rank="order", candidates=("float16", "dynamic_range"))
    assert outcome.selected.name == "float16"
    outcome = run(rank="order", max_model_bytes=150, candidates=("int8", "int8_selective", "float16", "dynamic_range"))
    assert outcome.selected.name == "dynamic_range"   # selective steps grow past the size budget
    assert any("size" in r for t in outcome.trials for r in t.reasons)
    outcome = run(rank="order", max_latency_p50_us=50, candidates=("int16x8", "float16"))
    assert outcome.selected.name == "float16"


def test_no_candidate_reports_the_best_found():
    outcome = run(max_absolute_drop=0.0001, candidates=("int8_strict", "int8", "dynamic_range"))
    assert outcome.selected is None and outcome.best.name == "dynamic_range"
    assert outcome.chosen is outcome.best and all(not t.passed for t in outcome.trials)


def test_failed_conversions_are_recorded_not_fatal():
    outcome = run(errors=("int8_strict", "int8"), candidates=("int8_strict", "int8", "int8_selective",
                                                               "dynamic_range"))
    assert [t.name for t in outcome.trials] == ["int8_strict", "int8", "dynamic_range"]
    assert outcome.trials[0].reasons == ["ConversionError: boom"]
    assert outcome.selected.name == "dynamic_range"   # selective only refines an int8 that ran


def test_max_trials_and_time_budget_stop_the_search():
    outcome = run(max_trials=2, max_absolute_drop=0.0001)
    assert len(outcome.trials) == 2 and outcome.stopped == "max_trials=2 reached"
    for rank in ("size", "order"):
        outcome = run(clock=iter(range(0, 1000, 40)).__next__, time_budget_s=100, max_absolute_drop=0.0001, rank=rank)
        assert outcome.stopped == "time_budget_s=100 spent" and len(outcome.trials) < 5
    ticks, sized = iter(range(0, 1000, 40)), []
    outcome = run(clock=lambda: next(ticks), sized=sized, time_budget_s=100, max_absolute_drop=0.0001)
    assert sized == ["int8_strict", "int8"] and outcome.trials == []   # the budget ran out while sizing


def test_selective_steps_double_up_to_the_limit():
    assert auto_search.selective_steps(8, 20) == [1, 2, 4, 8]
    assert auto_search.selective_steps(6, 20) == [1, 2, 4, 6]
    assert auto_search.selective_steps(8, 3) == [1, 2, 3]
    assert auto_search.selective_steps(8, 0) == []


def test_search_is_deterministic():
    a, b = run(), run()
    assert [(t.name, t.config, t.passed, t.reasons) for t in a.trials] == [
        (t.name, t.config, t.passed, t.reasons) for t in b.trials]


def test_holdout_is_seeded_and_order_independent():
    records = [f"record-{i}".encode() for i in range(2000)]
    subset, seen = holdout.select(records, 0.1, 50, seed=7)
    again, _ = holdout.select(list(reversed(records)), 0.1, 50, seed=7)
    other, _ = holdout.select(records, 0.1, 50, seed=8)
    assert seen == 2000 and len(subset) == 50 and subset == again and subset != other
    uncapped, _ = holdout.select(records, 0.1, 10**6, seed=7)
    assert 150 < len(uncapped) < 250 and set(subset) <= set(uncapped)
    rest = list(holdout.without(records, holdout.digests(subset)))
    assert len(rest) == 1950 and not set(rest) & set(subset)
    assert holdout.digests([b"x"]) == {hashlib.sha256(b"x").hexdigest()}


@pytest.mark.parametrize("auto, words", [
    ({}, ["auto.max_absolute_drop and/or auto.max_relative_drop"]),
    ({"max_absolute_drop": 0.01, "candidates": ("int9",)}, ["auto.candidates='int9'", "aeq:<preset>"]),
    ({"max_absolute_drop": 0.01, "candidates": ("int8_selective",)}, ["list 'int8' too"]),
    ({"max_absolute_drop": 0.01, "metric": "loss"}, ["auto.output_kind=None", "'probabilities'"]),
    ({"max_absolute_drop": 0.01, "validation_fraction": 1.0}, ["auto.validation_fraction=1.0"]),
    ({"max_absolute_drop": 0.01, "rank": "fastest"}, ["auto.rank='fastest' is invalid", "'size'", "'order'"]),
])
def test_auto_config_refusals(auto, words):
    with pytest.raises(ConfigError) as error:
        QuantizationConfig.from_dict({"mode": "auto", "auto": auto})
    for word in words:
        assert word in str(error.value)


def test_auto_config_needs_qat_config_for_a_qat_candidate():
    with pytest.raises(ConfigError, match="'qat' is one of auto.candidates"):
        QuantizationConfig(mode=Mode.AUTO, auto=AutoConfig(max_absolute_drop=0.01, candidates=("qat",)))
    ok = QuantizationConfig(mode=Mode.AUTO, auto=AutoConfig(max_absolute_drop=0.01, candidates=("aeq:static_wi8_ai8",)))
    assert auto_search.candidate_config("aeq:static_wi8_ai8", ok).aeq.recipe == "static_wi8_ai8"


def test_trimmed_nsr_sees_values_crushed_by_an_outlier():
    import numpy as np
    from tfx_edge.components.core import debugger
    rng = np.random.default_rng(0)
    healthy = rng.uniform(0, 10, size=(1, 128))
    scale = 10 / 255
    assert debugger.trimmed_nsr(healthy, np.round(healthy / scale), scale, 0) < 1e-3
    crushed = healthy.copy()
    crushed[0, 5] = 10_000.0
    big_scale = 10_000 / 255                       # the outlier sets the scale
    q = np.round(crushed / big_scale)
    assert np.sqrt(np.mean((q * big_scale - crushed) ** 2)) / big_scale < 0.5   # RMSE/scale looks fine
    assert debugger.trimmed_nsr(crushed, q, big_scale, 0) > 0.5                 # this does not


def test_layers_are_ranked_by_trimmed_nsr_without_fixed_range_ops():
    from tfx_edge.components.core import auto_eval
    csv_text = ("op_name,tensor_idx,trimmed_nsr,tensor_name\n"
                "CONV_2D,1,0.001,conv\nFULLY_CONNECTED,2,0.9,dense\nSOFTMAX,3,0.99,probs\n"
                "FULLY_CONNECTED,4,0.5,head\nFULLY_CONNECTED,5,nan,odd\n")
    assert auto_eval.ranked_nodes(csv_text) == ["dense", "head", "conv", "odd"]


def test_a_failed_trial_is_recorded_but_not_cached(tmp_path):
    from tfx_edge.components.core import auto_eval
    config = QuantizationConfig(mode=Mode.AUTO, auto=AutoConfig(max_absolute_drop=0.01))
    cache = auto_eval.Cache(str(tmp_path / "cache"), {"model": "none"})
    evaluator = auto_eval.Evaluator(str(tmp_path / "no_such_model"), config.auto, {}, b"",
                                    auto_eval.Validation({}, "none", {}), cache)
    int8 = auto_search.candidate_config("int8", config)
    trial = evaluator("int8", int8)
    assert trial.error and trial.size_bytes is None and not trial.cached
    sized = evaluator.size("int8", int8)
    assert isinstance(sized, auto_search.Trial) and sized.error and sized.size_bytes is None
    assert not (tmp_path / "cache").exists()
    cache.put(cache.key("int8", config), {"name": "int8", "config": {}})
    assert cache.get(cache.key("int8", config)) == {"name": "int8", "config": {}}


def test_sizes_come_from_the_cache_without_converting(tmp_path):
    from tfx_edge.components.core import auto_eval
    config = QuantizationConfig(mode=Mode.AUTO, auto=AutoConfig(max_absolute_drop=0.01))
    cache = auto_eval.Cache(str(tmp_path / "cache"), {"model": "none"})
    evaluator = auto_eval.Evaluator(str(tmp_path / "no_such_model"), config.auto, {}, b"",
                                    auto_eval.Validation({}, "none", {}), cache)
    int8, fp16 = (auto_search.candidate_config(n, config) for n in ("int8", "float16"))
    cache.put(cache.key("int8", int8), {"name": "int8", "config": {}, "size_bytes": 1234})   # a measured trial
    cache.put(cache.key("size", fp16), {"size_bytes": 5678})                                # a size alone
    assert evaluator.size("int8", int8) == 1234 and evaluator.size("float16", fp16) == 5678
