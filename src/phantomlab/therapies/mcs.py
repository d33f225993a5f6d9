"""Motor cortex stimulation (epidural): continuous M1 facilitation, tolerance in some.

Epidural stimulation of M1 is modelled as a daily facilitatory M1 after-effect
that builds over days while the device is on and acts through
:func:`~phantomlab.therapies._m1.m1_levers` (like excitatory rTMS). A share
of patients becomes tolerant within weeks (Acta Neurochir 2019: one of two
patients tolerant, back to baseline at 1 month; Nihon 2001: long-term
satisfactory control in 1/5; evidence.md rows 2 and 20).
"""

from __future__ import annotations

from typing import ClassVar

import numpy as np
from numpy.typing import NDArray

from phantomlab._params import Param
from phantomlab.protocols import ProtocolBase
from phantomlab.therapies._common import buildup, get_si, hill, tolerance
from phantomlab.therapies._m1 import draw_response, m1_levers
from phantomlab.therapies._params import tparam
from phantomlab.therapies.base import CohortState, Therapy
from phantomlab.therapies.registry import register_therapy

__all__ = ["MCSTherapy"]

Arr = NDArray[np.float64]
_M = "mcs"

P: dict[str, Param] = {
    "effect_max": tparam(
        _M,
        "effect_max",
        0.3,
        "1",
        (0.0, 0.6),
        "assumed",
        note="steady M1 facilitation at full effective amplitude; not read",
    ),
    "amplitude_half": tparam(
        _M,
        "amplitude_half",
        3e-3,
        "A",
        (0.5e-3, 10e-3),
        "assumed",
        note="epidural current giving half the maximal effect; not read",
    ),
    "buildup_tau": tparam(
        _M,
        "buildup_tau",
        7.0,
        "day",
        (1.0, 30.0),
        "assumed",
        note="days for the effect to build after switch-on; not read",
    ),
    "tolerant_share": tparam(
        _M,
        "tolerant_share",
        0.5,
        "1",
        (0.0, 1.0),
        "assumed",
        note="share of patients who become tolerant (1 of 2 in the Acta Neurochir 2019 "
        "case report; far too few to estimate)",
    ),
    "tolerance_tau": tparam(
        _M,
        "tolerance_tau",
        14.0,
        "day",
        (7.0, 180.0),
        "assumed",
        note="tolerance back to baseline within about a month (Acta Neurochir 2019)",
    ),
    "default_amplitude": tparam(
        _M,
        "default_amplitude",
        4e-3,
        "A",
        (0.5e-3, 10e-3),
        "assumed",
        note="amplitude when unset (Nihon 2001 parameters not seen); not read",
    ),
}


@register_therapy("mcs")
class MCSTherapy(Therapy):
    """Epidural motor cortex stimulation; see the module docstring."""

    reference = "nihon2001_single_mcs"
    curve_param = "amplitude"
    curve_values = (0.0, 1e-3, 2e-3, 4e-3, 6e-3, 10e-3)
    curve_unit = ("mA", 1e3)
    dose_keys = ("amplitude", "days")
    continuous = True
    PARAMS: ClassVar[dict[str, Param]] = P

    def resolve(self, protocol: ProtocolBase) -> dict[str, float]:
        """Amplitude (A)."""
        amp = getattr(protocol, "amplitude", None)
        if amp is None and getattr(protocol, "voltage", None) is not None:
            amp = protocol.voltage / get_si(protocol, "impedance", 1000.0)  # type: ignore[attr-defined]
        return {"amplitude": float(amp) if amp is not None else self.p("default_amplitude")}

    def draw(self, n: int, rng: np.random.Generator) -> dict[str, Arr]:
        """Per-patient responsiveness and tolerance (all-or-none share)."""
        resp = draw_response(n, rng, self.p("m1.response_log_sd"))
        tol = (rng.uniform(0.0, 1.0, n) < self.p("tolerant_share")).astype(float)
        return {"response": resp, "tolerance": tol}

    def specific(self, state: CohortState, t: int) -> dict[str, Arr]:
        """M1 levers while on (build-up x tolerance)."""
        cal = state.calendar
        on = state.dose.get("days")
        if on is not None:
            cal = type(cal)(cal.session_days, cal.per_day, True, int(on))
        b = buildup(cal, t, self.p("buildup_tau"), self.p("buildup_tau"))
        if b == 0.0:
            return {}
        a = self.p("effect_max") * hill(state.dose["amplitude"], self.p("amplitude_half"), 2.0)
        eff = tolerance(t, self.p("tolerance_tau"), state.draws["tolerance"])
        return m1_levers(
            a * b * eff * state.draws["response"], self.p("m1.descending_per_facilitation")
        )
