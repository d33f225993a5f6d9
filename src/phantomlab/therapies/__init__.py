"""Therapies: how a Protocol changes the virtual patient (the only bridge).

One module per modality (``scs``, ``drg``, ``pns``, ``dbs``, ``mcs``, ``rtms``,
``tdcs``, ``ti``, ``mirror``, ``bci``, ``pme``, ``sham``, ``combination``); each
defines a :class:`~phantomlab.therapies.base.Therapy`, registered for its protocol's
modality key with :func:`register_therapy`, whose
``apply(protocol, cohort_state, day)`` returns the
:class:`~phantomlab.mechanisms.patient.Levers` of every patient that day. Free
parameters are provenance records (:class:`phantomlab._params.Param`) with prior
ranges (:mod:`._params`).
See ``docs/therapies.md``.
"""

from phantomlab.therapies import (  # noqa: F401  (each module registers its therapy)
    bci,
    combination,
    dbs,
    drg,
    mcs,
    mirror,
    pme,
    pns,
    rtms,
    scs,
    sham,
    tdcs,
    ti,
)
from phantomlab.therapies._params import REGISTRY, model_card
from phantomlab.therapies.base import Calendar, CohortState, Therapy, combine_levers
from phantomlab.therapies.course import (
    CourseResult,
    lever_table,
    prepare_course,
    simulate_course,
    warm_cohort,
)
from phantomlab.therapies.curves import DoseResponse, dose_response
from phantomlab.therapies.registry import (
    THERAPIES,
    get_therapy,
    register_therapy,
    therapy_for,
    unregister_therapy,
)
from phantomlab.therapies.sham import sham_of

__all__ = [
    "REGISTRY",
    "THERAPIES",
    "Calendar",
    "CohortState",
    "CourseResult",
    "DoseResponse",
    "Therapy",
    "combine_levers",
    "dose_response",
    "get_therapy",
    "lever_table",
    "model_card",
    "prepare_course",
    "register_therapy",
    "sham_of",
    "simulate_course",
    "therapy_for",
    "unregister_therapy",
    "warm_cohort",
]
