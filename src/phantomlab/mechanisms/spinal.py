"""Spinal level: the dorsal-horn firing-rate model of Crodelle & Maia 2021.

Three populations (shared/research/mechanisms.md §3.3; Crodelle J, Maia PD,
Brain Sci 2021;11:505, doi:10.3390/brainsci11040505; equations as quoted from
the authors' code in the note)::

    τP dfP/dt = −fP + P∞( gAβP·fAβ + (gCP + gNMDA)·fC + gEP·fE − gIP·fI − D )
    τE dfE/dt = −fE + E∞( gCE·fC − gIE·fI )
    τI dfI/dt = −fI + I∞( gAβI·fAβ )            (I∞ has a +1 Hz offset)
    τN dgNMDA/dt = −gNMDA + maxG·σ·M∞(fP)
    X∞(c) = maxX · ½ (1 + tanh((c − βX)/αX))

``fAβ`` and ``fC`` are mean rates per afferent fibre (Hz). Two PhantomLab
additions, both marked ``assumed`` in the provenance: a descending-inhibition
term ``D`` (Hz-equivalent, subtracted in the P argument; the lever for
descending modulation, placebo and catastrophizing), and a slow sensitization
factor ``σ ≥ 1`` scaling the NMDA ceiling (central sensitization that builds
over days with P output). Note on M∞: mechanisms.md reports that the authors'
code multiplies by maxG twice; here the equation as written is used (M∞ is a
0–1 sigmoid, ceiling ``maxG·σ``), noted in the model card.

Two solvers: :func:`simulate` integrates the ODEs in time (exponential Euler,
vectorized over runs) for wind-up and gating experiments; :func:`steady_state`
returns the fixed point for constant inputs, vectorized over patients, and is
what the daily model uses (all time constants are ≤ 1 s).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from phantomlab.mechanisms.provenance import param

__all__ = ["SpinalTrace", "simulate", "steady_state", "x_inf"]

_M = "spinal"
_CM = "Crodelle & Maia 2021, Brain Sci 11:505, doi:10.3390/brainsci11040505 (mechanisms.md §3.3)"


def _p(name: str, v: float, unit: str = "1") -> float:
    return param(_M, name, v, unit, "source", _CM)


TAU_P, TAU_E, TAU_I, TAU_N = (
    _p("tau_P", 0.001, "s"),
    _p("tau_E", 0.01, "s"),
    _p("tau_I", 0.02, "s"),
    _p("tau_N", 1.0, "s"),
)
MAX_P, MAX_E, MAX_I, MAX_G = (
    _p("max_P", 50.0, "Hz"),
    _p("max_E", 60.0, "Hz"),
    _p("max_I", 80.0, "Hz"),
    _p("max_G", 2.0),
)
G_AB_P, G_C_P, G_E_P, G_I_P = _p("g_AbP", 0.8), _p("g_CP", 0.8), _p("g_EP", 0.35), _p("g_IP", 1.8)
G_C_E, G_I_E, G_AB_I = _p("g_CE", 1.6), _p("g_IE", 0.6), _p("g_AbI", 0.8)
A_P, B_P = _p("alpha_P", 11.5, "Hz"), _p("beta_P", 28.2, "Hz")
A_E, B_E = _p("alpha_E", 5.2, "Hz"), _p("beta_E", 29.2, "Hz")
A_I, B_I = _p("alpha_I", 9.5, "Hz"), _p("beta_I", 28.0, "Hz")
A_M, B_M = _p("alpha_M", 10.0, "Hz"), _p("beta_M", 38.0, "Hz")
I_OFFSET = _p("I_offset", 1.0, "Hz")


def x_inf(c: NDArray[np.float64], max_x: float, alpha: float, beta: float) -> NDArray[np.float64]:
    """Sigmoidal steady-state rate ``max · ½(1 + tanh((c − β)/α))``.

    Parameters
    ----------
    c : ndarray
        Input, Hz-equivalent.
    max_x, alpha, beta : float
        Ceiling (Hz), slope and threshold (Hz).

    Returns
    -------
    ndarray
        Rate, Hz.
    """
    return max_x * 0.5 * (1.0 + np.tanh((c - beta) / alpha))


def _ei(f_ab: NDArray[np.float64], f_c: NDArray[np.float64]) -> tuple[NDArray, NDArray]:
    f_i = x_inf(G_AB_I * f_ab, MAX_I, A_I, B_I) + I_OFFSET
    f_e = x_inf(G_C_E * f_c - G_I_E * f_i, MAX_E, A_E, B_E)
    return f_e, f_i


def steady_state(
    f_ab: NDArray[np.float64],
    f_c: NDArray[np.float64],
    descending: NDArray[np.float64] | float = 0.0,
    sensitization: NDArray[np.float64] | float = 1.0,
    p0: NDArray[np.float64] | None = None,
    n_iter: int = 40,
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Solve for the fixed point of the dorsal-horn model at constant inputs (vectorized).

    The E and I populations are solved in closed form; P and g_NMDA by damped
    fixed-point iteration started from ``p0`` (the previous day's P, so that a
    sensitized, high-P state persists: hysteresis of the NMDA loop).

    Parameters
    ----------
    f_ab, f_c : ndarray
        Mean Aβ and C rates per fibre, Hz.
    descending : float or ndarray
        Descending inhibition D, Hz-equivalent.
    sensitization : float or ndarray
        NMDA ceiling factor σ (≥ 1).
    p0 : ndarray, optional
        Starting P rate, Hz (default 0).
    n_iter : int
        Iterations.

    Returns
    -------
    f_p : ndarray
        Projection-neuron rate, Hz.
    g_nmda : ndarray
        NMDA conductance at the fixed point.
    """
    f_ab = np.asarray(f_ab, float)
    f_c = np.asarray(f_c, float)
    f_e, f_i = _ei(f_ab, f_c)
    base = G_AB_P * f_ab + G_C_P * f_c + G_E_P * f_e - G_I_P * f_i - descending
    gmax = MAX_G * np.asarray(sensitization, float)
    p = np.zeros(np.broadcast(base, gmax).shape) if p0 is None else np.array(p0, float)
    for _ in range(n_iter):
        g = gmax * x_inf(p, 1.0, A_M, B_M)
        p = 0.5 * p + 0.5 * x_inf(base + g * f_c, MAX_P, A_P, B_P)
    g = gmax * x_inf(p, 1.0, A_M, B_M)
    return p, g


