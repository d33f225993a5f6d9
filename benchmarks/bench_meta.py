"""Benchmark of the meta-analysis engine against what a user would pick instead.

1. Time per single fit, k = 13 (dat.bcg, log risk ratios): PhantomLab ``rma``
   REML vs PyMARE ``VarianceBasedLikelihoodEstimator(method="REML")``, and
   PhantomLab PM vs statsmodels ``combine_effects(method_re="pm")``.
2. Throughput on 10,000 simulated meta-analyses of k = 20, CPU time of this
   process (``time.process_time``, best of ``REPEAT``; the machine is shared):

   * PhantomLab ``rma_batch(solver="newton")`` (exact REML optimum) against
     PyMARE 0.0.13's *vectorised* estimator, which fits all 10,000 in one call
     (the baseline of the RESULT line), at equal precision: every tau^2 of both
     must lie within ``EQ_TOL * max(1, tau2)`` of the exact REML optimum, found
     independently by a grid search and bisection on the score
     (``_kernels._maximize_loglik``); the run checks it and says so.
   * PhantomLab ``rma_batch`` (metafor's Fisher scoring and stopping rule)
     against metafor itself: a loop of ``rma()`` in R over the first ``N_R`` rows
     of the same data (written to a file), timed inside R with ``proc.time()``;
     skipped with a note when ``Rscript`` or metafor is missing. Same numbers
     required (same algorithm).
   * PhantomLab PM against statsmodels ``combine_effects`` looped (it has no
     batched form), on ``N_LOOP`` rows.

Ends with ``RESULT batch_throughput=<fits/s> ratio=<R>x baseline=pymare_vectorised``.

Run: ``.venv/bin/python benchmarks/bench_meta.py`` (about two minutes on 2 cores).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
import time
import timeit
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

import phantomlab.meta._kernels as K  # the exact optimum of tau^2, for the accuracy check
from phantomlab.meta import MetaAnalysisWarning, rma, rma_batch

REF = Path(__file__).resolve().parents[1] / "tests" / "meta" / "metafor_reference" / "bcg.json"
N_META = 10_000
K_STUDIES = 20
N_LOOP = 300  # statsmodels is looped over this many meta-analyses; time per fit extrapolated
N_R = int(os.environ.get("BENCH_META_R_N", "1000"))  # rows fitted by metafor in R
REPEAT = 5
EQ_TOL = 1e-7  # equal precision: |tau2 - exact optimum| <= EQ_TOL * max(1, tau2), every row


def _per_call(fn: Callable[[], Any], number: int = 100, repeat: int = 5) -> float:
    fn()
    return min(timeit.repeat(fn, number=number, repeat=repeat)) / number


def _simulate(rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    v = rng.uniform(0.01, 0.5, (N_META, K_STUDIES))
    tau2 = rng.uniform(0.0, 0.3, N_META)
    y = rng.normal(0.2, np.sqrt(v + tau2[:, None]))
    return y, v


def _rel(a: np.ndarray, b: np.ndarray, floor: float = 1e-8) -> float:
    a, b = np.asarray(a, float), np.asarray(b, float)
    return float(np.max(np.abs(a - b) / np.maximum(np.abs(b), floor)))


def _cpu(fn: Callable[[], Any], repeat: int = REPEAT) -> tuple[float, Any]:
    """Best CPU time of this process over ``repeat`` calls, and the last result."""
    best, out = np.inf, None
    for _ in range(repeat):
        t0 = time.process_time()
        out = fn()
        best = min(best, time.process_time() - t0)
    return best, out


def _pymare_batch(y: np.ndarray, v: np.ndarray, **kw: Any) -> tuple[np.ndarray, np.ndarray]:
    """PyMARE's vectorised REML: all rows in one call (datasets are columns)."""
    from pymare.estimators import VarianceBasedLikelihoodEstimator

    est = VarianceBasedLikelihoodEstimator(method="REML", **kw)
    est.fit(y=y.T, v=v.T, X=np.ones((y.shape[1], 1)))
    return np.ravel(est.params_["tau2"]), np.ravel(est.params_["fe_params"])


R_SCRIPT = r"""
suppressMessages(library(metafor))
a <- commandArgs(trailingOnly = TRUE)
y <- as.matrix(read.csv(a[1], header = FALSE)); v <- as.matrix(read.csv(a[2], header = FALSE))
n <- nrow(y); out <- numeric(n)
t0 <- proc.time()
for (i in seq_len(n)) {
  r <- tryCatch(rma(y[i, ], v[i, ], method = "REML"), error = function(e) NULL)
  out[i] <- if (is.null(r)) NA else r$tau2
}
t1 <- proc.time() - t0
writeLines(format(out, digits = 17), a[3])
cat(sprintf("%.6f %.6f\n", t1[["user.self"]] + t1[["sys.self"]], t1[["elapsed"]]))
"""


