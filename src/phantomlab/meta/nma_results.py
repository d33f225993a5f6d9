"""Result objects of a network meta-analysis (:func:`~phantomlab.meta.nma.nma`).

:class:`NMAResult` holds the fitted network (treatment effects against the reference and
their covariance, ``tau^2``) and derives the rest from them: all pairwise comparisons and
the league table, P-scores (Rücker & Schwarzer 2015, BMC Med Res Methodol 15:58) and SUCRA
(the mean of the cumulative rank probabilities, Salanti et al. 2011 -- not read here) from
simulated rank probabilities.
:class:`Inconsistency` is the design-by-treatment interaction test.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
from numpy.typing import NDArray
from scipy import stats

from phantomlab._result import Result, as_figure
from phantomlab.meta._format import fmt_p, fmt_x, format_table
from phantomlab.meta.nma_data import Network
from phantomlab.meta.nma_plots import funnel_nma, network_graph

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

__all__ = ["Inconsistency", "NMAResult"]

FloatArray = NDArray[np.float64]


@dataclass(frozen=True, repr=False)
class Inconsistency(Result):
    """Design-by-treatment interaction test of a network (Higgins et al. 2012, not read).

    Attributes
    ----------
    q_total, df_total : float, int
        Q of the fixed-effect consistency model and its degrees of freedom.
    q_within, df_within : float, int
        Q within designs (the fixed-effect design-by-treatment model).
    q_between, df_between : float, int
        Q between designs (inconsistency), ``q_total - q_within``.
    tau2 : float
        ``tau^2`` of the random-effects design-by-treatment model.
    chi2, df, pval : float, int, float
        Wald test of the design-by-treatment interaction terms at that ``tau^2``.
    method : str
        Estimator of ``tau^2`` (REML or ML).
    """

    q_total: float
    df_total: int
    q_within: float
    df_within: int
    q_between: float
    df_between: int
    tau2: float
    chi2: float
    df: int
    pval: float
    method: str

    def to_frame(self) -> pd.DataFrame:
        """Q decomposition and the random-effects test, one row each."""
        rows = [
            ("total (fixed effect)", self.q_total, self.df_total),
            ("within designs", self.q_within, self.df_within),
            ("between designs", self.q_between, self.df_between),
            (f"design-by-treatment (random, tau2={self.tau2:.4g})", self.chi2, self.df),
        ]
        df = pd.DataFrame(rows, columns=["source", "Q", "df"]).set_index("source")
        df["pval"] = [
            float(stats.chi2.sf(q, d)) if d > 0 else float("nan")
            for q, d in zip(df["Q"], df["df"], strict=True)
        ]
        return df

    def to_dict(self) -> dict[str, Any]:
        """JSON-serialisable dict of every field."""
        return {
            k: (float(v) if isinstance(v, float | np.floating) else v)
            for k, v in vars(self).items()
        }

    def summary(self, digits: int = 4) -> str:
        """Text table of the Q decomposition and the test."""
        f = self.to_frame()
        rows = [
            [str(i), fmt_x(q, digits), str(int(d)), fmt_p(p, digits, bare=True)]
            for i, q, d, p in zip(f.index, f["Q"], f["df"], f["pval"], strict=True)
        ]
        return "Design-by-treatment inconsistency:\n" + format_table(["", "Q", "df", "pval"], rows)


@dataclass(frozen=True, repr=False)
class NMAResult(Result):
    """A fitted contrast-based random-effects network meta-analysis.

    Attributes
    ----------
    network : Network
        The contrast data.
    method : str
        ``"REML"`` or ``"ML"``.
    level : float
        Confidence level in percent.
    measure : str
        Effect measure (printed only).
    small_values : str
        ``"good"`` or ``"bad"``: direction of benefit for the ranking.
    d : ndarray, shape (p,)
        Effects of the non-reference treatments against the reference.
    vb : ndarray, shape (p, p)
        Their covariance.
    tau2 : float
        Heterogeneity variance (common to every comparison).
    loglik : float
        (Restricted) log-likelihood, as metafor's ``logLik``.
    QE, QE_df : float, int
        Test of residual heterogeneity (fixed-effect consistency model) and its df.
    inconsistency : Inconsistency
        Design-by-treatment interaction test.
    """

    network: Network
    method: str
    level: float
    measure: str
    small_values: str
    d: FloatArray
    vb: FloatArray
    tau2: float
    loglik: float
    QE: float
    QE_df: int
    inconsistency: Inconsistency

    # ------------------------------------------------------------------ basic views
    @property
    def treatments(self) -> list[str]:
        """Treatments, the reference first."""
        return list(self.network.treatments)

    @property
    def reference(self) -> str:
        """The reference treatment."""
        return self.network.reference

    @property
    def se(self) -> FloatArray:
        """Standard errors of :attr:`d`."""
        return np.sqrt(np.diag(self.vb))

    @property
    def QEp(self) -> float:
        """p-value of :attr:`QE`."""
        return float(stats.chi2.sf(self.QE, self.QE_df))

    @property
    def I2(self) -> float:
        """``(Q - df) / Q`` in percent, 0 where Q < df (the Q-based I^2 of netmeta)."""
        return float(max(0.0, (self.QE - self.QE_df) / self.QE) * 100) if self.QE > 0 else 0.0

    def _full(self) -> tuple[FloatArray, FloatArray]:
        """Effects of every treatment against the reference (0 for itself) and their covariance."""
        n = len(self.treatments)
        d = np.zeros(n)
        d[1:] = self.d
        vb = np.zeros((n, n))
        vb[1:, 1:] = self.vb
        return d, vb

    def _crit(self) -> float:
        return float(stats.norm.ppf(0.5 + self.level / 200))

    def pairwise_matrix(self) -> tuple[FloatArray, FloatArray]:
        """Effect of row treatment against column treatment and its SE, every pair at once.

        Returns
        -------
        tuple of ndarray, each of shape (n, n)
            ``est[i, j] = d_i - d_j`` and ``se[i, j]``.
        """
        d, vb = self._full()
        est = d[:, None] - d[None, :]
        var = np.diag(vb)[:, None] + np.diag(vb)[None, :] - 2 * vb
        return est, np.sqrt(np.maximum(var, 0.0))

    def pairwise(self) -> pd.DataFrame:
        """Every pair: later treatment (``treat1``) against earlier (``treat2``) in the order.

        Returns
        -------
        DataFrame
            ``treat1, treat2, estimate, se, zval, pval, ci_lb, ci_ub, pi_lb, pi_ub``; the
            prediction interval is ``estimate +- z sqrt(se^2 + tau^2)`` (metafor's ``predict``).
        """
        est, se = self.pairwise_matrix()
        i, j = np.tril_indices(len(self.treatments), -1)
        e, s = est[i, j], se[i, j]
        z = self._crit()
        t = np.array(self.treatments)
        sp = np.sqrt(s**2 + self.tau2)
        zval = e / s
        return pd.DataFrame(
            {
                "treat1": t[i],
                "treat2": t[j],
                "estimate": e,
                "se": s,
                "zval": zval,
                "pval": 2 * stats.norm.sf(np.abs(zval)),
                "ci_lb": e - z * s,
                "ci_ub": e + z * s,
                "pi_lb": e - z * sp,
                "pi_ub": e + z * sp,
            }
        )

    def league(self, digits: int = 2, transf: Any = None) -> pd.DataFrame:
        """League table: cell (row, column) = row treatment against column treatment [CI].

        Parameters
        ----------
        digits : int
            Decimals.
        transf : callable, optional
            Applied to estimate and limits (e.g. ``numpy.exp`` for odds ratios).

        Returns
        -------
        DataFrame
            Square table of strings, treatment names on the diagonal.
        """
        est, se = self.pairwise_matrix()
        z = self._crit()
        lb, ub = est - z * se, est + z * se
        if transf is not None:
            est, lb, ub = (np.asarray(transf(x), float) for x in (est, lb, ub))
        t = self.treatments
        cells = [
            [
                t[i]
                if i == j
                else f"{est[i, j]:.{digits}f} ({lb[i, j]:.{digits}f}, {ub[i, j]:.{digits}f})"
                for j in range(len(t))
            ]
            for i in range(len(t))
        ]
        return pd.DataFrame(cells, index=t, columns=t)

    def node_split(self) -> pd.DataFrame:
        """Direct against indirect evidence per directly compared pair.

        See :func:`phantomlab.meta.nma.node_split` (same ``tau^2`` estimator and level).
        """
        from phantomlab.meta.nma import node_split

        return node_split(self.network, self.method, self.level)

    # ------------------------------------------------------------------ ranking
    def pscores(self) -> pd.Series:
        """P-scores (Rücker & Schwarzer 2015): the mean over j of P(i better than j).

        ``P_i = sum_j Phi((d_i - d_j) / se_ij) / (n - 1)`` where larger is better, with the
        sign turned where ``small_values="good"``.
        """
        est, se = self.pairwise_matrix()
        sign = -1.0 if self.small_values == "good" else 1.0
        with np.errstate(divide="ignore", invalid="ignore"):
            p = stats.norm.cdf(sign * est / se)
        np.fill_diagonal(p, 0.0)
        n = len(self.treatments)
        return pd.Series(p.sum(axis=1) / (n - 1), index=self.treatments, name="pscore")

    def rank_probabilities(self, n_draws: int = 100_000, seed: int = 0) -> pd.DataFrame:
        """Probability of each rank (1 = best) from draws of N(d, vb), with SUCRA and mean rank.

        Parameters
        ----------
        n_draws : int
            Number of draws (the Monte Carlo SE of a probability is at most 0.5/sqrt(n)).
        seed : int
            Seed of :func:`numpy.random.default_rng` (same seed, same numbers).

        Returns
        -------
        DataFrame
            One row per treatment: ``rank_1 .. rank_n``, ``mean_rank`` and ``sucra``
            (the mean of the cumulative rank probabilities of ranks 1..n-1).
        """
        if not (isinstance(n_draws, int | np.integer) and n_draws >= 1):
            from phantomlab.exceptions import InputError, Problem

            raise InputError(Problem("n_draws", n_draws, "an integer >= 1", "", "invalid"))
        n = len(self.treatments)
        rng = np.random.default_rng(seed)
        draws = np.zeros((n_draws, n))
        draws[:, 1:] = rng.multivariate_normal(self.d, self.vb, size=n_draws, method="cholesky")
        key = draws if self.small_values == "good" else -draws
        ranks = key.argsort(axis=1).argsort(axis=1)  # 0 = best
        prob = np.stack([(ranks == r).mean(axis=0) for r in range(n)], axis=1)
        cum = np.cumsum(prob, axis=1)
        out = pd.DataFrame(prob, index=self.treatments, columns=[f"rank_{r + 1}" for r in range(n)])
        out["mean_rank"] = prob @ np.arange(1, n + 1)
        out["sucra"] = cum[:, : n - 1].sum(axis=1) / (n - 1)
        return out

    # ------------------------------------------------------------------ contract
    def to_frame(self) -> pd.DataFrame:
        """Each treatment against the reference, with CI, PI and P-score (reference row first)."""
        pw = self.pairwise()
        ref = pw[pw["treat2"] == self.reference].set_index("treat1")
        ref = ref.drop(columns="treat2").reindex(self.treatments)
        ref.loc[self.reference, ["estimate", "se"]] = [0.0, 0.0]
        ref["pscore"] = self.pscores()
        ref.index.name = "treatment"
        return ref

    def to_dict(self) -> dict[str, Any]:
        """JSON-serialisable dict: model, estimates, pairwise table, P-scores, inconsistency."""

        def clean(x: Any) -> Any:
            if isinstance(x, float) and not np.isfinite(x):
                return None
            return x

        frame = self.to_frame().reset_index()
        return {
            "model": "contrast-based random-effects network meta-analysis (rho = 1/2)",
            "method": self.method,
            "measure": self.measure,
            "reference": self.reference,
            "treatments": self.treatments,
            "k_studies": self.network.n_studies,
            "k_contrasts": len(self.network.yi),
            "tau2": self.tau2,
            "logLik": self.loglik,
            "QE": self.QE,
            "QE_df": self.QE_df,
            "QEp": self.QEp,
            "I2": self.I2,
            "level": self.level,
            "small_values": self.small_values,
            "vs_reference": [
                {k: clean(v) for k, v in r.items()} for r in frame.to_dict(orient="records")
            ],
            "pairwise": self.pairwise().to_dict(orient="records"),
            "inconsistency": self.inconsistency.to_dict(),
        }

    def summary(self, digits: int = 4) -> str:
        """Text: model, heterogeneity, estimates against the reference, inconsistency."""
        net = self.network
        lines = [
            f"Network Meta-Analysis (contrast-based, random effects, rho = 1/2; tau^2 estimator: "
            f"{self.method})",
            f"k = {net.n_studies} studies, {len(net.yi)} contrasts, {len(self.treatments)} "
            f"treatments, {len(set(net.design.tolist()))} designs; reference: {self.reference}"
            + (f"; measure: {self.measure}" if self.measure else ""),
            "",
            f"logLik = {fmt_x(self.loglik, digits)}; tau^2 = {fmt_x(self.tau2, digits)} "
            f"(tau = {fmt_x(float(np.sqrt(self.tau2)), digits)})",
            f"Test for Heterogeneity: QE(df = {self.QE_df}) = {fmt_x(self.QE, digits)}, "
            f"p-val {fmt_p(self.QEp, digits)}; I^2 = {self.I2:.2f}%",
            "",
            f"Treatment vs {self.reference} ({self.level:g}% CI and PI; P-score: small values are "
            f"{self.small_values}):",
        ]
        f = self.to_frame().drop(index=self.reference)
        rows = [
            [
                str(t),
                *(fmt_x(float(r[c]), digits) for c in ("estimate", "se", "zval")),
                fmt_p(float(r["pval"]), digits, bare=True),
                *(
                    fmt_x(float(r[c]), digits)
                    for c in ("ci_lb", "ci_ub", "pi_lb", "pi_ub", "pscore")
                ),
            ]
            for t, r in f.iterrows()
        ]
        header = [
            "",
            "estimate",
            "se",
            "zval",
            "pval",
            "ci.lb",
            "ci.ub",
            "pi.lb",
            "pi.ub",
            "P-score",
        ]
        ranked = self.pscores().sort_values(ascending=False)
        lines += [
            format_table(header, rows),
            "",
            "Ranking by P-score: "
            + ", ".join(f"{t} {v:.{min(digits, 3)}f}" for t, v in ranked.items()),
            "",
            self.inconsistency.summary(digits),
        ]
        return "\n".join(lines)

    def _brief(self) -> str:
        return (
            f"NMA {self.method}, {len(self.treatments)} treatments, {self.network.n_studies} "
            f"studies, tau2={self.tau2:.4g}"
        )

    # ------------------------------------------------------------------ figures
    def network_graph(self, ax: Axes | None = None, path: str | Path | None = None) -> Axes:
        """Network graph (see :func:`~phantomlab.meta.nma_plots.network_graph`)."""
        return network_graph(self.network, ax=ax, path=path)

    def funnel(self, ax: Axes | None = None, path: str | Path | None = None) -> Axes:
        """Comparison-adjusted funnel plot (see :func:`~phantomlab.meta.nma_plots.funnel_nma`)."""
        d, _ = self._full()
        return funnel_nma(self.network, d, ax=ax, path=path)

    def plot(self, ax: Axes | None = None, path: str | Path | None = None) -> Figure:
        """Draw the network graph; return its Figure."""
        return as_figure(self.network_graph(ax=ax, path=path))
