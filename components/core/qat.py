"""Quantization-aware fine-tuning of the Trainer's tf_keras model with tensorflow-model-optimization.

`fine_tune(source_dir, config, tensors, split_uri, out_dir)` loads the
SavedModel at source_dir as a tf_keras model, wraps it for QAT (what
`tfmot.quantization.keras.quantize_model` does: annotate every layer, then
`quantize_apply`), fine-tunes it on one split of the Examples and saves a
SavedModel into out_dir whose signature `config.signature_key` takes the same
dense inputs (names, dtypes, dynamic batch) and returns the same output names
as the original, so `convert.convert(out_dir, config, ...)` with mode='qat'
gives an int8 TFLite.

What tfmot 0.8.1 can quantize, and what this module refuses (ConversionError,
naming the model type or layer classes and the way out: mode='int8'):
  * only tf_keras (Keras 2) Sequential/Functional models: a SavedModel without
    keras_metadata.pb (Keras 3 `model.export()`, a tf.Module) and subclassed
    models are refused; so are models nested in models.
  * layers of tfmot's default 8-bit registry. Not in it but handled here:
    `Rescaling` (the demo model's first layer; a weightless x*scale+offset)
    is annotated with tfmot's output-only QuantizeConfig so it becomes an int8
    MUL. Lambda layers are left in float as quantize_model does (recorded in
    the plan as float_layers). Any other layer the registry lacks is refused.
  * the serving signature must be the Keras model itself: it is checked on
    the first examples of the split against model(x); a signature that adds
    pre/post-processing is refused (QAT would drop it).

Importing tensorflow_model_optimization sets TF_USE_LEGACY_KERAS=1 for the
process, so it is imported lazily, only when fine_tune runs.
"""

from __future__ import annotations

import math
import os
from typing import Any, Sequence

import numpy as np
import tensorflow as tf
from absl import logging

from tfx_edge import extras
from tfx_edge.components.core import examples, qat_data
from tfx_edge.components.core.convert import ConversionError
from tfx_edge.components.core.input_mapping import TensorSpec
from tfx_edge.schemas import _strict
from tfx_edge.schemas.quantization import QuantizationConfig

_WAY_OUT = "; use mode='int8' (post-training full-integer quantization) instead of mode='qat'"
_OUTPUT_ONLY_LAYERS = ("Rescaling",)  # weightless elementwise layers tfmot's registry lacks


def fine_tune(source_dir: str, config: QuantizationConfig, tensors: list[TensorSpec],
              split_uri: str, out_dir: str) -> tuple[dict, dict[str, str]]:
    """QAT fine-tuning; returns (record for plan.json, {input tensor: feature})."""
    for module in ("tf_keras", "tensorflow_model_optimization"):
        extras.require(module, "mode='qat'")
    if config.qat is None:
        raise ConversionError("mode='qat' needs qat=QatConfig(...)")
    model = load_keras_model(source_dir)
    signature = _signature(source_dir, config.signature_key)
    keras_inputs = _match([t.name for t in tensors], list(model.input_names), "input", source_dir)
    output_names = sorted(signature.structured_outputs)
    keras_outputs = _match(output_names, list(model.output_names), "output", source_dir)
    files = examples.split_files(split_uri)
    count = sum(1 for _ in examples.iter_records(files))
    if count == 0:
        raise examples.ExamplesError(f"split {split_uri!r} holds no examples to fine-tune on")
    mapping, x0, y0 = next(qat_data.batches(files, tensors, config, config.qat.label_feature,
                                            limit=min(count, 32)))
    _check_signature(signature, model, x0, tensors, keras_inputs, keras_outputs, config.signature_key)
    qmodel, float_layers = quantize_model(model)
    fitted = _train(qmodel, config, files, tensors, keras_inputs, x0, y0, count)
    save(qmodel, out_dir, config.signature_key, tensors, keras_inputs, output_names, keras_outputs)
    record = _record(config, split_uri, files, count, fitted, float_layers, out_dir)
    logging.info("QAT: %d epoch(s) x %d steps on %d examples; loss %.4f, accuracy %.4f on %r.",
                 config.qat.epochs, record["steps_per_epoch"], count, record["final_loss"],
                 record["final_accuracy"], config.qat.split)
    return record, mapping


def _train(qmodel, config: QuantizationConfig, files, tensors, keras_inputs, x0, y0, count: int) -> dict:
    """Compiles and fits the QAT model with the config's seed; returns the training figures."""
    import tf_keras  # pylint: disable=g-import-not-at-top
    qat = _strict.need(config.qat, "qat")
    tf_keras.utils.set_random_seed(qat.seed)
    qmodel.compile(optimizer=tf_keras.optimizers.Adam(qat.learning_rate), loss=qat.loss,
                   metrics=["accuracy"])
    train = qat_data.dataset(files, tensors, config, keras_inputs, x0, y0, shuffle_seed=qat.seed,
                             repeat=qat.steps_per_epoch is not None).batch(qat.batch_size)
    history = qmodel.fit(train, epochs=qat.epochs, steps_per_epoch=qat.steps_per_epoch, verbose=0)
    evaluation = qat_data.dataset(files, tensors, config, keras_inputs, x0, y0).batch(256)
    final_loss, final_accuracy = qmodel.evaluate(evaluation, verbose=0)
    return {"steps_per_epoch": qat.steps_per_epoch or math.ceil(count / qat.batch_size),
            "train_loss": _last(history.history.get("loss")),
            "train_accuracy": _last(history.history.get("accuracy")),
            "final_loss": float(final_loss), "final_accuracy": float(final_accuracy)}


