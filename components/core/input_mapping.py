"""Feeding model input tensors from Example features: one explicit rule per tensor.

Pure numpy. A tensor is fed from the feature of the same name, or from the
feature a configured mapping names. A tensor that cannot be fed is an error
naming the tensor and the features that exist: never a silent default (the
trap TFMA's tf_lite path falls into). Integer inputs are quantized with
rounding and clipping.
"""

from __future__ import annotations

import dataclasses
from typing import Mapping, Sequence

import numpy as np


class InputMappingError(ValueError):
    """A model input cannot be fed from the available features."""


@dataclasses.dataclass(frozen=True)
class TensorSpec:
    """What a model input or output looks like (from a SavedModel or LiteRT signature)."""

    name: str
    dtype: str                      # numpy dtype name: float32, int8, uint8, ...
    shape: tuple[int, ...]          # -1 where the dimension is dynamic
    scale: float = 0.0              # quantization scale (0: not quantized)
    zero_point: int = 0

    @property
    def quantized(self) -> bool:
        return self.scale != 0.0 and np.issubdtype(np.dtype(self.dtype), np.integer)


def resolve(tensors: Sequence[TensorSpec], features: Sequence[str],
            explicit: Mapping[str, str] | None = None) -> dict[str, str]:
    """Maps every input tensor name to the feature that feeds it."""
    explicit = dict(explicit or {})
    names = [t.name for t in tensors]
    unknown = sorted(set(explicit) - set(names))
    if unknown:
        raise InputMappingError(
            f"input_mapping names tensor(s) {unknown} that the model does not have; "
            f"model inputs are {sorted(names)}")
    mapping, unfed = {}, []
    for name in names:
        feature = explicit.get(name, name)
        if feature in features:
            mapping[name] = feature
        else:
            unfed.append((name, feature))
    if unfed:
        raise InputMappingError(_unfed_message(unfed, explicit, features))
    return mapping


def _unfed_message(unfed, explicit: Mapping[str, str], features: Sequence[str]) -> str:
    """Every tensor that cannot be fed, at once, with an input_mapping ready to paste."""
    lines = []
    for name, feature in unfed:
        how = (f"input_mapping maps it to feature {feature!r}" if name in explicit
               else "no feature has that name and input_mapping does not map it")
        lines.append(f"model input tensor {name!r} cannot be fed: {how}")
    paste = ", ".join(f"{name!r}: '<feature>'" for name, _ in unfed)
    return (f"{len(unfed)} model input(s) cannot be fed: " + "; ".join(lines) +
            f". Available features: {sorted(features)}. Fix: set input_mapping={{{paste}}}")


# A string tensor's dtype as TensorFlow ('string', numpy 'object') and LiteRT (numpy bytes_: 'bytes') name it
STRING_DTYPES = ("object", "string", "bytes")


def object_problem(values: np.ndarray) -> str:
    """Why a decoded feature column is not numeric: strings, or rows of different lengths."""
    if values.ndim == 2:   # every example has the same number of values: they are bytes
        sample = next((v for v in values.reshape(-1) if v is not None), b"")
        return f"holds strings (bytes, e.g. {bytes(sample)[:20]!r}), not numbers"
    return "is missing in some examples or has a varying number of values"


def to_tensor(values: np.ndarray, spec: TensorSpec, feature: str) -> np.ndarray:
    """Reshapes a [batch, ...] feature array to the tensor's shape and dtype."""
    if values.dtype == object and spec.dtype not in STRING_DTYPES:
        raise InputMappingError(
            f"feature {feature!r} (feeding model input {spec.name!r}, {spec.dtype}) {object_problem(values)}; "
            f"the model needs {spec.dtype} values, the same number in every example (map another feature "
            f"in input_mapping, fix the data, or convert it in a Transform step)")
    batch = values.shape[0]
    inner = tuple(spec.shape[1:])
    if any(d < 0 for d in inner):
        target = (batch,) + values.shape[1:]
    else:
        target = (batch,) + inner
        if int(np.prod(inner, dtype=np.int64)) != int(np.prod(values.shape[1:], dtype=np.int64)):
            raise InputMappingError(
                f"feature {feature!r} has {int(np.prod(values.shape[1:]))} values per example "
                f"but model input {spec.name!r} needs shape {list(spec.shape)} "
                f"({int(np.prod(inner))} values); map the right feature in input_mapping")
    array = values.reshape(target)
    if spec.dtype in STRING_DTYPES:
        return array.astype(object, copy=False)   # bytes: a raw string feature a Transform or a lookup takes
    if spec.quantized:
        return quantize(array.astype(np.float32), spec)
    return array.astype(spec.dtype, copy=False)


def quantize(x: np.ndarray, spec: TensorSpec) -> np.ndarray:
    """Float -> integer tensor with the tensor's scale/zero point, rounding and clipping."""
    info = np.iinfo(spec.dtype)
    q = np.round(x / spec.scale) + spec.zero_point
    return np.clip(q, info.min, info.max).astype(spec.dtype)


def dequantize(q: np.ndarray, spec: TensorSpec) -> np.ndarray:
    """Integer output -> float with the tensor's scale/zero point (float outputs pass through)."""
    if not spec.quantized:
        return q.astype(np.float32, copy=False)
    return (q.astype(np.float32) - spec.zero_point) * spec.scale


def feed(batch: Mapping[str, np.ndarray], tensors: Sequence[TensorSpec],
         mapping: Mapping[str, str]) -> dict[str, np.ndarray]:
    """The input dict for one batch: every tensor fed from its mapped feature."""
    missing = sorted({mapping[t.name] for t in tensors} - set(batch))
    if missing:
        raise InputMappingError(f"feature(s) {missing} feeding the model are absent from every example "
                                f"of a batch (features there: {sorted(batch)}); every example needs them")
    return {t.name: to_tensor(batch[mapping[t.name]], t, mapping[t.name]) for t in tensors}
