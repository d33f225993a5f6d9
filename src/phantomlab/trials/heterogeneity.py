"""Between-trial heterogeneity of the calibrated model's predictions (issue #15).

The model's posterior predictive interval of a published arm statistic is made of parameter
draws x trials of the published N resampled from one virtual population. It has no term for
what makes real trials of the same protocol differ beyond patient sampling (centres, case mix,
co-treatments, outcome handling): the model treats every trial as a sample of one population.
This module adds a **trial-level random effect** per statistic kind, as in a random-effects
meta-analysis:

``published_i = mu_i + u_i + e_i``, ``u_i ~ N(0, tau^2_kind)``, ``e_i ~ (0, v_i)``,

where ``mu_i`` is the posterior-predictive mean of target ``i`` and ``v_i`` the variance of its
posterior predictive (trial resampling and parameter draws: the variance the model already
carries). ``tau^2`` is estimated by the **method of moments** in the form of DerSimonian &
Laird (1986, Control Clin Trials 7:177-188, eq. for ``tau^2`` from Cochran's Q) with the
study means given by the model instead of estimated by a pooled mean (so the expectation of
Q is ``k + tau^2 sum(w)`` and no degree of freedom is lost to a pooled mean):

``Q = sum_i w_i r_i^2``, ``w_i = 1 / v_i``, ``r_i = published_i - mu_i``,
``tau^2 = max(0, (Q - k) / sum_i w_i)``.

The calibration parameters were fitted to the same targets, so the in-sample residuals are
smaller than out-of-sample ones and the estimate is, if anything, too small (stated in
``docs/validation.md``). Kinds (:func:`kind_of`): ``nrs`` (``mean`` and ``baseline_mean`` on
the 0-10 scale), ``pct_change`` (``pct_change_mean``, %) and ``responders`` (%).

The effect ``u_i`` is shared by all arms of one trial and outcome (a trial-level effect), so
it cancels in an active-minus-control contrast of the same trial: :func:`add_heterogeneity`
draws it from a generator seeded by trial and outcome, so two arms of one trial get the same
draws.
"""

from __future__ import annotations

import zlib
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

if TYPE_CHECKING:
    from phantomlab.trials.targets import Target

__all__ = [
    "KINDS",
    "add_heterogeneity",
    "estimate_heterogeneity",
    "kind_of",
    "moment_tau2",
    "stat_range",
]

#: Statistic -> heterogeneity kind (pain levels share one kind on the 0-10 scale).
KINDS: dict[str, str] = {
    "mean": "nrs",
    "baseline_mean": "nrs",
    "pct_change_mean": "pct_change",
    "responders": "responders",
}
PAIN_STATS = ("mean", "baseline_mean")
METHOD = (
    "method of moments (DerSimonian & Laird 1986 form, model-given means): "
    "tau2 = max(0, (sum w r^2 - k) / sum w), r = published - posterior-predictive mean, "
    "w = 1 / posterior-predictive variance; per kind (nrs on 0-10, pct_change, responders)"
)


def kind_of(stat: str) -> str:
    """Return the heterogeneity kind of a statistic (its own name when not in :data:`KINDS`)."""
    return KINDS.get(stat, stat)


def stat_range(stat: str, scale_max: float = 10.0) -> tuple[float, float]:
    """Range a statistic can take (``mean`` on its scale, percentages)."""
    if stat in PAIN_STATS:
        return 0.0, float(scale_max)
    if stat == "responders":
        return 0.0, 100.0
    if stat == "pct_change_mean":
        return -100.0, np.inf
    return -np.inf, np.inf


