"""Psychological level: catastrophizing, anxiety and depression as traits and slow states.

Each virtual patient has three traits (z-scores): pain catastrophizing,
anxiety and depression. Each drives a slow state that relaxes toward the trait
plus a feedback from yesterday's pain (stress and PLP are bidirectional; Fuchs,
Flor & Bekrater-Bodmann 2018, mechanisms.md §5). The states act on pain in two
places:

* **descending modulation**: catastrophizing lowers descending inhibition of
  the dorsal horn (Vase et al. 2011 found catastrophizing associated with
  wind-up-like pain, not with thresholds; mechanisms.md §5);
* **gain**: a multiplicative gain ``exp(β_c·C + β_a·A + β_d·D − β_e·expectation)``
  on the pain readout.

The couplings are calibrated so that catastrophizing explains 25–35 % of the
between-patient variance of PLP (Hill et al. 1995: 26 %; Vase et al. 2011:
35 %; mechanisms.md §5). All arrays are vectorized over patients.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from phantomlab.mechanisms.provenance import param

__all__ = [
    "TRAIT_CORR",
    "descending_drop",
    "pain_gain",
    "placebo_descending",
    "sample_traits",
    "step_placebo",
    "step_states",
]

_M = "psyche"
_VASE = "Vase et al. 2011, Pain 152:157, doi:10.1016/j.pain.2010.10.013; Hill et al. 1995"

TRAIT_CORR = param(
    _M, "trait_correlation", 0.4, "1", "assumed",
    note="catastrophizing, anxiety and depression are positively correlated traits; "
    "the value was not read (Vase 2011 found catastrophizing's effect independent of both)",
)  # fmt: skip
TAU_STATE = param(
    _M, "tau_state", 14.0, "day", "assumed",
    note="mood and catastrophizing states change over weeks; time constant not read",
)  # fmt: skip
FEEDBACK = param(
    _M, "pain_feedback", 0.6, "z per 10 NRS", "assumed",
    note="stress and PLP are bidirectional (Fuchs 2018); strength not read. State shift "
    "in z units per 10 NRS points of yesterday's pain",
)  # fmt: skip
PAIN_NEUTRAL = param(
    _M, "pain_neutral", 3.0, "NRS", "assumed",
    note="yesterday's pain at which states sit at their traits; higher pain worsens them",
)  # fmt: skip
D_CAT = param(
    _M, "descending_drop_catastrophizing", 7.65, "Hz", "calibrated", _VASE,
    "loss of descending inhibition per z of catastrophizing state; tuned with beta_cat so "
    "catastrophizing explains ~30% of between-patient PLP variance (midpoint of Hill 26 % "
    "and Vase 35 %; tests/mechanisms/test_patient.py). Recalibrated 2026-12-08 (issue #15): "
    "both couplings scaled by 0.9 after the saturating cortical amplification had moved R^2 "
    "to 0.368 / 0.347 (reorganization / persistence); 0.318 / 0.298 after (seed 2, 1,000 "
    "patients, 365 d; 0.294 / 0.271 at 0.85, 0.273 / 0.248 at 0.8)",
)  # fmt: skip
BETA_CAT = param(
    _M, "beta_cat", 0.297, "1/z", "calibrated", _VASE,
    "log-gain per z of catastrophizing; tuned with descending_drop_catastrophizing (both "
    "scaled by 0.9 from 8.5 Hz / 0.33 on 2026-12-08, see there)",
)  # fmt: skip
BETA_ANX = param(
    _M, "beta_anx", 0.05, "1/z", "assumed",
    note="anxiety adds little beyond catastrophizing (Vase 2011: catastrophizing effect "
    "independent of anxiety and depression); small positive gain",
)  # fmt: skip
BETA_DEP = param(
    _M, "beta_dep", 0.05, "1/z", "assumed",
    note="as for anxiety (Vase 2011); small positive gain",
)  # fmt: skip
BETA_EXP = param(
    _M, "beta_expectation", 0.4, "1", "assumed",
    note="log-gain reduction (cognitive/affective reappraisal) at full placebo response; "
    "a trial-level placebo response is to be calibrated by the cohorts package",
)  # fmt: skip
D_EXP = param(
    _M, "descending_placebo", 6.0, "Hz", "assumed",
    note="added descending inhibition of the dorsal horn at full placebo response: placebo "
    "analgesia recruits descending (opioidergic) control down to the spinal cord (Eippert "
    "et al. 2009 Science 326:404, qualitative, not read here). Size chosen so a blinded "
    "sham course gives a placebo response of the order of Malavera 2016's sham arm "
    "(-22.9% at day 15, evidence.md)",
)  # fmt: skip
TAU_PLACEBO = param(
    _M, "tau_placebo", 3.0, "day", "assumed",
    note="the placebo response grows with repeated treatment experience (conditioning) and "
    "fades when expectation is withdrawn; time constant not read",
)  # fmt: skip


def sample_traits(n: int, rng: np.random.Generator) -> NDArray[np.float64]:
    """Draw trait z-scores (catastrophizing, anxiety, depression).

    Parameters
    ----------
    n : int
        Number of patients.
    rng : Generator
        Randomness.

    Returns
    -------
    ndarray, shape (n, 3)
        Correlated standard-normal traits.
    """
    c = np.full((3, 3), TRAIT_CORR)
    np.fill_diagonal(c, 1.0)
    return rng.standard_normal((n, 3)) @ np.linalg.cholesky(c).T


def step_states(
    states: NDArray[np.float64], traits: NDArray[np.float64], pain: NDArray[np.float64]
) -> NDArray[np.float64]:
    """Advance the slow states by one day.

    Parameters
    ----------
    states, traits : ndarray, shape (n, 3)
        Current states and traits (z).
    pain : ndarray, shape (n,)
        Yesterday's pain, NRS 0–10.

    Returns
    -------
    ndarray, shape (n, 3)
        New states.
    """
    target = traits + FEEDBACK * (pain[:, None] - PAIN_NEUTRAL) / 10.0
    return states + (target - states) / TAU_STATE


def step_placebo(
    placebo: NDArray[np.float64], expectation: NDArray[np.float64] | float
) -> NDArray[np.float64]:
    """Advance the conditioned placebo response by one day toward the expectation lever.

    Parameters
    ----------
    placebo : ndarray, shape (n,)
        Current placebo response (0–1).
    expectation : float or ndarray
        Lever: positive expectation of the course, 0–1.

    Returns
    -------
    ndarray, shape (n,)
        New placebo response.
    """
    return placebo + (np.asarray(expectation, float) - placebo) / TAU_PLACEBO


def placebo_descending(placebo: NDArray[np.float64] | float) -> NDArray[np.float64]:
    """Return the descending inhibition added by the placebo response, Hz-equivalent.

    Parameters
    ----------
    placebo : float or ndarray
        Placebo response (0–1).

    Returns
    -------
    ndarray
        Added descending inhibition (≥ 0).
    """
    return D_EXP * np.asarray(placebo, float)


def descending_drop(states: NDArray[np.float64]) -> NDArray[np.float64]:
    """Loss of descending inhibition caused by the catastrophizing state, Hz-equivalent.

    Parameters
    ----------
    states : ndarray, shape (n, 3)
        States.

    Returns
    -------
    ndarray, shape (n,)
        Drop of D (positive = less inhibition).
    """
    return D_CAT * states[:, 0]


def pain_gain(
    states: NDArray[np.float64], expectation: NDArray[np.float64] | float = 0.0
) -> NDArray[np.float64]:
    """Multiplicative psychological gain on the pain readout.

    Parameters
    ----------
    states : ndarray, shape (n, 3)
        States (catastrophizing, anxiety, depression).
    expectation : float or ndarray
        Lever: positive expectation / placebo, 0–1.

    Returns
    -------
    ndarray, shape (n,)
        Gain (1 = neutral).
    """
    z = BETA_CAT * states[:, 0] + BETA_ANX * states[:, 1] + BETA_DEP * states[:, 2]
    return np.exp(z - BETA_EXP * np.asarray(expectation, float))
