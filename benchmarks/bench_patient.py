"""Benchmark: virtual PLP cohort, vectorized vs a per-patient loop of the same model.

Simulates 10,000 patients x 365 days (reorganization hypothesis) with the
vectorized cohort, then the same model one patient at a time (blocks of one
patient, identical code path) for a subset of patients, in the same run.
Reports patient-days per second (wall clock), the speed-up and memory per patient.
The last line is ``RESULT patient_days_per_s=<v> ratio=<R>x baseline=loop``; the
ratio is computed from this process's CPU time, because the machine is shared with
other jobs and the two wall-clock measurements see different load (the wall-clock
ratio is printed too).

Usage: ``python benchmarks/bench_patient.py [--n 10000] [--days 365] [--loop-n 20]``
"""

from __future__ import annotations

import argparse
import time
import tracemalloc

import numpy as np

from phantomlab.mechanisms.patient import Cohort


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--n", type=int, default=10_000)
    ap.add_argument("--days", type=int, default=365)
    ap.add_argument("--loop-n", type=int, default=20)
    ap.add_argument("--hypothesis", default="reorganization")
    args = ap.parse_args()

    # memory per patient: state of a 1,000-patient cohort (traced allocations)
    tracemalloc.start()
    Cohort(1000, args.hypothesis, rng=0)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    mem_per_patient = peak / 1000

    t0 = time.perf_counter()
    cohort = Cohort(args.n, args.hypothesis, rng=1)
    t_init = time.perf_counter() - t0
    t0, c0 = time.perf_counter(), time.process_time()
    tr = cohort.run(args.days, record=False)
    t_vec, c_vec = time.perf_counter() - t0, time.process_time() - c0
    rate_vec = args.n * args.days / t_vec

    t0, c0 = time.perf_counter(), time.process_time()
    loop = Cohort(args.loop_n, args.hypothesis, rng=1, block_size=1)
    loop.run(args.days, record=False)
    t_loop, c_loop = time.perf_counter() - t0, time.process_time() - c0
    rate_loop = args.loop_n * args.days / t_loop
    wall_ratio = rate_vec / rate_loop

    print(f"cohort: {args.n} patients x {args.days} days ({args.hypothesis})")
    print(f"vectorized: init {t_init:.2f} s, year {t_vec:.2f} s -> {rate_vec:,.0f} patient-days/s")
    print(
        f"per-patient loop ({args.loop_n} patients, same model): {t_loop:.2f} s -> "
        f"{rate_loop:,.0f} patient-days/s"
    )
    cpu_ratio = (args.n / c_vec) / (args.loop_n / c_loop)
    print(
        f"CPU time (machine shared with other jobs): vectorized {c_vec:.1f} s, loop "
        f"{c_loop:.1f} s, CPU-time ratio {cpu_ratio:.0f}x"
    )
    print(f"full year within 60 s: {'yes' if t_vec <= 60 else 'NO'} ({t_vec:.1f} s)")
    print(f"memory per patient (state): {mem_per_patient / 1024:.1f} KiB")
    print(f"recorded trajectory: {6 * 8} bytes per patient-day")
    print(f"mean NRS on the last day: {np.mean(tr.nrs[-1]):.2f}")
    print(f"wall-clock ratio {wall_ratio:.0f}x")
    print(f"RESULT patient_days_per_s={rate_vec:.0f} ratio={cpu_ratio:.0f}x baseline=loop")


if __name__ == "__main__":
    main()
