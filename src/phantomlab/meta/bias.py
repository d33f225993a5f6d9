"""Small-study effects and publication bias: ``regtest`` and ``trimfill``.

* :func:`regtest` — Egger-type regression test for funnel-plot asymmetry
  (Egger et al. 1997, BMJ 315:629; Sterne & Egger 2005), as metafor's
  ``regtest``: the model is refitted with the standard error (``sei``, default)
  or the variance (``vi``) as moderator, with the model's own tau^2 estimator
  (``model="rma"``) or as a weighted linear model with multiplicative
  dispersion (``model="lm"``, the classical Egger test). The intercept is the
  "limit estimate" as sei -> 0.
* :func:`ranktest` — Begg & Mazumdar (1994, Biometrics 50:1088) rank correlation
  test: Kendall's tau between the standardized deviates and the variances, exact
  p-value for k < 50 without ties (as R's ``cor.test``), else the normal
  approximation.
* :func:`trimfill` — Duval & Tweedie (2000, Biometrics 56:455) trim-and-fill
  with the L0 (default), R0 or Q0 estimator of the number of missing studies;
  the side is chosen, as metafor does, from the sign of the slope of a
  regression of yi on sqrt(vi) (negative slope -> missing on the right).
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray
from scipy import stats

import phantomlab.meta._kernels as K
from phantomlab.exceptions import ConvergenceError, InputError, Problem
from phantomlab.meta._inputs import METAFOR
from phantomlab.meta.diagnostics import RanktestResult
from phantomlab.meta.results import _PREDICTORS, RegtestResult, RMAResult, TrimfillResult
from phantomlab.meta.rma import rma

__all__ = ["RanktestResult", "RegtestResult", "TrimfillResult", "ranktest", "regtest", "trimfill"]


def regtest(res: RMAResult, predictor: str = "sei", model: str = "rma") -> RegtestResult:
    """Regression test for funnel-plot asymmetry (metafor ``regtest``).

    Parameters
    ----------
    res : RMAResult
        A fitted model (moderators, if any, are kept in the test model).
    predictor : {"sei", "vi"}
        Predictor added to the model.
    model : {"rma", "lm"}
        ``"rma"``: meta-regression with the model's tau^2 estimator and test;
        ``"lm"``: weighted least squares with multiplicative dispersion
        (classical Egger test, t with k - p degrees of freedom).

    Returns
    -------
    RegtestResult
        Test of the predictor and the limit estimate.
    """
    res.require_finite_vi("regtest")
    if predictor not in _PREDICTORS:
        raise InputError(
            Problem("predictor", predictor, ", ".join(_PREDICTORS), METAFOR, "unknown predictor")
        )
    if model not in ("rma", "lm"):
        raise InputError(Problem("model", model, "rma, lm", METAFOR, "unknown model"))
    pred = np.sqrt(res.vi) if predictor == "sei" else res.vi.copy()
    base = np.ones((res.k, 1)) if res.X is None else res.X
    X = np.column_stack([base, pred])
    p = X.shape[1]
    if res.k <= p:
        raise InputError(
            Problem("k", res.k, f">= {p + 1} studies", METAFOR, "too few studies for regtest")
        )
    if np.linalg.matrix_rank(X) < p:
        raise InputError(
            Problem(predictor, "constant", "varying across studies", METAFOR, "cannot test")
        )
    if model == "lm":
        d = K.Design(res.yi[None], res.vi[None], X[None])
        bf = K.fit(d, "EE", "knha", res.level)
    else:
        import pandas as pd

        names = [*res.coef_names[1:], predictor]
        fit = rma(
            res.yi,
            res.vi,
            method=res.method,
            test=res.test,
            level=res.level,
            mods=pd.DataFrame(X[:, 1:], columns=names),
            slab=res.slab,
        )
        return RegtestResult(
            zval=float(fit.zval_coef[-1]),
            pval=float(fit.pval_coef[-1]),
            dfs=fit.ddf,
            limit=float(fit.coef[0]),
            ci_lb=float(fit.ci_lb_coef[0]),
            ci_ub=float(fit.ci_ub_coef[0]),
            predictor=predictor,
            model=model,
            fit=fit,
            tested=res,
            slope=float(fit.coef[-1]),
        )
    return RegtestResult(
        zval=float(bf.zval[0, -1]),
        pval=float(np.asarray(bf.pval)[0, -1]),
        dfs=bf.ddf,
        limit=float(bf.beta[0, 0]),
        ci_lb=float(bf.ci_lb[0, 0]),
        ci_ub=float(bf.ci_ub[0, 0]),
        predictor=predictor,
        model=model,
        fit=None,
        tested=res,
        slope=float(bf.beta[0, -1]),
    )


def _estimate_intercept(y: NDArray[np.float64], v: NDArray[np.float64], method: str) -> float:
    if y.size == 1:  # metafor fits k = 1 models with tau2 = 0
        return float(y[0])
    bf = K.fit(K.Design(y[None], v[None], None), method, "z")
    if not np.isfinite(bf.beta[0, 0]):  # pragma: no cover - kernels fall back before this
        raise ConvergenceError("trimfill: model fit did not converge")
    return float(bf.beta[0, 0])


def trimfill(
    res: RMAResult, side: str | None = None, estimator: str = "L0", maxiter: int = 100
) -> TrimfillResult:
    """Duval & Tweedie trim-and-fill (metafor ``trimfill``).

    Parameters
    ----------
    res : RMAResult
        A model without moderators.
    side : {"left", "right"}, optional
        Side of the funnel plot with the missing studies; by default chosen from
        the sign of the slope of yi on sqrt(vi) (metafor's rule).
    estimator : {"L0", "R0", "Q0"}
        Estimator of the number of missing studies (Duval & Tweedie 2000).
    maxiter : int
        Maximum number of trim-and-fill iterations.

    Returns
    -------
    TrimfillResult
        k0, side and the model refitted with the filled studies. As in metafor,
        the refitted model uses the z test.
    """
    res.require_finite_vi("trimfill")
    if not res.int_only:
        raise InputError(
            Problem(
                "mods",
                res.coef_names[1:],
                "none",
                METAFOR,
                "trimfill needs a model without moderators",
            )
        )
    if estimator not in ("L0", "R0", "Q0"):
        raise InputError(
            Problem("estimator", estimator, "L0, R0, Q0", METAFOR, "unknown estimator")
        )
    yi0, vi0 = res.yi, res.vi
    k = res.k
    if side is None:
        # metafor picks the side from rma(yi, vi, mods = sqrt(vi)): it stops when that
        # model has more parameters than studies or a rank-deficient model matrix
        need = 2 if res.method in ("EE", "FE", "CE") else 3
        if k < need:
            raise InputError(
                Problem(
                    "k",
                    k,
                    f">= {need} studies to estimate the side with method {res.method}",
                    METAFOR,
                    "number of parameters to be estimated is larger than the number of "
                    "observations (metafor stops); give side='left' or 'right'",
                )
            )
        if np.ptp(np.sqrt(vi0)) == 0:
            raise InputError(
                Problem(
                    "vi",
                    "all equal",
                    "sampling variances that differ, or side='left'/'right'",
                    METAFOR,
                    "the side cannot be estimated when every study has the same variance "
                    "(metafor stops); give side",
                )
            )
        X = np.column_stack([np.ones(k), np.sqrt(vi0)])
        bf = K.fit(K.Design(yi0[None], vi0[None], X[None]), res.method, "z")
        side = "right" if bf.beta[0, 1] < 0 else "left"
    elif side not in ("left", "right"):
        raise InputError(Problem("side", side, "left, right", METAFOR, "unknown side"))
    yi = -yi0 if side == "right" else yi0.copy()
    order = np.argsort(yi, kind="stable")
    yi = yi[order]
    vi = vi0[order]
    k0_sav, k0, it = -1, 0, 0
    se_k0 = float("nan")
    beta = 0.0
    yi_c = yi.copy()
    while k0 != k0_sav:
        k0_sav = k0
        it += 1
        if it > maxiter:
            raise ConvergenceError("trim and fill algorithm did not converge")
        if k - k0 < 1:
            raise ConvergenceError(f"trim and fill trimmed {k0} of {k} studies; cannot refit")
        beta = _estimate_intercept(yi[: k - k0], vi[: k - k0], res.method)
        yi_c = yi - beta
        ranks = stats.rankdata(np.abs(yi_c), method="ordinal")
        signed = np.sign(yi_c) * ranks
        if estimator == "R0":
            neg = signed[signed < 0]
            k0f = float(k - (np.max(-neg) if neg.size else 0) - 1)
            se_k0 = float(np.sqrt(2 * max(0.0, k0f) + 2))
        else:
            Sr = float(signed[signed > 0].sum())
            if estimator == "L0":
                k0f = (4 * Sr - k * (k + 1)) / (2 * k - 1)
            else:
                k0f = k - 0.5 - np.sqrt(2 * k**2 - 4 * Sr + 0.25)
            var_sr = (
                k * (k + 1) * (2 * k + 1)
                + 10 * k0f**3
                + 27 * k0f**2
                + 17 * k0f
                - 18 * k * k0f**2
                - 18 * k * k0f
                + 6 * k**2 * k0f
            ) / 24.0
            if estimator == "L0":
                se_k0 = float(4 * np.sqrt(var_sr) / (2 * k - 1))
            else:
                se_k0 = float(
                    2 * np.sqrt(var_sr) / np.sqrt((k - 0.5) ** 2 - k0f * (2 * k - k0f - 1))
                )
        k0 = int(max(0, np.round(k0f)))
        se_k0 = max(0.0, se_k0)
    if k0 > 0:
        mirrored = 2 * beta - yi[k - k0 :]
        fill_y = -mirrored if side == "right" else mirrored
        fill_v = vi[k - k0 :]
        y_all = np.concatenate([yi0, fill_y])
        v_all = np.concatenate([vi0, fill_v])
        slab = list(res.slab) + [f"Filled {i + 1}" for i in range(k0)]
        fit = rma(y_all, v_all, method=res.method, level=res.level, slab=slab)
        fill = np.concatenate([np.zeros(k, dtype=bool), np.ones(k0, dtype=bool)])
    else:
        fit = res
        fill = np.zeros(k, dtype=bool)
    p_k0 = float("nan")
    if estimator == "R0":
        m = np.arange(-1, k0)
        from scipy.special import comb

        p_k0 = float(1 - np.sum(comb(m + 1, m + 1) * 0.5 ** (m + 2)))
    return TrimfillResult(
        k0=k0, se_k0=se_k0, side=side, estimator=estimator, p_k0=p_k0, fit=fit, fill=fill
    )


def ranktest(res: RMAResult) -> RanktestResult:
    """Begg & Mazumdar rank correlation test for funnel-plot asymmetry (metafor ``ranktest``).

    Parameters
    ----------
    res : RMAResult
        A model without moderators.

    Returns
    -------
    RanktestResult
        Kendall's tau (tau-b) of the standardized deviates
        (yi - theta_EE) / sqrt(vi - 1/sum(1/vi)) against vi, and its p-value.
    """
    if not res.int_only:
        raise InputError(
            Problem("mods", res.coef_names[1:], "none", METAFOR, "ranktest needs no moderators")
        )
    w = 1.0 / res.vi
    theta = float(w @ res.yi) / float(w.sum())
    ystar = (res.yi - theta) / np.sqrt(res.vi - 1.0 / float(w.sum()))
    ties = len(np.unique(ystar)) < ystar.size or len(np.unique(res.vi)) < res.vi.size
    exact = res.k < 50 and not ties
    out = stats.kendalltau(ystar, res.vi, method="exact" if exact else "asymptotic")
    return RanktestResult(tau=float(out.statistic), pval=float(out.pvalue), exact=exact)
