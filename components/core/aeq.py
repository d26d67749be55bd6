"""A LiteRT ai-edge-quantizer (AEQ) recipe applied to the float32 TFLite model.

`quantize(float_model, config, calibration)` takes the float reference bytes
the TFLiteExporter already converted, applies `config.aeq.recipe` (a preset:
a function of `ai_edge_quantizer.recipe`) or `config.aeq.recipe_file` (a recipe
JSON, read with tf.io.gfile) and returns the quantized bytes. The same inputs
give the same bytes (AEQ is deterministic; calibration runs single-threaded).

What the presets do to the demo model (pipelines/digits_model.py, 151k params,
trained 200 steps; float TFLite 609,664 bytes, eval accuracy 0.9639). Checked
with ai-edge-quantizer 0.10.0 / ai-edge-litert 2.3.0: every preset works; each
model loads in LiteRT (XNNPACK on and off), keeps the dynamic batch dimension
([-1, 64] -> [-1, 10]) and runs at batch 1, 3, 5 and 360; eval accuracy stayed
0.9639 for all six. int4 (wi4) weights load and run fine in LiteRT 2.3.

  preset                 bytes    vs float   ops                                model I/O
  dynamic_wi8_afp32      159,224  0.26x      hybrid CONV_2D / FULLY_CONNECTED   float32
  dynamic_wi4_afp32       83,688  0.14x      hybrid, int4 weights               float32
  weight_only_wi8_afp32  159,672  0.26x      float ops + 4 DEQUANTIZE (weights) float32
  weight_only_wi4_afp32   84,136  0.14x      float ops + 4 DEQUANTIZE (int4)    float32
  static_wi8_ai8         162,920  0.27x      all int8 + QUANTIZE/DEQUANTIZE     float32 (*)
  static_wi8_ai16        163,856  0.27x      int16 act./int8 weights + Q/DQ    float32 (*)

  (*) The static presets on their own make the model's inputs and outputs
  int8/int16. The project's contract for mode='aeq' is io_dtype='float32', so
  for presets this module appends NO_QUANTIZE entries for the virtual INPUT
  and OUTPUT ops: the model takes and returns float32 and quantizes inside.
  A recipe file is applied exactly as written (add such entries yourself).

AEQ 0.10 quirks handled here:
  * QUANTIZE/DEQUANTIZE ops that AEQ inserts (float I/O of static recipes,
    float_scopes inside a static model) get an output tensor with the static
    `shape` of their input but no `shape_signature`, so a dynamic batch
    dimension read [-1, 10] becomes [1, 10] in the signature (LiteRT still
    resizes at run time). `_restore_dynamic_shapes` copies the input's
    shape_signature back onto such tensors.
  * Ops a recipe cannot quantize are silently left in float by AEQ (it skips
    recipe entries whose op_config an op does not support, e.g. num_bits=3);
    it raises only for malformed entries. Here a result with no quantized
    tensor at all is an error, and so is a float_scopes regex that matches no
    op (an op's scope is its output tensor names joined by ';', e.g.
    'model/dense/MatMul;model/dense/Relu;model/dense/BiasAdd').
  * Calibration shows a tqdm bar on stderr once samples x ops >= 100, and
    AEQ's interpreters warn about `experimental_preserve_all_tensors`; both
    are silenced, and the size/time report is off (enable_progress_report).
"""

from __future__ import annotations

import contextlib
import io
import json
import re
import warnings
from typing import Any, Mapping

import numpy as np

from tfx_edge import extras
from tfx_edge.components.core.calibration import as_samples
from tfx_edge.components.core.convert import ConversionError
from tfx_edge.schemas import _strict
from tfx_edge.schemas.quantization import AEQ_CALIBRATED_PRESETS, QuantizationConfig

