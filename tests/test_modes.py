"""The mode registry (schemas/modes.py): one entry per mode, the facts the code used to
spread over frozensets and if-chains, and the code that reads it (converter settings,
export op checks, dispatch, auto candidates)."""

import dataclasses
import itertools
import subprocess
import sys

import pytest

from tfx_edge.schemas import AeqConfig, AutoConfig, CalibrationConfig, ConfigError, QatConfig, QuantizationConfig
from tfx_edge.schemas import modes, quantization
from tfx_edge.schemas.modes import MODES, Calibration, Mode, OpCheck, Technique

M = Mode
# The facts as they were before the registry: frozensets and if-chains of the code.
CALIBRATED = {M.INT8, M.INT8_STRICT, M.INT16X8, M.AUTO}         # CALIBRATED_MODES, plus auto
FULL_INTEGER = {M.INT8, M.INT8_STRICT}                          # layer report allowed
INT_IO = {M.INT8_STRICT, M.QAT}
FLOAT_FALLBACK = {M.INT8}                                       # keep_float_ops / keep_float_nodes
OP_CHECKS = {M.DYNAMIC_RANGE: OpCheck.HYBRID_OR_INTEGER, M.INT8: OpCheck.ANY_INTEGER,
             M.INT8_STRICT: OpCheck.BUILTIN_INT8_ONLY, M.FLOAT16: OpCheck.NONE,
             M.INT16X8: OpCheck.ANY_INTEGER, M.QAT: OpCheck.ANY_INTEGER, M.AEQ: OpCheck.NONE,
             M.AUTO: OpCheck.NONE}
TECHNIQUES = {M.QAT: Technique.QAT, M.AEQ: Technique.AEQ, M.AUTO: Technique.SEARCH}
CONVERTER = {  # mode -> (supported_types, supported_ops); every one optimizes
    M.DYNAMIC_RANGE: ((), ()), M.INT8: ((), ()), M.INT8_STRICT: ((), ("TFLITE_BUILTINS_INT8",)),
    M.FLOAT16: (("float16",), ()), M.QAT: ((), ()),
    M.INT16X8: ((), ("EXPERIMENTAL_TFLITE_BUILTINS_ACTIVATIONS_INT16_WEIGHTS_INT8",)),
}
AUTO_CANDIDATES = ("int8_strict", "int8", "int8_selective", "dynamic_range", "float16", "int16x8", "qat")
DEFAULT_AUTO_ORDER = ("int8_strict", "int8", "int8_selective", "dynamic_range", "float16")


def config_for(mode: Mode, **kwargs) -> QuantizationConfig:
    """A valid config of `mode` (its sub-config set)."""
    sub = {M.QAT: {"qat": QatConfig()}, M.AEQ: {"aeq": AeqConfig(recipe="dynamic_wi8_afp32")},
           M.AUTO: {"auto": AutoConfig(max_absolute_drop=0.01)}}.get(mode, {})
    return QuantizationConfig(mode=mode, **sub, **kwargs)


def test_every_mode_has_exactly_one_entry():
    assert list(MODES) == list(Mode)
    assert all(isinstance(spec, modes.ModeSpec) for spec in MODES.values())
    assert quantization.Mode is Mode   # moved, re-exported


def test_schemas_stay_importable_without_tensorflow():
    code = ("import sys, tfx_edge.schemas.modes, tfx_edge.schemas.metric_table, tfx_edge.schemas; "
            "assert 'tensorflow' not in sys.modules")
    subprocess.run([sys.executable, "-c", code], check=True, cwd="/tmp")


@pytest.mark.parametrize("mode", list(Mode))
def test_registry_holds_the_facts_of_the_frozensets(mode):
    spec = MODES[mode]
    assert config_for(mode).needs_calibration == (mode in CALIBRATED)
    assert (spec.calibration == Calibration.ALWAYS) == (mode in CALIBRATED)
    assert spec.full_integer == (mode in FULL_INTEGER)
    assert spec.integer_io == (mode in INT_IO)
    assert spec.float_fallback == (mode in FLOAT_FALLBACK)
    assert spec.op_check == OP_CHECKS[mode]
    assert spec.technique == TECHNIQUES.get(mode, Technique.CONVERTER)
    if mode in CONVERTER:
        assert spec.converter == modes.ConverterSettings(True, *CONVERTER[mode])
    else:
        assert spec.converter is None