@dataclass(frozen=True)
class SpinalTrace:
    """Time course of the dorsal-horn model.

    Attributes
    ----------
    t : ndarray, shape (n_t,)
        Time, s.
    f_p, f_e, f_i, g_nmda : ndarray, shape (n_runs, n_t)
        Rates (Hz) and NMDA conductance.
    """

    t: NDArray[np.float64]
    f_p: NDArray[np.float64]
    f_e: NDArray[np.float64]
    f_i: NDArray[np.float64]
    g_nmda: NDArray[np.float64]

    def spikes_in(self, t0: float, t1: float) -> NDArray[np.float64]:
        """Return the expected P spikes per neuron between ``t0`` and ``t1`` (s), per run.

        Parameters
        ----------
        t0, t1 : float
            Window, s.

        Returns
        -------
        ndarray, shape (n_runs,)
            Integral of f_P over the window.
        """
        m = (self.t >= t0) & (self.t < t1)
        dt = float(self.t[1] - self.t[0])
        return self.f_p[:, m].sum(axis=1) * dt


def simulate(
    t: NDArray[np.float64],
    f_ab: NDArray[np.float64],
    f_c: NDArray[np.float64],
    descending: float = 0.0,
    sensitization: float = 1.0,
    gate: bool = True,
) -> SpinalTrace:
    """Integrate the dorsal-horn ODEs with exponential Euler (vectorized over runs).

    Parameters
    ----------
    t : ndarray, shape (n_t,)
        Uniform time grid, s (step ≤ 0.2 ms recommended; τP = 1 ms).
    f_ab, f_c : ndarray, shape (n_runs, n_t)
        Input rates per fibre, Hz.
    descending : float
        Descending inhibition, Hz-equivalent.
    sensitization : float
        NMDA ceiling factor (0 switches the NMDA conductance off).
    gate : bool
        Aβ input to the inhibitory I population (the gate). False switches it off
        (I stays at its Aβ-free rate), for the ablation test of gate control.

    Returns
    -------
    SpinalTrace
        The time course.
    """
    f_ab = np.atleast_2d(f_ab)
    f_c = np.atleast_2d(f_c)
    dt = float(t[1] - t[0])
    n = f_ab.shape[0]
    out = {k: np.empty((n, t.size)) for k in ("p", "e", "i", "g")}
    p = np.zeros(n)
    e = np.zeros(n)
    i = np.full(n, I_OFFSET)
    g = np.zeros(n)
    kp, ke, ki, kn = (np.exp(-dt / tau) for tau in (TAU_P, TAU_E, TAU_I, TAU_N))
    gmax = MAX_G * sensitization
    g_ab_i = G_AB_I if gate else 0.0
    for k in range(t.size):
        ab, c = f_ab[:, k], f_c[:, k]
        p_inf = x_inf(
            G_AB_P * ab + (G_C_P + g) * c + G_E_P * e - G_I_P * i - descending, MAX_P, A_P, B_P
        )
        e_inf = x_inf(G_C_E * c - G_I_E * i, MAX_E, A_E, B_E)
        i_inf = x_inf(g_ab_i * ab, MAX_I, A_I, B_I) + I_OFFSET
        g_inf = gmax * x_inf(p, 1.0, A_M, B_M)
        p = p_inf + (p - p_inf) * kp
        e = e_inf + (e - e_inf) * ke
        i = i_inf + (i - i_inf) * ki
        g = g_inf + (g - g_inf) * kn
        out["p"][:, k], out["e"][:, k], out["i"][:, k], out["g"][:, k] = p, e, i, g
    return SpinalTrace(t, out["p"], out["e"], out["i"], out["g"])
