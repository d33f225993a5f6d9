"""Repetitive TMS: frequency-dependent M1 after-effects accumulating over sessions.

Per session, the M1 after-effect (fractional excitability change) is

``a = s(f, pattern) · g(intensity) · h(pulses) · responsiveness``

* ``s``: low frequencies inhibit (0.9 Hz, 810 pulses: MEP −19.5%; 0.1 Hz for
  1 h: no change; Chen et al. 1997 Neurology 48:1398), high frequencies
  (≥ 5 Hz) and iTBS facilitate, cTBS inhibits; linear in between;
* ``g``: rises linearly from a floor intensity to 100 %MT;
* ``h``: saturating in the number of pulses.

Sessions accumulate and the sum decays after the course
(:func:`~phantomlab.therapies._common.aftereffect`); the decay is set so the
reference course (Malavera 2016: 10 Hz, 90% MT, 1,200 pulses, 10 sessions)
helps at day 15 and no longer at day 30. The after-effect acts through
:func:`~phantomlab.therapies._m1.m1_levers`.
"""

from __future__ import annotations

from typing import ClassVar

import numpy as np
from numpy.typing import NDArray

from phantomlab._params import Param
from phantomlab.protocols import ProtocolBase
from phantomlab.therapies._common import aftereffect, get_si
from phantomlab.therapies._m1 import draw_response, m1_levers
from phantomlab.therapies._params import tparam
from phantomlab.therapies.base import CohortState, Therapy, _sessions_from_schedule
from phantomlab.therapies.registry import register_therapy

__all__ = ["RTMSTherapy", "frequency_sign"]

Arr = NDArray[np.float64]
_M = "rtms"
_CHEN = "Chen et al. 1997 Neurology 48:1398 (mechanisms.md §4.2)"
_MAL = "Malavera 2016 J Pain 17:911: benefit at day 15, not significant at day 30"

P: dict[str, Param] = {
    "low_effect": tparam(
        _M,
        "low_effect",
        -0.195,
        "1",
        (-0.5, 0.0),
        "source",
        _CHEN,
        "0.9 Hz, 810 pulses: MEP -19.5%",
    ),
    "low_frequency": tparam(
        _M,
        "low_frequency",
        0.9,
        "Hz",
        (0.9, 0.9),
        "source",
        _CHEN,
        "frequency of the -19.5% data point",
    ),
    "null_frequency": tparam(
        _M, "null_frequency", 0.1, "Hz", (0.1, 0.1), "source", _CHEN, "0.1 Hz for 1 h: no change"
    ),
    "high_effect": tparam(
        _M,
        "high_effect",
        0.2,
        "1",
        (0.0, 0.6),
        "assumed",
        note="facilitation per session at >= 5 Hz, taken of the size of Chen's 1 Hz "
        "inhibition; not read",
    ),
    "cross_frequency": tparam(
        _M,
        "cross_frequency",
        3.0,
        "Hz",
        (1.0, 5.0),
        "assumed",
        note="frequency where the after-effect changes sign (<= 1 Hz inhibitory, >= 5 Hz "
        "facilitatory, issue 6); not read",
    ),
    "tbs_effect": tparam(
        _M,
        "tbs_effect",
        0.2,
        "1",
        (0.0, 0.6),
        "assumed",
        note="magnitude of iTBS (+) / cTBS (-) after-effects; Huang 2005 'long-lasting, "
        "powerful' (numbers not seen)",
    ),
    "intensity_floor": tparam(
        _M,
        "intensity_floor",
        50.0,
        "%MT",
        (0.0, 80.0),
        "assumed",
        note="intensity below which no after-effect is induced; not read",
    ),
    "pulses_half": tparam(
        _M,
        "pulses_half",
        600.0,
        "1",
        (100.0, 3000.0),
        "assumed",
        note="pulses for half the saturating after-effect of one session; not read",
    ),
    "tau": tparam(
        _M,
        "tau",
        7.0,
        "day",
        (2.0, 30.0),
        "calibrated",
        _MAL,
        "decay of accumulated after-effects; hand-set so the reference course helps at "
        "day 15 and much less at day 30 (test_reference_rtms)",
    ),
    "a_max": tparam(
        _M,
        "a_max",
        0.5,
        "1",
        (0.1, 1.0),
        "assumed",
        note="saturation of accumulated excitability change (+-50%); not read",
    ),
    "default_intensity": tparam(
        _M,
        "default_intensity",
        90.0,
        "%MT",
        (50.0, 120.0),
        "source",
        "Malavera 2016 (90% MT)",
        "intensity when unset",
    ),
    "default_frequency": tparam(
        _M,
        "default_frequency",
        10.0,
        "Hz",
        (1.0, 20.0),
        "source",
        "Malavera 2016 (10 Hz)",
        "pulse rate when unset",
    ),
    "default_sessions": tparam(
        _M,
        "default_sessions",
        10.0,
        "1",
        (1.0, 30.0),
        "source",
        "Malavera 2016 (10 daily sessions)",
        "sessions when the schedule is unset",
    ),
    "default_pulses": tparam(
        _M,
        "default_pulses",
        1200.0,
        "1",
        (100.0, 3000.0),
        "source",
        "Malavera 2016 (1,200 pulses per session)",
        "pulses per session when unset",
    ),
}

