"""Benchmark of the meta-analysis engine against PyMARE and statsmodels.

1. Time per single fit, k = 13 (dat.bcg, log risk ratios): PhantomLab ``rma``
   REML vs PyMARE ``VarianceBasedLikelihoodEstimator(method="REML")``, and
   PhantomLab PM vs statsmodels ``combine_effects(method_re="pm")``.
2. Throughput: 10,000 simulated meta-analyses of k = 20, PhantomLab's
   vectorized ``rma_batch`` against a Python loop over each peer (the loop is
   timed on a subset and reported per fit).
3. Agreement: the numbers of the peers on the same data (max relative
   differences of tau^2 and the pooled estimate).

Ends with one line ``RESULT batch_throughput=<fits/s> ratio=<R>x baseline=<peer>``
where the ratio is the smallest speed-up over the looped peers.

Run: ``.venv/bin/python benchmarks/bench_meta.py`` (about a minute on 2 cores).
"""

from __future__ import annotations

import json
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
N_LOOP = 300  # peers are looped over this many meta-analyses; time per fit is extrapolated


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


def main() -> None:
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

    print(f"== single fit, k = {y13.size} (dat.bcg log RR)")
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

    print(f"\n== batch of {N_META:,} simulated meta-analyses, k = {K_STUDIES}")
    y, v = _simulate(np.random.default_rng(20261124))
    results: dict[str, Any] = {}
    for method in ("REML", "PM"):
        t0 = time.perf_counter()
        res = rma_batch(y, v, method=method)
        dt = time.perf_counter() - t0
        results[method] = res
        print(
            f"phantomlab rma_batch {method:4s}: {dt:.3f} s = {N_META / dt:,.0f} fits/s "
            f"({int(res.fallback.sum())} fits needed the bounded-likelihood fallback)"
        )
        results[method + "_rate"] = N_META / dt
    # loop over the single-fit API too, for reference
    t0 = time.perf_counter()
    for i in range(N_LOOP):
        rma(y[i], v[i])
    loop_ours = N_LOOP / (time.perf_counter() - t0)
    print(f"phantomlab rma looped   REML: {loop_ours:,.0f} fits/s")
    ratios: dict[str, float] = {}
    for name, (method, fn) in peers.items():
        t0 = time.perf_counter()
        out = np.array([fn(y[i], v[i]) for i in range(N_LOOP)])
        rate = N_LOOP / (time.perf_counter() - t0)
        ours = results[method]
        ratios[name] = results[method + "_rate"] / rate
        print(
            f"{name:11s} looped {method:4s}: {rate:,.0f} fits/s -> batch speed-up "
            f"{ratios[name]:.0f}x; max |d tau2| = "
            f"{np.max(np.abs(out[:, 0] - ours.tau2[:N_LOOP])):.1e}, max |d est| = "
            f"{np.max(np.abs(out[:, 1] - ours.estimate[:N_LOOP])):.1e}"
        )
        # the same comparison against tightly converged solutions of the same equations
        sub = K.Design(y[:N_LOOP], v[:N_LOOP], None)
        if method == "REML":
            exact = K.estimate_tau2(sub, "REML", threshold=1e-14, maxiter=10_000).tau2
        else:
            exact = K._refine_q_root(sub, ours.tau2[:N_LOOP])
        print(
            f"{'':11s} vs tightly converged {method}: max |d tau2| = "
            f"{np.max(np.abs(out[:, 0] - exact)):.1e} (metafor-compatible result differs from "
            f"it by {np.max(np.abs(ours.tau2[:N_LOOP] - exact)):.1e})"
        )
    if "statsmodels" in peers:
        print(
            "note: metafor (and phantomlab) find the PM root with R's uniroot tolerance "
            "(~1.2e-4); statsmodels iterates to its own tolerance, hence the small tau2 gaps."
        )
    if ratios:
        worst = min(ratios, key=ratios.__getitem__)
        method = peers[worst][0]
        print(
            f"RESULT batch_throughput={results[method + '_rate']:.0f} "
            f"ratio={ratios[worst]:.1f}x baseline={worst}_loop_{method}"
        )
    else:
        print(f"RESULT batch_throughput={results['REML_rate']:.0f} ratio=1.0x baseline=none")


if __name__ == "__main__":
    main()
