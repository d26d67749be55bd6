"""Every benchmark (bench/*_bench.py, found on disk) runs its --quick mode: it exits 0, prints a
table and writes JSON that parses, into --out and never into bench/results/."""

from __future__ import annotations

import json
import os
import pathlib
import re
import subprocess
import sys
import time

import pytest

REPO = pathlib.Path(__file__).resolve().parents[1]
BENCHES = sorted(path.stem for path in (REPO / "bench").glob("*_bench.py"))
COMMON_KEYS = {"machine", "quick", "when"}   # what bench.common.write adds
KEYS = {
    "auto_bench": {"runs"},
    "derive_bench": {"rows", "rounds"},
    "evaluator_bench": {"rows", "scaling", "workers", "fixed_cost_s", "identical_statistics"},
    "pipeline_bench": {"runs", "target_total_s"},
    "reader_bench": {"rows", "rounds", "records", "ranges"},
    "recurrent_bench": {"rows", "rounds", "eval_examples"},
    "techniques_bench": {"results", "runs", "rounds", "eval_examples", "wall_s"},
}
SLOW: set[str] = set()   # over ~60 s in --quick mode: marked e2e
TABLE_RULE = re.compile(r"^-+(  -+)+$", re.MULTILINE)   # the line under bench.common.table's header


def _results() -> dict[str, float]:
    return {p.name: p.stat().st_mtime for p in (REPO / "bench" / "results").glob("*.json")}


@pytest.mark.parametrize("name", [pytest.param(n, marks=pytest.mark.e2e) if n in SLOW else n for n in BENCHES])
def test_quick_mode_runs_prints_a_table_and_writes_json(name, tmp_path):
    before, start = _results(), time.monotonic()
    proc = subprocess.run([sys.executable, "-m", f"bench.{name}", "--quick", "--out", str(tmp_path)], cwd=REPO,
                          capture_output=True, text=True, timeout=600, env=dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3"))
    seconds = time.monotonic() - start
    assert proc.returncode == 0, (f"exit {proc.returncode} after {seconds:.0f} s\n{proc.stdout[-3000:]}\n"
                                  f"{proc.stderr[-3000:]}")
    assert TABLE_RULE.search(proc.stdout), proc.stdout[-3000:]
    written = sorted(tmp_path.glob("*.json"))
    assert written, f"no JSON in --out: write it with bench.common.write(name, data, args)\n{proc.stdout[-2000:]}"
    for path in written:
        data = json.loads(path.read_text())
        assert COMMON_KEYS | KEYS.get(name, set()) <= set(data), sorted(data)
        assert data["quick"] is True
    assert _results() == before, "a --quick run changed bench/results/"
