"""Sample a virtual population from a :class:`CohortSpec` and run courses on it.

:func:`sample_population` draws every patient characteristic of a spec at once
(vectorized, explicit seed). Time since amputation is simulated at
``spec.strata`` representative durations (midpoints of equal-probability bins
of its distribution, capped at ``max_warmup_years``); every stratum is one
:class:`phantomlab.mechanisms.patient.Cohort` warmed up from amputation, then a
baseline week is recorded. :class:`VirtualCohort` keeps the warmed strata (a
process-wide cache keyed by the seeds, so every arm and every parameter set of
a calibration sees the same patients: common random numbers) and runs a course
of any protocol on a copy: :meth:`VirtualCohort.run_course`.

Psychological traits are the virtual patient's own (z-scores, correlated,
:mod:`phantomlab.mechanisms.psyche`); HADS cases are the upper tail at the
spec's prevalence. Stump pain goes to the patients with the highest neuroma
rate at the spec's prevalence. Results are in silico.
"""

from __future__ import annotations

import copy
from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
from numpy.typing import NDArray
from scipy.special import ndtri

from phantomlab._result import Result, as_figure, new_axes
from phantomlab._rng import RNGLike, as_generator, child_seeds
from phantomlab._validation import check_range, raise_if
from phantomlab.cohorts.enrolment import (
    PLP_MIN_NRS,
    Inclusion,
    eligible,
    plp_prevalence,
    screening_nrs,
)
from phantomlab.cohorts.spec import CohortSpec
from phantomlab.exceptions import InputError, Problem
from phantomlab.mechanisms.patient import Cohort, Levers, Trajectory
from phantomlab.protocols import ProtocolBase
from phantomlab.therapies import combine_levers, get_therapy, lever_table
from phantomlab.therapies.base import to_levers

if TYPE_CHECKING:
    from matplotlib.figure import Figure

__all__ = [
    "ArmCourse",
    "VirtualCohort",
    "VirtualPopulation",
    "enrol_cohort",
    "sample_population",
    "therapy_params",
]

Arr = NDArray[np.float64]
_SHARED = ("placebo", "m1")
_CACHE: OrderedDict[tuple[Any, ...], tuple[Cohort, Trajectory]] = OrderedDict()
_CACHE_SIZE = 256
#: Source-population size at which no eligible patient means the criteria are out of reach.
PROBE_POOL = 2000


def therapy_params(modality: str, params: Mapping[str, float] | None) -> dict[str, float]:
    """Return the overrides of one therapy from a flat ``{"module.name": value}`` mapping.

    Parameters
    ----------
    modality : str
        Therapy modality key (``"rtms"``, ...).
    params : mapping or None
        Calibrated values keyed ``"module.name"``; ``cohort.*`` keys are ignored.

    Returns
    -------
    dict
        Short names for the modality's own records, full keys for shared records
        (``placebo.*``, ``m1.*``).
    """
    out: dict[str, float] = {}
    for key, v in (params or {}).items():
        mod, _, name = key.partition(".")
        if mod == modality:
            out[name] = float(v)
        elif mod in _SHARED:
            out[key] = float(v)
    return out


