"""Single-example LiteRT latency: percentiles of many invokes after warm-up."""

from __future__ import annotations

import functools
import importlib.metadata
import os
import platform
import time
from typing import Mapping

import numpy as np

from tfx_edge.components.core import litert

KERNELS = ("xnnpack", "builtin")


def measure(model: bytes, key: str, feeds: Mapping[str, np.ndarray], runs: int,
            num_threads: int = 1, kernel: str = "xnnpack", warmup: int = 20) -> dict:
    """p50 / p95 / mean / min microseconds of one invoke on `feeds` (batch 1, already typed).

    kernel "xnnpack" is LiteRT's default CPU delegate; "builtin" its reference kernels.
    """
    if kernel not in KERNELS:
        raise ValueError(f"kernel={kernel!r} is invalid: use one of {KERNELS}")
    interp = litert.load(model, num_threads=num_threads, xnnpack=kernel == "xnnpack")
    details = interp.get_signature_runner(key).get_input_details()
    for name, value in feeds.items():
        interp.resize_tensor_input(details[name]["index"], list(value.shape), strict=False)
    interp.allocate_tensors()
    for name, value in feeds.items():
        interp.set_tensor(details[name]["index"], value)
    for _ in range(warmup):
        interp.invoke()
    samples = np.empty(runs)
    for i in range(runs):
        start = time.perf_counter_ns()
        interp.invoke()
        samples[i] = (time.perf_counter_ns() - start) / 1e3
    return {"p50_us": float(np.percentile(samples, 50)), "p95_us": float(np.percentile(samples, 95)),
            "mean_us": float(samples.mean()), "min_us": float(samples.min()), "runs": runs,
            "warmup": warmup, "num_threads": num_threads, "kernel": kernel}


@functools.lru_cache(maxsize=1)
def host() -> dict:
    """Where latency was measured: the pipeline host's CPU, not a phone's (see the README on
    measuring on a device with LiteRT's benchmark_model)."""
    model = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as f:
            model = next((line.split(":", 1)[1].strip() for line in f if line.startswith("model name")), model)
    except OSError:
        pass
    return {"cpu": model, "machine": platform.machine(), "cores": os.cpu_count(),
            "litert": importlib.metadata.version("ai-edge-litert"), "system": platform.system(),
            "note": "host latency: measured on the machine that ran the EdgeEvaluator"}
