"""Benchmark: levers of a whole cohort for a course, vectorized vs one patient at a time.

The therapies compute every lever for all patients at once (arrays of shape
``(n_patients,)``). The baseline evaluates the same model patient by patient
(a state of one patient each, same draws), as a naive per-patient simulator
would. Both give identical numbers (checked), so the ratio is pure speed.

Run: ``.venv/bin/python benchmarks/bench_therapies.py``
"""

from __future__ import annotations

import time

import numpy as np

from phantomlab.protocols import get_reference
from phantomlab.therapies import get_therapy, lever_table
from phantomlab.therapies.base import CohortState

N = 2000
DAYS = range(0, 60)


def _one(state: CohortState, i: int) -> CohortState:
    return CohortState(
        1,
        state.start_day,
        state.dose,
        state.calendar,
        {k: v[i : i + 1] for k, v in state.draws.items()},
        state.components,
        state.modality,
    )


def main() -> None:
    """Time the SCS lever table for N patients x 60 days, vectorized and per patient."""
    th = get_therapy("scs")
    p = get_reference("nihon2001_single_scs")
    st = th.prepare(p, N, rng=0)
    t0 = time.perf_counter()
    vec = lever_table(th, p, st, DAYS)
    t_vec = time.perf_counter() - t0
    n_loop = 200  # time a subset of patients, scale to N
    t0 = time.perf_counter()
    loop = [lever_table(th, p, _one(st, i), DAYS) for i in range(n_loop)]
    t_loop = (time.perf_counter() - t0) * N / n_loop
    for i, row in enumerate(loop):
        for k in row:
            assert np.allclose(row[k][:, 0], vec[k][:, i]), k
    print(f"SCS levers, {N} patients x {len(DAYS)} days: vectorized {t_vec:.3f} s, "
          f"per-patient loop {t_loop:.2f} s (extrapolated from {n_loop} patients)")  # fmt: skip
    print(f"RESULT scs_levers_{N}x{len(DAYS)}_s={t_vec:.3f} ratio={t_loop / t_vec:.1f}x "
          "baseline=per_patient_loop")  # fmt: skip


if __name__ == "__main__":
    main()
