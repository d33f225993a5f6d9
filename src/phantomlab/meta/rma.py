"""Random- and mixed-effects meta-analysis, matching R's metafor ``rma.uni``.

:func:`rma` fits the normal-normal model ``y_i = x_i'beta + u_i + e_i`` with
``u_i ~ N(0, tau^2)`` and ``e_i ~ N(0, v_i)`` (Viechtbauer 2010, J Stat Softw
36(3), doi:10.18637/jss.v036.i03). The definitions of every reported number
(tau^2 estimators, Knapp-Hartung adjustment, I^2 and H^2 through the "typical"
sampling variance of Higgins & Thompson 2002 eq. 9, prediction intervals, QM,
pseudo R^2 of Raudenbush 1994) are those of metafor, checked to 1e-6 against
metafor 3.8-1 outputs in the test suite.

:func:`rma_batch` fits many meta-analyses of the same size at once (arrays of
shape ``(n_meta, k)``) with the same kernels, so it gives the same numbers as a
loop over :func:`rma`, much faster.

The fitted model (:class:`~phantomlab.meta.results.RMAResult`) is the input of the
related analyses, each in its own module: :mod:`~phantomlab.meta.sensitivity`
(``confint``, ``leave1out``, ``rma_subgroups``), :mod:`~phantomlab.meta.influence`,
:mod:`~phantomlab.meta.bias` (``regtest``, ``ranktest``, ``trimfill``) and
:mod:`~phantomlab.meta.plots`; all of them are exported by :mod:`phantomlab.meta`.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

import phantomlab.meta._kernels as K
from phantomlab.exceptions import ConvergenceError, InputError, Problem
from phantomlab.meta._inputs import (
    METAFOR,
    VI_MIN,
    MetaAnalysisWarning,
    check_options,
    prepare,
)
from phantomlab.meta._newton import NEWTON_TOL, fit_newton
from phantomlab.meta._single import fit_single
from phantomlab.meta.results import BatchResult, RMAResult

__all__ = ["BatchResult", "MetaAnalysisWarning", "RMAResult", "check_options", "rma", "rma_batch"]


def _check_fit(bf: K.BatchFit) -> None:
    """Raise a clear error where the fit did not give finite numbers."""
    if not np.all(np.isfinite(bf.tau2)) or not np.all(np.isfinite(bf.beta)):
        raise ConvergenceError(
            f"the {bf.method} estimate of tau^2 did not converge (tau2 = {bf.tau2[0]!r}); "
            "try method='PM' or 'DL'"
        )


def rma(
    yi: Any,
    vi: Any,
    *,
    method: str = "REML",
    test: str = "z",
    mods: Any = None,
    level: float = 95.0,
    slab: Sequence[Any] | None = None,
    btt: Sequence[int] | None = None,
    control: Mapping[str, Any] | None = None,
) -> RMAResult:
    """Fit an equal-, random- or mixed-effects meta-analytic model (metafor ``rma``).

    Parameters
    ----------
    yi : array-like
        Observed effect sizes or outcomes (e.g. from :func:`~phantomlab.meta.escalc.escalc`).
    vi : array-like
        Their sampling variances (> 0).
    method : str
        tau^2 estimator: ``"EE"`` (``"FE"``), ``"DL"``, ``"HE"``, ``"HS"``,
        ``"HSk"``, ``"SJ"``, ``"ML"``, ``"REML"`` (default), ``"EB"``, ``"PM"``.
    test : str
        ``"z"`` (default), ``"t"``, ``"knha"`` (Knapp & Hartung 2003; alias
        ``"hksj"``) or ``"adhoc"`` (Knapp-Hartung never below the z-based SE).
    mods : DataFrame, mapping or array, optional
        Moderators (one row per study); an intercept is added. Text columns are
        dummy-coded with the first (sorted) level as reference.
    level : float
        Confidence level in percent (default 95).
    slab : sequence, optional
        Study labels (used by summaries and plots).
    btt : sequence of int, optional
        Indices of the coefficients tested by QM (default: all moderators).
    control : mapping, optional
        ``{"threshold": 1e-5, "maxiter": 100}``: convergence threshold and
        iteration cap of the iterative estimators (metafor's defaults). A
        smaller threshold gives the exact optimum instead of metafor's value.

    Returns
    -------
    RMAResult
        The fitted model.

    Raises
    ------
    InputError
        Fewer than 2 studies (or not more studies than coefficients), a
        sampling variance <= 0, collinear moderators, unknown options.
    ConvergenceError
        If no finite estimate could be found.

    Notes
    -----
    Rows with a missing ``yi``, ``vi`` or moderator are dropped with a
    :class:`MetaAnalysisWarning`. Iterative estimators use metafor's algorithm
    first (so the numbers agree with metafor wherever it converges) and, where
    it does not converge, maximize the likelihood directly (a warning says so).

    Examples
    --------
    >>> res = rma([-0.89, -1.59, -1.35, -1.44], [0.33, 0.19, 0.42, 0.02])
    >>> round(res.estimate, 4)
    -1.422
    """
    prep = prepare(yi, vi, method=method, test=test, level=level, mods=mods, slab=slab)
    return _fit_prepared(prep, btt=btt, control=control)


def _numerical_failure(prep: Any, what: str) -> InputError:
    """Return the error for data whose squares or inverse variances leave double precision."""
    y, v = np.abs(prep.y), prep.v
    return InputError(
        Problem(
            "yi/vi",
            f"|yi| up to {y.max():.3g}, vi {v.min():.3g} to {v.max():.3g}",
            "outcomes and sampling variances whose squares and inverses are finite in double "
            "precision (rescale the outcome)",
            METAFOR,
            f"method {prep.method} cannot be computed for these values ({what}); metafor "
            "stops or does not return for such data",
        )
    )


def _control(control: Mapping[str, Any] | None) -> dict[str, Any]:
    """Validate metafor-style control settings of the iterative estimators."""
    out: dict[str, Any] = {"threshold": K.THRESHOLD, "maxiter": K.MAXITER}
    for key, val in (control or {}).items():
        if key not in out:
            raise InputError(Problem("control", key, "threshold, maxiter", METAFOR, "unknown"))
        try:
            num = float(val)
        except (TypeError, ValueError):
            num = float("nan")
        if not num > 0:
            raise InputError(Problem(f"control.{key}", val, "> 0", METAFOR, "bad value"))
        out[key] = int(num) if key == "maxiter" else num
    return out


def _fit_prepared(
    prep: Any, btt: Sequence[int] | None = None, control: Mapping[str, Any] | None = None
) -> RMAResult:
    """Fit a validated model and build its result object."""
    ctl = _control(control)
    X = None if prep.X is None else prep.X[None]
    d = K.Design(prep.y[None], prep.v[None], X)
    p = d.p
    btt_arr = None
    if btt is not None:
        btt_arr = np.asarray(btt, dtype=np.int64)
        if btt_arr.size == 0 or btt_arr.min() < 0 or btt_arr.max() >= p:
            raise InputError(
                Problem(
                    "btt", list(btt), f"indices in 0..{p - 1}", METAFOR, "bad coefficient index"
                )
            )
    try:
        with np.errstate(all="ignore"):
            if prep.X is None and btt_arr is None:
                bf = fit_single(prep.y, prep.v, prep.method, prep.test, prep.level, **ctl)
            else:
                bf = K.fit(d, prep.method, prep.test, prep.level, btt=btt_arr, **ctl)
    except (ZeroDivisionError, OverflowError, FloatingPointError, np.linalg.LinAlgError) as exc:
        raise _numerical_failure(prep, type(exc).__name__) from None
    with np.errstate(all="ignore"):
        extreme = (
            not np.all(np.isfinite(prep.y**2 / prep.v)) or float(np.max(prep.y**2 / prep.v)) > 1e300
        )
    if extreme and not (np.isfinite(bf.tau2).all() and np.isfinite(bf.beta).all()):
        raise _numerical_failure(prep, "tau^2 overflowed")
    _check_fit(bf)
    if prep.method in ("ML", "REML") and np.isinf(prep.v).any() and float(bf.tau2[0]) > 0:
        # the (restricted) log-likelihood is -Inf with an infinite sampling variance:
        # metafor's Fisher scoring stops as soon as tau^2 leaves 0 (a NaN comparison)
        raise InputError(
            Problem(
                "vi",
                "Inf",
                "finite sampling variances for method='ML'/'REML' when tau^2 > 0",
                METAFOR,
                "a study with an infinite sampling variance makes the log-likelihood -Inf; "
                "metafor stops here; drop the study or use method='DL', 'PM', 'SJ' or 'HS' "
                "(which keep it with weight 0, as metafor does)",
            )
        )
    if not (np.isfinite(bf.beta[0]).all() and np.isfinite(bf.se[0]).all()):
        raise _numerical_failure(prep, "non-finite estimate or standard error")
    if bf.fallback[0]:
        warnings.warn(
            f"{prep.method}: metafor's Fisher scoring did not converge in {K.MAXITER} "
            "iterations; tau^2 found by bounded maximization of the "
            f"{'restricted ' if prep.method == 'REML' else ''}likelihood instead",
            MetaAnalysisWarning,
            stacklevel=3,
        )
    if bf.reset_to_zero[0]:
        warnings.warn(
            "Fisher scoring may have stopped at a local maximum; tau^2 set to 0 (as metafor)",
            MetaAnalysisWarning,
            stacklevel=3,
        )
    R2 = float("nan")
    if p > 1:
        R2 = _pseudo_r2(prep, float(bf.tau2[0]), ctl)
    return RMAResult(
        estimate=float(bf.beta[0, 0]),
        se=float(bf.se[0, 0]),
        zval=float(bf.zval[0, 0]),
        pval=float(bf.pval[0, 0]),
        ci_lb=float(bf.ci_lb[0, 0]),
        ci_ub=float(bf.ci_ub[0, 0]),
        pi_lb=float(bf.pi_lb[0]),
        pi_ub=float(bf.pi_ub[0]),
        tau2=float(bf.tau2[0]),
        se_tau2=float(bf.se_tau2[0]),
        I2=float(bf.I2[0]),
        H2=float(bf.H2[0]),
        QE=float(bf.QE[0]),
        QEp=float(bf.QEp[0]),
        QM=float(bf.QM[0]),
        QMp=float(bf.QMp[0]),
        QMdf=bf.QMdf,
        R2=R2,
        coef=bf.beta[0].copy(),
        se_coef=bf.se[0].copy(),
        zval_coef=bf.zval[0].copy(),
        pval_coef=np.asarray(bf.pval[0], dtype=float).copy(),
        ci_lb_coef=bf.ci_lb[0].copy(),
        ci_ub_coef=bf.ci_ub[0].copy(),
        vb=bf.vb[0].copy(),
        coef_names=list(prep.names),
        k=d.k,
        p=p,
        k_all=prep.k_all,
        yi=prep.y,
        vi=prep.v,
        X=prep.X,
        weights=bf.weights[0].copy(),
        slab=list(prep.slab),
        method=prep.method,
        test=prep.test,
        level=prep.level,
        vt=float(bf.vt[0]),
        ddf=bf.ddf,
        converged=bool(bf.converged[0]),
        fallback=bool(bf.fallback[0]),
        iterations=int(bf.iterations[0]),
        dropped=list(prep.dropped),
    )


def _pseudo_r2(prep: Any, tau2: float, ctl: Mapping[str, Any]) -> float:
    """Return metafor's pseudo R^2 (percent) of a model with moderators.

    Random/mixed models: ``max(0, 100 (tau2_RE - tau2) / tau2_RE)`` with
    ``tau2_RE`` from the model without moderators (Raudenbush 1994); 0 when
    ``tau2_RE = 0``. EE models: adjusted R^2 of the weighted regression.
    """
    y, v, X = prep.y, prep.v, prep.X
    if prep.method == "EE":
        if np.var(y) == 0:
            return 0.0
        w = 1.0 / v
        Xw = X * w[:, None]
        beta = np.linalg.solve(X.T @ Xw, Xw.T @ y)
        rss = float((w * (y - X @ beta) ** 2).sum())
        ybar = float((w * y).sum() / w.sum())
        tss = float((w * (y - ybar) ** 2).sum())
        n, p = X.shape
        r2 = 1.0 - rss / tss
        adj = 1.0 - (1.0 - r2) * (n - 1) / (n - p)
        return max(0.0, 100.0 * adj)
    d0 = K.Design(y[None], v[None], None)
    t0 = float(K.estimate_tau2(d0, prep.method, **ctl).tau2[0])
    if t0 == 0.0:
        return 0.0
    return max(0.0, 100.0 * (t0 - tau2) / t0)


# -- batched ------------------------------------------------------------------


def rma_batch(
    yi: Any,
    vi: Any,
    *,
    method: str = "REML",
    test: str = "z",
    level: float = 95.0,
    control: Mapping[str, Any] | None = None,
    solver: str = "metafor",
) -> BatchResult:
    """Fit many intercept-only meta-analyses of k studies at once (vectorized).

    Parameters
    ----------
    yi, vi : array-like, shape (n_meta, k)
        Outcomes and sampling variances; one row per meta-analysis. No missing
        values (use :func:`rma` for data with gaps).
    method, test, level, control
        As in :func:`rma`.
    solver : {"metafor", "newton"}
        ``"metafor"`` (default): metafor's algorithms and stopping rules, so every
        row equals :func:`rma` on it. ``"newton"`` (``method`` "REML" or "ML"
        only): the exact maximizer of the likelihood over tau^2 >= 0 by a
        safeguarded Newton iteration on the analytic score, stopped when a step
        is below ``control["threshold"]`` (default 1e-10) times max(1, tau^2);
        metafor's rule stops up to ~4e-4 (relative) short of it. Faster.

    Returns
    -------
    BatchResult
        Arrays of shape (n_meta,), equal to fitting each row with :func:`rma`
        (``solver="metafor"``).
    """
    method, test, level = check_options(method, test, level)
    if solver not in ("metafor", "newton"):
        raise InputError(Problem("solver", solver, "'metafor' or 'newton'", "", "unknown"))
    if solver == "newton" and method not in ("REML", "ML"):
        raise InputError(
            Problem("method", method, "REML or ML with solver='newton'", "", "no likelihood")
        )
    y = np.asarray(yi, dtype=float)
    v = np.asarray(vi, dtype=float)
    probs: list[Problem] = []
    if y.ndim != 2 or y.shape != v.shape:
        probs.append(
            Problem(
                "yi/vi", f"shapes {y.shape} and {v.shape}", "equal (n_meta, k)", "", "bad shape"
            )
        )
    elif y.shape[1] < 2:
        probs.append(Problem("k", y.shape[1], ">= 2 studies", METAFOR, "too few studies"))
    else:
        if not (np.isfinite(y).all() and np.isfinite(v).all()):
            probs.append(Problem("yi/vi", "NaN or inf", "finite values", "", "missing values"))
        elif (v <= VI_MIN).any():
            probs.append(Problem("vi", float(v.min()), "> 0", METAFOR, "sampling variance <= 0"))
    if probs:
        raise InputError(probs)
    if solver == "newton":
        ctl = {"threshold": NEWTON_TOL, **dict(control or {})}
        tol, maxiter = _control(ctl)["threshold"], _control(ctl)["maxiter"]
        out = fit_newton(y, v, method, test, level, tol=tol, maxiter=maxiter)
        if not np.all(np.isfinite(out["tau2"])):  # pragma: no cover - bracketed
            raise ConvergenceError(f"{method}: tau^2 did not converge for some meta-analyses")
        return BatchResult(**out, method=method, test=test, k=y.shape[1])
    bf = K.fit(K.Design(y, v, None), method, test, level, **_control(control))
    if not np.all(np.isfinite(bf.tau2)):
        raise ConvergenceError(f"{method}: tau^2 did not converge for some meta-analyses")
    return BatchResult(
        estimate=bf.beta[:, 0],
        se=bf.se[:, 0],
        zval=bf.zval[:, 0],
        pval=np.asarray(bf.pval)[:, 0],
        ci_lb=bf.ci_lb[:, 0],
        ci_ub=bf.ci_ub[:, 0],
        pi_lb=bf.pi_lb,
        pi_ub=bf.pi_ub,
        tau2=bf.tau2,
        se_tau2=bf.se_tau2,
        I2=bf.I2,
        H2=bf.H2,
        QE=bf.QE,
        QEp=bf.QEp,
        converged=bf.converged,
        fallback=bf.fallback,
        method=method,
        test=test,
        k=bf.k,
    )