def moment_tau2(residuals: ArrayLike, variances: ArrayLike) -> dict[str, float]:
    """Method-of-moments between-trial variance with model-given means.

    Parameters
    ----------
    residuals : array_like
        ``published - predicted mean`` per target.
    variances : array_like
        Variance each residual has without heterogeneity (> 0).

    Returns
    -------
    dict
        ``tau2`` (``max(0, (Q - k) / sum w)``), ``q`` (``sum w r^2``), ``k``, ``sum_w``.

    Raises
    ------
    InputError
        If the lengths differ or a variance is not positive and finite.
    """
    from phantomlab.exceptions import InputError, Problem

    r = np.asarray(residuals, float).ravel()
    v = np.asarray(variances, float).ravel()
    if r.shape != v.shape:
        raise InputError(Problem("variances", v.size, f"{r.size} values", "", "one per residual"))
    if not (np.isfinite(v).all() and (v > 0).all()) or not np.isfinite(r).all():
        raise InputError(
            Problem("variances", v.tolist(), "> 0 and finite", "", "sampling variance")
        )
    if r.size == 0:
        return {"tau2": 0.0, "q": 0.0, "k": 0, "sum_w": 0.0}
    w = 1.0 / v
    q = float(np.sum(w * r * r))
    return {"tau2": max(0.0, (q - r.size) / float(w.sum())), "q": q, "k": int(r.size),
            "sum_w": float(w.sum())}  # fmt: skip


def _norm(t: Target) -> float:
    return 10.0 / t.outcome.scale_max if t.outcome.stat in PAIN_STATS else 1.0


def estimate_heterogeneity(
    targets: Sequence[Target], pred: Mapping[str, tuple[float, NDArray[np.float64]]]
) -> dict[str, Any]:
    """Estimate ``tau^2`` per kind from in-sample residuals of a record on ``targets``.

    Parameters
    ----------
    targets : sequence of Target
        The targets the record was fitted to (in a validation fold: the training groups
        only).
    pred : mapping
        The record's posterior predictive of those targets
        (:func:`~phantomlab.trials.posterior.predictive`: key -> (mean, trial statistics)).

    Returns
    -------
    dict
        ``method``, ``tau2`` (kind -> value on the kind's scale: 0-10 NRS or %), ``by_kind``
        (kind -> ``tau2, q, k, sum_w``) and ``targets`` (keys used).
    """
    res: dict[str, list[tuple[float, float]]] = {}
    used = []
    for t in targets:
        mean, draws = pred[t.key]
        f = _norm(t)
        v = float(np.var(draws * f)) if np.isfinite(draws).all() else float("nan")
        if not (np.isfinite(mean) and t.outcome.value is not None and np.isfinite(v)):
            continue
        if v <= 0.0:  # a degenerate predictive: the published sampling variance instead
            v = float((t.se * f) ** 2)
        if v <= 0.0:
            continue
        res.setdefault(kind_of(t.outcome.stat), []).append(((float(t.outcome.value) - mean) * f, v))
        used.append(t.key)
    by_kind = {k: moment_tau2(*zip(*rv, strict=True)) for k, rv in sorted(res.items())}
    return {
        "method": METHOD,
        "tau2": {k: d["tau2"] for k, d in by_kind.items()},
        "by_kind": by_kind,
        "targets": used,
    }


def add_heterogeneity(
    values: ArrayLike,
    tau2: float,
    stat: str,
    *,
    trial: str,
    seed: int,
    scale_max: float = 10.0,
) -> NDArray[np.float64]:
    """Add a trial-level random effect ``N(0, tau2)`` to simulated trial statistics.

    Parameters
    ----------
    values : array_like
        Simulated trial statistics (one per simulated trial), on the statistic's own scale.
    tau2 : float
        Between-trial variance of the statistic's kind, on the 0-10 scale for pain levels
        (rescaled to ``scale_max`` here) and in % otherwise.
    stat : str
        The statistic (sets the scale and the range the result is clipped to).
    trial : str
        Trial and outcome id: arms of one trial and outcome get the same effect draws, so
        it cancels in their contrast.
    seed : int
        Seed.
    scale_max : float
        Top of the pain scale of ``values`` (pain levels only).

    Returns
    -------
    ndarray
        ``values + u`` clipped to the statistic's range (:func:`stat_range`).
    """
    x = np.asarray(values, float)
    if not tau2 > 0.0:
        return x.copy()
    sd = float(np.sqrt(tau2)) * (scale_max / 10.0 if stat in PAIN_STATS else 1.0)
    g = np.random.default_rng(np.random.SeedSequence([int(seed), 23, zlib.crc32(trial.encode())]))
    lo, hi = stat_range(stat, scale_max)
    return np.asarray(np.clip(x + sd * g.standard_normal(x.shape), lo, hi), float)