def _metafor(y: np.ndarray, v: np.ndarray) -> tuple[float, float, np.ndarray] | None:
    """Loop metafor's rma() over the rows in R; (CPU s, wall s, tau2) or None."""
    if shutil.which("Rscript") is None:
        print("peer missing: Rscript (R with metafor) -- metafor comparison skipped")
        return None
    with tempfile.TemporaryDirectory() as tmp:
        paths = [Path(tmp) / f for f in ("y.csv", "v.csv", "tau2.txt", "loop.R")]
        np.savetxt(paths[0], y, delimiter=",", fmt="%.17g")
        np.savetxt(paths[1], v, delimiter=",", fmt="%.17g")
        paths[3].write_text(R_SCRIPT)
        cmd = ["Rscript", str(paths[3]), *map(str, paths[:3])]
        run = subprocess.run(cmd, capture_output=True, text=True, check=False)
        if run.returncode != 0:
            print(f"metafor run failed -- skipped ({run.stderr.strip()[-200:]})")
            return None
        cpu, wall = map(float, run.stdout.split()[-2:])
        text = paths[2].read_text().split()
        tau2 = np.array([np.nan if x == "NA" else float(x) for x in text])
    return cpu, wall, tau2


def main() -> None:
    """Run the benchmark and print its RESULT line."""
    warnings.simplefilter("ignore", MetaAnalysisWarning)
    ref = json.loads(REF.read_text())
    y13, v13 = np.asarray(ref["yi"]), np.asarray(ref["vi"])
    peers: dict[str, Any] = {}
    try:
        from pymare.estimators import VarianceBasedLikelihoodEstimator

        def pymare_reml(y: np.ndarray, v: np.ndarray) -> tuple[float, float]:
            est = VarianceBasedLikelihoodEstimator(method="REML")
            est.fit(y=y[:, None], v=v[:, None], X=np.ones((y.size, 1)))
            p = est.params_
            return float(np.ravel(p["tau2"])[0]), float(np.ravel(p["fe_params"])[0])

        peers["pymare"] = ("REML", pymare_reml)
    except ImportError:
        print("peer missing: PyMARE (pip install PyMARE) -- skipped")
    try:
        from statsmodels.stats.meta_analysis import combine_effects

        def sm_pm(y: np.ndarray, v: np.ndarray) -> tuple[float, float]:
            r = combine_effects(y, v, method_re="pm")
            return float(r.tau2), float(r.mean_effect_re)

        peers["statsmodels"] = ("PM", sm_pm)
    except ImportError:
        print("peer missing: statsmodels -- skipped")

    print(f"== single fit, k = {y13.size} (dat.bcg log RR), wall time")
    single: dict[str, float] = {}
    for method in ("REML", "PM"):
        t = _per_call(lambda m=method: rma(y13, v13, method=m))
        single[method] = t
        print(f"phantomlab rma {method:4s}: {t * 1e6:8.1f} us/fit")
    for name, (method, fn) in peers.items():
        t = _per_call(lambda f=fn: f(y13, v13))
        ours = rma(y13, v13, method=method)
        tau2, est = fn(y13, v13)
        print(
            f"{name:11s} {method:4s}: {t * 1e6:8.1f} us/fit  -> phantomlab is "
            f"{t / single[method]:.2f}x faster; |d tau2|/tau2 = {_rel(tau2, ours.tau2):.1e}, "
            f"|d est|/|est| = {_rel(est, ours.estimate):.1e}"
        )

    print(f"\n== batch of {N_META:,} simulated meta-analyses, k = {K_STUDIES} (CPU time)")
    y, v = _simulate(np.random.default_rng(20261124))
    exact = K._maximize_loglik(K.Design(y, v, None), "REML")  # grid + bisection on the score

    def within(tau2: np.ndarray) -> tuple[bool, float]:
        err = np.abs(tau2 - exact) / np.maximum(1.0, exact)
        return bool(np.all(err <= EQ_TOL)), float(np.max(err))

    print(
        f"equal precision: every tau2 within {EQ_TOL:.0e} * max(1, tau2) of the exact REML optimum"
    )
    t_new, res_new = _cpu(lambda: rma_batch(y, v, solver="newton"))
    ok_new, err_new = within(res_new.tau2)
    rate_new = N_META / t_new
    print(
        f"phantomlab rma_batch REML solver=newton : {t_new:.3f} s = {rate_new:,.0f} fits/s; "
        f"max err {err_new:.1e} ({'meets' if ok_new else 'FAILS'} the criterion)"
    )
    t_mf, res_mf = _cpu(lambda: rma_batch(y, v), repeat=2)
    ok_mf, err_mf = within(res_mf.tau2)
    print(
        f"phantomlab rma_batch REML solver=metafor: {t_mf:.3f} s = {N_META / t_mf:,.0f} fits/s; "
        f"max err {err_mf:.1e} (metafor's stopping rule, {int(res_mf.fallback.sum())} "
        "fits needed the bounded-likelihood fallback)"
    )
    ratio, baseline = 1.0, "none"
    try:
        t_pm, (tau2_pm, est_pm) = _cpu(lambda: _pymare_batch(y, v))
    except ImportError:
        print("peer missing: PyMARE -- vectorised baseline skipped")
    else:
        ok_pm, err_pm = within(tau2_pm)
        rate_pm = N_META / t_pm
        print(
            f"pymare vectorised REML (one call)       : {t_pm:.3f} s = {rate_pm:,.0f} fits/s; "
            f"max err {err_pm:.1e} ({'meets' if ok_pm else 'FAILS'} the criterion); "
            f"max |d est| vs newton {np.max(np.abs(est_pm - res_new.estimate)):.1e}"
        )
        t_pt, (tau2_pt, _) = _cpu(lambda: _pymare_batch(y, v, xtol=1e-12, ftol=0.0), repeat=1)
        print(
            f"pymare, xtol=1e-12 ftol=0 (tighter)     : {t_pt:.3f} s, max err "
            f"{within(tau2_pt)[1]:.1e} (a search on function values stops near sqrt(eps))"
        )
        ratio = rate_new / rate_pm
        baseline = "pymare_vectorised"
        if not (ok_new and ok_pm):
            baseline += "_UNEQUAL_PRECISION"
        print(f"-> rma_batch(solver='newton') is {ratio:.1f}x PyMARE vectorised at equal precision")

    mf = _metafor(y[:N_R], v[:N_R])
    if mf is not None:
        cpu, wall, tau2_r = mf
        rate_r = N_R / cpu
        gap = np.nanmax(np.abs(tau2_r - res_mf.tau2[:N_R]) / np.maximum(1.0, tau2_r))
        print(
            f"metafor {_r_version()} rma() looped in R ({N_R} rows): {cpu:.2f} s CPU ({wall:.2f} s "
            f"wall) = {rate_r:,.0f} fits/s -> rma_batch (metafor solver) is "
            f"{N_META / t_mf / rate_r:.0f}x, newton {rate_new / rate_r:.0f}x; max |d tau2| vs "
            f"solver=metafor {gap:.1e} ({int(np.isnan(tau2_r).sum())} rows metafor stopped with "
            "an error on)"
        )

    if "statsmodels" in peers:
        fn = peers["statsmodels"][1]
        t_pmf, res_pmf = _cpu(lambda: rma_batch(y, v, method="PM"))
        t0 = time.process_time()
        out = np.array([fn(y[i], v[i]) for i in range(N_LOOP)])
        rate_sm = N_LOOP / (time.process_time() - t0)
        root = K._refine_q_root(K.Design(y[:N_LOOP], v[:N_LOOP], None), res_pmf.tau2[:N_LOOP])
        print(
            f"phantomlab rma_batch PM: {N_META / t_pmf:,.0f} fits/s; statsmodels looped PM: "
            f"{rate_sm:,.0f} fits/s -> {N_META / t_pmf / rate_sm:.0f}x; max |d tau2| from the "
            f"exact root: statsmodels {np.max(np.abs(out[:, 0] - root)):.1e}, phantomlab "
            f"{np.max(np.abs(res_pmf.tau2[:N_LOOP] - root)):.1e} (R's uniroot tolerance)"
        )
    print(f"RESULT batch_throughput={rate_new:.0f} ratio={ratio:.1f}x baseline={baseline}")


def _r_version() -> str:
    """Return metafor's version, as R reports it."""
    cmd = ["Rscript", "-e", 'cat(as.character(packageVersion("metafor")))']
    run = subprocess.run(cmd, capture_output=True, text=True, check=False)
    return run.stdout.strip() or "?"


if __name__ == "__main__":
    main()
