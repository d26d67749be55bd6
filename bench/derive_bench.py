"""What bringing your own model costs: deriving the dense, frozen model and checking parity.

    .venv/bin/python -m bench.derive_bench [--rounds 3] [--quick] [--out DIR]

For the digits CNN (Keras 2, dense signature) and TFX's penguin example (Keras 3, Transform
inside a serialized-Example signature; trained by running the penguin demo once in a temp
dir), median of --rounds of: the derivation (freeze, cut, save), the float32 conversion of
the derived model (and, for the dense digits model, of the Trainer's SavedModel as it is,
for comparison), and the parity check on the 64-example parity sample. --quick: 1 round, the
digits model trained 50 steps, the penguin demo trained 5 steps.
"""

from __future__ import annotations

import os
import shutil
import statistics
import sys
import tempfile
import time
from typing import Callable, TypeVar

from bench import common
from tfx_edge.components.core import convert, derive, examples, parity
from tfx_edge.schemas import Placement

KEY = "serving_default"
T = TypeVar("T")


def _time(fn: Callable[[], T], rounds: int) -> tuple[float, T]:
    seconds: list[float] = []
    for _ in range(rounds):
        start = time.perf_counter()
        result = fn()
        seconds.append(time.perf_counter() - start)
    return statistics.median(seconds), result   # rounds >= 1


def _digits(root: str, steps: int) -> tuple[str, list[bytes]]:
    from tfx_edge.pipelines import demo_data, digits_model
    paths = demo_data.write(os.path.join(root, "data"))
    serving = os.path.join(root, "digits_model")
    digits_model.train(paths["train"], paths["eval"], serving, steps=steps)
    return serving, list(examples.iter_records([paths["train"]]))[:64]


def _penguin(root: str, steps: int) -> tuple[str, list[bytes]]:
    import glob
    from tfx_edge.pipelines import cli
    work = os.path.join(root, "penguin_work")
    code = cli.main(["demo", "--example", "penguin", "--work-dir", work, "--serving-dir",
                     os.path.join(root, "serving"), "--train-steps", str(steps)])
    if code != 0:
        raise RuntimeError(f"the penguin demo failed (exit {code}); its log is under {work}/logs")
    serving = sorted(glob.glob(os.path.join(work, "penguin", "pipeline_root", "Trainer", "model", "*",
                                            "Format-Serving")))[-1]
    files = sorted(glob.glob(os.path.join(work, "penguin", "pipeline_root", "CsvExampleGen", "examples", "*",
                                          "Split-train", "*")))
    return serving, list(examples.iter_records(files))[:64]


def measure(name: str, serving: str, records: list[bytes], root: str, rounds: int) -> dict:
    out = os.path.join(root, f"{name}_derived")

    def derived():
        shutil.rmtree(out, ignore_errors=True)
        return derive.derive(serving, KEY, out, Placement.EMBEDDED)
    derive_s, result = _time(derived, rounds)
    convert_s, float_model = _time(lambda: convert.convert_float(out, KEY), rounds)
    parity_s, report = _time(lambda: parity.check(float_model, KEY, serving, result, out, records, None, 1e-4),
                             rounds)
    direct_s = None
    if result.signature_kind == derive.DENSE:
        direct_s, _ = _time(lambda: convert.convert_float(serving, KEY), rounds)
    return {"model": name, "signature": result.signature_kind, "derive_s": derive_s,
            "convert_derived_s": convert_s, "convert_savedmodel_s": direct_s, "parity_s": parity_s,
            "parity_examples": report["examples"], "worst_relative_diff": report["worst_relative_diff"]}


def main(argv: list[str] | None = None) -> int:
    p = common.parser(__doc__)
    p.add_argument("--rounds", type=int, help="median of this many rounds (default 3; --quick: 1)")
    args = p.parse_args(argv)
    args.rounds = args.rounds or (1 if args.quick else 3)
    digits_steps, penguin_steps = (50, 5) if args.quick else (300, 400)   # 400: the demo's default
    root = tempfile.mkdtemp(prefix="tfx-edge-derive-")
    try:
        rows = [measure("digits", *_digits(root, digits_steps), root, args.rounds),
                measure("penguin", *_penguin(root, penguin_steps), root, args.rounds)]
    finally:
        shutil.rmtree(root, ignore_errors=True)
    print(common.table(["model", "signature", "derive s", "convert derived s", "convert SavedModel s",
                        "parity s", "parity examples", "worst rel. diff"],
                       [[r["model"], r["signature"], r["derive_s"], r["convert_derived_s"],
                         "-" if r["convert_savedmodel_s"] is None else r["convert_savedmodel_s"],
                         r["parity_s"], r["parity_examples"], f"{r['worst_relative_diff']:.2g}"] for r in rows]))
    print("wrote", common.write("derive", {"rows": rows, "rounds": args.rounds}, args))
    return 0


if __name__ == "__main__":
    sys.exit(main())
