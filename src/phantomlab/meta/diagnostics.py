"""Result types of the tabular analyses: confint, leave1out, influence, ranktest, subgroups.

They hold no fitted model type, so that :mod:`~phantomlab.meta.results` (whose
:class:`~phantomlab.meta.results.RMAResult` methods return them) and the modules
that compute them (:mod:`~phantomlab.meta.sensitivity`, :mod:`~phantomlab.meta.influence`,
:mod:`~phantomlab.meta.bias`) all import this module and not each other.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from phantomlab._result import Result, as_figure, new_axes
from phantomlab.meta._format import fmt_p, fmt_x, format_table

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

__all__ = [
    "ConfintResult",
    "InfluenceResult",
    "Leave1outResult",
    "RanktestResult",
    "SubgroupResult",
]


@dataclass(frozen=True, repr=False)
class ConfintResult(Result):
    """Q-profile confidence intervals of the heterogeneity parameters.

    Attributes
    ----------
    tau2, tau, I2, H2 : tuple of float
        ``(estimate, ci_lb, ci_ub)`` each.
    level : float
        Confidence level in percent.
    lb_note, ub_note : str
        ``""``, ``"<"`` (bound below the search interval) or ``">"`` (above it),
        as metafor marks them; ``"null set"`` when the interval is empty.
    """

    tau2: tuple[float, float, float]
    tau: tuple[float, float, float]
    I2: tuple[float, float, float]
    H2: tuple[float, float, float]
    level: float
    lb_note: str = ""
    ub_note: str = ""

    def to_frame(self) -> pd.DataFrame:
        """Return rows tau^2, tau, I^2(%), H^2 with estimate, ci_lb, ci_ub."""
        return pd.DataFrame(
            [self.tau2, self.tau, self.I2, self.H2],
            index=["tau^2", "tau", "I^2(%)", "H^2"],
            columns=["estimate", "ci_lb", "ci_ub"],
        )

    def to_dict(self) -> dict[str, Any]:
        """Return ``{"tau2": [est, lb, ub], "tau": ..., "I2": ..., "H2": ...}``."""
        return {
            "tau2": list(self.tau2),
            "tau": list(self.tau),
            "I2": list(self.I2),
            "H2": list(self.H2),
            "level": self.level,
        }

    def summary(self, digits: int = 4) -> str:
        """Return metafor-style text."""
        df = self.to_frame()
        rows = [[str(i), *(fmt_x(float(x), digits) for x in df.loc[i])] for i in df.index]
        note = ""
        if self.lb_note or self.ub_note:
            where = f"{self.lb_note}{self.ub_note}"
            note = f"\nNote: bound(s) at the limit of the search interval ({where})."
        return "\n" + format_table(["", "estimate", "ci.lb", "ci.ub"], rows) + "\n" + note

    def __str__(self) -> str:
        return self.summary()

    def _brief(self) -> str:
        t, i2 = self.tau2, self.I2
        return (
            f"tau^2 = {fmt_x(t[0])} [{fmt_x(t[1])}, {fmt_x(t[2])}], "
            f"I^2 = {i2[0]:.2f}% [{i2[1]:.2f}, {i2[2]:.2f}] ({self.level:g}% CI)"
        )


@dataclass(frozen=True, repr=False)
class Leave1outResult(Result):
    """Leave-one-out diagnostics: one row per omitted study.

    Attributes
    ----------
    frame : DataFrame
        Columns estimate, se, zval, pval, ci_lb, ci_ub, Q, Qp, tau2, I2, H2,
        indexed by the label of the omitted study.
    """

    frame: pd.DataFrame

    @property
    def estimate(self) -> NDArray[np.float64]:
        """Pooled estimates with each study omitted."""
        return self.frame["estimate"].to_numpy()

    @property
    def tau2(self) -> NDArray[np.float64]:
        """tau^2 with each study omitted."""
        return self.frame["tau2"].to_numpy()

    def to_frame(self) -> pd.DataFrame:
        """Return the table."""
        return self.frame.copy()

    def to_dict(self) -> dict[str, Any]:
        """Return column -> list (plus ``slab``)."""
        out: dict[str, Any] = {"slab": [str(s) for s in self.frame.index]}
        out.update({c: self.frame[c].tolist() for c in self.frame.columns})
        return out

    def summary(self, digits: int = 4) -> str:
        """Return metafor-style text."""
        rows = [
            [str(i), *(fmt_x(float(x), digits) for x in r)]
            for i, r in zip(self.frame.index, self.frame.to_numpy(), strict=True)
        ]
        head = ["", *[c.replace("_", ".") for c in self.frame.columns]]
        return "\n" + format_table(head, rows) + "\n"

    def __str__(self) -> str:
        return self.summary()

    def _brief(self) -> str:
        est = self.estimate
        lo, hi = fmt_x(float(est.min())), fmt_x(float(est.max()))
        return f"k = {est.size}, estimate without one study: {lo} to {hi}"

    def plot(self, ax: Axes | None = None) -> Figure:
        """Draw the estimate and its CI with each study omitted, one row per study.

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
        f = self.frame
        y = np.arange(len(f), 0, -1)
        ax.hlines(y, f["ci_lb"], f["ci_ub"], color="#1f3b73", lw=1.0)
        ax.scatter(f["estimate"], y, marker="s", color="#1f3b73", s=20, zorder=3)
        ax.set_yticks(y, [str(i) for i in f.index], fontsize=7)
        ax.set_xlabel("pooled estimate with the study omitted", fontsize=9)
        return as_figure(ax)


