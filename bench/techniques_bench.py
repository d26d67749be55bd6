"""Every quantization technique on the demo model, side by side in one process.

    .venv/bin/python -m bench.techniques_bench [--runs 300] [--rounds 5] [--quick] [--out DIR]

For each technique: size, size ratio to float32, accuracy on the 360 eval
digits and drop vs the float32 TFLite, and single-example latency (LiteRT,
1 thread, with and without XNNPACK): the median over `rounds` interleaved
rounds of the per-round median of `runs` invokes, so machine noise hits all
models alike. Results: a table on stdout and bench/results/techniques.json.
--quick: a model trained 50 steps, three techniques (both converters), 20 runs, 1 round.
"""

from __future__ import annotations

import os
import statistics
import sys
import tempfile
import time

import numpy as np

from bench import common
from bench.executors import make_artifact, run_exporter, run_quantizer
from tfx_edge.components.core import examples, input_mapping, latency, litert
from tfx_edge.schemas import AeqConfig, CalibrationConfig, Mode, QatConfig, QuantizationConfig

CAL = CalibrationConfig(num_samples=200, seed=0)
TECHNIQUES = {
    "dynamic_range": QuantizationConfig(mode=Mode.DYNAMIC_RANGE),
    "int8 (float fallback)": QuantizationConfig(mode=Mode.INT8, calibration=CAL, layer_report=False),
    "int8_strict, int8 I/O": QuantizationConfig(mode=Mode.INT8_STRICT, calibration=CAL,
                                                io_dtype="int8", layer_report=False),
    "float16": QuantizationConfig(mode=Mode.FLOAT16),
    "int16x8": QuantizationConfig(mode=Mode.INT16X8, calibration=CAL),
    "qat (1 epoch), int8": QuantizationConfig(mode=Mode.QAT, calibration=CAL, qat=QatConfig(epochs=1)),
    "aeq dynamic_wi8_afp32": QuantizationConfig(mode=Mode.AEQ, aeq=AeqConfig(recipe="dynamic_wi8_afp32")),
    "aeq weight_only_wi8_afp32": QuantizationConfig(mode=Mode.AEQ, aeq=AeqConfig(recipe="weight_only_wi8_afp32")),
    "aeq weight_only_wi4_afp32": QuantizationConfig(mode=Mode.AEQ, aeq=AeqConfig(recipe="weight_only_wi4_afp32")),
    "aeq static_wi8_ai8": QuantizationConfig(mode=Mode.AEQ, calibration=CAL, aeq=AeqConfig(recipe="static_wi8_ai8")),
    "aeq static_wi8_ai16": QuantizationConfig(mode=Mode.AEQ, calibration=CAL, aeq=AeqConfig(recipe="static_wi8_ai16")),
}
QUICK = ("dynamic_range", "int8 (float fallback)", "aeq dynamic_wi8_afp32")


def build_models(root: str, techniques: dict[str, QuantizationConfig], steps: int) -> dict[str, bytes | str]:
    """Trains the demo model once, then runs Quantizer + TFLiteExporter per technique."""
    from tfx.types import artifact_utils, standard_artifacts  # pylint: disable=g-import-not-at-top
    from tfx_edge.pipelines import demo_data, digits_model  # pylint: disable=g-import-not-at-top
    data = os.path.join(root, "data")
    demo_data.write(data)
    examples_artifact = make_artifact(standard_artifacts.Examples, data)
    for split in ("train", "eval"):
        os.rename(os.path.join(data, split), os.path.join(data, f"Split-{split}"))
    examples_artifact.split_names = artifact_utils.encode_split_names(["train", "eval"])
    model = make_artifact(standard_artifacts.Model, os.path.join(root, "trainer"))
    digits_model.train(os.path.join(data, "Split-train", "digits.tfrecord"),
                       os.path.join(data, "Split-eval", "digits.tfrecord"),
                       os.path.join(model.uri, "Format-Serving"), steps=steps)
    built: dict[str, bytes | str] = {}
    for name, config in techniques.items():
        out = os.path.join(root, name.replace(" ", "_").replace(",", "").replace("/", ""))
        try:
            plan = run_quantizer(config, model, examples_artifact, os.path.join(out, "plan"))
            tflite, float_model = run_exporter(model, plan, out)
        except Exception as error:  # reported in the table, not hidden
            built[name] = f"FAILED: {type(error).__name__}: {str(error).splitlines()[0][:160]}"
            continue
        built[name] = _read(tflite.uri)
        built.setdefault("float32", _read(float_model.uri))
    built["_eval_records"] = os.path.join(data, "Split-eval", "digits.tfrecord")
    return built


