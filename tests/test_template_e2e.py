"""The model of TFX's penguin template (`tfx template copy --model=penguin`), its models/ files from the
tfx wheel unchanged, through tfx-edge in both placements (`tfx-edge demo --example template`).

Its model.py saves the Transform layer as `tft_layer_inference` / `tft_layer_eval` and saves with
Keras 2's `save_format='tf'`, so each pipeline runs in its own process, where tfx-edge sets
TF_USE_LEGACY_KERAS=1 before TensorFlow is imported. Every gate figure is checked against an
independent LiteRT loop over the pushed file, fed the raw eval examples (embedded) or their
transform through the SavedModel's own `transform_features` signature (transformed).
"""

from __future__ import annotations

import glob
import os
import subprocess
import sys

import numpy as np
import pytest
import tensorflow as tf

from tfx_edge.pipelines import penguin, penguin_template, run_local, summary

pytestmark = pytest.mark.e2e
FEATURES = ("body_mass_g", "culmen_depth_mm", "culmen_length_mm", "flipper_length_mm")


def _run(root, placement: str) -> dict:
    argv = ["--example", "template", "--placement", placement, "--work-dir", str(root / placement / "work"),
            "--serving-dir", str(root / placement / "serving"), "--train-steps", "200"]
    env = {k: v for k, v in os.environ.items() if k != penguin_template.LEGACY_KERAS}   # tfx-edge sets it
    done = subprocess.run([sys.executable, "-m", "tfx_edge.pipelines.run_local", *argv], env=env,
                          capture_output=True, text=True, timeout=900, check=False)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    store = summary.store_for(run_local.metadata_path(run_local.parse_args(argv)))
    pushed = sorted(glob.glob(str(root / placement / "serving" / "*" / "tflite")))
    return {"text": done.stdout, "evaluation": summary.latest_evaluation(store), "store": store,
            "pushed": pushed[-1] if pushed else None}


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    root = tmp_path_factory.mktemp("template")
    return {placement: _run(root, placement) for placement in ("embedded", "transformed")}


def _latest(store, type_name: str, contains: str) -> str:
    return max((a for a in store.get_artifacts_by_type(type_name) if contains in a.uri), key=lambda a: a.id).uri


def _eval_records(store) -> list[bytes]:
    files = sorted(glob.glob(os.path.join(_latest(store, "Examples", "CsvExampleGen"), "Split-eval", "*")))
    return [r.numpy() for r in tf.data.TFRecordDataset(files, compression_type="GZIP")]


def _feeds(runner, values: dict) -> dict:
    """What an app feeds: float values, quantized with the input's own scale where it is integer."""
    feeds = {}
    for name, detail in runner.get_input_details().items():
        scale, zero = detail["quantization"]
        x = values[name].reshape(-1, 1).astype(np.float32)
        feeds[name] = (np.clip(np.round(x / scale) + zero, -128, 127) if scale else x).astype(detail["dtype"])
    return feeds


def _independent_correct(run: dict, placement: str) -> tuple[int, int]:
    from ai_edge_litert import interpreter as litert
    records = _eval_records(run["store"])
    if placement == "embedded":
        spec = {n: tf.io.FixedLenFeature([1], tf.float32) for n in FEATURES}
        spec[penguin.LABEL_KEY] = tf.io.FixedLenFeature([1], tf.int64)
        values = {k: v.numpy() for k, v in tf.io.parse_example(records, spec).items()}
        label = values[penguin.LABEL_KEY]
    else:
        trainer = _latest(run["store"], "Model", "/Trainer/")
        signature = tf.saved_model.load(os.path.join(trainer, "Format-Serving")).signatures["transform_features"]
        values = {k: v.numpy() for k, v in signature(examples=tf.constant(records)).items()}
        label = values[penguin.LABEL_KEY + "_xf"]
    runner = litert.Interpreter(model_path=run["pushed"]).get_signature_runner("serving_default")
    (logits,) = runner(**_feeds(runner, values)).values()
    return int(np.sum(np.argmax(logits, axis=1) == label.reshape(-1))), len(records)


@pytest.mark.parametrize("placement", ["embedded", "transformed"])
def test_template_model_is_blessed_with_figures_equal_to_an_independent_loop(runs, placement):
    run = runs[placement]
    assert "gate: BLESSED" in run["text"], run["text"]
    evaluation = run["evaluation"]
    assert evaluation.mode == "int8" and evaluation.models["quantized"].ops.integer > 0
    correct, total = _independent_correct(run, placement)
    assert evaluation.examples == total
    assert round(evaluation.slices[""].metrics["quantized"]["accuracy"] * total) == correct


def test_each_placement_takes_what_its_app_feeds(runs):
    from ai_edge_litert import interpreter as litert
    names = {p: sorted(litert.Interpreter(model_path=runs[p]["pushed"]).get_signature_runner("serving_default")
                       .get_input_details()) for p in runs}
    assert names == {"embedded": list(FEATURES), "transformed": [f + "_xf" for f in FEATURES]}
