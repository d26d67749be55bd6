"""Single-example LiteRT latency: median of many invokes after warm-up."""

from __future__ import annotations

import statistics
import time
from typing import Mapping

import numpy as np

from components.core import litert


def measure(model: bytes, key: str, feeds: Mapping[str, np.ndarray], runs: int,
            num_threads: int = 1, xnnpack: bool = True, warmup: int = 10) -> dict:
    """Median / p90 / min microseconds of one invoke on `feeds` (batch 1, already typed)."""
    interp = litert.load(model, num_threads=num_threads, xnnpack=xnnpack)
    details = interp.get_signature_runner(key).get_input_details()
    for name, value in feeds.items():
        interp.resize_tensor_input(details[name]["index"], list(value.shape), strict=False)
    interp.allocate_tensors()
    for name, value in feeds.items():
        interp.set_tensor(details[name]["index"], value)
    for _ in range(warmup):
        interp.invoke()
    samples = []
    for _ in range(runs):
        start = time.perf_counter_ns()
        interp.invoke()
        samples.append((time.perf_counter_ns() - start) / 1e3)
    samples.sort()
    return {"median_us": statistics.median(samples), "p90_us": samples[int(0.9 * (len(samples) - 1))],
            "min_us": samples[0], "runs": runs, "num_threads": num_threads, "xnnpack": xnnpack}
