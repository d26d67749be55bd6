"""The Beam part of the EdgeEvaluator: score an Examples split with several models.

Work units are pieces of record files: byte ranges of plain TFRecord files (sized so that
there are many more units than workers, see `units`), or every n-th batch of a GZIP file
(which cannot be entered mid-stream). They are reshuffled across workers. Each worker
process loads its models once per job (LiteRT interpreters, or a SavedModel), reads its
unit without TensorFlow (core/tfrecord.py), decodes with tfx-bsl on a helper thread while
LiteRT runs the previous batch, runs every model on the same batch and sums statistics
locally; Beam only combines one small dict per unit. A byte range that does not start at 0
finds its first record by scanning and can sync onto frames inside a record's data (a bytes
feature that holds a TFRecord file): such a range, or one that failed, is read again from the
true record boundary before the units are summed (`ResolveUnits`, tfrecord.resolve), so a
valid file is never refused. The summed statistics are summarized and written as JSON, after
checking that the byte ranges of every file met exactly.

TensorFlow is imported in a worker only for a SAVED_MODEL model (compare_saved_model). Each
worker records its start-up (import and set-up seconds), peak RSS and work in the summary
("workers"). Runs on any Beam runner; on the DaskRunner each unit is one Dask partition.
Knows nothing of TFX artifacts.
"""

from __future__ import annotations

import sys
import time

import apache_beam as beam  # pylint: disable=g-import-not-at-top,wrong-import-position
_BEAM_LOADED = time.perf_counter()

# pylint: disable=g-import-not-at-top,wrong-import-position,g-bad-import-order
import concurrent.futures
import dataclasses
import functools
import gc
import json
import logging
import math
import os
import resource
import socket
import threading
import uuid
from typing import Any, Iterable, Iterator, Mapping

import threadpoolctl

from tfx_edge.components.core import examples, input_mapping, metrics, scoring, single_valued, tfrecord

_MODULES_LOADED = time.perf_counter()
# pylint: enable=g-import-not-at-top,wrong-import-position,g-bad-import-order

TFLITE = "tflite"
SAVED_MODEL = "saved_model"

# Work units: plain files are cut into byte ranges of about total/TARGET_UNITS bytes, at least
# MIN_UNIT_BYTES (fixed costs stay small) and at most MAX_UNIT_BYTES; GZIP files into
# interleaved shards (each inflates the whole file) until there are GZIP_TARGET_UNITS.
TARGET_UNITS = 32
MIN_UNIT_BYTES = 1 << 20
MAX_UNIT_BYTES = 64 << 20
GZIP_TARGET_UNITS = 4

_log = logging.getLogger(__name__)


@dataclasses.dataclass(frozen=True)
class Job:
    models: Mapping[str, tuple[str, str]]   # name -> (TFLITE | SAVED_MODEL, path)
    signature_key: str
    mapping: Mapping[str, str]
    score: scoring.ScoreSpec
    batch_size: int
    num_threads: int = 1
    shards_per_file: int | None = None      # units per file: None chooses (see units)
    contract: Mapping[str, str] = dataclasses.field(default_factory=dict)   # single_valued.fill's


def _read(path: str) -> bytes:
    return tfrecord.read_bytes(path)   # local or any Beam filesystem, without TensorFlow


def make_runner(kind: str, path: str, key: str, num_threads: int):
    if kind == TFLITE:
        from tfx_edge.components.core import litert  # pylint: disable=g-import-not-at-top
        return litert.Runner(_read(path), key, num_threads)
    from tfx_edge.components.core import saved_model  # pylint: disable=g-import-not-at-top
    return saved_model.Runner(path, key)


# --- per-process state: models loaded once per job, start-up facts --------------------------

_LOCK = threading.Lock()
_IDLE: dict[str, list] = {}      # job token -> idle (runners, decoder) sets
_PROCESS: dict[str, Any] = {"import_s": None}    # import seconds of this process's scoring modules (first set-up)
_FACTS: dict[str, dict] = {}     # job token -> this process's facts for that job


