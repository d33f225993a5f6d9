"""Simulate a course of a protocol on a virtual cohort, day by day, all patients at once.

:func:`simulate_course` warms a cohort up from amputation to chronic PLP,
records a baseline week, then runs the course: every day the therapy's
levers (arrays over patients, precomputed from the calendar) drive
:meth:`phantomlab.mechanisms.patient.Cohort.run`. Results are in silico.
"""

from __future__ import annotations

import copy
from collections.abc import Collection
from dataclasses import dataclass
from functools import lru_cache
from typing import TYPE_CHECKING, Any

import numpy as np
from numpy.typing import NDArray

from phantomlab._result import Result, as_figure
from phantomlab._rng import RNGLike, child_seeds
from phantomlab._validation import check_range, raise_if
from phantomlab.mechanisms.patient import Cohort, Levers, Trajectory
from phantomlab.protocols import ProtocolBase, require_safe
from phantomlab.therapies.base import CohortState, Therapy, to_levers
from phantomlab.therapies.registry import therapy_for

if TYPE_CHECKING:
    from matplotlib.figure import Figure

__all__ = ["CourseResult", "lever_table", "prepare_course", "simulate_course", "warm_cohort"]

Arr = NDArray[np.float64]


@lru_cache(maxsize=8)
def _warm(n: int, hypothesis: str, seed: int, days: int, ablate: tuple[str, ...] = ()) -> Cohort:
    c = Cohort(n, hypothesis=hypothesis, rng=seed, ablate=ablate)
    c.run(days, record=False)
    return c


def warm_cohort(n_patients: int, hypothesis: str = "reorganization", seed: int = 0,
                days: int = 365, ablate: Collection[str] = ()) -> Cohort:  # fmt: skip
    """Return a cohort advanced ``days`` days after amputation (copy of a cached run).

    Parameters
    ----------
    n_patients : int
        Patients.
    hypothesis : str
        Cortical hypothesis of the virtual patient.
    seed : int
        Cohort seed.
    days : int
        Days since amputation at the end of the warm-up.
    ablate : collection of str
        Mechanisms switched off (names of ``phantomlab.mechanisms.ABLATIONS``), for
        ablation tests of a therapy's claimed pathway; default none (the model).

    Returns
    -------
    Cohort
        A deep copy (safe to advance).
    """
    names = (ablate,) if isinstance(ablate, str) else tuple(sorted(ablate))
    return copy.deepcopy(_warm(int(n_patients), hypothesis, int(seed), int(days), names))


def prepare_course(
    protocol: ProtocolBase,
    cohort: Cohort,
    rng: RNGLike = None,
    therapy: Therapy | None = None,
    dose: dict[str, float] | None = None,
) -> tuple[Therapy, CohortState]:
    """Therapy and cohort state of a course starting today on an existing cohort.

    Parameters
    ----------
    protocol : ProtocolBase
        Any protocol.
    cohort : Cohort
        A virtual cohort (:class:`phantomlab.mechanisms.patient.Cohort`); the course
        starts on its current day.
    rng : int, SeedSequence, Generator or None
        Seed of the therapy draws.
    therapy : Therapy, optional
        Therapy object (default by modality).
    dose : dict, optional
        Dose overrides.

    Returns
    -------
    therapy : Therapy
        The therapy.
    state : CohortState
        Its state; then ``cohort.run(days, lambda d: therapy.apply(protocol, state, d))``.
    """
    th = therapy if therapy is not None else therapy_for(protocol)
    return th, th.prepare(protocol, cohort.n_patients, rng, cohort.day, dose)


def lever_table(
    therapy: Therapy, protocol: ProtocolBase, state: Any, days: range
) -> dict[str, Arr]:
    """Levers of every patient for a range of cohort days, shape ``(len(days), n)``.

    Parameters
    ----------
    therapy : Therapy
        The therapy.
    protocol : ProtocolBase
        Its protocol.
    state : CohortState
        Course state.
    days : range
        Cohort days.

    Returns
    -------
    dict of str to ndarray
        One array per lever.
    """
    therapy.check(protocol)
    rows = [therapy.lever_arrays(state, d) for d in days]
    return {k: np.stack([r[k] for r in rows]) for k in rows[0]}


