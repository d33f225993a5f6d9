"""Responder analysis: 2x2 effect measures, exact tests and the number needed to treat.

Responders at the IMMPACT thresholds (>= 30 % and >= 50 % reduction; Dworkin et
al. 2008, J Pain 9:105). Per threshold and arm versus control:

* risk difference with Newcombe's hybrid score interval (method 10 of Newcombe
  1998, Stat Med 17:873: Wilson score limits of each proportion combined), and
  the Wald interval that the NNT (Altman 1998, BMJ 317:1309) inverts;
* risk ratio with Koopman's (1984, Biometrics 40:513) score interval (the
  Miettinen-Nurminen score without the ``N/(N-1)`` factor);
* odds ratio: the conditional maximum-likelihood estimate with its exact
  conditional interval (noncentral hypergeometric), as R's ``fisher.test`` gives;
* Fisher's exact two-sided p (R's rule: tables no more probable than the one
  seen, relative tolerance ``1e-7``).
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

__all__ = [
    "NNT",
    "TwoByTwo",
    "koopman_rr_ci",
    "newcombe_rd_ci",
    "nnt",
    "nnt_from_risk_difference",
    "responder_analysis",
    "two_by_two",
    "wilson_ci",
]


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


def _check_counts(r1: int, n1: int, r2: int, n2: int) -> None:
    ok = all(float(v) == int(v) for v in (r1, n1, r2, n2))
    if not ok or min(n1, n2) <= 0 or not (0 <= r1 <= n1 and 0 <= r2 <= n2):
        raise InputError(
            Problem(
                "counts",
                (r1, n1, r2, n2),
                "whole numbers with 0 <= responders <= n and n > 0",
                "",
                "bad 2x2 counts",
            )
        )


def _z(alpha: float) -> float:
    if not 0 < alpha < 1:
        raise InputError(Problem("alpha", alpha, "> 0 and < 1", "", "bad level"))
    return float(stats.norm.ppf(1 - alpha / 2))


def wilson_ci(r: int, n: int, alpha: float = 0.05) -> tuple[float, float]:
    """Wilson (1927) score interval of a binomial proportion, no continuity correction.

    Parameters
    ----------
    r, n : int
        Responders and patients (``0 <= r <= n``, ``n > 0``).
    alpha : float
        Two-sided level.

    Returns
    -------
    (float, float)
        Lower and upper limits.
    """
    _check_counts(r, n, r, n)
    z = _z(alpha)
    p = r / n
    centre = p + z * z / (2 * n)
    half = z * np.sqrt(p * (1 - p) / n + z * z / (4 * n * n))
    den = 1 + z * z / n
    return float(max(0.0, (centre - half) / den)), float(min(1.0, (centre + half) / den))


def newcombe_rd_ci(r1: int, n1: int, r2: int, n2: int, alpha: float = 0.05) -> tuple[float, float]:
    """Newcombe's (1998, method 10) hybrid score interval of ``r1/n1 - r2/n2``.

    ``L = d - sqrt((p1 - l1)^2 + (u2 - p2)^2)`` and
    ``U = d + sqrt((u1 - p1)^2 + (p2 - l2)^2)`` with ``(l_i, u_i)`` the Wilson
    limits of each proportion (:func:`wilson_ci`).

    Parameters
    ----------
    r1, n1, r2, n2 : int
        Responders and patients in group 1 (treated) and group 2 (control).
    alpha : float
        Two-sided level.

    Returns
    -------
    (float, float)
        Limits of the risk difference.
    """
    _check_counts(r1, n1, r2, n2)
    p1, p2 = r1 / n1, r2 / n2
    l1, u1 = wilson_ci(r1, n1, alpha)
    l2, u2 = wilson_ci(r2, n2, alpha)
    d = p1 - p2
    return (
        float(d - np.sqrt((p1 - l1) ** 2 + (u2 - p2) ** 2)),
        float(d + np.sqrt((u1 - p1) ** 2 + (p2 - l2) ** 2)),
    )


def _koopman_stat(theta: float, r1: int, n1: int, r2: int, n2: int) -> float:
    """Koopman's score chi-square for ``RR = theta`` (restricted MLE in closed form)."""
    # Restricted MLE of p2 under p1 = theta * p2 (Farrington & Manning 1990,
    # Stat Med 9:1447, eq. for the ratio): root of A p^2 + B p + C = 0.
    a = (n1 + n2) * theta
    b = -(n1 * theta + r1 + n2 + r2 * theta)
    c = r1 + r2
    p2 = (-b - np.sqrt(max(b * b - 4 * a * c, 0.0))) / (2 * a)
    p1 = theta * p2
    var = p1 * (1 - p1) / n1 + theta**2 * p2 * (1 - p2) / n2
    num = r1 / n1 - theta * r2 / n2
    if var <= 0:
        return 0.0 if num == 0 else float("inf")
    return float(num * num / var)


