"""SavedModel -> TFLite bytes with tf.lite.TFLiteConverter, set up from the mode's registry entry.

Pure of TFX: takes a SavedModel path, a QuantizationConfig and calibration
arrays, returns model bytes. The float32 reference is the same conversion with
no optimization. Converter settings per mode are data in schemas/modes.py.
"""

from __future__ import annotations

import re
from typing import Callable, Iterator, Mapping

import numpy as np
import tensorflow as tf

from tfx_edge.components.core.calibration import as_samples
from tfx_edge.schemas.modes import MODES
from tfx_edge.schemas.quantization import QuantizationConfig

FLOAT_REFERENCE = "the float32 reference"
_IO_TYPES = {"float32": tf.float32, "int8": tf.int8, "uint8": tf.uint8}


class ConversionError(RuntimeError):
    """The converter refused the model; the message names what and the way out."""


def converter_for(saved_model_dir: str, signature_key: str) -> tf.lite.TFLiteConverter:
    converter = tf.lite.TFLiteConverter.from_saved_model(saved_model_dir, signature_keys=[signature_key])
    # Recurrent layers (Keras LSTM / GRU / SimpleRNN while loops) keep a TensorList per step whose
    # element shape has the dynamic batch dimension; lowering them to builtin ops needs a static
    # one ("'tf.TensorListReserve' op requires element_shape to be static"). This converter option
    # lowers them with batch 1 in the element shape; the kernels still run any batch (checked: the
    # same outputs at batch 8 and 1), and the exporter's parity check verifies every model on a
    # batch of the pipeline's own examples. No effect on models without tensor lists.
    converter._experimental_default_to_single_batch_in_tensor_list_ops = True
    return converter


def representative(arrays: Mapping[str, np.ndarray]) -> Callable[[], Iterator[dict]]:
    samples = as_samples(arrays)

    def generator() -> Iterator[dict]:
        for sample in samples:
            yield dict(sample)   # each input in its own dtype (int64 inputs stay int64)
    return generator


def representative_lists(arrays: Mapping[str, np.ndarray], order: list[str]) -> Callable[[], Iterator[list]]:
    """Positional samples in the converted model's input order (litert.input_order), for tools such
    as QuantizationDebugger that do not take named inputs. The order is not the names' order."""
    samples = as_samples(arrays)

    def generator() -> Iterator[list]:
        for sample in samples:
            yield [sample[k] for k in order]
    return generator


def configure(converter: tf.lite.TFLiteConverter, config: QuantizationConfig,
              calibration: Mapping[str, np.ndarray] | None) -> tf.lite.TFLiteConverter:
    """Sets the converter up for the config's mode (QAT: the fine-tuned model's int8 export):
    the registry's settings (schemas/modes.py), names resolved on `tf` and tf.lite.OpsSet."""
    mode, settings = config.mode, MODES[config.mode].converter
    if settings is None:
        return converter  # no converter settings: e.g. ai-edge-quantizer works on the float model
    if settings.optimize:
        converter.optimizations = [tf.lite.Optimize.DEFAULT]
    if settings.supported_types:
        converter.target_spec.supported_types = [getattr(tf, name) for name in settings.supported_types]
    if config.needs_calibration:
        if not calibration:
            raise ConversionError(f"mode={mode.value!r} needs calibration samples; the plan has none")
        converter.representative_dataset = representative(calibration)
    if settings.supported_ops:
        converter.target_spec.supported_ops = [getattr(tf.lite.OpsSet, name) for name in settings.supported_ops]
    if config.io_dtype != "float32":
        converter.inference_input_type = _IO_TYPES[config.io_dtype]
        converter.inference_output_type = _IO_TYPES[config.io_dtype]
    return converter


def run(converter: tf.lite.TFLiteConverter, what: str) -> bytes:
    """converter.convert() with errors that name the op and suggest a fallback."""
    try:
        return converter.convert()
    except Exception as error:  # the converter raises several unrelated types
        raise ConversionError(explain(what, str(error))) from error


_OP_PATTERNS = (
    r"Quantization not yet supported for op: '([^']+)'",
    r"op '([^']+)'",
    r"'tfl\.([a-z_0-9]+)' op",
    r"'tf\.([A-Za-z0-9_]+)' op",
)


def explain(what: str, message: str) -> str:
    """The converter's error in one line, with a way out that the user has not taken already."""
    ops = sorted({m for p in _OP_PATTERNS for m in re.findall(p, message)})
    where = f" at op(s) {', '.join(ops)}" if ops else ""
    if what == FLOAT_REFERENCE:
        hint = ("; this is the plain float32 conversion, so no quantization mode changes it: the model has "
                "ops LiteRT's builtin set cannot express (README, 'Your own pipeline', lists what converts)")
    else:
        fallbacks = [m for m in ("int8", "dynamic_range") if f"mode={m!r}" not in what]
        hint = ("; to keep such ops in float use " + " or ".join(
            f"mode={m!r}" + (" (float fallback, optionally with keep_float_ops=[...])" if m == "int8" else "")
            for m in fallbacks) if fallbacks else "; keep such ops in float with keep_float_ops=[...]")
    first = message.strip().splitlines()[0][:500] if message.strip() else "(no message)"
    return f"converting {what} failed{where}: {first}{hint}"


def convert_float(saved_model_dir: str, signature_key: str) -> bytes:
    """The float32 reference TFLite of the SavedModel."""
    return run(converter_for(saved_model_dir, signature_key), FLOAT_REFERENCE)


def convert(saved_model_dir: str, config: QuantizationConfig,
            calibration: Mapping[str, np.ndarray] | None) -> bytes:
    """The quantized TFLite for the config's converter-based modes."""
    converter = configure(converter_for(saved_model_dir, config.signature_key), config, calibration)
    return run(converter, f"with mode={config.mode.value!r}")
