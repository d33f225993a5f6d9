"""Motor-cortex after-effects and their two routes to the virtual patient.

rTMS, tDCS and MCS change M1 excitability. The change (a fraction, like an MEP
change: +0.2 = 20% more excitable) reaches the virtual patient by two levers:

* ``cortical_excitability = 1 + A`` (S1/M1 field gain of the cortical model);
* ``descending_inhibition = k · max(A, 0)``: facilitatory M1 stimulation is
  analgesic through top-down (descending) modulation; only excitatory M1
  stimulation relieved PLP in the pooled trials (Pacheco-Barrios 2020:
  excitatory M1 stimulation g = −1.36; Irlbacher 2006: 1 Hz no lasting effect).
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from phantomlab.therapies._params import tparam

__all__ = ["K_DESC", "RESPONSE_SD", "draw_response", "m1_levers"]

Arr = NDArray[np.float64]
_M = "m1"

K_DESC = tparam(
    _M, "descending_per_facilitation", 60.0, "Hz", (0.0, 200.0), "calibrated",
    "Malavera 2016 J Pain 17:911: active - sham VAS change 30.4% at day 15 (evidence.md row 21)",
    "descending inhibition (Hz-equivalent) per unit of M1 facilitation; hand-set so the "
    "reference rTMS course beats its sham by the order of Malavera's difference at day 15 "
    "(test_reference_rtms); not a fit",
)  # fmt: skip
RESPONSE_SD = tparam(
    _M, "response_log_sd", 0.6, "1", (0.0, 1.5), "assumed",
    note="log-normal spread of the after-effect across people; cTBS reduced MEPs in only "
    "8/16 subjects (PMC3665911), spread not read",
)  # fmt: skip


def m1_levers(a: Arr, k_desc: float = K_DESC.value) -> dict[str, Arr]:
    """Levers of an M1 after-effect ``A`` (fraction of excitability change).

    Parameters
    ----------
    a : ndarray, shape (n,)
        After-effect (signed).
    k_desc : float
        Descending inhibition per unit of facilitation, Hz (``m1.descending_per_facilitation``).

    Returns
    -------
    dict of str to ndarray
        ``cortical_excitability`` and ``descending_inhibition``.
    """
    return {
        "cortical_excitability": 1.0 + a,
        "descending_inhibition": k_desc * np.maximum(a, 0.0),
    }


def draw_response(n: int, rng: np.random.Generator, sd: float = RESPONSE_SD.value) -> Arr:
    """Per-patient responsiveness to M1 plasticity protocols (mean 1).

    Parameters
    ----------
    n : int
        Patients.
    rng : Generator
        Random stream.
    sd : float
        Log-normal spread (``m1.response_log_sd``).

    Returns
    -------
    ndarray, shape (n,)
        Log-normal multiplier.
    """
    return np.exp(sd * rng.standard_normal(n) - 0.5 * sd**2)