def koopman_rr_ci(r1: int, n1: int, r2: int, n2: int, alpha: float = 0.05) -> tuple[float, float]:
    """Koopman's (1984, Biometrics 40:513) score interval of the risk ratio.

    The set of ``theta`` whose score chi-square (restricted MLE under
    ``p1 = theta p2``, variance without the Miettinen-Nurminen ``N/(N-1)``
    factor) stays below the ``1 - alpha`` quantile of chi-square(1); limits by
    Brent's root finder on ``log theta``. A zero count gives limit 0 or
    infinity.

    Parameters
    ----------
    r1, n1, r2, n2 : int
        Responders and patients in group 1 (treated) and group 2 (control).
    alpha : float
        Two-sided level.

    Returns
    -------
    (float, float)
        Limits of ``(r1/n1) / (r2/n2)``.
    """
    from scipy.optimize import brentq

    _check_counts(r1, n1, r2, n2)
    crit = _z(alpha) ** 2
    if r1 == 0 and r2 == 0:
        return 0.0, float("inf")

    def f(lt: float) -> float:
        return _koopman_stat(float(np.exp(lt)), r1, n1, r2, n2) - crit

    if r1 == 0:
        centre = np.log(0.5 / n1) - np.log(r2 / n2)
    elif r2 == 0:
        centre = np.log(r1 / n1) - np.log(0.5 / n2)
    else:
        centre = np.log((r1 / n1) / (r2 / n2))
    lo, hi = 0.0, float("inf")
    if r1 > 0:
        step = 1.0
        while f(centre - step) < 0 and step < 60:
            step *= 2
        lo = float(np.exp(brentq(f, centre - step, centre, xtol=1e-13, rtol=1e-14)))
    if r2 > 0:
        step = 1.0
        while f(centre + step) < 0 and step < 60:
            step *= 2
        hi = float(np.exp(brentq(f, centre, centre + step, xtol=1e-13, rtol=1e-14)))
    return lo, hi


def _conditional_or(r1: int, n1: int, r2: int, n2: int, alpha: float) -> tuple[float, ...]:
    """Conditional MLE of the odds ratio, its exact interval and Fisher's two-sided p.

    The ``[1, 1]`` cell given all margins is noncentral hypergeometric in the
    odds ratio ``psi``: ``P(k) ~ C(m, k) C(N - m, n1 - k) psi^k``. The MLE
    solves ``E[k; psi] = r1``; the limits solve ``P(k >= r1; psi) = alpha/2``
    and ``P(k <= r1; psi) = alpha/2`` (Brent's method on ``log psi``). Fisher's p
    sums the null probabilities no larger than the observed one times
    ``1 + 1e-7`` (R's ``fisher.test`` rule).
    """
    from scipy.optimize import brentq

    def logsumexp(v: np.ndarray) -> float:
        top = float(v.max())
        return top + float(np.log(np.exp(v - top).sum()))

    m, big_n = r1 + r2, n1 + n2
    k = np.arange(max(0, n1 - (big_n - m)), min(n1, m) + 1)
    logdc = stats.hypergeom.logpmf(k, big_n, m, n1)
    d0 = np.exp(logdc - logsumexp(logdc))
    fisher = float(min(1.0, d0[d0 <= d0[k == r1][0] * (1 + 1e-7)].sum()))

    def logd(lpsi: float) -> np.ndarray:
        v = logdc + k * lpsi
        return np.asarray(v - logsumexp(v))

    def tail_ge(lpsi: float) -> float:
        return float(np.exp(logsumexp(logd(lpsi)[k >= r1])))

    def tail_le(lpsi: float) -> float:
        return float(np.exp(logsumexp(logd(lpsi)[k <= r1])))

    def root(f: Any, target: float) -> float:
        lo, hi = -1.0, 1.0
        while f(lo) > target and lo > -700:
            lo *= 2
        while f(hi) < target and hi < 700:
            hi *= 2
        return float(np.exp(brentq(lambda v: f(v) - target, lo, hi, xtol=1e-13, rtol=1e-15)))

    a = alpha / 2
    lo_k, hi_k = int(k[0]), int(k[-1])
    if r1 == lo_k:
        est, low = 0.0, 0.0
    else:
        est = root(lambda v: float(np.sum(k * np.exp(logd(v)))), float(r1)) if r1 < hi_k else 0.0
        low = root(tail_ge, a)
    if r1 == hi_k:
        est, high = float("inf"), float("inf")
    else:
        high = root(lambda v: -tail_le(v), -a)
    return est, low, high, fisher


