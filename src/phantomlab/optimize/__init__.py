"""Individualized protocol optimization from noisy pain reports, explored safely.

* :class:`Policy` - what a session needs of a search policy (``ask``, ``tell``,
  ``recommend``); policies are registered by name (:func:`register_policy`).
* :class:`SafeBayesOptimizer` - the generic safe ask/tell core: Gaussian-process
  surrogate (scikit-learn, Matérn 5/2 + white noise; UCB or EI), a SafeOpt-style
  side-effect constraint and the ``protocols`` safety check on every suggestion.
* :class:`SCSProgramming` - the SCS programming policy on that core: safe
  amplitude titration, bipole switching by perception thresholds (Weiss
  strength-duration law) and a threshold-anchored discomfort prior.
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
  session simulation and baselines (:class:`PolicyAdapter` wraps a policy).

See ``docs/optimize.md``.
"""

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from phantomlab.optimize.perception import DiscomfortPrior
    from phantomlab.optimize.policy import (
        Policy,
        PolicySettings,
        SafetyCheck,
        Suggestion,
        make_policy,
        policy_names,
        register_policy,
        unregister_policy,
    )
    from phantomlab.optimize.response import (
        NRS_REPORT_SD,
        SCS_STANDIN_PARAMETERS,
        PatientResponse,
        Responses,
        VirtualSCSPopulation,
        bipole_thresholds,
    )
    from phantomlab.optimize.safegp import AcquisitionConfig, SafeBayesOptimizer, SafeSetConfig
    from phantomlab.optimize.safety import ProtocolSafety
    from phantomlab.optimize.scs import BipoleConfig, SCSProgramming, TitrationConfig
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
        SearchPolicy,
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
    from phantomlab.optimize.surrogate import SurrogateConfig
    from phantomlab.optimize.virtual import THERAPY_SCS_ASSUMPTIONS, TherapySCSPatients

#: Public name -> submodule that defines it. The submodules load on first use (PEP 562), so
#: that ``from phantomlab.optimize import OptimizationSession`` (the ``optimize suggest`` and
#: ``record`` commands) does not import the simulation and ranking stack (pandas, scipy.stats).
_LAZY: dict[str, str] = {
    "DiscomfortPrior": "perception",
    "Policy": "policy",
    "PolicySettings": "policy",
    "SafetyCheck": "policy",
    "Suggestion": "policy",
    "make_policy": "policy",
    "policy_names": "policy",
    "register_policy": "policy",
    "unregister_policy": "policy",
    "NRS_REPORT_SD": "response",
    "PatientResponse": "response",
    "Responses": "response",
    "SCS_STANDIN_PARAMETERS": "response",
    "VirtualSCSPopulation": "response",
    "bipole_thresholds": "response",
    "AcquisitionConfig": "safegp",
    "SafeBayesOptimizer": "safegp",
    "SafeSetConfig": "safegp",
    "ProtocolSafety": "safety",
    "BipoleConfig": "scs",
    "SCSProgramming": "scs",
    "TitrationConfig": "scs",
    "ModalityRanking": "select",
    "rank_modalities": "select",
    "OptimizationSession": "session",
    "RESPONDER_FRACTION": "session",
    "SessionConfig": "session",
    "SessionStatus": "session",
    "BestObserved": "simulate",
    "BestProtocols": "simulate",
    "GridSearch": "simulate",
    "PolicyAdapter": "simulate",
    "RandomSearch": "simulate",
    "SearchPolicy": "simulate",
    "SimulationResult": "simulate",
    "best_protocols": "simulate",
    "run_policies": "simulate",
    "Categorical": "space",
    "ParameterSpace": "space",
    "Real": "space",
    "default_space": "space",
    "known_modalities": "space",
    "ENV_VAR": "storage",
    "SessionStore": "storage",
    "default_url": "storage",
    "SurrogateConfig": "surrogate",
    "THERAPY_SCS_ASSUMPTIONS": "virtual",
    "TherapySCSPatients": "virtual",
}

__all__ = [
    "ENV_VAR",
    "NRS_REPORT_SD",
    "RESPONDER_FRACTION",
    "SCS_STANDIN_PARAMETERS",
    "THERAPY_SCS_ASSUMPTIONS",
    "AcquisitionConfig",
    "BestObserved",
    "BestProtocols",
    "BipoleConfig",
    "Categorical",
    "DiscomfortPrior",
    "GridSearch",
    "ModalityRanking",
    "OptimizationSession",
    "ParameterSpace",
    "PatientResponse",
    "Policy",
    "PolicyAdapter",
    "PolicySettings",
    "ProtocolSafety",
    "RandomSearch",
    "Real",
    "Responses",
    "SCSProgramming",
    "SafeBayesOptimizer",
    "SafeSetConfig",
    "SafetyCheck",
    "SearchPolicy",
    "SessionConfig",
    "SessionStatus",
    "SessionStore",
    "SimulationResult",
    "Suggestion",
    "SurrogateConfig",
    "TherapySCSPatients",
    "TitrationConfig",
    "VirtualSCSPopulation",
    "best_protocols",
    "bipole_thresholds",
    "default_space",
    "default_url",
    "known_modalities",
    "make_policy",
    "policy_names",
    "rank_modalities",
    "register_policy",
    "run_policies",
    "unregister_policy",
]


def __getattr__(name: str) -> Any:
    """Import the submodule that defines ``name`` on first use (PEP 562)."""
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{module}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
