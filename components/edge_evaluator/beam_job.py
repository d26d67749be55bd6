"""The Beam part of the EdgeEvaluator: score an Examples split with several models.

Work units are (record file, shard) pairs, reshuffled across workers. Each
worker sets its models up once (LiteRT interpreters, or a SavedModel), reads
its unit in batches with tf.data, decodes them with tfx-bsl, runs every model
on the same batch and sums statistics locally; Beam only combines one small
dict per unit. The summed statistics are summarized and written as JSON.
Knows nothing of TFX artifacts.
"""

from __future__ import annotations

import concurrent.futures
import dataclasses
import json
from typing import Iterable, Iterator, Mapping

import apache_beam as beam

from tfx_edge.components.core import examples, input_mapping, litert, metrics, scoring

TFLITE = "tflite"
SAVED_MODEL = "saved_model"


@dataclasses.dataclass(frozen=True)
class Job:
    models: Mapping[str, tuple[str, str]]   # name -> (TFLITE | SAVED_MODEL, path)
    signature_key: str
    mapping: Mapping[str, str]
    score: scoring.ScoreSpec
    batch_size: int
    num_threads: int = 1
    shards_per_file: int = 1


def _read(path: str) -> bytes:
    import tensorflow as tf  # pylint: disable=g-import-not-at-top
    with tf.io.gfile.GFile(path, "rb") as f:
        return f.read()


def make_runner(kind: str, path: str, key: str, num_threads: int):
    if kind == TFLITE:
        return litert.Runner(_read(path), key, num_threads)
    from tfx_edge.components.core import saved_model  # pylint: disable=g-import-not-at-top
    return saved_model.Runner(path, key)


class ScoreUnit(beam.DoFn):
    """One (file, shard) work unit -> the summed statistics of its examples."""

    def __init__(self, job: Job):
        self._job = job

    def setup(self):
        job = self._job
        self._runners = {name: make_runner(kind, path, job.signature_key, job.num_threads)
                         for name, (kind, path) in job.models.items()}
        self._decoder = examples.Decoder()

    def process(self, unit: tuple[str, int]) -> Iterable[dict]:
        path, shard = unit
        job, total = self._job, {}
        for features, feeds in _prefetched(self._decode, examples.read_batches(
                path, shard, job.shards_per_file, job.batch_size)):
            outputs = {name: runner(feeds[name])[job.score.output_name]
                       for name, runner in self._runners.items()}
            total = metrics.merge(total, scoring.batch_stats(features, outputs, job.score))
        yield total

    def _decode(self, records: list[bytes]):
        features = self._decoder.decode(records)
        return features, {name: input_mapping.feed(features, runner.inputs, self._job.mapping)
                          for name, runner in self._runners.items()}


def _prefetched(fn, items: Iterator):
    """fn(item) for each item, the next one computed on a helper thread while the caller
    works on the current one (reading and decoding overlap LiteRT invokes)."""
    with concurrent.futures.ThreadPoolExecutor(max_workers=1) as pool:
        def step():
            item = next(items, None)
            return None if item is None else fn(item)
        pending = pool.submit(step)
        while (result := pending.result()) is not None:
            pending = pool.submit(step)
            yield result


class MergeStats(beam.CombineFn):
    def create_accumulator(self):
        return {}

    def add_input(self, acc, stats):
        return metrics.merge(acc, stats)

    def merge_accumulators(self, accumulators):
        total = {}
        for acc in accumulators:
            total = metrics.merge(total, acc)
        return total

    def extract_output(self, acc):
        return acc


def units(files: list[str], shards_per_file: int) -> list[tuple[str, int]]:
    return [(f, s) for f in sorted(files) for s in range(shards_per_file)]


def build(pipeline: beam.Pipeline, files: list[str], job: Job, out_path: str) -> None:
    """Adds the scoring job to `pipeline`; the summary (scoring.summarize) lands in out_path."""
    _ = (pipeline
         | "Units" >> beam.Create(units(files, job.shards_per_file))
         | "Spread" >> beam.Reshuffle()
         | "Score" >> beam.ParDo(ScoreUnit(job))
         | "Sum" >> beam.CombineGlobally(MergeStats())
         | "Summarize" >> beam.Map(lambda stats: json.dumps(scoring.summarize(stats, job.score)))
         | "Write" >> beam.Map(_write, out_path))


def _write(text: str, path: str) -> None:
    """Writes the one summary (idempotent if a runner retries it); any Beam filesystem."""
    from apache_beam.io.filesystems import FileSystems  # pylint: disable=g-import-not-at-top
    with FileSystems.create(path) as f:
        f.write(text.encode())


def read_summary(path: str) -> dict:
    return json.loads(_read(path).decode())