@dataclass(frozen=True, repr=False)
class TwoByTwo(Result):
    """Effect measures of a 2x2 table (treated versus control responders).

    Attributes
    ----------
    counts : tuple of int
        ``(r1, n1, r2, n2)``: responders and patients, treated then control.
    alpha : float
        Two-sided level of the intervals.
    risk_difference, rd_ci : float, tuple of float
        ``p1 - p2`` with Newcombe's hybrid score interval (method 10).
    risk_ratio, rr_ci : float, tuple of float
        ``p1 / p2`` with Koopman's score interval.
    odds_ratio, or_ci : float, tuple of float
        Conditional MLE of the odds ratio with the exact conditional interval
        (as R's ``fisher.test``).
    fisher_p : float
        Fisher's exact two-sided p.
    """

    counts: tuple[int, int, int, int]
    alpha: float
    risk_difference: float
    rd_ci: tuple[float, float]
    risk_ratio: float
    rr_ci: tuple[float, float]
    odds_ratio: float
    or_ci: tuple[float, float]
    fisher_p: float

    def summary(self) -> str:
        """Return the three effect measures and Fisher's p in one block."""
        r1, n1, r2, n2 = self.counts
        lvl = round(100 * (1 - self.alpha))
        return "\n".join(
            [
                f"{r1}/{n1} vs {r2}/{n2}; {lvl}% CIs",
                f"risk difference {self.risk_difference:.4f} "
                f"({self.rd_ci[0]:.4f} to {self.rd_ci[1]:.4f}; Newcombe hybrid score)",
                f"risk ratio {self.risk_ratio:.4f} "
                f"({self.rr_ci[0]:.4f} to {self.rr_ci[1]:.4f}; Koopman score)",
                f"odds ratio {self.odds_ratio:.4f} "
                f"({self.or_ci[0]:.4f} to {self.or_ci[1]:.4f}; conditional exact)",
                f"Fisher's exact p = {self.fisher_p:.4g}",
            ]
        )

    def to_frame(self) -> pd.DataFrame:
        """Return one row with every estimate and limit."""
        return pd.DataFrame([self.columns()])

    def columns(self) -> dict[str, float]:
        """Return the estimates and limits as a flat dictionary (responder-table columns)."""
        return {
            "rd": self.risk_difference,
            "rd_newcombe_low": self.rd_ci[0],
            "rd_newcombe_high": self.rd_ci[1],
            "rr": self.risk_ratio,
            "rr_koopman_low": self.rr_ci[0],
            "rr_koopman_high": self.rr_ci[1],
            "or": self.odds_ratio,
            "or_exact_low": self.or_ci[0],
            "or_exact_high": self.or_ci[1],
            "fisher_p": self.fisher_p,
        }


def two_by_two(r1: int, n1: int, r2: int, n2: int, alpha: float = 0.05) -> TwoByTwo:
    """Risk difference, risk ratio, odds ratio with exact/score intervals, Fisher's p.

    Parameters
    ----------
    r1, n1 : int
        Responders and patients in the treated arm.
    r2, n2 : int
        Responders and patients in the control arm.
    alpha : float
        Two-sided level of the intervals.

    Returns
    -------
    TwoByTwo
        Newcombe RD interval, Koopman RR interval, conditional exact OR
        interval and Fisher's exact p (see the module docstring).

    Raises
    ------
    InputError
        Counts that are not a 2x2 table, or ``alpha`` outside (0, 1).
    """
    _check_counts(r1, n1, r2, n2)
    _z(alpha)
    r1, n1, r2, n2 = int(r1), int(n1), int(r2), int(n2)
    p1, p2 = r1 / n1, r2 / n2
    rr = p1 / p2 if p2 > 0 else (float("nan") if p1 == 0 else float("inf"))
    est, low, high, fisher = _conditional_or(r1, n1, r2, n2, alpha)
    return TwoByTwo(
        counts=(r1, n1, r2, n2),
        alpha=alpha,
        risk_difference=p1 - p2,
        rd_ci=newcombe_rd_ci(r1, n1, r2, n2, alpha),
        risk_ratio=float(rr),
        rr_ci=koopman_rr_ci(r1, n1, r2, n2, alpha),
        odds_ratio=est,
        or_ci=(low, high),
        fisher_p=fisher,
    )


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
        non-control arms, ``risk_difference`` with its Wald CI, ``nnt``, its CI
        and ``nnt_text`` (Altman 1998), and the :meth:`TwoByTwo.columns` of
        :func:`two_by_two` (Newcombe RD, Koopman RR, exact conditional OR,
        Fisher's p).
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
                row.update(two_by_two(r, n, rc, nc, design.analysis.alpha).columns())
            rows.append(row)
    return pd.DataFrame(rows)
