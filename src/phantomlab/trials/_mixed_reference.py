"""The previous optimizers of :mod:`phantomlab.trials._mixed`, kept as references.

Until 2026-12 the profiled REML criterion of the fast mixed-model paths was
minimized by derivative-free searches: a log-spaced grid and a bounded Brent
search for the patient ratio alone (:func:`random_intercept_reml_brent`), and
Nelder-Mead over ``(log psi_p, log psi_c)`` for a random center
(:func:`nested_reml_nelder_mead`, about 400 criterion evaluations and 40-100 ms
per fit). :mod:`phantomlab.trials._mixed` now uses Newton's method with the
analytic gradient and Hessian of the same criterion. These functions are the
old code unchanged (apart from their names) so that tests and
``benchmarks/bench_mixed.py`` can compare the two on the same data; the package
itself does not call them.
"""

from __future__ import annotations

import numpy as np

from phantomlab.trials._mixed import NestedFit, RandomInterceptFit

__all__ = ["nested_reml_nelder_mead", "random_intercept_reml_brent"]


def random_intercept_reml_brent(
    y: np.ndarray, x: np.ndarray, groups: np.ndarray
) -> RandomInterceptFit | None:
    """REML fit of ``y = X beta + u_group + e`` by a profiled 1-D search over ``tau2/sigma2``.

    Works for unbalanced groups (missed visits). With ``psi = tau2 / sigma2`` and
    ``V*_i = I + psi J`` (so ``V*_i^-1 = I - psi / (1 + T_i psi) J``), every
    quantity of the REML criterion is a function of the per-group sums
    ``s_i = X_i' 1`` and ``t_i = 1' y_i`` and of ``X'X``, ``X'y``, ``y'y``::

        -2 l(psi) = (N - p) log(r' V*^-1 r) + sum_i log(1 + T_i psi)
                    + log det(X' V*^-1 X) + const

    (``sigma2`` and ``beta`` profiled out, ``sigma2 = r' V*^-1 r / (N - p)``, the
    criterion statsmodels ``MixedLM`` maximizes). ``psi`` is found on a
    log-spaced grid and refined with a bounded Brent search; ``psi = 0`` is
    taken when it is at least as good. Standard errors reproduce statsmodels'
    (``MixedLM.hessian``: the inverse of the observed REML information over
    ``(beta, psi)``, written out for a scalar random intercept).

    Parameters
    ----------
    y : numpy.ndarray, shape (N,)
        Outcome.
    x : numpy.ndarray, shape (N, p)
        Fixed-effects design (full column rank).
    groups : numpy.ndarray of int, shape (N,)
        Group (patient) code of each row, ``0 .. n-1``.

    Returns
    -------
    RandomInterceptFit or None
        None when ``X`` is rank-deficient, there are no residual degrees of
        freedom, or the optimum lies beyond ``psi = e^8`` (about 3000); the
        caller then uses statsmodels.
    """
    from scipy.optimize import minimize_scalar

    n_obs, p = x.shape
    g = np.asarray(groups, dtype=np.intp)
    n = int(g.max()) + 1
    if n_obs - p <= 0 or np.linalg.matrix_rank(x) < p:
        return None
    tt = np.bincount(g, minlength=n).astype(float)  # visits per group
    s = np.zeros((n, p))
    np.add.at(s, g, x)
    t = np.bincount(g, weights=y, minlength=n)
    xtx, xty, yty = x.T @ x, x.T @ y, float(y @ y)
    fac = n_obs - p

    def solve(psi: float) -> tuple[np.ndarray, np.ndarray, float, float]:
        c = psi / (1.0 + tt * psi)
        a = xtx - (s * c[:, None]).T @ s
        b = xty - s.T @ (c * t)
        chol = np.linalg.cholesky(a)
        beta = np.linalg.solve(a, b)
        rvir = yty - float(c @ t**2) - float(b @ beta)
        logdet = 2.0 * float(np.sum(np.log(np.diag(chol))))
        return a, beta, rvir, logdet

    def crit(logpsi: float) -> float:
        psi = float(np.exp(logpsi))
        _, _, rvir, logdet = solve(psi)
        return fac * np.log(rvir) + float(np.sum(np.log1p(tt * psi))) + logdet

    def crit0() -> float:
        _, _, rvir, logdet = solve(0.0)
        return fac * np.log(rvir) + logdet

    try:
        grid = np.linspace(-16.0, 8.0, 49)  # psi from 1e-7 to 3e3
        vals = np.array([crit(v) for v in grid])
        k = int(np.argmin(vals))
        if k == grid.size - 1 or not np.all(np.isfinite(vals)):
            return None  # tau2 / sigma2 beyond the grid: leave it to the general fit
        lo, hi = grid[max(k - 1, 0)], grid[min(k + 1, grid.size - 1)]
        opt = minimize_scalar(crit, bounds=(lo, hi), method="bounded", options={"xatol": 1e-12})
        psi = float(np.exp(opt.x))
        boundary = crit0() <= float(opt.fun) or k == 0
        if boundary:
            psi = 0.0
        a, beta, rvir, _ = solve(psi)
    except np.linalg.LinAlgError:
        return None
    sigma2 = rvir / fac
    gls = np.linalg.inv(a) * sigma2
    if boundary:
        return RandomInterceptFit(beta, gls, sigma2, 0.0, True, "gls")
    # statsmodels MixedLM.hessian for one scalar random intercept per group
    w = 1.0 / (1.0 + tt * psi)  # V*_i^-1 1 = w_i 1
    rho = t - s @ beta  # 1' r_i
    hess_fe = -fac * a / rvir
    hess_fere = -fac / rvir * (s.T @ (w**2 * rho))
    b_sum = float(np.sum(w**2 * rho**2))
    d_sum = float(np.sum(2.0 * tt * w**3 * rho**2))
    hess_re = float(np.sum(tt**2 * w**2)) / 2.0 - 0.5 * fac * (d_sum / rvir - b_sum**2 / rvir**2)
    xtax = (s * (w**2)[:, None]).T @ s
    f_mat = 2.0 * (s * (tt * w**3)[:, None]).T @ s
    q = np.linalg.solve(a, xtax)
    hess_re += 0.5 * (float(np.sum(q.T * q)) - float(np.trace(np.linalg.solve(a, f_mat))))
    hess = np.zeros((p + 1, p + 1))
    hess[:p, :p] = hess_fe
    hess[:p, p] = hess[p, :p] = hess_fere
    hess[p, p] = hess_re
    cov = np.linalg.inv(-hess)[:p, :p]
    if not np.all(np.isfinite(np.diag(cov))) or np.any(np.diag(cov) <= 0):
        return RandomInterceptFit(beta, gls, sigma2, psi * sigma2, False, "gls")
    return RandomInterceptFit(beta, cov, sigma2, psi * sigma2, False, "hessian")


