"""Test helpers: build artifacts in tmp dirs and run each executor on them as TFX would."""

from __future__ import annotations

import os

from bench.executors import make_artifact, run_exporter, run_quantizer  # noqa: F401 (re-exported)


def write_export_report(model_uri: str, like_uri: str, reference_uri: str | None = None) -> None:
    """export_report.json for a TFLite model built in a test: the record of the real export at
    `like_uri`, with this model's bytes as its candidate (as if that export had written it), so the
    EdgeEvaluator's chain of custody holds for it and that export's float32 reference (or, with
    reference_uri, the TFLite model there as the reference)."""
    import dataclasses
    from tfx_edge.components import artifacts, record_files
    from tfx_edge.schemas import records
    report, _ = record_files.read_export_report(like_uri)
    with open(os.path.join(model_uri, "Format-Serving", artifacts.TFLITE_FILE), "rb") as f:
        data = f.read()
    quantized = dataclasses.replace(report.quantized, bytes=len(data), sha256=records.sha256(data))
    reference = report.float_model
    if reference_uri is not None:
        with open(os.path.join(reference_uri, "Format-Serving", artifacts.TFLITE_FILE), "rb") as f:
            ref = f.read()
        reference = dataclasses.replace(reference, bytes=len(ref), sha256=records.sha256(ref))
    record_files.write_record(os.path.join(model_uri, artifacts.EXPORT_REPORT_FILE),
                              dataclasses.replace(report, quantized=quantized, float_model=reference))


def write_model(root: str, name: str, module_fn, like_uri: str, reference_uri: str | None = None):
    """A TFLite Model artifact converted from a tf.function over `image` [-1, 64], with an export
    report (write_export_report) that records it as the candidate of the export at like_uri."""
    import tensorflow as tf
    from tfx.types import standard_artifacts
    module = tf.Module()
    module.fn = tf.function(module_fn, input_signature=[tf.TensorSpec([None, 64], tf.float32, name="image")])
    converter = tf.lite.TFLiteConverter.from_concrete_functions([module.fn.get_concrete_function()], module)
    model = make_artifact(standard_artifacts.Model, os.path.join(root, name))
    os.makedirs(os.path.join(model.uri, "Format-Serving"))
    with open(os.path.join(model.uri, "Format-Serving", "tflite"), "wb") as f:
        f.write(converter.convert())
    write_export_report(model.uri, like_uri, reference_uri)
    return model


def binary_eval_split(examples_artifact, root: str, extras: bool = False):
    """An Examples artifact of the digits eval split with label = (digit == 0) (10% positives) and,
    with extras, a weight feature 1 + digit % 3 and a slice feature group (b"odd" / b"even").
    Returns (artifact, images [n, 64], labels)."""
    import numpy as np
    import tensorflow as tf
    from tfx.types import artifact_utils, standard_artifacts
    source = os.path.join(examples_artifact.uri, "Split-eval", "data_tfrecord-00000-of-00001")
    os.makedirs(os.path.join(root, "Split-eval"))
    images, labels = [], []
    with tf.io.TFRecordWriter(os.path.join(root, "Split-eval", "data_tfrecord-00000-of-00001")) as writer:
        for record in tf.data.TFRecordDataset(source).as_numpy_iterator():
            example = tf.train.Example.FromString(record)
            digit = example.features.feature["label"].int64_list.value[0]
            example.features.feature["label"].int64_list.value[0] = int(digit == 0)
            if extras:
                example.features.feature["weight"].float_list.value.append(1.0 + digit % 3)
                example.features.feature["group"].bytes_list.value.append(b"odd" if digit % 2 else b"even")
            writer.write(example.SerializeToString())
            images.append(list(example.features.feature["image"].float_list.value))
            labels.append(int(digit == 0))
    split = make_artifact(standard_artifacts.Examples, root)
    split.split_names = artifact_utils.encode_split_names(["eval"])
    return split, np.array(images, np.float32), np.array(labels)


def run_edge_evaluator(config, examples, tflite, float_model, out_root, float_blessing=None,
                       saved_model=None):
    from tfx.types import standard_artifacts
    from tfx_edge.components import specs
    from tfx_edge.components.artifacts import EdgeEvaluation
    from tfx_edge.components.edge_evaluator import executor
    blessing = make_artifact(standard_artifacts.ModelBlessing, os.path.join(out_root, "blessing"))
    evaluation = make_artifact(EdgeEvaluation, os.path.join(out_root, "evaluation"))
    inputs = {specs.EXAMPLES_KEY: [examples], specs.MODEL_KEY: [tflite], specs.FLOAT_MODEL_KEY: [float_model]}
    if float_blessing is not None:
        inputs[specs.FLOAT_BLESSING_KEY] = [float_blessing]
    if saved_model is not None:
        inputs[specs.SAVED_MODEL_KEY] = [saved_model]
    executor.Executor().Do(inputs, {specs.BLESSING_KEY: [blessing], specs.EVALUATION_KEY: [evaluation]},
                           {specs.CONFIG_KEY: config.to_json()})
    return blessing, evaluation
