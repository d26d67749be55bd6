"""Selective int8 quantization and the per-layer error report, via TF's QuantizationDebugger.

The debugger calibrates once, then (a) re-quantizes with denylisted ops/nodes
left in float (`keep_float_ops` / `keep_float_nodes`) and (b) runs a debug
model on the calibration samples to measure each quantized layer's error
(RMSE/scale and friends) against its float counterpart.
"""

from __future__ import annotations

import io
from typing import Mapping

import numpy as np
import tensorflow as tf

from tfx_edge.components.core import convert, graph_cut, litert
from tfx_edge.schemas.modes import MODES
from tfx_edge.schemas.quantization import QuantizationConfig


def _debugger(source_dir: str, config: QuantizationConfig,
              calibration: Mapping[str, np.ndarray], float_model: bytes):
    """float_model: the float32 TFLite of source_dir (its node names and input order)."""
    converter = convert.configure(convert.converter_for(source_dir, config.signature_key),
                                  config, calibration)
    ops, nodes = _denylists(float_model, config)
    options = tf.lite.experimental.QuantizationDebugOptions(
        layer_direct_compare_metrics={"trimmed_nsr": trimmed_nsr},
        denylisted_ops=ops or None, denylisted_nodes=nodes or None)
    order = litert.input_order(float_model, config.signature_key)
    try:
        return tf.lite.experimental.QuantizationDebugger(
            converter=converter, debug_dataset=convert.representative_lists(calibration, order),
            debug_options=options)
    except Exception as error:  # calibration runs the converter
        raise convert.ConversionError(convert.explain(f"with mode={config.mode.value!r}", str(error))) from error


def _denylists(model: bytes, config: QuantizationConfig) -> tuple[list[str], list[str]]:
    """keep_float_ops / keep_float_nodes checked against the model: a name that matches nothing would
    silently quantize what was meant to stay float. Node names as the layer report shows them; a
    name without the frozen graph's call prefix is accepted too."""
    if not (config.keep_float_ops or config.keep_float_nodes):
        return [], []
    interp = litert.load(model)
    tensors = {t["name"] for t in interp.get_tensor_details()}
    op_names = set(litert.op_summary(model)["by_op"])
    unknown_ops = sorted(set(config.keep_float_ops) - op_names)
    if unknown_ops:
        raise convert.ConversionError(f"keep_float_ops={unknown_ops}: no such op in the model; it has "
                                      f"{sorted(op_names)}")
    nodes = [n if n in tensors else ";".join(graph_cut.CALL_PREFIX + part for part in n.split(";"))
             for n in config.keep_float_nodes]
    unknown = [n for n, m in zip(config.keep_float_nodes, nodes) if m not in tensors]
    if unknown:
        raise convert.ConversionError(
            f"keep_float_nodes={unknown}: no such node in the model; use names from layer_report.csv "
            f"(tensor_name column), e.g. {sorted(tensors)[:5]}")
    return list(config.keep_float_ops), nodes


def trimmed_nsr(float_values, quant_values, scale: float, zero_point: int) -> float:
    """Quantization noise / signal power of a layer's output, ignoring its largest 1% of
    magnitudes. A few outlier activations set the int8 scale and crush everything else:
    RMSE/scale looks normal then (the error is bounded by the scale), this does not."""
    with np.errstate(invalid="ignore", over="ignore"):
        f = np.asarray(float_values, dtype=np.float64).ravel()
        q = (np.asarray(quant_values, dtype=np.float64).ravel() - zero_point) * scale
    if f.size == 0 or not np.isfinite(f).all():
        return float("nan")   # the debugger averages with nanmean
    keep = np.abs(f) <= np.quantile(np.abs(f), 0.99)
    signal = float(np.mean(f[keep] ** 2)) if keep.any() else 0.0
    return float(np.mean((f[keep] - q[keep]) ** 2) / signal) if signal > 0 else 0.0


def layer_report(debugger) -> str:
    """CSV of per-layer statistics, sorted worst first by RMSE/scale."""
    debugger.run()
    buffer = io.StringIO()
    debugger.layer_statistics_dump(buffer)
    return _sorted_csv(buffer.getvalue())


def _sorted_csv(text: str) -> str:
    lines = [line for line in text.splitlines() if line.strip()]
    if len(lines) < 2:
        return text
    header = lines[0].split(",")
    if "mean_squared_error" not in header or "scale" not in header:
        return text
    err, scale = header.index("mean_squared_error"), header.index("scale")

    def rmse_over_scale(line: str) -> float:
        cells = line.split(",")
        try:
            return float(np.sqrt(float(cells[err])) / float(cells[scale]))
        except (ValueError, ZeroDivisionError, IndexError):
            return float("-inf")
    body = sorted(lines[1:], key=rmse_over_scale, reverse=True)
    return "\n".join([lines[0] + ",rmse_over_scale"] +
                     [f"{line},{rmse_over_scale(line):.6g}" for line in body]) + "\n"


def layer_report_of(source_dir: str, config: QuantizationConfig,
                    calibration: Mapping[str, np.ndarray], float_model: bytes) -> str:
    """The per-layer report alone (no model kept): what mode 'auto' ranks layers by."""
    return layer_report(_debugger(source_dir, config, calibration, float_model))


def quantize_with_debugger(source_dir: str, config: QuantizationConfig,
                           calibration: Mapping[str, np.ndarray], float_model: bytes) -> tuple[bytes, str | None]:
    """(model bytes, layer report CSV or None) for int8 modes with debugging / denylists."""
    debugger = _debugger(source_dir, config, calibration, float_model)
    if MODES[config.mode].float_fallback and (config.keep_float_ops or config.keep_float_nodes):
        model = bytes(debugger.get_nondebug_quantized_model())
    else:
        model = convert.convert(source_dir, config, calibration)
    report = layer_report(debugger) if config.wants_layer_report else None
    return model, report
