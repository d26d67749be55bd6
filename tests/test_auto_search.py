"""Mode 'auto', pure parts: the search order, budgets, stops and the held-out subset.

The search takes its evaluation as a function; here it is a table of measured
results, so each rule is checked on its own. tests/test_auto_quantizer.py runs
the real thing.
"""

import hashlib

import pytest

from tfx_edge.components.core import auto_search, holdout
from tfx_edge.schemas import AutoConfig, ConfigError, Mode, QuantizationConfig

TABLE = {  # name -> (size bytes, p50 us, absolute accuracy drop)
    "int8_strict": (100, 10.0, 0.05), "int8": (101, 10.0, 0.04), "dynamic_range": (102, 11.0, 0.005),
    "float16": (300, 30.0, 0.0), "int16x8": (105, 600.0, 0.001),
}


def fake(table=TABLE, calls=None, errors=()):
    def evaluate(name, config):
        if calls is not None:
            calls.append(name)
        if name in errors:
            return auto_search.Trial(name, {"mode": config.mode.value}, error="ConversionError: boom")
        if name.startswith("int8_selective"):
            k = len(config.keep_float_nodes)
            size, p50, drop = 101 + 50 * k, 12.0, 0.04 / (k * k)
        else:
            size, p50, drop = table[name]
        return auto_search.Trial(name, {"mode": config.mode.value, "keep": list(config.keep_float_nodes)},
                                 size_bytes=size, latency_p50_us=p50, metric=0.9 - drop, reference=0.9,
                                 absolute_drop=drop, relative_drop=drop / 0.9)
    return evaluate


def run(calls=None, errors=(), rank=("a", "b", "c", "d", "e"), clock=None, **auto):
    auto.setdefault("max_absolute_drop", 0.01)
    config = QuantizationConfig(mode=Mode.AUTO, auto=AutoConfig(**auto))
    kwargs = {"clock": clock} if clock else {}
    return auto_search.Search(config, fake(calls=calls, errors=errors), lambda: list(rank), **kwargs).run()


def test_first_candidate_within_tolerance_wins_in_order():
    calls = []
    outcome = run(calls=calls)
    # int8 misses by 0.04: selective keeps 1, 2 layers in float (drop 0.04, 0.01) and stops.
    assert calls == ["int8_strict", "int8", "int8_selective(1)", "int8_selective(2)"]
    assert outcome.selected.name == "int8_selective(2)" and outcome.selected.config["keep"] == ["a", "b"]
    assert [t.passed for t in outcome.trials] == [False, False, False, True]


def test_generous_tolerance_picks_strict_int8():
    outcome = run(max_absolute_drop=0.1)
    assert outcome.selected.name == "int8_strict" and len(outcome.trials) == 1


def test_user_order_and_budgets_decide():
    outcome = run(candidates=("float16", "dynamic_range"))
    assert outcome.selected.name == "float16"
    outcome = run(max_model_bytes=150, candidates=("int8", "int8_selective", "float16", "dynamic_range"))
    assert outcome.selected.name == "dynamic_range"   # selective steps grow past the size budget
    assert any("size" in r for t in outcome.trials for r in t.reasons)
    outcome = run(max_latency_p50_us=50, candidates=("int16x8", "float16"))
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
    ticks = iter(range(0, 1000, 40))
    outcome = run(clock=lambda: next(ticks), time_budget_s=100, max_absolute_drop=0.0001)
    assert outcome.stopped == "time_budget_s=100 spent" and len(outcome.trials) < 5


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
    trial = evaluator("int8", auto_search.candidate_config("int8", config))
    assert trial.error and trial.size_bytes is None and not trial.cached
    assert not (tmp_path / "cache").exists()
    cache.put(cache.key("int8", config), {"name": "int8", "config": {}})
    assert cache.get(cache.key("int8", config)) == {"name": "int8", "config": {}}
