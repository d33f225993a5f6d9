"""Benchmark: one REML mixed-model fit, Newton path against statsmodels MixedLM and the old path.

The trials are those of ``bench_trials.py``: 200 patients (100 per arm), 12
weekly post-baseline visits, 4 centers, 10 % monotone dropout, simulated by the
planning model. Each is fitted with a random center intercept and a patient
intercept nested in center (arm x visit and baseline fixed effects, 25 columns),
from the same arrays, by

(a) the new path, :func:`phantomlab.trials._mixed.nested_reml`: projected Newton
    with the analytic gradient and Hessian of the profiled REML criterion,
    stopped after a Newton step below 1e-7 relative (so the ratios are converged
    to about 1e-14), standard errors from statsmodels' REML Hessian written out;
(b) statsmodels ``MixedLM(...).fit(reml=True)`` with its defaults (BFGS on the
    square-root parameters, scipy's ``gtol=1e-5``), what a user would run, and
    once more with the tight ``method="bfgs", gtol=1e-10`` the tests use;
(c) the previous path: the same criterion minimized by Nelder-Mead
    (``xatol=1e-10``, ``fatol=1e-13`` on log ratios) and, at an interior
    optimum, ``MixedLM.hessian`` for the standard errors, as ``mixed_model``
    did until 2026-12.

Precision is reported as the largest absolute value of statsmodels' own REML
score (``MixedLM.score`` on the variance ratios, beta and scale profiled) at
each solution, on the interior optima, and the largest difference of the arm
effect from (a) in units of its SE. Times are CPU seconds of this process per
fit (``time.process_time``; OMP_NUM_THREADS=1, so one thread: on the shared
machine CPU time is far steadier than wall-clock), the best of ``--repeats``
interleaved passes over the same trials. A
second block does the same for the patient-intercept-only model (fixed
centers; dropout makes it unbalanced, so the closed form does not apply).

Last line: ``RESULT mixed_fit_ms=<v> ratio=<R>x baseline=statsmodels_MixedLM``
(R: statsmodels at its default tolerance over the new path, random centers).
"""

from __future__ import annotations

import argparse
import os
import time
import warnings
from collections.abc import Callable
from typing import Any

os.environ.setdefault("OMP_NUM_THREADS", "1")  # before numpy loads BLAS

import numpy as np
import pandas as pd

from phantomlab.trials import ParametricTrialModel, load_design, prepare
from phantomlab.trials._mixed import nested_reml, random_intercept_reml
from phantomlab.trials._mixed_reference import nested_reml_nelder_mead, random_intercept_reml_brent

DESIGN = {
    "name": "bench-200pt-12wk-4center",
    "arms": [{"name": "sham", "sham": True}, {"name": "active"}],
    "centers": [{"name": f"center{k}"} for k in range(1, 5)],
    "n_per_arm": 100,
    "outcome": {"visits": list(range(13)), "primary_week": 12},
    "analysis": {"primary": "mixed", "center": "random"},
    "simulation": {"effects": {"active": -1.5}, "dropout": 0.1},
}

Arrays = tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]


def _arrays(df: pd.DataFrame) -> Arrays:
    """Outcome, design (as ``mixed_model`` builds it), patient and center codes."""
    base = df.loc[df["week"] == 0].set_index("patient")["pain"]
    post = df.loc[df["week"] > 0].assign(baseline=lambda t: t["patient"].map(base))
    post = post.dropna(subset=["baseline", "pain"]).sort_values(["center", "patient", "week"])
    arm = (post["arm"] == "active").to_numpy(float)
    wk = [(post["week"] == w).to_numpy(float) for w in sorted(set(post["week"])) if w != 12]
    x = np.column_stack(
        [np.ones(arm.size), arm, *wk, *[arm * w for w in wk], post["baseline"].to_numpy(float)]
    )
    g = pd.factorize(post["patient"])[0]
    return post["pain"].to_numpy(float), x, g, pd.factorize(post["center"])[0]