@pytest.mark.parametrize("mode", list(Mode))
def test_validation_reads_the_registry(mode):
    layer_report = lambda: config_for(mode, layer_report=True)            # noqa: E731
    keep_float = lambda: config_for(mode, keep_float_ops=("CONV_2D",))    # noqa: E731
    int_io = lambda: config_for(mode, io_dtype="int8")                    # noqa: E731
    for build, allowed in ((layer_report, mode in FULL_INTEGER), (keep_float, mode in FLOAT_FALLBACK),
                           (int_io, mode in INT_IO)):
        if allowed:
            build()
        else:
            with pytest.raises(ConfigError):
                build()
    assert config_for(mode).wants_layer_report == (mode in FULL_INTEGER)


def test_messages_built_from_the_registry_are_unchanged():
    cases = [
        (dict(mode=M.DYNAMIC_RANGE, io_dtype="int8"),
         "io_dtype='int8' is invalid: integer model I/O needs a full-integer mode; set mode='int8_strict' "
         "(or 'qat'), or keep io_dtype='float32' with mode='dynamic_range'"),
        (dict(mode=M.FLOAT16, layer_report=True),
         "layer_report=True is invalid: the per-layer error report needs mode 'int8' or 'int8_strict'"),
        (dict(mode=M.FLOAT16, keep_float_nodes=("a",)),
         "keep_float_ops/keep_float_nodes=('a',) is invalid: keeping layers in float needs mode='int8' "
         "(float fallback); with mode='aeq' use aeq.float_scopes"),
    ]
    for kwargs, message in cases:
        with pytest.raises(ConfigError) as error:
            QuantizationConfig(**kwargs)
        assert str(error.value) == message
    with pytest.raises(ConfigError) as error:
        AutoConfig(max_absolute_drop=0.01, candidates=("int8_selective",))
    assert str(error.value).endswith("is invalid: 'int8_selective' refines 'int8': list 'int8' too")


def test_auto_candidates_come_from_the_registry():
    assert quantization.AUTO_CANDIDATES == modes.auto_candidates() == AUTO_CANDIDATES
    assert quantization.DEFAULT_AUTO_ORDER == modes.auto_candidates(default_only=True) == DEFAULT_AUTO_ORDER
    assert AutoConfig(max_absolute_drop=0.01).candidates == DEFAULT_AUTO_ORDER
    assert modes.candidate_mode("int8_selective") == M.INT8
    assert modes.candidate_mode("aeq:static_wi8_ai8") == M.AEQ
    assert modes.candidate_mode("qat") == M.QAT


@pytest.mark.parametrize("name", AUTO_CANDIDATES + ("aeq:static_wi8_ai8",))
def test_candidate_config_reads_the_registry(name):
    from tfx_edge.components.core import auto_search
    qat = QatConfig(epochs=2)
    base = QuantizationConfig(mode=M.AUTO, calibration=CalibrationConfig(num_samples=7), qat=qat,
                              auto=AutoConfig(max_absolute_drop=0.01, candidates=AUTO_CANDIDATES))
    config = auto_search.candidate_config(name, base, ("n1",))
    assert config.mode == modes.candidate_mode(name) and config.calibration == base.calibration
    assert config.layer_report is False
    assert config.keep_float_nodes == (("n1",) if name == "int8_selective" else ())
    assert config.qat == (qat if name == "qat" else None)
    assert (config.aeq.recipe if config.aeq else None) == (name[4:] if name.startswith("aeq:") else None)


def tiny_converter():
    import tensorflow as tf

    class Tiny(tf.Module):
        @tf.function(input_signature=[tf.TensorSpec([None, 4], tf.float32, name="x")])
        def __call__(self, x):
            return {"y": tf.matmul(x, tf.ones([4, 2]))}
    module = Tiny()
    return tf.lite.TFLiteConverter.from_concrete_functions([module.__call__.get_concrete_function()], module)


