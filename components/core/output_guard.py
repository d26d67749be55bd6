"""Outputs the gate does not score, compared with the reference (pure numpy).

A model may have several outputs (a class head and a regression head, say) while the gate's
metrics read one. Every other output is still compared with its float32 reference on every
example: statistics are additive (metrics.merge sums them across batches and units), and
`compare` turns them into the top-1 agreement (outputs of more than one unit) and the relative
RMS difference RMS(candidate - reference) / RMS(reference) (every output), which core/guards
gates on.
"""

from __future__ import annotations

import math
from typing import Mapping

import numpy as np


def stats(candidate: np.ndarray, reference: np.ndarray) -> dict:
    """Additive statistics of one batch of one output: count, non-finite rows, squared sums,
    largest difference and, for outputs of more than one unit, top-1 agreements."""
    a = np.asarray(candidate, dtype=np.float64).reshape(len(candidate), -1)
    b = np.asarray(reference, dtype=np.float64).reshape(len(reference), -1)
    both = np.isfinite(a).all(axis=1) & np.isfinite(b).all(axis=1)
    diff = a[both] - b[both]
    out = {"n": int(len(a)), "nonfinite": int(np.sum(~both)), "sq_diff": float(np.sum(diff * diff)),
           "sq_ref": float(np.sum(b[both] * b[both])), "max_abs_diff": float(np.max(np.abs(diff), initial=0.0))}
    if a.shape[1] > 1:
        out["agree"] = int(np.sum(both & (np.argmax(a, axis=1) == np.argmax(b, axis=1))))
    return out


def batch(outputs: Mapping[str, Mapping[str, np.ndarray]], names: tuple[str, ...], candidate: str,
          references: tuple[str, ...]) -> dict:
    """{output: {reference: stats}} for the outputs `names` of every model that has them."""
    return {name: {ref: stats(outputs[candidate][name], outputs[ref][name])
                   for ref in references if name in outputs[ref]}
            for name in names}


def compare(summed: Mapping) -> dict:
    """The figures of summed statistics: examples, non-finite rows, agreement (multi-unit outputs,
    else None), relative RMS difference (None when the reference is all zeros), largest difference."""
    n, sq_ref = summed["n"], summed["sq_ref"]
    return {"examples": int(n), "nonfinite": int(summed["nonfinite"]),
            "agreement": summed["agree"] / n if "agree" in summed and n else None,
            "relative_rms_difference": math.sqrt(summed["sq_diff"] / sq_ref) if sq_ref > 0 else None,
            "max_abs_difference": float(summed["max_abs_diff"])}