def _sm_model(y: np.ndarray, x: np.ndarray, g: np.ndarray, c: np.ndarray | None) -> Any:
    """Build the statsmodels model: center groups + patient variance component, or patients."""
    import statsmodels.api as sm
    from statsmodels.regression.mixed_linear_model import VCSpec

    if c is None:
        return sm.MixedLM(y, x, g)
    mats, names = [], []
    for k in range(int(c.max()) + 1):
        codes = g[c == k]
        u = np.unique(codes)
        mats.append((codes[:, None] == u[None, :]).astype(float))
        names.append([f"p{q}" for q in u])
    vcs = VCSpec(["patient"], [names], [mats])
    return sm.MixedLM(y, x, c, exog_re=np.ones((y.size, 1)), exog_vc=vcs)


def _par(fe: Any, psi_p: float, psi_c: float | None) -> Any:
    from statsmodels.regression.mixed_linear_model import MixedLMParams

    if psi_c is None:
        return MixedLMParams.from_components(fe_params=fe, cov_re=np.array([[psi_p]]))
    return MixedLMParams.from_components(
        fe_params=fe, cov_re=np.array([[psi_c]]), vcomp=np.array([psi_p])
    )


# each fit returns (estimate, se, psi_patient, psi_center or None) of the arm effect
Fit = tuple[float, float, float, float | None]


def fit_new(a: Arrays, nested: bool) -> Fit:
    """Fit by (a), Newton on the profiled REML."""
    y, x, g, c = a
    if nested:
        r = nested_reml(y, x, g, c)
        assert r is not None
        return r.params[1], float(np.sqrt(r.cov[1, 1])), r.psi_patient, r.psi_center
    s = random_intercept_reml(y, x, g)
    assert s is not None
    return s.params[1], float(np.sqrt(s.cov[1, 1])), s.tau2 / s.sigma2, None


def fit_statsmodels(a: Arrays, nested: bool, tight: bool = False) -> Fit:
    """Fit by (b), statsmodels MixedLM at its default or a tight tolerance."""
    y, x, g, c = a
    model = _sm_model(y, x, g, c if nested else None)
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore")
        kw: dict[str, Any] = {"method": "bfgs", "gtol": 1e-10} if tight else {}
        fit = model.fit(reml=True, **kw)
        se = float(np.asarray(fit.bse_fe)[1])
    cov_re = float(np.asarray(fit.cov_re)[0, 0]) / fit.scale
    if nested:
        return float(fit.fe_params[1]), se, float(fit.vcomp[0]) / fit.scale, cov_re
    return float(fit.fe_params[1]), se, cov_re, None


def fit_old(a: Arrays, nested: bool) -> Fit:
    """(c) the previous path: Nelder-Mead (or grid + Brent) and statsmodels' Hessian."""
    y, x, g, c = a
    if not nested:
        s = random_intercept_reml_brent(y, x, g)
        assert s is not None
        return s.params[1], float(np.sqrt(s.cov[1, 1])), s.tau2 / s.sigma2, None
    r = nested_reml_nelder_mead(y, x, g, c)
    assert r is not None
    se = float(np.sqrt(r.gls_cov[1, 1]))
    if r.psi_center > 0:  # as analysis_mixed did: statsmodels' Hessian at the optimum
        model = _sm_model(y, x, g, c)
        with warnings.catch_warnings(), np.errstate(all="ignore"):
            warnings.simplefilter("ignore")
            hess = model.hessian(_par(r.params, r.psi_patient, r.psi_center))[0]
        dg = np.diag(np.linalg.inv(-hess))
        if np.isfinite(dg[1]) and dg[1] > 0:
            se = float(np.sqrt(dg[1]))
    return r.params[1], se, r.psi_patient, r.psi_center


