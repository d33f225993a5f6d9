"""Individualized protocol optimization from noisy pain reports, explored safely.

* :class:`BayesOptimizer` - ask/tell Gaussian-process optimizer (scikit-learn,
  Matérn 5/2 + white noise; UCB or EI) with a SafeOpt-style side-effect
  constraint and the ``protocols`` safety check on every suggestion.
* :class:`ParameterSpace`, :func:`default_space` - a modality's searched
  parameters (continuous, log-scaled, categorical such as contacts).
* :class:`OptimizationSession` - persistent per-patient sessions (SQLite or any
  SQLAlchemy database), append-only and safe against crashes and concurrent writers.
* :class:`PatientResponse` - the pluggable objective for benchmarks:
  :class:`TherapySCSPatients` (the therapies layer's virtual SCS patients on the
  calibrated cohort) or :class:`VirtualSCSPopulation` (documented stand-in
  response surfaces).
* :func:`rank_modalities` - rank modalities for a new patient on similar
  calibrated virtual patients (digital-twin style, bootstrap intervals).
* :func:`run_policies`, :class:`GridSearch`, :class:`RandomSearch` - session-by-
  session simulation and baselines.

See ``docs/optimize.md``.
"""

from phantomlab.optimize.optimizer import BayesOptimizer, SafetyCheck, Suggestion
from phantomlab.optimize.response import (
    NRS_REPORT_SD,
    SCS_STANDIN_PARAMETERS,
    ModelParameter,
    PatientResponse,
    Responses,
    VirtualSCSPopulation,
    bipole_thresholds,
)
from phantomlab.optimize.safety import ProtocolSafety
from phantomlab.optimize.select import ModalityRanking, rank_modalities
from phantomlab.optimize.session import (
    RESPONDER_FRACTION,
    OptimizationSession,
    SessionConfig,
    SessionStatus,
)
from phantomlab.optimize.simulate import (
    BestObserved,
    BestProtocols,
    GridSearch,
    PolicyAdapter,
    RandomSearch,
    SimulationResult,
    best_protocols,
    run_policies,
)
from phantomlab.optimize.space import (
    Categorical,
    ParameterSpace,
    Real,
    default_space,
    known_modalities,
)
from phantomlab.optimize.storage import ENV_VAR, SessionStore, default_url
from phantomlab.optimize.virtual import THERAPY_SCS_ASSUMPTIONS, TherapySCSPatients

__all__ = [
    "ENV_VAR",
    "NRS_REPORT_SD",
    "RESPONDER_FRACTION",
    "SCS_STANDIN_PARAMETERS",
    "THERAPY_SCS_ASSUMPTIONS",
    "BayesOptimizer",
    "BestObserved",
    "BestProtocols",
    "Categorical",
    "GridSearch",
    "ModalityRanking",
    "ModelParameter",
    "OptimizationSession",
    "ParameterSpace",
    "PatientResponse",
    "PolicyAdapter",
    "ProtocolSafety",
    "RandomSearch",
    "Real",
    "Responses",
    "SafetyCheck",
    "SessionConfig",
    "SessionStatus",
    "SessionStore",
    "SimulationResult",
    "Suggestion",
    "TherapySCSPatients",
    "VirtualSCSPopulation",
    "best_protocols",
    "bipole_thresholds",
    "default_space",
    "default_url",
    "known_modalities",
    "rank_modalities",
    "run_policies",
]
