"""Shared bits of the benchmarks: the --quick / --out arguments, a table printer and a JSON
writer with machine facts.

Every bench/<name>_bench.py takes --quick (tiny data, few rounds: seconds to tens of seconds,
the same code path, figures not comparable) and --out (where its JSON goes: bench/results/ by
default, a new temporary directory with --quick), prints its table(s) and a line
`wrote <path>`; tests/test_bench_quick.py runs each one's --quick.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import tempfile
import time
from typing import Any

RESULTS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "results")


def parser(doc: str | None) -> argparse.ArgumentParser:
    """An argument parser with the arguments every benchmark takes (--quick, --out)."""
    p = argparse.ArgumentParser(description=doc, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--quick", action="store_true",
                   help="tiny data and few rounds: checks that the benchmark runs (its figures mean nothing)")
    p.add_argument("--out", help="directory for the JSON (default bench/results/; with --quick a new "
                   "temporary directory, so a quick run never replaces real results)")
    return p


def table(headers: list[str], rows: list[list[Any]]) -> str:
    cells = [[str(h) for h in headers]] + [[_fmt(c) for c in row] for row in rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(headers))]
    lines = ["  ".join(c.rjust(w) if i else c.ljust(w) for i, (c, w) in enumerate(zip(r, widths)))
             for r in cells]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def _fmt(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.3f}" if abs(value) < 100 else f"{value:.1f}"
    return str(value)


def out_dir(args: argparse.Namespace | None) -> str:
    if args is not None and args.out:
        return args.out
    if args is not None and args.quick:
        return tempfile.mkdtemp(prefix="tfx-edge-bench-quick-")
    return RESULTS


def write(name: str, data: dict[str, Any], args: argparse.Namespace | None = None) -> str:
    """Writes <out>/<name>.json (see out_dir) with the machine's facts; returns its path."""
    out = out_dir(args)
    os.makedirs(out, exist_ok=True)
    path = os.path.join(out, f"{name}.json")
    data = {"machine": {"cpus": os.cpu_count(), "platform": platform.platform(),
                        "python": platform.python_version()},
            "quick": bool(args is not None and args.quick),
            "when": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), **data}
    with open(path, "w") as f:
        json.dump(data, f, indent=2, sort_keys=True)
    return path
