"""Responder analysis and the number needed to treat.

Responders at the IMMPACT thresholds (>= 30 % and >= 50 % reduction; Dworkin et
al. 2008, J Pain 9:105), risk differences with Wald intervals and the NNT with
Altman's (1998, BMJ 317:1309) confidence interval.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from phantomlab._result import Result
from phantomlab.exceptions import InputError, Problem
from phantomlab.trials.design import TrialDesign

__all__ = ["NNT", "nnt", "nnt_from_risk_difference", "responder_analysis"]


@dataclass(frozen=True, repr=False)
class NNT(Result):
    """Number needed to treat with Altman's (1998, BMJ 317:1309) confidence interval.

    Attributes
    ----------
    risk_difference : float
        Responder rate in the treated arm minus control (benefit > 0).
    rd_ci : tuple of float
        Wald confidence interval of the risk difference.
    nnt : float
        ``1 / risk_difference`` (``inf`` when it is 0); negative = harm.
    nnt_ci : tuple of float
        ``(1/rd_high, 1/rd_low)``. When the risk-difference CI includes 0 the
        interval is disjoint: NNTB ``1/rd_high`` to infinity to NNTH ``1/|rd_low|``.
    text : str
        The interval in words, e.g. ``"NNTB 4.1 (2.5 to 11.3)"``.
    """

    risk_difference: float
    rd_ci: tuple[float, float]
    nnt: float
    nnt_ci: tuple[float, float]
    text: str

    def summary(self) -> str:
        """Return the NNT in words with the risk difference."""
        lo, hi = self.rd_ci
        return f"{self.text}; risk difference {self.risk_difference:.3f} ({lo:.3f} to {hi:.3f})"

    def to_frame(self) -> pd.DataFrame:
        """Return one row: risk difference, NNT and their intervals."""
        return pd.DataFrame(
            [
                {
                    "risk_difference": self.risk_difference,
                    "rd_ci_low": self.rd_ci[0],
                    "rd_ci_high": self.rd_ci[1],
                    "nnt": self.nnt,
                    "nnt_ci_low": self.nnt_ci[0],
                    "nnt_ci_high": self.nnt_ci[1],
                    "text": self.text,
                }
            ]
        )


def nnt(responders_t: int, n_t: int, responders_c: int, n_c: int, alpha: float = 0.05) -> NNT:
    """Compute the number needed to treat (benefit) for a responder outcome.

    Parameters
    ----------
    responders_t, n_t : int
        Responders and patients in the treated arm.
    responders_c, n_c : int
        Responders and patients in the control arm.
    alpha : float
        Two-sided level of the interval.

    Returns
    -------
    NNT
        Risk difference with Wald CI and NNT with Altman's CI.
    """
    if min(n_t, n_c) <= 0 or not (0 <= responders_t <= n_t and 0 <= responders_c <= n_c):
        raise InputError(
            Problem("nnt", (responders_t, n_t, responders_c, n_c), "0<=r<=n, n>0", "", "bad counts")
        )
    pt, pc = responders_t / n_t, responders_c / n_c
    rd = pt - pc
    se = float(np.sqrt(pt * (1 - pt) / n_t + pc * (1 - pc) / n_c))
    z = float(stats.norm.ppf(1 - alpha / 2))
    return nnt_from_risk_difference(rd, rd - z * se, rd + z * se)


def nnt_from_risk_difference(rd: float, low: float, high: float) -> NNT:
    """Invert a risk difference and its confidence interval into an NNT (Altman 1998).

    Parameters
    ----------
    rd : float
        Risk difference (benefit > 0).
    low, high : float
        Its confidence limits.

    Returns
    -------
    NNT
        ``1/rd`` with interval ``(1/high, 1/low)``; when the interval of ``rd``
        includes 0 the NNT interval runs "NNTB 1/high to infinity to NNTH 1/|low|".
    """

    def inv(v: float) -> float:
        return 1.0 / v if v != 0 else float("inf")

    val = inv(rd)
    ci = (inv(high), inv(low))
    kind = "NNTB" if rd > 0 else "NNTH"
    if low > 0 or high < 0:
        a, b = sorted((abs(ci[0]), abs(ci[1])))
        text = f"{kind} {abs(val):.1f} ({a:.1f} to {b:.1f})"
    else:
        nntb = f"{1 / high:.1f}" if high > 0 else "inf"
        nnth = f"{1 / abs(low):.1f}" if low < 0 else "inf"
        text = f"{kind} {abs(val):.1f} (NNTB {nntb} to inf to NNTH {nnth})"
    return NNT(rd, (low, high), val, ci, text)


def responder_analysis(wide: pd.DataFrame, design: TrialDesign) -> pd.DataFrame:
    """Responder rates at each IMMPACT threshold, risk differences and NNT.

    A responder's outcome improved from baseline by at least the threshold
    fraction (30 %, 50 %). Patients without a primary value count as
    non-responders (``analysis.missing_responder == "nonresponder"``) or are
    excluded.

    Parameters
    ----------
    wide : pandas.DataFrame
        Output of :func:`to_wide`.
    design : TrialDesign
        The design.

    Returns
    -------
    pandas.DataFrame
        One row per threshold and arm: ``responders``, ``n``, ``rate`` and, for
        non-control arms, ``risk_difference``, its CI, ``nnt``, its CI and ``nnt_text``.
    """
    ctrl = design.control_arm
    w = wide.dropna(subset=["baseline"])
    if design.analysis.missing_responder == "exclude":
        w = w.dropna(subset=["reduction"])
    rows = []
    for thr in design.outcome.responder_thresholds:
        resp = (w["reduction"] >= thr - 1e-12).fillna(False)
        counts = {
            a: (int(resp[w["arm"] == a].sum()), int((w["arm"] == a).sum()))
            for a in design.arm_names
        }
        rc, nc = counts[ctrl]
        for arm, (r, n) in counts.items():
            row: dict[str, Any] = {
                "threshold": thr,
                "arm": arm,
                "responders": r,
                "n": n,
                "rate": r / n if n else float("nan"),
            }
            if arm != ctrl and n and nc:
                res = nnt(r, n, rc, nc, design.analysis.alpha)
                row.update(
                    risk_difference=res.risk_difference,
                    rd_ci_low=res.rd_ci[0],
                    rd_ci_high=res.rd_ci[1],
                    nnt=res.nnt,
                    nnt_ci_low=res.nnt_ci[0],
                    nnt_ci_high=res.nnt_ci[1],
                    nnt_text=res.text,
                )
            rows.append(row)
    return pd.DataFrame(rows)
