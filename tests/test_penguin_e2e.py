"""TFX's own penguin example, unchanged (Transform + Keras 3, serving_default over tf.Examples),
through Quantizer -> TFLiteExporter -> EdgeEvaluator -> Pusher, both placements.

Checked against code nobody here wrote: the module file is `tfx.examples.penguin.
penguin_utils_keras` as it ships in the tfx wheel; the numbers are checked against the
SavedModel's own signature and an independent LiteRT loop over the pushed file.
"""

from __future__ import annotations

import glob
import io
import os
import zipfile

import numpy as np
import pytest
import tensorflow as tf

from tfx_edge.components import record_files
from tfx_edge.pipelines import penguin, run_local, summary

pytestmark = pytest.mark.e2e
FEATURES = ("body_mass_g", "culmen_depth_mm", "culmen_length_mm", "flipper_length_mm")


def _run(root, placement: str) -> dict:
    args = run_local.parse_args(["--example", "penguin", "--placement", placement, "--work-dir", str(root / "work"),
                                 "--serving-dir", str(root / "serving" / placement), "--train-steps", "200"])
    text = run_local.run(args)
    store = summary.store_for(run_local.metadata_path(args))
    pushed = sorted(os.listdir(root / "serving" / placement))
    return {"text": text, "evaluation": summary.latest_evaluation(store), "store": store,
            "pushed": str(root / "serving" / placement / pushed[-1] / "tflite") if pushed else None,
            "float_uri": _latest_uri(store, "Model", "float_model"),
            "tflite_uri": _latest_uri(store, "Model", "tflite_model"),
            "trainer_uri": _latest_uri(store, "Model", "/Trainer/")}


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    root = tmp_path_factory.mktemp("penguin")
    return root, {placement: _run(root, placement) for placement in ("embedded", "transformed")}


def _latest_uri(store, type_name: str, contains: str = "") -> str:
    found = [a for a in store.get_artifacts_by_type(type_name) if contains in a.uri]
    return max(found, key=lambda a: a.id).uri


def _records(store, split: str) -> list[bytes]:
    files = sorted(glob.glob(os.path.join(_latest_uri(store, "Examples", "CsvExampleGen"), f"Split-{split}", "*")))
    return [r.numpy() for r in tf.data.TFRecordDataset(files, compression_type="GZIP")]


def _litert_accuracy(model_path: str, records: list[bytes], label: str, names) -> tuple[int, int]:
    from ai_edge_litert import interpreter as litert
    spec = {n: tf.io.FixedLenFeature([1], tf.float32) for n in names}
    spec[label] = tf.io.FixedLenFeature([1], tf.int64)
    parsed = {k: v.numpy() for k, v in tf.io.parse_example(records, spec).items()}
    runner = litert.Interpreter(model_path=model_path).get_signature_runner("serving_default")
    inputs = runner.get_input_details()
    feeds = {}
    for n in names:
        detail = inputs[n]
        scale, zero = detail["quantization"]
        x = parsed[n]
        feeds[n] = (np.clip(np.round(x / scale) + zero, -128, 127).astype(detail["dtype"]) if scale else x)
    logits = runner(**feeds)["outputs"]
    return int(np.sum(np.argmax(logits, axis=1) == parsed[label][:, 0])), len(records)


def test_embedded_is_blessed_and_pushes_an_int8_tflite_over_the_raw_features(runs):
    _, by = runs
    run = by["embedded"]
    assert "gate: BLESSED" in run["text"], run["text"]
    from ai_edge_litert import interpreter as litert
    interp = litert.Interpreter(model_path=run["pushed"])
    inputs = interp.get_signature_runner("serving_default").get_input_details()
    assert sorted(inputs) == list(FEATURES)
    assert run["evaluation"].mode == "int8"
    assert run["evaluation"].models["quantized"].ops.integer > 0


def test_float_reference_agrees_with_the_savedmodel_signature_on_the_eval_split(runs):
    _, by = runs
    store = by["embedded"]["store"]
    records = _records(store, "eval")
    signature = tf.saved_model.load(os.path.join(by["embedded"]["trainer_uri"], "Format-Serving")
                                    ).signatures["serving_default"]
    expected = signature(examples=tf.constant(records))["outputs"].numpy()
    float_uri = by["embedded"]["float_uri"]
    from ai_edge_litert import interpreter as litert
    runner = litert.Interpreter(model_path=os.path.join(float_uri, "Format-Serving", "tflite")).get_signature_runner()
    parsed = tf.io.parse_example(records, {n: tf.io.FixedLenFeature([1], tf.float32) for n in FEATURES})
    got = runner(**{n: parsed[n].numpy() for n in FEATURES})["outputs"]
    assert np.abs(got - expected).max() <= 1e-4
    report, _ = record_files.read_export_report(by["embedded"]["tflite_uri"])
    assert report.parity.passed and report.parity.source == "examples"
    assert report.plan.derivation.signature_kind == "examples"
    assert report.plan.derivation.placement.value == "embedded"


def test_gate_accuracy_equals_an_independent_litert_loop_over_the_pushed_file(runs):
    _, by = runs
    run = by["embedded"]
    correct, total = _litert_accuracy(run["pushed"], _records(run["store"], "eval"), penguin.LABEL_KEY, FEATURES)
    evaluation = run["evaluation"]
    assert evaluation.examples == total
    overall = evaluation.slices[""].metrics["quantized"]
    assert round(overall["accuracy"] * total) == correct


def test_transformed_placement_is_blessed_and_takes_transform_outputs(runs):
    _, by = runs
    run = by["transformed"]
    assert "gate: BLESSED" in run["text"], run["text"]
    from ai_edge_litert import interpreter as litert
    inputs = litert.Interpreter(model_path=run["pushed"]).get_signature_runner("serving_default").get_input_details()
    assert sorted(inputs) == [f + "_xf" for f in FEATURES]
    assert run["evaluation"].config.label_feature == "species_xf"


@pytest.mark.parametrize("placement", ["embedded", "transformed"])
def test_the_pushed_model_names_the_species_for_the_app(runs, placement):
    """labels.txt and app_contract.json are pushed beside the .tflite, and the model's own LiteRT
    metadata, read with tflite-support's generated reader, names the classes."""
    from test_tflite_metadata import read
    from tfx_edge.schemas import records
    run = runs[1][placement]
    folder = os.path.dirname(run["pushed"])
    assert sorted(os.listdir(folder)) == ["app_contract.json", "labels.txt", "tflite"]
    with open(os.path.join(folder, "labels.txt")) as f:
        assert f.read().splitlines() == list(penguin.PENGUIN_EXPORT.label_names)
    with open(run["pushed"], "rb") as f:
        model = f.read()
    with open(os.path.join(folder, "app_contract.json"), "rb") as f:
        contract = records.AppContract.from_json(f.read(), "app_contract.json", "re-run the TFLiteExporter")
    assert contract.model_sha256 == records.sha256(model) and contract.labels_file == "labels.txt"
    metadata = read(model)
    output = metadata.SubgraphMetadata(0).OutputTensorMetadata(0)
    assert output.AssociatedFiles(0).Name() == b"labels.txt"
    with zipfile.ZipFile(io.BytesIO(model)) as archive:   # LiteRT packs associated files in a zip
        assert archive.read("labels.txt").decode().splitlines() == ["Adelie", "Chinstrap", "Gentoo"]