def nested_reml_nelder_mead(
    y: np.ndarray, x: np.ndarray, patient: np.ndarray, center: np.ndarray
) -> NestedFit | None:
    """REML of ``y = X beta + c_center + u_patient + e`` profiled over two variance ratios.

    ``V*_k = I + psi_p Z Z' + psi_c 1 1'`` within center ``k``. With
    ``A_k = I + psi_p Z Z'`` (inverse per patient: ``I - psi_p / (1 + T_i psi_p) J``)
    and Sherman-Morrison for the center term, the REML criterion (``sigma2`` and
    ``beta`` profiled out, as statsmodels ``MixedLM`` maximizes it)::

        (N - p) log(r' V*^-1 r) + sum_i log(1 + T_i psi_p)
        + sum_k log(1 + psi_c m_k) + log det(X' V*^-1 X),   m_k = 1' A_k^-1 1

    is computed from per-patient sums and minimized over ``(log psi_p, log psi_c)``
    by Nelder-Mead started from the best of a few center ratios at the
    patient-only optimum; ``psi_c = 0`` (the patient-only REML) is taken when it
    is at least as good.

    Parameters
    ----------
    y : numpy.ndarray, shape (N,)
        Outcome.
    x : numpy.ndarray, shape (N, p)
        Fixed-effects design (full column rank).
    patient, center : numpy.ndarray of int, shape (N,)
        Patient codes ``0 .. n-1`` (nested in centers) and center codes ``0 .. K-1``.

    Returns
    -------
    NestedFit or None
        None when the fit is not well defined here (rank-deficient ``X``, patient
        variance ratio outside ``[e^-12, e^8]``); the caller uses statsmodels.
    """
    from scipy.optimize import minimize

    n_obs, p = x.shape
    g = np.asarray(patient, dtype=np.intp)
    n = int(g.max()) + 1
    if n_obs - p <= 0 or np.linalg.matrix_rank(x) < p:
        return None
    cp = np.zeros(n, dtype=np.intp)
    cp[g] = np.asarray(center, dtype=np.intp)
    k_c = int(cp.max()) + 1
    tt = np.bincount(g, minlength=n).astype(float)
    s = np.zeros((n, p))
    np.add.at(s, g, x)
    t = np.bincount(g, weights=y, minlength=n)
    onehot = np.zeros((k_c, n))
    onehot[cp, np.arange(n)] = 1.0
    xtx, xty, yty = x.T @ x, x.T @ y, float(y @ y)
    fac = n_obs - p

    def solve(psi_p: float, psi_c: float) -> tuple[np.ndarray, np.ndarray, float, float, float]:
        w = 1.0 / (1.0 + tt * psi_p)
        c = psi_p * w
        m = onehot @ (tt * w)
        u = onehot @ (s * w[:, None])
        v = onehot @ (t * w)
        kap = psi_c / (1.0 + psi_c * m)
        a = xtx - (s * c[:, None]).T @ s - (u * kap[:, None]).T @ u
        b = xty - s.T @ (c * t) - u.T @ (kap * v)
        chol = np.linalg.cholesky(a)
        beta = np.linalg.solve(a, b)
        rvir = yty - float(c @ t**2) - float(kap @ v**2) - float(b @ beta)
        logdet = 2.0 * float(np.sum(np.log(np.diag(chol))))
        logv = float(np.sum(np.log1p(tt * psi_p)) + np.sum(np.log1p(psi_c * m)))
        return a, beta, rvir, logdet, logv

    def crit(psi_p: float, psi_c: float) -> float:
        _, _, rvir, logdet, logv = solve(psi_p, psi_c)
        if rvir <= 0:
            return float("inf")
        return float(fac * np.log(rvir) + logv + logdet)

    def crit_log(z: np.ndarray) -> float:
        return crit(float(np.exp(z[0])), float(np.exp(z[1])))

    try:
        grid = np.linspace(-12.0, 8.0, 41)
        vals = [crit(float(np.exp(v)), 0.0) for v in grid]
        lp0 = float(grid[int(np.argmin(vals))])
        starts = [(lp0, lc) for lc in (-8.0, -5.0, -3.0, -1.0, 1.0)]
        z0 = min(starts, key=lambda z: crit_log(np.array(z)))
        opt = minimize(
            crit_log,
            np.array(z0),
            method="Nelder-Mead",
            options={"xatol": 1e-10, "fatol": 1e-13, "maxiter": 4000, "maxfev": 8000},
        )
        # the patient-only optimum (psi_c = 0), refined
        opt0 = minimize(
            lambda z: crit(float(np.exp(z[0])), 0.0),
            np.array([lp0]),
            method="Nelder-Mead",
            options={"xatol": 1e-10, "fatol": 1e-13},
        )
        if float(opt0.fun) <= float(opt.fun) or opt.x[1] < -20.0:
            psi_p, psi_c = float(np.exp(opt0.x[0])), 0.0
        else:
            psi_p, psi_c = float(np.exp(opt.x[0])), float(np.exp(opt.x[1]))
        if not -12.0 <= np.log(psi_p) <= 8.0:
            return None
        a, beta, rvir, _, _ = solve(psi_p, psi_c)
    except np.linalg.LinAlgError:
        return None
    sigma2 = rvir / fac
    gls = np.linalg.inv(a) * sigma2
    return NestedFit(beta, gls, gls, "gls", sigma2, psi_p, psi_c)
