"""A seeded, order-independent held-out subset of a split (pure).

Each record gets a pseudo-random key from sha256(seed, record bytes); the
subset is the records with key < fraction, at most `max_examples` of them
(smallest keys first). The same records and seed always give the same subset,
whatever the file order or sharding, and the calibration sampler can exclude it.
"""

from __future__ import annotations

import hashlib
import heapq
from typing import Iterable


def _key(record: bytes, seed: int) -> float:
    digest = hashlib.sha256(seed.to_bytes(8, "little", signed=True) + record).digest()
    return int.from_bytes(digest[:8], "little") / 2.0 ** 64


def select(records: Iterable[bytes], fraction: float, max_examples: int, seed: int) -> tuple[list[bytes], int]:
    """(subset in key order, records seen)."""
    heap: list[tuple[float, bytes]] = []   # max-heap on key via negation
    seen = 0
    for seen, record in enumerate(records, start=1):  # noqa: B007 (seen is returned: the count)
        key = _key(record, seed)
        if key >= fraction:
            continue
        if len(heap) < max_examples:
            heapq.heappush(heap, (-key, record))
        elif -heap[0][0] > key:
            heapq.heapreplace(heap, (-key, record))
    return [record for _, record in sorted(heap, key=lambda pair: -pair[0])], seen


def digests(records: Iterable[bytes]) -> frozenset[str]:
    return frozenset(hashlib.sha256(r).hexdigest() for r in records)


def without(records: Iterable[bytes], excluded: frozenset[str]) -> Iterable[bytes]:
    """The records whose sha256 is not in `excluded` (keeps calibration off the subset)."""
    for record in records:
        if not excluded or hashlib.sha256(record).hexdigest() not in excluded:
            yield record
