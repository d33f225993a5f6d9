"""Cortical level: a somatotopic S1 strip as a dynamic neural field with Hebbian learning.

The model is the neural-field self-organizing map of Detorakis & Rougier 2012
(PLoS ONE 7:e40257, doi:10.1371/journal.pone.0040257), reimplemented from the
equations quoted in shared/research/mechanisms.md §1.5 and reduced from a 2-D
sheet of area 3b to a 1-D mediolateral strip (lip/face – hand – arm, the order
of the homunculus, so that the lip lies next to the hand)::

    τ dU/dt = −U + g_exc·(W_e − W_i) ⊛ f(U) + I,     f(U) = max(U, 0)
    I_i     = α (1 − mean_j |w_ij − s_j|)  (+ efference input to the hand zone)
    Δw_ij   = −γ · L_e,i · (w_ij − s_j),   L_e = W_e ⊛ f(U)

Kernels are Gaussians whose integrals equal those of the 2-D model
(K_e = 3.72·960/n², σ_e = 0.1; K_i = 2.40·960/n², σ_i = 1.0; α = 0.1; stimulus
width 0.08): the 1-D reduction keeps the total lateral excitation and
inhibition a unit receives (an ``assumed`` reduction).

Amputation removes the structured input of the hand receptors; they carry only
unstructured ectopic noise whose amplitude follows the nociceptive channel
(Spitzer et al. 1995 attribute reorganization to such noise; Boström et al.
2014 drive their model with spontaneous activity of deafferented channels).
Phantom movements add an efference input to the former hand zone.

All arrays are vectorized over patients: weights ``(n_patients, N_CORTEX,
N_RECEPTORS)`` (float32), activities ``(n_patients, N_CORTEX)``.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

import numpy as np
from numpy.typing import NDArray

from phantomlab.mechanisms.provenance import param

__all__ = [
    "HAND",
    "LIP",
    "N_CORTEX",
    "N_RECEPTORS",
    "field_input",
    "hebbian_update",
    "kernels",
    "lip_position_mm",
    "preferred_position",
    "settle",
    "stimulus",
    "template_map",
]

_M = "cortical"
_DR = "Detorakis & Rougier 2012, PLoS ONE 7:e40257 (mechanisms.md §1.5)"
F32 = np.float32

N_CORTEX = int(
    param(
        _M, "n_cortex", 32, "units", "assumed",
        note="1-D reduction of the 32x32 field of Detorakis & Rougier 2012 to one row of 32",
    )
)  # fmt: skip
N_RECEPTORS = int(
    param(
        _M, "n_receptors", 24, "receptors", "assumed",
        note="8 lip/face, 8 hand, 8 arm receptors: 1-D reduction of the 16x16 skin grid",
    )
)  # fmt: skip
ALPHA = param(_M, "alpha", 0.1, "1", "source", _DR, "input and kernel scale α")
TAU = param(_M, "tau", 1.0, "1", "source", _DR, "field time constant (model time units)")
SIGMA_E = param(_M, "sigma_e", 0.1, "1", "source", _DR, "excitatory kernel width")
SIGMA_I = param(_M, "sigma_i", 1.0, "1", "source", _DR, "inhibitory kernel width")
K_E2 = param(_M, "K_e", 3.72 * 960 / 32**2, "1", "source", _DR, "3.72·960/n², n = 32")
K_I2 = param(_M, "K_i", 2.40 * 960 / 32**2, "1", "source", _DR, "2.40·960/n², n = 32")
STIM_WIDTH = param(_M, "stim_width", 0.08, "1", "source", _DR, "Gaussian stimulus width")
GAMMA = param(_M, "gamma_training", 0.1, "1", "source", _DR, "learning rate γ (map formation)")
LATERAL_SCALE = param(
    _M, "lateral_scale", 0.1, "1", "assumed",
    note="kernel integrals of the 2-D field scaled by 0.1 for the 32-unit 1-D strip: keeps "
    "the Euler step stable at dt = 0.25 and gives a localized bump (~1/4 of the strip)",
)  # fmt: skip
DT = param(
    _M, "dt", 0.25, "1", "assumed",
    note="Euler step 0.25 τ (source uses 0.1); checked to give the same settled field",
)  # fmt: skip
N_STEPS = int(
    param(
        _M, "settle_steps", 20, "steps", "assumed",
        note="5 τ of settling per stimulus (source: T = 10 τ); bump within ~3% of converged",
    )
)  # fmt: skip
LIP_HAND_MM = param(
    _M, "lip_hand_distance", 63.0, "mm", "source",
    "Makin & Flor 2020, NeuroImage 218:116943, Fig. 3 (mechanisms.md §1.3)",
    "hand area 63 mm medial to the lips in controls; scales the map to cortex",
)  # fmt: skip

#: Receptor positions on the 1-D body axis (0 = lip side, 1 = arm side).
RECEPTOR_POS: NDArray[np.float64] = (np.arange(N_RECEPTORS) + 0.5) / N_RECEPTORS
LIP = np.arange(0, N_RECEPTORS // 3)
HAND = np.arange(N_RECEPTORS // 3, 2 * N_RECEPTORS // 3)
ARM = np.arange(2 * N_RECEPTORS // 3, N_RECEPTORS)
LIP_RANGE = (0.0, 1.0 / 3.0)
HAND_RANGE = (1.0 / 3.0, 2.0 / 3.0)
ARM_RANGE = (2.0 / 3.0, 1.0)
CORTEX_POS: NDArray[np.float64] = (np.arange(N_CORTEX) + 0.5) / N_CORTEX


@lru_cache(maxsize=1)
def kernels() -> tuple[NDArray[np.float32], NDArray[np.float32]]:
    """Lateral kernels of the 1-D field.

    Returns
    -------
    w_e : ndarray, shape (N_CORTEX, N_CORTEX)
        Excitatory kernel (row i: input to unit i), integral preserved from 2-D.
    w_lat : ndarray, shape (N_CORTEX, N_CORTEX)
        ``W_e − W_i``.
    """
    d = np.abs(CORTEX_POS[:, None] - CORTEX_POS[None, :])
    e_tot = K_E2 * 32**2 * 2 * np.pi * SIGMA_E**2 * ALPHA
    # 2-D integral of the σ = 1 Gaussian over the unit torus (exact, separable)
    x = (np.arange(32) + 0.5) / 32
    dx = np.minimum(x, 1 - x)
    i_tot = K_I2 * np.exp(-(dx[:, None] ** 2 + dx[None, :] ** 2) / (2 * SIGMA_I**2)).sum() * ALPHA
    ke = np.exp(-(d**2) / (2 * SIGMA_E**2))
    ki = np.exp(-(d**2) / (2 * SIGMA_I**2))
    ke *= LATERAL_SCALE * e_tot / ke.sum(axis=1).mean()
    ki *= LATERAL_SCALE * i_tot / ki.sum(axis=1).mean()
    return ke.astype(F32), (ke - ki).astype(F32)


def stimulus(position: NDArray[np.float64]) -> NDArray[np.float32]:
    """Receptor activation for touches at body positions (Gaussian, width 0.08).

    Parameters
    ----------
    position : ndarray, shape (n,)
        Body-axis positions in [0, 1].

    Returns
    -------
    ndarray, shape (n, N_RECEPTORS)
        Receptor activations in [0, 1].
    """
    p = np.asarray(position, float)[:, None]
    return np.exp(-((RECEPTOR_POS[None, :] - p) ** 2) / (2 * STIM_WIDTH**2)).astype(F32)


def field_input(w: NDArray[np.float32], s: NDArray[np.float32]) -> NDArray[np.float32]:
    """Thalamocortical input ``α(1 − mean_j |w_ij − s_j|)``.

    Parameters
    ----------
    w : ndarray, shape (n_patients, N_CORTEX, N_RECEPTORS)
        Weights.
    s : ndarray, shape (n_patients, N_RECEPTORS)
        Stimulus.

    Returns
    -------
    ndarray, shape (n_patients, N_CORTEX)
        Input to each unit.
    """
    d = w - s[:, None, :]
    np.abs(d, out=d)
    d = d.sum(axis=-1)
    return F32(ALPHA) - F32(ALPHA / w.shape[-1]) * d


def settle(
    inp: NDArray[np.float32],
    excitability: NDArray[np.float32] | float = 1.0,
    n_steps: int = N_STEPS,
) -> NDArray[np.float32]:
    """Settle the field for a constant input (Euler, vectorized over patients).

    Parameters
    ----------
    inp : ndarray, shape (n_patients, N_CORTEX)
        Input I.
    excitability : float or ndarray, shape (n_patients,)
        Gain on lateral interactions and input (1 = nominal; the lever for
        tDCS/rTMS-like excitability changes).
    n_steps : int
        Euler steps of ``DT``.

    Returns
    -------
    ndarray, shape (n_patients, N_CORTEX)
        Field potential U.
    """
    k = F32(DT / TAU)
    array_gain = bool(np.ndim(excitability))
    g = np.asarray(excitability, F32).reshape(-1, 1) if array_gain else F32(excitability)
    w_k = _lateral_step(1.0 if array_gain else float(excitability))  # k·g·W_lat^T
    drive = (k * g) * inp
    u = np.zeros_like(inp)
    act = np.empty_like(inp)
    lat = np.empty_like(inp)
    for _ in range(n_steps):
        np.maximum(u, F32(0), out=act)
        if array_gain:
            act *= g
        np.matmul(act, w_k, out=lat)
        u *= F32(1) - k
        u += lat
        u += drive
    return u


@lru_cache(maxsize=8)
def _lateral_step(gain: float) -> NDArray[np.float32]:
    """``k·gain·W_lat^T`` (contiguous) for one Euler step with a scalar gain."""
    _, w_lat = kernels()
    return np.ascontiguousarray((DT / TAU * gain) * w_lat.T.astype(float)).astype(F32)


def hebbian_update(
    w: NDArray[np.float32],
    u: NDArray[np.float32],
    s: NDArray[np.float32],
    rate: NDArray[np.floating[Any]] | float,
) -> None:
    """Apply ``Δw = −γ L_e (w − s)`` in place (clipped to [0, 1]).

    Parameters
    ----------
    w : ndarray, shape (n_patients, N_CORTEX, N_RECEPTORS)
        Weights, modified in place.
    u : ndarray, shape (n_patients, N_CORTEX)
        Settled field.
    s : ndarray, shape (n_patients, N_RECEPTORS)
        Stimulus.
    rate : float or ndarray, shape (n_patients,)
        Learning rate γ per patient.
    """
    w_e, _ = kernels()
    le = np.maximum(u, F32(0)) @ w_e.T
    r = np.asarray(rate, F32).reshape(-1, 1) if np.ndim(rate) else F32(rate)
    delta = s[:, None, :] - w
    delta *= (r * le)[:, :, None]
    w += delta


@lru_cache(maxsize=1)
def template_map() -> NDArray[np.float32]:
    """Intact, ordered somatotopic map: the fixed point of the learning rule.

    For an ordered map the Detorakis–Rougier rule converges to weights equal to
    the stimulus pattern at each unit's preferred position; here unit ``i``
    prefers body position ``CORTEX_POS[i]`` (lip laterally, arm medially). The
    pre-amputation map is constructed at this fixed point instead of being
    grown from random weights (map formation is not simulated).

    Returns
    -------
    ndarray, shape (N_CORTEX, N_RECEPTORS)
        Weights of the intact map (do not modify; copy before use).
    """
    w = stimulus(CORTEX_POS)
    w.setflags(write=False)
    return w


@lru_cache(maxsize=1)
def _pos_and_one() -> NDArray[np.float32]:
    return np.stack([RECEPTOR_POS, np.ones(N_RECEPTORS)], axis=1).astype(F32)


def preferred_position(w: NDArray[np.float32]) -> NDArray[np.float64]:
    """Body position each cortical unit prefers (centroid of its squared weights).

    Parameters
    ----------
    w : ndarray, shape (..., N_CORTEX, N_RECEPTORS)
        Weights.

    Returns
    -------
    ndarray, shape (..., N_CORTEX)
        Preferred body positions in [0, 1].
    """
    w = np.asarray(w, F32)
    sums = (w * w) @ _pos_and_one()
    return (sums[..., 0] / np.maximum(sums[..., 1], F32(1e-12))).astype(float)


LIP_MEMBER_WIDTH = param(
    _M, "lip_membership_width", 0.02, "1", "assumed",
    note="read-out only: smooth width (body-axis units) of 'prefers the lip' when "
    "locating the lip representation, like a dipole centroid",
)  # fmt: skip


def _lip_centroid(pref: NDArray[np.float64]) -> NDArray[np.float64]:
    member = 1.0 / (1.0 + np.exp((pref - LIP_RANGE[1]) / LIP_MEMBER_WIDTH))
    return (member @ CORTEX_POS) / np.maximum(member.sum(axis=-1), 1e-9)


def lip_position_mm(w: NDArray[np.float32]) -> NDArray[np.float64]:
    """Cortical centroid of the lip representation, mm from the lateral end of the strip.

    A unit belongs to the lip representation when its preferred body position
    (:func:`preferred_position`) lies in the lip range (smooth membership,
    width 0.02). The map is scaled so that the intact template's lip and hand
    centroids are 63 mm apart (Makin & Flor 2020).

    Parameters
    ----------
    w : ndarray, shape (n_patients, N_CORTEX, N_RECEPTORS)
        Weights.

    Returns
    -------
    ndarray, shape (n_patients,)
        Lip centroid, mm.
    """
    return _lip_centroid(preferred_position(w)) * mm_per_unit()


@lru_cache(maxsize=1)
def mm_per_unit() -> float:
    """Millimetres of cortex per unit length of the strip (63 mm lip–hand distance).

    Returns
    -------
    float
        Scale, mm.
    """
    pref = preferred_position(template_map())
    hand = ((pref >= HAND_RANGE[0]) & (pref < HAND_RANGE[1])).astype(float)
    d = abs(float((hand @ CORTEX_POS) / hand.sum()) - float(_lip_centroid(pref)))
    return LIP_HAND_MM / d


@lru_cache(maxsize=1)
def hand_zone() -> NDArray[np.float32]:
    """Mask of the intact map's hand zone (units preferring hand positions).

    Returns
    -------
    ndarray, shape (N_CORTEX,)
        1.0 inside the former hand zone, 0.0 elsewhere (float32).
    """
    pref = preferred_position(template_map())
    return ((pref >= HAND_RANGE[0]) & (pref < HAND_RANGE[1])).astype(F32)
