"""Per-trial enrolment: a trial's inclusion criteria applied to the source population.

The source population (:class:`~phantomlab.cohorts.VirtualCohort`) holds every
amputee of the cohort spec, with and without phantom limb pain: whether a
patient has PLP, and how much, is the mechanistic model's own output (the
baseline week of the warmed-up virtual patient), never drawn separately.
A trial enrols by its own criteria (:class:`Inclusion`, the ``inclusion:``
block of a trial spec): screening NRS range, time since amputation, amputation
level, aetiology, age and prior treatment failure. :func:`eligible` is the
screening rule; :func:`phantomlab.cohorts.population.enrol_cohort` draws a
larger source population until the trial's N is filled, or says clearly that
the criteria cannot be met.

**Screening window.** ``screening: diary`` (default) screens on the mean of the
baseline week (a 7-day pain diary, ``CohortSpec.baseline_days``);
``screening: single`` screens on one screening report (the last day of the
baseline week). The trial's baseline is the same screening measure, so no
enrolled patient has a baseline below the trial's threshold.

**Prior treatment failure** (``conservative``, ``scs``) is recorded but does not
select: the virtual patient has no treatment history, and every patient with
pain at screening is taken to have failed the treatments tried so far
(``assumed``; stated in :meth:`Inclusion.unmodelled`).
"""

from __future__ import annotations

from typing import Literal, Protocol

import numpy as np
from numpy.typing import NDArray
from pydantic import BaseModel, ConfigDict, Field, model_validator

__all__ = [
    "CAUSES",
    "PLP_MIN_NRS",
    "Inclusion",
    "criteria_met",
    "eligible",
    "plp_prevalence",
    "screening_nrs",
]

#: Aetiologies of the cohort spec's ``cause`` distribution.
CAUSES = ("trauma", "vascular", "infection", "other")

#: A patient "has PLP" when the mean NRS of the baseline week is at least this
#: (assumed: surveys count any phantom pain; a weekly mean below 1/10 is read as none).
PLP_MIN_NRS = 1.0

Arr = NDArray[np.float64]


class _Screened(Protocol):
    """What screening reads from a population (:class:`~phantomlab.cohorts.VirtualPopulation`)."""

    @property
    def baseline_nrs(self) -> Arr: ...
    @property
    def screen_nrs(self) -> Arr: ...
    @property
    def years_since_amputation(self) -> Arr: ...
    @property
    def age(self) -> Arr: ...
    @property
    def level(self) -> NDArray[np.str_]: ...
    @property
    def cause(self) -> NDArray[np.str_]: ...


_CRITERIA = (
    "nrs_min",
    "nrs_max",
    "years_min",
    "years_max",
    "level",
    "causes",
    "prior_failure",
    "age_min",
    "age_max",
    "screening",
)


