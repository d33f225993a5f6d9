"""Benchmark: latency of one programming visit (suggest + record) of an SCS session.

A visit is ``suggest`` (the next protocol, on the device grid) then ``record`` (the
patient's report). Two ways of serving it are timed on the same database, the same
machine and the same session history (``BENCH_PROG_HISTORY`` reports, default 20, from
a monotone toy patient: relief falls and discomfort rises with amplitude):

* **baseline ``cli_process``** - the implementation a clinician meets today: one
  ``python -m phantomlab optimize suggest`` and one ``optimize record`` process per
  visit (issue #16 measured about 6.5 s per command). Almost all of it is process start
  and imports (scikit-learn's Gaussian process alone imports SciPy's stats and pandas).
* **server side** - the same public API in a long-running process, as the clinic web
  service answers a request: ``OptimizationSession.open(...).suggest()`` then
  ``open(...).record(...)`` (a fresh session object each, so nothing is kept in memory
  between requests but the imports and the protocol-verdict cache).

Both are medians over ``BENCH_PROG_VISITS`` visits (default 5 server side, 2 by
process). The server-side suggest and record are also printed apart (target: under
1 s each). Ends with
``RESULT suggest_record_ms=<server-side median> ratio=<R>x baseline=cli_process``.
"""

from __future__ import annotations

import os

os.environ.setdefault("OMP_NUM_THREADS", "1")

import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

HISTORY = int(os.environ.get("BENCH_PROG_HISTORY", "20"))
VISITS = int(os.environ.get("BENCH_PROG_VISITS", "5"))
CLI_VISITS = int(os.environ.get("BENCH_PROG_CLI_VISITS", "2"))


def _report(amplitude: float) -> tuple[float, float]:
    """Toy patient: NRS and discomfort from the amplitude (A)."""
    a = amplitude * 1e3
    return float(np.clip(round(7 - 2 * (a - 1)), 0, 10)), float(np.clip(round(2 * (a - 1)), 0, 10))


def _server_visit(db: str) -> tuple[float, float]:
    from phantomlab.optimize import OptimizationSession

    t0 = time.perf_counter()
    rec, _ = OptimizationSession.open("bench", db).suggest()
    t1 = time.perf_counter()
    nrs, side = _report(rec.params["amplitude"])
    OptimizationSession.open("bench", db).record(nrs, side, suggestion=rec.token)
    t2 = time.perf_counter()
    return t1 - t0, t2 - t1


def _cli_visit(db: str) -> float:
    env = {**os.environ, "PHANTOMLAB_OPTIMIZE_DB": db}
    src = str(Path(__file__).resolve().parents[1] / "src")
    env["PYTHONPATH"] = src + os.pathsep + env.get("PYTHONPATH", "")
    cmd = [sys.executable, "-m", "phantomlab", "optimize"]
    t0 = time.perf_counter()
    out = subprocess.run([*cmd, "suggest", "bench", "--json"], capture_output=True, text=True,
                         env=env, check=True).stdout  # fmt: skip
    sug = json.loads(out)
    nrs, side = _report(sug["params"]["amplitude"])
    rec = ["record", "bench", "-s", sug["token"], "--nrs", str(nrs), "--side-effect", str(side)]
    subprocess.run([*cmd, *rec], capture_output=True, env=env, check=True)
    return time.perf_counter() - t0


def main() -> None:
    from phantomlab.optimize import OptimizationSession

    with tempfile.TemporaryDirectory() as tmp:
        db = str(Path(tmp) / "bench.sqlite")
        OptimizationSession.new("bench", "scs", db=db, baseline_nrs=7.0,
                                safe_seed={"amplitude": "1.4 mA"},
                                perception_threshold={"*": "1.2 mA"})  # fmt: skip
        for _ in range(HISTORY):
            _server_visit(db)
        server = [_server_visit(db) for _ in range(VISITS)]
        cli = [_cli_visit(db) for _ in range(CLI_VISITS)]
    sug = [s for s, _ in server]
    rec = [r for _, r in server]
    total = [s + r for s, r in server]
    new_ms = 1e3 * statistics.median(total)
    base_ms = 1e3 * statistics.median(cli)
    print(f"history: {HISTORY} reports; server-side visits: {VISITS}; CLI visits: {CLI_VISITS}")
    print(f"server side  suggest median {1e3 * statistics.median(sug):7.1f} ms "
          f"(max {1e3 * max(sug):.1f})")  # fmt: skip
    print(f"server side  record  median {1e3 * statistics.median(rec):7.1f} ms "
          f"(max {1e3 * max(rec):.1f})")  # fmt: skip
    print(f"server side  visit   median {new_ms:7.1f} ms")
    print(f"cli_process  visit   median {base_ms:7.1f} ms (two processes)")
    print(
        f"RESULT suggest_record_ms={new_ms:.0f} ratio={base_ms / new_ms:.1f}x baseline=cli_process"
    )


if __name__ == "__main__":
    main()