def _read(uri: str) -> bytes:
    with open(os.path.join(uri, "Format-Serving", "tflite"), "rb") as f:
        return f.read()


def accuracy(model: bytes, features: dict, labels: np.ndarray) -> float:
    runner = litert.Runner(model, "serving_default")
    mapping = {t.name: t.name for t in runner.inputs}
    scores = runner(input_mapping.feed(features, runner.inputs, mapping))
    pred = np.argmax(next(iter(scores.values())), axis=1)
    return float(np.mean(pred == labels))


def timings(models: dict[str, bytes], first: dict, runs: int, rounds: int) -> dict[str, dict]:
    per_round: dict[tuple[str, bool], list[float]] = {}
    for _ in range(rounds):
        for name, model in models.items():
            inputs, _ = litert.signature_specs(litert.load(model), "serving_default")
            feeds = input_mapping.feed(first, inputs, {t.name: t.name for t in inputs})
            for xnnpack in (True, False):
                m = latency.measure(model, "serving_default", feeds, runs, 1,
                                    "xnnpack" if xnnpack else "builtin")
                per_round.setdefault((name, xnnpack), []).append(m["p50_us"])
    return {name: {"xnnpack_us": statistics.median(per_round[(name, True)]),
                   "no_xnnpack_us": statistics.median(per_round[(name, False)])} for name in models}


def main(argv: list[str] | None = None) -> int:
    parser = common.parser(__doc__)
    parser.add_argument("--runs", type=int, help="invokes per round (default 300; --quick: 20)")
    parser.add_argument("--rounds", type=int, help="interleaved rounds (default 5; --quick: 1)")
    args = parser.parse_args(argv)
    args.runs = args.runs or (20 if args.quick else 300)
    args.rounds = args.rounds or (1 if args.quick else 5)
    techniques = {k: v for k, v in TECHNIQUES.items() if not args.quick or k in QUICK}
    start = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="tfx-edge-techniques-") as root:
        built = build_models(root, techniques, 50 if args.quick else 400)
        records = list(examples.iter_records([str(built.pop("_eval_records"))]))
    features = examples.Decoder().decode(records)
    labels = features["label"].reshape(-1)
    models = {k: v for k, v in built.items() if isinstance(v, bytes)}
    times = timings(models, {k: v[:1] for k, v in features.items()}, args.runs, args.rounds)
    rows, results = tabulate(["float32", *techniques], built, times, features, labels)
    print(common.table(["technique", "size", "ratio", "accuracy", "drop pts", "us XNNPACK",
                        "us no XNNPACK", "x float (XNNPACK)"], rows))
    print("wrote", common.write("techniques", {"results": results, "runs": args.runs, "rounds": args.rounds,
                                               "eval_examples": int(labels.size),
                                               "wall_s": time.perf_counter() - start}, args))
    return 0 if all(isinstance(built.get(name), bytes) for name in techniques) else 1   # a failure is in the table


def tabulate(names: list[str], built: dict[str, bytes | str], times: dict[str, dict], features: dict,
             labels: np.ndarray) -> tuple[list[list], dict[str, dict]]:
    """The table's rows and the JSON's results, one per technique (a failed one says why)."""
    float_model = built.get("float32")
    if not isinstance(float_model, bytes):   # no export succeeded: the table shows why
        return [[name, built.get(name, "missing")] + [""] * 6 for name in names], {
            name: {"error": built.get(name)} for name in names}
    float_acc = accuracy(float_model, features, labels)
    rows: list[list] = []
    results: dict[str, dict] = {}
    for name in names:
        model = built.get(name)
        if not isinstance(model, bytes):
            rows.append([name, model or "missing"] + [""] * 6)
            results[name] = {"error": model}
            continue
        acc, t = accuracy(model, features, labels), times[name]
        r = results[name] = {"bytes": len(model), "ratio": len(model) / len(float_model), "accuracy": acc,
                             "drop": float_acc - acc, **t,
                             "speedup_xnnpack": times["float32"]["xnnpack_us"] / t["xnnpack_us"]}
        rows.append([name, f"{len(model) / 1024:.0f} KiB", r["ratio"], f"{100 * acc:.2f}%",
                     f"{100 * r['drop']:+.2f}", r["xnnpack_us"], r["no_xnnpack_us"], r["speedup_xnnpack"]])
    return rows, results


if __name__ == "__main__":
    sys.exit(main())
