"""Mixed model for repeated measures (MMRM) of a parallel-group trial.

The outcome at every post-baseline visit is modelled jointly, without random
effects, with a within-patient covariance over visits (Mallinckrodt et al.
2008, Drug Inf J 42:303; the EMA 2010 guideline on missing data names it a
likelihood-based analysis valid under missing at random):

``y_ij = arm x visit + baseline x visit [+ strata] [+ center] + e_ij``,
``e_i ~ N(0, Sigma_i)``, where ``Sigma_i`` is the rows and columns of one
visit-by-visit matrix ``Sigma`` for the visits patient ``i`` attended:

* ``"unstructured"``: every variance and covariance free (``T (T + 1) / 2``
  parameters for ``T`` visits), as R ``nlme::gls(correlation = corSymm(form =
  ~ visit | patient), weights = varIdent(form = ~ 1 | visit))``;
* ``"ar1"``: ``sigma^2 rho^|j - k|`` in visit positions ``j, k``, as
  ``nlme::gls(correlation = corAR1(form = ~ visit | patient))``.

The covariance parameters are estimated by REML (the fixed effects profiled
out by generalized least squares), with the analytic gradient, quasi-Newton
steps and Newton polishing on a finite-difference Hessian; patients are
grouped by their pattern of attended visits so every sum is one ``einsum``
per pattern. Missing visits contribute through the likelihood (valid under
MAR); a patient needs a baseline and at least one post-baseline value.

The treatment effect is the arm difference at the primary visit (the visit
factor is coded with the primary visit as reference). Its standard error is
the model-based GLS one, ``(X' V^-1 X)^-1`` at the REML estimate (as nlme's
``gls``); its degrees of freedom are Satterthwaite's (Satterthwaite 1946,
Biometrics Bull 2:110; as in R ``mmrm`` and ``emmeans(mode =
"satterthwaite")``): ``2 (c'Cc)^2 / (g' A g)`` with ``g`` the gradient of
``c'Cc`` in the covariance parameters and ``A`` the inverse of half the
Hessian of ``-2 log L_REML``.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import Literal

import numpy as np
import pandas as pd
from scipy import optimize
from threadpoolctl import threadpool_limits  # type: ignore[import-untyped]

from phantomlab.exceptions import InputError, ModelFitWarning, Problem
from phantomlab.trials._stats import EFFECT_COLS as _EFFECT_COLS
from phantomlab.trials._stats import effect_row as _effect_row
from phantomlab.trials.design import TrialDesign

__all__ = [
    "MMRMFit",
    "adjustment_columns",
    "check_strata",
    "factor_dummies",
    "fit_mmrm",
    "mmrm",
    "mmrm_design_matrix",
    "satterthwaite_df",
    "strata_columns",
    "strata_not_adjusted",
]

Covariance = Literal["unstructured", "ar1"]
_LOG2PI = float(np.log(2 * np.pi))


def strata_columns(design: TrialDesign, data: pd.DataFrame | None = None) -> list[str]:
    """Return the stratification factors (other than center) the analyses adjust for.

    Parameters
    ----------
    design : TrialDesign
        The design; ``randomization.stratify_by`` names the factors and
        ``analysis.strata`` how they are used.
    data : pandas.DataFrame or None
        With ``analysis.strata == "auto"``, only factors with a column here.

    Returns
    -------
    list of str
        Covariate names, in ``stratify_by`` order (center is handled by
        ``analysis.center``); empty with ``analysis.strata == "none"``.
    """
    if design.analysis.strata == "none":
        return []
    names = [s for s in design.randomization.stratify_by if s != "center"]
    if design.analysis.strata == "auto" and data is not None:
        names = [s for s in names if s in data.columns]
    return names


def strata_not_adjusted(design: TrialDesign, data: pd.DataFrame) -> list[str]:
    """Return the stratification factors left out because the data have no column for them.

    Parameters
    ----------
    design : TrialDesign
        The design.
    data : pandas.DataFrame
        The data.

    Returns
    -------
    list of str
        Non-empty only with ``analysis.strata == "auto"``.
    """
    if design.analysis.strata != "auto":
        return []
    return [s for s in design.randomization.stratify_by if s != "center" and s not in data.columns]


def factor_dummies(
    values: pd.Series, name: str, levels: list[str], *, what: str = "stratification factor"
) -> np.ndarray:
    """Return indicator columns of a categorical factor (first present level is reference).

    Parameters
    ----------
    values : pandas.Series
        One value per analysed row (strings).
    name : str
        Column name (for the error message).
    levels : list of str
        The design's levels, which fix the order.
    what : str
        What the factor is (for the error message).

    Returns
    -------
    numpy.ndarray
        ``(n, k - 1)`` indicators for the ``k`` levels present.

    Raises
    ------
    InputError
        When fewer than two levels are present among the analysed patients.
    """
    present = [lv for lv in levels if (values == lv).any()]
    if len(present) < 2:
        raise InputError(
            Problem(
                f"data.{name}",
                present,
                ">= 2 levels among the analysed patients",
                "",
                f"single-level {what} cannot be adjusted for",
            )
        )
    return np.column_stack([(values == lv).to_numpy(float) for lv in present[1:]])


def check_strata(data: pd.DataFrame, design: TrialDesign) -> list[Problem]:
    """Return the problems of the stratification columns of long-format data.

    Parameters
    ----------
    data : pandas.DataFrame
        Long-format data.
    design : TrialDesign
        The design.

    Returns
    -------
    list of Problem
        Missing column (``analysis.strata == "required"``), values outside the
        covariate's levels, a value that changes within a patient.
    """
    levels = {c.name: list(c.levels) for c in design.covariates}
    problems = []
    for s in strata_columns(design, data):
        if s not in data.columns:
            problems.append(
                Problem(
                    f"data.{s}",
                    None,
                    "a column (stratification factor in randomization.stratify_by)",
                    "",
                    "unknown stratification column: missing from the data",
                )
            )
            continue
        v = data[s].astype(str)
        bad = sorted(set(v[data[s].notna()]) - set(levels[s]))
        if bad:
            problems.append(Problem(f"data.{s}", bad[:5], f"one of {levels[s]}", "", "unknown"))
        if data[s].isna().any():
            problems.append(Problem(f"data.{s}", "missing", f"one of {levels[s]}", "", "empty"))
        elif (data.assign(_s=v).groupby("patient")["_s"].nunique() > 1).any():
            problems.append(Problem(f"data.{s}", "changes", "one per patient", "", "inconsistent"))
    return problems


def adjustment_columns(rows: pd.DataFrame, design: TrialDesign) -> tuple[np.ndarray, list[str]]:
    """Return strata and center indicator columns for analysed rows, and their names.

    Parameters
    ----------
    rows : pandas.DataFrame
        Analysed rows with ``center`` and the stratification columns.
    design : TrialDesign
        The design (``analysis.center == "none"`` drops center).

    Returns
    -------
    (numpy.ndarray, list of str)
        Indicator columns and names ``factor[level]``.
    """
    levels = {c.name: list(c.levels) for c in design.covariates}
    cols, names = [], []
    for s in strata_columns(design, rows):
        v = rows[s].astype(str)
        d = factor_dummies(v, s, levels[s])
        present = [lv for lv in levels[s] if (v == lv).any()]
        cols.append(d)
        names += [f"{s}[{lv}]" for lv in present[1:]]
    centers = [c.name for c in design.centers]
    present_c = [c for c in centers if (rows["center"] == c).any()]
    if design.analysis.center != "none" and len(present_c) > 1:
        cols.append(np.column_stack([(rows["center"] == c).to_numpy(float) for c in present_c[1:]]))
        names += [f"center[{c}]" for c in present_c[1:]]
    if not cols:
        return np.empty((len(rows), 0)), []
    return np.column_stack(cols), names


def mmrm_design_matrix(
    data: pd.DataFrame, design: TrialDesign
) -> tuple[pd.DataFrame, np.ndarray, list[str], list[float]]:
    """Return the analysed rows, fixed-effects matrix, its column names and the visits.

    Parameters
    ----------
    data : pandas.DataFrame
        Output of :func:`~phantomlab.trials.analysis.prepare` (long format).
    design : TrialDesign
        The design.

    Returns
    -------
    (pandas.DataFrame, numpy.ndarray, list of str, list of float)
        Post-baseline rows of patients with a baseline (sorted by patient and
        week, with ``baseline`` and ``visit_index``), ``X``, its column names
        (``arm[<a>]`` is the effect at the primary visit) and the visits.
    """
    y = design.outcome.name
    base = data.loc[data["week"] == 0].set_index("patient")[y]
    visits = [float(v) for v in design.outcome.visits if v > 0]
    rows = data[(data["week"] > 0) & data["patient"].isin(base.index)].copy()
    rows = rows[rows["week"].isin(visits)]
    rows["baseline"] = rows["patient"].map(base).to_numpy(float)
    rows = rows.sort_values(["patient", "week"], kind="stable").reset_index(drop=True)
    rows["visit_index"] = rows["week"].map({v: i for i, v in enumerate(visits)}).astype(int)
    ctrl = design.control_arm
    others = [a for a in design.arm_names if a != ctrl and (rows["arm"] == a).any()]
    prim = design.outcome.primary_week
    vis = [v for v in visits if v != prim and (rows["week"] == v).any()]
    arm_d = [(rows["arm"] == a).to_numpy(float) for a in others]
    vis_d = [(rows["week"] == v).to_numpy(float) for v in vis]
    b = rows["baseline"].to_numpy(float)
    cols = [np.ones(len(rows)), *arm_d, *vis_d]
    names = ["(Intercept)", *[f"arm[{a}]" for a in others], *[f"week[{v:g}]" for v in vis]]
    for a, da in zip(others, arm_d, strict=True):
        cols += [da * dv for dv in vis_d]
        names += [f"arm[{a}]:week[{v:g}]" for v in vis]
    cols += [b, *[b * dv for dv in vis_d]]
    names += ["baseline", *[f"baseline:week[{v:g}]" for v in vis]]
    adj, adj_names = adjustment_columns(rows, design)
    x = np.column_stack([*cols, adj]) if adj.shape[1] else np.column_stack(cols)
    return rows, x, names + adj_names, visits


# --------------------------------------------------------------------------- REML engine
@dataclass(frozen=True)
class _Pattern:
    idx: np.ndarray  # visit positions observed
    x: np.ndarray  # (n, k, q)
    y: np.ndarray  # (n, k)


@dataclass(frozen=True)
class MMRMFit:
    """Result of :func:`fit_mmrm`.

    Attributes
    ----------
    beta : numpy.ndarray
        Fixed effects (GLS at the REML covariance).
    cov_beta : numpy.ndarray
        Model-based covariance of ``beta``, ``(X' V^-1 X)^-1``.
    sigma : numpy.ndarray
        ``T x T`` covariance over visits.
    theta : numpy.ndarray
        Covariance parameters (unstructured: log-diagonal and lower triangle of
        the Cholesky factor; ar1: ``log sigma^2, atanh rho``).
    reml_loglik : float
        REML log-likelihood, ``-(N - q)/2 log 2 pi - 1/2 (sum log|Sigma_i| +
        log|X' V^-1 X| + r' V^-1 r)`` (the value nlme's ``logLik`` reports
        for a ``gls`` REML fit).
    hessian : numpy.ndarray
        Hessian of ``-2 log L_REML`` in ``theta``.
    n_patients, n_obs : int
        Patients and observations analysed.
    converged : bool
        Whether the gradient norm fell below tolerance.
    """

    beta: np.ndarray
    cov_beta: np.ndarray
    sigma: np.ndarray
    theta: np.ndarray
    reml_loglik: float
    hessian: np.ndarray
    n_patients: int
    n_obs: int
    converged: bool
    covariance: str
    names: tuple[str, ...]


def _patterns(
    pid: np.ndarray, vidx: np.ndarray, y: np.ndarray, x: np.ndarray, t: int
) -> list[_Pattern]:
    """Group patients by their observed visits (rows sorted by patient and visit)."""
    codes, start = np.unique(pid, return_index=True)
    order = np.argsort(start)
    start = start[order]
    stop = np.append(start[1:], len(pid))
    mask = np.zeros((len(start), t), dtype=bool)
    for i, (a, b) in enumerate(zip(start, stop, strict=True)):
        mask[i, vidx[a:b]] = True
    keys = mask @ (1 << np.arange(t))
    out = []
    for key in np.unique(keys):
        pats = np.flatnonzero(keys == key)
        idx = np.flatnonzero(mask[pats[0]])
        rows = (start[pats][:, None] + np.arange(len(idx))[None, :]).ravel()
        out.append(
            _Pattern(idx, x[rows].reshape(len(pats), len(idx), -1), y[rows].reshape(len(pats), -1))
        )
    return out


def _sigma(theta: np.ndarray, t: int, cov: str) -> tuple[np.ndarray, list[np.ndarray]]:
    """Return Sigma and its derivatives in each parameter."""
    if cov == "ar1":
        s2, rho = float(np.exp(theta[0])), float(np.tanh(theta[1]))
        lag = np.abs(np.subtract.outer(np.arange(t), np.arange(t)))
        r = rho**lag
        dr = np.where(lag > 0, lag * rho ** np.maximum(lag - 1, 0), 0.0)
        return s2 * r, [s2 * r, s2 * dr * (1 - rho**2)]
    low = np.zeros((t, t))
    di = np.arange(t)
    low[di, di] = np.exp(theta[:t])
    tri = np.tril_indices(t, -1)
    low[tri] = theta[t:]
    ders = []
    for a, b in [(i, i) for i in range(t)] + list(zip(*tri, strict=True)):
        e = np.zeros((t, t))
        e[a, b] = low[a, b] if a == b else 1.0
        ders.append(e @ low.T + low @ e.T)
    return low @ low.T, ders


@dataclass(frozen=True)
class _Parts:
    crit: float
    beta: np.ndarray
    c: np.ndarray
    sig: np.ndarray
    ders: list[np.ndarray]
    invs: list[np.ndarray]


class _Reml:
    """The -2 REML log-likelihood of the MMRM, its gradient and Satterthwaite pieces."""

    def __init__(self, pats: list[_Pattern], t: int, cov: str, q: int, n: int) -> None:
        self.pats, self.t, self.cov, self.q, self.n = pats, t, cov, q, n

    def parts(self, theta: np.ndarray) -> _Parts:
        sig, ders = _sigma(theta, self.t, self.cov)
        q = self.q
        a, xy, yy, logdet = np.zeros((q, q)), np.zeros(q), 0.0, 0.0
        invs = []
        for p in self.pats:
            s = sig[np.ix_(p.idx, p.idx)]
            ch = np.linalg.cholesky(s)
            w = np.linalg.inv(ch)  # whitening: w s w' = I
            invs.append(w.T @ w)
            logdet += len(p.y) * 2.0 * float(np.log(np.diag(ch)).sum())
            xw = (w @ p.x).reshape(-1, q)
            yw = (p.y @ w.T).ravel()
            a += xw.T @ xw
            xy += xw.T @ yw
            yy += float(yw @ yw)
        cha = np.linalg.cholesky(a)
        beta = np.linalg.solve(a, xy)
        c = np.linalg.inv(a)
        rvr = yy - float(beta @ xy)
        crit = logdet + 2.0 * float(np.log(np.diag(cha)).sum()) + rvr + (self.n - q) * _LOG2PI
        return _Parts(crit, beta, c, sig, ders, invs)

    def value(self, theta: np.ndarray) -> float:
        try:
            return self.parts(theta).crit
        except np.linalg.LinAlgError:
            return float("inf")

    def value_grad(self, theta: np.ndarray) -> tuple[float, np.ndarray]:
        try:
            pr = self.parts(theta)
        except np.linalg.LinAlgError:
            return float("inf"), np.zeros(len(theta))
        return pr.crit, self._grad(pr)

    def grad(self, theta: np.ndarray) -> np.ndarray:
        return self._grad(self.parts(theta))

    def _grad(self, pr: _Parts) -> np.ndarray:
        g = np.zeros((self.t, self.t))
        for p, si in zip(self.pats, pr.invs, strict=True):
            r = p.y - p.x @ pr.beta
            m = r.T @ r + np.einsum("nkq,nlq->kl", p.x @ pr.c, p.x)
            g[np.ix_(p.idx, p.idx)] += len(p.y) * si - si @ m @ si
        return np.array([float(np.sum(g * d)) for d in pr.ders])

    def dc_quad(self, theta: np.ndarray, cvec: np.ndarray) -> np.ndarray:
        """Gradient of ``c' (X'V^-1X)^-1 c`` in theta."""
        pr = self.parts(theta)
        cc = pr.c @ cvec
        out = []
        for d in pr.ders:
            tot = 0.0
            for p, si in zip(self.pats, pr.invs, strict=True):
                w = si @ d[np.ix_(p.idx, p.idx)] @ si
                xc = p.x @ cc
                tot += float(np.einsum("nk,kl,nl->", xc, w, xc))
            out.append(tot)
        return np.array(out)

    def hessian(self, theta: np.ndarray, h: float = 1e-5) -> np.ndarray:
        k = len(theta)
        hs = np.zeros((k, k))
        for j in range(k):
            e = np.zeros(k)
            e[j] = h
            hs[:, j] = (self.grad(theta + e) - self.grad(theta - e)) / (2 * h)
        return (hs + hs.T) / 2


def _start(rows_y: np.ndarray, x: np.ndarray, vidx: np.ndarray, t: int, cov: str) -> np.ndarray:
    """Return starting values from OLS residual variances per visit (no correlation)."""
    beta = np.linalg.lstsq(x, rows_y, rcond=None)[0]
    r = rows_y - x @ beta
    ok = r**2
    seen = [vidx == j for j in range(t)]
    var = np.array([float(ok[m].mean()) if m.any() else float(ok.mean()) for m in seen])
    var = np.maximum(var, 1e-6)
    if cov == "ar1":
        return np.array([np.log(var.mean()), np.arctanh(0.3)])
    return np.concatenate([0.5 * np.log(var), np.zeros(t * (t - 1) // 2)])


def fit_mmrm(
    y: np.ndarray,
    x: np.ndarray,
    patient: np.ndarray,
    visit_index: np.ndarray,
    n_visits: int,
    *,
    covariance: Covariance = "unstructured",
    names: tuple[str, ...] = (),
) -> MMRMFit:
    """Fit an MMRM by REML (no random effects; unstructured or AR(1) covariance).

    Parameters
    ----------
    y : numpy.ndarray
        Outcomes, one per row (rows sorted by patient, then visit).
    x : numpy.ndarray
        Fixed-effects matrix (full column rank).
    patient : numpy.ndarray
        Patient code per row.
    visit_index : numpy.ndarray
        Visit position ``0 .. n_visits - 1`` per row.
    n_visits : int
        Number of visits ``T`` of the covariance matrix.
    covariance : {"unstructured", "ar1"}
        Structure of the within-patient covariance.
    names : tuple of str
        Names of the columns of ``x``.

    Returns
    -------
    MMRMFit
        Estimates, covariance, REML log-likelihood and Hessian.
    """
    # small matrices: one BLAS thread is fastest (and stable on a shared machine)
    with threadpool_limits(1, user_api="blas"):
        return _fit(y, x, patient, visit_index, n_visits, covariance, names)


def _fit(
    y: np.ndarray,
    x: np.ndarray,
    patient: np.ndarray,
    visit_index: np.ndarray,
    t: int,
    covariance: Covariance,
    names: tuple[str, ...],
) -> MMRMFit:
    """Fit an MMRM (see :func:`fit_mmrm`)."""
    pats = _patterns(patient, visit_index, y, x, t)
    eng = _Reml(pats, t, covariance, x.shape[1], len(y))
    th = _start(y, x, visit_index, t, covariance)
    res = optimize.minimize(eng.value_grad, th, jac=True, method="BFGS", options={"gtol": 1e-8})
    th = np.asarray(res.x, float)
    hinv = np.asarray(res.hess_inv)
    for _ in range(10):  # quasi-Newton polishing with BFGS' inverse Hessian
        g = eng.grad(th)
        if np.max(np.abs(g)) < 1e-9:
            break
        new = th - hinv @ g
        if not eng.value(new) <= eng.value(th) + 1e-12:
            break
        th = new
    hess = eng.hessian(th)
    g = eng.grad(th)
    pr = eng.parts(th)
    ll = -0.5 * pr.crit
    return MMRMFit(
        beta=pr.beta,
        cov_beta=pr.c,
        sigma=pr.sig,
        theta=th,
        reml_loglik=ll,
        hessian=hess,
        n_patients=int(sum(len(p.y) for p in pats)),
        n_obs=len(y),
        converged=bool(np.max(np.abs(g)) < 1e-5 * max(1.0, abs(ll))),
        covariance=covariance,
        names=names,
    )


def satterthwaite_df(
    fit: MMRMFit,
    cvec: np.ndarray,
    y: np.ndarray,
    x: np.ndarray,
    patient: np.ndarray,
    visit_index: np.ndarray,
) -> float:
    """Satterthwaite degrees of freedom of the contrast ``c' beta``.

    Parameters
    ----------
    fit : MMRMFit
        The fit (its ``theta`` and ``hessian``).
    cvec : numpy.ndarray
        Contrast vector over the columns of ``x``.
    y, x, patient, visit_index : numpy.ndarray
        The data passed to :func:`fit_mmrm`.

    Returns
    -------
    float
        ``2 (c'Cc)^2 / (g' A g)``, ``A = 2 H^-1`` (``H`` the Hessian of
        ``-2 log L_REML``).
    """
    t = fit.sigma.shape[0]
    eng = _Reml(_patterns(patient, visit_index, y, x, t), t, fit.covariance, x.shape[1], len(y))
    with threadpool_limits(1, user_api="blas"):
        g = eng.dc_quad(fit.theta, cvec)
    a = 2.0 * np.linalg.inv(fit.hessian)
    v = float(cvec @ fit.cov_beta @ cvec)
    return float(2.0 * v**2 / float(g @ a @ g))


def _check_un(rows: pd.DataFrame, q: int, visits: list[float], cov: str) -> None:
    """Raise when an unstructured covariance cannot be estimated from these patients."""
    n_pat = rows["patient"].nunique()
    t = len(visits)
    need = q + t if cov == "unstructured" else q + 2
    if n_pat <= need:
        raise InputError(
            Problem(
                "data",
                n_pat,
                f"> {need} patients with a baseline and a post-baseline value "
                f"({q} fixed effects + {t if cov == 'unstructured' else 2} for the covariance)",
                "",
                f"too few patients for an MMRM with {cov} covariance",
            )
        )
    if cov == "unstructured":
        m = pd.crosstab(rows["patient"], rows["visit_index"]).reindex(
            columns=range(t), fill_value=0
        )
        pair = m.T.to_numpy() @ m.to_numpy()
        lo = np.unravel_index(int(np.argmin(pair)), pair.shape)
        if pair[lo] < 2:
            raise InputError(
                Problem(
                    "data",
                    f"weeks {visits[lo[0]]:g} and {visits[lo[1]]:g}: {int(pair[lo])} patient(s)",
                    ">= 2 patients observed at every pair of post-baseline visits",
                    "",
                    "too few patients for an unstructured covariance (try ar1)",
                )
            )


def mmrm(
    data: pd.DataFrame, design: TrialDesign, *, covariance: Covariance | None = None
) -> pd.DataFrame:
    """MMRM of a parallel-group trial: the arm effects at the primary visit.

    Model: outcome at each post-baseline visit ``~ arm * visit + baseline *
    visit`` plus the stratification factors of ``randomization.stratify_by``
    and center dummies (unless ``analysis.center == "none"``; a random center
    is entered as fixed here), no random effects, unstructured or AR(1)
    covariance over visits per patient, REML; see the module docstring.

    Parameters
    ----------
    data : pandas.DataFrame
        Output of :func:`~phantomlab.trials.analysis.prepare` (long format),
        with a column per stratification factor.
    design : TrialDesign
        The design.
    covariance : {"unstructured", "ar1"} or None
        Default: ``analysis.mmrm_covariance``.

    Returns
    -------
    pandas.DataFrame
        One row per non-control arm (``analysis == "mmrm"``), Satterthwaite
        df. ``attrs``: ``covariance``, ``sigma`` (visit covariance as nested
        lists), ``visits``, ``reml_loglik``, ``df_method``, ``n_patients``,
        ``converged``, ``coefficients`` (name to estimate).

    Raises
    ------
    InputError
        Missing or single-level stratification factor; too few patients.

    Warns
    -----
    ModelFitWarning
        When the REML optimization did not converge (the estimates are still
        returned, with ``attrs["converged"] = False``).
    """
    cov: Covariance = covariance or design.analysis.mmrm_covariance
    problems = check_strata(data, design)
    if problems:
        raise InputError(problems)
    rows, x, names, visits = mmrm_design_matrix(data, design)
    _check_un(rows, x.shape[1], visits, cov)
    if np.linalg.matrix_rank(x) < x.shape[1]:
        raise InputError(
            Problem("data", "rank-deficient", "estimable fixed effects", "", "MMRM design")
        )
    yv = rows[design.outcome.name].to_numpy(float)
    pid = rows["patient"].to_numpy()
    vidx = rows["visit_index"].to_numpy()
    fit = fit_mmrm(yv, x, pid, vidx, len(visits), covariance=cov, names=tuple(names))
    if not fit.converged:
        warnings.warn("MMRM REML fit did not converge", ModelFitWarning, stacklevel=2)
    ctrl = design.control_arm
    out = []
    for j, nm in enumerate(names):
        if nm.startswith("arm[") and ":" not in nm:
            cvec = np.zeros(len(names))
            cvec[j] = 1.0
            df = satterthwaite_df(fit, cvec, yv, x, pid, vidx)
            se = float(np.sqrt(fit.cov_beta[j, j]))
            contrast = f"{nm[4:-1]} - {ctrl}"
            out.append(_effect_row("mmrm", contrast, fit.beta[j], se, df, design.analysis.alpha))
    table = pd.DataFrame(out, columns=_EFFECT_COLS)
    table.attrs.update(
        covariance=cov,
        sigma=fit.sigma.tolist(),
        visits=visits,
        reml_loglik=fit.reml_loglik,
        df_method="satterthwaite",
        n_patients=fit.n_patients,
        converged=fit.converged,
        coefficients={n: float(b) for n, b in zip(names, fit.beta, strict=True)},
    )
    return table