_TBS_SIGN = {"iTBS": 1.0, "imTBS": 1.0, "cTBS": -1.0}


def frequency_sign(th: Therapy, frequency: float, pattern: str | None = None) -> float:
    """Signed after-effect of one saturating session at ``frequency`` (fraction).

    Parameters
    ----------
    th : Therapy
        An :class:`RTMSTherapy` (parameters).
    frequency : float
        Pulse rate, Hz (burst rate for TBS).
    pattern : str, optional
        ``"conventional"``, ``"iTBS"``, ``"cTBS"`` or ``"imTBS"``.

    Returns
    -------
    float
        After-effect before intensity and pulse-count scaling.
    """
    if pattern in _TBS_SIGN:
        return _TBS_SIGN[pattern] * th.p("tbs_effect")
    f0, f1 = th.p("null_frequency"), th.p("low_frequency")
    low, high, fx = th.p("low_effect"), th.p("high_effect"), th.p("cross_frequency")
    if frequency <= f0:
        return 0.0
    if frequency <= f1:
        return low * (frequency - f0) / (f1 - f0)
    if frequency <= 5.0:
        return float(np.interp(frequency, [f1, fx, 5.0], [low, 0.0, high]))
    return high


@register_therapy("rtms")
class RTMSTherapy(Therapy):
    """Repetitive transcranial magnetic stimulation of M1; see the module docstring."""

    reference = "malavera2016_active"
    curve_param = "frequency"
    curve_values = (0.0, 0.5, 1.0, 2.0, 5.0, 10.0, 20.0)
    curve_unit = ("Hz", 1.0)
    dose_keys = ("frequency", "intensity", "pulses", "sessions")
    PARAMS: ClassVar[dict[str, Param]] = P

    def resolve(self, protocol: ProtocolBase) -> dict[str, float]:
        """Frequency (Hz), intensity (%MT), pulses per session, sessions, pattern."""
        pct, _ = protocol.intensity_percent()  # type: ignore[attr-defined]
        pulses = getattr(protocol, "pulses_per_session", None)
        if pulses is None:
            d = protocol.dose()
            pulses = getattr(d, "pulses_per_session", None)
        pattern = getattr(protocol, "pattern", None) or "conventional"
        return {
            "frequency": get_si(protocol, "frequency", self.p("default_frequency")),
            "intensity": float(pct) if pct is not None else self.p("default_intensity"),
            "pulses": float(pulses) if pulses else self.p("default_pulses"),
            "sessions": _sessions_from_schedule(protocol, self.p("default_sessions")),
            "pattern": {"conventional": 0.0, "iTBS": 1.0, "cTBS": 2.0, "imTBS": 3.0}[pattern],
        }

    def draw(self, n: int, rng: np.random.Generator) -> dict[str, Arr]:
        """Per-patient responsiveness."""
        return {"response": draw_response(n, rng, self.p("m1.response_log_sd"))}

    def per_session(self, state: CohortState) -> Arr:
        """After-effect of one session per patient (signed fraction)."""
        d = state.dose
        pattern = {0.0: None, 1.0: "iTBS", 2.0: "cTBS", 3.0: "imTBS"}[d["pattern"]]
        s = frequency_sign(self, d["frequency"], pattern)
        lo = self.p("intensity_floor")
        g = float(np.clip((d["intensity"] - lo) / (100.0 - lo), 0.0, 1.5))
        h = 1.0 - np.exp(-d["pulses"] / self.p("pulses_half"))
        return np.asarray(s * g * h * state.draws["response"])

    def specific(self, state: CohortState, t: int) -> dict[str, Arr]:
        """M1 levers of the accumulated after-effect on day offset ``t``."""
        if t < 0 or state.calendar.n_sessions == 0:
            return {}
        a = aftereffect(state.calendar, t, self.per_session(state), self.p("tau"), self.p("a_max"))
        return m1_levers(a, self.p("m1.descending_per_facilitation"))