@dataclass(frozen=True, repr=False)
class SubgroupResult(Result):
    """Subgroup analysis with a test of subgroup differences.

    Attributes
    ----------
    groups : DataFrame
        One row per subgroup: k, estimate, se, ci_lb, ci_ub, tau2, I2, QE, QEp.
    fits : dict
        Subgroup label -> RMAResult (subgroups with k >= 2).
    Qb, df, pval : float, int, float
        Test of subgroup differences (chi^2 with ``df`` = groups - 1).
    tau2_mode : str
        ``"separate"`` or ``"common"``.
    overall : RMAResult
        The model pooling every study.
    """

    groups: pd.DataFrame
    fits: dict[str, Any]
    Qb: float
    df: int
    pval: float
    tau2_mode: str
    overall: Any
    method: str = field(default="REML")

    def to_frame(self) -> pd.DataFrame:
        """Return the subgroup table."""
        return self.groups.copy()

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-able dict."""
        return {
            "groups": {str(g): r for g, r in self.groups.to_dict(orient="index").items()},
            "Qb": self.Qb,
            "df": self.df,
            "pval": self.pval,
            "tau2": self.tau2_mode,
            "method": self.method,
        }

    def summary(self, digits: int = 4) -> str:
        """Return a text table and the test of subgroup differences."""
        rows = []
        for g, r in self.groups.iterrows():
            rows.append(
                [str(g), str(int(r["k"]))]
                + [fmt_x(float(r[c]), digits) for c in ("estimate", "se", "ci_lb", "ci_ub", "tau2")]
                + [f"{r['I2']:.2f}"]
            )
        table = format_table(["", "k", "estimate", "se", "ci.lb", "ci.ub", "tau^2", "I^2(%)"], rows)
        how = "separate tau^2 per subgroup" if self.tau2_mode == "separate" else "common tau^2"
        return (
            f"\nSubgroup analysis ({self.method}, {how})\n\n{table}\n\n"
            f"Test for Subgroup Differences: Q(df = {self.df}) = {fmt_x(self.Qb, digits)}, "
            f"p-val {fmt_p(self.pval)}\n"
        )

    def __str__(self) -> str:
        return self.summary()

    def forest(self, **kwargs: Any) -> Any:
        """Forest plot of all studies, grouped, with a diamond per subgroup."""
        from phantomlab.meta.plots import forest_subgroups

        return forest_subgroups(self, **kwargs)

    def _brief(self) -> str:
        return (
            f"{len(self.groups)} subgroups, Q(df = {self.df}) = {fmt_x(self.Qb)}, "
            f"p {fmt_p(self.pval)}"
        )

    def plot(self, ax: Axes | None = None, path: str | Path | None = None) -> Figure:
        """Draw the forest plot by subgroup (see :meth:`forest`).

        Parameters
        ----------
        ax : matplotlib Axes, optional
            Axes to draw into (default: a new figure sized to the data).
        path : str or Path, optional
            Save the figure here.

        Returns
        -------
        matplotlib.figure.Figure
            The figure.
        """
        return as_figure(self.forest(ax=ax, path=path))


@dataclass(frozen=True, repr=False)
class InfluenceResult(Result):
    """Influence diagnostics, one row per study.

    Attributes
    ----------
    frame : DataFrame
        Columns rstudent, dffits, cook_d, cov_r, tau2_del, QE_del, hat, weight,
        influential (bool), indexed by study label.
    dfbetas : DataFrame
        One column per coefficient.
    """

    frame: pd.DataFrame
    dfbetas: pd.DataFrame

    def to_frame(self) -> pd.DataFrame:
        """Return the diagnostics table."""
        return self.frame.copy()

    def to_dict(self) -> dict[str, Any]:
        """Return column -> list (plus ``slab`` and ``dfbetas``)."""
        out: dict[str, Any] = {"slab": [str(s) for s in self.frame.index]}
        out.update({c: self.frame[c].tolist() for c in self.frame.columns})
        out["dfbetas"] = {c: self.dfbetas[c].tolist() for c in self.dfbetas.columns}
        return out

    def summary(self, digits: int = 4) -> str:
        """Return metafor-style text (``*`` marks influential studies)."""
        cols = ["rstudent", "dffits", "cook_d", "cov_r", "tau2_del", "QE_del", "hat", "weight"]
        rows = []
        for lab, r in self.frame.iterrows():
            rows.append(
                [str(lab)]
                + [fmt_x(float(r[c]), digits) for c in cols]
                + ["*" if r["influential"] else ""]
            )
        head = ["", *[c.replace("_", ".") for c in cols], "inf"]
        return "\n" + format_table(head, rows) + "\n"

    def __str__(self) -> str:
        return self.summary()

    def _brief(self) -> str:
        flagged = [str(s) for s in self.frame.index[self.frame["influential"].to_numpy(bool)]]
        return f"k = {len(self.frame)}, influential: {', '.join(flagged) or 'none'}"

    def plot(self, ax: Axes | None = None) -> Figure:
        """Draw the diagnostics against the study (influential studies in red).

        Parameters
        ----------
        ax : matplotlib Axes, optional
            Draw only Cook's distances into these Axes; without it, a new figure
            with one panel per diagnostic (as metafor's ``plot.infl.rma.uni``).

        Returns
        -------
        matplotlib.figure.Figure
            The figure.
        """
        cols = ["rstudent", "dffits", "cook_d", "cov_r", "tau2_del", "QE_del", "hat", "weight"]
        if ax is not None:
            axes = [ax]
            cols = ["cook_d"]
        else:
            from matplotlib.figure import Figure

            fig = Figure(figsize=(10.0, 4.8), layout="constrained")
            axes = list(fig.subplots(2, 4).flat)
        x = np.arange(1, len(self.frame) + 1)
        infl = self.frame["influential"].to_numpy(bool)
        for a, col in zip(axes, cols, strict=True):
            y = self.frame[col].to_numpy(float)
            a.plot(x, y, color="0.6", lw=0.8)
            a.scatter(x[~infl], y[~infl], color="#1f3b73", s=14, zorder=3)
            a.scatter(x[infl], y[infl], color="#b2182b", s=18, zorder=3)
            a.set_title(col.replace("_", "."), fontsize=9)
            a.tick_params(labelsize=7)
        return as_figure(axes[0])


@dataclass(frozen=True, repr=False)
class RanktestResult(Result):
    """Result of :func:`ranktest`: Kendall's tau and its p-value."""

    tau: float
    pval: float
    exact: bool

    def to_dict(self) -> dict[str, Any]:
        """Return the numbers as a JSON-able dict."""
        return {"tau": self.tau, "pval": self.pval, "exact": self.exact}

    def summary(self, digits: int = 4) -> str:
        """Return metafor-style text."""
        return (
            "\nRank Correlation Test for Funnel Plot Asymmetry\n\n"
            f"Kendall's tau = {fmt_x(self.tau, digits)}, p {fmt_p(self.pval)}\n"
        )

    def __str__(self) -> str:
        return self.summary()

    def to_frame(self) -> pd.DataFrame:
        """Return one row: tau, pval, exact."""
        return pd.DataFrame([self.to_dict()], index=pd.Index(["ranktest"]))

    def _brief(self) -> str:
        return f"Kendall's tau = {fmt_x(self.tau)}, p {fmt_p(self.pval)}"
