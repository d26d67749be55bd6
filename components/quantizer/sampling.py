"""The Quantizer's samples of the pipeline's Examples: calibration data and the parity sample.

Both are seeded, one-pass reservoir samples over the split's sorted files, so the
same data and config give the same bytes. Calibration arrays are the derived
model's inputs (for placement 'transformed', Transform's outputs); the parity
sample keeps the serialized records, so the TFLiteExporter can run the Trainer's
own signature on them and check the float32 TFLite against it.
"""

from __future__ import annotations

import io
import itertools
import os

import numpy as np
from absl import logging

from tfx_edge.components import artifacts, io_utils
from tfx_edge.components.core import calibration, derive, examples, holdout
from tfx_edge.schemas import records as records_lib
from tfx_edge.schemas.quantization import QuantizationConfig

PARITY_SAMPLES = 64


def calibrate(config: QuantizationConfig, derived: derive.Derived, derived_dir: str, examples_artifact,
              out_dir: str, exclude: frozenset[str] = frozenset()):
    """Samples calibration data into out_dir; records whose sha256 is in `exclude` are skipped.
    Returns (record, input mapping, arrays, the sampled records)."""
    cal = config.calibration
    files = io_utils.split_files(examples_artifact, cal.split, "calibration.split")
    records, seen = calibration.reservoir_sample(
        holdout.without(examples.iter_records(files), exclude), cal.num_samples, cal.seed)
    if not records:
        held_out = f", after leaving out the {len(exclude)} auto-validation examples" if exclude else ""
        raise examples.ExamplesError(
            f"calibration.split={cal.split!r} holds no examples{held_out} ({len(files)} record file(s): "
            f"{files}); set calibration.split to a split with data, or re-run the ExampleGen that wrote it")
    arrays, mapping = derive.inputs_from_records(records, derived, derived_dir, config.input_mapping)
    arrays = calibration.storable(arrays)   # np.savez below writes them without pickling
    _refuse_nonfinite({k: v for k, v in arrays.items() if k not in derived.single_valued}, cal.split, files)
    buffer = io.BytesIO()
    np.savez(buffer, allow_pickle=False, **arrays)
    io_utils.write_bytes(os.path.join(out_dir, artifacts.CALIBRATION_FILE), buffer.getvalue())
    logging.info("Calibration: %d of %d examples from split %r (seed %d).",
                 len(records), seen, cal.split, cal.seed)
    record = records_lib.CalibrationRecord(
        split=cal.split, seed=cal.seed, requested=cal.num_samples, used=len(records), examples_seen=seen,
        files=tuple(files), sha256=calibration.digest(arrays), file=artifacts.CALIBRATION_FILE,
        excluded_examples=len(exclude))
    return record, mapping, arrays, records


def probe_records(config: QuantizationConfig, examples_artifact, count: int = PARITY_SAMPLES) -> list[bytes] | None:
    """The first `count` examples of calibration.split (None without examples): real data to name the
    Transform layer's outputs by (derive, placement 'transformed')."""
    if examples_artifact is None:
        return None
    files = io_utils.split_files(examples_artifact, config.calibration.split, "calibration.split")
    return list(itertools.islice(examples.iter_records(files), count)) or None


def parity_sample(config: QuantizationConfig, examples_artifact, out_dir: str,
                  records: list[bytes] | None = None) -> records_lib.ParitySample | None:
    """Writes up to PARITY_SAMPLES serialized examples (the calibration sample's first ones, or
    a seeded sample of calibration.split) for the exporter's float32-vs-SavedModel check."""
    if records is None:
        if examples_artifact is None:
            return None
        cal = config.calibration
        files = io_utils.split_files(examples_artifact, cal.split, "calibration.split")
        records, _ = calibration.reservoir_sample(examples.iter_records(files), PARITY_SAMPLES, cal.seed)
    records = list(records[:PARITY_SAMPLES])
    path = os.path.join(out_dir, artifacts.PARITY_FILE)
    io_utils.write_records(path, records)
    return records_lib.ParitySample(file=artifacts.PARITY_FILE, examples=len(records),
                                    split=config.calibration.split,
                                    sha256=records_lib.sha256(io_utils.read_bytes(path)))


def _refuse_nonfinite(arrays, split: str, files) -> None:
    bad = calibration.nonfinite_rows(arrays)
    if bad.any():
        raise examples.ExamplesError(
            f"calibration.split={split!r}: {int(bad.sum())} of {len(bad)} sampled examples have NaN or inf "
            f"in the features feeding the model ({sorted(arrays)}; files {files}); quantization ranges "
            f"would be garbage. Fix or filter those examples (e.g. impute them in a Transform step)")
