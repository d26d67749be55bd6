"""Slices of a batch by feature value (pure numpy).

A slice key is "" for the whole batch and "<feature>=<value>" otherwise. A
slice feature must hold at most one value per example; examples without it
fall into the "<feature>=<missing>" slice, so no example silently disappears.
"""

from __future__ import annotations

from typing import Iterator, Mapping, Sequence

import numpy as np

from tfx_edge.schemas import names

OVERALL = names.OVERALL
MISSING = "<missing>"


class SliceError(ValueError):
    """A slice feature that cannot slice (several values per example)."""


def key(feature: str, value: str) -> str:
    return f"{feature}={value}"


def masks(features: Mapping[str, np.ndarray], slice_features: Sequence[str],
          n: int) -> Iterator[tuple[str, np.ndarray]]:
    """(slice key, boolean row mask) for the whole batch and each value of each feature."""
    yield OVERALL, np.ones(n, dtype=bool)
    for feature in slice_features:
        values = values_of(features.get(feature), feature, n)
        for value in sorted(set(values)):
            yield key(feature, value), values == value


def values_of(column: np.ndarray | None, feature: str, n: int) -> np.ndarray:
    """One string per example: the feature's value, or MISSING."""
    if column is None:
        return np.full(n, MISSING, dtype=object)
    if column.dtype != object or column.ndim == 2:   # dense: the same number of values in every row
        flat = column.reshape(n, -1)
        if flat.shape[1] != 1:
            raise SliceError(f"slice feature {feature!r} has {flat.shape[1]} "
                             f"values per example; slice by a feature with one value")
        unique, inverse = np.unique(flat[:, 0], return_inverse=True)   # text once per value
        return np.array([_text(v) for v in unique], dtype=object)[inverse.reshape(n)]
    out = np.empty(n, dtype=object)
    for i, row in enumerate(column):
        if row is None or len(row) == 0:
            out[i] = MISSING
        elif len(row) == 1:
            out[i] = _text(row[0])
        else:
            raise SliceError(f"slice feature {feature!r} has {len(row)} values in an example; "
                             f"slice by a feature with one value per example")
    return out


def _text(value) -> str:
    if isinstance(value, (bytes, np.bytes_)):
        return value.decode("utf-8", "replace")
    if isinstance(value, (float, np.floating)) and float(value).is_integer():
        return str(int(value))
    return str(value.item() if isinstance(value, np.generic) else value)
