"""Benchmark of the realistic-head TI search (issue 20).

Lead-field TI search on the fsaverage template head (coarse default mesh) vs the
baseline a user of per-montage FEM tools runs: two FEM solves per candidate
montage (TI-Toolbox's exhaustive search solves or loads fields per montage).

* lead field: ``E - 1`` AMG-CG solves for ``E`` electrodes, then the exact
  exhaustive search of :func:`optimize_ti` over every two-pair montage and split;
* baseline: per-montage FEM (two solves + envelope + objective) timed on a random
  subset of montages and extrapolated linearly to the full candidate count; its
  ROI means are checked against the lead-field values (superposition).

Prints ``RESULT head_ti_search_s=<v> ratio=<R>x baseline=per_montage_fem``.
"""

from __future__ import annotations

import resource
import time
import tracemalloc

import numpy as np

from phantomlab.fields import enumerate_ti_montages, max_envelope
from phantomlab.fields.head import head_leadfield, load_head, optimize_ti_head, solve, target_point

NAMES = ["C3", "C4", "F3", "F4", "P3", "P4", "Cz", "Fz", "Pz", "T7", "T8", "Oz", "FC5", "CP5"]


def main(n_baseline: int = 8) -> None:
    """Run the benchmark and print the RESULT line."""
    t0 = time.perf_counter()
    head = load_head("template")
    t_load = time.perf_counter() - t0
    tracemalloc.start()
    t0 = time.perf_counter()
    sol = solve(head, {"C3": 1e-3, "Fp2": -1e-3})
    t_first = time.perf_counter() - t0
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    print(
        f"template head: {head.mesh.n_tets} tets, {len(head.mesh.nodes)} nodes; load/mesh "
        f"{t_load:.1f} s; first solve incl. assembly+AMG {t_first:.2f} s "
        f"(python peak {peak / 2**20:.0f} MiB); later solves {sol.seconds:.2f} s"
    )
    target = target_point(head, "C3")
    t0 = time.perf_counter()
    lf = head_leadfield(head, names=NAMES)
    opt = optimize_ti_head(lf, target, roi_radius=0.015)
    t_search = time.perf_counter() - t0
    n_montages = len(enumerate_ti_montages(len(NAMES)))
    print(f"lead field {lf.seconds:.1f} s + search over {n_montages} montages: {t_search:.1f} s")
    print(f"best: {opt.pair1} {opt.pair2} currents {opt.currents} roi_mean {opt.roi_mean:.3f}")
    rng = np.random.default_rng(0)
    mont = enumerate_ti_montages(len(NAMES))
    pick = mont[rng.choice(len(mont), n_baseline, replace=False)]
    roi = np.linalg.norm(lf.points - target, axis=1) <= 0.015
    t0 = time.perf_counter()
    worst = 0.0
    for a, b, c, d in pick:
        n = NAMES
        s1 = solve(head, {n[a]: 2e-3, n[b]: -2e-3})
        s2 = solve(head, {n[c]: 2e-3, n[d]: -2e-3})
        fem = float(max_envelope(s1.efield[lf.elements], s2.efield[lf.elements])[roi].mean())
        lfv = float(
            max_envelope(lf.pair_field(n[a], n[b], 2e-3), lf.pair_field(n[c], n[d], 2e-3))[
                roi
            ].mean()
        )
        worst = max(worst, abs(fem - lfv) / max(abs(lfv), 1e-12))
    per = (time.perf_counter() - t0) / n_baseline
    baseline = per * n_montages  # one split per montage: the cheapest baseline
    print(
        f"per-montage FEM: {per:.2f} s per montage x {n_montages} = {baseline:.0f} s "
        f"(extrapolated from {n_baseline}); max rel. diff FEM vs lead field {worst:.1e}"
    )
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"process peak RSS {rss:.0f} MiB")
    print(
        f"RESULT head_ti_search_s={t_search:.2f} ratio={baseline / t_search:.1f}x "
        "baseline=per_montage_fem"
    )


if __name__ == "__main__":
    main()