def _first_imports() -> float:
    """Imports what scoring needs beyond this module (LiteRT, tfx-bsl), once per process; the
    seconds they and this module's own imports took (apache_beam excluded)."""
    with _LOCK:
        if _PROCESS["import_s"] is None:
            start = time.perf_counter()
            from ai_edge_litert import interpreter  # noqa: F401  pylint: disable=g-import-not-at-top,unused-import
            from tfx_bsl.coders import example_coder  # noqa: F401  pylint: disable=g-import-not-at-top,unused-import
            from tfx_edge.components.core import litert  # noqa: F401  pylint: disable=g-import-not-at-top,unused-import
            _PROCESS["import_s"] = (_MODULES_LOADED - _BEAM_LOADED) + (time.perf_counter() - start)
        return _PROCESS["import_s"]


def _freeze_gc_in_sdk_worker() -> None:
    """In a Beam SDK worker process (started for this job, e.g. the DirectRunner's
    multi_processing workers), moves everything imported so far out of the collector's sight.
    Python's shutdown otherwise garbage-collects apache_beam's ~220k objects, 0.6 s per worker,
    and the DirectRunner stops its workers one after the other. Never in other processes: there
    it could keep garbage alive for as long as they run."""
    main = sys.modules.get("__main__")
    spec = getattr(main, "__spec__", None)
    if getattr(spec, "name", None) == "apache_beam.runners.worker.sdk_worker_main" and not _PROCESS.get("frozen"):
        gc.freeze()
        _PROCESS["frozen"] = True


def _acquire(token: str, job: Job):
    """A (runners, decoder) set of this job for the caller's exclusive use (LiteRT interpreters
    are not thread-safe; a Dask worker may run several tasks at once). Sets of other jobs are
    dropped, so a long-lived worker holds one job's models."""
    with _LOCK:
        for other in [t for t in _IDLE if t != token]:
            del _IDLE[other]
        for other in [t for t in _FACTS if t != token]:
            del _FACTS[other]
        idle = _IDLE.setdefault(token, [])
        if idle:
            return idle.pop(), False
    runners = {name: make_runner(kind, path, job.signature_key, job.num_threads)
               for name, (kind, path) in job.models.items()}
    return (runners, examples.Decoder()), True


def _release(token: str, resources) -> None:
    with _LOCK:
        _IDLE.setdefault(token, []).append(resources)


def _process_uptime() -> float:
    """Seconds since this process started (Linux /proc; 0 elsewhere)."""
    try:
        with open("/proc/self/stat") as f:
            start_ticks = float(f.read().rsplit(")", 1)[1].split()[19])
        with open("/proc/uptime") as f:
            return float(f.read().split()[0]) - start_ticks / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError):
        return 0.0


def _peak_rss_mb() -> float:
    """This process's peak resident memory. VmHWM, not ru_maxrss: on Linux ru_maxrss survives
    fork + exec, so a worker started by a big parent would report the parent's peak."""
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024.0
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


