"""Dose metrics of a protocol, in SI units, with clinical-unit display.

Definitions (all per session unless named cumulative):

* charge per phase ``Q = I * PW`` (C); for a sinusoid of amplitude ``I`` at
  frequency ``f`` the charge of one half cycle, ``Q = I / (pi f)``;
* geometric charge density per phase ``D = Q / A`` (C/m^2), ``A`` the contact area;
* Shannon ``k = log10(Q[uC/phase]) + log10(D[uC/cm^2/phase])`` (Shannon, IEEE TBME
  39:424, 1992);
* current density ``J = I / A`` (A/m^2), ``I`` the amplitude (tDCS: plateau current;
  TI: the largest pair current);
* charge per session: tDCS ``I * (duration + (ramp_up + ramp_down) / 2)`` (C);
  pulsed stimulation ``Q * pulses per session`` (the charge of the leading phases);
* pulses per session: rTMS from trains x pulses per train (or train duration x
  rate, or the stated number); electrode stimulation pulse rate x duration, where the
  pulse rate of a burst pattern is ``burst_frequency * pulses_per_burst``;
* cumulative values: per-session value x number of sessions of the schedule;
* TI envelope frequency ``|f1 - f2|`` (Hz) (Grossman et al., Cell 169:1029, 2017).

A metric that the protocol does not determine is ``None`` (never guessed).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from typing import Any

from phantomlab._result import Result
from phantomlab._units import format_si
from phantomlab.protocols._base import ProtocolBase
from phantomlab.protocols._types import parse_intensity
from phantomlab.protocols.electrical import PulsedElectrical
from phantomlab.protocols.models import TDCS, TI, Combination, Sham
from phantomlab.protocols.noninvasive import RTMS

__all__ = ["DOSE_KEYS", "DoseMetrics", "compute_dose", "shannon_k"]

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
        Charge per session, C.
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


def _times(a: float | None, b: float | int | None) -> float | None:
    return None if a is None or b is None else float(a) * float(b)


def _cumulative(base: dict[str, Any], sessions: int | None) -> dict[str, Any]:
    base["sessions"] = sessions
    base["cumulative_pulses"] = _times(base.get("pulses_per_session"), sessions)
    base["cumulative_charge_C"] = _times(base.get("charge_per_session_C"), sessions)
    base["cumulative_duration_s"] = _times(base.get("session_duration_s"), sessions)
    return base


def _sessions(p: ProtocolBase) -> int | None:
    return p.schedule.n_sessions() if p.schedule is not None else None


def _electrical(p: PulsedElectrical) -> dict[str, Any]:
    current = p.amplitude
    if current is None and p.voltage is not None and p.impedance is not None:
        current = p.voltage / p.impedance
    q: float | None = None
    if current is not None:
        if p.pulse_shape == "sinusoidal":
            q = current / (math.pi * p.frequency) if p.frequency is not None else None
        elif p.pulse_width is not None:
            q = current * p.pulse_width
    area = p.contact_area
    d = q / area if q is not None and area is not None else None
    k = shannon_k(q, d) if q is not None and d is not None else None
    rate = p.frequency
    if p.burst_frequency is not None and p.pulses_per_burst is not None:
        rate = p.burst_frequency * p.pulses_per_burst
    elif p.burst_frequency is not None:
        rate = None  # pulses per burst unknown
    if p.pulse_shape == "sinusoidal" and p.frequency is not None:
        rate = 2 * p.frequency  # half cycles (phases) per second
    pulses = _times(rate, p.duration)
    return {
        "current_A": current,
        "charge_per_phase_C": q,
        "charge_density_C_per_m2": d,
        "shannon_k": k,
        "current_density_A_per_m2": current / area if current and area else None,
        "pulse_rate_Hz": rate,
        "pulses_per_session": pulses,
        "session_duration_s": p.duration,
        "charge_per_session_C": _times(q, pulses),
    }


def _tdcs(p: TDCS) -> dict[str, Any]:
    area = p.electrode_area
    charge = None
    total_time = None
    if p.duration is not None:
        total_time = p.duration + (p.ramp_up or 0.0) + (p.ramp_down or 0.0)
        if p.current is not None:
            charge = p.current * (p.duration + ((p.ramp_up or 0.0) + (p.ramp_down or 0.0)) / 2)
    return {
        "current_A": p.current,
        "current_density_A_per_m2": p.current / area if p.current and area else None,
        "session_duration_s": total_time,
        "charge_per_session_C": charge,
    }


def _rtms(p: RTMS) -> dict[str, Any]:
    tbs = p.pattern in ("iTBS", "cTBS", "imTBS")
    per_pulse_group = (p.pulses_per_burst or 0) if tbs else 1
    pulses: float | None = None
    if p.pulses_per_session is not None:
        pulses = float(p.pulses_per_session)
    elif p.trains is not None and p.pulses_per_train is not None:
        pulses = float(p.trains * p.pulses_per_train)
    elif (
        p.trains is not None
        and p.train_duration is not None
        and p.frequency is not None
        and per_pulse_group
    ):
        pulses = float(round(p.trains * p.train_duration * p.frequency * per_pulse_group))
    elif (
        p.trains is None
        and p.train_duration is None
        and p.duration is not None
        and p.frequency is not None
        and not tbs
    ):
        pulses = float(round(p.duration * p.frequency))  # continuous (e.g. 1 Hz) rTMS
    duration = p.duration
    if duration is None and p.trains is not None and p.train_duration is not None:
        iti = p.inter_train_interval
        if iti is not None or p.trains == 1:
            duration = p.trains * p.train_duration + (p.trains - 1) * (iti or 0.0)
    rate = p.frequency * per_pulse_group if p.frequency is not None and per_pulse_group else None
    return {"pulse_rate_Hz": rate, "pulses_per_session": pulses, "session_duration_s": duration}


def _ti(p: TI) -> dict[str, Any]:
    out: dict[str, Any] = {"session_duration_s": p.duration}
    if p.pairs is None:
        return out
    freqs = [q.frequency for q in p.pairs]
    if freqs[0] is not None and freqs[1] is not None:
        out["envelope_frequency_Hz"] = abs(freqs[0] - freqs[1])
    currents = [q.current for q in p.pairs]
    if all(c is not None for c in currents):
        peak = max(c for c in currents if c is not None)
        out["current_A"] = peak
        if p.electrode_area is not None:
            out["current_density_A_per_m2"] = peak / p.electrode_area
    return out


def _sham(p: Sham) -> dict[str, Any]:
    out: dict[str, Any] = {"session_duration_s": p.active_duration}
    active = p.active()
    if isinstance(active, TDCS) and active.current is not None and p.active_duration:
        out["current_A"] = active.current
        out["charge_per_session_C"] = active.current * p.active_duration
    return out


def compute_dose(protocol: ProtocolBase) -> DoseMetrics:
    """Compute the dose metrics of a protocol.

    Parameters
    ----------
    protocol : ProtocolBase
        Any protocol.

    Returns
    -------
    DoseMetrics
        SI values; ``None`` where the protocol does not determine a metric.
    """
    if isinstance(protocol, Combination):
        comps = tuple(compute_dose(c) for c in protocol.components)
        return DoseMetrics(sessions=_sessions(protocol), components=comps)
    base: dict[str, Any]
    if isinstance(protocol, PulsedElectrical):
        base = _electrical(protocol)
    elif isinstance(protocol, TDCS):
        base = _tdcs(protocol)
    elif isinstance(protocol, RTMS):
        base = _rtms(protocol)
    elif isinstance(protocol, TI):
        base = _ti(protocol)
    elif isinstance(protocol, Sham):
        base = _sham(protocol)
    else:  # behavioural: time on task
        base = {"session_duration_s": getattr(protocol, "duration", None)}
    return DoseMetrics(**_cumulative(base, _sessions(protocol)))


def intensity_percent(protocol: RTMS) -> tuple[float | None, str | None]:
    """Return (percent, reference) of an rTMS intensity, or (None, None).

    Parameters
    ----------
    protocol : RTMS
        The protocol.

    Returns
    -------
    tuple
        ``(90.0, "MT")`` for ``"90 %MT"``.
    """
    if protocol.intensity is None:
        return None, None
    return parse_intensity(protocol.intensity)
