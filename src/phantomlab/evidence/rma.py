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

Related analyses: :func:`confint` (Q-profile CI of tau^2, I^2, H^2),
:func:`leave1out`, :func:`influence` (case-deletion diagnostics), :func:`regtest`
(Egger-type test), :func:`ranktest` (Begg & Mazumdar), :func:`trimfill` (Duval & Tweedie),
:func:`rma_subgroups` (subgroups with a between-group Q test).
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
from numpy.typing import NDArray
from scipy import stats

from phantomlab.evidence import _kernels as K
from phantomlab.evidence._format import rma_summary
from phantomlab.evidence._inputs import (
    METAFOR,
    VI_MIN,
    MetaAnalysisWarning,
    as_vector,
    check_options,
    prepare,
)
from phantomlab.evidence._single import fit_single
from phantomlab.evidence.bias import (
    RanktestResult,
    RegtestResult,
    TrimfillResult,
    ranktest,
    regtest,
    trimfill,
)
from phantomlab.evidence.influence import InfluenceResult, influence
from phantomlab.evidence.sensitivity import (
    ConfintResult,
    Leave1outResult,
    SubgroupResult,
    confint,
    leave1out,
    rma_subgroups,
)
from phantomlab.exceptions import ConvergenceError, InputError, Problem

if TYPE_CHECKING:
    from matplotlib.axes import Axes

__all__ = [
    "BatchResult",
    "ConfintResult",
    "InfluenceResult",
    "Leave1outResult",
    "MetaAnalysisWarning",
    "RMAResult",
    "RanktestResult",
    "RegtestResult",
    "SubgroupResult",
    "TrimfillResult",
    "confint",
    "influence",
    "leave1out",
    "ranktest",
    "regtest",
    "rma",
    "rma_batch",
    "rma_subgroups",
    "trimfill",
]

_MODEL_NAMES = {"EE": "Equal-Effects Model"}