class ScoreUnit(beam.DoFn):
    """One work unit -> the summed statistics of its examples, its span, this worker's facts."""

    def __init__(self, job: Job, token: str | None = None):
        self._job = job
        # This job: a warm worker process does not reuse old models (ResolveUnits's scorer shares it).
        self.token = token or uuid.uuid4().hex

    def setup(self):
        uptime = _process_uptime()
        import_s = _first_imports()
        _freeze_gc_in_sdk_worker()
        start = time.perf_counter()
        self._resources, fresh = _acquire(self.token, self._job)
        self._runners, self._decoder = self._resources
        self._pool = concurrent.futures.ThreadPoolExecutor(max_workers=1)
        with _LOCK:
            facts = _FACTS.get(self.token)
            if facts is None:
                facts = _FACTS[self.token] = {
                    "worker": f"{socket.gethostname()}:{os.getpid()}", "process_uptime_s": round(uptime, 3),
                    "import_s": round(import_s, 3), "setup_s": 0.0, "units": 0, "examples": 0, "busy_s": 0.0}
            if fresh:
                facts["setup_s"] = round(facts["setup_s"] + time.perf_counter() - start, 3)
        self._facts = facts
        if fresh:
            _log.info("EdgeEvaluator scoring worker %s: process up %.2f s, scoring imports %.2f s, models "
                      "loaded in %.2f s, peak RSS %.0f MB", facts["worker"], uptime, import_s,
                      time.perf_counter() - start, _peak_rss_mb())

    def teardown(self):
        pool = getattr(self, "_pool", None)
        if pool is not None:
            pool.shutdown(wait=True)
            _release(self.token, self._resources)
            del self._pool

    def process(self, unit: tuple) -> Iterable[dict]:
        path, size, part = unit
        try:
            total, spans = self.score(path, size, part)
        except Exception as error:  # pylint: disable=broad-except
            if not _entered_by_scanning(part):
                raise
            # It may have synced onto frames inside a record: ResolveUnits reads it again from
            # the true record boundary, where a real error is raised again.
            _log.info("EdgeEvaluator: byte range [%d, %d) of %s failed after a scan (%s: %s); it is "
                      "read again from where the previous range's records end", part[1], part[2], path,
                      type(error).__name__, (str(error).splitlines() or [""])[0][:200])
            failed = tfrecord.Span(part[1], part[2], None, None, 0, f"{type(error).__name__}: {error}"[:500])
            total, spans = None, [failed]
        snapshot = self.snapshot()
        yield {"stats": {} if total is None else {(path,) + tuple(part): total}, "sizes": {path: size},
               "spans": {path: [dataclasses.astuple(s) for s in spans]},
               "workers": {snapshot["worker"]: snapshot}}

    def score(self, path: str, size: int, part: tuple) -> tuple[dict, list[tfrecord.Span]]:
        """The summed statistics of one unit and its spans; this worker's facts count the work."""
        job, count = self._job, 0
        total: dict = {}
        spans: list[tfrecord.Span] = []
        start = time.perf_counter()
        try:
            # The statistics' matrix products are small (slices x a batch): OpenBLAS's threads only
            # contend with LiteRT's and the decoder's, up to 20x slower on a loaded host.
            with threadpoolctl.threadpool_limits(limits=1, user_api="blas"):
                for features, feeds, n in _prefetched(self._pool, self._decode,
                                                      examples.read_unit(path, part, job.batch_size, spans, size)):
                    outputs = {name: runner(feeds[name]) for name, runner in self._runners.items()}
                    total = metrics.merge(total, scoring.all_outputs_stats(features, outputs, job.score))
                    count += n
        finally:
            with _LOCK:
                facts = self._facts
                facts["units"] += 1
                facts["examples"] += count
                facts["busy_s"] = round(facts["busy_s"] + time.perf_counter() - start, 3)
        return total, spans

    def snapshot(self) -> dict:
        """This worker's facts as they are now."""
        with _LOCK:
            facts = self._facts
            facts["peak_rss_mb"] = round(_peak_rss_mb(), 1)
            facts["tensorflow_imported"] = "tensorflow" in sys.modules
            return dict(facts)

    def _decode(self, records: list[bytes]):
        features = single_valued.fill(self._decoder.decode(records), self._job.contract, len(records))
        return features, {name: input_mapping.feed(features, runner.inputs, self._job.mapping)
                          for name, runner in self._runners.items()}, len(records)


def _entered_by_scanning(part: tuple) -> bool:
    return part[0] == "range" and part[1] > 0


