"""A toy modality defined in the tests: one protocol class, one therapy class, data rows.

Vibrotactile stimulation of the residual limb (a vibrating contact: amplitude,
frequency, duration) is the worked example of ``docs/protocols.md`` and
``docs/therapies.md`` ("Adding a modality"). Every number below is **assumed** for the
test of the extension point, not read in a source, and says so.

The classes are defined at import, but registered only by the ``toy`` fixture
(``conftest.py``), which removes them again afterwards: other tests never see them.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar, Literal

import numpy as np
from pydantic import Field

from phantomlab._params import Param, make_param
from phantomlab.protocols import (
    Duration,
    Frequency,
    ProtocolBase,
    SafetyRule,
    SearchSpec,
    Tunable,
    quantity_type,
)
from phantomlab.therapies import CohortState, Therapy

KEY = "vibrotactile"
DATA = Path(__file__).parent / "data"
_WHY = "toy modality of the extension-point test; not read in a source"

#: Displacement amplitude of the vibrating contact, stored in m, written in um.
Displacement = quantity_type("m", "um", "displacement")


class Vibrotactile(ProtocolBase):
    """Vibrotactile stimulation of the residual limb (toy modality).

    Example (YAML)::

        modality: vibrotactile
        amplitude: 200 um
        frequency: 100 Hz
        duration: 20 min
    """

    label = "vibrotactile stimulation"
    required_fields = ("amplitude", "frequency", "duration")
    report_fields = ("target", "schedule.sessions")
    quantity_units: ClassVar[dict[str, tuple[str, str, str]]] = {
        "amplitude_m": ("amplitude", "m", "um"),
        "frequency_Hz": ("frequency", "Hz", "Hz"),
    }
    safety_limits = (
        SafetyRule(
            id="vibrotactile_amplitude_assumed",
            modalities=(KEY,),
            quantity="amplitude_m",
            comparison="<=",
            limit=1e-3,
            severity="error",
            citation=f"assumed: {_WHY}",
            message="amplitude above the (assumed) toy limit",
        ),
    )
    search_space = SearchSpec(
        parameters=(
            Tunable("amplitude", 50e-6, 1e-3, "m", log=True, display="um"),
            Tunable("frequency", 20.0, 300.0, "Hz", log=True, display="Hz"),
        ),
        fixed={"duration": "20 min"},
        safe_seed={"amplitude": 50e-6, "frequency": 100.0},
        sources={"amplitude": f"assumed: {_WHY}", "frequency": f"assumed: {_WHY}"},
    )

    modality: Literal["vibrotactile"] = Field(description="Modality key: 'vibrotactile'.")
    amplitude: Displacement = Field(None, description="Peak displacement, e.g. '200 um'.")
    frequency: Frequency = Field(None, description="Vibration frequency, e.g. '100 Hz'.")
    duration: Duration = Field(None, description="Stimulation time per session.")

    def session_values(self) -> dict[str, Any]:
        """Return the session time and the vibration cycles per session."""
        cycles = None
        if self.frequency is not None and self.duration is not None:
            cycles = self.frequency * self.duration
        return {
            "pulse_rate_Hz": self.frequency,
            "pulses_per_session": cycles,
            "session_duration_s": self.duration,
        }


def _param(name: str, value: float, unit: str, prior: tuple[float, float]) -> Param:
    # make_param, not tparam: the toy's records stay out of the therapies' REGISTRY
    # (the calibration fingerprint hashes it)
    return make_param(KEY, name, value, unit, "assumed", note=_WHY, prior=prior)


class VibrotactileTherapy(Therapy):
    """Descending inhibition that builds up over sessions with the amplitude (toy therapy).

    Each session adds ``inhibition_max * A / (A + half_amplitude)`` of
    ``descending_inhibition``, which decays with ``tau`` days.
    """

    curve_param = "amplitude"
    curve_values = (0.0, 100e-6, 400e-6, 1e-3)
    curve_unit = ("um", 1e6)
    dose_keys = ("amplitude", "sessions")
    PARAMS: ClassVar[dict[str, Param]] = {
        "inhibition_max": _param("inhibition_max", 10.0, "1", (0.0, 50.0)),
        "half_amplitude": _param("half_amplitude", 200e-6, "m", (50e-6, 1e-3)),
        "tau": _param("tau", 7.0, "day", (1.0, 30.0)),
    }

    def resolve(self, protocol: ProtocolBase) -> dict[str, float]:
        """Return amplitude (m), frequency (Hz) and sessions (defaults where unset)."""
        sch = protocol.schedule
        n = sch.n_sessions() if sch is not None else None
        return {
            "amplitude": float(getattr(protocol, "amplitude", None) or 200e-6),
            "frequency": float(getattr(protocol, "frequency", None) or 100.0),
            "sessions": float(n if n is not None else 10),
        }

    def specific(self, state: CohortState, t: int) -> dict[str, np.ndarray]:
        """Return the ``descending_inhibition`` lever accumulated over past sessions."""
        days, counts = state.calendar.sessions_before(t)
        if days.size == 0:
            return {}
        a = state.dose["amplitude"]
        per = self.p("inhibition_max") * a / (a + self.p("half_amplitude"))
        acc = per * float(np.sum(counts * np.exp(-(t - days) / self.p("tau"))))
        return {"descending_inhibition": np.full(state.n_patients, min(acc, 50.0))}
