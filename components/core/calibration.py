"""Seeded, order-stable sampling of representative examples."""

from __future__ import annotations

import hashlib
from typing import Iterable, Mapping, Sequence, TypeVar

import numpy as np

T = TypeVar("T")


def reservoir_sample(items: Iterable[T], k: int, seed: int) -> tuple[list[T], int]:
    """Uniform sample of k items in one pass (Algorithm R), and how many were seen.

    Deterministic for the same items in the same order and the same seed; the
    sample keeps the items' original order.
    """
    if k < 1:
        raise ValueError(f"k={k} is invalid: sample at least one item")
    rng = np.random.default_rng(seed)
    reservoir: list[tuple[int, T]] = []
    seen = 0
    for seen, item in enumerate(items, start=1):
        if len(reservoir) < k:
            reservoir.append((seen, item))
            continue
        j = int(rng.integers(0, seen))
        if j < k:
            reservoir[j] = (seen, item)
    reservoir.sort(key=lambda pair: pair[0])
    return [item for _, item in reservoir], seen


def digest(arrays: Mapping[str, np.ndarray]) -> str:
    """A sha256 over named arrays (names, dtypes, shapes and bytes), for the record."""
    h = hashlib.sha256()
    for name in sorted(arrays):
        a = np.ascontiguousarray(arrays[name])
        h.update(f"{name}|{a.dtype.str}|{a.shape}|".encode())
        h.update(a.tobytes())
    return h.hexdigest()


def storable(arrays: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
    """The arrays with byte strings (object arrays, as tf.Example bytes features decode) as
    fixed-width bytes: np.savez writes them without pickling and digest() reads their values, not
    object pointers. numpy drops a fixed-width value's trailing NUL bytes, so such a value is refused."""
    out = {}
    for name, a in sorted(arrays.items()):
        if a.dtype == object:
            values = [bytes(v) for v in a.reshape(-1)]
            bad = next((v for v in values if v.endswith(b"\0")), None)
            if bad is not None:
                raise ValueError(f"feature {name!r} has the value {bad!r}, which ends with a NUL byte that the "
                                 f"calibration file cannot keep; strip trailing NUL bytes from string features")
            a = np.array(values, dtype=bytes).reshape(a.shape) if values else np.zeros(a.shape, "S1")
        out[name] = a
    return out


def as_samples(arrays: Mapping[str, np.ndarray]) -> list[dict[str, np.ndarray]]:
    """{name: [N, ...]} -> N dicts of {name: [1, ...]} (one converter step each)."""
    names: Sequence[str] = sorted(arrays)
    count = len(arrays[names[0]]) if names else 0
    return [{n: arrays[n][i:i + 1] for n in names} for i in range(count)]


def nonfinite_rows(arrays: Mapping[str, np.ndarray]) -> np.ndarray:
    """A boolean mask of the samples with NaN or inf in any float array."""
    names = sorted(arrays)
    count = len(arrays[names[0]]) if names else 0
    bad = np.zeros(count, dtype=bool)
    for name in names:
        a = arrays[name]
        if np.issubdtype(a.dtype, np.floating):
            bad |= ~np.isfinite(a.reshape(count, -1)).all(axis=1)
    return bad