class ResolveUnits(beam.DoFn):
    """The combined units -> the same with every plain file's byte ranges resolved (see
    tfrecord.resolve): a range whose records did not begin where the previous range's records
    ended, or that failed, is scored again from that record boundary (unit ("from", offset,
    end)) by a ScoreUnit of the same job, and its statistics replace the range's; then the
    statistics are summed in unit order. Models are loaded only if a range is read again. A
    failure there is the file's own (a corrupt file is an ExamplesError naming it)."""

    def __init__(self, job: Job, token: str):
        self._scorer = ScoreUnit(job, token)
        self._ready = False

    def setup(self):
        self._ready = False

    def teardown(self):
        if self._ready:
            self._scorer.teardown()
            self._ready = False

    def process(self, acc: dict) -> Iterable[dict]:
        acc = {key: dict(value) for key, value in acc.items()}   # Beam's input stays unchanged
        for path in sorted(acc["spans"]):
            spans = [tfrecord.Span(*s) for s in acc["spans"][path]]
            resolved = tfrecord.resolve(spans, functools.partial(self._again, acc, path))
            acc["spans"][path] = [dataclasses.astuple(s) for s in resolved]
        yield {**acc, "stats": _sum_in_unit_order(acc["stats"])}

    def _again(self, acc: dict, path: str, span: tfrecord.Span, at: int) -> tfrecord.Span:
        if not self._ready:
            self._scorer.setup()
            self._ready = True
        _log.info("EdgeEvaluator: byte range [%d, %d) of %s is read again from the record boundary at %d "
                  "(its scan began at %s%s)", span.start, span.end, path, at, span.first,
                  f"; it failed: {span.error[:200]}" if span.error else "")
        total, spans = self._scorer.score(path, acc["sizes"][path], ("from", at, span.end))
        acc["stats"][(path, "range", span.start, span.end)] = total
        snapshot = self._scorer.snapshot()
        known = acc["workers"].get(snapshot["worker"])
        if known is None or known["units"] < snapshot["units"]:
            acc["workers"][snapshot["worker"]] = snapshot
        return spans[0]


def _sum_in_unit_order(stats: dict) -> dict:
    """Statistics summed in sorted unit-key order: bit-identical whatever order a runner combined in."""
    total: dict = {}
    for key in sorted(stats):
        total = metrics.merge(total, stats[key])
    return total


def _prefetched(pool: concurrent.futures.Executor, fn, items: Iterator):
    """fn(item) for each item, the next one read and computed on a helper thread while the
    caller works on the current one (reading and decoding overlap LiteRT invokes)."""
    def step():
        item = next(items, None)
        return None if item is None else fn(item)
    pending = pool.submit(step)
    try:
        while (result := pending.result()) is not None:
            pending = pool.submit(step)
            yield result
    finally:
        pending.cancel()
        if not pending.cancelled():
            pending.exception()   # let the helper finish before `items` is closed


class MergeUnits(beam.CombineFn):
    """Collects every unit's statistics (by unit key; ResolveUnits sums them in unit order),
    byte-range spans, file sizes and the latest facts per worker."""

    def create_accumulator(self):
        return {"stats": {}, "sizes": {}, "spans": {}, "workers": {}}

    def add_input(self, acc, unit):
        acc["stats"].update(unit["stats"])          # {unit key: statistics}
        acc["sizes"].update(unit["sizes"])
        for path, spans in unit["spans"].items():
            acc["spans"].setdefault(path, []).extend(spans)
        for worker, facts in unit["workers"].items():
            if worker not in acc["workers"] or acc["workers"][worker]["units"] < facts["units"]:
                acc["workers"][worker] = facts
        return acc

    def merge_accumulators(self, accumulators):
        total = self.create_accumulator()
        for acc in accumulators:
            self.add_input(total, acc)
        return total

    def extract_output(self, acc):
        return acc


def summarize(acc: dict, score: scoring.ScoreSpec) -> dict:
    """The scoring summary (scoring.summarize) of resolved, summed units (ResolveUnits) plus
    "workers"; the byte ranges must tile each file (the final proof, tfrecord.check_spans)."""
    for path, spans in sorted(acc["spans"].items()):
        if not spans:
            continue
        try:
            tfrecord.check_spans(path, acc["sizes"][path], [tfrecord.Span(*s) for s in spans])
        except tfrecord.RecordError as error:
            raise examples.corrupt_file(path, str(error)) from error
    summary = scoring.summarize(acc["stats"], score)
    summary["workers"] = [acc["workers"][w] for w in sorted(acc["workers"])]
    return summary