def _record(config: QuantizationConfig, split_uri: str, files, count: int, fitted: dict,
            float_layers: list[str], out_dir: str) -> dict[str, Any]:
    qat = _strict.need(config.qat, "qat")
    steps = fitted["steps_per_epoch"]
    used = qat.epochs * count if qat.steps_per_epoch is None else qat.epochs * steps * qat.batch_size
    return {
        "split_uri": split_uri, "split": qat.split, "files": files,
        "examples_in_split": count, "examples_used": int(used),
        "epochs": qat.epochs, "steps_per_epoch": int(steps), "steps": int(steps * qat.epochs),
        "batch_size": qat.batch_size, "learning_rate": qat.learning_rate, "loss": qat.loss,
        "label_feature": qat.label_feature, "seed": qat.seed,
        "train_loss": fitted["train_loss"], "train_accuracy": fitted["train_accuracy"],
        "final_loss": fitted["final_loss"], "final_accuracy": fitted["final_accuracy"],
        "float_layers": float_layers, "model_dir": out_dir,
    }


def load_keras_model(source_dir: str):
    """The SavedModel as a tf_keras Sequential/Functional model, or a ConversionError why not."""
    import tf_keras  # pylint: disable=g-import-not-at-top
    if not tf.io.gfile.exists(os.path.join(source_dir, "keras_metadata.pb")):
        raise ConversionError(
            f"the SavedModel at {source_dir} is not a tf_keras (Keras 2) model (it has no "
            f"keras_metadata.pb: a Keras 3 model exported with model.export(), or a plain "
            f"tf.Module); tensorflow-model-optimization QAT needs a tf_keras Sequential or "
            f"Functional model saved with model.save(path, save_format='tf'){_WAY_OUT}")
    try:
        model = tf_keras.models.load_model(source_dir, compile=False)
    except Exception as error:  # pylint: disable=broad-except
        raise ConversionError(f"tf_keras cannot load the SavedModel at {source_dir} as a Keras "
                              f"model: {_first_line(error)}{_WAY_OUT}") from error
    if not isinstance(model, tf_keras.Model):
        raise ConversionError(f"the SavedModel at {source_dir} loads as "
                              f"{type(model).__name__}, not a tf_keras model{_WAY_OUT}")
    if not (isinstance(model, tf_keras.Sequential) or getattr(model, "_is_graph_network", False)):
        raise ConversionError(
            f"the model at {source_dir} is a subclassed tf_keras model ({type(model).__name__}); "
            f"tensorflow-model-optimization QAT only quantizes Sequential or Functional models: "
            f"rebuild it with the Functional API (tf_keras.Input ... tf_keras.Model(inputs, "
            f"outputs)){_WAY_OUT}")
    nested = [f"{layer.name} ({type(layer).__name__})" for layer in model.layers
              if isinstance(layer, tf_keras.Model)]
    if nested:
        raise ConversionError(f"the model at {source_dir} nests model(s) {nested}; tfmot cannot "
                              f"quantize a model inside a model: flatten it{_WAY_OUT}")
    return model


def quantize_model(model) -> tuple[Any, list[str]]:
    """tfmot's quantize_model, plus Rescaling quantized at its output; returns (model, float layers)."""
    import tf_keras  # pylint: disable=g-import-not-at-top
    import tensorflow_model_optimization as tfmot  # pylint: disable=g-import-not-at-top
    from tensorflow_model_optimization.python.core.quantization.keras.default_8bit import (  # pylint: disable=g-import-not-at-top
        default_8bit_quantize_configs as configs, default_8bit_quantize_registry as registry)
    qk = tfmot.quantization.keras
    supported = registry.Default8BitQuantizeRegistry()
    unsupported = sorted({type(layer).__name__ for layer in model.layers
                          if not isinstance(layer, tf_keras.layers.InputLayer)
                          and type(layer).__name__ not in _OUTPUT_ONLY_LAYERS
                          and not isinstance(layer, tf_keras.layers.Lambda)
                          and not supported.supports(layer)})
    float_layers: list[str] = []

    def annotate(layer):
        if isinstance(layer, tf_keras.layers.Lambda):  # as quantize_annotate_model does
            logging.warning("QAT leaves Lambda layer %r in float.", layer.name)
            float_layers.append(layer.name)
            return layer
        if type(layer).__name__ in _OUTPUT_ONLY_LAYERS:
            return qk.quantize_annotate_layer(
                layer, quantize_config=configs.Default8BitOutputQuantizeConfig())
        return qk.quantize_annotate_layer(layer)

    try:
        annotated = tf_keras.models.clone_model(model, clone_function=annotate)
        with qk.quantize_scope({"Default8BitOutputQuantizeConfig":
                                configs.Default8BitOutputQuantizeConfig}):
            return qk.quantize_apply(annotated), float_layers
    except Exception as error:  # tfmot raises RuntimeError / ValueError
        message = _first_line(error)
        named = f"; layer classes tfmot's 8-bit registry lacks: {', '.join(unsupported)}" if (
            unsupported) else ""
        raise ConversionError(
            f"tensorflow-model-optimization cannot quantize the model: {message}{named}. "
            f"Replace those layers by supported ones (Dense, Conv2D, DepthwiseConv2D, pooling, "
            f"Reshape, Flatten, Add, Concatenate, ReLU, Softmax...){_WAY_OUT}") from error


