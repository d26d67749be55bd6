"""Recurrent layers as they convert now (a builtin WHILE loop) against the unrolled form.

    .venv/bin/python -m bench.recurrent_bench [--rounds 3] [--quick] [--out DIR]

A Keras 3 Embedding + LSTM (and GRU) text classifier on a task that needs memory across the 20
steps (is token 1 anywhere in the sequence?), trained the same way twice: with the layer as
written (`unroll=False`, Keras' default: the converter keeps a WHILE loop) and with
`unroll=True` (one copy of the cell per step, the usual workaround when the loop did not
convert). Both are derived and converted as the Quantizer and TFLiteExporter do, in float32,
int8, dynamic range and float16; for each: size, accuracy on 1,000 eval sequences (LiteRT,
batched) and batch-1 latency (XNNPACK, 1 thread, p50 over 200 runs, median of --rounds).
--quick: 1 training epoch, 100 eval sequences, 20 latency runs, 1 round.
"""

from __future__ import annotations

import os
import shutil
import statistics
import sys
import tempfile

import numpy as np
import tensorflow as tf

from bench import common
from tfx_edge.components.core import convert, derive, latency, litert
from tfx_edge.schemas import CalibrationConfig, Mode, Placement, QuantizationConfig

KEY = "serving_default"
STEPS, VOCAB = 20, 30
MODES = ("float32", "int8", "dynamic_range", "float16")


def task(seed: int, count: int) -> tuple[np.ndarray, np.ndarray]:
    tokens = np.random.default_rng(seed).integers(0, VOCAB, size=(count, STEPS))
    return tokens, (tokens == 1).any(axis=1).astype(np.int64)


def trained(layer: str, unroll: bool, root: str, epochs: int) -> str:
    import keras
    keras.utils.set_random_seed(0)
    cell = {"lstm": keras.layers.LSTM, "gru": keras.layers.GRU}[layer](32, unroll=unroll)
    inputs = keras.Input(shape=(STEPS,), dtype="int64", name="tokens")
    model = keras.Model(inputs, keras.layers.Dense(2, activation="softmax", name="probabilities")(
        cell(keras.layers.Embedding(VOCAB, 16)(inputs))))
    model.compile(optimizer=keras.optimizers.Adam(0.01), loss="sparse_categorical_crossentropy")
    model.fit(*task(0, 2000), epochs=epochs, batch_size=32, verbose=0)

    @tf.function(input_signature=[tf.TensorSpec([None, STEPS], tf.int64, name="tokens")])
    def serve(tokens):
        return {"probabilities": model(tokens)}
    source = os.path.join(root, f"{layer}_{unroll}")
    tf.saved_model.save(model, source, signatures={KEY: serve})
    derive.derive(source, KEY, source + "_derived", Placement.EMBEDDED)
    return source + "_derived"


def converted(derived: str, mode: str, calibration: np.ndarray) -> bytes:
    if mode == "float32":
        return convert.convert_float(derived, KEY)
    config = QuantizationConfig(mode=Mode(mode), calibration=CalibrationConfig(num_samples=len(calibration)))
    return convert.convert(derived, config, {"tokens": calibration} if config.needs_calibration else None)


def measure(model: bytes, tokens: np.ndarray, labels: np.ndarray, runs: int, rounds: int) -> dict:
    probabilities = litert.Runner(model, KEY)({"tokens": tokens})["probabilities"]
    p50 = statistics.median(latency.measure(model, KEY, {"tokens": tokens[:1]}, runs, 1, "xnnpack", 10)["p50_us"]
                            for _ in range(rounds))
    ops = litert.op_summary(model)
    return {"bytes": len(model), "accuracy": float(np.mean(np.argmax(probabilities, axis=1) == labels)),
            "p50_us": p50, "while_loop": "WHILE" in ops["by_op"], "ops": ops["total"]}


def main(argv: list[str] | None = None) -> int:
    p = common.parser(__doc__)
    p.add_argument("--rounds", type=int, help="median of this many latency rounds (default 3; --quick: 1)")
    args = p.parse_args(argv)
    rounds = args.rounds or (1 if args.quick else 3)
    epochs, eval_count, runs = (1, 100, 20) if args.quick else (6, 1000, 200)
    tokens, labels = task(1, eval_count)
    calibration = task(2, 100)[0]
    root = tempfile.mkdtemp(prefix="tfx-edge-recurrent-")
    rows = []
    try:
        for layer in ("lstm", "gru"):
            for unroll in (False, True):
                derived = trained(layer, unroll, root, epochs)
                for mode in MODES:
                    rows.append({"layer": layer, "form": "unrolled" if unroll else "loop", "mode": mode,
                                 **measure(converted(derived, mode, calibration), tokens, labels, runs, rounds)})
    finally:
        shutil.rmtree(root, ignore_errors=True)
    print(common.table(["layer", "form", "mode", "bytes", "ops (all subgraphs)", "WHILE", "accuracy",
                        "p50 us (batch 1)"],
                       [[r["layer"], r["form"], r["mode"], r["bytes"], r["ops"], r["while_loop"], r["accuracy"],
                         r["p50_us"]] for r in rows]))
    print("wrote", common.write("recurrent", {"rows": rows, "rounds": rounds, "eval_examples": eval_count}, args))
    return 0


if __name__ == "__main__":
    sys.exit(main())
