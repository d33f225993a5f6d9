"""The result of a Mantel-Haenszel or Peto model (metafor's ``rma.mh`` / ``rma.peto`` objects).

:class:`MHResult` holds the pooled estimate and the tests, prints metafor's layout
(``print.rma.mh`` / ``print.rma.peto``), and draws a forest plot with the MH (or Peto)
weights. Built by :func:`phantomlab.meta.mh.rma_mh` and :func:`phantomlab.meta.mh.rma_peto`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
from numpy.typing import NDArray
from scipy import stats

from phantomlab._result import Result, as_figure, new_axes
from phantomlab.exceptions import InputError, Problem
from phantomlab.meta._format import fmt_p, fmt_x

if TYPE_CHECKING:
    from matplotlib.figure import Figure

__all__ = ["MHResult"]

_NAMES = {"OR": "odds ratio", "RR": "risk ratio", "RD": "risk difference", "PETO": "odds ratio"}


def _none(x: float) -> float | None:
    return None if x is None or not math.isfinite(x) else float(x)


def _p_add0(p: float, digits: int = 4) -> str:
    """Format a p-value as metafor's ``.pval(showeq = TRUE, add0 = TRUE)`` (``< 0.0001``)."""
    if p is None or math.isnan(p):
        return "= NA"
    if p < 10.0**-digits:
        return f"< 0.{'0' * (digits - 1)}1"
    return f"= {p:.{digits}f}"


def _rvector(names: list[str], values: list[str]) -> list[str]:
    """R's print of a named character vector (right-aligned, gap 2, trailing space)."""
    widths = [max(len(n), len(v)) for n, v in zip(names, values, strict=True)]
    head = "  ".join(n.rjust(w) for n, w in zip(names, widths, strict=True)) + " "
    vals = "  ".join(v.rjust(w) for v, w in zip(values, widths, strict=True)) + " "
    return [head, vals]