@dataclass(frozen=True, repr=False)
class VirtualPopulation(Result):
    """Characteristics of every virtual patient (arrays of shape ``(n,)``).

    Attributes
    ----------
    age, years_since_amputation, catastrophizing, anxiety, depression : ndarray
        Age (years), time since amputation (years, as drawn), traits (z).
    level, side, cause : ndarray of str
        Covariates.
    stratum : ndarray of int
        Warm-up stratum.
    stratum_days : tuple of int
        Simulated days since amputation (at the start of the baseline week) per stratum.
    stump_pain, anxiety_case, depression_case : ndarray of bool
        Derived flags.
    baseline_nrs : ndarray
        Mean NRS of the baseline week.
    screen_nrs : ndarray
        Last baseline report (the screening report).
    enrolled : ndarray of bool
        Meets the inclusion criteria the cohort was screened with
        (:class:`~phantomlab.cohorts.enrolment.Inclusion`; default: any PLP).
    """

    age: Arr
    level: NDArray[np.str_]
    side: NDArray[np.str_]
    cause: NDArray[np.str_]
    years_since_amputation: Arr
    stratum: NDArray[np.int64]
    stratum_days: tuple[int, ...]
    stump_pain: NDArray[np.bool_]
    catastrophizing: Arr
    anxiety: Arr
    depression: Arr
    anxiety_case: NDArray[np.bool_]
    depression_case: NDArray[np.bool_]
    baseline_nrs: Arr
    screen_nrs: Arr
    enrolled: NDArray[np.bool_]

    @property
    def n_patients(self) -> int:
        """Number of patients."""
        return int(self.age.size)

    def to_frame(self) -> pd.DataFrame:
        """One row per patient.

        Returns
        -------
        pandas.DataFrame
            Every attribute as a column (``stratum_days`` mapped per patient).
        """
        d = {k: getattr(self, k) for k in self.__dataclass_fields__ if k != "stratum_days"}
        d["simulated_days_since_amputation"] = np.asarray(self.stratum_days)[self.stratum]
        return pd.DataFrame(d)

    def summary(self) -> str:
        """Text summary (in silico)."""
        e = self.enrolled
        lines = [
            f"Virtual PLP population (in silico): {self.n_patients} patients, "
            f"{int(e.sum())} enrolled ({100 * e.mean():.0f}%)",
            f"age {self.age.mean():.1f} (SD {self.age.std():.1f}); "
            f"lower limb {100 * np.mean(self.level == 'lower'):.0f}%; "
            f"trauma {100 * np.mean(self.cause == 'trauma'):.0f}%",
            f"years since amputation: median {np.median(self.years_since_amputation):.1f}; "
            f"simulated at {', '.join(f'{d / 365:.1f}' for d in self.stratum_days)} y",
            f"stump pain {100 * self.stump_pain.mean():.0f}%; "
            f"HADS-A>=8 {100 * self.anxiety_case.mean():.0f}%; "
            f"HADS-D>=8 {100 * self.depression_case.mean():.0f}%",
            f"baseline NRS: all {self.baseline_nrs.mean():.2f}, enrolled "
            f"{self.baseline_nrs[e].mean() if e.any() else float('nan'):.2f}; "
            f"with PLP (mean NRS >= {PLP_MIN_NRS:g}) "
            f"{100 * np.mean(self.baseline_nrs >= PLP_MIN_NRS):.0f}%",
            "PLP by simulated years since amputation: "
            + ", ".join(
                f"{self.stratum_days[int(k)] / 365:.1f} y {100 * v:.0f}%"
                for k, v in plp_prevalence(self, self.stratum).items()
            ),
        ]
        return "\n".join(lines)

    def plot(self, ax: Any = None) -> Figure:
        """Histogram of the baseline NRS, all patients and the enrolled ones.

        Parameters
        ----------
        ax : matplotlib Axes, optional
            Axes to draw into (default: a new Figure).

        Returns
        -------
        matplotlib.figure.Figure
            The figure drawn into.
        """
        ax = new_axes(ax)
        bins = np.linspace(0.0, 10.0, 21)
        ax.hist(self.baseline_nrs, bins=bins, alpha=0.5, label="all")
        ax.hist(self.baseline_nrs[self.enrolled], bins=bins, alpha=0.5, label="enrolled")
        ax.set(xlabel="baseline NRS (in silico)", ylabel="patients")
        ax.legend(fontsize=8)
        return as_figure(ax)


