"""TFX's flagship Chicago taxi example, module file and data from the tfx wheel unchanged, through
tfx-edge in the 'transformed' placement (`make demo ARGS="--example taxi --placement transformed"`).

TFX's pipeline shape: SchemaGen(infer_feature_shape=False), so Transform reads 17 sparse (VarLen)
features; the module saves the Transform layer as `tft_layer_inference` / `tft_layer_eval` and
one-hot encodes ids with Keras `CategoryEncoding`. Dynamic range and int8 are each gated; every gate
figure is checked against an independent loop: the raw eval examples through the SavedModel's own
`transform_features` signature (TFX's), then the .tflite in LiteRT, binary accuracy at 0.5
(prediction > 0.5, as Keras and TFMA count it: int8 outputs are multiples of 1/256, so 0.5 occurs).
"""

from __future__ import annotations

import glob
import os

import numpy as np
import pytest
import tensorflow as tf

from tfx_edge.components import record_files
from tfx_edge.pipelines import run_local, summary, taxi

pytestmark = pytest.mark.e2e
TRAIN_STEPS = 1000   # TFX's taxi pipeline trains 1,000 steps; at 200 the model predicts almost no tips


def _run(root, mode: str) -> dict:
    args = run_local.parse_args(["--example", "taxi", "--placement", "transformed", "--mode", mode,
                                 "--work-dir", str(root / "work"), "--serving-dir", str(root / "serving" / mode),
                                 "--train-steps", str(TRAIN_STEPS)])
    text = run_local.run(args)
    store = summary.store_for(run_local.metadata_path(args))
    tflite = max((a for a in store.get_artifacts_by_type("Model") if "tflite_model" in a.uri), key=lambda a: a.id)
    pushed = sorted(glob.glob(str(root / "serving" / mode / "*" / "tflite")))
    return {"text": text, "evaluation": summary.latest_evaluation(store), "store": store,
            "tflite_uri": tflite.uri, "pushed": pushed[-1] if pushed else None}


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    root = tmp_path_factory.mktemp("taxi")
    return {mode: _run(root, mode) for mode in ("dynamic_range", "int8")}   # int8 reuses the cached Trainer


def _independent_accuracy(run: dict) -> tuple[int, int]:
    """Raw eval examples -> the Trainer's transform_features signature -> LiteRT, > 0.5."""
    from ai_edge_litert import interpreter as litert
    store = run["store"]
    trainer = max((a for a in store.get_artifacts_by_type("Model") if "/Trainer/" in a.uri), key=lambda a: a.id)
    examples = max((a for a in store.get_artifacts_by_type("Examples") if "CsvExampleGen" in a.uri),
                   key=lambda a: a.id)
    files = sorted(glob.glob(os.path.join(examples.uri, "Split-eval", "*")))
    records = [r.numpy() for r in tf.data.TFRecordDataset(files, compression_type="GZIP")]
    signatures = tf.saved_model.load(os.path.join(trainer.uri, "Format-Serving")).signatures
    transformed = {k: v.numpy() for k, v in signatures["transform_features"](examples=tf.constant(records)).items()}
    path = os.path.join(run["tflite_uri"], "Format-Serving", "tflite")
    runner = litert.Interpreter(model_path=path).get_signature_runner("serving_default")
    feeds = {name: transformed[name].astype(detail["dtype"]) for name, detail in runner.get_input_details().items()}
    (probability,) = runner(**feeds).values()
    predicted = probability.reshape(-1) > 0.5   # Keras and TFMA BinaryAccuracy: prediction > threshold
    return int(np.sum(predicted == (transformed[taxi.LABEL_KEY].reshape(-1) == 1))), len(records)


def test_dynamic_range_is_blessed_and_pushes_a_tflite_over_transform_outputs(runs):
    run = runs["dynamic_range"]
    assert "gate: BLESSED" in run["text"], run["text"]
    from ai_edge_litert import interpreter as litert
    inputs = litert.Interpreter(model_path=run["pushed"]).get_signature_runner("serving_default").get_input_details()
    assert len(inputs) == 12 and all(name.endswith("_xf") for name in inputs)   # taxi's 12 model features
    report, _ = record_files.read_export_report(run["tflite_uri"])
    assert report.parity.passed and report.plan.derivation.placement.value == "transformed"


@pytest.mark.parametrize("mode", ["dynamic_range", "int8"])
def test_gate_figures_equal_an_independent_loop_through_the_models_own_signatures(runs, mode):
    run = runs[mode]
    correct, total = _independent_accuracy(run)
    evaluation = run["evaluation"]
    assert evaluation.examples == total
    assert round(evaluation.slices[""].metrics["quantized"]["binary_accuracy"] * total) == correct
    assert evaluation.blessed == all(check.passed for check in evaluation.checks)
    assert ("gate: BLESSED" in run["text"]) == evaluation.blessed


def test_embedded_is_refused_naming_exactly_what_no_builtin_op_can_preprocess(runs, tmp_path):
    """Placement 'embedded' with SchemaGen's and StatisticsGen's outputs (edge_components wires them): the
    15 numeric VarLen features (at most one value each) are fed dense; the refusal names only the
    string features with their vocabulary / OOV-hash ops and the bucketized ones inside the Transform's
    function body, with the way out."""
    from tfx.types import artifact_utils, standard_artifacts
    from helpers import make_artifact
    from tfx_edge.components import specs
    from tfx_edge.components.artifacts import QuantizationPlan
    from tfx_edge.components.core.graph_cut import DeriveError
    from tfx_edge.components.quantizer import executor
    from tfx_edge.schemas import Mode, Placement, QuantizationConfig
    store = runs["dynamic_range"]["store"]

    def latest(type_name: str, contains: str):
        found = max((a for a in store.get_artifacts_by_type(type_name) if contains in a.uri), key=lambda a: a.id)
        artifact = make_artifact(getattr(standard_artifacts, type_name), found.uri)
        if type_name in ("Examples", "ExampleStatistics"):
            artifact.split_names = artifact_utils.encode_split_names(["train", "eval"])
        return artifact
    inputs = {specs.MODEL_KEY: [latest("Model", "/Trainer/")], specs.EXAMPLES_KEY: [latest("Examples", "CsvExampleGen")],
              specs.SCHEMA_KEY: [latest("Schema", "SchemaGen")],
              specs.STATISTICS_KEY: [latest("ExampleStatistics", "StatisticsGen")]}
    config = QuantizationConfig(mode=Mode.DYNAMIC_RANGE, placement=Placement.EMBEDDED)
    plan = make_artifact(QuantizationPlan, str(tmp_path / "plan"))
    with pytest.raises(DeriveError) as refused:
        executor.Executor().Do(inputs, {specs.PLAN_KEY: [plan]}, {specs.CONFIG_KEY: config.to_json()})
    message = str(refused.value)
    print(f"\ntaxi embedded: {message}")
    assert "features ['company', 'payment_type'] are used as sparse" in message
    assert "string features ['company', 'payment_type'] stay sparse" in message
    assert "StringToHashBucketFast (features ['company', 'payment_type'])" in message
    assert ("UpperBound (features ['dropoff_latitude', 'dropoff_longitude', 'pickup_latitude', 'pickup_longitude'])"
            in message)
    fed = message.split("where the cut feeds ")[1].split("]")[0]
    assert fed.count("'") // 2 == 15 and "'trip_seconds'" in fed   # every numeric feature is fed dense
    assert not os.path.exists(os.path.join(plan.uri, "plan.json"))   # nothing half-written is published