@pytest.mark.parametrize("mode", list(Mode))
def test_configure_sets_exactly_the_registry_settings(mode):
    import numpy as np
    import tensorflow as tf
    from tfx_edge.components.core import convert
    io_dtype = "int8" if MODES[mode].integer_io else "float32"
    config = config_for(mode, io_dtype=io_dtype)
    fresh, converter = tiny_converter(), tiny_converter()
    convert.configure(converter, config, {"x": np.zeros((3, 4), np.float32)})
    settings = MODES[mode].converter
    if settings is None:   # untouched
        assert converter.optimizations == fresh.optimizations
        assert converter.representative_dataset is None
        settings = modes.ConverterSettings(optimize=False)
    assert converter.optimizations == ([tf.lite.Optimize.DEFAULT] if settings.optimize else fresh.optimizations)
    assert set(converter.target_spec.supported_types) == (
        {getattr(tf, t) for t in settings.supported_types} or set(fresh.target_spec.supported_types))
    assert set(converter.target_spec.supported_ops) == (
        {getattr(tf.lite.OpsSet, o) for o in settings.supported_ops} or set(fresh.target_spec.supported_ops))
    calibrated = MODES[mode].converter is not None and config.needs_calibration
    assert (converter.representative_dataset is not None) == calibrated
    io = tf.int8 if MODES[mode].converter is not None and io_dtype == "int8" else tf.float32
    assert converter.inference_input_type == converter.inference_output_type == io


def test_configure_refuses_a_calibrated_mode_without_samples():
    from tfx_edge.components.core import convert
    with pytest.raises(convert.ConversionError, match="mode='int16x8' needs calibration samples"):
        convert.configure(tiny_converter(), config_for(M.INT16X8), None)


# Expected messages per op check, for op kinds (float, hybrid, integer) present or not.
STRICT = "strict int8 left op(s)"
NO_INTEGER = "no op was quantized to integer"
ALL_FLOAT = ("dynamic range quantization left every op in float (the converter only quantizes "
             "weight tensors of 1,024 or more values); use mode='int8' for a model this small")


def expected_problems(check: OpCheck, fl: int, hy: int, it: int) -> list[str]:
    out = []
    if check == OpCheck.BUILTIN_INT8_ONLY and (fl or hy):
        out.append(STRICT)
    if check in (OpCheck.ANY_INTEGER, OpCheck.BUILTIN_INT8_ONLY) and not it:
        out.append(NO_INTEGER)
    if check == OpCheck.HYBRID_OR_INTEGER and not (hy or it):
        out.append(ALL_FLOAT)
    return out


@pytest.mark.parametrize("mode", list(Mode))
def test_problems_apply_the_entry_op_check(mode, monkeypatch):
    from tfx_edge.components.core import checks
    config = config_for(mode)
    for fl, hy, it in itertools.product((0, 1), repeat=3):
        desc = {"dynamic_batch": True, "inputs": [], "outputs": [],
                "ops": {"float": fl, "hybrid": hy, "integer": it,
                        "by_op": {"MUL": {"float": fl, "hybrid": hy, "integer": it}}}}
        found = checks.problems(desc, config)
        assert [p[:len(STRICT)] if p.startswith(STRICT) else p for p in found] == \
            expected_problems(OP_CHECKS[mode], fl, hy, it)
        # and it is the entry's check that decides: swap it, the outcome follows
        for other in OpCheck:
            monkeypatch.setitem(MODES, mode, dataclasses.replace(MODES[mode], op_check=other))
            assert len(checks.problems(desc, config)) == len(expected_problems(other, fl, hy, it))
        monkeypatch.undo()


@pytest.mark.parametrize("mode", list(Mode))
def test_quantize_dispatches_on_the_technique(mode, monkeypatch, tmp_path):
    from tfx_edge.components.core import aeq, convert, debugger, quantize
    monkeypatch.setattr(convert, "convert", lambda src, config, cal: f"converter:{src}".encode())
    monkeypatch.setattr(aeq, "quantize_with_recipe", lambda model, config, cal: (b"aeq", ["recipe"]))
    monkeypatch.setattr(debugger, "quantize_with_debugger", lambda src, config, cal, float_model: (b"debugger", "csv"))
    config = config_for(mode, layer_report=False if MODES[mode].full_integer else None)
    technique = MODES[mode].technique
    if technique == Technique.SEARCH:
        with pytest.raises(convert.ConversionError, match="resolved by the Quantizer's search"):
            quantize.quantize("src", config, None, b"float", "qat_dir")
        return
    result = quantize.quantize("src", config, None, b"float", "qat_dir")
    assert result.model == {Technique.AEQ: b"aeq", Technique.QAT: b"converter:qat_dir",
                            Technique.CONVERTER: b"converter:src"}[technique]
    if MODES[mode].full_integer:
        assert quantize.quantize("src", config_for(mode), None, b"", None).model == b"debugger"
