"""The Beam part of the EdgeEvaluator: score an Examples split with two TFLite models.

Records are batched, decoded with tfx-bsl, fed by the input mapping and run
through the quantized model and the float32 reference in LiteRT; per-batch
counts are summed with a CombineFn. Knows nothing of TFX artifacts.
"""

from __future__ import annotations

import dataclasses
import json
import os
from typing import Iterable, Mapping

import apache_beam as beam
import numpy as np

from components.core import examples, input_mapping, litert, metrics


@dataclasses.dataclass(frozen=True)
class Job:
    quant_path: str
    float_path: str
    signature_key: str
    mapping: Mapping[str, str]
    label_feature: str
    output_name: str
    num_classes: int
    batch_size: int
    num_threads: int = 1


def _read(path: str) -> bytes:
    import tensorflow as tf  # pylint: disable=g-import-not-at-top
    with tf.io.gfile.GFile(path, "rb") as f:
        return f.read()


class ScoreBatch(beam.DoFn):
    """One batch of serialized Examples -> metrics.Counts."""

    def __init__(self, job: Job):
        self._job = job

    def setup(self):
        self._quant = litert.Runner(_read(self._job.quant_path), self._job.signature_key,
                                    self._job.num_threads)
        self._float = litert.Runner(_read(self._job.float_path), self._job.signature_key,
                                    self._job.num_threads)
        self._decoder = examples.Decoder()

    def process(self, records: list[bytes]) -> Iterable[metrics.Counts]:
        job = self._job
        features = self._decoder.decode(records)
        if job.label_feature not in features:
            raise metrics.LabelError(
                f"label_feature={job.label_feature!r} is not in the examples; features are "
                f"{sorted(features)}. Set EvaluationConfig.label_feature")
        labels = metrics.labels_of(features[job.label_feature], job.num_classes, job.label_feature)
        quant = self._quant(input_mapping.feed(features, self._quant.inputs, job.mapping))
        ref = self._float(input_mapping.feed(features, self._float.inputs, job.mapping))
        yield metrics.batch_counts(labels, quant[job.output_name], ref[job.output_name],
                                   job.num_classes)


class SumCounts(beam.CombineFn):
    def __init__(self, num_classes: int):
        self._classes = num_classes

    def create_accumulator(self):
        return metrics.Counts.zeros(self._classes)

    def add_input(self, acc, counts):
        return acc + counts

    def merge_accumulators(self, accumulators):
        total = self.create_accumulator()
        for acc in accumulators:
            total = total + acc
        return total

    def extract_output(self, acc):
        return acc


def _to_json(counts: metrics.Counts) -> str:
    return json.dumps({"confusion_quant": counts.confusion_quant.tolist(),
                       "confusion_float": counts.confusion_float.tolist(),
                       "agree": counts.agree, "nonfinite_quant": counts.nonfinite_quant,
                       "nonfinite_float": counts.nonfinite_float})


def counts_from_json(text: str) -> metrics.Counts:
    d = json.loads(text)
    return metrics.Counts(np.asarray(d["confusion_quant"], dtype=np.int64),
                          np.asarray(d["confusion_float"], dtype=np.int64),
                          d["agree"], d["nonfinite_quant"], d["nonfinite_float"])


def build(pipeline: beam.Pipeline, files: list[str], job: Job, out_path: str) -> None:
    """Adds the scoring job to `pipeline`; the summed counts land in out_path as JSON."""
    compression = (beam.io.filesystem.CompressionTypes.GZIP
                   if examples.compression_of(files) == "GZIP"
                   else beam.io.filesystem.CompressionTypes.UNCOMPRESSED)
    _ = (pipeline
         | "Files" >> beam.Create(files)
         | "Read" >> beam.io.ReadAllFromTFRecord(compression_type=compression)
         | "Batch" >> beam.BatchElements(min_batch_size=job.batch_size, max_batch_size=job.batch_size)
         | "Score" >> beam.ParDo(ScoreBatch(job))
         | "Sum" >> beam.CombineGlobally(SumCounts(job.num_classes))
         | "ToJson" >> beam.Map(_to_json)
         | "Write" >> beam.io.WriteToText(os.path.splitext(out_path)[0],
                                          file_name_suffix=os.path.splitext(out_path)[1],
                                          shard_name_template=""))