@dataclass(frozen=True)
class ArmCourse:
    """One course simulated on a virtual cohort (in silico).

    Attributes
    ----------
    protocol_name : str
        Protocol name.
    baseline : ndarray, shape (n,)
        Baseline NRS: the screening measure of the inclusion criteria (mean of the
        baseline week, or the single screening report).
    nrs : ndarray, shape (days, n)
        Daily NRS reports from the first day of the course.
    enrolled : ndarray of bool, shape (n,)
        Enrolment by the trial's inclusion criteria.
    """

    protocol_name: str
    baseline: Arr
    nrs: NDArray[np.int64]
    enrolled: NDArray[np.bool_]

    def post(self, day: int, window: int = 7) -> Arr:
        """Mean NRS per patient over the ``window`` days ending on course ``day``.

        Parameters
        ----------
        day : int
            Course day (0 = first day); clipped to the simulated days.
        window : int
            Days averaged.

        Returns
        -------
        ndarray, shape (n,)
            Post-treatment NRS.
        """
        d = min(int(day), self.nrs.shape[0] - 1)
        lo = max(d - int(window) + 1, 0)
        return self.nrs[lo : d + 1].mean(axis=0).astype(float)


def _strata_days(spec: CohortSpec) -> tuple[int, ...]:
    k = spec.strata
    q = (np.arange(k) + 0.5) / k
    years = np.asarray(spec.years_since_amputation.quantile(q))  # type: ignore[union-attr]
    cap = spec.max_warmup_years.value
    days = np.maximum(np.round(np.minimum(years, cap) * 365.0), spec.baseline_days + 1)
    return tuple(int(x) for x in days)


def _warm(
    n: int, hypothesis: str, seed: np.random.SeedSequence, days: int, gain: float, base_days: int
) -> tuple[Cohort, Trajectory]:
    key = (n, hypothesis, seed.entropy, tuple(seed.spawn_key), days, float(gain), base_days)
    hit = _CACHE.get(key)
    if hit is None:
        c = Cohort(n, hypothesis=hypothesis, rng=seed, ectopia_gain=float(gain))
        c.run(days - base_days, record=False)
        base = c.run(base_days)
        hit = (c, base)
        _CACHE[key] = hit
        while len(_CACHE) > _CACHE_SIZE:
            _CACHE.popitem(last=False)
    else:
        _CACHE.move_to_end(key)
    return copy.deepcopy(hit[0]), hit[1]


