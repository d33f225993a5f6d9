"""Shared pieces of every in-silico prediction with uncertainty (issue #15, point 5).

A prediction of the virtual cohort is shown with its **predictive interval** (parameter draws
from the stored calibration posterior x trial or patient resampling) and the **calibration
error** of the parameter blocks it depends on. The commands that predict (``trial replicate
--posterior``, ``trial power --model virtual``, ``optimize rank``, the demo trial) use these
helpers so that they say the same thing in the same words:

* :func:`parameter_draws`: ``(CohortSpec, therapy params)`` per posterior draw
  (:func:`~phantomlab.trials.posterior.posterior_draws`); a point record (no posterior sample)
  gives its point values once, and :data:`NO_POSTERIOR` says what the interval then is;
* :func:`block_calibration_error`: the stored calibration's error on the published arms of
  the blocks (mean ``|simulated - published|``, fraction inside the published 95 % CI);
* :func:`protocol_blocks`: which parameter blocks a protocol reads;
* :func:`quantile_interval` and :func:`wilson_interval`: the two kinds of interval;
* :func:`heterogeneity_tau2` and :func:`with_heterogeneity`: the between-trial random effect
  the calibration record stores (``record["heterogeneity"]``,
  :mod:`phantomlab.trials.heterogeneity`) added to simulated trial statistics of one arm.
  It is a trial-level effect shared by the arms of a trial, so it cancels in a between-arm
  contrast and leaves a between-arm test's power unchanged (:data:`HETEROGENEITY_POWER_NOTE`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from numpy.typing import ArrayLike
from scipy import stats

from phantomlab.cohorts import CohortSpec, default_cohort_spec
from phantomlab.trials.heterogeneity import add_heterogeneity, kind_of

__all__ = [
    "DEFAULT_DRAWS",
    "HETEROGENEITY_POWER_NOTE",
    "NO_POSTERIOR",
    "block_calibration_error",
    "cohort_spec_of",
    "format_calibration_error",
    "has_posterior",
    "heterogeneity_tau2",
    "interval_note",
    "parameter_draws",
    "protocol_blocks",
    "quantile_interval",
    "wilson_interval",
    "with_heterogeneity",
]

#: Posterior draws per prediction by default (as the ``full`` budget's ``draws``).
DEFAULT_DRAWS = 20

#: Why the power of a between-arm test has no heterogeneity term.
HETEROGENEITY_POWER_NOTE = (
    "between-trial heterogeneity is a trial-level effect shared by the arms (calibration "
    "record 'heterogeneity'): it cancels in the between-arm contrast, so power is unchanged"
)

#: What an interval is when the stored calibration is a point record.
NO_POSTERIOR = "no posterior: interval is trial resampling only"


def has_posterior(record: Mapping[str, Any]) -> bool:
    """Return True if a calibration record carries a posterior sample.

    Parameters
    ----------
    record : mapping
        A calibration record (:func:`~phantomlab.cohorts.load_calibration`).

    Returns
    -------
    bool
        Whether ``record["posterior"]["samples"]`` is non-empty.
    """
    post = record.get("posterior") or {}
    return bool(post.get("samples"))


def interval_note(record: Mapping[str, Any], n_draws: int, resampling: str) -> str:
    """One line that says what a predictive interval is made of.

    Parameters
    ----------
    record : mapping
        The calibration record used.
    n_draws : int
        Posterior draws used.
    resampling : str
        The resampling inside each draw (e.g. ``"simulated trials"``).

    Returns
    -------
    str
        :data:`NO_POSTERIOR` (with the resampling) for a point record, otherwise the draws.
    """
    if not has_posterior(record):
        return f"{NO_POSTERIOR} ({resampling}; point calibration record)"
    return f"{n_draws} posterior parameter draws x {resampling}"


def cohort_spec_of(values: Mapping[str, float], base: CohortSpec | None = None) -> CohortSpec:
    """Cohort spec with a draw's cohort values (keys the spec does not expose are ignored).

    Parameters
    ----------
    values : mapping
        Cohort values of a record or a draw (e.g. ``ectopia_gain``).
    base : CohortSpec, optional
        Spec to start from (default: the packaged one).

    Returns
    -------
    CohortSpec
        The spec with those values.
    """
    base = base or default_cohort_spec()
    fields = type(base).model_fields
    # enrolment thresholds of older records are trial criteria now, not cohort values
    vals = {k: float(v) for k, v in values.items()
            if k in fields and k not in ("enrol_min_nrs", "enrol_max_nrs")}  # fmt: skip
    return base.with_values(**vals) if vals else base


def parameter_draws(
    record: Mapping[str, Any], n_draws: int, seed: int
) -> list[tuple[CohortSpec, dict[str, float]]]:
    """Parameter draws of a calibration record as ``(cohort spec, therapy params)``.

    Parameters
    ----------
    record : mapping
        Calibration record (posterior or point).
    n_draws : int
        Draws wanted (a point record gives one: its point values).
    seed : int
        Seed of the draw.

    Returns
    -------
    list of (CohortSpec, dict)
        One entry per draw.
    """
    from phantomlab.trials.posterior import posterior_draws

    n = int(n_draws) if has_posterior(record) else 1
    base = default_cohort_spec()
    return [(cohort_spec_of(c, base), p) for c, p in posterior_draws(record, n, int(seed))]


def protocol_blocks(protocol: Any) -> list[str]:
    """Parameter blocks a protocol reads (``placebo`` for a sham; components of a combination).

    Parameters
    ----------
    protocol : ProtocolBase
        A validated protocol.

    Returns
    -------
    list of str
        Block names of :data:`phantomlab.trials.calibration.BLOCKS` (or the modality key).
    """
    parts = list(getattr(protocol, "components", None) or [protocol])
    out = ["placebo" if p.role == "sham" else p.modality_key() for p in parts]
    return list(dict.fromkeys(out))


def block_calibration_error(record: Mapping[str, Any], blocks: Sequence[str]) -> dict[str, Any]:
    """Calibration error of the stored record on the published arms of some blocks.

    Parameters
    ----------
    record : mapping
        Calibration record; its ``arms`` rows (``block``, ``error``, ``inside``) are used.
    blocks : sequence of str
        Parameter blocks.

    Returns
    -------
    dict
        ``blocks``, ``arms`` (published arms of those blocks), ``mean_abs_error``
        (``|simulated - published|``, NaN if none), ``fraction_inside`` (published 95 % CI,
        NaN if none) and ``note`` (empty, or why there is no number).
    """
    rows = [r for r in record.get("arms") or [] if r.get("block") in blocks]
    out: dict[str, Any] = {"blocks": list(blocks), "arms": len(rows)}
    if rows:
        out["mean_abs_error"] = float(np.mean([abs(float(r["error"])) for r in rows]))
        out["fraction_inside"] = float(np.mean([bool(r["inside"]) for r in rows]))
        out["note"] = ""
    else:
        out["mean_abs_error"] = out["fraction_inside"] = float("nan")
        out["note"] = ("the calibration record stores no per-arm check" if not record.get("arms")
                       else "no published arm of these blocks: uncalibrated")  # fmt: skip
    return out


def format_calibration_error(err: Mapping[str, Any]) -> str:
    """Short text of :func:`block_calibration_error` (e.g. for a table cell)."""
    label = "+".join(err["blocks"])
    if not err["arms"]:
        return f"{label}: {err['note']}"
    return (
        f"{label}: {err['arms']} published arms, mean |error| {err['mean_abs_error']:.2f}, "
        f"{100 * err['fraction_inside']:.0f}% inside CI"
    )


def quantile_interval(values: ArrayLike, level: float = 0.95, axis: int = 0) -> np.ndarray:
    """Central interval of a sample (``(1 - level) / 2`` and ``(1 + level) / 2`` quantiles).

    Parameters
    ----------
    values : array_like
        The sample (draws along ``axis``).
    level : float
        Coverage of the interval.
    axis : int
        Axis of the draws.

    Returns
    -------
    numpy.ndarray
        ``[low, high]`` stacked on a new first axis.
    """
    a = (1.0 - level) / 2.0
    return np.quantile(np.asarray(values, float), [a, 1.0 - a], axis=axis)


def wilson_interval(p: ArrayLike, n: int, level: float = 0.95) -> np.ndarray:
    """Wilson score interval of a proportion ``p`` observed in ``n`` trials.

    Parameters
    ----------
    p : array_like
        Observed proportions.
    n : int
        Trials behind each proportion.
    level : float
        Coverage.

    Returns
    -------
    numpy.ndarray
        ``[low, high]`` stacked on a new first axis.
    """
    p = np.asarray(p, float)
    z = float(stats.norm.ppf(0.5 + level / 2.0))
    den = 1.0 + z * z / n
    mid = (p + z * z / (2 * n)) / den
    half = z * np.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / den
    return np.stack([np.clip(mid - half, 0.0, 1.0), np.clip(mid + half, 0.0, 1.0)])


def heterogeneity_tau2(record: Mapping[str, Any], stat: str) -> float:
    """Between-trial variance of a statistic stored in a calibration record (0 if none).

    Parameters
    ----------
    record : mapping
        Calibration record; ``record["heterogeneity"]["tau2"]`` maps kinds
        (:func:`~phantomlab.trials.heterogeneity.kind_of`) to values (0-10 NRS or %).
    stat : str
        Statistic (``mean``, ``baseline_mean``, ``pct_change_mean``, ``responders``).

    Returns
    -------
    float
        ``tau^2`` of the statistic's kind; 0.0 when the record has none.
    """
    het = record.get("heterogeneity") or {}
    return float((het.get("tau2") or {}).get(kind_of(stat), 0.0))


def with_heterogeneity(
    values: ArrayLike,
    record: Mapping[str, Any],
    stat: str,
    *,
    trial: str,
    seed: int,
    scale_max: float = 10.0,
) -> np.ndarray:
    """Add the record's between-trial random effect to simulated trial statistics of one arm.

    Simulated trial statistics of one arm plus the record's between-trial random effect.

    Parameters
    ----------
    values : array_like
        Simulated trial statistics (one per simulated trial) on the statistic's scale.
    record : mapping
        Calibration record (:func:`heterogeneity_tau2`).
    stat : str
        Statistic.
    trial : str
        Trial and outcome id (arms of one trial share the effect draws).
    seed : int
        Seed.
    scale_max : float
        Top of the pain scale of ``values``.

    Returns
    -------
    numpy.ndarray
        The statistics with ``N(0, tau^2)`` added and clipped to the statistic's range
        (unchanged when the record has no heterogeneity).
    """
    return add_heterogeneity(values, heterogeneity_tau2(record, stat), stat, trial=trial,
                             seed=seed, scale_max=scale_max)  # fmt: skip
