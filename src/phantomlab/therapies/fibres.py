"""Fibre-threshold model of extracellular stimulation of myelinated afferents.

A point current source ``I`` in a homogeneous medium of conductivity ``σ``
gives the potential ``V(x) = I / (4πσ sqrt(x² + r²))`` along a straight
myelinated fibre at distance ``r``. The fibre is excited where the second
difference of ``V`` over its nodes of Ranvier (the discrete activating
function, Rattay) exceeds a threshold; for the node closest to the source::

    ΔV = I / (4πσ) · 2 (1/r − 1/sqrt(L² + r²)),      L = k_L · D

with internode length ``L`` proportional to the fibre diameter ``D``.
Thresholds follow the Weiss/Lapicque strength-duration law
``I(pw) ∝ 1 + chronaxie / pw``. Larger fibres (longer internodes) therefore
have lower thresholds and are recruited first.

The one threshold ``ΔV_th`` is calibrated to the MRG-model threshold of a
10 µm fibre 1 mm from a point source in 0.3 S/m, 0.1 ms pulse (0.1831 mA;
pyfibers 0.13 + NEURON, shared/research/fields.md §6.4); the same run's 5.7 µm
and 16 µm thresholds are an independent check (tests/therapies/test_fibres.py).
"""

from __future__ import annotations

import math

import numpy as np
from numpy.typing import NDArray

from phantomlab.therapies._params import tparam

__all__ = [
    "activating_drive",
    "lognormal_grid",
    "recruited_fraction",
    "strength_duration",
    "threshold_current",
]

Arr = NDArray[np.float64]
_M = "fibres"
_PYF = "MRG thresholds, pyfibers 0.13 + NEURON 9.0.2 (shared/research/fields.md §6.4)"

REF_THRESHOLD = tparam(
    _M, "mrg_threshold_10um", 0.1831e-3, "A", (0.1831e-3, 0.1831e-3), "source", _PYF,
    "10 µm MRG fibre, point source 1 mm away, 0.3 S/m, 0.1 ms monophasic pulse",
)  # fmt: skip
REF_SIGMA = 0.3
REF_DIST = 1e-3
REF_DIAM = 10e-6
REF_PW = 0.1e-3
K_INTERNODE = tparam(
    _M, "internode_per_diameter", 100.0, "1", (70.0, 150.0), "assumed",
    note="internode length proportional to fibre diameter (classic scaling of myelinated "
    "axons); factor not read in the research notes",
)  # fmt: skip
CHRONAXIE = tparam(
    _M, "chronaxie", 0.2e-3, "s", (0.05e-3, 0.5e-3), "assumed",
    note="strength-duration chronaxie of large myelinated afferents; dorsal-column "
    "chronaxie is lower than dorsal-root (PMC6843088 Fig. 8, values not seen)",
)  # fmt: skip


def activating_drive(diameter: Arr | float, distance: Arr | float) -> Arr:
    """Second difference of ``1/dist`` at the node nearest a point source, 1/m.

    Parameters
    ----------
    diameter : float or ndarray
        Fibre diameter, m.
    distance : float or ndarray
        Source-to-fibre distance, m (broadcast with ``diameter``).

    Returns
    -------
    ndarray
        ``2 (1/r - 1/sqrt(L² + r²))`` with ``L = k_L D``.
    """
    d = np.asarray(diameter, float)
    r = np.maximum(np.asarray(distance, float), 1e-6)
    L = K_INTERNODE.value * d
    return np.asarray(2.0 * (1.0 / r - 1.0 / np.sqrt(L * L + r * r)))


def strength_duration(pulse_width: Arr | float) -> Arr:
    """Weiss strength-duration factor ``1 + chronaxie / pw`` (rheobase = 1).

    Parameters
    ----------
    pulse_width : float or ndarray
        Phase duration, s.

    Returns
    -------
    ndarray
        Threshold multiplier relative to rheobase.
    """
    pw = np.maximum(np.asarray(pulse_width, float), 1e-7)
    return np.asarray(1.0 + CHRONAXIE.value / pw)


def _dv_threshold() -> float:
    """Calibrated activating-function threshold (V), from the 10 µm reference."""
    drive = float(activating_drive(REF_DIAM, REF_DIST))
    return REF_THRESHOLD.value / (4 * math.pi * REF_SIGMA) * drive


DV_THRESHOLD = tparam(
    _M, "dv_threshold", _dv_threshold(), "V", (_dv_threshold(), _dv_threshold()),
    "calibrated", _PYF, "closed form: reproduces the 10 µm / 1 mm / 0.1 ms MRG threshold",
)  # fmt: skip


def threshold_current(
    diameter: Arr | float, distance: Arr | float, pulse_width: float, sigma: float
) -> Arr:
    """Threshold current of a fibre for a point source, A.

    Parameters
    ----------
    diameter : float or ndarray
        Fibre diameter, m.
    distance : float or ndarray
        Source-to-fibre distance, m.
    pulse_width : float
        Phase duration, s.
    sigma : float
        Conductivity of the medium, S/m.

    Returns
    -------
    ndarray
        Threshold, A (broadcast shape of ``diameter`` and ``distance``).
    """
    drive = activating_drive(diameter, distance)
    sd = strength_duration(pulse_width) / strength_duration(REF_PW)
    return np.asarray(DV_THRESHOLD.value * 4 * math.pi * sigma / drive * sd)


def lognormal_grid(median: float, sigma: float, n: int = 24) -> tuple[Arr, Arr]:
    """Quadrature nodes and weights of a log-normal diameter distribution.

    Parameters
    ----------
    median : float
        Median diameter, m.
    sigma : float
        Log-space standard deviation.
    n : int
        Number of nodes (equal-probability bins, ±3σ).

    Returns
    -------
    nodes, weights : ndarray
        Diameters (m) and probability weights summing to 1.
    """
    z = np.linspace(-3.0, 3.0, n)
    w = np.exp(-0.5 * z * z)
    return median * np.exp(sigma * z), w / w.sum()


def recruited_fraction(
    current: Arr | float,
    distance: Arr,
    pulse_width: float,
    sigma: float,
    diam_nodes: Arr,
    diam_weights: Arr,
    depth: Arr,
) -> Arr:
    """Fraction of a fibre population above threshold, per patient (vectorized).

    Fibres have diameters from ``(diam_nodes, diam_weights)`` and lie uniformly
    at the depths ``depth`` beyond the patient's source distance.

    Parameters
    ----------
    current : float or ndarray, shape (n,)
        Stimulus amplitude, A (≥ 0).
    distance : ndarray, shape (n,)
        Source-to-population distance per patient, m.
    pulse_width : float
        Phase duration, s.
    sigma : float
        Conductivity, S/m.
    diam_nodes, diam_weights : ndarray, shape (k,)
        Diameter distribution.
    depth : ndarray, shape (m,)
        Depths of fibres below the population surface, m (uniform weights).

    Returns
    -------
    ndarray, shape (n,)
        Recruited fraction 0–1.
    """
    r = np.asarray(distance, float)[:, None, None] + depth[None, None, :]
    th = threshold_current(diam_nodes[None, :, None], r, pulse_width, sigma)
    i = np.asarray(current, float).reshape(-1, 1, 1)
    above = (th <= i).astype(float)
    return np.asarray((above.mean(axis=2) * diam_weights[None, :]).sum(axis=1))
