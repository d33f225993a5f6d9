"""Benchmark of the field module (issues 4 and 19).

1. Lead field of the 10-10 cap (70 electrodes) at 100,000 brain points (time).
2. Exhaustive TI search over all two-pair montages of the 10-20 cap (21 electrodes,
   17,955 montages) x 3 current splits at ~20,000 brain points: the vectorised numpy
   search (the baseline: what the project did before, and the fallback without numba)
   against the fused numba kernel, in the same run, on the same data; both must
   return the same best montage and the same objective bits. The kernel is compiled
   (or loaded from numba's on-disk cache) before timing; its best of 3 runs is
   reported, the baseline's single run. A per-montage loop calling ``max_envelope``
   once per candidate checks the optimum on 100 random montages.
3. The full 10-10 cap (70 electrodes, 8.25 million candidates) at 6 mm spacing
   with the kernel, timed end to end.
"""

from __future__ import annotations

import math
import time

import numpy as np

from phantomlab.fields import (
    DEFAULT_SPLITS,
    brain_points,
    compute_leadfield,
    default_model,
    enumerate_ti_montages,
    get_target,
    optimize_ti,
    ti_objective_loop,
)


def main() -> None:
    model = default_model()
    rng = np.random.default_rng(0)
    # 1. lead field, 100k points uniform in the brain
    n = 100_000
    p = rng.normal(size=(n, 3))
    p *= (rng.uniform(0, 1, n) ** (1 / 3) * model.radii[0] / np.linalg.norm(p, axis=1))[:, None]
    t0 = time.perf_counter()
    lf_big = compute_leadfield(p, "10-10", model)
    t_lf = time.perf_counter() - t0
    print(f"lead field 10-10 cap ({len(lf_big.cap)} electrodes) x {n} points: {t_lf:.2f} s")
    del lf_big

    # 2. TI search, 10-20 cap, ~20k points: numpy baseline vs fused kernel
    pts = brain_points(model, spacing=0.0048)
    lf = compute_leadfield(pts, "10-20", model)
    roi = np.linalg.norm(pts - np.asarray(get_target("thalamus_left").position), axis=1) <= 0.01
    print(f"{len(pts)} points, {int(roi.sum())} in the ROI")
    t0 = time.perf_counter()
    optimize_ti(lf.efield[:6], lf.cap.names[:6], roi, backend="numba", progress=False)
    print(f"numba kernel compile or cache load: {time.perf_counter() - t0:.2f} s")
    t0, c0 = time.perf_counter(), time.process_time()
    ref = optimize_ti(lf.efield, lf.cap.names, roi, n_top=1, backend="numpy", progress=False)
    t_numpy, c_numpy = time.perf_counter() - t0, time.process_time() - c0
    t_fast = c_fast = math.inf
    for _ in range(3):
        t0, c0 = time.perf_counter(), time.process_time()
        res = optimize_ti(lf.efield, lf.cap.names, roi, n_top=1, backend="numba", progress=False)
        t_fast = min(t_fast, time.perf_counter() - t0)
        c_fast = min(c_fast, time.process_time() - c0)
    same = (res.pair1, res.pair2, res.currents, res.objective) == (
        ref.pair1,
        ref.pair2,
        ref.currents,
        ref.objective,
    )
    assert same, "kernel and numpy search disagree"
    print(res.summary())
    print(
        f"vectorised numpy search: {t_numpy:.2f} s wall, {c_numpy:.2f} s CPU "
        f"({100 * ref.work_fraction:.1f} % of the full envelope work); fused kernel: "
        f"{t_fast:.3f} s wall, {c_fast:.3f} s CPU ({100 * res.work_fraction:.1f} %); "
        f"CPU-time ratio {c_numpy / c_fast:.1f}x; same best montage and objective bits"
    )
    mont = enumerate_ti_montages(len(lf.cap))
    sub = rng.choice(len(mont), size=100, replace=False)
    t0 = time.perf_counter()
    loop_vals = ti_objective_loop(lf.efield, roi, mont[sub], DEFAULT_SPLITS, 4e-3)
    t_sub = time.perf_counter() - t0
    assert loop_vals.max() <= res.objective * (1 + 1e-6), "loop found a better montage"
    print(
        f"per-montage loop: {t_sub:.2f} s for {len(sub)} montages -> "
        f"{t_sub / len(sub) * len(mont):.0f} s extrapolated to {len(mont)} montages"
    )

    # 3. the full 10-10 cap (70 electrodes) at 6 mm spacing with the kernel
    pts10 = brain_points(model, spacing=0.006)
    lf10 = compute_leadfield(pts10, "10-10", model)
    roi10 = np.linalg.norm(pts10 - np.asarray(get_target("thalamus_left").position), axis=1) <= 0.01
    t0, c0 = time.perf_counter(), time.process_time()
    r10 = optimize_ti(lf10.efield, lf10.cap.names, roi10, n_top=1, backend="numba")
    t10, c10 = time.perf_counter() - t0, time.process_time() - c0
    print(r10.summary())
    print(
        f"10-10 cap ({len(lf10.cap)} electrodes, {len(pts10)} points): {r10.n_candidates:,} "
        f"candidates in {t10:.1f} s wall ({c10:.1f} s CPU) with the kernel"
    )
    print(f"RESULT ti_search_10-10_s={t10:.1f} baseline=none")
    print(
        f"RESULT ti_search_s={t_fast:.3f} ratio={t_numpy / t_fast:.1f}x baseline=numpy_vectorised"
    )


if __name__ == "__main__":
    main()
