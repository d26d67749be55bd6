"""The `tfx-edge` command: run the demo, compile for Vertex / Kubeflow, print a report.

    tfx-edge demo [--example penguin] [--mode int8] ...   # LocalDagRunner, SQLite, bundled data
    tfx-edge vertex --image ... --pipeline-root gs://...   # PipelineJob JSON + KFP PipelineSpec YAML
    tfx-edge report <EdgeEvaluation artifact uri>         # the summary of an existing evaluation
    tfx-edge --version

Importing this module, `--help`, `--version`, `report` and every argument error load no
TensorFlow. The demo prints one line per component as it finishes and the summary; TFX's,
TensorFlow's and the converter's logs (C++ included) go to <work-dir>/logs/<run>.log unless
--verbose.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
import threading
import time
from typing import Iterator, TextIO

import tfx_edge
from tfx_edge.pipelines import compile_vertex, run_local
from tfx_edge.schemas import names, records



def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="tfx-edge", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--version", action="version", version=f"tfx-edge {tfx_edge.__version__}")
    sub = p.add_subparsers(dest="command", required=True)
    run_local.add_demo_args(sub.add_parser("demo", help="run the demo pipeline locally",
                                           formatter_class=argparse.ArgumentDefaultsHelpFormatter))
    compile_vertex.add_vertex_args(sub.add_parser(
        "vertex", help="compile for Vertex AI / Kubeflow (the demo, or your pipeline: --pipeline)",
        description=compile_vertex.__doc__, formatter_class=compile_vertex.HelpFormatter))
    report = sub.add_parser("report", help="print the summary of an EdgeEvaluation artifact")
    report.add_argument("uri", help="the EdgeEvaluation artifact's directory (holds metrics.json)")
    return p


def main(argv: list[str] | None = None) -> int:
    p = parser()
    argv = list(sys.argv[1:] if argv is None else argv)
    args = p.parse_args(argv)
    if args.command == "report":
        return _report(args.uri)
    run_local.check_args(p, args)   # every argument error comes before TensorFlow is imported
    if args.command == "vertex":
        compile_vertex.check_args(args, argv)
        job = compile_vertex.compile_pipeline(args)
        print(f"wrote {job}\nwrote {compile_vertex.spec_path(job)}")
        return 0
    run_local.legacy_keras(args)
    return _demo(args)


def _report(uri: str) -> int:
    from tfx_edge.pipelines import evaluation_text  # pylint: disable=g-import-not-at-top  (TF-free)
    path = os.path.join(uri, names.METRICS_FILE)
    try:
        evaluation = evaluation_text.read_evaluation(path)
    except records.RecordError as error:
        print(f"tfx-edge report: {str(error).splitlines()[0]}", file=sys.stderr)
        return 2
    print(evaluation_text.render({}, evaluation, None, os.path.join(uri, names.HTML_REPORT_FILE)))
    return 0 if evaluation.blessed else 1


def _demo(args: argparse.Namespace) -> int:
    if args.verbose:
        print(run_local.run(args))
        return 0
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    log = os.path.join(args.work_dir, "logs", time.strftime("%Y%m%d-%H%M%S") + ".log")
    os.makedirs(os.path.dirname(log), exist_ok=True)
    progress = Progress()
    print(f"tfx-edge demo: {args.example} pipeline, logs in {log}", flush=True)
    try:
        with _quiet(log, progress):
            try:
                text = run_local.run(args, on_run_id=progress.start)
            finally:
                progress.stop()   # its last lines go out before the terminal is given back
    except Exception as error:  # pylint: disable=broad-except
        print(f"tfx-edge demo FAILED: {type(error).__name__}: {error}\n(see {log})", file=sys.stderr)
        return 1
    print(text)
    return 0


@contextlib.contextmanager
def _quiet(log: str, progress: Progress) -> Iterator[None]:
    """Sends file descriptors 1 and 2 (Python and C++ output) to the log; progress lines keep the
    terminal through a duplicate of the original stdout."""
    from absl import logging  # pylint: disable=g-import-not-at-top
    logging.set_verbosity(logging.ERROR)
    sys.stdout.flush()
    sys.stderr.flush()
    saved = {fd: os.dup(fd) for fd in (1, 2)}
    progress.out = os.fdopen(os.dup(saved[1]), "w", buffering=1)
    with open(log, "ab", buffering=0) as sink:
        for fd in (1, 2):
            os.dup2(sink.fileno(), fd)
        try:
            yield
        finally:
            sys.stdout.flush()
            sys.stderr.flush()
            for fd, copy in saved.items():
                os.dup2(copy, fd)
                os.close(copy)
            progress.out.close()
            progress.out = sys.stdout


class Progress:
    """Polls ML Metadata for the run's executions and prints one line per finished component."""

    def __init__(self) -> None:
        self.out: TextIO = sys.stdout
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._printed: set[str] = set()

    def start(self, run_id: str, metadata_path: str) -> None:
        self._thread = threading.Thread(target=self._poll, args=(run_id, metadata_path), daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()

    def _poll(self, run_id: str, metadata_path: str) -> None:
        while True:
            done = self._stop.is_set()
            with contextlib.suppress(Exception):   # the store may not exist yet, or be locked
                self._report(run_id, metadata_path)
            if done:
                return
            self._stop.wait(0.5)

    def _report(self, run_id: str, metadata_path: str) -> None:
        from tfx_edge.pipelines import summary  # pylint: disable=g-import-not-at-top
        if not os.path.exists(metadata_path):
            return
        executions = summary.latest_run_executions(summary.store_for(metadata_path), run_id)
        for node, execution in sorted(executions.items(), key=lambda kv: kv[1].last_update_time_since_epoch):
            state = summary.state_name(execution)
            if node in self._printed or state not in summary.FINISHED_STATES:
                continue
            self._printed.add(node)
            seconds = (execution.last_update_time_since_epoch - execution.create_time_since_epoch) / 1e3
            print(f"  {node:<34} {state:<9} {seconds:6.1f} s", file=self.out, flush=True)


if __name__ == "__main__":
    sys.exit(main())
