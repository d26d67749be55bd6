"""Mode 'auto': the search vs exhaustive evaluation of every candidate, same data, one run.

    .venv/bin/python -m bench.auto_bench [--quick] [--out DIR]

For the demo CNN and its outlier-unit variant (where int8 collapses), and two
tolerances each, it runs the search (cold cache, then again from the cache)
and evaluates every candidate (all int8_selective steps included) with the
same evaluator on the same validation subset. The exhaustive "choice" applies
the same rule (rank='size': the smallest candidate within tolerance, ties in the
configured order); the table also names the first passing in the configured order.
--quick: the demo CNN only, trained 50 steps, one tolerance (0.05), 50 calibration samples.
"""

from __future__ import annotations

import os
import sys
import tempfile
import time

from bench import common
from tfx_edge.components.core import auto_eval, auto_search, calibration, convert, examples, holdout
from tfx_edge.components.core import saved_model
from tfx_edge.schemas import AutoConfig, CalibrationConfig, Mode, QuantizationConfig


MODELS = (("digits", False), ("outlier", True))
GATES = ((0.05, None), (0.01, None), (0.01, 350_000))   # (max_absolute_drop, max_model_bytes)


def setup(root: str, outlier: bool, steps: int) -> dict:
    from tfx_edge.pipelines import demo_data, digits_model  # pylint: disable=g-import-not-at-top
    paths = demo_data.write(os.path.join(root, "data"))
    source = os.path.join(root, "outlier" if outlier else "digits")
    digits_model.train(paths["train"], paths["eval"], source, steps=steps, outlier_channel=outlier)
    return {"source": source, "train": list(examples.iter_records([paths["train"]]))}


def auto_of(config: QuantizationConfig) -> AutoConfig:
    assert config.auto is not None, "mode 'auto' has an AutoConfig"
    return config.auto


def make_evaluator(env: dict, config: QuantizationConfig, cache_dir: str | None) -> auto_eval.Evaluator:
    """What the Quantizer's auto glue builds, from records instead of artifacts."""
    tensors = saved_model.signature_inputs(env["source"], config.signature_key)
    subset, validation, _ = auto_eval.validation_subset(env["train"], tensors, config)
    pool = holdout.without(env["train"], holdout.digests(subset))
    records, _ = calibration.reservoir_sample(pool, config.calibration.num_samples, config.calibration.seed)
    arrays, _ = examples.model_inputs(records, tensors)
    context = {"model": auto_eval.fingerprint(env["source"]), "calibration": calibration.digest(arrays),
               "validation": validation.sha256, "metric": auto_of(config).metric}
    return auto_eval.Evaluator(env["source"], auto_of(config), arrays,
                               convert.convert_float(env["source"], "serving_default"), validation,
                               auto_eval.Cache(cache_dir, context))


def search(env: dict, config: QuantizationConfig, cache_dir: str) -> tuple[auto_search.Outcome, float]:
    start = time.monotonic()
    evaluator = make_evaluator(env, config, cache_dir)
    outcome = auto_search.Search(config, evaluator, lambda: evaluator.rank_layers(config), evaluator.size).run()
    return outcome, time.monotonic() - start


def exhaustive(env: dict, config: QuantizationConfig) -> tuple[list[auto_search.Trial], float]:
    start = time.monotonic()
    evaluator, auto = make_evaluator(env, config, None), auto_of(config)
    trials = []
    for name in auto.candidates:
        if name != auto_search.SELECTIVE:
            trials.append(auto_search.judge(evaluator(name, auto_search.candidate_config(name, config)), auto))
            continue
        layers = evaluator.rank_layers(config)
        for k in auto_search.selective_steps(auto.max_float_layers, len(layers)):
            cand = auto_search.candidate_config(name, config, tuple(layers[:k]))
            trials.append(auto_search.judge(evaluator(f"{name}({k})", cand), auto))
    return trials, time.monotonic() - start


def compare(env: dict, config: QuantizationConfig, cache: str) -> dict:
    """The search (cold, then from its cache) and every candidate, judged alike."""
    outcome, seconds = search(env, config, cache)
    _, cached_seconds = search(env, config, cache)
    every, every_seconds = exhaustive(env, config)
    passing = [t for t in every if t.passed]   # (exhaustive trials: same tolerance and budgets)
    smallest = min(passing, key=lambda t: t.size_bytes or 0, default=None)   # rank='size'; ties: the earliest
    chosen = outcome.chosen
    return {"tolerance": auto_of(config).max_absolute_drop, "max_model_bytes": auto_of(config).max_model_bytes,
            "trials": len(outcome.trials), "seconds": seconds, "cached_seconds": cached_seconds,
            "exhaustive_trials": len(every), "exhaustive_seconds": every_seconds,
            "chosen": chosen.name if chosen else None, "met": outcome.selected is not None,
            "exhaustive_choice": smallest.name if smallest else None,
            "first_passing_in_order": passing[0].name if passing else None,
            "chosen_result": f"{(chosen.size_bytes or 0) / 1024:.0f} KiB, drop {chosen.absolute_drop:.4f}"
            if chosen else "-",
            "every": [(t.name, t.size_bytes, t.absolute_drop, t.passed) for t in every]}


def main(argv: list[str] | None = None) -> int:
    args = common.parser(__doc__).parse_args(argv)
    models, gates = (MODELS[:1], GATES[:1]) if args.quick else (MODELS, GATES)
    samples, steps = (50, 50) if args.quick else (200, 300)
    results = []
    with tempfile.TemporaryDirectory(prefix="tfx-edge-autobench-") as root:
        for model, outlier in models:
            env = setup(os.path.join(root, model), outlier, steps)
            for tolerance, budget in gates:
                config = QuantizationConfig(mode=Mode.AUTO, calibration=CalibrationConfig(num_samples=samples),
                                            auto=AutoConfig(max_absolute_drop=tolerance, max_model_bytes=budget))
                cache = os.path.join(root, model, f"cache-{tolerance}-{budget}")
                results.append({"model": model, **compare(env, config, cache)})
    columns = ["model", "tolerance", "max_model_bytes", "trials", "seconds", "cached_seconds", "exhaustive_trials",
               "exhaustive_seconds", "chosen", "exhaustive_choice", "first_passing_in_order", "chosen_result"]
    print(common.table(["model", "tolerance", "max bytes", "trials", "search s", "cached s", "all trials", "all s",
                        "chosen", "exhaustive choice", "first passing in order", "chosen result"],
                       [[r[c] if r[c] is not None else "-" for c in columns] for r in results]))
    agree = all(r["chosen"] == r["exhaustive_choice"] for r in results if r["met"])
    print(f"the search chose what exhaustive evaluation chooses: {agree}")
    print("wrote", common.write("auto", {"runs": [{k: v for k, v in r.items() if k != "chosen_result"}
                                                  for r in results]}, args))
    return 0 if agree else 1


if __name__ == "__main__":
    sys.exit(main())