NO_QUANTIZE = "no_quantize"
_RECIPE_KEYS = ("regex", "operation", "algorithm_key")
_FALLBACK = ("; fallback: keep the op in float with aeq.float_scopes=[<regex of its output "
             "tensor name>], use a weight-only/dynamic preset such as 'dynamic_wi8_afp32', "
             "or use mode='int8' (TFLite converter with float fallback)")


def quantize(float_model: bytes, config: QuantizationConfig,
             calibration: Mapping[str, np.ndarray] | None) -> bytes:
    """Applies config.aeq's recipe to the float32 TFLite bytes; returns the quantized bytes."""
    return quantize_with_recipe(float_model, config, calibration)[0]


def quantize_with_recipe(float_model: bytes, config: QuantizationConfig,
                         calibration: Mapping[str, np.ndarray] | None) -> tuple[bytes, list[dict]]:
    """(quantized bytes, the recipe actually applied).

    Raises ConversionError naming the recipe (and the op, when AEQ's message
    names one) with a fallback for anything AEQ or the recipe refuses.
    """
    extras.require("ai_edge_quantizer", "mode='aeq'")
    aeq = config.aeq
    if aeq is None:
        raise ConversionError("mode='aeq' needs aeq=AeqConfig(recipe=... or recipe_file=...)")
    what = _what(config)
    from ai_edge_quantizer import quantizer  # pylint: disable=g-import-not-at-top
    try:
        recipe = build_recipe(float_model, config)
        with _quiet():
            qt = quantizer.Quantizer(bytes(float_model), recipe)
            calibration_result = None
            if qt.need_calibration:
                data = _calibration_data(float_model, config.signature_key, calibration, what)
                calibration_result = qt.calibrate(data, num_threads=1)
            result = qt.quantize(calibration_result, enable_progress_report=False)
    except ConversionError:
        raise
    except Exception as error:  # AEQ raises ValueError, RuntimeError, KeyError, TypeError...
        raise ConversionError(_explain(what, error)) from error
    model, quantized = _restore_dynamic_shapes(bytes(result.quantized_model))
    if not quantized:
        raise ConversionError(
            f"{what} quantized no tensor of the model: AEQ silently skips recipe entries whose "
            f"op_config no op supports (e.g. num_bits=3, an op-specific entry for an op the "
            f"model lacks) and NO_QUANTIZE scopes; fix the recipe's op_config or regexes"
            f"{_FALLBACK}")
    return model, recipe


def build_recipe(float_model: bytes, config: QuantizationConfig) -> list[dict]:
    """The AEQ recipe quantize() applies: the preset (+ float I/O for static presets) and the
    float_scopes' NO_QUANTIZE entries, or the recipe file's entries. JSON-serializable."""
    aeq = _strict.need(config.aeq, "aeq")
    recipe = (_preset(aeq.recipe) if aeq.recipe is not None
              else _read_recipe_file(_strict.need(aeq.recipe_file, "aeq.recipe_file")))
    if aeq.float_scopes:
        recipe += _float_scopes(float_model, aeq.float_scopes, _what(config))
    return recipe


def _what(config: QuantizationConfig) -> str:
    aeq = _strict.need(config.aeq, "aeq")
    return (f"ai-edge-quantizer recipe {aeq.recipe!r}" if aeq.recipe is not None
            else f"ai-edge-quantizer recipe file {aeq.recipe_file!r}")


def _preset(name: str) -> list[dict]:
    from ai_edge_quantizer import recipe as recipes  # pylint: disable=g-import-not-at-top
    factory = getattr(recipes, name, None)
    if not callable(factory):
        raise ConversionError(f"ai-edge-quantizer has no preset recipe {name!r}; use one of "
                              f"tfx_edge.schemas.quantization.AEQ_PRESETS or aeq.recipe_file")
    recipe = list(factory())
    if name in AEQ_CALIBRATED_PRESETS:  # keep the model's I/O float32 (io_dtype='float32')
        recipe += [{"regex": ".*", "operation": "INPUT", "algorithm_key": NO_QUANTIZE},
                   {"regex": ".*", "operation": "OUTPUT", "algorithm_key": NO_QUANTIZE}]
    return recipe