@dataclass(frozen=True, repr=False)
class CourseResult(Result):
    """A simulated course (in silico).

    Attributes
    ----------
    protocol_name : str
        Name (or modality) of the protocol.
    modality : str
        Modality key.
    baseline : Trajectory
        The baseline week before the course.
    trajectory : Trajectory
        Daily read-outs from the first day of the course.
    enrolled : ndarray of bool, shape (n,)
        Patients meeting the enrolment criterion on the screening report.
    levers : dict of str to ndarray
        Levers per day and patient, shape ``(n_days, n)``.
    safety_note : str
        ``""`` if the protocol's safety verdict is valid; otherwise why it was
        simulated anyway (an explicit ``allow_unsafe`` reason, or a published
        reference protocol with a rule that cannot be assessed).
    """

    protocol_name: str
    modality: str
    baseline: Trajectory
    trajectory: Trajectory
    enrolled: NDArray[np.bool_]
    levers: dict[str, Arr]
    safety_note: str = ""

    @property
    def baseline_nrs(self) -> Arr:
        """Mean baseline NRS per patient (baseline week)."""
        return self.baseline.nrs.mean(axis=0).astype(float)

    def mean_pain(self) -> Arr:
        """Daily mean reported NRS over the enrolled patients, shape ``(n_days,)``."""
        return self.trajectory.nrs[:, self.enrolled].mean(axis=1).astype(float)

    def percent_change(self, day: int, window: int = 7) -> float:
        """Mean % change of NRS from baseline at a course day (enrolled patients).

        Parameters
        ----------
        day : int
            Day of the course (0 = first day); the window ends on this day.
        window : int
            Days averaged (a weekly pain rating).

        Returns
        -------
        float
            Mean over patients of ``100 (pain − baseline) / baseline``.
        """
        lo = max(day - window + 1, 0)
        post = self.trajectory.nrs[lo : day + 1, self.enrolled].mean(axis=0)
        base = np.maximum(self.baseline_nrs[self.enrolled], 0.5)
        return float(np.mean(100.0 * (post - base) / base))

    def responders(self, day: int, threshold: float = 30.0, window: int = 7) -> float:
        """Share of enrolled patients improving by ≥ ``threshold`` % at ``day``.

        Parameters
        ----------
        day : int
            Course day.
        threshold : float
            Improvement, %.
        window : int
            Days averaged.

        Returns
        -------
        float
            Share 0–1.
        """
        lo = max(day - window + 1, 0)
        post = self.trajectory.nrs[lo : day + 1, self.enrolled].mean(axis=0)
        base = np.maximum(self.baseline_nrs[self.enrolled], 0.5)
        return float(np.mean(100.0 * (base - post) / base >= threshold))

    def summary(self) -> str:
        """Text summary (in silico)."""
        n_days = self.trajectory.n_days
        days = [d for d in (7, 15, 30, 60, 90, 180) if d < n_days]
        lines = [
            f"Course of {self.protocol_name} ({self.modality}), in silico",
            f"patients enrolled: {int(self.enrolled.sum())} of {self.enrolled.size}; "
            f"baseline NRS {self.baseline_nrs[self.enrolled].mean():.2f}",
        ]
        if self.safety_note:
            lines.append(f"SAFETY: {self.safety_note}")
        for d in days:
            lines.append(
                f"  day {d:>3}: NRS change {self.percent_change(d):+6.1f}%   "
                f">=30% responders {100 * self.responders(d):5.1f}%"
            )
        return "\n".join(lines)

    def to_frame(self) -> Any:
        """Daily table: day, mean NRS, mean latent pain, % change (enrolled patients).

        Returns
        -------
        pandas.DataFrame
            One row per course day.
        """
        import pandas as pd

        e = self.enrolled
        base = np.maximum(self.baseline_nrs[e], 0.5)
        nrs = self.trajectory.nrs[:, e].astype(float)
        return pd.DataFrame(
            {
                "day": np.arange(self.trajectory.n_days),
                "mean_nrs": nrs.mean(axis=1),
                "mean_pain": self.trajectory.pain[:, e].mean(axis=1),
                "pct_change": (100.0 * (nrs - base) / base).mean(axis=1),
                "modality": self.modality,
                "protocol": self.protocol_name,
            }
        )

    def plot(self, ax: Any = None, label: str | None = None) -> Figure:
        """Plot the mean NRS trajectory (enrolled patients).

        Parameters
        ----------
        ax : matplotlib Axes, optional
            Where to draw.
        label : str, optional
            Legend label.

        Returns
        -------
        matplotlib.figure.Figure
            The figure drawn into.
        """
        if ax is None:
            from matplotlib.figure import Figure

            ax = Figure(figsize=(7, 3.5)).subplots()
        base = self.baseline_nrs[self.enrolled].mean()
        days = np.arange(-self.baseline.n_days, self.trajectory.n_days)
        y = np.concatenate([self.baseline.nrs[:, self.enrolled].mean(axis=1), self.mean_pain()])
        ax.plot(days, y, label=label or self.protocol_name)
        ax.axhline(base, color="0.7", lw=0.8, ls=":")
        ax.set_xlabel("day of course")
        ax.set_ylabel("mean NRS (in silico)")
        return as_figure(ax)


