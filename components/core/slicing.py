"""Slices of a batch by feature value (pure numpy).

A slice is typed by its columns: () for the whole batch, ((feature, value),) for a
single feature's slice and ((feature, value), ...) for a crossed slice, in the order
of its cross (EvaluationConfig.slice_features). Its display key, the key of
EvaluationResult.slices, is "" for the whole batch, "<feature>=<value>" for a single
feature and "<f1>=<v1> & <f2>=<v2>" for a cross (`key_of`, the one place the format
is defined). A slice feature must hold at most one value per example; examples
without it fall into its "<missing>" value (in a cross too), so no example silently
disappears.
"""

from __future__ import annotations

from typing import Iterable, Iterator, Mapping, Sequence

import numpy as np

from tfx_edge.schemas import names
from tfx_edge.schemas.evaluation import SliceFeature, cross_of

OVERALL = names.OVERALL
OVERALL_COLUMNS: tuple[tuple[str, str], ...] = ()
MISSING = "<missing>"
ANY = "*"                    # a feature's value in the name of a slice of every value (a failed check)
CROSS = " & "                # between the columns of a crossed slice's key

Columns = tuple[tuple[str, str], ...]


class SliceError(ValueError):
    """A slice feature that cannot slice (several values per example)."""


def key(feature: str, value: str) -> str:
    return f"{feature}={value}"


def key_of(columns: Iterable[Sequence[str]]) -> str:
    """The display key of a slice's columns: "" (overall), "f=v", or "f1=v1 & f2=v2" in the cross's order."""
    return CROSS.join(key(feature, value) for feature, value in columns)


def columns_of(summary: Mapping) -> Columns:
    """The typed columns of a slice's summary (scoring.summarize; lists once read back from JSON)."""
    return tuple((str(f), str(v)) for f, v in summary.get("columns", ()))


def matches(columns: Columns, cross: Sequence[str], values: Sequence[str | None]) -> bool:
    """Whether a slice is one of the cross `cross` with `values` (None: any value of that feature)."""
    return (tuple(f for f, _ in columns) == tuple(cross)
            and all(want is None or want == got for (_, got), want in zip(columns, values)))


def masks(features: Mapping[str, np.ndarray], slice_features: Sequence[SliceFeature],
          n: int) -> Iterator[tuple[Columns, np.ndarray]]:
    """(slice columns, boolean row mask) for the whole batch and each value (each combination of
    values, for a cross) of each slice_features entry, in sorted value order."""
    yield OVERALL_COLUMNS, np.ones(n, dtype=bool)
    for entry in slice_features:
        cross = cross_of(entry)
        yield from _cross_masks(cross, [values_of(features.get(f), f, n) for f in cross])


def _cross_masks(cross: tuple[str, ...], values: list[np.ndarray]) -> Iterator[tuple[Columns, np.ndarray]]:
    """The combinations of the features' values that occur, each with its rows (one code per row)."""
    uniques, codes = zip(*(np.unique(v, return_inverse=True) for v in values))
    shape = tuple(len(u) for u in uniques)
    if not all(shape):
        return
    code = np.ravel_multi_index([c.reshape(-1) for c in codes], shape)
    for c in np.unique(code):
        index = np.unravel_index(c, shape)
        yield tuple((f, str(u[i])) for f, u, i in zip(cross, uniques, index)), code == c


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