class VirtualCohort:
    """A sampled population with its warmed-up virtual patients, ready for courses.

    Parameters
    ----------
    spec : CohortSpec
        The population.
    n_patients : int
        Patients (1-200,000).
    seed : int, SeedSequence, Generator or None
        Seed; the same seed gives the same patients (bits) every time.
    inclusion : Inclusion, optional
        Enrolment criteria (default ``Inclusion()``: any PLP on the baseline-week mean);
        they select ``population.enrolled`` and the baseline of every course, and
        change nothing else (the source population is the same for every trial).
    """

    def __init__(
        self,
        spec: CohortSpec,
        n_patients: int,
        seed: RNGLike = 0,
        inclusion: Inclusion | None = None,
    ) -> None:
        raise_if(check_range("n_patients", n_patients, low=1, high=200_000))
        self.spec = spec
        self.inclusion = inclusion if inclusion is not None else Inclusion()
        n = int(n_patients)
        s_cov, s_strata = child_seeds(seed, 2)
        g = as_generator(s_cov)
        years = np.asarray(spec.years_since_amputation.sample(n, g), float)
        k = spec.strata
        # equal-probability bins of the distribution: stratum = bin of the patient's draw
        edges = np.asarray(spec.years_since_amputation.quantile(np.arange(1, k) / k))  # type: ignore[union-attr]
        stratum = np.searchsorted(edges, years, side="right").astype(np.int64)
        persist = g.random(n) < spec.persistence_share.value
        order = np.lexsort((persist, stratum))  # patients grouped by (stratum, hypothesis)
        years, stratum, persist = years[order], stratum[order], persist[order]
        age = np.asarray(spec.age_years.sample(n, g), float)
        level = np.asarray(spec.level.sample(n, g), str)
        side = np.asarray(spec.side.sample(n, g), str)
        cause = np.asarray(spec.cause.sample(n, g), str)
        self.stratum_days = _strata_days(spec)
        groups = [(s, h) for s in range(k) for h in (False, True)]
        seeds = child_seeds(s_strata, len(groups))
        self._groups: list[tuple[slice, Cohort]] = []
        bases, traits, neuroma = [], [], []
        start = 0
        for (s, h), sd in zip(groups, seeds, strict=True):
            m = int(np.sum((stratum == s) & (persist == h)))
            if m == 0:
                continue
            c, base = _warm(
                m,
                "persistence" if h else "reorganization",
                sd,
                self.stratum_days[s],
                spec.ectopia_gain.value,
                spec.baseline_days,
            )
            self._groups.append((slice(start, start + m), c))
            bases.append(base.nrs.astype(float))
            traits.append(c.traits)
            neuroma.append(c.parameters()["neuroma_rate"])
            start += m
        nrs = np.concatenate(bases, axis=1)
        tr = np.concatenate(traits)
        neu = np.concatenate(neuroma)
        z_a = float(ndtri(1.0 - spec.anxiety_case_share.value))
        z_d = float(ndtri(1.0 - spec.depression_case_share.value))
        n_stump = int(round(spec.stump_pain.p * n))
        stump = np.zeros(n, bool)
        if n_stump > 0:
            stump[np.argsort(-neu, kind="stable")[:n_stump]] = True
        screen = nrs[-1]
        self.population = VirtualPopulation(
            years_since_amputation=years,
            stratum=stratum,
            stratum_days=self.stratum_days,
            stump_pain=stump,
            catastrophizing=tr[:, 0],
            anxiety=tr[:, 1],
            depression=tr[:, 2],
            anxiety_case=tr[:, 1] > z_a,
            depression_case=tr[:, 2] > z_d,
            baseline_nrs=nrs.mean(axis=0),
            screen_nrs=screen,
            enrolled=np.zeros(n, bool),
            age=age,
            level=level,
            side=side,
            cause=cause,
        )
        self.population = replace(
            self.population, enrolled=eligible(self.population, self.inclusion)
        )

    @property
    def n_patients(self) -> int:
        """Number of patients."""
        return self.population.n_patients

    @property
    def groups(self) -> tuple[tuple[slice, Cohort], ...]:
        """The warmed-up strata: ``(patients' slice, their Cohort)`` in patient order.

        The Cohorts are the cohort's own state (deep-copy one before running it).
        """
        return tuple(self._groups)

    def run_course(
        self,
        protocol: ProtocolBase,
        days: int,
        params: Mapping[str, float] | None = None,
        seed: RNGLike = 0,
    ) -> ArmCourse:
        """Simulate ``days`` days of a course of ``protocol`` on every patient.

        Parameters
        ----------
        protocol : ProtocolBase
            Any protocol (active, sham or combination).
        days : int
            Course days simulated (1-3650).
        params : mapping, optional
            Therapy parameters keyed ``"module.name"`` (e.g. a calibration);
            components of a combination receive their own module's values.
        seed : int, SeedSequence, Generator or None
            Seed of the therapy draws (expectation, responsiveness, lead position).

        Returns
        -------
        ArmCourse
            Baseline, daily NRS and enrolment of every patient.
        """
        raise_if(check_range("days", days, low=1, high=3650))
        days = int(days)
        parts = []
        seeds = child_seeds(seed, len(self._groups))
        for (_sl, warm), sd in zip(self._groups, seeds, strict=True):
            c = copy.deepcopy(warm)
            table = _levers(protocol, c.n_patients, sd, c.day, days, params)
            cache = [to_levers({k: v[i] for k, v in table.items()}) for i in range(days)]
            start = c.day

            def sched(d: int, cache: list[Levers] = cache, start: int = start) -> Levers:
                return cache[d - start]

            traj = c.run(days, sched)
            parts.append(traj.nrs)
        pop = self.population
        return ArmCourse(
            protocol.name or protocol.modality_key(),
            screening_nrs(pop, self.inclusion),
            np.concatenate(parts, axis=1),
            pop.enrolled,
        )


