"""Benchmark: a trial arm on a vectorized virtual cohort against a per-patient loop.

``VirtualCohort.run_course`` warms up and treats every patient of a cohort at once
(arrays of shape ``(n_patients, ...)``). The baseline simulates the same model one
patient at a time (one ``mechanisms.Cohort`` of size 1 per patient, same warm-up,
baseline week and rTMS course), as a straightforward implementation would.
Run: ``python benchmarks/bench_cohorts.py``.
"""

from __future__ import annotations

import time

import numpy as np

from phantomlab.cohorts import VirtualCohort, default_cohort_spec
from phantomlab.cohorts.population import _CACHE
from phantomlab.cohorts.spec import Provenanced
from phantomlab.mechanisms.patient import Cohort
from phantomlab.protocols import get_reference
from phantomlab.therapies import get_therapy, lever_table
from phantomlab.therapies.base import to_levers

N = 64
DAYS = 30
WARM_YEARS = 1.0


def _spec():  # type: ignore[no-untyped-def]
    """Default population, one warm-up stratum of one year (same work in both paths)."""
    return default_cohort_spec().model_copy(
        update={
            "strata": 1,
            "max_warmup_years": Provenanced(value=WARM_YEARS, kind="assumed", note="benchmark"),
        }
    )


def vectorized(protocol) -> float:  # type: ignore[no-untyped-def]
    """Simulate the arm for N patients at once; return seconds."""
    _CACHE.clear()  # no reuse of warmed-up patients between timings
    t0 = time.perf_counter()
    vc = VirtualCohort(_spec(), N, seed=1)
    vc.run_course(protocol, DAYS, seed=2)
    return time.perf_counter() - t0


def loop(protocol) -> float:  # type: ignore[no-untyped-def]
    """Simulate the same arm one patient at a time; return seconds."""
    spec = _spec()
    warm = int(round(min(float(spec.years_since_amputation.quantile(np.array([0.5]))[0]),
                         WARM_YEARS) * 365))  # fmt: skip
    th = get_therapy("rtms")
    t0 = time.perf_counter()
    for i in range(N):
        c = Cohort(1, rng=np.random.SeedSequence([1, i]))
        c.run(warm - spec.baseline_days, record=False)
        c.run(spec.baseline_days)
        st = th.prepare(protocol, 1, np.random.SeedSequence([2, i]), c.day)
        table = lever_table(th, protocol, st, range(c.day, c.day + DAYS))
        start = c.day
        c.run(DAYS, lambda d, s=start, t=table: to_levers({k: v[d - s] for k, v in t.items()}))
    return time.perf_counter() - t0


def main() -> None:
    """Time both paths and print the RESULT line."""
    p = get_reference("malavera2016_active")
    vectorized(p)  # warm imports and caches of the protocol/field code
    tv = min(vectorized(p) for _ in range(2))
    tl = loop(p)
    print(f"vectorized: {N} patients x ({int(WARM_YEARS * 365)} + {DAYS} days) in {tv:.2f} s")
    print(f"per-patient loop: {tl:.2f} s")
    print(f"RESULT patients_per_s={N / tv:.1f} ratio={tl / tv:.1f}x baseline=per_patient_loop")


if __name__ == "__main__":
    main()
