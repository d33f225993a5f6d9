"""Virtual populations: reproducibility, derived flags, courses on the cohort."""

from __future__ import annotations

import numpy as np
import pytest

from phantomlab.cohorts import CohortSpec, VirtualCohort, default_cohort_spec, therapy_params
from phantomlab.cohorts.spec import Provenanced
from phantomlab.protocols import get_reference


def fast_spec() -> CohortSpec:
    """Default population with a 1-year warm-up cap (fast tests)."""
    return default_cohort_spec().model_copy(
        update={"max_warmup_years": Provenanced(value=1.0, kind="assumed", note="fast tests")}
    )


@pytest.fixture(scope="module")
def vc() -> VirtualCohort:
    return VirtualCohort(fast_spec(), 90, seed=11)


def test_same_seed_same_bits(vc: VirtualCohort) -> None:
    other = VirtualCohort(fast_spec(), 90, seed=11)
    a, b = vc.population.to_frame(), other.population.to_frame()
    assert a.equals(b)
    c = VirtualCohort(fast_spec(), 90, seed=12).population
    assert not np.array_equal(c.baseline_nrs, vc.population.baseline_nrs)


def test_strata_at_quantile_midpoints(vc: VirtualCohort) -> None:
    spec = fast_spec()
    years = spec.years_since_amputation.quantile(np.array([1 / 6, 0.5, 5 / 6]))
    expect = np.round(np.minimum(years, spec.max_warmup_years.value) * 365)
    assert vc.stratum_days == tuple(int(x) for x in expect)
    pop = vc.population
    # a patient's stratum is the equal-probability bin of its own time since amputation
    edges = spec.years_since_amputation.quantile(np.array([1 / 3, 2 / 3]))
    assert np.array_equal(pop.stratum, np.searchsorted(edges, pop.years_since_amputation, "right"))


def test_derived_flags(vc: VirtualCohort) -> None:
    spec = default_cohort_spec()
    pop = vc.population
    assert pop.stump_pain.sum() == round(spec.stump_pain.p * pop.n_patients)
    from scipy.special import ndtri

    assert np.array_equal(pop.anxiety_case, pop.anxiety > ndtri(1 - 0.34))
    # default inclusion: any PLP on the mean of the baseline week
    assert np.array_equal(pop.enrolled, pop.baseline_nrs >= 1.0)
    assert "in silico" in pop.summary()


def test_course_reproducible_and_active_beats_sham(vc: VirtualCohort) -> None:
    act, sham = get_reference("malavera2016_active"), get_reference("malavera2016_sham")
    a1 = vc.run_course(act, 16, seed=5)
    a2 = vc.run_course(act, 16, seed=5)
    assert np.array_equal(a1.nrs, a2.nrs)
    s = vc.run_course(sham, 16, seed=5)
    e = a1.enrolled
    assert a1.nrs.shape == (16, 90)
    # same patients, same expectation draws: specific rTMS effect lowers pain on average
    assert a1.post(15)[e].mean() < s.post(15)[e].mean()


def test_therapy_params_routing() -> None:
    p = {"rtms.tau": 9.0, "placebo.expectation_mean": 0.5, "tdcs.tau": 3.0, "cohort.x": 1.0}
    assert therapy_params("rtms", p) == {"tau": 9.0, "placebo.expectation_mean": 0.5}