def _levers(
    protocol: ProtocolBase,
    n: int,
    seed: np.random.SeedSequence,
    start: int,
    days: int,
    params: Mapping[str, float] | None,
) -> dict[str, Arr]:
    """Lever table ``(days, n)`` of a course, with calibrated parameters."""
    mod = protocol.modality_key()
    th = get_therapy(mod, therapy_params(mod, params))
    if mod != "combination":
        st = th.prepare(protocol, n, seed, start)
        return lever_table(th, protocol, st, range(start, start + days))
    # a combination: each component with its own module's parameters, one expectation
    s_main, s_comp = child_seeds(seed, 2)
    st = th.prepare(protocol, n, s_main, start)
    g = as_generator(s_comp)
    comps = []
    for comp in protocol.components:  # type: ignore[attr-defined]
        cm = comp.modality_key()
        cth = get_therapy(cm, therapy_params(cm, params))
        comps.append((cth, cth.prepare(comp, n, g, start)))
    rows = []
    for d in range(start, start + days):
        t = d - start
        spec = combine_levers([cth.specific(cst, t) for cth, cst in comps], n)
        spec.pop("expectation")
        rows.append(combine_levers([spec, {"expectation": th.expectation(st, t)}], n))
    return {k: np.stack([r[k] for r in rows]) for k in rows[0]}


def sample_population(spec: CohortSpec, n_patients: int, seed: RNGLike = 0) -> VirtualPopulation:
    """Sample (and warm up) a virtual population; see :class:`VirtualCohort`.

    Parameters
    ----------
    spec : CohortSpec
        The population.
    n_patients : int
        Patients.
    seed : int, SeedSequence, Generator or None
        Seed.

    Returns
    -------
    VirtualPopulation
        Characteristics, baseline and enrolment of every patient.
    """
    return VirtualCohort(spec, n_patients, seed).population


def enrol_cohort(
    spec: CohortSpec,
    inclusion: Inclusion,
    n_needed: int,
    pool: int,
    seed: RNGLike = 0,
    max_pool: int = 20_000,
) -> VirtualCohort:
    """Screen a source population for a trial, drawing a larger one until N is filled.

    The source population of ``pool`` patients is screened with ``inclusion``;
    if fewer than ``n_needed`` are eligible, a larger population is drawn (same
    seed; the size scaled by the observed eligibility rate, 25 % margin, at
    least doubled) until enough are, up to ``max_pool`` patients. When nobody
    is eligible among ``PROBE_POOL`` (2000) patients, or the projected size
    exceeds ``max_pool``, the criteria are reported as out of reach at once.

    Parameters
    ----------
    spec : CohortSpec
        The source population.
    inclusion : Inclusion
        The trial's criteria.
    n_needed : int
        Eligible patients needed (at least 1).
    pool : int
        First source-population size.
    seed : int, SeedSequence, Generator or None
        Seed of the source population.
    max_pool : int
        Largest source population drawn.

    Returns
    -------
    VirtualCohort
        Screened cohort; ``population.enrolled`` marks the eligible patients.

    Raises
    ------
    InputError
        If the criteria leave fewer than ``n_needed`` eligible among ``max_pool`` patients.
    """
    raise_if(check_range("n_needed", n_needed, low=1, high=max_pool))
    size = int(min(max(pool, 1), max_pool))
    while True:
        vc = VirtualCohort(spec, size, seed, inclusion)
        k = int(vc.population.enrolled.sum())
        if k >= n_needed:
            return vc
        # the size that gives n_needed at the observed rate; none eligible among
        # PROBE_POOL patients: the criteria are out of reach
        if k == 0:
            need = PROBE_POOL if size < PROBE_POOL else max_pool + 1
        else:
            need = int(np.ceil(n_needed * size / k))
        if need > max_pool or size >= max_pool:
            raise InputError(
                Problem(
                    "inclusion",
                    inclusion.describe(),
                    f"criteria that {n_needed} of at most {max_pool} source patients meet",
                    "",
                    f"only {k} of {size} virtual amputees are eligible; widen the criteria",
                )
            )
        size = int(min(max_pool, max(2 * size, np.ceil(1.25 * need))))
