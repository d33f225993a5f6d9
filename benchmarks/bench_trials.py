"""Benchmark: 1,000 simulated multi-center trials with mixed-model analysis on 1 and 2 Dask workers.

Each replicate simulates a 200-patient (100 per arm), 12-week (weekly visits),
4-center sham-controlled trial with the parametric planning model (10 % monotone
dropout) and fits the linear mixed model over all 12 post-baseline visits (REML;
random center intercept and patient intercept nested in center; arm x visit and
baseline fixed effects). :func:`phantomlab.trials.mixed_model` fits it with its
exact fast path (:mod:`phantomlab.trials._mixed`: REML profiled over the two
variance ratios from per-patient sums, standard errors from statsmodels'
``MixedLM.hessian`` written out), identical to statsmodels ``MixedLM`` at an
interior optimum (``tests/trials/test_mixed_fast.py``); statsmodels itself takes
about 0.2-3 s per fit.

The same replicates run on a local Dask cluster with 1 worker process (the
baseline, measured in this run) and with 2 worker processes; the tables must be
bit-identical. For reference the script also times single fits on a few
simulated trials, statsmodels against the default path (fixed centers, and a
random center intercept, where the default is statsmodels), and extrapolates
statsmodels to 1,000 replicates on one core (labelled as an extrapolation).

Last line: ``RESULT replicates_per_s_2workers=<v> ratio=<speed-up>x baseline=1_worker``.
"""

from __future__ import annotations

import argparse
import os
import time
from dataclasses import dataclass

os.environ.setdefault("OMP_NUM_THREADS", "1")  # before numpy loads BLAS

import numpy as np
import pandas as pd

from phantomlab.trials import (
    ParametricTrialModel,
    TrialSimulationTask,
    load_design,
    mixed_model,
    prepare,
    run_replicates,
)

DESIGN = {
    "name": "bench-200pt-12wk-4center",
    "arms": [{"name": "sham", "sham": True}, {"name": "active"}],
    "centers": [{"name": f"center{k}"} for k in range(1, 5)],
    "n_per_arm": 100,
    "outcome": {"visits": list(range(13)), "primary_week": 12},
    "analysis": {"primary": "mixed", "center": "random"},
    "simulation": {"effects": {"active": -1.5}, "dropout": 0.1},
}


@dataclass(frozen=True)
class _Timed:
    """The chunk task, plus the chunk's wall-clock and CPU seconds (contention check)."""

    task: TrialSimulationTask

    @property
    def name(self) -> str:
        """Identity of the wrapped task."""
        return self.task.name

    def __call__(self, seed: np.random.SeedSequence, replicates: np.ndarray) -> pd.DataFrame:
        """Run the task on one chunk and add ``_wall`` and ``_cpu`` columns."""
        w, c = time.perf_counter(), time.process_time()
        out = self.task(seed, replicates)
        return out.assign(_wall=time.perf_counter() - w, _cpu=time.process_time() - c)


def _fit_seconds(n: int, seed: int, center: str) -> tuple[float, float, float, str]:
    """Seconds per ``mixed_model`` fit on ``n`` simulated trials: statsmodels and default path.

    Returns statsmodels' and the default path's seconds per fit, the largest
    relative difference of estimate and SE between them, and the default path's method.
    """
    d = load_design({**DESIGN, "analysis": {"primary": "mixed", "center": center}})
    sim = ParametricTrialModel(d)
    children = np.random.SeedSequence(seed).spawn(n)
    data = [prepare(sim(100, np.random.default_rng(c)), d) for c in children]
    t0 = time.perf_counter()
    slow = [mixed_model(df, d, fast=False) for df in data]
    t1 = time.perf_counter()
    fast = [mixed_model(df, d) for df in data]
    t2 = time.perf_counter()
    diff = max(
        float(np.max(np.abs(f[c].to_numpy() / s[c].to_numpy() - 1)))
        for f, s in zip(fast, slow, strict=True)
        for c in ("estimate", "se")
    )
    return (t1 - t0) / n, (t2 - t1) / n, diff, str(fast[0].attrs["method"])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--replicates", type=int, default=1000)
    ap.add_argument("--chunk-size", type=int, default=25)
    ap.add_argument("--seed", type=int, default=2026)
    ap.add_argument(
        "--statsmodels-reps", type=int, default=5, help="replicates timed on statsmodels (0: skip)"
    )
    args = ap.parse_args()
    design = load_design(DESIGN)
    task = _Timed(TrialSimulationTask(design, 100, ("mixed",)))
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
        chunks = (
            res.table.drop_duplicates("replicate")
            .groupby(res.table["replicate"] // args.chunk_size)[["_wall", "_cpu"]]
            .first()
        )
        tables[workers] = res.table.drop(columns=["_wall", "_cpu"])
        print(
            f"{workers} worker(s): {args.replicates} replicates in {times[workers]:.1f} s "
            f"(including the local cluster's start-up); chunk compute {chunks['_wall'].sum():.1f} "
            f"s wall, {chunks['_cpu'].sum():.1f} s CPU (CPU/wall "
            f"{chunks['_cpu'].sum() / chunks['_wall'].sum():.2f}; < 1 means the workers waited "
            f"for a core)",
            flush=True,
        )
    identical = tables[1].equals(tables[2])
    t = tables[2]
    est = t["estimate"].to_numpy()
    cover = np.mean((t["ci_low"] <= -1.5) & (t["ci_high"] >= -1.5))
    print(f"bit-identical 1 vs 2 workers: {identical}")
    print(
        f"mixed model: mean estimate {est.mean():.3f} (true -1.5 before clipping), "
        f"SD {est.std(ddof=1):.3f}, mean SE {t['se'].mean():.3f}, "
        f"95% CI coverage of -1.5 {cover:.3f}, power {np.mean(t['p'] < 0.05):.3f}"
    )
    if args.statsmodels_reps > 0:
        for center in ("random", "fixed"):
            slow, fast, diff, method = _fit_seconds(args.statsmodels_reps, args.seed + 1, center)
            print(
                f"center {center}: one mixed-model fit (mean of {args.statsmodels_reps}): "
                f"statsmodels MixedLM {slow:.3f} s, default path ({method}) {fast:.4f} s "
                f"(x{slow / fast:.0f}); max relative difference of estimate/SE "
                f"{diff:.1e} (statsmodels at its default tolerance). statsmodels for all "
                f"{args.replicates} replicates EXTRAPOLATED: {slow * args.replicates:.0f} s "
                f"on 1 worker (fits only)",
                flush=True,
            )
    if not identical:
        raise SystemExit("1-worker and 2-worker results differ")
    rate2 = args.replicates / times[2]
    ratio = times[1] / times[2]
    print(f"RESULT replicates_per_s_2workers={rate2:.2f} ratio={ratio:.2f}x baseline=1_worker")


if __name__ == "__main__":
    main()
