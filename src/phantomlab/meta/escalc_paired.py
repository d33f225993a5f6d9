"""Paired (pre-post and crossover) effect sizes with an explicit within-patient correlation.

A pre-post series or a crossover trial measures the same patients twice; the variance of
the paired difference needs the correlation ``ri`` between the two measurements, which
publications seldom report. This module makes that correlation explicit:

* :func:`paired_escalc` computes metafor's paired measures (``MC``, ``SMCC``, ``SMCR``,
  ``SMCRH``, ``ROMC``) per study, taking ``ri`` from a reported SD of the paired
  differences, else from a reported paired t statistic, else from the value you assume,
  and says which per study (column ``ri_source``).
* :func:`ri_sweep` refits the random-effects model for each assumed ``ri`` (e.g. 0.2 to
  0.8) and returns a :class:`RiSweepResult` (estimate and CI against ``ri``).
* :func:`percent_change` pools the log ratio of means (``ROMC``) and back-transforms to a
  percent change, so that the interval never runs below -100 %.
* :func:`rescale_linear` (and :func:`vas100_to_nrs10`) put scores of two pain scales on
  one range by an explicit linear map.
* :func:`responder_threshold` reads the threshold of a responder outcome label so that
  30 % and 50 % responders stay separate outcomes.

Formulas (metafor 3.8-1 ``escalc``): the SD of the paired difference is
``sd_d = sqrt(sd1^2 + sd2^2 - 2 ri sd1 sd2)``; a reported ``sd_d`` implies
``ri = (sd1^2 + sd2^2 - sd_d^2) / (2 sd1 sd2)``; a paired t statistic implies
``sd_d = |m1 - m2| sqrt(ni) / |t|`` (Cochrane Handbook 6.5.2.3 and 23.2.7.3 describe the
same reconstruction; not re-read for this module, the algebra is checked in the tests).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from numpy.typing import NDArray

from phantomlab._result import Result
from phantomlab.exceptions import InputError, Problem
from phantomlab.meta.escalc import escalc
from phantomlab.meta.rma import rma

__all__ = [
    "PAIRED_MEASURES",
    "RiSweepResult",
    "implied_ri",
    "paired_escalc",
    "percent_change",
    "rescale_linear",
    "responder_threshold",
    "ri_sweep",
    "sd_diff_from_t",
    "vas100_to_nrs10",
]

FloatArray = NDArray[np.float64]
SOURCE = "metafor escalc (paired measures)"

#: Paired measures of metafor's escalc and what they are.
PAIRED_MEASURES: dict[str, str] = {
    "MC": "raw mean change / paired mean difference m1 - m2",
    "SMCC": "mean change standardized by the SD of the differences (d_z)",
    "SMCR": "mean change standardized by the SD of condition 1 (raw-score)",
    "SMCRH": "raw-score standardized mean change, heteroscedastic variance (Bonett 2008)",
    "ROMC": "log ratio of the two means (paired); exp(yi) - 1 is a proportional change",
}


def _vec(name: str, x: Any, k: int | None = None) -> FloatArray:
    try:
        arr = np.atleast_1d(np.asarray(x, dtype=float))
    except (TypeError, ValueError):
        raise InputError(Problem(name, x, "numbers", SOURCE, "not numeric")) from None
    if k is not None and arr.size == 1 and k != 1:
        arr = np.full(k, float(arr[0]))
    if k is not None and arr.size != k:
        raise InputError(Problem(name, f"{arr.size} values", f"{k} values", SOURCE, "length"))
    return arr


def implied_ri(sd1i: Any, sd2i: Any, sd_diff: Any) -> FloatArray:
    """Within-patient correlation implied by a reported SD of the paired differences.

    Parameters
    ----------
    sd1i, sd2i : array-like
        SDs of the two measurements (conditions, or post and pre).
    sd_diff : array-like
        Reported SD of the paired differences.

    Returns
    -------
    ndarray
        ``(sd1^2 + sd2^2 - sd_diff^2) / (2 sd1 sd2)``.

    Raises
    ------
    InputError
        Where the implied value lies outside [-1, 1] (the three SDs are inconsistent).
    """
    s1, s2 = _vec("sd1i", sd1i), _vec("sd2i", sd2i, None)
    sd = _vec("sd_diff", sd_diff, s1.size)
    with np.errstate(invalid="ignore", divide="ignore"):
        r = (s1**2 + s2**2 - sd**2) / (2 * s1 * s2)
    bad = np.isfinite(r) & (np.abs(r) > 1)
    if np.any(bad):
        i = int(np.flatnonzero(bad)[0])
        raise InputError(
            Problem(
                "sd_diff",
                float(sd[i]),
                f"between |sd1-sd2| = {abs(s1[i] - s2[i]):.4g} and sd1+sd2 = {s1[i] + s2[i]:.4g}",
                SOURCE,
                f"implies a correlation {r[i]:.4g} outside [-1, 1] (study {i + 1})",
            )
        )
    return np.asarray(r, dtype=float)


def sd_diff_from_t(mean_diff: Any, t: Any, ni: Any) -> FloatArray:
    """SD of the paired differences reconstructed from a paired t statistic.

    Parameters
    ----------
    mean_diff : array-like
        Mean of the paired differences.
    t : array-like
        Paired t statistic (its sign is ignored).
    ni : array-like
        Number of patients (pairs).

    Returns
    -------
    ndarray
        ``|mean_diff| sqrt(ni) / |t|`` (NaN where t is 0 or missing).
    """
    md = _vec("mean_diff", mean_diff)
    tt = _vec("t", t, md.size)
    n = _vec("ni", ni, md.size)
    with np.errstate(invalid="ignore", divide="ignore"):
        out = np.abs(md) * np.sqrt(n) / np.abs(tt)
    return np.where(np.isfinite(out) & (out > 0), out, np.nan)


def paired_escalc(
    measure: str,
    *,
    m1i: Any,
    sd1i: Any,
    m2i: Any,
    sd2i: Any,
    ni: Any,
    ri: Any = None,
    sd_diff: Any = None,
    t: Any = None,
    slab: Any = None,
) -> pd.DataFrame:
    """Paired effect sizes with the within-patient correlation made explicit.

    Per study, ``ri`` comes from a reported ``sd_diff`` if there is one, else from a
    reported paired ``t``, else from the assumed ``ri`` argument.

    Parameters
    ----------
    measure : str
        One of :data:`PAIRED_MEASURES` (``MC``, ``SMCC``, ``SMCR``, ``SMCRH``, ``ROMC``).
        For a crossover trial, condition 1 is the active and condition 2 the control
        condition; for pre-post data, 1 is post and 2 is pre (metafor's convention).
    m1i, sd1i, m2i, sd2i, ni : array-like
        Means and SDs of the two measurements and the number of patients.
    ri : float or array-like, optional
        Assumed correlation for studies with neither ``sd_diff`` nor ``t``.
    sd_diff, t : array-like, optional
        Reported SD of the paired differences, or paired t statistic (NaN where not
        reported).
    slab : sequence, optional
        Study labels (the index of the result).

    Returns
    -------
    DataFrame
        Columns ``yi``, ``vi``, ``ri`` and ``ri_source`` (``"sd_diff"``, ``"t"`` or
        ``"assumed"``).

    Raises
    ------
    InputError
        Unknown measure, a study with no source for ``ri``, an inconsistent ``sd_diff``.

    Examples
    --------
    >>> out = paired_escalc("MC", m1i=[4.1], sd1i=[1.9], m2i=[5.3], sd2i=[2.1], ni=[8], ri=0.5)
    >>> round(float(out["yi"].iloc[0]), 2), round(float(out["vi"].iloc[0]), 5)
    (-1.2, 0.50375)
    """
    m = str(measure).strip().upper()
    if m not in PAIRED_MEASURES:
        raise InputError(Problem("measure", measure, ", ".join(PAIRED_MEASURES), SOURCE, "unknown"))
    a1 = _vec("m1i", m1i)
    k = a1.size
    s1, a2, s2, n = (
        _vec(nm, v, k) for nm, v in (("sd1i", sd1i), ("m2i", m2i), ("sd2i", sd2i), ("ni", ni))
    )
    r = np.full(k, np.nan) if ri is None else _vec("ri", ri, k)
    src = np.full(k, "assumed", dtype=object)
    if t is not None:
        sd_t = sd_diff_from_t(a1 - a2, _vec("t", t, k), n)
        ok = np.isfinite(sd_t)
        r = np.where(ok, implied_ri(s1, s2, sd_t), r)
        src[ok] = "t"
    if sd_diff is not None:
        sdd = _vec("sd_diff", sd_diff, k)
        ok = np.isfinite(sdd)
        r = np.where(ok, implied_ri(s1, s2, sdd), r)
        src[ok] = "sd_diff"
    if np.any(~np.isfinite(r)):
        i = int(np.flatnonzero(~np.isfinite(r))[0])
        raise InputError(
            Problem("ri", "missing", "-1 <= ri <= 1, or sd_diff or t", SOURCE, f"study {i + 1}")
        )
    out = escalc(m, m1i=a1, m2i=a2, sd1i=s1, sd2i=s2, ni=n, ri=r)
    out["ri"] = r
    out["ri_source"] = src
    if slab is not None:
        out.index = pd.Index([str(s) for s in slab], name="study")
    return out


@dataclass(frozen=True, repr=False)
class RiSweepResult(Result):
    """A pooled estimate refitted for each assumed within-patient correlation.

    Attributes
    ----------
    frame : DataFrame
        One row per assumed ``ri``: estimate, se, ci_lb, ci_ub, tau2, I2, k.
    measure, method : str
        Effect-size measure and tau^2 estimator.
    n_assumed : int
        Studies whose correlation was assumed (swept); the others keep their
        reported-data correlation.
    """

    frame: pd.DataFrame
    measure: str
    method: str
    n_assumed: int

    def to_frame(self) -> pd.DataFrame:
        """Return the table (index: assumed ri)."""
        return self.frame.copy()

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-able dict."""
        return {
            "measure": self.measure,
            "method": self.method,
            "n_assumed": self.n_assumed,
            "rows": self.frame.reset_index().to_dict(orient="records"),
        }

    def summary(self, digits: int = 4) -> str:
        """Return a text table of estimate and CI against ri."""
        head = (
            f"Sensitivity to the within-patient correlation ({self.measure}, {self.method}; "
            f"{self.n_assumed} of {int(self.frame['k'].iloc[0])} studies with an assumed ri)"
        )
        body = self.frame.round(digits).to_string()
        return f"\n{head}\n\n{body}\n"

    def plot(self, ax: Axes | None = None, path: str | Path | None = None) -> Figure:
        """Plot the pooled estimate and its CI against the assumed ri.

        Parameters
        ----------
        ax : matplotlib Axes, optional
            Axes to draw into (default: a new figure).
        path : str or Path, optional
            Save the figure here (format from the suffix).

        Returns
        -------
        matplotlib.figure.Figure
            The figure.
        """
        from phantomlab._result import as_figure, new_axes

        ax = new_axes(ax)
        r = self.frame.index.to_numpy(float)
        ax.fill_between(r, self.frame["ci_lb"], self.frame["ci_ub"], alpha=0.25, label="95% CI")
        ax.plot(r, self.frame["estimate"], marker="o", label="pooled estimate")
        ax.axhline(0.0, color="grey", lw=0.8, ls=":")
        ax.set_xlabel("assumed within-patient correlation ri")
        ax.set_ylabel(f"pooled {self.measure}")
        ax.legend(fontsize=8)
        fig = as_figure(ax)
        if path is not None:
            fig.savefig(path, bbox_inches="tight")
        return fig


def ri_sweep(
    measure: str,
    *,
    m1i: Any,
    sd1i: Any,
    m2i: Any,
    sd2i: Any,
    ni: Any,
    ri: Any = (0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8),
    sd_diff: Any = None,
    t: Any = None,
    method: str = "REML",
    test: str = "z",
) -> RiSweepResult:
    """Refit the pooled model for each assumed within-patient correlation.

    Studies with a reported ``sd_diff`` or ``t`` keep their implied correlation; the
    others take each value of ``ri`` in turn.

    Parameters
    ----------
    measure : str
        Paired measure (see :func:`paired_escalc`).
    m1i, sd1i, m2i, sd2i, ni, sd_diff, t
        As in :func:`paired_escalc`.
    ri : sequence of float
        Correlations to try (default 0.2 to 0.8 by 0.1).
    method, test : str
        As in :func:`~phantomlab.meta.rma.rma`.

    Returns
    -------
    RiSweepResult
        Estimate, CI and tau^2 per assumed ri.
    """
    grid = _vec("ri", ri)
    if grid.size == 0 or np.any(np.abs(grid) > 1) or np.any(~np.isfinite(grid)):
        raise InputError(Problem("ri", list(grid), "values in [-1, 1]", SOURCE, "bad sweep grid"))
    rows = []
    n_assumed = 0
    for r in grid:
        es = paired_escalc(
            measure, m1i=m1i, sd1i=sd1i, m2i=m2i, sd2i=sd2i, ni=ni, ri=r, sd_diff=sd_diff, t=t
        )
        n_assumed = int((es["ri_source"] == "assumed").sum())
        f = rma(es["yi"], es["vi"], method=method, test=test)
        rows.append([r, f.estimate, f.se, f.ci_lb, f.ci_ub, f.tau2, f.I2, f.k])
    frame = pd.DataFrame(
        rows, columns=["ri", "estimate", "se", "ci_lb", "ci_ub", "tau2", "I2", "k"]
    ).set_index("ri")
    return RiSweepResult(
        frame=frame, measure=str(measure).upper(), method=method, n_assumed=n_assumed
    )


def percent_change(
    *,
    m1i: Any,
    sd1i: Any,
    m2i: Any,
    sd2i: Any,
    ni: Any,
    ri: Any = None,
    sd_diff: Any = None,
    t: Any = None,
    method: str = "REML",
    level: float = 95.0,
) -> pd.DataFrame:
    """Percent change (m1 vs m2) per study and pooled, computed on the log-ratio scale.

    The interval is computed for ``log(m1/m2)`` (metafor ``ROMC``) and back-transformed
    with ``100 (exp(x) - 1)``, so it never goes below -100 % (a reduction cannot exceed
    the whole of the pain). Needs positive means (a pain score).

    Parameters
    ----------
    m1i, sd1i, m2i, sd2i, ni, ri, sd_diff, t
        As in :func:`paired_escalc` (1 = post or active, 2 = pre or control).
    method : str
        tau^2 estimator of the pooled model.
    level : float
        Confidence level in percent.

    Returns
    -------
    DataFrame
        Rows per study and (for two or more studies) a last row ``"pooled"``;
        columns pct, pct_lb, pct_ub.
    """
    a1, a2 = _vec("m1i", m1i), _vec("m2i", m2i)
    if np.any(a1 <= 0) or np.any(a2 <= 0):
        bad = float(np.concatenate([a1[a1 <= 0], a2[a2 <= 0]])[0])
        raise InputError(
            Problem("m1i/m2i", bad, "> 0", SOURCE, "a ratio of means needs positive means")
        )
    es = paired_escalc(
        "ROMC", m1i=a1, sd1i=sd1i, m2i=a2, sd2i=sd2i, ni=ni, ri=ri, sd_diff=sd_diff, t=t
    )
    from scipy import stats

    z = float(stats.norm.isf((1 - level / 100) / 2))
    y, se = es["yi"].to_numpy(float), np.sqrt(es["vi"].to_numpy(float))
    yy, lb, ub = y, y - z * se, y + z * se
    idx = [f"Study {i + 1}" for i in range(y.size)]
    if y.size >= 2:
        p = rma(y, se**2, method=method, level=level).predict()
        yy = np.append(yy, float(p["pred"].iloc[0]))
        lb = np.append(lb, float(p["ci_lb"].iloc[0]))
        ub = np.append(ub, float(p["ci_ub"].iloc[0]))
        idx.append("pooled")
    return pd.DataFrame(
        {
            "pct": 100 * np.expm1(yy),
            "pct_lb": 100 * np.expm1(lb),
            "pct_ub": 100 * np.expm1(ub),
        },
        index=idx,
    )


def rescale_linear(
    mean: Any,
    sd: Any = None,
    *,
    from_range: tuple[float, float] = (0.0, 100.0),
    to_range: tuple[float, float] = (0.0, 10.0),
) -> tuple[FloatArray, FloatArray | None]:
    """Map scores of one bounded scale linearly onto another.

    ``x' = lo' + (x - lo) (hi' - lo') / (hi - lo)``; an SD (or SE, or a mean
    difference) scales by the same factor without the shift.

    The assumption is that the two scales measure the same construct with the same
    anchors ("no pain" ... "worst pain imaginable") and differ only by a linear change of
    units. That holds only approximately for a 100-mm VAS and an 11-point NRS (they are
    highly correlated but not interchangeable patient by patient); a pooled analysis that
    mixes them should say so, and a standardized measure (SMD) avoids the assumption.

    Parameters
    ----------
    mean : array-like
        Scores (means) on the source scale.
    sd : array-like, optional
        SDs on the source scale.
    from_range, to_range : (float, float)
        Bounds of the source and target scales.

    Returns
    -------
    (ndarray, ndarray or None)
        Rescaled means and SDs.
    """
    lo, hi = (float(v) for v in from_range)
    lo2, hi2 = (float(v) for v in to_range)
    if not hi > lo or not hi2 > lo2:
        raise InputError(
            Problem("from_range/to_range", (from_range, to_range), "lo < hi", SOURCE, "bad range")
        )
    m = _vec("mean", mean)
    outside = (m < lo) | (m > hi)
    if np.any(outside):
        raise InputError(
            Problem("mean", float(m[outside][0]), f"[{lo:g}, {hi:g}]", SOURCE, "outside scale")
        )
    fac = (hi2 - lo2) / (hi - lo)
    s = None if sd is None else _vec("sd", sd, m.size) * fac
    return lo2 + (m - lo) * fac, s


def vas100_to_nrs10(mean: Any, sd: Any = None) -> tuple[FloatArray, FloatArray | None]:
    """VAS 0-100 mm to NRS 0-10: :func:`rescale_linear` with factor 1/10 (same assumption).

    Parameters
    ----------
    mean, sd : array-like
        VAS means (mm) and SDs.

    Returns
    -------
    (ndarray, ndarray or None)
        Means and SDs on 0-10.

    Examples
    --------
    >>> m, s = vas100_to_nrs10([62.0], [18.0])
    >>> float(m[0]), float(s[0])
    (6.2, 1.8)
    """
    return rescale_linear(mean, sd, from_range=(0.0, 100.0), to_range=(0.0, 10.0))


_RESP = re.compile(r"(?:>=|≥|>|at least)\s*(\d+(?:\.\d+)?)\s*%")


def responder_threshold(label: str) -> float | None:
    """Read the responder threshold (percent reduction) from an outcome label.

    Responders at 30 % and at 50 % pain reduction are different outcomes (a 50 %
    responder is a 30 % responder, not the other way round) and must never be pooled
    together; group responder rows by this value.

    Parameters
    ----------
    label : str
        Outcome label, e.g. ``"responders >=50% reduction average pain"``.

    Returns
    -------
    float or None
        The threshold in percent, or None when the label names none.

    Examples
    --------
    >>> responder_threshold("responders >30% VAS reduction")
    30.0
    >>> responder_threshold("pain 0-10") is None
    True
    """
    hit = _RESP.search(str(label))
    return float(hit.group(1)) if hit else None
