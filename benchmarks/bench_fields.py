"""Benchmark of the field module (issue 4).

1. Lead field of the 10-10 cap (70 electrodes) at 100,000 brain points (time).
2. Exhaustive TI search over all two-pair montages of the 10-20 cap (21 electrodes,
   17,955 montages) x 3 current splits at ~20,000 brain points, vectorised exact
   search vs a per-montage loop calling ``max_envelope`` once per candidate. The
   loop is timed on a random subset of montages and extrapolated linearly
   (running it in full takes tens of seconds); the subset's values are checked
   against the vectorised search.
3. How the 10-10 cap search scales (candidate count; ROI pass timed in full,
   exact pass estimated from the 10-20 per-candidate cost).
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

    # 2. TI search, 10-20 cap, ~20k points
    pts = brain_points(model, spacing=0.0048)
    lf = compute_leadfield(pts, "10-20", model)
    roi = np.linalg.norm(pts - np.asarray(get_target("thalamus_left").position), axis=1) <= 0.01
    t0 = time.perf_counter()
    res = optimize_ti(lf.efield, lf.cap.names, roi, total_current=4e-3, n_top=1)
    t_search = time.perf_counter() - t0
    print(f"{len(pts)} points, {int(roi.sum())} in the ROI")
    print(res.summary())
    mont = enumerate_ti_montages(len(lf.cap))
    sub = rng.choice(len(mont), size=300, replace=False)
    t0 = time.perf_counter()
    loop_vals = ti_objective_loop(lf.efield, roi, mont[sub], DEFAULT_SPLITS, 4e-3)
    t_sub = time.perf_counter() - t0
    t_loop = t_sub / len(sub) * len(mont)
    assert loop_vals.max() <= res.objective * (1 + 1e-6), "loop found a better montage"
    print(
        f"per-montage loop: {t_sub:.2f} s for {len(sub)} montages x {len(DEFAULT_SPLITS)} splits "
        f"-> {t_loop:.1f} s extrapolated to {len(mont)} montages"
    )
    print(
        f"vectorised exact search: {t_search:.2f} s ({res.n_evaluated} of "
        f"{res.n_candidates} candidates entered the exact pass, the rest pruned by the bound)"
    )

    # 3. scaling towards the 10-10 cap: exact searches on growing subsets of its
    # 70 electrodes (every 2nd/3rd/... electrode, about 10,000 points), then a
    # power-law fit of time vs candidates, extrapolated to all 70 electrodes.
    pts10 = brain_points(model, spacing=0.006)
    lf10 = compute_leadfield(pts10, "10-10", model)
    roi10 = np.linalg.norm(pts10 - np.asarray(get_target("thalamus_left").position), axis=1) <= 0.01
    sizes, cands, times = [], [], []
    for n_el in (14, 21, 28):
        sel = np.linspace(0, len(lf10.cap) - 1, n_el).round().astype(int)
        t0 = time.perf_counter()
        r = optimize_ti(
            lf10.efield[sel], [lf10.cap.names[i] for i in sel], roi10, total_current=4e-3, n_top=1
        )
        times.append(time.perf_counter() - t0)
        sizes.append(n_el)
        cands.append(r.n_candidates)
        print(
            f"10-10 subset of {n_el} electrodes, {len(pts10)} points: {r.n_candidates:,} "
            f"candidates in {times[-1]:.2f} s (work {100 * r.work_fraction:.1f} %)"
        )
    slope, icpt = np.polyfit(np.log(cands), np.log(times), 1)
    n10 = 3 * math.comb(70, 4) * len(DEFAULT_SPLITS)
    est = math.exp(icpt) * n10**slope
    print(
        f"10-10 cap (70 electrodes): {n10:,} candidates; time ~ candidates^{slope:.2f} "
        f"-> extrapolated {est / 60:.1f} min at {len(pts10)} points; Gram matrix "
        f"{70 * 70 * len(pts) * 4 / 1e9:.2f} GB (float32) at {len(pts)} points"
    )
    ratio = t_loop / t_search
    print(f"RESULT ti_search_10-20_s={t_search:.2f} ratio={ratio:.1f}x baseline=per_montage_loop")


if __name__ == "__main__":
    main()
