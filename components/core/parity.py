"""The float32 TFLite reference checked against the Trainer's own signature.

The gate compares the quantized model with the float32 TFLite, so that reference
must compute what the SavedModel computes. On the Quantizer's parity sample
(serialized examples) the Trainer's signature runs as exported (serialized
Examples in, or the dense inputs), the float32 TFLite runs on the derived inputs,
and every output must agree within `tolerance * (1 + max |SavedModel output|)`.
With no examples (a dense signature and no Examples channel) seeded probe inputs
are used instead. NaN or inf anywhere fails. Each single-valued VarLen feature fed dense
(core/single_valued.py) is also checked missing: one sample example is added without it, so
the missing-value contract is verified whether or not the sample has a missing value.
"""

from __future__ import annotations

import numpy as np
import tensorflow as tf

from tfx_edge.components.core import derive, litert


class ParityError(RuntimeError):
    """The float32 TFLite does not compute what the SavedModel computes."""


def check(float_model: bytes, key: str, source_dir: str, derived: derive.Derived, derived_dir: str,
          records: list[bytes] | None, mapping: dict | None, tolerance: float) -> dict:
    """{output: {max_abs_diff, scale}, ...} plus the verdict; raises ParityError beyond tolerance."""
    _, signature = derive.load_signature(source_dir, key)
    if records:
        records = list(records) + without_features(records, derived.single_valued)
        tflite_inputs, _ = derive.inputs_from_records(records, derived, derived_dir, mapping)
        expected = _run_signature(signature, derived, records, tflite_inputs)
        source = "examples"
    elif derived.signature_kind == derive.DENSE:
        tflite_inputs = _probe(derived.inputs)
        expected = _run_signature(signature, derived, None, tflite_inputs)
        source = "probe"
    else:
        raise ParityError(f"signature {key!r} takes serialized Examples but the plan has no parity sample; "
                          f"pass examples=... to the Quantizer")
    got = litert.Runner(float_model, key)(tflite_inputs)
    outputs = {name: _compare(expected[name], got.get(name), name) for name in sorted(expected)}
    worst = max(o["max_abs_diff"] / o["scale"] for o in outputs.values())
    report = {"source": source, "examples": len(next(iter(tflite_inputs.values()))), "tolerance": tolerance,
              "worst_relative_diff": worst, "outputs": outputs, "passed": bool(worst <= tolerance)}
    if not report["passed"]:
        detail = ", ".join(f"{n}: max |diff| {o['max_abs_diff']:.3g}" for n, o in outputs.items())
        raise ParityError(
            f"the float32 TFLite of signature {key!r} does not compute what the SavedModel computes on "
            f"{report['examples']} {source} inputs ({detail}; relative {worst:.3g} > parity_tolerance="
            f"{tolerance:g}): the conversion changed the model, so it cannot serve as the gate's reference. "
            f"Check the signature for ops the converter rewrites, or raise parity_tolerance if the "
            f"difference is expected")
    return report


def without_features(records: list[bytes], features) -> list[bytes]:
    """For each feature, the first record holding it, serialized again without it."""
    out = []
    for feature in features:
        for record in records:
            example = tf.train.Example.FromString(record)
            if feature in example.features.feature:
                del example.features.feature[feature]
                out.append(example.SerializeToString())
                break
    return out


def _run_signature(signature, derived: derive.Derived, records, inputs: dict) -> dict[str, np.ndarray]:
    _, kwargs = signature.structured_input_signature
    if derived.signature_kind == derive.EXAMPLES:
        (name,) = kwargs
        out = signature(**{name: tf.constant(records)})
    else:
        out = signature(**{k: tf.constant(v) for k, v in inputs.items()})
    return {k: v.numpy() for k, v in out.items()}


def _compare(expected: np.ndarray, got: np.ndarray | None, name: str) -> dict:
    if got is None:
        raise ParityError(f"the float32 TFLite has no output {name!r}")
    expected, got = np.asarray(expected, np.float64), np.asarray(got, np.float64)
    if expected.shape != got.shape:
        raise ParityError(f"output {name!r}: SavedModel shape {expected.shape}, float32 TFLite {got.shape}")
    finite = np.isfinite(expected).all() and np.isfinite(got).all()
    diff = float(np.max(np.abs(expected - got), initial=0.0)) if finite else float("inf")
    return {"max_abs_diff": diff, "scale": 1.0 + float(np.max(np.abs(expected), initial=0.0)) if finite else 1.0}


def _probe(specs, batch: int = 16) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(0)
    out = {}
    for spec in specs:
        shape = (batch,) + tuple(max(d, 1) for d in spec.shape[1:])
        if np.issubdtype(np.dtype(spec.dtype), np.integer):
            out[spec.name] = rng.integers(0, 10, size=shape).astype(spec.dtype)
        else:
            out[spec.name] = rng.normal(size=shape).astype(spec.dtype)
    return out
