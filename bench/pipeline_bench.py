"""Wall time of the demo pipeline per component, cold (fresh work dir) and warm (cached).

    .venv/bin/python -m bench.pipeline_bench [--quick] [--out DIR]     (or: make bench)

Per-component times come from ML Metadata (execution create -> last update);
the total is the wall time of LocalDagRunner.run, TF import excluded.
--quick: the same two runs with a model trained 20 steps (the gate may refuse it).
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time

from bench import common
from tfx_edge.pipelines import run_local, summary

TARGET_S = 120


def component_times(metadata_path: str) -> dict[str, float]:
    executions = summary.latest_run_executions(summary.store_for(metadata_path))
    return {node: (e.last_update_time_since_epoch - e.create_time_since_epoch) / 1e3
            for node, e in executions.items()}


def cold_and_warm(work: str, quick: bool) -> dict[str, dict]:
    args = run_local.parse_args(["--work-dir", f"{work}/work", "--serving-dir", f"{work}/serving"]
                                + (["--train-steps", "20"] if quick else []))
    runs = {}
    for label in ("cold", "warm"):
        start = time.perf_counter()
        run_local.run(args)
        runs[label] = {"total_s": time.perf_counter() - start,
                       "components_s": component_times(run_local.metadata_path(args)),
                       "states": summary.latest_run(summary.store_for(run_local.metadata_path(args)))}
    return runs


def main(argv: list[str] | None = None) -> int:
    args: argparse.Namespace = common.parser(__doc__).parse_args(argv)
    work = tempfile.mkdtemp(prefix="tfx-edge-bench-")
    try:
        runs = cold_and_warm(work, args.quick)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    cold, warm = runs["cold"], runs["warm"]
    names = sorted(cold["components_s"], key=lambda n: -cold["components_s"][n])
    rows = [[n, cold["components_s"][n], warm["components_s"].get(n, 0.0), warm["states"].get(n, "")]
            for n in names]
    rows.append(["TOTAL (LocalDagRunner.run)", cold["total_s"], warm["total_s"], ""])
    print(common.table(["component", "cold s", "warm s", "warm state"], rows))
    print("wrote", common.write("pipeline", {"runs": runs, "target_total_s": TARGET_S}, args))
    return 0 if cold["total_s"] < TARGET_S else 1


if __name__ == "__main__":
    sys.exit(main())
