"""Myelinated-axon cable model driven by an extracellular potential (vectorized).

What is implemented
-------------------
The nodal membrane of the MRG model (McIntyre, Richardson & Grill 2002,
J Neurophysiol 87:995): fast Na (``m³h``), persistent Na (``mp³``), slow K
(``s``) and leak, rest -80 mV, with the rate functions, reversal potentials,
maximal conductances and Q10 factors of the authors' NEURON mechanism
``AXNODE.mod`` (ModelDB 3810, read here; the rate constants ``amA … bsC`` are
copied below with their names). Fibre geometry (node diameter, axon diameter,
node-to-node distance) is the ``dependent_var`` table of the authors'
``MRGaxon.hoc`` (ModelDB 3810, read here; the paper's geometry table was not
read directly), interpolated linearly between the tabulated 5.7-16 µm fibres.
Axoplasmic resistivity 70 Ω·cm (``rhoa = 0.7e6`` Ω·µm) and nodal capacitance
2 µF/cm² (``c = 2``) are from the same files.

The cable is the node-only McNeal (1976) cable: nodes of Ranvier joined by the
internodal axoplasm, the myelinated internode treated as a perfect insulator.
MRG's double-cable paranode/internode (MYSA, FLUT, STIN compartments and the
periaxonal layer) is **not** implemented; it lowers the internodal insulation
and shapes the afterpotentials, so thresholds here are an approximation of
MRG's, checked against MRG-in-NEURON numbers in the tests.

Membrane potential ``Vm = Vi - Ve`` at node ``n`` obeys::

    C dVm_n/dt = Ga (Vm_{n-1} - 2 Vm_n + Vm_{n+1})
                 + Ga (Ve_{n-1} - 2 Ve_n + Ve_{n+1}) - A I_ion(Vm_n)

(the second difference of ``Ve`` is Rattay's activating function), solved by
backward Euler in ``Vm`` with the ionic conductances at the previous gate
values, and gates advanced by exponential Euler (NEURON's ``cnexp``). The
tridiagonal systems of all fibres are solved together (vectorized Thomas
algorithm), and thresholds are found for all fibres at once by geometric
bisection.

Units inside: mV, ms, µA, µF, mS, cm.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike, NDArray

from phantomlab.exceptions import InputError, Problem

__all__ = [
    "MIN_STABLE_DIAMETER",
    "MRG_TABLE",
    "CableRun",
    "FibreGeometry",
    "fibre_geometry",
    "node_positions",
    "point_source_potential",
    "simulate",
    "threshold",
]

Arr = NDArray[np.float64]

# --- MRG nodal membrane: ModelDB 3810 AXNODE.mod (McIntyre et al. 2002) -------------
GNAF = 3.0  # S/cm², gnabar
GNAP = 0.01  # S/cm², gnapbar
GK = 0.08  # S/cm², gkbar (slow K)
GL = 0.007  # S/cm², gl
ENA = 50.0  # mV
EK = -90.0  # mV
EL = -90.0  # mV
V_REST = -80.0  # mV ("rest = -80 mV")
VTRAUB = -80.0
C_NODE = 2.0  # µF/cm² (MRGaxon.hoc c=2)
RHO_A = 70.0  # Ω·cm (MRGaxon.hoc rhoa = 0.7e6 Ω·µm)
NODE_LENGTH = 1.0e-4  # cm (MRGaxon.hoc nodelength = 1 µm)
TEMPERATURE = 37.0  # °C, MRG's simulation temperature (MRGaxon.hoc celsius=37)

# MRGaxon.hoc proc dependent_var(): fiberD, axonD, nodeD, deltax (µm)
MRG_TABLE: dict[str, tuple[float, ...]] = {
    "fibre_d": (5.7, 7.3, 8.7, 10.0, 11.5, 12.8, 14.0, 15.0, 16.0),
    "axon_d": (3.4, 4.6, 5.8, 6.9, 8.1, 9.2, 10.4, 11.5, 12.7),
    "node_d": (1.9, 2.4, 2.8, 3.3, 3.7, 4.2, 4.7, 5.0, 5.5),
    "deltax": (500.0, 750.0, 1000.0, 1150.0, 1250.0, 1350.0, 1400.0, 1450.0, 1500.0),
    "lamellae": (80.0, 100.0, 110.0, 120.0, 130.0, 135.0, 140.0, 145.0, 150.0),
}
MY_CM = 0.1  # µF/cm² per lamella membrane (MRGaxon.hoc mycm)
MY_GM = 0.001  # S/cm² per lamella membrane (MRGaxon.hoc mygm)
E_PAS = -80.0  # mV, internodal axolemma e_pas (MRGaxon.hoc)
# smallest tabulated fibre with a stable rest in this reduced cable (measured: 8.0 µm
# and below fire spontaneously within 6 ms with no stimulus)
MIN_STABLE_DIAMETER = 8.7


def _vtrap(a: float, b: float, c: float, v: Arr, sign: float) -> Arr:
    """Return ``a x / (1 - exp(-x/c))``, ``x = sign (v + b)`` (AXNODE vtrap1/2/6/7/8)."""
    x = sign * (v + b)
    z = x / c
    small = np.abs(z) < 1e-6
    zs = np.where(small, 1.0, z)
    with np.errstate(over="ignore"):
        out = a * x / (1.0 - np.exp(np.minimum(-zs, 700.0)))
    return np.where(small, a * c, out)


def _rates(v: Arr, q1: float, q2: float, q3: float) -> tuple[Arr, ...]:
    """Steady states and time constants (ms) of mp, m, h, s (AXNODE evaluate_fct)."""
    a = q1 * _vtrap(0.01, 27.0, 10.2, v, 1.0)  # ampA, ampB, ampC
    b = q1 * _vtrap(0.00025, 34.0, 10.0, v, -1.0)  # bmpA, bmpB, bmpC
    mp_inf, tau_mp = a / (a + b), 1.0 / (a + b)
    a = q1 * _vtrap(1.86, 21.4, 10.3, v, 1.0)  # amA, amB, amC
    b = q1 * _vtrap(0.086, 25.7, 9.16, v, -1.0)  # bmA, bmB, bmC
    m_inf, tau_m = a / (a + b), 1.0 / (a + b)
    a = q2 * _vtrap(0.062, 114.0, 11.0, v, -1.0)  # ahA, ahB, ahC
    b = q2 * 2.3 / (1.0 + np.exp(np.clip(-(v + 31.8) / 13.4, -700, 700)))  # bhA, bhB, bhC
    h_inf, tau_h = a / (a + b), 1.0 / (a + b)
    v2 = v - VTRAUB
    a = q3 * 0.3 / (np.exp(np.clip((v2 - 27.0) / -5.0, -700, 700)) + 1.0)  # asA, asB, asC
    b = q3 * 0.03 / (np.exp(np.clip((v2 + 10.0) / -1.0, -700, 700)) + 1.0)  # bsA, bsB, bsC
    s_inf, tau_s = a / (a + b), 1.0 / (a + b)
    return mp_inf, tau_mp, m_inf, tau_m, h_inf, tau_h, s_inf, tau_s


def _q10(celsius: float) -> tuple[float, float, float]:
    """AXNODE INITIAL: q10_1 = 2.2^((T-20)/10), q10_2 = 2.9^(...), q10_3 = 3^((T-36)/10)."""
    return (
        2.2 ** ((celsius - 20.0) / 10.0),
        2.9 ** ((celsius - 20.0) / 10.0),
        3.0 ** ((celsius - 36.0) / 10.0),
    )


@dataclass(frozen=True)
class FibreGeometry:
    """Per-fibre geometry (arrays over fibres), µm.

    Parameters
    ----------
    fibre_d, axon_d, node_d, deltax : ndarray
        Outer fibre diameter, internodal axon diameter, node diameter and
        node-to-node distance, all in µm (MRGaxon.hoc table, interpolated).
    lamellae : ndarray
        Number of myelin lamellae (MRGaxon.hoc ``nl``).
    """

    fibre_d: Arr
    axon_d: Arr
    node_d: Arr
    deltax: Arr
    lamellae: Arr


def fibre_geometry(diameter_um: ArrayLike) -> FibreGeometry:
    """MRG geometry for fibre diameters (µm), linear between tabulated values.

    Parameters
    ----------
    diameter_um : array_like
        Fibre (outer) diameters in µm, within 8.7-16 µm: the MRG table spans
        5.7-16 µm, but below 8.7 µm this reduced cable has no stable rest
        (it fires spontaneously; measured, tests/fields/test_cable.py).

    Returns
    -------
    FibreGeometry
        Geometry arrays with the shape of ``diameter_um`` (at least 1-D).

    Raises
    ------
    InputError
        A diameter outside 8.7-16 µm or not finite.
    """
    d = np.atleast_1d(np.asarray(diameter_um, float))
    lo, hi = MIN_STABLE_DIAMETER, MRG_TABLE["fibre_d"][-1]
    bad = ~np.isfinite(d) | (d < lo - 1e-9) | (d > hi + 1e-9)
    if np.any(bad):
        raise InputError(
            Problem("diameter", float(d[bad][0]), f"{lo}-{hi} µm", "µm", "outside the valid range")
        )
    xs = MRG_TABLE["fibre_d"]
    return FibreGeometry(
        fibre_d=d,
        axon_d=np.interp(d, xs, MRG_TABLE["axon_d"]),
        node_d=np.interp(d, xs, MRG_TABLE["node_d"]),
        deltax=np.interp(d, xs, MRG_TABLE["deltax"]),
        lamellae=np.interp(d, xs, MRG_TABLE["lamellae"]),
    )


def point_source_potential(node_x_m: ArrayLike, distance_m: ArrayLike, sigma: float = 0.3) -> Arr:
    """Potential per ampere (V/A) of a point source in an infinite homogeneous medium.

    Parameters
    ----------
    node_x_m : array_like
        Axial node positions in m, relative to the foot of the perpendicular
        from the source (shape ``(F, N)`` or ``(N,)``).
    distance_m : array_like
        Source-to-fibre distance in m (broadcast against the fibres).
    sigma : float
        Conductivity, S/m.

    Returns
    -------
    ndarray
        ``1 / (4 π σ sqrt(x² + r²))`` in V/A.
    """
    x = np.asarray(node_x_m, float)
    r = np.asarray(distance_m, float)
    if r.ndim == 1 and x.ndim == 2:
        r = r[:, None]
    return np.asarray(1.0 / (4.0 * np.pi * sigma * np.sqrt(x * x + r * r)))


def node_positions(geom: FibreGeometry, n_nodes: int, offset: ArrayLike = 0.0) -> Arr:
    """Axial node positions (m), centred on the middle node, shape ``(F, n_nodes)``.

    Parameters
    ----------
    geom : FibreGeometry
        Fibre geometry.
    n_nodes : int
        Nodes per fibre (odd puts a node over the source).
    offset : array_like
        Shift of the node grid per fibre, in units of the internode (0-1).

    Returns
    -------
    ndarray
        Node positions in m.
    """
    k = np.arange(n_nodes) - (n_nodes - 1) / 2.0
    off = np.asarray(offset, float).reshape(-1, 1)
    return (k[None, :] + off) * geom.deltax[:, None] * 1e-6


@dataclass(frozen=True)
class CableRun:
    """Outcome of one simulation of ``F`` fibres.

    Parameters
    ----------
    excited : ndarray of bool, shape (F,)
        A propagating action potential reached a recording node on either side.
    peak : ndarray, shape (F, N)
        Peak membrane potential per node, mV.
    """

    excited: NDArray[np.bool_]
    peak: Arr


def _validate(ve: Arr, pulse_ms: float, dt_ms: float, tstop_ms: float) -> None:
    probs = []
    if ve.ndim != 2 or ve.shape[1] < 7:
        probs.append(Problem("ve", ve.shape, "(fibres, >=7 nodes)", "", "bad shape"))
    elif not np.all(np.isfinite(ve)):
        probs.append(Problem("ve", "non-finite", "finite mV", "", "bad potential"))
    if not (0.0 < pulse_ms < tstop_ms):
        probs.append(Problem("pulse_width", pulse_ms, f"0-{tstop_ms} ms", "ms", "bad pulse"))
    if not (0.0 < dt_ms <= 0.01):
        probs.append(Problem("dt", dt_ms, "0-0.01 ms", "ms", "bad time step"))
    if probs:
        raise InputError(probs)


def simulate(
    geom: FibreGeometry,
    ve_mv: Arr,
    pulse_ms: float | Arr,
    *,
    dt_ms: float = 0.005,
    tstop_ms: float = 1.5,
    celsius: float = TEMPERATURE,
    sodium: bool = True,
    myelin: bool = True,
) -> CableRun:
    """Simulate fibres under a monophasic rectangular pulse of extracellular potential.

    Parameters
    ----------
    geom : FibreGeometry
        One geometry per fibre (``F`` fibres).
    ve_mv : ndarray, shape (F, N)
        Extracellular potential at the nodes during the pulse, mV (zero after it).
    pulse_ms : float or ndarray, shape (F,)
        Pulse duration, ms (one per fibre allowed).
    dt_ms, tstop_ms : float
        Time step and simulated duration, ms.
    celsius : float
        Temperature for the Q10 factors.
    sodium : bool
        ``False`` removes both Na conductances (ablation: no action potential).
    myelin : bool
        ``False`` drops the lumped myelin shunt (pure McNeal node-only cable).

    Returns
    -------
    CableRun
        Excitation flags and nodal peak potentials.
    """
    ve = np.asarray(ve_mv, float)
    pw = np.broadcast_to(np.asarray(pulse_ms, float), ve.shape[:1])
    _validate(ve, float(pw.min()), dt_ms, tstop_ms)
    _validate(ve, float(pw.max()), dt_ms, tstop_ms)
    nf, nn = ve.shape
    q1, q2, q3 = _q10(celsius)
    area = np.pi * geom.node_d * 1e-4 * NODE_LENGTH  # cm²
    # myelin sheath of one internode lumped at each node (half from each side):
    # 2·nl membranes in series, so mycm/(2 nl) and mygm/(2 nl) per cm² of sheath
    # (MRGaxon.hoc xc, xg); in series with the far larger internodal axolemma
    # (e_pas -80 mV), so the sheath sets the shunt and its reversal is e_pas.
    sheath = np.pi * geom.fibre_d * 1e-4 * geom.deltax * 1e-4  # cm²
    c_my = MY_CM / (2 * geom.lamellae) * sheath  # µF
    g_my = (MY_GM / (2 * geom.lamellae) * sheath * 1e3)[:, None] if myelin else 0.0  # mS
    cap = (C_NODE * area + (c_my if myelin else 0.0))[:, None]  # µF
    ga = (np.pi * (geom.axon_d * 1e-4) ** 2 / (4.0 * RHO_A * geom.deltax * 1e-4)) * 1e3  # mS
    ga = ga[:, None]
    a_mS = (area * 1e3)[:, None]  # S/cm² × cm² → S; ×1e3 → mS
    gnaf, gnap = (GNAF, GNAP) if sodium else (0.0, 0.0)

    v = np.full((nf, nn), V_REST)
    mp_inf, _, m_inf, _, h_inf, _, s_inf, _ = _rates(v, q1, q2, q3)
    mp, m, h, s = mp_inf.copy(), m_inf.copy(), h_inf.copy(), s_inf.copy()
    # activating term Ga·Δ²Ve with sealed ends (no axial current beyond the end nodes)
    d2 = np.zeros_like(ve)
    d2[:, 1:-1] = ve[:, :-2] - 2 * ve[:, 1:-1] + ve[:, 2:]
    d2[:, 0] = ve[:, 1] - ve[:, 0]
    d2[:, -1] = ve[:, -2] - ve[:, -1]
    drive = ga * d2  # µA
    peak = v.copy()
    n_steps = int(round(tstop_ms / dt_ms))
    on = np.rint(pw / dt_ms).astype(int)[:, None]  # pulse length in steps, per fibre
    off = -ga * dt_ms / cap  # off-diagonal of (I - dt/C·L)
    offd = np.broadcast_to(off, (nf, nn))
    rec = max(1, nn // 8)  # recording nodes, one per side
    n_couple = np.full(nn, 2.0)
    n_couple[0] = n_couple[-1] = 1.0
    for step in range(n_steps):
        g_na = gnaf * m**3 * h + gnap * mp**3
        g_tot = (g_na + GK * s + GL) * a_mS + g_my  # mS
        i_rev = (g_na * ENA + GK * s * EK + GL * EL) * a_mS + g_my * E_PAS  # µA
        rhs = v + dt_ms / cap * (i_rev + np.where(step < on, drive, 0.0))
        diag = 1.0 + dt_ms / cap * (g_tot + ga * n_couple[None, :])
        v = _thomas(offd, diag, offd, rhs)
        peak = np.maximum(peak, v)
        if step > on.max() and np.all((peak[:, rec] > 0.0) | (peak[:, nn - 1 - rec] > 0.0)):
            break  # every fibre has fired: the rest cannot change the outcome
        mp_inf, tau_mp, m_inf, tau_m, h_inf, tau_h, s_inf, tau_s = _rates(v, q1, q2, q3)
        mp = mp_inf + (mp - mp_inf) * np.exp(-dt_ms / tau_mp)
        m = m_inf + (m - m_inf) * np.exp(-dt_ms / tau_m)
        h = h_inf + (h - h_inf) * np.exp(-dt_ms / tau_h)
        s = s_inf + (s - s_inf) * np.exp(-dt_ms / tau_s)
    excited = (peak[:, rec] > 0.0) | (peak[:, nn - 1 - rec] > 0.0)
    return CableRun(excited=excited, peak=peak)


def _thomas(a: Arr, b: Arr, c: Arr, d: Arr) -> Arr:
    """Solve tridiagonal systems row-wise: sub ``a``, diag ``b``, super ``c``, rhs ``d``."""
    n = b.shape[1]
    cp = np.empty_like(b)
    dp = np.empty_like(b)
    cp[:, 0] = c[:, 0] / b[:, 0]
    dp[:, 0] = d[:, 0] / b[:, 0]
    for i in range(1, n):
        den = b[:, i] - a[:, i] * cp[:, i - 1]
        cp[:, i] = c[:, i] / den
        dp[:, i] = (d[:, i] - a[:, i] * dp[:, i - 1]) / den
    x = np.empty_like(b)
    x[:, -1] = dp[:, -1]
    for i in range(n - 2, -1, -1):
        x[:, i] = dp[:, i] - cp[:, i] * x[:, i + 1]
    return x


def threshold(
    geom: FibreGeometry,
    ve_per_amp: Arr,
    pulse_ms: float | Arr,
    *,
    polarity: float = -1.0,
    lo_a: float = 1e-6,
    hi_a: float = 1e-1,
    iterations: int = 8,
    **kwargs: float | bool,
) -> Arr:
    """Threshold current (A, magnitude) of every fibre by vectorized geometric bisection.

    Parameters
    ----------
    geom : FibreGeometry
        One geometry per fibre.
    ve_per_amp : ndarray, shape (F, N)
        Extracellular potential at the nodes per ampere of source current, V/A.
    pulse_ms : float or ndarray, shape (F,)
        Pulse duration, ms (one per fibre allowed: a strength-duration curve in
        one call).
    polarity : float
        ``-1`` cathodic (default), ``+1`` anodic.
    lo_a, hi_a : float
        Search range in A: amplitudes double from ``lo_a`` until a fibre fires
        (strong pulses can block, so the search never starts high); fibres not
        excited by ``hi_a`` get ``inf``.
    iterations : int
        Bisection steps within the factor-2 bracket (precision ``2^(2^-iterations)``).
    **kwargs
        Passed to :func:`simulate` (``dt_ms``, ``tstop_ms``, ``celsius``, ``sodium``).

    Returns
    -------
    ndarray, shape (F,)
        Threshold current magnitudes in A (``inf`` where none below ``hi_a``).
    """
    if not (0 < lo_a < hi_a) or polarity not in (-1.0, 1.0):
        raise InputError(
            Problem("bracket", (lo_a, hi_a, polarity), "0 < lo < hi, polarity ±1", "A", "bad")
        )
    vpa = np.asarray(ve_per_amp, float) * 1e3  # mV/A
    nf = vpa.shape[0]
    # bracket from below by doubling (strong pulses can block, so never start high)
    lo = np.full(nf, np.log(lo_a))
    hi = np.full(nf, np.inf)
    amp = np.full(nf, lo_a)
    while np.any(~np.isfinite(hi)) and float(np.min(amp)) <= hi_a:
        todo = ~np.isfinite(hi)
        ex = simulate(geom, polarity * amp[:, None] * vpa, pulse_ms, **kwargs).excited  # type: ignore[arg-type]
        hit = todo & ex
        hi = np.where(hit, np.log(amp), hi)
        lo = np.where(todo & ~ex, np.log(amp), lo)
        amp = np.where(todo & ~ex, amp * 2.0, amp)
        if np.all(amp[~np.isfinite(hi)] > hi_a):
            break
    top = np.isfinite(hi)
    hi = np.where(top, hi, lo)
    for _ in range(iterations):
        mid = 0.5 * (lo + hi)
        ex = simulate(geom, polarity * np.exp(mid)[:, None] * vpa, pulse_ms, **kwargs).excited  # type: ignore[arg-type]
        hi = np.where(ex, mid, hi)
        lo = np.where(ex, lo, mid)
    return np.where(top, np.exp(hi), np.inf)
