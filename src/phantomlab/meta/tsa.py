"""Trial sequential analysis of a cumulative meta-analysis (Wetterslev et al. 2008).

A meta-analysis updated as trials accrue is an interim analysis on its way to the
*required information size* (RIS): the number of participants a single adequately powered
trial would need, inflated for between-trial heterogeneity. :func:`tsa` orders the studies
(chronologically, as given), pools them cumulatively, and compares the cumulative z-curve
with Lan-DeMets O'Brien-Fleming-type monitoring boundaries placed at the accrued
information fractions (and, optionally, with beta-spending futility boundaries).

Sources
-------
* Wetterslev J, Thorlund K, Brok J, Gluud C (2008). Trial sequential analysis may
  establish when firm evidence is reached in cumulative meta-analysis. J Clin Epidemiol
  61:64-75 (the method; read: abstract).
* Wetterslev J, Thorlund K, Brok J, Gluud C (2009). Estimating required information size
  by quantifying diversity in random-effects model meta-analyses. BMC Med Res Methodol
  9:86 (read: abstract): diversity D^2 is the relative reduction of the variance of the
  pooled estimate when the random-effects model is replaced by the fixed-effect model,
  D^2 = (V_R - V_F) / V_R, and D^2 >= I^2. The RIS scales with the pooled variance, so the
  heterogeneity-adjusted RIS is RIS / (1 - D^2) (equivalently RIS * V_R / V_F).
* Lan KKG, DeMets DL (1983). Discrete sequential boundaries for clinical trials.
  Biometrika 70:659-663 (spending function; see :mod:`phantomlab.meta.tsa_bounds`).
* The RIS of a two-arm comparison (total of both arms, 1:1 allocation) is the usual
  normal-approximation sample size: binary 4 (z_{1-a/2} + z_{1-b})^2 p(1 - p) / delta^2
  with p the mean of the control and experimental event rates and delta their
  difference; continuous 4 (z_{1-a/2} + z_{1-b})^2 sd^2 / delta^2. The exact variant used
  by the Copenhagen TSA program was not seen.

Conventions: looks at information fractions >= 1 are merged into one final look at t = 1
(all remaining alpha spent; assumed); later looks reuse its boundary. Two-sided boundaries
spend alpha/2 on each side with the O'Brien-Fleming-type function of alpha/2
(``spending="per_side"``, the default): this is the convention of the R package rpact
(``getDesignGroupSequential(typeOfDesign = "asOF", sided = 2)``), whose boundaries these
match to 1e-7 (``tests/meta/tsa_reference/``). ``spending="total"`` applies
alpha*(t) = 2 - 2 Phi(z_{1-alpha/2}/sqrt(t)) to the total two-sided alpha instead (both
conventions spend alpha in all at t = 1; "total" spends more early). Which one the
Copenhagen TSA program uses was not seen.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
from numpy.typing import NDArray
from scipy import stats

from phantomlab._result import Result, as_figure, new_axes
from phantomlab.exceptions import InputError, Problem
from phantomlab.meta.tsa_bounds import efficacy_bounds, futility_bounds, obf_spending

if TYPE_CHECKING:
    from matplotlib.figure import Figure

__all__ = ["TSAResult", "diversity", "ldobf_boundaries", "required_information_size", "tsa"]

SOURCE = "Wetterslev et al. 2008, 2009; Lan & DeMets 1983"
FloatArray = NDArray[np.float64]


def _prob(name: str, x: Any, lo: float, hi: float) -> Problem | None:
    if not isinstance(x, (int, float, np.number)) or not (lo < float(x) < hi):
        return Problem(name, x, f"{lo} < {name} < {hi}", SOURCE, "out of range")
    return None


def _check(probs: Sequence[Problem | None]) -> None:
    real = [p for p in probs if p is not None]
    if real:
        raise InputError(real)


def ldobf_boundaries(
    info_frac: Sequence[float] | FloatArray,
    alpha: float = 0.05,
    sides: int = 2,
    spending: str = "per_side",
) -> FloatArray:
    """Lan-DeMets O'Brien-Fleming-type boundaries (z scale) at the given information fractions.

    Parameters
    ----------
    info_frac : sequence of float
        Strictly increasing information fractions in (0, 1].
    alpha : float
        Overall type I error (two-sided total when ``sides == 2``).
    sides : {1, 2}
        Two-sided symmetric (+-c_k) or one-sided (upper) boundaries.
    spending : {"per_side", "total"}
        Two-sided only: spend alpha/2 on each side with the function of alpha/2 (the upper
        boundary of a one-sided level-alpha/2 design; rpact's convention), or apply
        alpha*(t) = 2 - 2 Phi(z_{1-alpha/2}/sqrt(t)) to the total two-sided alpha.

    Returns
    -------
    ndarray
        Boundary c_k for each look.

    Examples
    --------
    >>> from phantomlab.meta import ldobf_boundaries
    >>> round(float(ldobf_boundaries([1.0])[0]), 4)
    1.96
    """
    t = np.atleast_1d(np.asarray(info_frac, dtype=float))
    probs = [_prob("alpha", alpha, 0.0, 1.0)]
    if sides not in (1, 2):
        probs.append(Problem("sides", sides, "1 or 2", SOURCE, "bad value"))
    if spending not in ("total", "per_side"):
        probs.append(Problem("spending", spending, "per_side, total", SOURCE, "bad value"))
    if t.size == 0 or not np.all(np.isfinite(t)) or np.any(t <= 0) or np.any(t > 1):
        probs.append(Problem("info_frac", t.tolist(), "values in (0, 1]", SOURCE, "bad value"))
    elif np.any(np.diff(t) <= 0):
        probs.append(Problem("info_frac", t.tolist(), "strictly increasing", SOURCE, "bad order"))
    _check(probs)
    if sides == 2 and spending == "per_side":
        return efficacy_bounds(t, alpha / 2, sides=1)
    return efficacy_bounds(t, alpha, sides=sides)


def required_information_size(
    *,
    alpha: float = 0.05,
    beta: float = 0.2,
    control_rate: float | None = None,
    rrr: float | None = None,
    mean_difference: float | None = None,
    sd: float | None = None,
    heterogeneity: float = 0.0,
) -> float:
    """Return the required information size (participants, both arms) of a comparison.

    Give either ``control_rate`` and ``rrr`` (binary outcome) or ``mean_difference`` and
    ``sd`` (continuous outcome).

    Parameters
    ----------
    alpha, beta : float
        Two-sided type I error and type II error (power 1 - beta).
    control_rate : float, optional
        Anticipated event proportion in the control group (0 < p < 1).
    rrr : float, optional
        Anticipated relative risk reduction (experimental rate = control_rate (1 - rrr));
        negative for an increase.
    mean_difference, sd : float, optional
        Anticipated mean difference and the common standard deviation.
    heterogeneity : float
        D^2 (or I^2) as a fraction in [0, 1): the RIS is divided by 1 - heterogeneity.

    Returns
    -------
    float
        The RIS (not rounded).

    Examples
    --------
    >>> from phantomlab.meta import required_information_size
    >>> round(required_information_size(control_rate=0.5, rrr=0.2))
    777
    """
    probs: list[Problem | None] = [
        _prob("alpha", alpha, 0.0, 1.0),
        _prob("beta", beta, 0.0, 1.0),
    ]
    if not isinstance(heterogeneity, (int, float, np.number)) or not (
        0.0 <= float(heterogeneity) < 1.0
    ):
        probs.append(
            Problem("heterogeneity", heterogeneity, "0 <= D^2 < 1", SOURCE, "out of range")
        )
    binary = control_rate is not None or rrr is not None
    cont = mean_difference is not None or sd is not None
    if binary == cont:
        probs.append(
            Problem(
                "control_rate/rrr or mean_difference/sd",
                "both" if binary else "neither",
                "one pair",
                SOURCE,
                "give the anticipated effect of a binary or of a continuous outcome",
            )
        )
        _check(probs)
    z = stats.norm.isf(alpha / 2) + stats.norm.isf(beta)
    if binary:
        probs.append(_prob("control_rate", control_rate, 0.0, 1.0))
        if rrr is None or not isinstance(rrr, (int, float, np.number)) or rrr == 0:
            probs.append(Problem("rrr", rrr, "a non-zero number", SOURCE, "no effect to detect"))
        _check(probs)
        pc = float(control_rate)  # type: ignore[arg-type]
        pe = pc * (1 - float(rrr))  # type: ignore[arg-type]
        if not 0 < pe < 1:
            _check([Problem("rrr", rrr, "control_rate (1 - rrr) in (0, 1)", SOURCE, "bad rate")])
        pbar = (pc + pe) / 2
        n = 4 * z**2 * pbar * (1 - pbar) / (pc - pe) ** 2
    else:
        if mean_difference is None or not np.isfinite(mean_difference) or mean_difference == 0:
            probs.append(
                Problem("mean_difference", mean_difference, "non-zero", SOURCE, "no effect")
            )
        if sd is None or not np.isfinite(sd) or sd <= 0:
            probs.append(Problem("sd", sd, "> 0", SOURCE, "bad standard deviation"))
        _check(probs)
        n = 4 * z**2 * float(sd) ** 2 / float(mean_difference) ** 2  # type: ignore[arg-type]
    return float(n / (1 - float(heterogeneity)))


def diversity(yi: Any, vi: Any, method: str = "DL") -> float:
    """Diversity D^2 = 1 - V_F / V_R of a meta-analysis (Wetterslev et al. 2009).

    Parameters
    ----------
    yi, vi : array_like
        Effect sizes and sampling variances.
    method : str
        tau^2 estimator of the random-effects model (see :func:`~phantomlab.meta.rma`).

    Returns
    -------
    float
        D^2 as a fraction (0 when tau^2 = 0).
    """
    from phantomlab.meta.rma import rma

    fe = rma(yi, vi, method="EE")
    re = rma(yi, vi, method=method)
    return float(max(0.0, 1.0 - fe.se**2 / re.se**2))


def _cumulative_z(yi: FloatArray, vi: FloatArray, method: str) -> tuple[FloatArray, FloatArray]:
    """Cumulative pooled estimate and z after each study (k = 1: the study itself)."""
    from phantomlab.meta.rma import rma

    est, z = np.empty(yi.size), np.empty(yi.size)
    est[0], z[0] = yi[0], yi[0] / np.sqrt(vi[0])
    for i in range(1, yi.size):
        fit = rma(yi[: i + 1], vi[: i + 1], method=method)
        est[i], z[i] = fit.estimate, fit.zval
    return est, z


@dataclass(frozen=True, repr=False)
class TSAResult(Result):
    """A trial sequential analysis.

    Attributes
    ----------
    slab : list of str
        Study labels in the order of accrual.
    ni, cum_n : ndarray
        Participants per study and accrued.
    info_frac : ndarray
        Accrued information fraction cum_n / RIS.
    estimate, zval : ndarray
        Cumulative pooled estimate and its z after each study.
    upper, futility : ndarray
        Efficacy boundary c_k (|Z| >= c_k) and futility boundary a_k (|Z| < a_k; NaN
        where none) at each look.
    alpha_spent : ndarray
        Cumulative alpha spent at each look (both sides).
    ris, ris_unadjusted, heterogeneity : float
        Required information size (adjusted), before adjustment, and the D^2 or I^2 used.
    heterogeneity_kind : str
        ``"D2"``, ``"I2"``, ``"given"`` or ``"none"``.
    alpha, beta : float
        Error rates.
    method : str
        Pooling model of the cumulative meta-analysis.
    crossed : str
        ``"benefit/harm"``, ``"futility"``, ``"RIS reached"`` or ``"none"``.
    crossed_at : int or None
        Index of the first look that crossed (efficacy or futility).
    spending : str
        Convention of the two-sided alpha spending.
    """

    slab: list[str]
    ni: FloatArray
    cum_n: FloatArray
    info_frac: FloatArray
    estimate: FloatArray
    zval: FloatArray
    upper: FloatArray
    futility: FloatArray
    alpha_spent: FloatArray
    ris: float
    ris_unadjusted: float
    heterogeneity: float
    heterogeneity_kind: str
    alpha: float
    beta: float
    method: str
    crossed: str
    crossed_at: int | None
    spending: str = "per_side"

    def to_frame(self) -> pd.DataFrame:
        """Return the look-by-look table (n, info_frac, estimate, z, boundaries, alpha)."""
        return pd.DataFrame(
            {
                "n": self.ni,
                "cum_n": self.cum_n,
                "info_frac": self.info_frac,
                "estimate": self.estimate,
                "zval": self.zval,
                "boundary": self.upper,
                "futility": self.futility,
                "alpha_spent": self.alpha_spent,
            },
            index=pd.Index(self.slab, name="study"),
        )

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-able dict (NaN and infinities as ``None``)."""

        def vec(x: FloatArray) -> list[float | None]:
            return [float(v) if math.isfinite(v) else None for v in x]

        return {
            "ris": self.ris,
            "ris_unadjusted": self.ris_unadjusted,
            "heterogeneity": self.heterogeneity,
            "heterogeneity_kind": self.heterogeneity_kind,
            "alpha": self.alpha,
            "beta": self.beta,
            "method": self.method,
            "crossed": self.crossed,
            "crossed_at": self.crossed_at,
            "spending": self.spending,
            "slab": list(self.slab),
            "cum_n": vec(self.cum_n),
            "info_frac": vec(self.info_frac),
            "estimate": vec(self.estimate),
            "zval": vec(self.zval),
            "boundary": vec(self.upper),
            "futility": vec(self.futility),
            "alpha_spent": vec(self.alpha_spent),
        }

    def summary(self) -> str:
        """Return a plain-text report: RIS, look table and the conclusion."""
        kind = {
            "D2": f"diversity D^2 = {100 * self.heterogeneity:.1f}%",
            "I2": f"I^2 = {100 * self.heterogeneity:.1f}%",
            "given": f"heterogeneity = {100 * self.heterogeneity:.1f}% (given)",
            "none": "no heterogeneity adjustment",
        }[self.heterogeneity_kind]
        lines = [
            "",
            f"Trial Sequential Analysis (k = {len(self.slab)}; {self.method} cumulative model)",
            "",
            f"Required information size: {self.ris:.0f} participants "
            f"({self.ris_unadjusted:.0f} unadjusted; {kind})",
            f"alpha = {self.alpha:g} (two-sided, O'Brien-Fleming-type Lan-DeMets spending, "
            f"{self.spending.replace('_', ' ')}), "
            f"beta = {self.beta:g}",
            f"Accrued: {self.cum_n[-1]:.0f} participants "
            f"({100 * self.info_frac[-1]:.1f}% of the RIS)",
            "",
        ]
        frame = self.to_frame()
        txt = frame.to_string(
            float_format=lambda v: f"{v:.4f}",
            formatters={"n": "{:.0f}".format, "cum_n": "{:.0f}".format},
        )
        lines += txt.splitlines()
        lines.append("")
        if self.crossed == "benefit/harm" and self.crossed_at is not None:
            lines.append(
                f"The z-curve crossed the monitoring boundary at study {self.crossed_at + 1} "
                f"({self.slab[self.crossed_at]}): firm evidence of an effect."
            )
        elif self.crossed == "futility" and self.crossed_at is not None:
            lines.append(
                f"The z-curve entered the futility region at study {self.crossed_at + 1} "
                f"({self.slab[self.crossed_at]}): the anticipated effect is unlikely."
            )
        elif self.crossed == "RIS reached":
            lines.append("The RIS was reached without crossing a boundary: no effect shown.")
        else:
            lines.append("No boundary crossed and the RIS not reached: evidence inconclusive.")
        lines.append("")
        return "\n".join(lines)

    def _brief(self) -> str:
        return (
            f"k = {len(self.slab)}, RIS = {self.ris:.0f}, accrued {100 * self.info_frac[-1]:.1f}%,"
            f" final z = {self.zval[-1]:.3f}, crossed: {self.crossed}"
        )

    def plot(self, ax: Any = None, path: str | Path | None = None) -> Figure:
        """Draw the TSA diagram: z-curve, monitoring and futility boundaries, RIS line.

        Parameters
        ----------
        ax : matplotlib Axes, optional
            Where to draw.
        path : str or Path, optional
            Also save the figure here.

        Returns
        -------
        matplotlib.figure.Figure
            The figure.
        """
        ax = new_axes(ax)
        x = self.cum_n
        ax.plot(
            np.r_[0, x],
            np.r_[0, self.zval],
            color="#1f4e79",
            marker="o",
            ms=3,
            label="Cumulative z",
        )
        # the boundaries at the looks, continued to the RIS as if the next look were there
        tl = self.info_frac[self.info_frac < 1]
        tt = np.append(tl, 1.0)
        cc = ldobf_boundaries(tt, self.alpha, spending=self.spending)
        xs = tt * self.ris
        shown = cc < 8
        for sgn in (1, -1):
            ax.plot(
                xs[shown],
                sgn * cc[shown],
                color="#a11",
                lw=1.2,
                marker=".",
                label="Monitoring boundary" if sgn == 1 else None,
            )
        if np.any(np.isfinite(self.futility)):
            ok = np.isfinite(self.futility)
            for sgn in (1, -1):
                ax.plot(
                    x[ok],
                    sgn * self.futility[ok],
                    color="#c80",
                    lw=1.0,
                    ls="--",
                    label="Futility boundary" if sgn == 1 else None,
                )
        zc = stats.norm.isf(self.alpha / 2)
        for sgn in (1, -1):
            ax.axhline(sgn * zc, color="0.5", lw=0.8, ls=":")
        ax.axvline(self.ris, color="0.3", lw=0.9, ls="-.", label=f"RIS = {self.ris:.0f}")
        ax.axhline(0, color="0.7", lw=0.6)
        ax.set_xlabel("Accrued participants", fontsize=9)
        ax.set_ylabel("Cumulative z", fontsize=9)
        ax.set_ylim(-8, 8)
        ax.legend(fontsize=7, loc="upper left")
        fig = as_figure(ax)
        if path is not None:
            fig.savefig(path, dpi=150)
        return fig


def tsa(
    yi: Any,
    vi: Any,
    ni: Any,
    *,
    ris: float | None = None,
    control_rate: float | None = None,
    rrr: float | None = None,
    mean_difference: float | None = None,
    sd: float | None = None,
    alpha: float = 0.05,
    beta: float = 0.2,
    heterogeneity: str | float = "D2",
    method: str = "DL",
    futility: bool = False,
    spending: str = "per_side",
    slab: Sequence[Any] | None = None,
) -> TSAResult:
    """Trial sequential analysis of studies given in order of accrual.

    Parameters
    ----------
    yi, vi : array_like
        Study effect sizes and sampling variances (e.g. log risk ratios from
        :func:`~phantomlab.meta.escalc`), in chronological order.
    ni : array_like
        Participants randomised in each study (both arms).
    ris : float, optional
        Required information size, if already known (then not adjusted).
    control_rate, rrr, mean_difference, sd : float, optional
        Anticipated effect for the RIS (see :func:`required_information_size`).
    alpha, beta : float
        Two-sided type I error and type II error.
    heterogeneity : {"D2", "I2"} or float
        Adjustment of the RIS: diversity D^2 or I^2 of the model of all studies (``method``),
        a given fraction in [0, 1), or 0 for none.
    method : str
        Cumulative model: "EE" or a tau^2 estimator of :func:`~phantomlab.meta.rma`
        (default "DL", DerSimonian-Laird).
    futility : bool
        Add non-binding O'Brien-Fleming-type beta-spending futility boundaries.
    spending : {"per_side", "total"}
        Convention of the two-sided alpha spending (see :func:`ldobf_boundaries`).
    slab : sequence, optional
        Study labels.

    Returns
    -------
    TSAResult
        Look-by-look table, RIS and the conclusion.
    """
    from phantomlab.meta.rma import rma

    y = np.atleast_1d(np.asarray(yi, dtype=float))
    v = np.atleast_1d(np.asarray(vi, dtype=float))
    n = np.atleast_1d(np.asarray(ni, dtype=float))
    probs: list[Problem | None] = [_prob("alpha", alpha, 0.0, 1.0), _prob("beta", beta, 0.0, 1.0)]
    if not (y.size == v.size == n.size) or y.size == 0:
        probs.append(
            Problem("yi, vi, ni", [y.size, v.size, n.size], "equal lengths >= 1", SOURCE, "bad")
        )
    else:
        if not np.all(np.isfinite(y)):
            probs.append(Problem("yi", y.tolist(), "finite numbers", SOURCE, "missing value"))
        if not np.all(np.isfinite(v) & (v > 0)):
            probs.append(Problem("vi", v.tolist(), "finite and > 0", SOURCE, "bad variance"))
        if not np.all(np.isfinite(n) & (n > 0)):
            probs.append(Problem("ni", n.tolist(), "participants > 0", SOURCE, "bad size"))
    _check(probs)
    labels = [str(i + 1) for i in range(y.size)] if slab is None else [str(s) for s in slab]
    if len(labels) != y.size:
        _check([Problem("slab", len(labels), f"{y.size} labels", SOURCE, "one per study")])
    if y.size >= 2:
        final = rma(y, v, method=method)
        if isinstance(heterogeneity, str):
            kind = heterogeneity.upper()
            if kind == "D2":
                h = 0.0 if method == "EE" else diversity(y, v, method=method)
            elif kind == "I2":
                h = final.I2 / 100
            else:
                _check(
                    [
                        Problem(
                            "heterogeneity", heterogeneity, "D2, I2 or a number", SOURCE, "unknown"
                        )
                    ]
                )
        else:
            kind, h = ("given" if heterogeneity else "none"), float(heterogeneity)
    else:
        kind, h = ("none", 0.0) if isinstance(heterogeneity, str) else ("given", heterogeneity)
    if h >= 1:
        _check([Problem("heterogeneity", h, "< 1", SOURCE, "RIS would be infinite")])
    if ris is not None:
        if not isinstance(ris, (int, float, np.number)) or not ris > 0:
            _check([Problem("ris", ris, "> 0 participants", SOURCE, "bad value")])
        # a given RIS is used as it is (no heterogeneity adjustment)
        ris_u, ris_a, h, kind = float(ris), float(ris), 0.0, "none"
    else:
        ris_u = required_information_size(
            alpha=alpha,
            beta=beta,
            control_rate=control_rate,
            rrr=rrr,
            mean_difference=mean_difference,
            sd=sd,
        )
        ris_a = ris_u / (1 - h)
    est, z = _cumulative_z(y, v, method)
    cum = np.cumsum(n)
    t = cum / ris_a
    # looks at t >= 1 merged into one final look at t = 1
    t_eff = np.minimum(t, 1.0)
    first_full = int(np.argmax(t >= 1)) if np.any(t >= 1) else None
    looks = t_eff if first_full is None else t_eff[: first_full + 1]
    # strictly increasing looks (equal fractions cannot occur as ni > 0, except after merging)
    c_look = ldobf_boundaries(looks, alpha, spending=spending)
    upper = np.empty(t.size)
    upper[: looks.size] = c_look
    upper[looks.size :] = c_look[-1]
    spent = (
        2 * obf_spending(t_eff, alpha / 2) if spending == "per_side" else obf_spending(t_eff, alpha)
    )
    fut = np.full(t.size, np.nan)
    if futility:
        theta = float(stats.norm.isf(alpha / 2) + stats.norm.isf(beta))
        a = futility_bounds(looks, c_look, beta, theta)
        a = np.minimum(a, c_look)
        fa = np.where(a > 0, a, np.nan)
        fut[: looks.size] = fa
    crossed, at = "none", None
    for i in range(t.size):
        if abs(z[i]) >= upper[i]:
            crossed, at = "benefit/harm", i
            break
        if futility and np.isfinite(fut[i]) and abs(z[i]) < fut[i]:
            crossed, at = "futility", i
            break
    if crossed == "none" and first_full is not None:
        crossed = "RIS reached"
    return TSAResult(
        slab=labels,
        ni=n,
        cum_n=cum,
        info_frac=t,
        estimate=est,
        zval=z,
        upper=upper,
        futility=fut,
        alpha_spent=spent,
        ris=ris_a,
        ris_unadjusted=ris_u,
        heterogeneity=h,
        heterogeneity_kind=kind,
        alpha=float(alpha),
        beta=float(beta),
        method=method,
        crossed=crossed,
        crossed_at=at,
        spending=spending,
    )
