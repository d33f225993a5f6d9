"""Phantom motor execution: decoded phantom movements with congruent feedback.

Stump EMG is decoded into movements of a virtual/augmented limb that the
patient sees (Ortiz-Catalan; mechanisms.md §1.4): structured, congruent motor
training of the phantom's sensorimotor assembly, predicted to "disentangle"
it from the pain network by competitive plasticity. In the virtual patient
this is congruent ``visual_feedback`` plus ``motor_execution`` (executed, not
imagined, phantom movements, which speed congruence and cortical learning) on
session days; disentanglement emerges from the patient's entanglement state.
"""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np
from numpy.typing import NDArray

from phantomlab._params import Param
from phantomlab.protocols import ProtocolBase, load_protocol
from phantomlab.therapies._common import get_si
from phantomlab.therapies._params import tparam
from phantomlab.therapies.base import CohortState, Therapy, _sessions_from_schedule
from phantomlab.therapies.registry import register_therapy

__all__ = ["PMETherapy", "REFERENCE_PME"]

Arr = NDArray[np.float64]
_M = "pme"

#: Built-in protocol: 15 sessions (PME vs PMI RCT statistical analysis plan, Research
#: Square rs-798862; optim_bci.md), 2 h sessions (assumed), AR feedback.
REFERENCE_PME: dict[str, Any] = {
    "modality": "pme",
    "name": "pme_rct_sap",
    "feedback": "augmented_reality",
    "duration": "2 h",
    "schedule": {"sessions": 15, "per_week": 2},
    "notes": "15 sessions from the PME vs PMI RCT plan (rs-798862); duration and spacing assumed",
}

P: dict[str, Param] = {
    "session_ref": tparam(
        _M,
        "session_ref",
        7200.0,
        "s",
        (1800.0, 7200.0),
        "assumed",
        note="session length giving the full feedback signal; not read",
    ),
    "feedback": tparam(
        _M,
        "feedback",
        1.0,
        "1",
        (0.3, 1.0),
        "assumed",
        note="congruent feedback lever of a full AR/VR session; not read",
    ),
}


@register_therapy("pme")
class PMETherapy(Therapy):
    """Phantom motor execution training; see the module docstring."""

    reference = None
    curve_param = "sessions"
    curve_values = (0.0, 1.0, 5.0, 10.0, 15.0, 30.0)
    curve_unit = ("sessions", 1.0)
    dose_keys = ("duration", "sessions")
    PARAMS: ClassVar[dict[str, Param]] = P

    def reference_protocol(self) -> ProtocolBase:
        """Return the built-in PME protocol (:data:`REFERENCE_PME`)."""
        return load_protocol(REFERENCE_PME)

    def resolve(self, protocol: ProtocolBase) -> dict[str, float]:
        """Session duration (s) and sessions."""
        return {
            "duration": get_si(protocol, "duration", self.p("session_ref")),
            "sessions": _sessions_from_schedule(protocol, 15.0),
        }

    def specific(self, state: CohortState, t: int) -> dict[str, Arr]:
        """``visual_feedback`` and ``motor_execution`` on session days."""
        if not state.calendar.is_on(t):
            return {}
        v = self.p("feedback") * min(state.dose["duration"] / self.p("session_ref"), 1.0)
        n = state.n_patients
        return {"visual_feedback": np.full(n, v), "motor_execution": np.ones(n)}