def simulate_course(
    protocol: ProtocolBase,
    *,
    n_patients: int = 200,
    days: int = 60,
    hypothesis: str = "reorganization",
    rng: RNGLike = 0,
    warmup_days: int = 365,
    baseline_days: int = 7,
    enrol_min_nrs: float | None = None,
    therapy: Therapy | None = None,
    dose: dict[str, float] | None = None,
    cohort_seed: int = 0,
    ablate: Collection[str] = (),
    allow_unsafe: str | None = None,
) -> CourseResult:
    """Simulate one course of ``protocol`` on a virtual cohort.

    A protocol whose safety verdict is not valid (a violated limit, or a rule that
    cannot be assessed) is refused unless ``allow_unsafe`` gives a reason
    (:func:`phantomlab.protocols.require_safe`); the reason is logged and kept in
    :attr:`CourseResult.safety_note`.

    Parameters
    ----------
    protocol : ProtocolBase
        Any protocol (its therapy is chosen by modality).
    n_patients : int
        Cohort size.
    days : int
        Days simulated from the first day of the course.
    hypothesis : {"reorganization", "persistence"}
        Cortical hypothesis of the virtual patient.
    rng : int, SeedSequence, Generator or None
        Seed of the therapy draws (lead position, expectation, responsiveness).
    warmup_days : int
        Days from amputation to the baseline week (chronic PLP).
    baseline_days : int
        Days of baseline before the course.
    enrol_min_nrs : float, optional
        Enrol only patients whose last baseline report is at least this (a noisy
        screening report; regression to the mean follows from it).
    therapy : Therapy, optional
        Therapy object (e.g. with parameter overrides); default by modality.
    dose : dict, optional
        Dose overrides passed to :meth:`Therapy.prepare`.
    cohort_seed : int
        Seed of the virtual cohort (the same patients for every protocol).
    ablate : collection of str
        Mechanisms of the virtual patient switched off (names of
        ``phantomlab.mechanisms.ABLATIONS``): an ablation test of the pathway a therapy
        is claimed to act through. Default none (the model).
    allow_unsafe : str, optional
        Reason to simulate a protocol that fails the safety check (logged, recorded).

    Returns
    -------
    CourseResult
        The simulated course.

    Raises
    ------
    ProtocolError
        If the protocol fails the safety check and no reason is given.
    """
    raise_if(
        check_range("n_patients", n_patients, low=1, high=100_000)
        + check_range("days", days, low=1, high=3650)
        + check_range("warmup_days", warmup_days, low=baseline_days + 1, high=36_500)
        + check_range("baseline_days", baseline_days, low=1, high=90)
    )
    th = therapy if therapy is not None else therapy_for(protocol)
    th.check(protocol)
    note = require_safe(protocol, allow_unsafe=allow_unsafe)
    cohort = warm_cohort(
        n_patients, hypothesis, cohort_seed, warmup_days - baseline_days, ablate=ablate
    )
    base = cohort.run(baseline_days)
    start = cohort.day
    (seed,) = child_seeds(rng, 1, advance=True)
    state = th.prepare(protocol, n_patients, seed, start, dose)
    table = lever_table(th, protocol, state, range(start, start + days))
    cache = [to_levers({k: v[i] for k, v in table.items()}) for i in range(days)]

    def sched(day: int) -> Levers:
        return cache[day - start]

    traj = cohort.run(days, sched)
    if enrol_min_nrs is None:
        enrolled = np.ones(n_patients, bool)
    else:
        enrolled = base.nrs[-1] >= enrol_min_nrs
    return CourseResult(
        protocol.name or protocol.modality_key(),
        protocol.modality_key(),
        base,
        traj,
        enrolled,
        table,
        note,
    )
