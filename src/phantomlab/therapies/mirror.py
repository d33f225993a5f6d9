"""Mirror therapy and graded motor imagery: congruent visual feedback of the phantom.

On session days the patient sees a congruent moving limb; the
``visual_feedback`` lever reduces sensorimotor incongruence and structures the
phantom's representation in the virtual patient. Its strength grows with
session length up to the 15-min sessions of the trials (Finn 2017, Gunduz
2021, Chan 2007) and is lower for imagery-only GMI. The onset of relief is not
set here: it emerges from the patient's slow states (the Scand J Pain 2017
target: low / medium / high baseline PLP relieved by sessions 7 / 14 / 21).
"""

from __future__ import annotations

from typing import ClassVar

import numpy as np
from numpy.typing import NDArray

from phantomlab._params import Param
from phantomlab.protocols import ProtocolBase
from phantomlab.therapies._common import get_si
from phantomlab.therapies._params import tparam
from phantomlab.therapies.base import CohortState, Therapy, _sessions_from_schedule
from phantomlab.therapies.registry import register_therapy

__all__ = ["MirrorTherapy"]

Arr = NDArray[np.float64]
_M = "mirror"

P: dict[str, Param] = {
    "session_ref": tparam(
        _M,
        "session_ref",
        900.0,
        "s",
        (300.0, 3600.0),
        "source",
        "Finn 2017 Front Neurol 8:267 and Gunduz 2021: 15-min sessions (evidence.md)",
        "session length giving full feedback strength",
    ),
    "feedback": tparam(
        _M,
        "feedback",
        1.0,
        "1",
        (0.3, 1.0),
        "assumed",
        note="visual feedback lever of a full mirror session (congruent view of a moving "
        "limb); not read",
    ),
    "gmi_factor": tparam(
        _M,
        "gmi_factor",
        0.6,
        "1",
        (0.2, 1.0),
        "assumed",
        note="graded motor imagery gives weaker feedback than a mirror; not read",
    ),
}


@register_therapy("mirror")
class MirrorTherapy(Therapy):
    """Mirror therapy / graded motor imagery; see the module docstring."""

    reference = "finn2017_mirror"
    curve_param = "sessions"
    curve_values = (0.0, 1.0, 5.0, 10.0, 20.0, 30.0)
    curve_unit = ("sessions", 1.0)
    dose_keys = ("duration", "sessions")
    PARAMS: ClassVar[dict[str, Param]] = P

    def resolve(self, protocol: ProtocolBase) -> dict[str, float]:
        """Session duration (s), sessions and variant."""
        return {
            "duration": get_si(protocol, "duration", self.p("session_ref")),
            "sessions": _sessions_from_schedule(protocol, 20.0),
            "gmi": 1.0 if getattr(protocol, "variant", None) == "gmi" else 0.0,
        }

    def specific(self, state: CohortState, t: int) -> dict[str, Arr]:
        """``visual_feedback`` on session days."""
        if not state.calendar.is_on(t):
            return {}
        d = state.dose
        k = self.p("gmi_factor") if d["gmi"] else 1.0
        v = self.p("feedback") * k * min(d["duration"] / self.p("session_ref"), 1.0)
        return {"visual_feedback": np.full(state.n_patients, v)}