def _read_recipe_file(path: str) -> list[dict]:
    """A recipe JSON: a list of {regex, operation, algorithm_key[, op_config]} entries."""
    import tensorflow as tf  # pylint: disable=g-import-not-at-top
    how = ("; fix the file (a JSON list of {\"regex\", \"operation\", \"algorithm_key\", "
           "\"op_config\"} entries, e.g. a saved QuantizationResult recipe) or use a preset "
           "with aeq.recipe='dynamic_wi8_afp32'")
    try:
        with tf.io.gfile.GFile(path, "r") as f:
            text = f.read()
    except Exception as error:  # NotFoundError, PermissionDenied...
        raise ConversionError(f"cannot read ai-edge-quantizer recipe file {path!r}: "
                              f"{_first_line(error)}{how}") from error
    try:
        recipe = json.loads(text)
    except ValueError as error:
        raise ConversionError(f"ai-edge-quantizer recipe file {path!r} is not valid JSON: "
                              f"{error}{how}") from error
    if isinstance(recipe, dict):
        raise ConversionError(f"ai-edge-quantizer recipe file {path!r} holds a JSON object "
                              f"(a LiteRT-LM model-type mapping?), not a list of entries{how}")
    if not isinstance(recipe, list) or not recipe:
        raise ConversionError(f"ai-edge-quantizer recipe file {path!r} holds "
                              f"{type(recipe).__name__} {str(recipe)[:80]!r}, not a non-empty "
                              f"list of entries{how}")
    for i, entry in enumerate(recipe):
        missing = [k for k in _RECIPE_KEYS if not isinstance(entry, dict) or k not in entry]
        if not missing and entry["algorithm_key"] != NO_QUANTIZE and "op_config" not in entry:
            missing = ["op_config"]
        if missing:
            raise ConversionError(f"ai-edge-quantizer recipe file {path!r}: entry {i} "
                                  f"({str(entry)[:120]}) lacks {', '.join(missing)}{how}")
    return recipe


def _float_scopes(float_model: bytes, scopes, what: str) -> list[dict]:
    """NO_QUANTIZE entries for the scopes (regexes searched in each op's output tensor names)."""
    names = _op_scopes(float_model)
    for scope in scopes:
        try:
            pattern = re.compile(scope)
        except re.error as error:
            raise ConversionError(f"{what}: aeq.float_scopes entry {scope!r} is not a valid "
                                  f"regex: {error}") from error
        if not any(pattern.search(n) for n in names):
            raise ConversionError(
                f"{what}: aeq.float_scopes entry {scope!r} matches no op of the model; an op's "
                f"scope is its output tensor names, e.g. {sorted(set(names))[:8]}")
    return [{"regex": s, "operation": "*", "algorithm_key": NO_QUANTIZE} for s in scopes]


def _op_scopes(float_model: bytes) -> list[str]:
    from ai_edge_quantizer.utils import tfl_flatbuffer_utils as fb  # pylint: disable=g-import-not-at-top
    model = fb.read_model(bytes(float_model))
    return [fb.get_op_scope(op, sg.tensors) for sg in model.subgraphs for op in sg.operators]


