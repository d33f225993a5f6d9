"""Shared pieces of the therapy models: after-effect accumulation, tolerance, helpers."""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from phantomlab.protocols import ProtocolBase
from phantomlab.therapies.base import Calendar

__all__ = ["aftereffect", "buildup", "get_si", "hill", "tolerance"]

Arr = NDArray[np.float64]


def get_si(protocol: ProtocolBase, name: str, default: float) -> float:
    """Return a protocol quantity in SI, or ``default`` when unset.

    Parameters
    ----------
    protocol : ProtocolBase
        Protocol.
    name : str
        Field name.
    default : float
        Value used when the field is unset.

    Returns
    -------
    float
        The value.
    """
    v = getattr(protocol, name, None)
    return float(default) if v is None else float(v)


def hill(x: Arr | float, half: Arr | float, n: float) -> Arr:
    """Saturating Hill function ``x^n / (x^n + half^n)`` (0 at x = 0).

    Parameters
    ----------
    x : float or ndarray
        Input (≥ 0).
    half : float or ndarray
        Half-saturation input.
    n : float
        Hill exponent.

    Returns
    -------
    ndarray
        Value 0–1.
    """
    xx = np.maximum(np.asarray(x, float), 0.0) ** n
    return np.asarray(xx / (xx + np.asarray(half, float) ** n))


def aftereffect(cal: Calendar, t: int, per_session: Arr, tau: float, a_max: float) -> Arr:
    """After-effect accumulated over the sessions up to day offset ``t``.

    ``A(t) = A_max tanh( Σ_k c_k a exp(-(t - s_k)/τ) / A_max )`` over past
    sessions ``s_k`` with counts ``c_k``: each session adds an after-effect
    ``a`` (per patient) that decays with ``τ``; repeated sessions accumulate
    and saturate at ``±A_max``.

    Parameters
    ----------
    cal : Calendar
        Session calendar.
    t : int
        Day offset from the start of the course.
    per_session : ndarray, shape (n,)
        After-effect of one session per patient (signed).
    tau : float
        Decay time constant, days.
    a_max : float
        Saturation level (> 0).

    Returns
    -------
    ndarray, shape (n,)
        After-effect on day ``t`` (0 before the first session).
    """
    days, counts = cal.sessions_before(t)
    if days.size == 0:
        return np.zeros_like(np.asarray(per_session, float))
    w = float(np.sum(counts * np.exp(-(t - days) / tau)))
    return np.asarray(a_max * np.tanh(np.asarray(per_session, float) * w / a_max))


def buildup(cal: Calendar, t: int, tau_on: float, tau_off: float) -> float:
    """Fraction of the steady effect of a continuous course on day offset ``t``.

    Rises as ``1 - exp(-(t+1)/τ_on)`` while the device is on and decays with
    ``τ_off`` after it is switched off.

    Parameters
    ----------
    cal : Calendar
        A continuous calendar.
    t : int
        Day offset.
    tau_on, tau_off : float
        Rise and decay time constants, days.

    Returns
    -------
    float
        0–1.
    """
    if t < 0:
        return 0.0
    last = cal.last_day
    if t <= last:
        return float(1.0 - np.exp(-(t + 1) / tau_on))
    peak = 1.0 - np.exp(-(last + 1) / tau_on)
    return float(peak * np.exp(-(t - last) / tau_off))


def tolerance(t_on: float, tau: float, h: Arr) -> Arr:
    """Efficacy left after ``t_on`` days of use: ``1 - h (1 - exp(-t_on/τ))``.

    Parameters
    ----------
    t_on : float
        Days of use so far (≥ 0).
    tau : float
        Time constant of habituation, days.
    h : ndarray, shape (n,)
        Per-patient maximal loss of efficacy (0–1).

    Returns
    -------
    ndarray, shape (n,)
        Multiplier 0–1.
    """
    return np.asarray(1.0 - h * (1.0 - np.exp(-max(t_on, 0.0) / tau)))