def units(files: list[str], shards_per_file: int | None = None) -> list[tuple[str, int, tuple]]:
    """(path, size, part) work units; part is ("range", start, end) for a plain file or
    ("batches", shard, num_shards) for a GZIP file. Sizes come from file metadata only.
    shards_per_file None: plain files in byte ranges of about total / TARGET_UNITS bytes
    (within MIN_UNIT_BYTES..MAX_UNIT_BYTES), GZIP files in enough interleaved shards for
    GZIP_TARGET_UNITS units; n: exactly n byte ranges per plain file (1: each file read whole,
    from its first byte, never by scanning) and n interleaved shards per GZIP file."""
    sizes = {f: tfrecord.size_of(f) for f in sorted(files)}
    plain = [f for f in sizes if not tfrecord.is_gzip(f)]
    zipped = [f for f in sizes if tfrecord.is_gzip(f)]
    unit_bytes = min(MAX_UNIT_BYTES, max(MIN_UNIT_BYTES, math.ceil(sum(sizes[f] for f in plain) / TARGET_UNITS)))
    if shards_per_file is None:
        gzip_shards = math.ceil(GZIP_TARGET_UNITS / len(zipped)) if zipped else 1
    else:
        gzip_shards = shards_per_file
    out = []
    for path, size in sizes.items():
        if path in zipped:
            out += [(path, size, ("batches", s, gzip_shards)) for s in range(gzip_shards)]
            continue
        n = max(1, math.ceil(size / unit_bytes)) if shards_per_file is None else shards_per_file
        out += [(path, size, ("range", size * i // n, size * (i + 1) // n)) for i in range(n)]
    return out


def build(pipeline: beam.Pipeline, files: list[str], job: Job, out_path: str) -> None:
    """Adds the scoring job to `pipeline`; the summary (see summarize) lands in out_path."""
    work = units(files, job.shards_per_file)
    if not work:
        raise ValueError("the scoring job needs at least one record file")
    _one_partition_per_unit_on_dask(pipeline, len(work))
    score, scorer = job.score, ScoreUnit(job)
    _ = (pipeline
         | "Units" >> beam.Create(work)
         | "Spread" >> beam.Reshuffle()
         | "Score" >> beam.ParDo(scorer)
         | "Combine" >> beam.CombineGlobally(MergeUnits()).without_defaults()
         | "Resolve" >> beam.ParDo(ResolveUnits(job, scorer.token))
         | "Summarize" >> beam.Map(lambda acc: json.dumps(summarize(acc, score)))
         | "Write" >> beam.Map(_write, out_path))


def _one_partition_per_unit_on_dask(pipeline: beam.Pipeline, count: int) -> None:
    """The DaskRunner turns Create into Dask bag partitions of 128 elements (one worker would
    get every unit) and Reshuffle into nothing: unless the pipeline options choose a
    partitioning, make each unit its own partition."""
    if type(getattr(pipeline, "runner", None)).__name__ != "DaskRunner":
        return
    from apache_beam.runners.dask.dask_runner import DaskOptions  # pylint: disable=g-import-not-at-top
    options = pipeline._options.view_as(DaskOptions)  # pylint: disable=protected-access
    if not options.npartitions and not options.partition_size:
        options.npartitions = count


def _write(text: str, path: str) -> None:
    """Writes the one summary (idempotent if a runner retries it); any Beam filesystem."""
    from apache_beam.io.filesystems import FileSystems  # pylint: disable=g-import-not-at-top
    with FileSystems.create(path) as f:
        f.write(text.encode())


def read_summary(path: str) -> dict:
    return json.loads(_read(path).decode())