class Inclusion(BaseModel):
    """Inclusion criteria of a trial (the ``inclusion:`` block of a trial spec).

    Parameters
    ----------
    nrs_min, nrs_max : float
        Screening pain range on 0-10 (default 1-10: any PLP, ``PLP_MIN_NRS``).
    years_min, years_max : float, optional
        Time since amputation (years); ``years_max`` None: no upper limit.
    level : {"any", "upper", "lower"}
        Amputation level.
    causes : list of str
        Allowed aetiologies (``trauma``, ``vascular``, ``infection``, ``other``);
        empty: any.
    prior_failure : {"none", "conservative", "scs"}
        Prior treatment failure required (recorded, not selecting: see the module docstring).
    age_min, age_max : float
        Age range (years).
    screening : {"diary", "single"}
        Screening window: mean of the baseline week, or one screening report.
    sources : dict of str to str
        Where each criterion was read (criterion name -> citation and location),
        or ``"assumed: <why>"`` / ``"not seen"``.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    nrs_min: float = Field(PLP_MIN_NRS, ge=0, le=10)
    nrs_max: float = Field(10.0, ge=0, le=10)
    years_min: float = Field(0.0, ge=0, le=80)
    years_max: float | None = Field(None, gt=0, le=80)
    level: Literal["any", "upper", "lower"] = "any"
    causes: tuple[str, ...] = ()
    prior_failure: Literal["none", "conservative", "scs"] = "none"
    age_min: float = Field(18.0, ge=0, le=120)
    age_max: float = Field(120.0, ge=0, le=120)
    screening: Literal["diary", "single"] = "diary"
    sources: dict[str, str] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _consistent(self) -> Inclusion:
        if self.nrs_min > self.nrs_max:
            raise ValueError(f"nrs_min ({self.nrs_min}) exceeds nrs_max ({self.nrs_max})")
        if self.years_max is not None and self.years_min >= self.years_max:
            raise ValueError(f"years_min ({self.years_min}) not below years_max ({self.years_max})")
        if self.age_min > self.age_max:
            raise ValueError(f"age_min ({self.age_min}) exceeds age_max ({self.age_max})")
        bad = [c for c in self.causes if c not in CAUSES]
        if bad:
            raise ValueError(f"causes {bad} not among {list(CAUSES)}")
        unknown = [k for k in self.sources if k not in _CRITERIA]
        if unknown:
            raise ValueError(f"sources names {unknown}; criteria are {list(_CRITERIA)}")
        return self

    def unmodelled(self) -> list[str]:
        """Criteria recorded but not applied by :func:`eligible` (with the reason)."""
        if self.prior_failure == "none":
            return []
        return [
            f"prior_failure={self.prior_failure}: the virtual patient has no treatment "
            "history; every patient with pain at screening counts as a failure (assumed)"
        ]

    def describe(self) -> str:
        """One line: the criteria that select."""
        parts = [f"screening NRS {self.nrs_min:g}-{self.nrs_max:g} ({self.screening})"]
        if self.years_min > 0 or self.years_max is not None:
            hi = "" if self.years_max is None else f"{self.years_max:g}"
            parts.append(f"years since amputation {self.years_min:g}-{hi}")
        if self.level != "any":
            parts.append(f"{self.level} limb")
        if self.causes:
            parts.append("cause " + "/".join(self.causes))
        parts.append(f"age {self.age_min:g}-{self.age_max:g}")
        return "; ".join(parts)


def screening_nrs(pop: _Screened, inclusion: Inclusion) -> Arr:
    """Return the screening (= baseline) pain of every patient by the trial's window rule.

    Parameters
    ----------
    pop : VirtualPopulation
        Source population.
    inclusion : Inclusion
        Criteria (``screening`` picks the window).

    Returns
    -------
    ndarray, shape (n,)
        Mean of the baseline week (``diary``) or the screening report (``single``).
    """
    return np.asarray(pop.baseline_nrs if inclusion.screening == "diary" else pop.screen_nrs)


def criteria_met(pop: _Screened, inclusion: Inclusion) -> dict[str, NDArray[np.bool_]]:
    """Whether each patient meets each selecting criterion, criterion by criterion.

    The keys name the criteria as :class:`Inclusion` does (``nrs``, ``years``,
    ``age``, ``level``, ``causes``), so a refusal can say which one failed (the
    clinic's enrolment form does); :func:`eligible` is their conjunction.

    Parameters
    ----------
    pop : VirtualPopulation
        Source population, or any object with the same arrays (a participant
        entered by hand is a population of one).
    inclusion : Inclusion
        Criteria.

    Returns
    -------
    dict of str to ndarray of bool, shape (n,)
        One mask per criterion, in the order above.
    """
    s = screening_nrs(pop, inclusion)
    years = np.asarray(pop.years_since_amputation)
    age = np.asarray(pop.age)
    ok_years = years >= inclusion.years_min
    if inclusion.years_max is not None:
        ok_years &= years <= inclusion.years_max
    n = len(s)
    level = np.ones(n, bool)
    if inclusion.level != "any":
        level = np.asarray(pop.level) == inclusion.level
    causes = np.ones(n, bool)
    if inclusion.causes:
        causes = np.isin(np.asarray(pop.cause), list(inclusion.causes))
    return {
        "nrs": np.asarray((s >= inclusion.nrs_min) & (s <= inclusion.nrs_max), bool),
        "years": np.asarray(ok_years, bool),
        "age": np.asarray((age >= inclusion.age_min) & (age <= inclusion.age_max), bool),
        "level": np.asarray(level, bool),
        "causes": np.asarray(causes, bool),
    }


def eligible(pop: _Screened, inclusion: Inclusion) -> NDArray[np.bool_]:
    """Who in the source population meets the trial's inclusion criteria.

    Parameters
    ----------
    pop : VirtualPopulation
        Source population.
    inclusion : Inclusion
        Criteria.

    Returns
    -------
    ndarray of bool, shape (n,)
        Eligible patients (every mask of :func:`criteria_met`).
    """
    masks = list(criteria_met(pop, inclusion).values())
    return np.asarray(np.logical_and.reduce(masks), bool)


def plp_prevalence(pop: _Screened, by: NDArray[np.generic] | None = None) -> dict[str, float]:
    """Share of the source population with PLP (baseline-week mean NRS >= ``PLP_MIN_NRS``).

    Parameters
    ----------
    pop : VirtualPopulation
        Source population.
    by : ndarray, shape (n,), optional
        Group labels (e.g. ``pop.stratum`` or ``pop.level``); default: everyone.

    Returns
    -------
    dict of str to float
        Prevalence per group (``"all"`` without ``by``).
    """
    has = np.asarray(pop.baseline_nrs) >= PLP_MIN_NRS
    if by is None:
        return {"all": float(has.mean())}
    lab = np.asarray(by)
    return {str(k): float(has[lab == k].mean()) for k in np.unique(lab)}