@dataclass(frozen=True, repr=False)
class MHResult(Result):
    """A fitted Mantel-Haenszel or Peto equal-effects model.

    Attributes
    ----------
    model : str
        ``"MH"`` or ``"Peto"``.
    measure : str
        ``"OR"``, ``"RR"``, ``"RD"`` (MH) or ``"PETO"`` (Peto log odds ratio).
    estimate, se, zval, pval, ci_lb, ci_ub : float
        Pooled estimate (log scale for OR, RR and Peto), its standard error, z, two-sided
        p-value and confidence interval.
    QE, QEp, I2, H2 : float
        Test for heterogeneity (df ``k_yi - 1``), I^2 (percent) and H^2.
    k, k_yi, k_pos, k_all : int
        Tables used, study estimates in Q, informative tables (Tarone's test; Peto's
        tables with V > 0), tables given.
    CMH, CMHp : float
        Cochran-Mantel-Haenszel test (df 1, the ``N - 1`` variance; OR only, else NaN).
    CO, COp : float
        The same test with the ``N`` variance (Cochran's form; OR only).
    BD, BDp, TA, TAp : float
        Breslow-Day statistic and Tarone's test for heterogeneity of the odds ratios
        (df ``k_pos - 1``; OR only).
    yi, vi : ndarray
        Study estimates and sampling variances (NaN where not computable), all tables.
    weights : ndarray
        MH (or Peto) weights in percent (NaN for omitted tables).
    slab : list of str
        Study labels.
    level : float
        Confidence level (percent).
    correct : bool
        Continuity correction of the CMH test.
    add, to, drop00 : tuple
        The continuity rules used (for ``yi``/``vi``, for the pooled estimate).
    """

    model: str
    measure: str
    estimate: float
    se: float
    zval: float
    pval: float
    ci_lb: float
    ci_ub: float
    QE: float
    QEp: float
    I2: float
    H2: float
    k: int
    k_yi: int
    k_pos: int
    k_all: int
    CMH: float
    CMHp: float
    CO: float
    COp: float
    BD: float
    BDp: float
    TA: float
    TAp: float
    yi: NDArray[np.float64]
    vi: NDArray[np.float64]
    weights: NDArray[np.float64]
    slab: list[str]
    level: float
    correct: bool
    add: tuple[float, float]
    to: tuple[str, str]
    drop00: tuple[bool, bool]

    # -- back-transformed estimates -----------------------------------------------------
    @property
    def ratio(self) -> bool:
        """True for a ratio measure (OR, RR, Peto OR): estimates are on the log scale."""
        return self.measure != "RD"

    def _exp(self, x: float) -> float:
        if not self.ratio:
            raise InputError(
                Problem(
                    "measure",
                    self.measure,
                    "OR, RR or PETO",
                    "",
                    "a risk difference has no ratio scale: use estimate, ci_lb, ci_ub",
                )
            )
        return float(np.exp(x))

    @property
    def estimate_exp(self) -> float:
        """Pooled ratio, exp(estimate) (OR, RR, Peto)."""
        return self._exp(self.estimate)

    @property
    def ci_lb_exp(self) -> float:
        """Lower confidence bound on the ratio scale."""
        return self._exp(self.ci_lb)

    @property
    def ci_ub_exp(self) -> float:
        """Upper confidence bound on the ratio scale."""
        return self._exp(self.ci_ub)

    # -- tables ---------------------------------------------------------------------------
    def to_frame(self) -> pd.DataFrame:
        """Return the model table: estimate, se, zval, pval, ci_lb, ci_ub (+ ratio scale)."""
        row: dict[str, float] = {
            "estimate": self.estimate,
            "se": self.se,
            "zval": self.zval,
            "pval": self.pval,
            "ci_lb": self.ci_lb,
            "ci_ub": self.ci_ub,
        }
        if self.ratio:
            row.update(
                estimate_exp=self.estimate_exp, ci_lb_exp=self.ci_lb_exp, ci_ub_exp=self.ci_ub_exp
            )
        name = "MH" if self.model == "MH" else "Peto"
        return pd.DataFrame([row], index=pd.Index([f"{name} {self.measure}"], name="model"))

    def studies_frame(self) -> pd.DataFrame:
        """Return the per-study table: yi, vi, sei and weight (percent)."""
        return pd.DataFrame(
            {"yi": self.yi, "vi": self.vi, "sei": np.sqrt(self.vi), "weight": self.weights},
            index=pd.Index(self.slab, name="study"),
        )

    def to_dict(self) -> dict[str, Any]:
        """Return the numbers of the CLI contract as a JSON-able dict (NaN as ``None``).

        Keys: ``model measure estimate se zval pval ci_lb ci_ub QE QEp I2 H2 k k_yi level``;
        ``estimate_exp ci_lb_exp ci_ub_exp`` for ratio measures; ``CMH CMHp CO COp BD BDp
        TA TAp k_pos`` for the MH odds ratio; ``weights`` and ``slab``.
        """
        out: dict[str, Any] = {
            "model": self.model,
            "measure": self.measure,
            "estimate": self.estimate,
            "se": self.se,
            "zval": self.zval,
            "pval": self.pval,
            "ci_lb": self.ci_lb,
            "ci_ub": self.ci_ub,
            "QE": self.QE,
            "QEp": self.QEp,
            "I2": self.I2,
            "H2": self.H2,
            "k": self.k,
            "k_yi": self.k_yi,
            "level": self.level,
        }
        if self.ratio:
            out.update(
                estimate_exp=self.estimate_exp, ci_lb_exp=self.ci_lb_exp, ci_ub_exp=self.ci_ub_exp
            )
        if self.measure == "OR":
            for key in ("CMH", "CMHp", "CO", "COp", "BD", "BDp", "TA", "TAp"):
                out[key] = _none(getattr(self, key))
            out["k_pos"] = self.k_pos
        out["weights"] = [_none(w) for w in self.weights]
        out["slab"] = list(self.slab)
        return out

    # -- text -----------------------------------------------------------------------------
    def summary(self, digits: int = 4) -> str:
        """Return metafor's printed layout (``print.rma.mh`` / ``print.rma.peto``)."""
        lines = ["", f"Equal-Effects Model (k = {self.k})", ""]
        rows = []
        if math.isfinite(self.I2):
            rows.append(("I^2 (total heterogeneity / total variability):", f"{self.I2:.2f}%"))
        if math.isfinite(self.H2):
            rows.append(("H^2 (total variability / sampling variability):", f"{self.H2:.2f}"))
        if rows:
            width = max(len(a) for a, _ in rows) + 1
            lines += [a.ljust(width) + b for a, b in rows]
        if math.isfinite(self.QE):
            df = self.k_pos - 1 if self.model == "Peto" else max(self.k_yi - 1, 0)
            lines += [
                "",
                "Test for Heterogeneity: ",
                f"Q(df = {df}) = {fmt_x(self.QE, digits)}, p-val {fmt_p(self.QEp)}",
            ]
        lines.append("")
        names = ["estimate", "se", "zval", "pval", "ci.lb", "ci.ub"]
        vals = [
            fmt_x(self.estimate, digits),
            fmt_x(self.se, digits),
            fmt_x(self.zval, digits),
            fmt_p(self.pval, bare=True),
            fmt_x(self.ci_lb, digits),
            fmt_x(self.ci_ub, digits),
        ]
        if self.ratio:
            scale = "OR" if self.measure == "PETO" else self.measure
            lines += ["Model Results (log scale):", ""]
            lines += _rvector(names, vals)
            lines += ["", f"Model Results ({scale} scale):", ""]
            lines += _rvector(
                ["estimate", "ci.lb", "ci.ub"],
                [
                    fmt_x(self.estimate_exp, digits),
                    fmt_x(self.ci_lb_exp, digits),
                    fmt_x(self.ci_ub_exp, digits),
                ],
            )
        else:
            lines += ["Model Results:", ""]
            lines += _rvector(names, vals)
        if self.measure == "OR":
            lines += [""] + self._tests_text(digits)
        lines.append("")
        return "\n".join(lines)

    def _tests_text(self, digits: int) -> list[str]:
        mh = fmt_x(self.CMH, digits) if math.isfinite(self.CMH) else None
        ta = fmt_x(self.TA, digits) if math.isfinite(self.TA) else None
        width = max([len(s) if s is not None else 2 for s in (mh, ta)])
        lab1, lab2 = "Cochran-Mantel-Haenszel Test:", "Tarone's Test for Heterogeneity:"
        w = max(len(lab1), len(lab2)) + 1
        not_comp = "test value not computable for these data"
        if mh is None:
            line1 = not_comp
        else:
            pad = " " * (len(str(self.k_pos)) - 1)
            line1 = f"CMH = {mh.rjust(width)}, df = 1,{pad} p-val {_p_add0(self.CMHp)}"
        if ta is None:
            line2 = not_comp
        else:
            line2 = f"X^2 = {ta.rjust(width)}, df = {self.k_pos - 1}, p-val {_p_add0(self.TAp)}"
        return [lab1.ljust(w) + line1, lab2.ljust(w) + line2]

    def __str__(self) -> str:
        return self.summary()

    def _brief(self) -> str:
        name = "MH" if self.model == "MH" else "Peto"
        if self.ratio:
            scale = "OR" if self.measure == "PETO" else self.measure
            est = f"{scale} = {self.estimate_exp:.4g} [{self.ci_lb_exp:.4g}, {self.ci_ub_exp:.4g}]"
        else:
            est = f"RD = {self.estimate:.4g} [{self.ci_lb:.4g}, {self.ci_ub:.4g}]"
        return f"{name}, k = {self.k}, {est}, I^2 = {self.I2:.1f}%"

    # -- figure ---------------------------------------------------------------------------
    def plot(self, ax: Any = None, path: str | Path | None = None) -> Figure:
        """Draw a forest plot: study estimates with CIs, MH/Peto weights, pooled diamond.

        Ratio measures are drawn on a log axis with the ratios as numbers. Studies without
        an estimate (``yi`` not computable) are listed with "no estimate".

        Parameters
        ----------
        ax : matplotlib Axes, optional
            Where to draw (default: a new figure sized to the number of studies).
        path : str or Path, optional
            Also save the figure here (format from the suffix).

        Returns
        -------
        matplotlib.figure.Figure
            The figure.
        """
        if ax is None:
            from matplotlib.figure import Figure as _Figure

            fig = _Figure(figsize=(7.5, 1.2 + 0.28 * (self.k_all + 3)), layout="constrained")
            ax = fig.subplots()
        ax = new_axes(ax)
        f = np.exp if self.ratio else (lambda x: x)
        crit = float(stats.norm.isf((1 - self.level / 100) / 2))
        k = self.k_all
        ys = np.arange(k, 0, -1) + 1.0
        se = np.sqrt(self.vi)
        ok = np.isfinite(self.yi)
        lb, ub = f(self.yi - crit * se), f(self.yi + crit * se)
        ax.hlines(ys[ok], lb[ok], ub[ok], color="0.15", lw=1.0, zorder=2)
        w = np.where(np.isfinite(self.weights), self.weights, 0.0)
        size = 15 + 160 * np.sqrt(w / max(float(w.max()), 1e-12))
        ax.scatter(f(self.yi[ok]), ys[ok], s=size[ok], marker="s", color="0.15", zorder=3)
        e, lo, hi = f(self.estimate), f(self.ci_lb), f(self.ci_ub)
        ax.fill([lo, e, hi, e], [0.5, 0.8, 0.5, 0.2], color="#1f4e79", zorder=3)
        ax.axvline(1.0 if self.ratio else 0.0, color="0.5", lw=0.8, ls=":", zorder=0)
        name = f"{'MH' if self.model == 'MH' else 'Peto'} model ({self.measure})"
        ax.set_yticks([*ys, 0.5], [*self.slab, name], fontsize=8)
        ax.set_ylim(-0.3, k + 1.8)
        if self.ratio:
            from matplotlib.ticker import FuncFormatter, LogLocator

            ax.set_xscale("log")
            ax.xaxis.set_major_locator(LogLocator(base=10, subs=(1.0, 2.0, 5.0)))
            ax.xaxis.set_major_formatter(FuncFormatter(lambda x, _: f"{x:g}"))
            ax.xaxis.set_minor_formatter(FuncFormatter(lambda x, _: ""))
        label = _NAMES[self.measure]
        ax.set_xlabel(label[0].upper() + label[1:], fontsize=9)
        trans = ax.get_yaxis_transform()
        for yv, i in zip(ys, range(k), strict=True):
            txt = (
                f"{w[i]:5.1f}%  {f(self.yi[i]):.2f} [{lb[i]:.2f}, {ub[i]:.2f}]"
                if ok[i]
                else f"{w[i]:5.1f}%  no estimate"
            )
            ax.text(1.02, yv, txt, transform=trans, va="center", fontsize=8, family="monospace")
        ax.text(
            1.02,
            0.5,
            f"100.0%  {e:.2f} [{lo:.2f}, {hi:.2f}]",
            transform=trans,
            va="center",
            fontsize=8,
            family="monospace",
            weight="bold",
        )
        ax.text(
            1.02,
            k + 1.5,
            f"Weight  Estimate [{self.level:g}% CI]",
            transform=trans,
            va="center",
            fontsize=8,
            family="monospace",
            weight="bold",
        )
        het = f"Q = {self.QE:.2f} (df = {max(self.k_yi - 1, 0)}), p {fmt_p(self.QEp)}; "
        het += f"I² = {self.I2:.1f}%"
        ax.text(0.0, -0.12, het, transform=ax.transAxes, fontsize=7.5, color="0.3", va="top")
        for side in ("top", "right", "left"):
            ax.spines[side].set_visible(False)
        ax.tick_params(axis="y", length=0)
        fig = as_figure(ax)
        if path is not None:
            fig.savefig(path, dpi=150)
        return fig
