"""Temporal interference stimulation (preclinical): a weak deep stimulator.

**Preclinical: no PLP study exists** (evidence.md row 36: analgesia in a mouse
model only). The envelope amplitude at a deep target (thalamus-like point of
the sphere model; insula-like if the protocol's target names the insula) is
computed by :func:`phantomlab.fields.ti_field_at` for the protocol's two pairs
and currents (Grossman et al. 2017 closed form). Above a threshold envelope
the deep target is modulated like a weak deep stimulator
(``descending_inhibition``). Every coupling parameter here is ``assumed``
with a wide prior; treat results as hypotheses, never as predictions.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any, ClassVar

import numpy as np
from numpy.typing import NDArray

from phantomlab._params import Param
from phantomlab.fields import get_target, ti_field_at
from phantomlab.protocols import ProtocolBase, load_protocol
from phantomlab.therapies._common import aftereffect, get_si
from phantomlab.therapies._params import tparam
from phantomlab.therapies.base import CohortState, Therapy, _sessions_from_schedule
from phantomlab.therapies.registry import register_therapy

__all__ = ["REFERENCE_TI", "TITherapy", "envelope_at"]

Arr = NDArray[np.float64]
_M = "ti"

#: Built-in illustrative protocol: the SimNIBS TI example montage (F5-P5, F6-P6, 1 mA
#: each; shared/research/fields.md §1.4), 2000/2020 Hz, 20 min, 5 sessions (assumed).
REFERENCE_TI: dict[str, Any] = {
    "modality": "ti",
    "name": "ti_simnibs_example",
    "target": "thalamus contralateral",
    "pairs": [
        {"electrodes": ["F5", "P5"], "current": "1 mA", "frequency": "2000 Hz"},
        {"electrodes": ["F6", "P6"], "current": "1 mA", "frequency": "2020 Hz"},
    ],
    "duration": "20 min",
    "schedule": {"sessions": 5},
    "notes": "illustrative montage of the SimNIBS TI example; no PLP study exists",
}

P: dict[str, Param] = {
    "envelope_threshold": tparam(
        _M,
        "envelope_threshold",
        0.1,
        "V/m",
        (0.0, 1.0),
        "assumed",
        note="envelope below which deep neurons are not modulated; preclinical, not read",
    ),
    "gain": tparam(
        _M,
        "gain",
        20.0,
        "Hz per V/m",
        (0.0, 100.0),
        "assumed",
        note="descending inhibition per V/m of envelope above threshold on a session "
        "day; preclinical, not read",
    ),
    "tau": tparam(
        _M,
        "tau",
        2.0,
        "day",
        (0.5, 14.0),
        "assumed",
        note="decay of the after-effect between sessions; not read",
    ),
}


@lru_cache(maxsize=64)
def envelope_at(pair1: tuple[Any, Any], pair2: tuple[Any, Any], currents: tuple[float, float],
                target: str) -> float:  # fmt: skip
    """Maximal TI envelope at a named target, V/m (cached).

    Parameters
    ----------
    pair1, pair2 : tuple
        Electrode pairs.
    currents : tuple of float
        Pair currents, A.
    target : str
        Fields target name.

    Returns
    -------
    float
        Envelope amplitude, V/m.
    """
    return ti_field_at(pair1, pair2, currents, get_target(target).position)


@register_therapy("ti")
class TITherapy(Therapy):
    """Temporal interference stimulation (preclinical); see the module docstring."""

    reference = None
    curve_param = "current"
    curve_values = (0.0, 0.5e-3, 1e-3, 2e-3, 4e-3)
    curve_unit = ("mA per pair", 1e3)
    dose_keys = ("current", "sessions")
    PARAMS: ClassVar[dict[str, Param]] = P

    def reference_protocol(self) -> ProtocolBase:
        """Return the built-in illustrative TI protocol (:data:`REFERENCE_TI`)."""
        return load_protocol(REFERENCE_TI)

    def resolve(self, protocol: ProtocolBase) -> dict[str, float]:
        """Mean pair current (A), sessions, and the envelope per ampere at the target."""
        pairs = getattr(protocol, "pairs", None) or load_protocol(REFERENCE_TI).pairs  # type: ignore[attr-defined]
        cur = [float(p.current) if p.current is not None else 1e-3 for p in pairs]
        text = (protocol.target or "").lower()
        side = "right" if "right" in text else "left"
        area = "insula" if "insula" in text else "thalamus"
        env = envelope_at(tuple(pairs[0].electrodes), tuple(pairs[1].electrodes),
                          (cur[0] / cur[0], cur[1] / cur[0]), f"{area}_{side}")  # fmt: skip
        return {
            "current": cur[0],
            "envelope_per_A": env,
            "duration": get_si(protocol, "duration", 1200.0),
            "sessions": _sessions_from_schedule(protocol, 1.0),
        }

    def envelope(self, state: CohortState) -> float:
        """Envelope at the deep target, V/m (linear in the current of pair 1)."""
        return state.dose["envelope_per_A"] * state.dose["current"]

    def specific(self, state: CohortState, t: int) -> dict[str, Arr]:
        """``descending_inhibition`` above the envelope threshold, decaying between sessions."""
        if t < 0 or state.calendar.n_sessions == 0:
            return {}
        drive = max(self.envelope(state) - self.p("envelope_threshold"), 0.0) * self.p("gain")
        a = aftereffect(state.calendar, t, np.full(state.n_patients, drive), self.p("tau"), 1e6)
        return {"descending_inhibition": a}
