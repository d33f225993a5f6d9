"""Sample-size planning: continuous, binary and repeated-measures outcomes.

Analytic, closed-form or root-found sample sizes for a two-arm trial, with the
inflations a multi-center PLP trial needs:

* **continuous** -- two-sample t-test with exact noncentral-t power (the formulas of R
  ``pwr.t.test`` / ``pwr.t2n.test``, checked against them to 1e-6); ``n`` is the root
  of ``power(n) = target`` (Brent), rounded up;
* **ANCOVA on baseline** -- the residual variance factor ``1 - rho^2`` (Borm, Fransen &
  Lemmens 2007, J Clin Epidemiol 60:1234; the same factor as
  :mod:`~phantomlab.trials.power`), applied to the standardized effect;
* **repeated measures** (MMRM approximation, primary contrast = mean of ``k``
  post-baseline visits under compound symmetry with correlation ``rho_visits``): variance
  factor ``(1 + (k - 1) rho) / k``. This is derived, not read: it is the variance of a
  mean of ``k`` equicorrelated values of unit variance, ``1' R 1 / k^2``. With both
  factors, ``rho_baseline`` is the correlation of baseline with that mean, and the two
  factors multiply (``Var(ybar - beta b) = Var(ybar) (1 - corr^2)``); checked by
  simulated trials analysed by the compound-symmetry mixed model
  (:func:`~phantomlab.trials.power_sim.simulate_repeated_power`); where no closed form
  exists (MMRM with dropout, UN/AR(1)) use :func:`~phantomlab.trials.power_sim.power_mmrm`;
* **binary** -- two proportions, either Cohen's arcsine effect size
  ``h = 2 asin(sqrt p1) - 2 asin(sqrt p2)`` with normal power as R ``pwr.2p.test`` /
  ``pwr.2p2n.test`` (Cohen 1988, Statistical Power Analysis, ch. 6; checked against pwr),
  or the normal approximation with unpooled variance
  ``n1 = (z_a + z_b)^2 (p1 q1 + p2 q2 / r) / (p1 - p2)^2`` (the standard Wald-test
  formula, e.g. Chow, Shao & Wang, Sample Size Calculations in Clinical Research,
  sec. 4.2 -- not seen here; checked against the formula written out independently in R,
  ``tests/trials/r_reference/samplesize_unpooled.R``, and by simulated binomial trials);
* **clusters / centers** -- design effect ``1 + (m - 1) ICC`` for ``m`` patients per
  cluster (Kish 1965, Survey Sampling; Donner & Klar 2000 -- not seen here, the standard
  formula; it is the cluster-randomized case, conservative for a trial randomized
  within centers) -- checked by simulated cluster trials analysed by the random-center
  REML model (:func:`~phantomlab.trials.power_sim.simulate_cluster_power`);
* **attrition** -- ``n / (1 - dropout)`` (enrol enough that the expected number of
  evaluable patients reaches ``n``).

Rounding: the root ``n`` (evaluable, per arm) is multiplied by the cluster design
effect and rounded up; the enrolled number is that divided by ``1 - dropout``, rounded up.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
from scipy import optimize, stats

from phantomlab._result import Result
from phantomlab._validation import check_range, raise_if
from phantomlab.exceptions import InputError, Problem

if TYPE_CHECKING:
    from matplotlib.figure import Figure

__all__ = [
    "SampleSizeCurve",
    "SampleSizeResult",
    "design_effect_cluster",
    "design_effect_repeated",
    "proportion_power",
    "sample_size",
    "sample_size_curve",
    "t_test_power",
]

ALTERNATIVES = ("two-sided", "greater")
PROPORTION_METHODS = ("arcsine", "unpooled")
#: Upper bound of the root search (patients per arm; assumed: far above any trial).
N_MAX = 1e7


def _alt(alternative: str) -> str:
    if alternative not in ALTERNATIVES:
        raise InputError(
            Problem("alternative", alternative, "'two-sided' or 'greater'", "", "unknown")
        )
    return alternative


def t_test_power(
    effect_size: float,
    n1: Any,
    n2: Any = None,
    *,
    alpha: float = 0.05,
    alternative: str = "two-sided",
) -> np.ndarray:
    """Exact power of the two-sample t-test (noncentral t), as R ``pwr.t2n.test``.

    Parameters
    ----------
    effect_size : float
        Standardized difference ``d`` (mean difference / SD).
    n1, n2 : float or array-like
        Patients per arm (``n2`` defaults to ``n1``); non-integers allowed.
    alpha : float
        Significance level.
    alternative : {"two-sided", "greater"}
        Two-sided, or one-sided for ``d > 0``.

    Returns
    -------
    numpy.ndarray
        Power for each ``n1`` (``n2``).
    """
    alt = _alt(alternative)
    a1 = np.asarray(n1, dtype=float)
    a2 = a1 if n2 is None else np.asarray(n2, dtype=float)
    df = a1 + a2 - 2.0
    ncp = effect_size * np.sqrt(a1 * a2 / (a1 + a2))
    if alt == "greater":
        return np.asarray(stats.nct.sf(stats.t.ppf(1 - alpha, df), df, ncp))
    q = stats.t.ppf(1 - alpha / 2, df)
    # lower tail P(T < -q | ncp) written as P(T > q | -ncp): scipy's nct.cdf returns NaN
    # far in the lower tail (scipy 1.17, e.g. df 1926, ncp 11), the sf form does not
    return np.asarray(stats.nct.sf(q, df, ncp) + stats.nct.sf(q, df, -ncp))


def proportion_power(
    p1: float,
    p2: float,
    n1: Any,
    n2: Any = None,
    *,
    alpha: float = 0.05,
    alternative: str = "two-sided",
    method: str = "arcsine",
) -> np.ndarray:
    """Normal-approximation power for two proportions.

    Parameters
    ----------
    p1, p2 : float
        Response proportions of the treated and control arm.
    n1, n2 : float or array-like
        Patients per arm (``n2`` defaults to ``n1``).
    alpha : float
        Significance level.
    alternative : {"two-sided", "greater"}
        Two-sided, or one-sided for ``p1 > p2``.
    method : {"arcsine", "unpooled"}
        Cohen's ``h`` (R ``pwr.2p.test``/``pwr.2p2n.test``) or the Wald statistic with
        unpooled variance.

    Returns
    -------
    numpy.ndarray
        Power for each ``n1``.
    """
    alt = _alt(alternative)
    if method not in PROPORTION_METHODS:
        raise InputError(Problem("method", method, "'arcsine' or 'unpooled'", "", "unknown"))
    a1 = np.asarray(n1, dtype=float)
    a2 = a1 if n2 is None else np.asarray(n2, dtype=float)
    if method == "arcsine":
        h = 2 * math.asin(math.sqrt(p1)) - 2 * math.asin(math.sqrt(p2))
        shift = h * np.sqrt(a1 * a2 / (a1 + a2))
    else:
        shift = (p1 - p2) / np.sqrt(p1 * (1 - p1) / a1 + p2 * (1 - p2) / a2)
    if alt == "greater":
        return np.asarray(stats.norm.sf(stats.norm.isf(alpha) - shift))
    z = stats.norm.isf(alpha / 2)
    return np.asarray(stats.norm.sf(z - shift) + stats.norm.cdf(-z - shift))


def design_effect_repeated(visits: int, rho: float) -> float:
    """Variance factor of the mean of ``visits`` equicorrelated measurements.

    Parameters
    ----------
    visits : int
        Post-baseline visits ``k`` averaged by the primary contrast.
    rho : float
        Within-patient correlation between visits (compound symmetry).

    Returns
    -------
    float
        ``(1 + (k - 1) rho) / k`` (derived: ``1' R 1 / k^2``).
    """
    return (1.0 + (visits - 1) * rho) / visits


def design_effect_cluster(cluster_size: float, icc: float) -> float:
    """Design effect of cluster (center) sampling, ``1 + (m - 1) ICC``.

    Parameters
    ----------
    cluster_size : float
        Mean patients per cluster ``m``.
    icc : float
        Intra-cluster correlation.

    Returns
    -------
    float
        The variance inflation (Kish 1965; not seen here, the standard formula).
    """
    return 1.0 + (cluster_size - 1.0) * icc


@dataclass(frozen=True)
class _Plan:
    outcome: str
    effect_size: float  # standardized d after variance factors (continuous) or p1 (binary)
    p2: float
    alpha: float
    alternative: str
    ratio: float
    method: str
    variance_factor: float
    deff_cluster: float

    def power(self, n1: Any) -> np.ndarray:
        n_eff = np.asarray(n1, dtype=float) / self.deff_cluster
        n2 = n_eff * self.ratio
        if self.outcome == "continuous":
            return t_test_power(self.effect_size, n_eff, n2, alpha=self.alpha,
                                alternative=self.alternative)  # fmt: skip
        return proportion_power(self.effect_size, self.p2, n_eff, n2, alpha=self.alpha,
                                alternative=self.alternative, method=self.method)  # fmt: skip


def _validate(
    outcome: str,
    effect_size: float | None,
    p1: float | None,
    p2: float | None,
    power: float,
    alpha: float,
    ratio: float,
    rho_baseline: float,
    visits: int,
    rho_visits: float,
    cluster_size: float,
    icc: float,
    dropout: float,
) -> None:
    if outcome not in ("continuous", "binary"):
        raise InputError(Problem("outcome", outcome, "'continuous' or 'binary'", "", "unknown"))
    probs: list[Problem] = []
    probs += check_range("power", power, low=0, high=1, low_inclusive=False, high_inclusive=False)
    probs += check_range("alpha", alpha, low=0, high=1, low_inclusive=False, high_inclusive=False)
    probs += check_range("ratio", ratio, low=0.01, high=100)
    probs += check_range("rho_baseline", rho_baseline, low=0, high=1, high_inclusive=False)
    probs += check_range("visits", visits, low=1, high=100)
    probs += check_range("rho_visits", rho_visits, low=0, high=1)
    probs += check_range("cluster_size", cluster_size, low=1, high=100_000)
    probs += check_range("icc", icc, low=0, high=1)
    probs += check_range("dropout", dropout, low=0, high=1, high_inclusive=False)
    if outcome == "continuous":
        if effect_size is None or not math.isfinite(effect_size) or effect_size == 0:
            probs.append(Problem("effect_size", effect_size, "finite and != 0", "",
                                 "a continuous outcome needs a nonzero effect size d"))  # fmt: skip
    else:
        for name, p in (("p1", p1), ("p2", p2)):
            if p is None:
                probs.append(Problem(name, p, "0 < p < 1", "", "a binary outcome needs it"))
            else:
                probs += check_range(name, p, low=0, high=1, low_inclusive=False,
                                     high_inclusive=False)  # fmt: skip
        if p1 is not None and p1 == p2:
            probs.append(Problem("p2", p2, "!= p1", "", "effect is 0: p1 equals p2"))
        if visits != 1 or rho_baseline != 0:
            msg = "repeated-measures/ANCOVA factors apply to continuous outcomes"
            probs.append(Problem("visits", visits, "1 and rho_baseline 0 for binary", "", msg))
    raise_if(probs)


@dataclass(frozen=True, repr=False)
class SampleSizeResult(Result):
    """A solved sample size with its inflations.

    Attributes
    ----------
    outcome : str
        ``"continuous"`` or ``"binary"``.
    method : str
        Test and approximations used.
    power, alpha : float
        Target power and significance level.
    n_exact : float
        Root of ``power(n) = target`` (evaluable patients in arm 1, before clusters).
    n_evaluable : int
        ``ceil(n_exact * deff_cluster)`` per arm 1.
    n_enrolled : int
        ``ceil(n_evaluable / (1 - dropout))`` per arm 1.
    n2_enrolled : int
        Arm 2 enrolled: ``ceil(ratio * n_enrolled)``.
    achieved_power : float
        Power at ``n_evaluable`` (arm 2: ``ratio * n_evaluable``, not rounded).
    factors : dict
        ``variance_factor``, ``deff_cluster``, ``dropout``, ``ratio``, effect sizes.
    curve : SampleSizeCurve
        Power against evaluable patients per arm around the solution (for ``plot``).
    """

    outcome: str
    method: str
    power: float
    alpha: float
    n_exact: float
    n_evaluable: int
    n_enrolled: int
    n2_enrolled: int
    achieved_power: float
    factors: dict[str, float]
    curve: SampleSizeCurve

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-able dictionary."""
        return {
            "outcome": self.outcome,
            "method": self.method,
            "power": self.power,
            "alpha": self.alpha,
            "n_exact": self.n_exact,
            "n_evaluable_per_arm": self.n_evaluable,
            "n_enrolled_arm1": self.n_enrolled,
            "n_enrolled_arm2": self.n2_enrolled,
            "n_enrolled_total": self.n_enrolled + self.n2_enrolled,
            "achieved_power": self.achieved_power,
            "factors": dict(self.factors),
        }

    def to_frame(self) -> pd.DataFrame:
        """Return the quantities as a one-row table."""
        d = self.to_dict()
        d.update(d.pop("factors"))
        return pd.DataFrame([d])

    def summary(self) -> str:
        """Return a short text report."""
        f = self.factors
        return "\n".join(
            [
                f"Sample size, {self.outcome} outcome ({self.method})",
                f"  target power {self.power:g} at alpha {self.alpha:g}",
                f"  root n (arm 1, evaluable, no clusters): {self.n_exact:.4f}",
                f"  variance factor {f['variance_factor']:.4f}, "
                f"cluster design effect {f['deff_cluster']:.4f}, dropout {f['dropout']:g}",
                f"  evaluable per arm 1: {self.n_evaluable} (power {self.achieved_power:.4f})",
                f"  enrol: arm 1 {self.n_enrolled}, arm 2 {self.n2_enrolled}, "
                f"total {self.n_enrolled + self.n2_enrolled}",
            ]
        )

    def _brief(self) -> str:
        return f"{self.outcome}, enrol {self.n_enrolled}+{self.n2_enrolled}"

    def plot(self, ax: Any = None) -> Figure:
        """Plot the power curve with the solved evaluable ``n`` marked.

        Parameters
        ----------
        ax : matplotlib Axes or None
            Axes to draw on (new figure if None).

        Returns
        -------
        matplotlib.figure.Figure
            The figure.
        """
        fig = self.curve.plot(ax)
        axes = fig.axes[0] if ax is None else ax
        axes.plot([self.n_evaluable], [self.achieved_power], "s", color="C3",
                  label=f"n = {self.n_evaluable} (enrol {self.n_enrolled})")  # fmt: skip
        axes.legend(fontsize=8)
        return fig


@dataclass(frozen=True, repr=False)
class SampleSizeCurve(Result):
    """Analytic power against evaluable patients per arm.

    Attributes
    ----------
    n_per_arm : numpy.ndarray
        Evaluable patients in arm 1.
    power : numpy.ndarray
        Power at each.
    label : str
        What the curve is for.
    """

    n_per_arm: np.ndarray
    power: np.ndarray
    label: str

    def to_frame(self) -> pd.DataFrame:
        """Return one row per sample size."""
        return pd.DataFrame({"n_per_arm": self.n_per_arm, "power": self.power})

    def summary(self) -> str:
        """Return a text table."""
        lines = [f"Power curve: {self.label}", "  n/arm   power"]
        lines += [
            f"  {int(n):5d}  {p:.4f}" for n, p in zip(self.n_per_arm, self.power, strict=True)
        ]
        return "\n".join(lines)

    def _brief(self) -> str:
        return f"{self.label}, n {int(self.n_per_arm.min())}-{int(self.n_per_arm.max())}"

    def plot(self, ax: Any = None) -> Figure:
        """Plot power against patients per arm (0.8 and 0.9 marked).

        Parameters
        ----------
        ax : matplotlib Axes or None
            Axes to draw on (new figure if None).

        Returns
        -------
        matplotlib.figure.Figure
            The figure.
        """
        from phantomlab._result import new_axes

        ax = new_axes(ax)
        ax.plot(self.n_per_arm, self.power, "-o", ms=3)
        for level in (0.8, 0.9):
            ax.axhline(level, color="grey", lw=0.8, ls="--")
        ax.set_xlabel("evaluable patients per arm")
        ax.set_ylabel("power")
        ax.set_ylim(0, 1.02)
        ax.set_title(self.label, fontsize=9)
        return ax.figure


def _plan(
    outcome: str = "continuous",
    *,
    effect_size: float | None = None,
    p1: float | None = None,
    p2: float | None = None,
    power: float = 0.8,
    alpha: float = 0.05,
    alternative: str = "two-sided",
    ratio: float = 1.0,
    method: str = "arcsine",
    rho_baseline: float = 0.0,
    visits: int = 1,
    rho_visits: float = 0.0,
    cluster_size: float = 1.0,
    icc: float = 0.0,
    dropout: float = 0.0,
) -> _Plan:
    _alt(alternative)
    _validate(outcome, effect_size, p1, p2, power, alpha, ratio, rho_baseline, visits,
              rho_visits, cluster_size, icc, dropout)  # fmt: skip
    if outcome == "binary" and method not in PROPORTION_METHODS:
        raise InputError(Problem("method", method, "'arcsine' or 'unpooled'", "", "unknown"))
    vf = (1.0 - rho_baseline**2) * design_effect_repeated(visits, rho_visits)
    deff = design_effect_cluster(cluster_size, icc)
    if outcome == "continuous":
        if effect_size is None:  # _validate refuses this; kept explicit for type narrowing
            raise InputError(Problem("effect_size", None, "a number", "", "missing"))
        return _Plan(outcome, effect_size / math.sqrt(vf), math.nan, alpha, alternative,
                     ratio, "t", vf, deff)  # fmt: skip
    if p1 is None or p2 is None:  # _validate refuses this; kept explicit for type narrowing
        raise InputError(Problem("p1/p2", None, "two proportions", "", "missing"))
    return _Plan(outcome, p1, p2, alpha, alternative, ratio, method, vf, deff)


def sample_size(
    outcome: str = "continuous",
    *,
    effect_size: float | None = None,
    p1: float | None = None,
    p2: float | None = None,
    power: float = 0.8,
    alpha: float = 0.05,
    alternative: str = "two-sided",
    ratio: float = 1.0,
    method: str = "arcsine",
    rho_baseline: float = 0.0,
    visits: int = 1,
    rho_visits: float = 0.0,
    cluster_size: float = 1.0,
    icc: float = 0.0,
    dropout: float = 0.0,
) -> SampleSizeResult:
    """Solve the per-arm sample size of a two-arm trial.

    Parameters
    ----------
    outcome : {"continuous", "binary"}
        Outcome type.
    effect_size : float
        Continuous: standardized difference ``d`` (raw difference / SD of the outcome).
    p1, p2 : float
        Binary: responder proportions of arm 1 (treated) and arm 2 (control).
    power : float
        Target power, in (0, 1).
    alpha : float
        Significance level, in (0, 1).
    alternative : {"two-sided", "greater"}
        Two-sided or one-sided test.
    ratio : float
        ``n2 / n1``.
    method : {"arcsine", "unpooled"}
        Binary: Cohen's ``h`` (as R ``pwr``) or the unpooled normal approximation.
    rho_baseline : float
        Continuous: correlation of baseline with the outcome (ANCOVA factor ``1 - rho^2``).
    visits : int
        Continuous: post-baseline visits averaged by the primary contrast.
    rho_visits : float
        Continuous: correlation between visits (compound symmetry).
    cluster_size : float
        Mean patients per center/cluster.
    icc : float
        Intra-cluster correlation.
    dropout : float
        Expected fraction lost, in [0, 1).

    Returns
    -------
    SampleSizeResult
        Root, evaluable and enrolled numbers, achieved power.

    Raises
    ------
    InputError
        One problem per bad value (power outside (0, 1), zero effect, dropout >= 1, ...).
    """
    plan = _plan(outcome, effect_size=effect_size, p1=p1, p2=p2, power=power, alpha=alpha,
                 alternative=alternative, ratio=ratio, method=method,
                 rho_baseline=rho_baseline, visits=visits, rho_visits=rho_visits,
                 cluster_size=cluster_size, icc=icc, dropout=dropout)  # fmt: skip
    deff = plan.deff_cluster
    plan = replace(plan, deff_cluster=1.0)  # the root is solved without clusters
    sign = plan.effect_size if outcome == "continuous" else (p1 or 0) - (p2 or 0)
    if alternative == "greater" and sign < 0:
        raise InputError(Problem("effect_size", sign, "> 0 for alternative 'greater'", "",
                                 "a one-sided test needs a positive effect"))  # fmt: skip
    low = 3.0 / (1.0 + ratio)  # at least one degree of freedom
    if float(plan.power(low)) >= power:
        root = low
    elif float(plan.power(N_MAX)) < power:
        raise InputError(Problem("effect_size", sign, f"power {power} reachable below n {N_MAX:g}",
                                 "", "effect too small for the target power"))  # fmt: skip
    else:
        root = optimize.brentq(lambda n: float(plan.power(n)) - power, low, N_MAX,
                               xtol=1e-10, rtol=1e-14, maxiter=500)  # fmt: skip
    n_eval = math.ceil(root * deff - 1e-9)
    n_enrol = math.ceil(n_eval / (1.0 - dropout) - 1e-9)
    achieved = float(plan.power(n_eval / deff))
    factors = {
        "variance_factor": plan.variance_factor,
        "deff_cluster": deff,
        "dropout": dropout,
        "ratio": ratio,
    }
    if outcome == "continuous":
        factors.update(effect_size=float(effect_size or 0), effective_d=plan.effect_size)
        label = "two-sample t (exact noncentral t)"
        if rho_baseline or visits > 1:
            label += ", ANCOVA/repeated-measures variance factor"
    else:
        h = 2 * math.asin(math.sqrt(p1 or 0)) - 2 * math.asin(math.sqrt(p2 or 0))
        factors.update(p1=float(p1 or 0), p2=float(p2 or 0), h=h)
        label = f"two proportions, {'arcsine h' if method == 'arcsine' else 'unpooled normal'}"
    grid = np.unique(
        np.append(np.linspace(max(2.0, 0.25 * n_eval), 2.0 * n_eval, 60).round(), n_eval)
    )
    curve = SampleSizeCurve(grid, np.asarray(plan.power(grid / deff), dtype=float),
                            f"{outcome}, alpha {alpha:g}")  # fmt: skip
    return SampleSizeResult(outcome, label, power, alpha, float(root), n_eval, n_enrol,
                            math.ceil(ratio * n_enrol - 1e-9), achieved, factors,
                            curve)  # fmt: skip


def sample_size_curve(ns: Any, outcome: str = "continuous", **kwargs: Any) -> SampleSizeCurve:
    """Analytic power at each evaluable sample size per arm.

    Parameters
    ----------
    ns : array-like of int
        Evaluable patients in arm 1 (cluster design effect applied inside).
    outcome : {"continuous", "binary"}
        Outcome type.
    **kwargs
        The keyword arguments of :func:`sample_size` (``power`` and ``dropout`` unused).

    Returns
    -------
    SampleSizeCurve
        Power per ``n``.
    """
    arr = np.asarray(ns, dtype=float).ravel()
    if arr.size == 0 or not np.all(np.isfinite(arr)) or arr.min() < 2:
        raise InputError(Problem("n", list(arr[:5]), "finite, >= 2", "", "bad sample sizes"))
    plan = _plan(outcome, **kwargs)
    label = f"{outcome}, alpha {plan.alpha:g}"
    return SampleSizeCurve(arr, np.asarray(plan.power(arr), dtype=float), label)
