"""Fast path of one intercept-only fit (the common case), same algorithms.

:func:`phantomlab.meta._kernels.fit` handles batches and moderators with
arrays of shape (n, k). For a single intercept-only meta-analysis the cost is
dominated by numpy's per-call overhead, so this module runs the same
estimators (HE start, metafor's Fisher scoring and ll0 check, R's Brent steps
for PM) on 1-D arrays with dot products and Python floats. Rare cases (Fisher
scoring not converging, the methods without iterations whose standard errors
need the P matrix) are delegated to the batch kernels. The test suite checks
that both paths agree to 1e-12.
"""

from __future__ import annotations

import math

import numpy as np
from numpy.typing import NDArray
from scipy import special

import phantomlab.meta._kernels as K
from phantomlab.exceptions import ConvergenceError
from phantomlab.meta._zeroin import R_UNIROOT_TOL, zeroin

FloatArray = NDArray[np.float64]

#: Methods handled here; the others go through the batch kernels.
FAST_METHODS = frozenset({"EE", "DL", "ML", "REML", "EB", "PM"})

_LOG2PI = math.log(2 * math.pi)


def _he(y: FloatArray, v: FloatArray) -> float:
    k = y.size
    ym = y - y.mean()
    sv = float(v.sum())
    return (float(ym @ ym) - (sv - sv / k)) / (k - 1)


def _q(y: FloatArray, v: FloatArray, t: float) -> float:
    w = 1.0 / (v + t)
    r = y - float(w @ y) / float(w.sum())
    return float((w * r) @ r)


def _loglik(y: FloatArray, v: FloatArray, t: float, reml: bool) -> float:
    vt = v + t
    w = 1.0 / vt
    sw = float(w.sum())
    r = y - float(w @ y) / sw
    rss = float((w * r) @ r)
    slog = float(np.log(vt).sum())
    k = y.size
    if reml:
        return -0.5 * (k - 1) * _LOG2PI - 0.5 * slog - 0.5 * math.log(sw) - 0.5 * rss
    return -0.5 * k * _LOG2PI - 0.5 * slog - 0.5 * rss


def _fisher(
    y: FloatArray, v: FloatArray, method: str, maxiter: int, threshold: float
) -> tuple[float, bool, int]:
    k = y.size
    t = max(0.0, _he(y, v))
    it = 0
    while True:
        it += 1
        w = 1.0 / (v + t)
        sw = float(w.sum())
        r = y - float(w @ y) / sw
        wr = w * r
        if method == "EB":
            adj = (float(wr @ r) * k / (k - 1) - k) / sw
        else:
            ww = w * w
            sw2 = float(ww.sum())
            ypy = float(wr @ wr)
            if method == "ML":
                adj = (ypy - sw) / sw2
            else:
                trP = sw - sw2 / sw
                trPP = sw2 - 2.0 * float(ww @ w) / sw + (sw2 / sw) ** 2
                adj = (ypy - trP) / trPP
        if math.isnan(adj):
            adj = 0.0
        while t + adj < 0.0:
            adj /= 2.0
        new = t + adj
        change = abs(t - new)
        t = new
        if change <= threshold:
            return t, True, it
        if it > maxiter:
            return t, False, it