@dataclass(frozen=True)
class RMAResult:
    """A fitted meta-analytic model (metafor's ``rma.uni`` object).

    Attributes
    ----------
    estimate, se, zval, pval, ci_lb, ci_ub : float
        Pooled estimate (the intercept when there are moderators), its standard
        error, test statistic (z, or t for ``test="knha"``/``"t"``), p-value and
        confidence interval.
    pi_lb, pi_ub : float
        Prediction interval (NaN for EE models and models with moderators).
    tau2, se_tau2 : float
        Estimated tau^2 and its standard error (NaN where metafor gives none).
    I2, H2 : float
        I^2 (percent) and H^2 (metafor's definitions).
    QE, QEp : float
        Test for (residual) heterogeneity and its p-value.
    QM, QMp : float
        Omnibus test of the moderators (of the intercept when there are none).
    R2 : float
        Pseudo R^2 (percent) for models with moderators, else NaN.
    coef, se_coef, zval_coef, pval_coef, ci_lb_coef, ci_ub_coef : ndarray
        All coefficients and their statistics.
    coef_names : list of str
        Names of the coefficients (``intrcpt`` first).
    k, p : int
        Number of studies used and of coefficients.
    yi, vi : ndarray
        The data the model was fitted to.
    weights : ndarray
        Weights in percent.
    slab : list of str
        Study labels.
    method, test : str
        tau^2 estimator and inference method.
    level : float
        Confidence level in percent.
    """

    estimate: float
    se: float
    zval: float
    pval: float
    ci_lb: float
    ci_ub: float
    pi_lb: float
    pi_ub: float
    tau2: float
    se_tau2: float
    I2: float
    H2: float
    QE: float
    QEp: float
    QM: float
    QMp: float
    QMdf: tuple[int, int | None]
    R2: float
    coef: NDArray[np.float64]
    se_coef: NDArray[np.float64]
    zval_coef: NDArray[np.float64]
    pval_coef: NDArray[np.float64]
    ci_lb_coef: NDArray[np.float64]
    ci_ub_coef: NDArray[np.float64]
    vb: NDArray[np.float64]
    coef_names: list[str]
    k: int
    p: int
    k_all: int
    yi: NDArray[np.float64]
    vi: NDArray[np.float64]
    X: NDArray[np.float64] | None
    weights: NDArray[np.float64]
    slab: list[str]
    method: str
    test: str
    level: float
    vt: float
    ddf: int | None
    converged: bool
    fallback: bool
    iterations: int
    dropped: list[int] = field(default_factory=list)

    # -- convenience --------------------------------------------------------
    @property
    def beta(self) -> NDArray[np.float64]:
        """Coefficients (alias of ``coef``, metafor's name)."""
        return self.coef

    @property
    def tau(self) -> float:
        """Square root of tau^2."""
        return float(np.sqrt(self.tau2))

    @property
    def int_only(self) -> bool:
        """True for a model without moderators."""
        return self.p == 1

    @property
    def sei(self) -> NDArray[np.float64]:
        """Standard errors of the studies, sqrt(vi)."""
        return np.sqrt(self.vi)

    def to_dict(self) -> dict[str, Any]:
        """Return the numbers of the CLI contract as a JSON-able dict.

        Keys: ``estimate se zval pval ci_lb ci_ub pi_lb pi_ub tau2 I2 H2 QE QEp
        k`` (+ ``se_tau2 method test``); with moderators ``estimate``, ``se``,
        ``zval``, ``pval``, ``ci_lb``, ``ci_ub`` are lists (one per coefficient),
        and ``coef``, ``coef_names``, ``QM``, ``QMp``, ``R2`` are added.
        """
        out: dict[str, Any]
        if self.int_only:
            out = {
                "estimate": self.estimate,
                "se": self.se,
                "zval": self.zval,
                "pval": self.pval,
                "ci_lb": self.ci_lb,
                "ci_ub": self.ci_ub,
                "pi_lb": None if np.isnan(self.pi_lb) else self.pi_lb,
                "pi_ub": None if np.isnan(self.pi_ub) else self.pi_ub,
            }
        else:
            out = {
                "estimate": self.coef.tolist(),
                "se": self.se_coef.tolist(),
                "zval": self.zval_coef.tolist(),
                "pval": self.pval_coef.tolist(),
                "ci_lb": self.ci_lb_coef.tolist(),
                "ci_ub": self.ci_ub_coef.tolist(),
                "pi_lb": None,
                "pi_ub": None,
                "coef": self.coef.tolist(),
                "coef_names": list(self.coef_names),
                "R2": None if np.isnan(self.R2) else self.R2,
            }
        out.update(
            {
                "tau2": self.tau2,
                "se_tau2": None if np.isnan(self.se_tau2) else self.se_tau2,
                "I2": self.I2,
                "H2": self.H2,
                "QE": self.QE,
                "QEp": self.QEp,
                "QM": self.QM,
                "QMp": self.QMp,
                "k": self.k,
                "method": self.method,
                "test": self.test,
            }
        )
        return out

    def to_frame(self) -> pd.DataFrame:
        """Return the coefficient table (estimate, se, zval, pval, ci_lb, ci_ub)."""
        stat = "tval" if self.ddf is not None else "zval"
        return pd.DataFrame(
            {
                "estimate": self.coef,
                "se": self.se_coef,
                stat: self.zval_coef,
                "pval": self.pval_coef,
                "ci_lb": self.ci_lb_coef,
                "ci_ub": self.ci_ub_coef,
            },
            index=pd.Index(self.coef_names, name="coef"),
        )

    def studies_frame(self) -> pd.DataFrame:
        """Return the per-study data: slab, yi, vi, sei, weight (percent)."""
        return pd.DataFrame(
            {"yi": self.yi, "vi": self.vi, "sei": self.sei, "weight": self.weights},
            index=pd.Index(self.slab, name="study"),
        )

    def summary(self, digits: int = 4) -> str:
        """Return metafor-style text of the fitted model."""
        return rma_summary(self, digits)

    def __str__(self) -> str:
        return self.summary()

    # -- related analyses -------------------------------------------------------
    def confint(self, level: float | None = None) -> ConfintResult:
        """Q-profile confidence intervals of tau^2, tau, I^2 and H^2 (see :func:`confint`)."""
        return confint(self, level=level)

    def influence(self) -> InfluenceResult:
        """Case-deletion influence diagnostics (see :func:`influence`)."""
        return influence(self)

    def leave1out(self) -> Leave1outResult:
        """Refit leaving out each study in turn (see :func:`leave1out`)."""
        return leave1out(self)

    def regtest(self, predictor: str = "sei", model: str = "rma") -> RegtestResult:
        """Egger-type regression test for funnel-plot asymmetry (see :func:`regtest`)."""
        return regtest(self, predictor=predictor, model=model)

    def ranktest(self) -> RanktestResult:
        """Begg & Mazumdar rank correlation test (see :func:`ranktest`)."""
        return ranktest(self)

    def trimfill(self, side: str | None = None, estimator: str = "L0") -> TrimfillResult:
        """Duval & Tweedie trim-and-fill (see :func:`trimfill`)."""
        return trimfill(self, side=side, estimator=estimator)

    def forest(
        self,
        ax: Axes | None = None,
        path: str | Path | None = None,
        labels: Sequence[str] | None = None,
        **kwargs: Any,
    ) -> Axes:
        """Draw a forest plot (see :func:`phantomlab.evidence.plots.forest`)."""
        from phantomlab.evidence.plots import forest

        return forest(self, ax=ax, path=path, labels=labels, **kwargs)

    def funnel(self, ax: Axes | None = None, path: str | Path | None = None, **kwargs: Any) -> Axes:
        """Draw a funnel plot (see :func:`phantomlab.evidence.plots.funnel`)."""
        from phantomlab.evidence.plots import funnel

        return funnel(self, ax=ax, path=path, **kwargs)

    def predict(self, newmods: Any = None, transf: Any = None) -> pd.DataFrame:
        """Predicted (average) effects with CIs and prediction intervals (metafor ``predict``).

        Parameters
        ----------
        newmods : array-like, optional
            Moderator values, shape (m,) or (n, m) without the intercept column
            (models with moderators only); default: the pooled estimate.
        transf : callable, optional
            Back-transformation applied to ``pred``, the CI and the PI (e.g.
            ``numpy.exp`` for ratio measures, ``scipy.special.expit`` for PLO).

        Returns
        -------
        DataFrame
            Columns pred, se, ci_lb, ci_ub, pi_lb, pi_ub (se untransformed; the
            PI is NaN for EE models).
        """
        if self.int_only:
            if newmods is not None:
                raise InputError(
                    Problem("newmods", newmods, "none", METAFOR, "model has no moderators")
                )
            Xn = np.ones((1, 1))
        else:
            if newmods is None:
                Xn = self.X if self.X is not None else np.ones((self.k, 1))
            else:
                arr = np.atleast_2d(np.asarray(newmods, dtype=float))
                if arr.shape[1] != self.p - 1:
                    raise InputError(
                        Problem("newmods", arr.shape, f"(n, {self.p - 1})", METAFOR, "bad shape")
                    )
                Xn = np.column_stack([np.ones(arr.shape[0]), arr])
        pred = Xn @ self.coef
        se = np.sqrt(np.einsum("ij,jk,ik->i", Xn, self.vb, Xn))
        alpha = 1 - self.level / 100
        crit = (
            float(stats.t.isf(alpha / 2, self.ddf))
            if self.ddf is not None
            else float(stats.norm.isf(alpha / 2))
        )
        half_pi = crit * np.sqrt(se**2 + self.tau2)
        f = transf if transf is not None else (lambda x: x)
        out = pd.DataFrame(
            {
                "pred": f(pred),
                "se": se,
                "ci_lb": f(pred - crit * se),
                "ci_ub": f(pred + crit * se),
                "pi_lb": f(pred - half_pi),
                "pi_ub": f(pred + half_pi),
            }
        )
        if self.method == "EE":
            out[["pi_lb", "pi_ub"]] = np.nan
        return out

    def plot(self, ax: Axes | None = None, path: str | Path | None = None) -> Axes:
        """Draw the forest plot (the figure that summarizes a meta-analysis)."""
        return self.forest(ax=ax, path=path)


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
        Observed effect sizes or outcomes (e.g. from :func:`~phantomlab.evidence.escalc.escalc`).
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
    if prep.X is None and btt_arr is None:
        bf = fit_single(prep.y, prep.v, prep.method, prep.test, prep.level, **ctl)
    else:
        bf = K.fit(d, prep.method, prep.test, prep.level, btt=btt_arr, **ctl)
    _check_fit(bf)
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


