"""Fast exact REML for the trial mixed models (closed form when balanced, else profiled).

Model: ``y = X beta + Z u + e`` with one random intercept per patient,
``u_i ~ N(0, tau2)``, ``e ~ N(0, sigma2 I)``, and **every patient observed at the
same T visits**. Then ``V_i = sigma2 I_T + tau2 J_T`` has two eigenspaces: the
patient means (projection ``P``, eigenvalue ``theta = sigma2 + T tau2``) and the
within-patient deviations (``W = I - P``, eigenvalue ``sigma2``).

When the column space of ``X`` is invariant under ``P`` (``P X`` lies in
``span X``), ordinary least squares *is* the generalized least-squares estimate
for every ``(sigma2, tau2)`` (Zyskind's condition, 1967; the condition
holds for the trial model: intercept, arm, visit dummies, arm x visit,
patient-level baseline and center dummies, as the patient mean of a visit dummy
is the constant ``1/T`` and that of an arm x visit column is ``arm/T``). The REML
criterion then splits into two independent strata with ``p_w`` and ``p_b``
fixed effects (``p_b = rank(P X)``, ``p_w = p - p_b``) and closed-form
estimates (the ANOVA estimates, which coincide with REML in balanced designs
when they are non-negative; Searle, Casella & McCulloch, Variance Components;
checked against statsmodels ``MixedLM`` in ``tests/trials``)::

    sigma2 = RSS_within / (n (T - 1) - p_w)
    theta  = RSS_between / (n - p_b)      (RSS_between = T * sum_i rbar_i^2)
    tau2   = (theta - sigma2) / T

If ``theta < sigma2`` the constraint ``tau2 >= 0`` binds and the REML optimum is
``tau2 = 0``, ``sigma2 = RSS / (N - p)``. The fixed-effect covariance is
``(X' V^-1 X)^-1 = (X' W X / sigma2 + X' P X / theta)^-1``; in this design the
cross derivatives of the REML log-likelihood between fixed effects and the
variance parameter vanish (``X' P r = 0``), so it equals statsmodels'
inverse-Hessian standard error.

Missed visits break the closed form; :func:`random_intercept_reml` then
profiles the REML criterion over the one variance ratio. A random *center*
intercept (patients nested in centers) has no closed form either (baseline and
arm are not balanced over centers); :func:`nested_reml` profiles over the two
ratios. :func:`phantomlab.trials.analysis.mixed_model` chooses among them and
falls back to statsmodels ``MixedLM`` when none applies.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = [
    "BalancedFit",
    "NestedFit",
    "RandomInterceptFit",
    "balanced_random_intercept_reml",
    "nested_reml",
    "random_intercept_reml",
]


@dataclass(frozen=True)
class BalancedFit:
    """Result of :func:`balanced_random_intercept_reml`.

    Attributes
    ----------
    params : numpy.ndarray
        Fixed effects (GLS = OLS here).
    cov : numpy.ndarray
        Their covariance ``(X' V^-1 X)^-1``.
    sigma2 : float
        Residual (within-patient) variance.
    tau2 : float
        Patient random-intercept variance (0 at the boundary).
    boundary : bool
        True when ``tau2`` was constrained to 0.
    """

    params: np.ndarray
    cov: np.ndarray
    sigma2: float
    tau2: float
    boundary: bool


def balanced_random_intercept_reml(
    y: np.ndarray, x: np.ndarray, n_groups: int, *, tol: float = 1e-9
) -> BalancedFit | None:
    """Fit the balanced random-intercept model by closed-form REML.

    Parameters
    ----------
    y : numpy.ndarray, shape (n_groups * T,)
        Outcome, rows of one patient contiguous and visits in the same order
        for every patient.
    x : numpy.ndarray, shape (n_groups * T, p)
        Fixed-effects design (full column rank).
    n_groups : int
        Number of patients.
    tol : float
        Relative tolerance of the check that ``P X`` lies in ``span X``.

    Returns
    -------
    BalancedFit or None
        None when the data do not qualify (T < 2, rank-deficient ``X``, ``P X``
        not in ``span X``, or no residual degrees of freedom in a stratum); the
        caller then uses the general (iterative) fit.
    """
    n_obs, p = x.shape
    if n_groups < 1 or n_obs % n_groups or n_obs // n_groups < 2:
        return None
    t = n_obs // n_groups
    xr = x.reshape(n_groups, t, p)
    xbar = xr.mean(axis=1)  # patient means of X, (n, p)
    q, rr = np.linalg.qr(x)
    diag = np.abs(np.diag(rr))
    if diag.size < p or diag.min() <= 1e-10 * max(diag.max(), 1.0):
        return None  # rank-deficient design
    # P X in span X: residual of the patient-mean columns on X must vanish
    px = np.repeat(xbar, t, axis=0)
    resid_px = px - q @ (q.T @ px)
    if np.abs(resid_px).max() > tol * max(np.abs(px).max(), 1.0):
        return None
    beta = np.linalg.solve(rr, q.T @ y)
    r = (y - x @ beta).reshape(n_groups, t)
    rbar = r.mean(axis=1)
    rss_b = float(t * rbar @ rbar)
    rss_w = float(np.sum((r - rbar[:, None]) ** 2))
    p_b = int(np.linalg.matrix_rank(xbar))
    p_w = p - p_b
    df_w = n_groups * (t - 1) - p_w
    df_b = n_groups - p_b
    if df_w <= 0 or df_b <= 0:
        return None
    sigma2 = rss_w / df_w
    theta = rss_b / df_b
    boundary = theta < sigma2
    if boundary:
        sigma2 = (rss_w + rss_b) / (n_obs - p)
        theta = sigma2
    tau2 = (theta - sigma2) / t
    xpx = t * (xbar.T @ xbar)
    xwx = x.T @ x - xpx
    cov = np.linalg.inv(xwx / sigma2 + xpx / theta)
    return BalancedFit(beta, cov, float(sigma2), float(tau2), bool(boundary))


@dataclass(frozen=True)
class RandomInterceptFit:
    """Result of :func:`random_intercept_reml`.

    Attributes
    ----------
    params : numpy.ndarray
        Fixed effects (GLS at the REML variance ratio).
    cov : numpy.ndarray
        Their covariance: statsmodels' inverse observed information (REML
        Hessian including the fixed-effect/variance cross terms), or the
        model-based ``(X' V^-1 X)^-1`` at the boundary ``tau2 = 0``.
    sigma2, tau2 : float
        Residual and patient random-intercept variances.
    boundary : bool
        True when ``tau2`` is 0.
    se_method : str
        ``"hessian"`` or ``"gls"``.
    """

    params: np.ndarray
    cov: np.ndarray
    sigma2: float
    tau2: float
    boundary: bool
    se_method: str


def random_intercept_reml(
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


@dataclass(frozen=True)
class NestedFit:
    """Result of :func:`nested_reml` (random center and patient-in-center intercepts).

    Attributes
    ----------
    params : numpy.ndarray
        Fixed effects (GLS at the REML variance ratios).
    gls_cov : numpy.ndarray
        Model-based ``(X' V^-1 X)^-1`` at those ratios.
    sigma2 : float
        Residual variance.
    psi_patient, psi_center : float
        Patient and center variances divided by ``sigma2`` (``psi_center`` may be 0).
    """

    params: np.ndarray
    gls_cov: np.ndarray
    sigma2: float
    psi_patient: float
    psi_center: float


def nested_reml(
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
    return NestedFit(beta, np.linalg.inv(a) * sigma2, sigma2, psi_p, psi_c)
