"""The result of a fitted meta-analytic model, shared by every analysis of :mod:`phantomlab.meta`.

:class:`RMAResult` (one model, metafor's ``rma.uni`` object) and :class:`BatchResult`
(many intercept-only models fitted at once) live here so that :mod:`~phantomlab.meta.rma`
(which builds them) and the analyses that take a fitted model
(:mod:`~phantomlab.meta.bias`, :mod:`~phantomlab.meta.influence`,
:mod:`~phantomlab.meta.sensitivity`, :mod:`~phantomlab.meta.plots`) depend on this
module and not on each other. The methods of :class:`RMAResult` that run one of those
analyses import it when called.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
from numpy.typing import NDArray
from scipy import stats

from phantomlab._result import Result, as_figure, new_axes
from phantomlab.exceptions import InputError, Problem
from phantomlab.meta._format import fmt_p, fmt_x, format_table
from phantomlab.meta._inputs import METAFOR
from phantomlab.meta.diagnostics import (
    ConfintResult,
    InfluenceResult,
    Leave1outResult,
    RanktestResult,
)

if TYPE_CHECKING:
    from collections.abc import Sequence

    from matplotlib.axes import Axes
    from matplotlib.figure import Figure


__all__ = ["BatchResult", "RMAResult", "RegtestResult", "TrimfillResult"]

_PREDICTORS = {"sei": "standard error", "vi": "sampling variance"}


@dataclass(frozen=True, repr=False)
class RMAResult(Result):
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

    def require_finite_vi(self, what: str) -> None:
        """Raise ``InputError`` when a study has an infinite sampling variance.

        Such a study is kept with weight 0 by the fit (as in metafor), but the funnel plot,
        trim-and-fill and the regression test need every study's variance (metafor stops).

        Parameters
        ----------
        what : str
            The function asking (named in the message).
        """
        inf = np.flatnonzero(np.isinf(self.vi))
        if inf.size:
            names = ", ".join(self.slab[i] for i in inf[:5])
            raise InputError(
                Problem(
                    "vi",
                    f"Inf (study {names})",
                    "finite sampling variances",
                    METAFOR,
                    f"{what} needs every study's variance; a study with an infinite variance "
                    "has weight 0 in the fit but cannot be placed here (metafor stops): "
                    "drop it and refit",
                )
            )

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
        from phantomlab.meta._rma_text import rma_summary

        return rma_summary(self, digits)

    def __str__(self) -> str:
        return self.summary()

    def _brief(self) -> str:
        kind = "EE" if self.method == "EE" else self.method
        if self.int_only:
            return (
                f"k = {self.k}, {kind}, estimate = {fmt_x(self.estimate)} "
                f"[{fmt_x(self.ci_lb)}, {fmt_x(self.ci_ub)}], tau^2 = {fmt_x(self.tau2)}, "
                f"I^2 = {self.I2:.1f}%"
            )
        return f"k = {self.k}, {kind}, {self.p} coefficients, QM p {fmt_p(self.QMp)}"

    # -- related analyses (each in its own module, imported when called) ---------
    def confint(self, level: float | None = None) -> ConfintResult:
        """Q-profile confidence intervals of tau^2, tau, I^2 and H^2 (see :func:`confint`)."""
        from phantomlab.meta.sensitivity import confint

        return confint(self, level=level)

    def influence(self) -> InfluenceResult:
        """Case-deletion influence diagnostics (see :func:`influence`)."""
        from phantomlab.meta.influence import influence

        return influence(self)

    def leave1out(self) -> Leave1outResult:
        """Refit leaving out each study in turn (see :func:`leave1out`)."""
        from phantomlab.meta.sensitivity import leave1out

        return leave1out(self)

    def regtest(self, predictor: str = "sei", model: str = "rma") -> RegtestResult:
        """Egger-type regression test for funnel-plot asymmetry (see :func:`regtest`)."""
        from phantomlab.meta.bias import regtest

        return regtest(self, predictor=predictor, model=model)

    def ranktest(self) -> RanktestResult:
        """Begg & Mazumdar rank correlation test (see :func:`ranktest`)."""
        from phantomlab.meta.bias import ranktest

        return ranktest(self)

    def trimfill(self, side: str | None = None, estimator: str = "L0") -> TrimfillResult:
        """Duval & Tweedie trim-and-fill (see :func:`trimfill`)."""
        from phantomlab.meta.bias import trimfill

        return trimfill(self, side=side, estimator=estimator)

    def forest(
        self,
        ax: Axes | None = None,
        path: str | Path | None = None,
        labels: Sequence[str] | None = None,
        **kwargs: Any,
    ) -> Axes:
        """Draw a forest plot (see :func:`phantomlab.meta.plots.forest`)."""
        from phantomlab.meta.plots import forest

        return forest(self, ax=ax, path=path, labels=labels, **kwargs)

    def funnel(self, ax: Axes | None = None, path: str | Path | None = None, **kwargs: Any) -> Axes:
        """Draw a funnel plot (see :func:`phantomlab.meta.plots.funnel`)."""
        from phantomlab.meta.plots import funnel

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

    def plot(self, ax: Axes | None = None, path: str | Path | None = None) -> Figure:
        """Draw the forest plot (the figure that summarizes a meta-analysis).

        Parameters
        ----------
        ax : matplotlib Axes, optional
            Axes to draw into (default: a new figure sized to the data).
        path : str or Path, optional
            Save the figure here (format from the suffix).

        Returns
        -------
        matplotlib.figure.Figure
            The figure of the forest plot.
        """
        return as_figure(self.forest(ax=ax, path=path))


@dataclass(frozen=True, repr=False)
class BatchResult(Result):
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

    def summary(self, digits: int = 4) -> str:
        """Return the distribution of the estimates over the meta-analyses as text."""
        n = int(np.size(self.estimate))
        rows = []
        for name in ("estimate", "se", "tau2", "I2", "QEp"):
            x = np.asarray(getattr(self, name), dtype=float)
            q = np.nanquantile(x, [0.0, 0.5, 1.0]) if np.isfinite(x).any() else [np.nan] * 3
            rows.append([name, *(fmt_x(float(v), digits) for v in (np.nanmean(x), *q))])
        table = format_table(["", "mean", "min", "median", "max"], rows)
        not_conv = int(np.size(self.converged) - np.count_nonzero(self.converged))
        return (
            f"\n{n} meta-analyses of k = {self.k} studies (tau^2 estimator: {self.method}, "
            f"test: {self.test}); {not_conv} by likelihood maximization\n\n{table}\n"
        )

    def _brief(self) -> str:
        return f"{np.size(self.estimate)} meta-analyses, k = {self.k}, {self.method}"

    def plot(self, ax: Axes | None = None) -> Figure:
        """Draw the histogram of the pooled estimates.

        Parameters
        ----------
        ax : matplotlib Axes, optional
            Axes to draw into (default: a new figure).

        Returns
        -------
        matplotlib.figure.Figure
            The figure.
        """
        ax = new_axes(ax)
        est = np.asarray(self.estimate, dtype=float)
        ax.hist(est[np.isfinite(est)], bins="auto", color="#1f3b73")
        ax.set_xlabel("pooled estimate")
        ax.set_ylabel("meta-analyses")
        ax.set_title(f"{np.size(est)} meta-analyses ({self.method}, k = {self.k})")
        return as_figure(ax)


@dataclass(frozen=True, repr=False)
class RegtestResult(Result):
    """Result of :func:`regtest`.

    Attributes
    ----------
    zval, pval : float
        Test statistic of the predictor (z, or t with ``dfs`` degrees of freedom)
        and its p-value.
    dfs : int or None
        Degrees of freedom of the t test (None for z).
    limit, ci_lb, ci_ub : float
        Limit estimate (intercept, the effect as the predictor -> 0) and its CI.
    predictor, model : str
        The options used.
    fit : RMAResult or None
        The fitted meta-regression (``model="rma"``).
    tested : RMAResult or None
        The model that was tested (its data are drawn by :meth:`plot`).
    slope : float
        Coefficient of the predictor.
    """

    zval: float
    pval: float
    dfs: int | None
    limit: float
    ci_lb: float
    ci_ub: float
    predictor: str
    model: str
    fit: RMAResult | None
    tested: RMAResult | None = None
    slope: float = float("nan")

    def to_dict(self) -> dict[str, Any]:
        """Return the numbers as a JSON-able dict."""
        return {
            "zval": self.zval,
            "pval": self.pval,
            "dfs": self.dfs,
            "limit": self.limit,
            "ci_lb": self.ci_lb,
            "ci_ub": self.ci_ub,
            "predictor": self.predictor,
            "model": self.model,
        }

    def summary(self, digits: int = 4) -> str:
        """Return metafor-style text."""
        kind = (
            "weighted regression with multiplicative dispersion"
            if self.model == "lm"
            else (
                "fixed-effects meta-regression model"
                if self.fit is not None and self.fit.method == "EE"
                else "mixed-effects meta-regression model"
            )
        )
        stat = "z" if self.dfs is None else "t"
        dfs = "" if self.dfs is None else f", df = {self.dfs}"
        return "\n".join(
            [
                "",
                "Regression Test for Funnel Plot Asymmetry",
                "",
                f"Model:     {kind}",
                f"Predictor: {_PREDICTORS[self.predictor]}",
                "",
                f"Test for Funnel Plot Asymmetry: {stat} = {fmt_x(self.zval, digits)}{dfs}, "
                f"p {fmt_p(self.pval)}",
                f"Limit Estimate (as {self.predictor} -> 0):   b = {fmt_x(self.limit, digits)} "
                f"(CI: {fmt_x(self.ci_lb, digits)}, {fmt_x(self.ci_ub, digits)})",
                "",
            ]
        )

    def __str__(self) -> str:
        return self.summary()

    def to_frame(self) -> pd.DataFrame:
        """Return one row: zval, pval, dfs, limit, ci_lb, ci_ub, predictor, model."""
        return pd.DataFrame([self.to_dict()], index=pd.Index(["regtest"]))

    def _brief(self) -> str:
        stat = "z" if self.dfs is None else "t"
        return (
            f"{stat} = {fmt_x(self.zval)}, p {fmt_p(self.pval)}, limit estimate {fmt_x(self.limit)}"
        )

    def plot(self, ax: Axes | None = None) -> Figure:
        """Draw the funnel plot of the tested model with the fitted regression line.

        Parameters
        ----------
        ax : matplotlib Axes, optional
            Axes to draw into (default: a new figure).

        Returns
        -------
        matplotlib.figure.Figure
            The figure (the numbers of :meth:`to_frame` where the tested model is unknown).
        """
        if self.tested is None:
            return super().plot(ax)
        from phantomlab.meta.plots import funnel

        ax = funnel(self.tested, ax=ax)
        if self.tested.int_only and np.isfinite(self.slope):
            se = np.linspace(0.0, float(np.sqrt(self.tested.vi).max()) * 1.08, 50)
            pred = se if self.predictor == "sei" else se**2
            ax.plot(self.limit + self.slope * pred, se, color="0.2", lw=1.0, label="regression")
        return as_figure(ax)


@dataclass(frozen=True, repr=False)
class TrimfillResult(Result):
    """Result of :func:`trimfill`.

    Attributes
    ----------
    k0 : int
        Estimated number of missing studies.
    se_k0 : float
        Its standard error.
    side : str
        ``"left"`` or ``"right"``: where the missing studies are.
    estimator : str
        ``"L0"``, ``"R0"`` or ``"Q0"``.
    p_k0 : float
        For R0, the p-value of the test of k0 = 0 (NaN otherwise).
    fit : RMAResult
        The model fitted to the observed plus the filled studies.
    fill : ndarray of bool
        True for the filled (imputed) studies of ``fit``.
    """

    k0: int
    se_k0: float
    side: str
    estimator: str
    p_k0: float
    fit: RMAResult
    fill: NDArray[np.bool_]

    @property
    def estimate(self) -> float:
        """Pooled estimate after filling."""
        return self.fit.estimate

    @property
    def se(self) -> float:
        """Standard error of the pooled estimate after filling."""
        return self.fit.se

    def to_dict(self) -> dict[str, Any]:
        """Return the numbers as a JSON-able dict (``k0 side estimate se ...``)."""
        out = {
            "k0": self.k0,
            "se_k0": self.se_k0,
            "side": self.side,
            "estimator": self.estimator,
            "p_k0": None if np.isnan(self.p_k0) else self.p_k0,
        }
        fit = self.fit.to_dict()
        out.update({k: v for k, v in fit.items() if k not in out})
        out["k"] = self.fit.k
        return out

    def summary(self, digits: int = 4) -> str:
        """Return metafor-style text."""
        extra = "" if np.isnan(self.p_k0) else f", p-val {fmt_p(self.p_k0)}"
        head = (
            f"\nEstimated number of missing studies on the {self.side} side: {self.k0} "
            f"(SE = {fmt_x(self.se_k0, digits)}{extra})\n"
        )
        return head + self.fit.summary(digits)

    def __str__(self) -> str:
        return self.summary()

    def funnel(self, **kwargs: Any) -> Any:
        """Funnel plot with the filled studies drawn as open circles."""
        from phantomlab.meta.plots import funnel

        return funnel(self.fit, fill=self.fill, **kwargs)

    def to_frame(self) -> pd.DataFrame:
        """Return the studies after filling: yi, vi, sei, weight and ``filled``."""
        out = self.fit.studies_frame()
        out["filled"] = self.fill
        return out

    def _brief(self) -> str:
        return (
            f"k0 = {self.k0} on the {self.side} side, estimate after filling "
            f"{fmt_x(self.estimate)} (SE {fmt_x(self.se)})"
        )

    def plot(self, ax: Axes | None = None, path: str | Path | None = None) -> Figure:
        """Draw the funnel plot with the filled studies (see :meth:`funnel`).

        Parameters
        ----------
        ax : matplotlib Axes, optional
            Axes to draw into (default: a new figure).
        path : str or Path, optional
            Save the figure here.

        Returns
        -------
        matplotlib.figure.Figure
            The figure.
        """
        return as_figure(self.funnel(ax=ax, path=path))
