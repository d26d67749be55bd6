"""Wall time of the demo pipeline per component, cold (fresh work dir) and warm (cached).

    .venv/bin/python -m bench.pipeline_bench      (or: make bench)

Per-component times come from ML Metadata (execution create -> last update);
the total is the wall time of LocalDagRunner.run, TF import excluded.
"""

from __future__ import annotations

import shutil
import sys
import tempfile
import time

from bench import common
from tfx_edge.pipelines import run_local, summary


def component_times(metadata_path: str) -> dict[str, float]:
    executions = summary.latest_run_executions(summary.store_for(metadata_path))
    return {node: (e.last_update_time_since_epoch - e.create_time_since_epoch) / 1e3
            for node, e in executions.items()}


def main() -> int:
    work = tempfile.mkdtemp(prefix="tfx-edge-bench-")
    try:
        args = run_local.parse_args(["--work-dir", f"{work}/work", "--serving-dir", f"{work}/serving"])
        runs = {}
        for label in ("cold", "warm"):
            start = time.perf_counter()
            run_local.run(args)
            runs[label] = {"total_s": time.perf_counter() - start,
                           "components_s": component_times(run_local.metadata_path(args)),
                           "states": summary.latest_run(summary.store_for(run_local.metadata_path(args)))}
    finally:
        shutil.rmtree(work, ignore_errors=True)
    names = sorted(runs["cold"]["components_s"], key=lambda n: -runs["cold"]["components_s"][n])
    rows = [[n, runs["cold"]["components_s"][n], runs["warm"]["components_s"].get(n, 0.0),
             runs["warm"]["states"].get(n, "")] for n in names]
    rows.append(["TOTAL (LocalDagRunner.run)", runs["cold"]["total_s"], runs["warm"]["total_s"], ""])
    print(common.table(["component", "cold s", "warm s", "warm state"], rows))
    print("wrote", common.write("pipeline", {"runs": runs, "target_total_s": 120}))
    return 0 if runs["cold"]["total_s"] < 120 else 1


if __name__ == "__main__":
    sys.exit(main())
