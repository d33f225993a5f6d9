"""Dose-response curves: the in-silico effect of a protocol as one dose parameter varies.

For each value of the parameter (amplitude, frequency, current, sessions, ...)
the same virtual cohort receives the same course with that dose (common random
numbers: the same patients and therapy draws at every point), and the mean %
change of NRS from baseline is read one week after the last session (or at
day 28 of a continuous device). The active course is compared with the sham
of the same calendar, so the curve shows the specific effect.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
from numpy.typing import NDArray

from phantomlab._result import Result, as_figure
from phantomlab._rng import RNGLike
from phantomlab.exceptions import InputError, Problem
from phantomlab.protocols import ProtocolBase, require_safe
from phantomlab.therapies.base import Therapy
from phantomlab.therapies.course import simulate_course
from phantomlab.therapies.registry import get_therapy

__all__ = ["DoseResponse", "display_unit", "dose_response"]

if TYPE_CHECKING:
    from matplotlib.figure import Figure

Arr = NDArray[np.float64]


@dataclass(frozen=True, repr=False)
class DoseResponse(Result):
    """A dose-response curve (in silico).

    Attributes
    ----------
    modality : str
        Modality key.
    protocol_name : str
        The protocol varied.
    param : str
        Dose parameter.
    unit : str
        Display unit of ``values_display``.
    values : ndarray
        Parameter values, SI.
    values_display : ndarray
        Parameter values in the display unit.
    readout_day : int
        Course day of the read-out.
    pct_change : ndarray
        Mean % change of NRS from baseline at each value.
    responders : ndarray
        Share of patients improving by ≥ 30% at each value.
    hypothesis : str
        Cortical hypothesis of the virtual patient.
    n_patients : int
        Cohort size.
    """

    modality: str
    protocol_name: str
    param: str
    unit: str
    values: Arr
    values_display: Arr
    readout_day: int
    pct_change: Arr
    responders: Arr
    hypothesis: str
    n_patients: int
    safety_note: str = ""

    def to_frame(self) -> Any:
        """One row per parameter value.

        Returns
        -------
        pandas.DataFrame
            Columns ``param, value, value_display, unit, pct_change, responders_30``.
        """
        import pandas as pd

        return pd.DataFrame(
            {
                "param": self.param,
                "value": self.values,
                "value_display": self.values_display,
                "unit": self.unit,
                "pct_change": self.pct_change,
                "responders_30": self.responders,
            }
        )

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready description of the curve."""
        return {
            "modality": self.modality,
            "protocol": self.protocol_name,
            "param": self.param,
            "unit": self.unit,
            "readout_day": self.readout_day,
            "hypothesis": self.hypothesis,
            "n_patients": self.n_patients,
            "in_silico": True,
            "safety_note": self.safety_note,
            "points": [
                {
                    "value": float(v),
                    "value_display": float(vd),
                    "pct_change": float(p),
                    "responders_30": float(r),
                }  # fmt: skip
                for v, vd, p, r in zip(
                    self.values, self.values_display, self.pct_change, self.responders, strict=True
                )
            ],
        }

    def summary(self) -> str:
        """Text table of the curve."""
        lines = [
            f"Dose-response of {self.protocol_name} ({self.modality}) over {self.param}, "
            f"in silico ({self.hypothesis}, {self.n_patients} patients, day {self.readout_day})",
            f"{self.param + ' [' + self.unit + ']':>22}  NRS change  >=30% responders",
        ]
        for vd, p, r in zip(self.values_display, self.pct_change, self.responders, strict=True):
            lines.append(f"{vd:>22.4g}  {p:+9.1f}%  {100 * r:14.1f}%")
        if self.safety_note:
            lines.append(f"safety: {self.safety_note}")
        return "\n".join(lines)

    def plot(self, ax: Any = None) -> Figure:
        """Plot % change against the parameter.

        Parameters
        ----------
        ax : matplotlib Axes, optional
            Where to draw (default: a new Figure).

        Returns
        -------
        matplotlib.figure.Figure
            The figure drawn into.
        """
        if ax is None:
            from matplotlib.figure import Figure

            ax = Figure(figsize=(5, 3.5)).subplots()
        ax.plot(self.values_display, self.pct_change, "o-")
        ax.axhline(0.0, color="0.6", lw=0.8)
        ax.set_xlabel(f"{self.param} [{self.unit}]")
        ax.set_ylabel(f"NRS change at day {self.readout_day} (%)")
        ax.set_title(f"{self.modality}: {self.protocol_name} (in silico)", fontsize=9)
        return as_figure(ax)


def _readout_day(th: Therapy, protocol: ProtocolBase) -> int:
    st = th.prepare(protocol, 1, 0, 0)
    last = st.calendar.last_day
    if not np.isfinite(last) or th.continuous or st.calendar.continuous:
        return 28 if not np.isfinite(last) else int(min(last, 27))
    return int(max(last, 0)) + 7


