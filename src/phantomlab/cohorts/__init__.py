"""Virtual PLP populations: documented distributions, sampling, calibrated values.

* :mod:`~phantomlab.cohorts.distributions` -- provenanced, vectorized distributions;
* :mod:`~phantomlab.cohorts.spec` -- :class:`CohortSpec` (YAML), the default population;
* :mod:`~phantomlab.cohorts.enrolment` -- per-trial inclusion criteria, screening;
* :mod:`~phantomlab.cohorts.population` -- sampling, warm-up strata, courses on a cohort;
* :mod:`~phantomlab.cohorts.calibrated` -- the stored calibration (versioned JSON).

See ``docs/cohorts.md``. Results are in silico.
"""

from phantomlab.cohorts.calibrated import (
    CALIBRATION_VERSION,
    calibrated_cohort_spec,
    calibrated_params,
    calibration_path,
    default_calibration_output,
    load_calibration,
    write_calibration,
)
from phantomlab.cohorts.distributions import Bernoulli, Categorical, LogNormal, Normal, Uniform
from phantomlab.cohorts.enrolment import (
    PLP_MIN_NRS,
    Inclusion,
    criteria_met,
    eligible,
    plp_prevalence,
    screening_nrs,
)
from phantomlab.cohorts.population import (
    ArmCourse,
    VirtualCohort,
    VirtualPopulation,
    enrol_cohort,
    sample_population,
    therapy_params,
)
from phantomlab.cohorts.spec import (
    CohortSpec,
    cohort_spec_schema,
    default_cohort_spec,
    load_cohort_spec,
)

__all__ = [
    "CALIBRATION_VERSION",
    "PLP_MIN_NRS",
    "ArmCourse",
    "Bernoulli",
    "Categorical",
    "CohortSpec",
    "Inclusion",
    "LogNormal",
    "Normal",
    "Uniform",
    "VirtualCohort",
    "VirtualPopulation",
    "calibrated_cohort_spec",
    "calibrated_params",
    "calibration_path",
    "default_calibration_output",
    "cohort_spec_schema",
    "criteria_met",
    "default_cohort_spec",
    "eligible",
    "enrol_cohort",
    "load_calibration",
    "write_calibration",
    "load_cohort_spec",
    "plp_prevalence",
    "sample_population",
    "screening_nrs",
    "therapy_params",
]
