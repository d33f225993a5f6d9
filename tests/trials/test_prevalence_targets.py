"""The cohort block's targets: PLP prevalence of the source population by stratum.

Issue #15: ``ectopia_gain`` sets the source population's PLP prevalence, so the posterior's
cohort block is fitted to the published prevalence in each stratum of time since
amputation (``PREVALENCE_TARGETS``), not to the trial arms.
"""

from __future__ import annotations

import numpy as np

from phantomlab.cohorts import VirtualCohort, default_cohort_spec, plp_prevalence
from phantomlab.trials.posterior import PoolCache
from phantomlab.trials.targets import PREVALENCE_TARGETS


def test_one_target_per_stratum_of_the_packaged_cohort() -> None:
    assert [t.stratum for t in PREVALENCE_TARGETS] == list(range(default_cohort_spec().strata))
    assert all(45.0 <= t.value <= 85.0 and t.se > 0 for t in PREVALENCE_TARGETS)
    assert abs(sum(t.weight for t in PREVALENCE_TARGETS) - 1.0) < 1e-12  # one source
    assert all("PMC7556495" in t.source for t in PREVALENCE_TARGETS)


def test_pool_prevalence_is_the_population_prevalence_and_follows_ectopia_gain() -> None:
    """The simulated statistic is plp_prevalence of the pool (percent, per stratum), and it
    rises with ectopia_gain (what the cohort block fits)."""
    cache = PoolCache(60, 5)
    lo = default_cohort_spec().with_values(ectopia_gain=0.3)
    hi = default_cohort_spec().with_values(ectopia_gain=1.05)
    got = cache.prevalence(hi, PREVALENCE_TARGETS)
    pop = VirtualCohort(hi, 60, np.random.SeedSequence(5)).population
    want = plp_prevalence(pop, pop.stratum)
    assert np.allclose(got, [100.0 * want[str(t.stratum)] for t in PREVALENCE_TARGETS])
    assert np.mean(cache.prevalence(lo, PREVALENCE_TARGETS)) < np.mean(got)
