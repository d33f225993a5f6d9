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
from typing import Any

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
    """REML fit of ``y = X beta + u_group + e`` by Newton on the profiled ``tau2/sigma2``.

    Works for unbalanced groups (missed visits). With ``psi = tau2 / sigma2`` and
    ``V*_i = I + psi J`` (so ``V*_i^-1 = I - psi / (1 + T_i psi) J``), every
    quantity of the REML criterion is a function of the per-group sums
    ``s_i = X_i' 1`` and ``t_i = 1' y_i`` and of ``X'X``, ``X'y``, ``y'y``::

        -2 l(psi) = (N - p) log(r' V*^-1 r) + sum_i log(1 + T_i psi)
                    + log det(X' V*^-1 X) + const

    (``sigma2`` and ``beta`` profiled out, ``sigma2 = r' V*^-1 r / (N - p)``, the
    criterion statsmodels ``MixedLM`` maximizes). ``psi`` is found by Newton's
    method with the analytic first and second derivatives (:class:`_Profile`),
    started from the best point of a coarse grid, with ``psi >= 0`` enforced by
    projection; ``psi = 0`` is taken when it is at least as good. Standard errors
    reproduce statsmodels' (``MixedLM.hessian``: the inverse of the observed REML
    information over ``(beta, psi)``, written out for a scalar random intercept).

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
    n_obs, p = x.shape
    if n_obs - p <= 0:
        return None
    try:
        prof = _Profile(y, x, groups, np.zeros(n_obs, dtype=np.intp))
        if not prof.full_rank():
            return None
        psi_v, f, st, _ = _newton(prof, np.array([_start(prof)]))
        psi = float(psi_v[0])
        if not np.isfinite(f) or psi > np.exp(8.0):
            return None  # tau2 / sigma2 beyond the range: leave it to the general fit
        boundary = psi == 0.0 or prof.value(0.0, 0.0)["f"] <= f
        if boundary and psi > 0.0:
            psi = 0.0
            _, _, _, st = prof.derivs(np.zeros(1))
    except np.linalg.LinAlgError:
        return None
    sigma2 = st["q"] / prof.fac
    gls = st["ainv"] * sigma2
    if boundary:
        return RandomInterceptFit(st["beta"], gls, sigma2, 0.0, True, "gls")
    cov = _inv_block(prof.sm_hessian(st, nested=False), p)
    if cov is None:
        return RandomInterceptFit(st["beta"], gls, sigma2, psi * sigma2, False, "gls")
    return RandomInterceptFit(st["beta"], cov, sigma2, psi * sigma2, False, "hessian")


@dataclass(frozen=True)
class NestedFit:
    """Result of :func:`nested_reml` (random center and patient-in-center intercepts).

    Attributes
    ----------
    params : numpy.ndarray
        Fixed effects (GLS at the REML variance ratios).
    gls_cov : numpy.ndarray
        Model-based ``(X' V^-1 X)^-1`` at those ratios.
    cov : numpy.ndarray
        Covariance used for standard errors: statsmodels' inverse REML Hessian
        (``MixedLM.hessian``, written out) at an interior optimum, else ``gls_cov``.
    se_method : str
        ``"hessian"`` or ``"gls"``.
    sigma2 : float
        Residual variance.
    psi_patient, psi_center : float
        Patient and center variances divided by ``sigma2`` (``psi_center`` may be 0).
    """

    params: np.ndarray
    gls_cov: np.ndarray
    cov: np.ndarray
    se_method: str
    sigma2: float
    psi_patient: float
    psi_center: float


def nested_reml(
    y: np.ndarray, x: np.ndarray, patient: np.ndarray, center: np.ndarray
) -> NestedFit | None:
    """REML of ``y = X beta + c_center + u_patient + e`` by Newton over two variance ratios.

    ``V*_k = I + psi_p Z Z' + psi_c 1 1'`` within center ``k``. With
    ``A_k = I + psi_p Z Z'`` (inverse per patient: ``I - psi_p / (1 + T_i psi_p) J``)
    and Sherman-Morrison for the center term, the REML criterion (``sigma2`` and
    ``beta`` profiled out, as statsmodels ``MixedLM`` maximizes it)::

        (N - p) log(r' V*^-1 r) + sum_i log(1 + T_i psi_p)
        + sum_k log(1 + psi_c m_k) + log det(X' V*^-1 X),   m_k = 1' A_k^-1 1

    and its analytic gradient and Hessian are computed from per-patient sums
    (:class:`_Profile`). It is minimized over ``psi >= 0`` by projected Newton
    (:func:`_newton`): first the patient ratio alone (``psi_c = 0``), then both,
    started at that patient ratio and the best of a few center ratios;
    ``psi_c = 0`` (the patient-only REML) is taken when it is at least as good.
    At an interior optimum the standard errors are statsmodels' inverse Hessian
    over ``(beta, psi_c, psi_p)`` (``MixedLM.hessian``, written out).

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
    n_obs, p = x.shape
    if n_obs - p <= 0:
        return None
    try:
        prof = _Profile(y, x, patient, center)
        if not prof.full_rank():
            return None
        psi0, f0, st0, _ = _newton(prof, np.array([_start(prof)]))
        starts = [float(np.exp(lc)) for lc in (-8.0, -5.0, -3.0, -1.0, 1.0)]
        c0 = min(starts, key=lambda c: prof.value(float(psi0[0]), c)["f"])
        psi2, f2, st2, _ = _newton(prof, np.array([psi0[0], c0]))
        if f0 <= f2 or psi2[1] < np.exp(-20.0):
            psi_p, psi_c, st = float(psi0[0]), 0.0, st0
        else:
            psi_p, psi_c, st = float(psi2[0]), float(psi2[1]), st2
        if not np.exp(-12.0) <= psi_p <= np.exp(8.0):
            return None
    except np.linalg.LinAlgError:
        return None
    sigma2 = st["q"] / prof.fac
    gls = st["ainv"] * sigma2
    cov = _inv_block(prof.sm_hessian(st, nested=True), p) if psi_c > 0 else None
    if cov is None:
        return NestedFit(st["beta"], gls, gls, "gls", sigma2, psi_p, psi_c)
    return NestedFit(st["beta"], gls, cov, "hessian", sigma2, psi_p, psi_c)


def _inv_block(hess: np.ndarray, p: int) -> np.ndarray | None:
    """Fixed-effect block of ``(-hess)^-1``; None unless finite with a positive diagonal."""
    try:
        cov = np.linalg.inv(-hess)[:p, :p]
    except np.linalg.LinAlgError:
        return None
    dg = np.diag(cov)
    if not np.all(np.isfinite(dg)) or np.any(dg <= 0):
        return None
    return np.asarray(cov)


def _newton(
    prof: _Profile, psi0: np.ndarray, *, tol: float = 1e-7, max_iter: int = 100
) -> tuple[np.ndarray, float, dict[str, Any], int]:
    """Minimize the profiled criterion over ``psi >= 0`` by projected Newton.

    Bound-constrained Newton (Bertsekas 1982): a ratio at 0 whose derivative
    is non-negative is held at 0 (the Karush-Kuhn-Tucker condition of the
    boundary optimum), the others take the Newton step of their block (the
    Hessian's eigenvalues replaced by their absolute values where it is not
    positive definite), projected onto ``psi >= 0`` and halved until the
    criterion decreases (Armijo). Stops after a full Newton step (positive
    definite Hessian) below ``tol`` relative: convergence is quadratic, so the
    point reached is then within about ``tol**2`` of the optimum.

    Returns
    -------
    psi, f, state, iterations
        The optimum, the criterion there, the evaluation state (for the
        standard errors) and the number of Newton iterations.
    """
    psi = np.maximum(np.asarray(psi0, dtype=float), 0.0)
    f, grad, hess, st = prof.derivs(psi)
    for it in range(1, max_iter + 1):
        free = ~((psi <= 0.0) & (grad >= 0.0))
        if not free.any():
            return psi, f, st, it
        lam, vec = np.linalg.eigh(hess[np.ix_(free, free)])
        floor = 1e-12 * max(float(np.abs(lam).max()), 1e-300)
        step = np.zeros_like(psi)
        step[free] = -vec @ ((vec.T @ grad[free]) / np.maximum(np.abs(lam), floor))
        scale = np.maximum(psi, 1e-8)
        small = bool(np.all(np.abs(step) <= tol * scale)) and bool(np.all(lam > 0))
        alpha = 1.0
        while True:
            new = np.maximum(psi + alpha * step, 0.0)
            try:
                fn, gn, hn, sn = prof.derivs(new)
            except np.linalg.LinAlgError:
                fn = float("inf")
            if small or fn <= f + 1e-4 * float(grad @ (new - psi)) + 1e-13 * abs(f):
                break
            alpha *= 0.5
            if alpha < 1e-12:
                return psi, f, st, it  # no decrease possible: at the optimum to rounding
        psi, f, grad, hess, st = new, fn, gn, hn, sn
        if small:
            return psi, f, st, it
    raise np.linalg.LinAlgError("Newton iteration did not converge")


def _start(prof: _Profile) -> float:
    """Return a starting patient ratio: the moment (ANOVA) estimate from OLS residuals.

    With ``rho_i`` the patient sums of the OLS residuals, ``sum rho_i^2 / T_i``
    has expectation about ``n sigma2 + N tau2`` and the rest of the residual sum
    of squares about ``(N - n) sigma2``; the ratio is clipped to ``[1e-3, e^8]``.
    """
    beta = np.linalg.solve(prof.xtx, prof.xty)
    rho = prof.t - prof.s @ beta
    between = float(rho @ (rho / prof.tt))
    n_obs, n = float(prof.tt.sum()), prof.tt.size
    within = prof.yty - float(prof.xty @ beta) - between
    if n_obs <= n or within <= 0:
        return 1.0
    s2 = within / (n_obs - n)
    return float(np.clip((between - n * s2) / n_obs / s2, 1e-3, np.exp(8.0)))


class _Profile:
    """Profiled REML of ``V* = I + psi_p Z_p Z_p' + psi_c Z_c Z_c'`` from per-patient sums.

    ``sigma2`` and ``beta`` profiled out (the criterion statsmodels ``MixedLM``
    maximizes, times -2, constants dropped)::

        f(psi) = (N - p) log(r' V*^-1 r) + log det V* + log det(X' V*^-1 X)

    With ``w_i = 1 / (1 + T_i psi_p)`` and ``h_i = T_i w_i``, the patient block of
    ``V*^-1`` is ``I - psi_p w_i J`` and, within center ``k``, Sherman-Morrison adds
    ``-kappa_k A_k^-1 1 1' A_k^-1`` with ``kappa_k = psi_c / (1 + psi_c m_k)``,
    ``m_k = sum_{i in k} h_i``. Since ``Z_c = Z_p C`` (``C`` the patient-to-center
    incidence), all derivatives follow from ``G = Z_p' V*^-1 Z_p`` (diagonal
    ``h`` minus a rank-one term per center), ``L = Z_p' V*^-1 X`` and
    ``v = Z_p' P y`` (``P = V*^-1 - V*^-1 X A^-1 X' V*^-1``, ``A = X' V*^-1 X``),
    without forming an ``n x n`` matrix. With ``D_j = Z_j Z_j'``,
    ``a_j = y' P D_j P y``, ``q = y' P y`` and ``S_jk = Z_j' P Z_k``::

        df/dpsi_j = -(N - p) a_j / q + tr S_jj
        d2f/dpsi_j dpsi_k = (N - p) (2 v_j' S_jk v_k / q - a_j a_k / q^2) - ||S_jk||_F^2

    (``dP/dpsi_k = -P D_k P``; Lindstrom & Bates 1988, JASA 83:1014, for the
    derivatives of the profiled REML criterion). Index 0 is the patient ratio,
    index 1 the center ratio.
    """

    def __init__(self, y: np.ndarray, x: np.ndarray, patient: np.ndarray, center: np.ndarray):
        g = np.asarray(patient, dtype=np.intp)
        n = int(g.max()) + 1
        cp = np.zeros(n, dtype=np.intp)
        cp[g] = np.asarray(center, dtype=np.intp)
        self.cp, self.k_c = cp, int(cp.max()) + 1
        self.tt = np.bincount(g, minlength=n).astype(float)
        order = np.argsort(g, kind="stable")
        gs = g[order]
        starts = np.flatnonzero(np.r_[True, gs[1:] != gs[:-1]])
        self.s = np.add.reduceat(x[order], starts, axis=0)  # X_i' 1 (codes 0 .. n-1 all used)
        self.t = np.bincount(g, weights=y, minlength=n)
        self.xtx, self.xty, self.yty = x.T @ x, x.T @ y, float(y @ y)
        self.fac = x.shape[0] - x.shape[1]
        self.t2 = self.t**2
        self.onehot = np.zeros((self.k_c, n))
        self.onehot[cp, np.arange(n)] = 1.0

    def full_rank(self) -> bool:
        """Return whether ``X'X`` is numerically non-singular (``numpy.linalg.matrix_rank``)."""
        return bool(np.linalg.matrix_rank(self.xtx, hermitian=True) == self.xtx.shape[0])

    def _csum(self, a: np.ndarray) -> np.ndarray:
        """Per-center sums of per-patient rows."""
        return np.asarray(self.onehot @ a)

    def value(self, psi_p: float, psi_c: float) -> dict[str, Any]:
        """Criterion and the GLS solution at ``(psi_p, psi_c)``; raises LinAlgError if singular."""
        w = 1.0 / (1.0 + self.tt * psi_p)
        h = self.tt * w
        m = self._csum(h)
        kap = psi_c / (1.0 + psi_c * m)
        ws = self.s * w[:, None]
        u = self._csum(ws)
        wt = self.t * w
        vcen = self._csum(wt)
        a = self.xtx - (self.s * (psi_p * w)[:, None]).T @ self.s - (u * kap[:, None]).T @ u
        b = self.xty - self.s.T @ (psi_p * w * self.t) - u.T @ (kap * vcen)
        chol = np.linalg.cholesky(a)
        beta = np.linalg.solve(a, b)
        q = self.yty - psi_p * float(w @ self.t2) - float(kap @ vcen**2) - float(b @ beta)
        logv = float(np.sum(np.log1p(self.tt * psi_p)) + np.sum(np.log1p(psi_c * m)))
        f = self.fac * np.log(q) + logv + 2.0 * float(np.sum(np.log(np.diag(chol))))
        return {
            "f": float(f) if q > 0 else float("inf"),
            **{"w": w, "h": h, "m": m, "kap": kap, "ws": ws, "u": u, "wt": wt, "vcen": vcen},
            **{"a": a, "chol": chol, "beta": beta, "q": q},
        }

    def parts(self, st: dict[str, Any]) -> dict[str, Any]:
        """Blocks of ``G``, ``L``, ``v`` (patient j=0, center j=1) shared by both Hessians."""
        h, kap, m, cp = st["h"], st["kap"], st["m"], self.cp
        ainv = np.linalg.inv(st["a"])
        lmat = st["ws"] - h[:, None] * (kap[:, None] * st["u"])[cp]  # Z_p' V^-1 X
        v = st["wt"] - h * (kap * st["vcen"])[cp] - lmat @ st["beta"]  # Z_p' P y
        lc = st["u"] * (1.0 - kap * m)[:, None]  # C' L
        vc = self._csum(v)
        d1 = 1.0 - kap * m  # G C = H diag(d1), H = h * C
        gcc = m * d1  # C' G C (diagonal)
        e = self._csum(h * h)
        hl = self._csum(h[:, None] * lmat)  # H' L
        hv = self._csum(h * v)
        lgl = (lmat * h[:, None]).T @ lmat - (hl * kap[:, None]).T @ hl  # L' G L
        ltl = lmat.T @ lmat
        return {
            **{"L": lmat, "v": v, "lc": lc, "vc": vc, "d1": d1, "gcc": gcc, "e": e},
            **{"hl": hl, "hv": hv, "lgl": lgl, "ltl": ltl, "lctlc": lc.T @ lc},
            "g2": float(h @ h - 2.0 * kap[cp] @ h**3 + kap**2 @ e**2),  # ||G||_F^2
            "vgv": float(h @ v**2 - kap @ hv**2),
            "ainv": ainv,
            "ainv_lc": ainv @ lc.T,  # A^-1 L_c'
            "ainv_ltl": ainv @ ltl,
        }

    def derivs(self, psi: np.ndarray) -> tuple[float, np.ndarray, np.ndarray, dict[str, Any]]:
        """Criterion, gradient and Hessian over ``psi`` (length 1: patient; 2: + center)."""
        st = self.value(float(psi[0]), float(psi[1]) if psi.size > 1 else 0.0)
        pt = self.parts(st)
        ainv, q, fac = pt["ainv"], st["q"], self.fac
        h, kap, e, d1 = st["h"], st["kap"], pt["e"], pt["d1"]
        lv = pt["L"].T @ pt["v"]
        ainv_lv = ainv @ lv
        qm = pt["ainv_ltl"]
        tr_s = [float(np.sum(h) - kap @ e - np.trace(qm))]
        s2 = [[pt["g2"] - 2.0 * float(np.sum(ainv * pt["lgl"])) + _tr2(qm)]]
        a_ = [float(pt["v"] @ pt["v"])]
        b_ = [[pt["vgv"] - float(lv @ ainv_lv)]]
        if psi.size > 1:
            lc, vc, ail = pt["lc"], pt["vc"], pt["ainv_lc"]
            scc = np.diag(pt["gcc"]) - lc @ ail  # C' S C
            lail = pt["L"] @ ail  # L A^-1 Lc' (n x K)
            spc2 = float(d1**2 @ e) - 2.0 * float(np.sum(d1 * np.sum(pt["hl"] * ail.T, axis=1)))
            spc2 += float(np.sum(lail * lail))
            tr_s.append(float(np.trace(scc)))
            s2[0].append(spc2)
            s2.append([spc2, float(np.sum(scc * scc))])
            a_.append(float(vc @ vc))
            bpc = float(np.sum(pt["hv"] * d1 * vc)) - float(ainv_lv @ (lc.T @ vc))
            b_[0].append(bpc)
            b_.append([bpc, float(vc @ scc @ vc)])
        av = np.array(a_)
        grad = -fac * av / q + np.array(tr_s)
        hess = fac * (2.0 * np.array(b_) / q - np.outer(av, av) / q**2) - np.array(s2)
        return st["f"], grad, hess, {**st, **pt}

    def sm_hessian(self, st: dict[str, Any], nested: bool) -> np.ndarray:
        """Return statsmodels' REML ``MixedLM.hessian`` over ``(beta, psi_p[, psi_c])``.

        The observed information of the REML log-likelihood with ``beta`` not
        profiled, the variance parameters on the ``psi`` scale (statsmodels'
        ``cov_re / scale`` and ``vcomp / scale``), written out from its per-group
        loop with ``dV/dpsi_j = Z_j Z_j'`` and the sums above.
        """
        q, fac, ainv, p = st["q"], self.fac, st["ainv"], st["a"].shape[0]
        m_ = 2 if nested else 1
        lj = [st["L"], st["lc"]][:m_]
        vj = [st["v"], st["vc"]][:m_]
        gjk2 = [[st["g2"], float(st["d1"] ** 2 @ st["e"])], [0.0, float(st["gcc"] @ st["gcc"])]]
        djk = [
            [2.0 * st["vgv"], 2.0 * float(np.sum(st["hv"] * st["d1"] * st["vc"]))],
            [0.0, 2.0 * float(st["gcc"] @ st["vc"] ** 2)],
        ]
        ql = [st["ainv_ltl"], ainv @ st["lctlc"]]
        trf = [  # tr(A^-1 F_jk)
            [
                2.0 * float(np.sum(ainv * st["lgl"])),
                2.0 * float(np.sum(st["ainv_lc"] * (st["hl"].T * st["d1"]))),
            ],
            [0.0, 2.0 * float(np.sum(st["ainv_lc"] * (st["lc"].T * st["gcc"])))],
        ]
        hess = np.zeros((p + m_, p + m_))
        hess[:p, :p] = -fac * st["a"] / q
        b = [float(v @ v) for v in vj]
        for j in range(m_):
            hess[p + j, :p] = hess[:p, p + j] = -fac / q * (lj[j].T @ vj[j])
            for k in range(j, m_):
                val = 0.5 * gjk2[j][k] - 0.5 * fac * (djk[j][k] / q - b[j] * b[k] / q**2)
                val += 0.5 * (float(np.sum(ql[j].T * ql[k])) - trf[j][k])
                hess[p + j, p + k] = hess[p + k, p + j] = val
        return hess


def _tr2(a: np.ndarray) -> float:
    """``tr(a a)``."""
    return float(np.sum(a * a.T))
