"""The missing-value contract of a single-valued VarLen feature fed as a dense [batch, 1] input.

A feature the schema declares with at most one value per example (`value_count.max: 1`, what
TFX's SchemaGen infers with infer_feature_shape=False) is parsed as a sparse tensor by the
serving signature. placement 'embedded' lets the app feed it as one dense [batch, 1] tensor and
rebuilds the sparse tensor inside the .tflite; a missing value is written as:

  * float features: NaN, the quiet NaN float('nan') gives (bits 0x7FC00000; other NaN bit
    patterns are values)
  * integer features: the smallest int64, -9223372036854775808

so a present value equal to that is read as missing. String VarLen features are not fed dense
(LiteRT has no builtin kernel that densifies sparse strings). Pure numpy: the EdgeEvaluator's
workers use it without TensorFlow.
"""

from __future__ import annotations

from typing import Mapping

import numpy as np

from tfx_edge.components.core.input_mapping import STRING_DTYPES

INT_MISSING = np.iinfo(np.int64).min
FLOAT_MISSING_BITS = int(np.float32(np.nan).view(np.int32))   # 0x7FC00000


class SingleValuedError(ValueError):
    """An example holds more than one value of a feature the contract says has at most one."""


def missing_value(dtype: str):
    """What the app feeds for a missing value of a feature of this dtype."""
    if dtype in STRING_DTYPES:
        return b""
    if np.issubdtype(np.dtype(dtype), np.floating):
        return np.float32(np.nan)
    if np.issubdtype(np.dtype(dtype), np.integer):
        return INT_MISSING
    raise ValueError(f"no missing-value convention for dtype {dtype!r}: only string, float and integer features")


def describe(dtype: str) -> str:
    """The convention in words, for messages, the report and the app contract."""
    value = missing_value(dtype)
    if isinstance(value, bytes):
        return "an empty string"
    return "NaN (0x7FC00000)" if np.isnan(value) else str(INT_MISSING)


def fill(features: Mapping[str, np.ndarray], contract: Mapping[str, str], rows: int) -> dict[str, np.ndarray]:
    """The decoded features with each contract feature ({feature: dtype}) as a [rows, 1] array,
    missing values (absent, empty, or the whole column absent) written as missing_value(dtype)."""
    out = dict(features)
    for feature, dtype in sorted(contract.items()):
        out[feature] = _column(features.get(feature), feature, dtype, rows)
    return out


def _column(values: np.ndarray | None, feature: str, dtype: str, rows: int) -> np.ndarray:
    kind = object if dtype in STRING_DTYPES else np.dtype(dtype)
    missing = missing_value(dtype)
    if values is None:
        return np.full((rows, 1), missing, dtype=kind)
    if values.dtype != object:   # every example holds the same number of values
        if values.ndim != 2 or values.shape[1] != 1:
            raise SingleValuedError(_many(feature, values.shape[1] if values.ndim == 2 else values.shape))
        return values.astype(kind, copy=False)
    out = np.empty((rows, 1), dtype=kind)
    for i, row in enumerate(values):
        if row is None or len(row) == 0:
            out[i, 0] = missing
        elif len(row) == 1:
            out[i, 0] = row[0]
        else:
            raise SingleValuedError(_many(feature, len(row)))
    return out


def _many(feature: str, count) -> str:
    return (f"feature {feature!r} holds {count} values in an example, but the model takes it as one value per "
            f"example (the schema's value_count.max is 1); fix the data, or give the schema the real "
            f"value_count and use placement='transformed'")