def fit_single(
    y: FloatArray,
    v: FloatArray,
    method: str,
    test: str,
    level: float,
    *,
    maxiter: int = K.MAXITER,
    threshold: float = K.THRESHOLD,
) -> K.BatchFit:
    """Fit one intercept-only model; returns a :class:`~._kernels.BatchFit` with n = 1.

    Parameters
    ----------
    y, v : ndarray, shape (k,)
        Validated outcomes and sampling variances.
    method, test, level
        As in :func:`phantomlab.meta._kernels.fit`.
    maxiter, threshold
        Controls of the iterative estimators.

    Returns
    -------
    BatchFit
        The same fields as the batch kernel gives.
    """
    if method not in FAST_METHODS:
        return K.fit(K.Design(y[None], v[None], None), method, test, level)
    k = y.size
    conv, fallback, reset, iters = True, False, False, 0
    w0 = 1.0 / v
    sw0 = float(w0.sum())
    r0 = y - float(w0 @ y) / sw0
    q0 = float((w0 * r0) @ r0)
    ww0 = w0 * w0
    sw20 = float(ww0.sum())
    trP0 = sw0 - sw20 / sw0
    se_t2 = math.nan
    if method == "EE":
        tau2 = 0.0
    elif method == "DL":
        tau2 = max(0.0, (q0 - (k - 1)) / trP0)
        trPP0 = sw20 - 2.0 * float(ww0 @ w0) / sw0 + (sw20 / sw0) ** 2
        # divide after the root: trP0**2 underflows for very large sampling variances
        se_t2 = math.sqrt(2 * (k - 1) + 4 * tau2 * trP0 + 2 * tau2**2 * trPP0) / trP0
    elif method == "PM":
        target = float(k - 1)
        if q0 - target < 0.0:
            tau2 = 0.0
        else:
            med = float(np.median(y))
            mad = 1.4826 * float(np.median(np.abs(y - med)))
            hi = max(100.0, 10.0 * mad**2)
            f_hi = _q(y, v, hi) - target
            for _ in range(60):
                if f_hi <= 0.0:
                    break
                hi *= 10.0
                f_hi = _q(y, v, hi) - target

            if f_hi > 0.0:  # Q(tau2) never reaches k - 1: degenerate data
                raise ConvergenceError("PM: no root of Q(tau2) = k - 1 (degenerate data)")

            def f(x: FloatArray, mask: NDArray[np.bool_]) -> FloatArray:
                return np.array([_q(y, v, float(x[0])) - target])

            root, ok = zeroin(
                f,
                np.array([0.0]),
                np.array([hi]),
                np.array([q0 - target]),
                np.array([f_hi]),
                tol=R_UNIROOT_TOL,
                maxiter=maxiter,
            )
            tau2, conv = max(0.0, float(root[0])), bool(ok[0])
    else:
        tau2, conv, iters = _fisher(y, v, method, maxiter, threshold)
        if not conv or not math.isfinite(tau2):
            t2 = K.estimate_tau2(
                K.Design(y[None], v[None], None), method, maxiter=maxiter, threshold=threshold
            )
            tau2, conv, fallback = float(t2.tau2[0]), bool(t2.converged[0]), True
        elif method in ("ML", "REML"):
            reml = method == "REML"
            ll0 = _loglik(y, v, 0.0, reml)
            ll1 = _loglik(y, v, tau2, reml)
            if ll0 - ll1 > R_UNIROOT_TOL and tau2 > threshold:
                tau2, reset = 0.0, True
        tau2 = max(0.0, tau2)
    w = 1.0 / (v + tau2)
    sw = float(w.sum())
    est = float(w @ y) / sw
    r = y - est
    rss = float((w * r) @ r)
    if method in ("PM", "EB"):
        se_t2 = math.sqrt(2 * k**2 / (k - 1)) / sw  # sw**2 underflows for huge vi
    elif method == "ML":
        se_t2 = math.sqrt(2.0 / float(w @ w))
    elif method == "REML":
        ww = w * w
        sw2 = float(ww.sum())
        trPP = sw2 - 2.0 * float(ww @ w) / sw + (sw2 / sw) ** 2
        se_t2 = math.sqrt(2.0 / trPP)
    var = 1.0 / sw
    s2w = 1.0
    if test in ("knha", "adhoc"):
        s2w = 0.0 if rss <= np.finfo(float).eps else rss / (k - 1)
        if test == "adhoc":
            s2w = max(s2w, 1.0)
        var *= s2w
    se = math.sqrt(var)
    zval = est / se if se > 0 else (math.copysign(math.inf, est) if est != 0 else math.nan)
    QM = est**2 / var if var > 0 else math.nan
    alpha = 1.0 - level / 100.0
    ddf: int | None
    if test in ("knha", "adhoc", "t"):
        ddf = k - 1
        QMp = float(special.fdtrc(1, ddf, QM))
        pval = float(2 * special.stdtr(ddf, -abs(zval)))
        crit = float(-special.stdtrit(ddf, alpha / 2))
    else:
        ddf = None
        QMp = float(special.chdtrc(1, QM))
        pval = float(2 * special.ndtr(-abs(zval)))
        crit = float(-special.ndtri(alpha / 2))
    QE = max(q0, 0.0)
    vt = (k - 1) / trP0
    if method == "EE":
        # metafor: 0 for QE = 0, NA (Inf / Inf) for an infinite QE
        I2 = (
            0.0
            if QE == 0
            else math.nan
            if math.isinf(QE)
            else max(0.0, 100.0 * (QE - (k - 1)) / QE)
        )
        H2 = QE / (k - 1)
        pi_lb = pi_ub = math.nan
    else:
        I2 = 100.0 * tau2 / (vt + tau2)
        H2 = tau2 / vt + 1.0
        half = crit * math.sqrt(se**2 + tau2)
        pi_lb, pi_ub = est - half, est + half

    def a1(x: float) -> FloatArray:
        return np.array([x])

    def a2(x: float) -> FloatArray:
        return np.array([[x]])

    return K.BatchFit(
        method=method,
        test=test,
        level=level,
        k=k,
        p=1,
        tau2=a1(tau2),
        se_tau2=a1(se_t2),
        beta=a2(est),
        vb=np.array([[[var]]]),
        se=a2(se),
        zval=a2(zval),
        pval=a2(pval),
        ci_lb=a2(est - crit * se),
        ci_ub=a2(est + crit * se),
        pi_lb=a1(pi_lb),
        pi_ub=a1(pi_ub),
        QE=a1(QE),
        QEp=a1(float(special.chdtrc(k - 1, QE))),
        I2=a1(I2),
        H2=a1(H2),
        vt=a1(vt),
        QM=a1(QM),
        QMp=a1(QMp),
        QMdf=(1, ddf),
        ddf=ddf,
        weights=(100.0 * w / sw)[None],
        s2w=a1(s2w),
        converged=np.array([conv]),
        fallback=np.array([fallback]),
        iterations=np.array([iters], dtype=np.int64),
        reset_to_zero=np.array([reset]),
    )