def dose_response(
    modality: str,
    param: str | None = None,
    values: list[float] | None = None,
    *,
    protocol: ProtocolBase | None = None,
    n_patients: int = 100,
    hypothesis: str = "reorganization",
    rng: RNGLike = 0,
    warmup_days: int = 365,
    allow_unsafe: str | None = None,
) -> DoseResponse:
    """Dose-response curve of a modality over one dose parameter.

    Every point is a protocol: the varied value is written into the protocol (its field
    of the same name, the rTMS intensity in %MT, the schedule's ``sessions``) and that
    protocol goes through the safety gate (:func:`phantomlab.protocols.require_safe`)
    before it is simulated, so a curve cannot reach an unsafe dose without a reason.
    A dose parameter that is not a protocol field (``days``, ``pulses``) is said so in
    ``safety_note``.

    Parameters
    ----------
    modality : str
        Protocol modality key (``"scs"``, ``"rtms"``, ...).
    param : str, optional
        Dose parameter (default: the therapy's ``curve_param``); one of the
        therapy's ``dose_keys``.
    values : list of float, optional
        Values in SI units (default: the therapy's ``curve_values``).
    protocol : ProtocolBase, optional
        Protocol varied (default: the modality's reference protocol).
    n_patients : int
        Cohort size.
    hypothesis : str
        Cortical hypothesis.
    rng : int, SeedSequence, Generator or None
        Seed of the therapy draws (the same at every point).
    warmup_days : int
        Days from amputation to the baseline week.
    allow_unsafe : str, optional
        A reason to simulate points that fail the safety check (logged, kept in
        ``safety_note``).

    Returns
    -------
    DoseResponse
        The curve.

    Raises
    ------
    ProtocolError
        If a point fails the safety check and no reason is given.
    """
    th = get_therapy(modality)
    name = param or th.curve_param
    if name not in th.dose_keys:
        raise InputError(
            Problem(
                "param",
                name,
                "one of: " + ", ".join(th.dose_keys),
                "",
                f"not a dose parameter of {modality}",
            )
        )
    grid = np.asarray(values if values is not None else th.curve_values, float)
    if grid.size == 0 or not np.all(np.isfinite(grid)) or np.any(grid < 0):
        raise InputError(Problem("values", list(grid), "finite values >= 0", "", "bad grid"))
    proto = protocol if protocol is not None else th.reference_protocol()
    unit, factor = th.curve_unit if name == th.curve_param else display_unit(name)
    notes = []
    for v in grid:
        point = _dose_protocol(proto, name, float(v), unit, factor)
        if point is None:
            notes.append(f"{name} is not a protocol field: its values were not safety-checked")
            break
        note = require_safe(
            point, allow_unsafe=allow_unsafe, what=f"dose point {name} = {v * factor:g} {unit}"
        )
        if note:
            notes.append(f"{v * factor:g} {unit}: {note}")
    day = _readout_day(th, proto)
    if name == "sessions":
        day = max(day, int(grid.max()) * 2 + 7)
    pct, resp = [], []
    for v in grid:
        res = simulate_course(
            proto, n_patients=n_patients, days=day + 1, hypothesis=hypothesis, rng=rng,
            warmup_days=warmup_days, therapy=th, dose={name: float(v)},
        )  # fmt: skip
        pct.append(res.percent_change(day))
        resp.append(res.responders(day))
    return DoseResponse(
        modality, proto.name or modality, name, unit, grid, grid * factor, day,
        np.asarray(pct), np.asarray(resp), hypothesis, n_patients, "; ".join(notes),
    )  # fmt: skip


def _dose_protocol(
    proto: ProtocolBase, name: str, value: float, unit: str, factor: float
) -> ProtocolBase | None:
    """Return the protocol with one dose value written in (``None``: not a protocol field)."""
    fields = type(proto).model_fields
    if name == "sessions":
        if proto.schedule is None:
            return None
        return proto.model_copy(
            update={"schedule": proto.schedule.model_copy(update={"sessions": int(value)})}
        )
    if name not in fields:
        return None
    if isinstance(getattr(proto, name), str) or name == "intensity":
        return proto.model_copy(update={name: f"{value * factor:g} {unit}"})
    return proto.model_copy(update={name: float(value)})


def display_unit(name: str) -> tuple[str, float]:
    """Return the display unit of a dose parameter and its factor from SI.

    Parameters
    ----------
    name : str
        Dose parameter (``"amplitude"``, ``"frequency"``, ``"pulse_width"`` ...).

    Returns
    -------
    unit : str
        Display unit (``"SI"`` for a parameter without one).
    factor : float
        Display value = SI value * factor.
    """
    return {
        "amplitude": ("mA", 1e3),
        "current": ("mA", 1e3),
        "frequency": ("Hz", 1.0),
        "pulse_width": ("us", 1e6),
        "duration": ("min", 1 / 60),
        "intensity": ("%MT", 1.0),
        "pulses": ("pulses", 1.0),
        "sessions": ("sessions", 1.0),
        "days": ("days", 1.0),
    }.get(name, ("SI", 1.0))