def _calibration_data(float_model: bytes, key: str, calibration, what: str) -> dict[str, list]:
    """{signature key: [{input name: array [1, ...]}, ...]} in the float model's input dtypes."""
    if not calibration:
        raise ConversionError(f"{what} needs calibration samples (static quantization) and "
                              f"the plan has none; use a dynamic_*/weight_only_* preset or "
                              f"give the Quantizer examples")
    from ai_edge_litert import interpreter as litert  # pylint: disable=g-import-not-at-top
    interp = litert.Interpreter(model_content=bytes(float_model))
    if key not in interp.get_signature_list():
        raise ConversionError(f"{what}: signature_key={key!r} is not in the float model; it has "
                              f"{sorted(interp.get_signature_list())}")
    inputs = interp.get_signature_runner(key).get_input_details()
    if set(inputs) != set(calibration):
        raise ConversionError(f"{what}: calibration arrays {sorted(calibration)} do not match "
                              f"signature {key!r} inputs {sorted(inputs)}")
    dtypes = {name: np.dtype(detail["dtype"]) for name, detail in inputs.items()}
    samples = [{n: np.asarray(a).astype(dtypes[n], copy=False) for n, a in s.items()}
               for s in as_samples(calibration)]
    return {key: samples}


def _restore_dynamic_shapes(model: bytes) -> tuple[bytes, int]:
    """Copies shape_signature (dynamic dims) onto outputs of QUANTIZE/DEQUANTIZE ops that lost
    it; returns the model and how many of its tensors carry quantization parameters."""
    from ai_edge_litert.tools import flatbuffer_utils  # pylint: disable=g-import-not-at-top
    from ai_edge_quantizer.utils import tfl_flatbuffer_utils as fb  # pylint: disable=g-import-not-at-top
    boundary = {flatbuffer_utils.BuiltinOperator.QUANTIZE, flatbuffer_utils.BuiltinOperator.DEQUANTIZE}
    obj = fb.read_model(model)
    quantized = sum(1 for sg in obj.subgraphs for t in sg.tensors
                    if t.quantization is not None and t.quantization.scale is not None
                    and len(t.quantization.scale))
    if len(model) > 2**31 - 2**24:  # the object API serializes inline; leave huge models alone
        return model, quantized
    changed = False
    for sg in obj.subgraphs:
        for op in sg.operators:  # topological order: chains propagate
            code = flatbuffer_utils.get_builtin_code_from_operator_code(obj.operatorCodes[op.opcodeIndex])
            if code not in boundary or not len(op.inputs) or not len(op.outputs):
                continue
            src, dst = sg.tensors[op.inputs[0]], sg.tensors[op.outputs[0]]
            signature = _dims(src.shapeSignature)
            if (-1 in signature and not _dims(dst.shapeSignature)
                    and _dims(dst.shape) == _dims(src.shape)):
                dst.shapeSignature = list(signature)
                changed = True
    return (bytes(flatbuffer_utils.convert_object_to_bytearray(obj)) if changed else model), quantized


def _dims(value) -> list[int]:
    return [] if value is None else [int(d) for d in value]


@contextlib.contextmanager
def _quiet():
    """Silences AEQ's tqdm calibration bar and its preserve-all-tensors warnings."""
    with contextlib.redirect_stderr(io.StringIO()), warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*experimental_preserve_all_tensors.*")
        yield


def _op_names() -> frozenset[str]:
    from ai_edge_litert.tools import flatbuffer_utils  # pylint: disable=g-import-not-at-top
    from ai_edge_quantizer import qtyping  # pylint: disable=g-import-not-at-top
    builtin = {k for k in vars(flatbuffer_utils.BuiltinOperator) if k.isupper()}
    return frozenset(builtin) | frozenset(m.value for m in qtyping.TFLOperationName if m.value != "*")


def _explain(what: str, error: BaseException) -> str:
    message = str(error)
    if isinstance(error, KeyError):
        message = f"recipe entry lacks key {message}"
    ops = sorted(set(re.findall(r"\b[A-Z][A-Z0-9_]{2,}\b", message)) & _op_names())
    where = f" at op(s) {', '.join(ops)}" if ops else ""
    return f"{what} failed{where}: {type(error).__name__}: {_first_line(message)}{_FALLBACK}"


def _first_line(error: Any) -> str:
    text = str(error).strip()
    return text.splitlines()[0][:500] if text else "(no message)"


__all__ = ["build_recipe", "quantize", "quantize_with_recipe", "NO_QUANTIZE"]