def save(qmodel, out_dir: str, key: str, tensors: Sequence[TensorSpec],
         keras_inputs: dict[str, str], output_names: Sequence[str],
         keras_outputs: dict[str, str]) -> None:
    """Saves the QAT model with signature `key`: the original dense inputs and output names."""
    names = [t.name for t in tensors]
    specs = [tf.TensorSpec([None if d < 0 else d for d in t.shape], tf.as_dtype(t.dtype), name=t.name)
             for t in tensors]
    order = list(qmodel.output_names)

    @tf.function(input_signature=specs)
    def serve(*args):
        feeds = dict(zip(names, args))
        x = (args[0] if len(args) == 1
             else {keras_inputs[n]: feeds[n] for n in names})
        y = qmodel(x, training=False)
        ys = list(y) if isinstance(y, (list, tuple)) else [y]
        by_keras = dict(zip(_unprefixed(order), ys))
        return {n: by_keras[keras_outputs[n]] for n in output_names}

    qmodel.save(out_dir, save_format="tf", include_optimizer=False, signatures={key: serve})


def _unprefixed(names: Sequence[str]) -> list[str]:
    """tfmot renames output layers 'quant_<name>'; the original names are what we matched."""
    return [n[len("quant_"):] if n.startswith("quant_") else n for n in names]


def _signature(source_dir: str, key: str):
    loaded = tf.saved_model.load(source_dir)
    if key not in loaded.signatures:
        raise ValueError(f"signature_key={key!r} is not in the SavedModel at {source_dir}; "
                         f"it has {sorted(loaded.signatures)}")
    signature = loaded.signatures[key]
    signature._loaded = loaded  # pylint: disable=protected-access  (keeps variables alive)
    return signature


def _match(signature_names: Sequence[str], keras_names: Sequence[str], what: str,
           source_dir: str) -> dict[str, str]:
    """Signature input/output name -> the Keras model's input/output name."""
    if len(signature_names) == 1 and len(keras_names) == 1:
        return {signature_names[0]: keras_names[0]}
    if set(signature_names) <= set(keras_names) and len(signature_names) == len(keras_names):
        return {n: n for n in signature_names}
    raise ConversionError(
        f"the serving signature's {what}s {sorted(signature_names)} do not match the Keras "
        f"model's {what}s {sorted(keras_names)} (model at {source_dir}); QAT re-exports the "
        f"Keras model, so name the signature's {what}s after the model's{_WAY_OUT}")


def _check_signature(signature, model, x0: dict[str, np.ndarray], tensors, keras_inputs,
                     keras_outputs, key: str) -> None:
    """The signature must compute what the Keras model computes (no extra pre/post-processing)."""
    feeds = {t.name: tf.constant(x0[t.name]) for t in tensors}
    expected = signature(**feeds)
    x = (feeds[tensors[0].name] if len(tensors) == 1
         else {keras_inputs[t.name]: feeds[t.name] for t in tensors})
    got = model(x, training=False)
    got = dict(zip(model.output_names, got if isinstance(got, (list, tuple)) else [got]))
    for name, keras_name in keras_outputs.items():
        diff = float(np.max(np.abs(np.asarray(expected[name], np.float64)
                                   - np.asarray(got[keras_name], np.float64)), initial=0.0))
        scale = 1.0 + float(np.max(np.abs(np.asarray(expected[name], np.float64)), initial=0.0))
        if diff > 1e-4 * scale:
            raise ConversionError(
                f"signature {key!r} output {name!r} differs from the Keras model's output "
                f"{keras_name!r} (max |diff| {diff:.3g}): the signature adds pre- or "
                f"post-processing that QAT (which re-exports the Keras model) would drop; move it "
                f"into the model{_WAY_OUT}")


def _last(values) -> float | None:
    return float(values[-1]) if values else None


def _first_line(error: Any) -> str:
    text = str(error).strip()
    return text.splitlines()[0][:500] if text else type(error).__name__


__all__ = ["fine_tune", "load_keras_model", "quantize_model"]
