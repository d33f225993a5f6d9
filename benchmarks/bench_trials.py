"""Benchmark: simulated multi-center trials with mixed-model analysis on 1 and 2 Dask workers.

Each replicate simulates a 200-patient (100 per arm), 12-week (weekly visits),
4-center sham-controlled trial with the parametric planning model and fits the
linear mixed model (statsmodels MixedLM, REML: random center intercept and
patient intercept as a variance component, arm x visit + baseline fixed
effects). The same replicates run on a local Dask cluster with 1 worker process
(the baseline) and with 2 worker processes; the tables must be bit-identical.

The issue asks for 1,000 replicates (``--replicates 1000``: each mixed-model fit
takes about 0.2-0.5 s on an idle core, so several minutes per worker count). The
default is 100 replicates so that a quick run finishes in a few minutes on a
shared 2-core machine; timings on a loaded machine are dominated by contention.

Last line: ``RESULT replicates_per_s_2workers=<v> ratio=<speed-up>x baseline=1_worker``.
"""

from __future__ import annotations

import argparse
import os
import time

import numpy as np
import pandas as pd

from phantomlab.trials import TrialSimulationTask, load_design, run_replicates

DESIGN = {
    "name": "bench-200pt-12wk-4center",
    "arms": [{"name": "sham", "sham": True}, {"name": "active"}],
    "centers": [{"name": f"center{k}"} for k in range(1, 5)],
    "n_per_arm": 100,
    "outcome": {"visits": list(range(13)), "primary_week": 12},
    "analysis": {"primary": "mixed", "center": "random"},
    "simulation": {"effects": {"active": -1.5}},
}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--replicates", type=int, default=100)
    ap.add_argument("--chunk-size", type=int, default=10)
    ap.add_argument("--seed", type=int, default=2026)
    args = ap.parse_args()
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    design = load_design(DESIGN)
    task = TrialSimulationTask(design, 100, ("mixed",))
    times = {}
    tables: dict[int, pd.DataFrame] = {}
    for workers in (1, 2):
        t0 = time.perf_counter()
        res = run_replicates(
            task,
            args.replicates,
            seed=args.seed,
            chunk_size=args.chunk_size,
            scheduler="local",
            n_workers=workers,
            processes=True,
        )
        times[workers] = time.perf_counter() - t0
        tables[workers] = res.table
        print(
            f"{workers} worker(s): {args.replicates} replicates in {times[workers]:.1f} s",
            flush=True,
        )
    identical = tables[1].equals(tables[2])
    t = tables[2]
    est = t["estimate"].to_numpy()
    cover = np.mean((t["ci_low"] <= -1.5) & (t["ci_high"] >= -1.5))
    print(f"bit-identical 1 vs 2 workers: {identical}")
    print(
        f"mixed model: mean estimate {est.mean():.3f} (true -1.5 before clipping), "
        f"SD {est.std(ddof=1):.3f}, 95% CI coverage of -1.5 {cover:.3f}, "
        f"power {np.mean(t['p'] < 0.05):.3f}"
    )
    if not identical:
        raise SystemExit("1-worker and 2-worker results differ")
    rate2 = args.replicates / times[2]
    ratio = times[1] / times[2]
    print(f"RESULT replicates_per_s_2workers={rate2:.2f} ratio={ratio:.2f}x baseline=1_worker")


if __name__ == "__main__":
    main()