@dataclass(frozen=True)
class BatchResult:
    """Results of many intercept-only meta-analyses fitted at once.

    Every attribute is an array of shape ``(n_meta,)``.
    """

    estimate: NDArray[np.float64]
    se: NDArray[np.float64]
    zval: NDArray[np.float64]
    pval: NDArray[np.float64]
    ci_lb: NDArray[np.float64]
    ci_ub: NDArray[np.float64]
    pi_lb: NDArray[np.float64]
    pi_ub: NDArray[np.float64]
    tau2: NDArray[np.float64]
    se_tau2: NDArray[np.float64]
    I2: NDArray[np.float64]
    H2: NDArray[np.float64]
    QE: NDArray[np.float64]
    QEp: NDArray[np.float64]
    converged: NDArray[np.bool_]
    fallback: NDArray[np.bool_]
    method: str
    test: str
    k: int

    def to_frame(self) -> pd.DataFrame:
        """Return one row per meta-analysis."""
        cols = (
            "estimate se zval pval ci_lb ci_ub pi_lb pi_ub tau2 se_tau2 I2 H2 QE QEp "
            "converged fallback"
        ).split()
        return pd.DataFrame({c: getattr(self, c) for c in cols})


def rma_batch(
    yi: Any,
    vi: Any,
    *,
    method: str = "REML",
    test: str = "z",
    level: float = 95.0,
    control: Mapping[str, Any] | None = None,
) -> BatchResult:
    """Fit many intercept-only meta-analyses of k studies at once (vectorized).

    Parameters
    ----------
    yi, vi : array-like, shape (n_meta, k)
        Outcomes and sampling variances; one row per meta-analysis. No missing
        values (use :func:`rma` for data with gaps).
    method, test, level, control
        As in :func:`rma`.

    Returns
    -------
    BatchResult
        Arrays of shape (n_meta,), equal to fitting each row with :func:`rma`.
    """
    method, test, level = check_options(method, test, level)
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


def _vector(name: str, x: Any) -> NDArray[np.float64]:
    """Re-export of the input converter for sibling modules."""
    return as_vector(name, x)
