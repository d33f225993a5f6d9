"""Sham and placebo: the expectation of a blinded course, plus any real residual dose.

A sham course has the calendar of the protocol it imitates and the same
expectation component as the active arm (both arms are blinded). Where the
sham delivers real stimulation for a while (``active_duration``, e.g. 30 s of
ramped current in sham tDCS), that residual dose is simulated by the active
therapy with its session shortened to ``active_duration`` — a real, small
effect, not a hand-set one. Regression to the mean is not a lever: it arises
when patients are enrolled on a noisy screening report (see
:func:`phantomlab.therapies.simulate_course`, ``enrol_min_nrs``).
Malavera 2016's sham arm improved by 22.93% at day 15.
"""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np
from numpy.typing import NDArray

from phantomlab._params import Param
from phantomlab._rng import RNGLike, as_generator
from phantomlab.protocols import ProtocolBase, load_protocol, protocol_to_dict
from phantomlab.therapies.base import (
    CohortState,
    Therapy,
    _sessions_from_schedule,
    build_calendar,
)
from phantomlab.therapies.registry import register_therapy

__all__ = ["ShamTherapy", "sham_of"]

Arr = NDArray[np.float64]


def _active(protocol: ProtocolBase) -> tuple[Therapy | None, ProtocolBase | None]:
    from phantomlab.therapies.registry import therapy_for

    act = protocol.active()  # type: ignore[attr-defined]
    if act is None:
        return None, None
    return therapy_for(act), act


@register_therapy("sham")
class ShamTherapy(Therapy):
    """Sham (placebo) version of a protocol; see the module docstring."""

    reference = "malavera2016_sham"
    curve_param = "sessions"
    curve_values = (0.0, 1.0, 5.0, 10.0, 20.0)
    curve_unit = ("sessions", 1.0)
    dose_keys = ("sessions",)
    PARAMS: ClassVar[dict[str, Param]] = {}

    def resolve(self, protocol: ProtocolBase) -> dict[str, float]:
        """Sessions of the sham (its own schedule, else the imitated protocol's)."""
        th, act = _active(protocol)
        if protocol.schedule is not None or act is None or th is None:
            return {"sessions": _sessions_from_schedule(protocol, 10.0)}
        return {"sessions": th.resolve(act).get("sessions", 0.0)}

    def prepare(
        self,
        protocol: ProtocolBase,
        n_patients: int,
        rng: RNGLike = None,
        start_day: int = 0,
        dose: Any = None,
    ) -> CohortState:
        """Course state: calendar and expectation, plus the residual active dose if any."""
        gen = as_generator(rng)
        st = super().prepare(protocol, n_patients, gen, start_day, dose)
        th, act = _active(protocol)
        comps: tuple[CohortState, ...] = ()
        cal = st.calendar
        if th is not None and act is not None:
            sched = protocol if protocol.schedule is not None else act
            cal = build_calendar(sched, st.dose.get("sessions"), th.continuous)
            resid = getattr(protocol, "active_duration", None)
            if resid is not None and "duration" in th.dose_keys:
                over = {"duration": float(resid)}
                if dose and "sessions" in dose and "sessions" in th.dose_keys:
                    over["sessions"] = float(dose["sessions"])
                comps = (th.prepare(act, n_patients, gen, start_day, over),)
        return CohortState(n_patients, int(start_day), st.dose, cal, st.draws, comps, "sham")

    def specific(self, state: CohortState, t: int) -> dict[str, Arr]:
        """Residual real stimulation of the sham (none for a pure placebo)."""
        if not state.components:
            return {}
        from phantomlab.therapies.registry import get_therapy

        sub = state.components[0]
        return get_therapy(sub.modality).specific(sub, t)


def sham_of(
    protocol: ProtocolBase, method: str = "sham", active_duration: str | None = None
) -> ProtocolBase:
    """Build the sham protocol of an active protocol.

    Parameters
    ----------
    protocol : ProtocolBase
        The active protocol.
    method : str
        How the sham is delivered.
    active_duration : str, optional
        Real stimulation time of the sham, e.g. ``"30 s"``.

    Returns
    -------
    ProtocolBase
        A ``modality: sham`` protocol.
    """
    data: dict[str, Any] = {"modality": "sham", "of": protocol_to_dict(protocol), "method": method}
    if active_duration is not None:
        data["active_duration"] = active_duration
    return load_protocol(data)
