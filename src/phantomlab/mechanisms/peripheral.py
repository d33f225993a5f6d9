"""Peripheral level: residual-limb afferents, ectopic discharge and T-junction filtering.

Three afferent classes (Aβ, Aδ, C) carry activity from the residual limb to the
dorsal horn. After amputation two ectopic generators drive them
(shared/research/mechanisms.md §2.1):

* the **neuroma**: rhythmic bursts, 0–100 Hz, mechanically drivable (Pain
  1984;18:249, doi:10.1016/0304-3959(84)90820-0);
* the **dorsal root ganglion (DRG)**: irregular 0.25–14 Hz discharge that
  persists after the neuroma is excised (same source); 4–8 % of C fibres are
  spontaneously active after transection (Michaelis et al. 1995, J Neurophysiol
  74:1020).

Every spike that reaches the central axon must pass the **T-junction** of the
pseudo-unipolar DRG neuron. It is modelled here, spike by spike, as a
use-dependent low-pass filter: a spike passes if the junction has recovered
from the previous one, ``R(Δt) - g_M - g_S >= θ`` with
``R(Δt) = 1 - exp(-Δt/τ_rec)``; every invading spike increments a moderately
slow (KCNQ/M-type) and a much slower (Ca²⁺-activated K⁺-type) hyperpolarizing
conductance that decay between spikes. The recovery time constant and the
conductance increments are calibrated in closed form so that the sustained
**following frequency** of a C fibre is 110 Hz (fast Na⁺ + K_dr only), 30 Hz
(+ M) and 6 Hz (+ slow conductance), the values of Sundt, Gamper & Jaffe 2015
(J Neurophysiol, mechanisms.md §2.3). The same model then predicts, without
further fitting, that 20 Hz field stimulation of the DRG abates C transmission
within about 20 s while Aβ passes (PMC7669706, mechanisms.md §2.3).

Units: seconds, hertz; conductances are in units of the recovery margin
(dimensionless).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from functools import lru_cache
from typing import Literal

import numpy as np
from numpy.typing import NDArray

from phantomlab._rng import RNGLike, as_generator
from phantomlab.mechanisms.provenance import param

__all__ = [
    "FibreClass",
    "FIBRES",
    "SUNDT_CONFIGS",
    "drg_stimulation_block",
    "ectopic_rates",
    "following_frequency",
    "simulate_tjunction",
    "transmitted_rate",
    "transmission_table",
    "with_density",
]

_M = "peripheral"
_SUNDT = "Sundt, Gamper & Jaffe 2015, J Neurophysiol (mechanisms.md §2.3)"
_PAIN84 = "Pain 1984;18:249-265, doi:10.1016/0304-3959(84)90820-0 (mechanisms.md §2.1)"
_MICH = "Michaelis et al. 1995, J Neurophysiol 74:1020-1027 (mechanisms.md §2.1)"

# --- T-junction ------------------------------------------------------------------------
THETA = param(
    _M, "tj_theta", 0.5, "1", "assumed",
    note="recovery margin needed to pass a spike (safety factor 2); only sets the scale "
    "of the conductance increments, which are calibrated against Sundt 2015",
)  # fmt: skip
FF_FAST = param(_M, "ff_C_fast", 110.0, "Hz", "source", _SUNDT, "C fibre, fast Na+ and K_dr only")
FF_M = param(_M, "ff_C_M", 30.0, "Hz", "source", _SUNDT, "C fibre with KCNQ (M) channels")
FF_SLOW = param(_M, "ff_C_slow", 6.0, "Hz", "source", _SUNDT, "C fibre with M + slow K(Ca)")
TAU_M = param(
    _M, "tau_M", 0.1, "s", "assumed",
    note="KCNQ/M current activates over tens to hundreds of ms; not read in a source",
)  # fmt: skip
TAU_S = param(
    _M, "tau_S", 10.0, "s", "assumed",
    note="Sundt: 'much slower' hyperpolarizing conductance (e.g. K(Ca)); value of seconds "
    "not read; sets the 20 Hz DRG-stimulation block time (tested against PMC7669706)",
)  # fmt: skip
RHO_FAIL = param(
    _M, "rho_fail", 0.5, "1", "assumed",
    note="a spike that fails at the junction still depolarizes it partly; half an increment",
)  # fmt: skip
FF_ABETA = param(
    _M, "ff_Abeta", 500.0, "Hz", "assumed",
    note="myelinated A fibres follow several hundred Hz (Gemes 2013: filtering is weakest "
    "in A-type units); exact value not read",
)  # fmt: skip
ADELTA_SLOW_FRACTION = param(
    _M, "adelta_slow_fraction", 0.3, "1", "assumed",
    note="Aδ behaves between Aβ and C under 20 Hz DRG stimulation (PMC7669706); "
    "modelled as 30% of the C slow-conductance density",
)  # fmt: skip
SIGMA_SLOW = param(
    _M, "sigma_slow_density", 0.7, "1", "assumed",
    note="log-normal spread of slow-conductance density across C neurons (Graham 2022 "
    "simulate a heterogeneous population of 1,000 C neurons; spread not read)",
)  # fmt: skip


def _recovery_tau(ff: float) -> float:
    """Recovery time constant giving following frequency ``ff`` without slow conductances."""
    return 1.0 / (ff * math.log(1.0 / (1.0 - THETA)))


def _recovery(dt: float, tau_rec: float) -> float:
    return 1.0 - math.exp(-dt / tau_rec)


def _accum(f: float, tau: float) -> float:
    """Steady-state conductance just before a spike per unit increment, regular train at f."""
    x = math.exp(-1.0 / (f * tau))
    return x / (1.0 - x)


_TAU_REC_C = param(
    _M, "tau_rec_C", _recovery_tau(FF_FAST), "s", "calibrated", _SUNDT,
    "closed form: R(1/110 Hz) = θ",
)  # fmt: skip
_DELTA_M_C = param(
    _M, "delta_M_C",
    (_recovery(1 / FF_M, _TAU_REC_C) - THETA) / _accum(FF_M, TAU_M),
    "1", "calibrated", _SUNDT, "closed form: sustained 1:1 following ends at 30 Hz with M",
)  # fmt: skip
_DELTA_S_C = param(
    _M, "delta_S_C",
    (_recovery(1 / FF_SLOW, _TAU_REC_C) - THETA - _DELTA_M_C * _accum(FF_SLOW, TAU_M))
    / _accum(FF_SLOW, TAU_S),
    "1", "calibrated", _SUNDT, "closed form: following ends at 6 Hz with M + slow K",
)  # fmt: skip


@dataclass(frozen=True)
class FibreClass:
    """T-junction properties of one afferent class.

    Parameters
    ----------
    name : str
        ``"Abeta"``, ``"Adelta"`` or ``"C"``.
    tau_rec : float
        Recovery time constant of the junction, s.
    delta_m : float
        Increment of the M-type conductance per invading spike (margin units).
    delta_s : float
        Increment of the slow conductance per invading spike (margin units).
    tau_m, tau_s : float
        Decay time constants of the two conductances, s.
    """

    name: str
    tau_rec: float
    delta_m: float
    delta_s: float
    tau_m: float = TAU_M
    tau_s: float = TAU_S


#: The three afferent classes at nominal channel densities.
FIBRES: dict[str, FibreClass] = {
    "Abeta": FibreClass("Abeta", _recovery_tau(FF_ABETA), 0.0, 0.0),
    "Adelta": FibreClass("Adelta", _TAU_REC_C, _DELTA_M_C, ADELTA_SLOW_FRACTION * _DELTA_S_C),
    "C": FibreClass("C", _TAU_REC_C, _DELTA_M_C, _DELTA_S_C),
}

#: The three channel configurations of Sundt et al. 2015 (C fibre).
SUNDT_CONFIGS: dict[str, FibreClass] = {
    "fast": FibreClass("C", _TAU_REC_C, 0.0, 0.0),
    "fast+M": FibreClass("C", _TAU_REC_C, _DELTA_M_C, 0.0),
    "fast+M+slow": FIBRES["C"],
}


def following_frequency(fibre: FibreClass) -> float:
    """Highest regular rate a fibre follows 1:1 indefinitely (analytic steady state).

    Parameters
    ----------
    fibre : FibreClass
        Junction properties.

    Returns
    -------
    float
        Following frequency, Hz (bisection on the steady-state margin).
    """

    def margin(f: float) -> float:
        g = fibre.delta_m * _accum(f, fibre.tau_m) if fibre.delta_m else 0.0
        g += fibre.delta_s * _accum(f, fibre.tau_s) if fibre.delta_s else 0.0
        return _recovery(1.0 / f, fibre.tau_rec) - g - THETA

    lo, hi = 0.01, 5000.0
    for _ in range(80):
        mid = math.sqrt(lo * hi)
        lo, hi = (mid, hi) if margin(mid) >= 0 else (lo, mid)
    return lo


def simulate_tjunction(
    isi: NDArray[np.float64],
    fibre: FibreClass,
    density_m: NDArray[np.float64] | float = 1.0,
    density_s: NDArray[np.float64] | float = 1.0,
) -> NDArray[np.bool_]:
    """Pass or fail each spike of many trains at the T-junction (vectorized over trains).

    Parameters
    ----------
    isi : ndarray, shape (n_trains, n_spikes)
        Inter-spike intervals, s; ``isi[:, k]`` is the time from spike ``k-1`` to
        spike ``k`` (use ``inf`` for the first spike).
    fibre : FibreClass
        Junction properties at nominal density.
    density_m, density_s : float or ndarray, shape (n_trains,)
        Relative densities of the M and slow conductances per train.

    Returns
    -------
    ndarray of bool, shape (n_trains, n_spikes)
        True where the spike passed to the central axon.
    """
    isi = np.atleast_2d(np.asarray(isi, dtype=float))
    n, k = isi.shape
    dm = fibre.delta_m * np.broadcast_to(np.asarray(density_m, float), (n,))
    ds = fibre.delta_s * np.broadcast_to(np.asarray(density_s, float), (n,))
    gm = np.zeros(n)
    gs = np.zeros(n)
    since = np.full(n, np.inf)
    out = np.empty((n, k), dtype=bool)
    for j in range(k):
        dt = isi[:, j]
        gm *= np.exp(-dt / fibre.tau_m)
        gs *= np.exp(-dt / fibre.tau_s)
        since = since + dt
        ok = (1.0 - np.exp(-since / fibre.tau_rec)) - gm - gs >= THETA
        inc = np.where(ok, 1.0, RHO_FAIL)
        gm += inc * dm
        gs += inc * ds
        since = np.where(ok, 0.0, since)
        out[:, j] = ok
    return out


@lru_cache(maxsize=8)
def transmission_table(
    fibre_name: Literal["Abeta", "Adelta", "C"] = "C", n_spikes: int = 600
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Steady-state fraction of Poisson spikes a nominal fibre transmits, by input rate.

    Computed once per process with :func:`simulate_tjunction` (fixed seed, the
    second half of each train), so the daily model uses the same junction as the
    spike-level tests.

    Parameters
    ----------
    fibre_name : {"Abeta", "Adelta", "C"}
        Fibre class.
    n_spikes : int
        Spikes per simulated train.

    Returns
    -------
    rates : ndarray
        Input rates, Hz (log-spaced 0.1–200 Hz).
    fraction : ndarray
        Fraction transmitted at each rate.
    """
    rates = np.geomspace(0.1, 200.0, 48)
    rng = np.random.default_rng(20150101)
    isi = rng.exponential(1.0, size=(rates.size, n_spikes)) / rates[:, None]
    passed = simulate_tjunction(isi, FIBRES[fibre_name])
    frac = passed[:, n_spikes // 2 :].mean(axis=1)
    frac = np.minimum.accumulate(frac)  # monotone low-pass (removes sampling wiggle)
    return rates, frac


def transmitted_rate(
    rate: NDArray[np.float64], fibre_name: Literal["Abeta", "Adelta", "C"] = "C"
) -> NDArray[np.float64]:
    """Mean output rate after the T-junction for Poisson input at ``rate`` (vectorized).

    Parameters
    ----------
    rate : ndarray
        Input rate per fibre, Hz.
    fibre_name : {"Abeta", "Adelta", "C"}
        Fibre class.

    Returns
    -------
    ndarray
        Transmitted rate, Hz (same shape).
    """
    r, frac = transmission_table(fibre_name)
    x = np.clip(np.asarray(rate, dtype=float), r[0], r[-1])
    return np.asarray(rate, float) * np.interp(np.log(x), np.log(r), frac)


def drg_stimulation_block(
    frequency: float,
    duration: float,
    fibre_name: Literal["Abeta", "Adelta", "C"] = "C",
    n_neurons: int = 200,
    rng: RNGLike = 0,
    bin_width: float = 1.0,
    fibre: FibreClass | None = None,
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Transmission through a heterogeneous population of junctions under DRG stimulation.

    Every stimulus pulse invades the junction region (ganglionic field
    stimulation); slow-conductance densities vary log-normally across neurons.

    Parameters
    ----------
    frequency : float
        Stimulation frequency, Hz.
    duration : float
        Stimulation duration, s.
    fibre_name : {"Abeta", "Adelta", "C"}
        Fibre class.
    n_neurons : int
        Size of the simulated population.
    rng : Generator, SeedSequence, int or None
        Randomness for the densities.
    bin_width : float
        Width of the output time bins, s.
    fibre : FibreClass, optional
        Junction properties used instead of the nominal ``FIBRES[fibre_name]`` (e.g.
        :func:`with_density` with a conductance off, for an ablation test).

    Returns
    -------
    t : ndarray
        Bin start times, s.
    fraction : ndarray
        Fraction of pulses transmitted in each bin, over the population.
    """
    gen = as_generator(rng)
    dens = np.exp(SIGMA_SLOW * gen.standard_normal(n_neurons) - SIGMA_SLOW**2 / 2)
    n_pulses = int(round(frequency * duration))
    isi = np.full((n_neurons, n_pulses), 1.0 / frequency)
    isi[:, 0] = np.inf
    fib = FIBRES[fibre_name] if fibre is None else fibre
    passed = simulate_tjunction(isi, fib, density_m=1.0, density_s=dens)
    t_pulse = np.arange(n_pulses) / frequency
    edges = np.arange(0.0, duration + 1e-9, bin_width)
    idx = np.clip(np.digitize(t_pulse, edges) - 1, 0, edges.size - 2)
    counts = np.bincount(idx, minlength=edges.size - 1).astype(float)
    passes = np.bincount(idx, weights=passed.mean(axis=0), minlength=edges.size - 1)
    return edges[:-1], passes / np.maximum(counts, 1.0)


# --- ectopic generators (per patient) -----------------------------------------------------
DRG_RATE_MIN = param(_M, "drg_rate_min", 0.25, "Hz", "source", _PAIN84, "DRG-origin discharge")
DRG_RATE_MAX = param(_M, "drg_rate_max", 14.0, "Hz", "source", _PAIN84, "DRG-origin discharge")
DRG_FRACTION_MIN = param(
    _M, "drg_fraction_min", 0.04, "1", "source", _MICH, "C fibres with spontaneous activity"
)
DRG_FRACTION_MAX = param(
    _M, "drg_fraction_max", 0.08, "1", "source", _MICH, "C fibres with spontaneous activity"
)
NEUROMA_RATE_MAX = param(
    _M, "neuroma_rate_max", 100.0, "Hz", "source", _PAIN84, "neuroma bursts, 0-100 Hz"
)
NEUROMA_DUTY = param(
    _M, "neuroma_duty", 0.05, "1", "assumed",
    note="fraction of time a neuroma fibre spends in a burst; bursting is seen (Pain 1984) "
    "but its duty cycle was not read",
)  # fmt: skip
NEUROMA_FRACTION = param(
    _M, "neuroma_fraction", 0.03, "1", "assumed",
    note="fraction of residual-limb C fibres discharging from the neuroma; the DRG is "
    "the main generator in Vaso 2014, so the neuroma is kept smaller; not read",
)  # fmt: skip
MECH_GAIN = param(
    _M, "neuroma_mech_gain", 1.0, "1", "assumed",
    note="relative rise of neuroma discharge per unit of stump pressure (mechanically "
    "drivable, Pain 1984; gain not read)",
)  # fmt: skip
BASELINE_RATE = param(
    _M, "baseline_rate", 1.0, "Hz", "source",
    "Crodelle & Maia 2021, Brain Sci 11:505 (mechanisms.md §3.3)", "baseline Poisson rate",
)  # fmt: skip


def ectopic_rates(
    drg_rate: NDArray[np.float64],
    drg_fraction: NDArray[np.float64],
    neuroma_rate: NDArray[np.float64],
    *,
    drg_block: NDArray[np.float64] | float = 0.0,
    conduction_block: NDArray[np.float64] | float = 0.0,
    tj_filter: NDArray[np.float64] | float = 0.0,
    stump_pressure: NDArray[np.float64] | float = 0.0,
    neuroma_fraction: NDArray[np.float64] | float = NEUROMA_FRACTION,
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Population-mean ectopic C rate reaching the dorsal horn, per patient (vectorized).

    Parameters
    ----------
    drg_rate : ndarray
        Rate of an active DRG neuron, Hz.
    drg_fraction : ndarray
        Fraction of C fibres with DRG ectopia.
    neuroma_rate : ndarray
        In-burst rate of a neuroma fibre, Hz.
    drg_block : float or ndarray
        Lever: fraction of DRG ectopia suppressed (0–1; e.g. dilute foraminal lidocaine).
    conduction_block : float or ndarray
        Lever: fraction of residual-limb conduction blocked distal to the DRG (0–1;
        silences the neuroma's contribution).
    tj_filter : float or ndarray
        Lever: extra fraction of C spikes filtered at the T-junction (0–1; e.g. DRG
        stimulation, see :func:`drg_stimulation_block`).
    stump_pressure : float or ndarray
        Mechanical drive of the neuroma (dimensionless, 0 = none).
    neuroma_fraction : float or ndarray
        Fraction of residual-limb C fibres discharging from the neuroma (default the
        population value; the virtual patient draws it per patient).

    Returns
    -------
    drg : ndarray
        Mean transmitted DRG-origin rate per C fibre, Hz.
    neuroma : ndarray
        Mean transmitted neuroma-origin rate per C fibre, Hz.
    """
    keep = 1.0 - np.asarray(tj_filter, float)
    drg = drg_fraction * (1.0 - np.asarray(drg_block, float)) * transmitted_rate(drg_rate)
    burst = neuroma_rate * (1.0 + MECH_GAIN * np.asarray(stump_pressure, float))
    neu = neuroma_fraction * NEUROMA_DUTY * transmitted_rate(np.minimum(burst, NEUROMA_RATE_MAX))
    neu = neu * (1.0 - np.asarray(conduction_block, float))
    return drg * keep, neu * keep


def with_density(fibre: FibreClass, m: float = 1.0, s: float = 1.0) -> FibreClass:
    """Return a fibre with M and slow conductance densities scaled by ``m`` and ``s``.

    Parameters
    ----------
    fibre : FibreClass
        Nominal fibre.
    m, s : float
        Density factors.

    Returns
    -------
    FibreClass
        Scaled copy.
    """
    return replace(fibre, delta_m=fibre.delta_m * m, delta_s=fibre.delta_s * s)
