"""BCI training: a decoder-driven hand strengthens or dissociates the phantom representation.

Yanagisawa et al. 2016 (Nat Commun 7:13209): training a MEG decoder on
**phantom**-hand cortical activity increased PLP; training that dissociates the
prosthetic from the phantom hand reduced it. Yanagisawa et al. 2020
(Neurology, N = 12): a decoder trained on **intact**-hand movements, 3 days
of training, VAS −32% at day 4 and −36% at day 8; a random decoder was not
significant. Here: ``decoder_training = +1`` (phantom), ``−1`` (intact) or
``0`` (random) on training days, scaled by session length.
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

__all__ = ["BCITherapy", "DECODER_SIGN"]

Arr = NDArray[np.float64]
_M = "bci"

#: Decoder -> sign of the training signal.
DECODER_SIGN = {"phantom": 1.0, "intact": -1.0, "random": 0.0}

P: dict[str, Param] = {
    "session_ref": tparam(
        _M,
        "session_ref",
        3600.0,
        "s",
        (600.0, 7200.0),
        "assumed",
        note="daily training time giving the full training signal; Yanagisawa 2020 daily "
        "duration not seen",
    ),
    "strength": tparam(
        _M,
        "strength",
        1.0,
        "1",
        (0.0, 1.0),
        "assumed",
        note="magnitude of the decoder training lever for a full session; not read",
    ),
}


@register_therapy("bci")
class BCITherapy(Therapy):
    """Brain-computer interface training; see the module docstring."""

    reference = "yanagisawa2020_real decoder"
    curve_param = "sessions"
    curve_values = (0.0, 1.0, 3.0, 5.0, 10.0)
    curve_unit = ("sessions", 1.0)
    dose_keys = ("duration", "sessions")
    PARAMS: ClassVar[dict[str, Param]] = P

    def resolve(self, protocol: ProtocolBase) -> dict[str, float]:
        """Session duration (s), sessions, decoder sign."""
        dec = getattr(protocol, "decoder_trained_on", None) or "intact"
        return {
            "duration": get_si(protocol, "duration", self.p("session_ref")),
            "sessions": _sessions_from_schedule(protocol, 3.0),
            "sign": DECODER_SIGN[dec],
        }

    def specific(self, state: CohortState, t: int) -> dict[str, Arr]:
        """``decoder_training`` on training days."""
        if not state.calendar.is_on(t):
            return {}
        d = state.dose
        v = d["sign"] * self.p("strength") * min(d["duration"] / self.p("session_ref"), 1.0)
        return {"decoder_training": np.full(state.n_patients, v)}
