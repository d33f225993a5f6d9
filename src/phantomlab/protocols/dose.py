"""Dose metrics of a protocol, in SI units, with clinical-unit display.

Definitions (all per session unless named cumulative):

* charge per phase ``Q = I * PW`` (C); for a sinusoid of amplitude ``I`` at
  frequency ``f`` the charge of one half cycle, ``Q = I / (pi f)``;
* geometric charge density per phase ``D = Q / A`` (C/m^2), ``A`` the contact area;
* Shannon ``k = log10(Q[uC/phase]) + log10(D[uC/cm^2/phase])`` (Shannon, IEEE TBME
  39:424, 1992);
* current density ``J = I / A`` (A/m^2), ``I`` the amplitude (tDCS: plateau current;
  TI: the largest pair current);
* charge per session: tDCS ``I * (duration + (ramp_up + ramp_down) / 2)`` (C), the
  net charge of direct current; monophasic pulses ``Q * pulses per session``. Not
  determined for charge-balanced waveforms (biphasic pulses, sinusoids), whose phases
  cancel: a sum of leading-phase charges (e.g. "64.8 C" for 10 kHz SCS) measures
  nothing physical there; such a protocol reports its charge per phase, its charge
  density per phase and a **net charge per session of 0**; nor for pulses whose shape
  is not stated;
* net charge per session: 0 for charge-balanced waveforms, ``Q * pulses`` for
  monophasic pulses (C);
* pulses per session: rTMS from trains x pulses per train (or train duration x
  rate, or the stated number); electrode stimulation pulse rate x duration, where the
  pulse rate of a burst pattern is ``burst_frequency * pulses_per_burst``;
* cumulative values: per-session value x number of sessions of the schedule;
* TI envelope frequency ``|f1 - f2|`` (Hz) (Grossman et al., Cell 169:1029, 2017).

A metric that the protocol does not determine is ``None`` (never guessed). Each
protocol class computes its own per-session values (``session_values()``, ``dose()``);
this module holds the shared definitions and the cumulative part.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any

from phantomlab._result import Result
from phantomlab._units import format_si

if TYPE_CHECKING:
    from phantomlab.protocols._base import ProtocolBase

__all__ = ["DOSE_KEYS", "DoseMetrics", "compute_dose", "session_dose", "shannon_k", "times"]

#: JSON keys of the dose metrics (SI unit suffixes), in display order.
DOSE_KEYS: tuple[str, ...] = (
    "current_A",
    "charge_per_phase_C",
    "charge_density_C_per_m2",
    "shannon_k",
    "current_density_A_per_m2",
    "pulse_rate_Hz",
    "pulses_per_session",
    "session_duration_s",
    "charge_per_session_C",
    "net_charge_per_session_C",
    "sessions",
    "cumulative_pulses",
    "cumulative_charge_C",
    "cumulative_duration_s",
    "envelope_frequency_Hz",
)

# key -> (SI unit, display unit) for summaries
_DISPLAY: dict[str, tuple[str, str]] = {
    "current_A": ("A", "mA"),
    "charge_per_phase_C": ("C", "uC"),
    "charge_density_C_per_m2": ("C/m^2", "uC/cm^2"),
    "current_density_A_per_m2": ("A/m^2", "A/m^2"),
    "pulse_rate_Hz": ("Hz", "Hz"),
    "session_duration_s": ("s", "min"),
    "charge_per_session_C": ("C", "C"),
    "net_charge_per_session_C": ("C", "C"),
    "cumulative_charge_C": ("C", "C"),
    "cumulative_duration_s": ("s", "hour"),
    "envelope_frequency_Hz": ("Hz", "Hz"),
}


def shannon_k(charge_per_phase_C: float, charge_density_C_per_m2: float) -> float:
    """Return Shannon's k for a charge per phase and a charge density per phase.

    Parameters
    ----------
    charge_per_phase_C : float
        Charge per phase in coulomb (> 0).
    charge_density_C_per_m2 : float
        Geometric charge density per phase in C/m^2 (> 0).

    Returns
    -------
    float
        ``log10(Q[uC]) + log10(D[uC/cm^2])`` (Shannon 1992).

    Examples
    --------
    >>> round(shannon_k(1e-6, 1e-2), 6)  # 1 uC/phase, 1 uC/cm^2/phase
    0.0
    """
    q_uc = charge_per_phase_C * 1e6
    d_uc_cm2 = charge_density_C_per_m2 * 1e6 / 1e4
    return math.log10(q_uc) + math.log10(d_uc_cm2)


@dataclass(frozen=True, repr=False)
class DoseMetrics(Result):
    """Dose of one protocol. Every value in SI; ``None`` where not determined.

    Attributes
    ----------
    current_A : float or None
        Stimulation current (amplitude / plateau), A.
    charge_per_phase_C : float or None
        Charge per phase, C.
    charge_density_C_per_m2 : float or None
        Geometric charge density per phase, C/m^2.
    shannon_k : float or None
        Shannon's k (dimensionless).
    current_density_A_per_m2 : float or None
        Current density at the electrode/contact, A/m^2.
    pulse_rate_Hz : float or None
        Mean pulses per second.
    pulses_per_session : float or None
        Pulses (rTMS pulses, electrical pulses) per session.
    session_duration_s : float or None
        Session duration, s.
    charge_per_session_C : float or None
        Charge per session, C (direct current, monophasic pulses; not determined for
        charge-balanced waveforms).
    net_charge_per_session_C : float or None
        Net charge per session, C: 0 for charge-balanced waveforms (biphasic pulses,
        sinusoids), the charge per session for monophasic pulses.
    sessions : int or None
        Number of sessions of the schedule.
    cumulative_pulses : float or None
        Pulses over the schedule.
    cumulative_charge_C : float or None
        Charge over the schedule, C.
    cumulative_duration_s : float or None
        Stimulation/training time over the schedule, s.
    envelope_frequency_Hz : float or None
        TI envelope (beat) frequency, Hz.
    components : tuple of DoseMetrics
        For a combination: the dose of each component.
    """

    current_A: float | None = None
    charge_per_phase_C: float | None = None
    charge_density_C_per_m2: float | None = None
    shannon_k: float | None = None
    current_density_A_per_m2: float | None = None
    pulse_rate_Hz: float | None = None
    pulses_per_session: float | None = None
    session_duration_s: float | None = None
    charge_per_session_C: float | None = None
    net_charge_per_session_C: float | None = None
    sessions: int | None = None
    cumulative_pulses: float | None = None
    cumulative_charge_C: float | None = None
    cumulative_duration_s: float | None = None
    envelope_frequency_Hz: float | None = None
    components: tuple[DoseMetrics, ...] = field(default=())

    def to_dict(self) -> dict[str, Any]:
        """Return the metrics as a JSON-able dict with SI-suffixed keys.

        Returns
        -------
        dict
            Keys of :data:`DOSE_KEYS` (``None`` where not determined), plus
            ``components`` (a list of dicts) for a combination.
        """
        d = asdict(self)
        comps = d.pop("components")
        if comps:
            d["components"] = [c.to_dict() for c in self.components]
        return d

    def summary(self) -> str:
        """Return the determined metrics, one per line, in clinical units.

        Returns
        -------
        str
            e.g. ``"charge_per_session_C: 2.4 C"``.
        """
        lines = []
        for key in DOSE_KEYS:
            value = getattr(self, key)
            if value is None:
                continue
            lines.append(f"{key}: {display_value(key, value)}")
        for i, comp in enumerate(self.components):
            lines.append(f"component {i}:")
            lines.extend("  " + line for line in comp.summary().splitlines())
        return "\n".join(lines) if lines else "(no dose metric determined)"

    def to_frame(self) -> Any:
        """Return a one-row pandas DataFrame of the SI metrics.

        Returns
        -------
        pandas.DataFrame
            Columns :data:`DOSE_KEYS`.
        """
        import pandas as pd

        return pd.DataFrame([{k: getattr(self, k) for k in DOSE_KEYS}])


def display_value(key: str, value: float) -> str:
    """Format one SI dose value in its clinical display unit.

    Parameters
    ----------
    key : str
        A key of :data:`DOSE_KEYS`.
    value : float
        SI value.

    Returns
    -------
    str
        e.g. ``"2 mA"``; dimensionless keys are printed as numbers.
    """
    if key in _DISPLAY:
        si, disp = _DISPLAY[key]
        return format_si(value, si, disp)
    if key in ("pulses_per_session", "cumulative_pulses", "sessions"):
        return f"{value:,.0f}"
    return f"{value:.4g}"


def times(a: float | None, b: float | int | None) -> float | None:
    """Return ``a * b`` as a float, or ``None`` when either is undetermined.

    Parameters
    ----------
    a, b : float or None
        Factors.

    Returns
    -------
    float or None
        The product.
    """
    return None if a is None or b is None else float(a) * float(b)


def session_dose(per_session: dict[str, Any], sessions: int | None) -> DoseMetrics:
    """Build the dose metrics from the per-session values and the number of sessions.

    The shared part of every protocol's ``dose()``: the cumulative values are the
    per-session values times the sessions of the schedule.

    Parameters
    ----------
    per_session : dict
        Keys of :data:`DOSE_KEYS` determined per session (SI); missing keys are ``None``.
    sessions : int or None
        Sessions of the schedule.

    Returns
    -------
    DoseMetrics
        Per-session and cumulative metrics.
    """
    base = dict(per_session)
    base["sessions"] = sessions
    base["cumulative_pulses"] = times(base.get("pulses_per_session"), sessions)
    base["cumulative_charge_C"] = times(base.get("charge_per_session_C"), sessions)
    base["cumulative_duration_s"] = times(base.get("session_duration_s"), sessions)
    return DoseMetrics(**base)


def compute_dose(protocol: ProtocolBase) -> DoseMetrics:
    """Compute the dose metrics of a protocol (its own :meth:`~ProtocolBase.dose`).

    Parameters
    ----------
    protocol : ProtocolBase
        Any protocol.

    Returns
    -------
    DoseMetrics
        SI values; ``None`` where the protocol does not determine a metric.
    """
    return protocol.dose()