def _score(a: Arrays, nested: bool, psi_p: float, psi_c: float | None) -> float:
    """Largest |statsmodels REML score| on the variance ratios (beta, scale profiled)."""
    y, x, g, c = a
    model = _sm_model(y, x, g, c if nested else None)
    model.use_sqrt, model.cov_pen, model.fe_pen, model._freepat = False, None, None, None
    model._cov_sing = 0
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return float(np.abs(model.score(_par(None, psi_p, psi_c), profile_fe=True)).max())


def _time(fn: Callable[[Arrays, bool], Fit], data: list[Arrays], nested: bool) -> float:
    t0 = time.process_time()
    for a in data:
        fn(a, nested)
    return (time.process_time() - t0) / len(data)


def _block(data: list[Arrays], nested: bool, repeats: int, tight_n: int) -> float:
    """Time and compare the paths on ``data``; return the new path's and statsmodels' ms."""
    label = "random center + patient" if nested else "patient intercept (fixed centers)"
    paths: dict[str, Callable[[Arrays, bool], Fit]] = {
        "new": fit_new,
        "statsmodels": fit_statsmodels,
        "old": fit_old,
    }
    best = {k: float("inf") for k in paths}
    for _ in range(repeats):  # interleaved, best of repeats
        for k, fn in paths.items():
            best[k] = min(best[k], _time(fn, data, nested))
    tight = data[:tight_n]
    t_tight = _time(lambda a, n: fit_statsmodels(a, n, tight=True), tight, nested) if tight else 0
    res = {k: [fn(a, nested) for a in data] for k, fn in paths.items()}
    interior = [i for i, r in enumerate(res["new"]) if (r[3] if nested else r[2]) > 0]
    prec = {
        k: max((_score(data[i], nested, v[i][2], v[i][3]) for i in interior), default=0.0)
        for k, v in res.items()
    }
    diff = {
        k: max(abs(v[i][0] - res["new"][i][0]) / res["new"][i][1] for i in range(len(data)))
        for k, v in res.items()
    }
    ms = {k: 1e3 * v for k, v in best.items()}
    print(f"{label}: {len(data)} trials, {len(interior)} with interior optimum")
    for k, text in (
        ("new", "(a) Newton, analytic gradient+Hessian"),
        ("statsmodels", "(b) statsmodels MixedLM, default tol"),
        ("old", "(c) previous path (NM; grid+Brent if 1 ratio)"),
    ):
        print(
            f"  {text:40s} {ms[k]:8.2f} ms/fit  x{ms[k] / ms['new']:6.1f} of (a)  "
            f"max|score| {prec[k]:.1e}  max|d estimate|/SE vs (a) {diff[k]:.1e}"
        )
    if tight:
        print(
            f"  (b') statsmodels MixedLM, bfgs gtol=1e-10 {1e3 * t_tight:8.2f} ms/fit  "
            f"x{1e3 * t_tight / ms['new']:6.1f} of (a)  (first {len(tight)} trials)"
        )
    return ms["new"], ms["statsmodels"], ms["old"]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--trials", type=int, default=10)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--tight-trials", type=int, default=3, help="trials for (b') (0: skip)")
    ap.add_argument("--seed", type=int, default=2027)
    args = ap.parse_args()
    res = {}
    for center in ("fixed", "random"):
        d = load_design({**DESIGN, "analysis": {"primary": "mixed", "center": center}})
        sim = ParametricTrialModel(d)
        kids = np.random.SeedSequence(args.seed).spawn(args.trials)
        data = [_arrays(prepare(sim(100, np.random.default_rng(k)), d)) for k in kids]
        res[center] = _block(data, center == "random", args.repeats, args.tight_trials)
    new, sm_ms, old = res["random"]
    print(f"ratio vs previous Nelder-Mead path (random center): {old / new:.1f}x")
    print(f"RESULT mixed_fit_ms={new:.2f} ratio={sm_ms / new:.1f}x baseline=statsmodels_MixedLM")


if __name__ == "__main__":
    main()
