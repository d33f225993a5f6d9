"""TMS: E-field induced in a spherical conductor by magnetic dipoles.

Closed form of Heller & van Hulsteyn (1992) for a magnetic dipole ``m`` at
``r0`` outside a sphere centred at the origin; the field inside does not depend
on the conductivity (nor on a layered radial profile). Written here through
reciprocity from the Sarvas (1987) formula for the magnetic field of a current
dipole in a sphere: ``Q . E(r) = -dm/dt . B_Q(r0)``, which gives::

    E(r) = -mu0 / (4 pi F^2) [F (r x m') - (m' . grad F)(r x r0)],
    a = r0 - r,  F = |a| (|r0| |a| + |r0|^2 - r . r0),
    grad F = (|a|^2/|r0| + a.r0/|a| + 2|a| + 2|r0|) r0 - (|a| + 2|r0| + a.r0/|a|) r

with ``m' = dI/dt * m`` (``m`` in A m^2 per A of coil current). Tests check that
the normal component vanishes on the surface, and that for an axial dipole it
equals the free-space ``-dA/dt`` (no surface charge).

A figure-8 coil is modelled as two flat spiral wings of concentric circular
turns, each turn discretised into area-weighted magnetic dipoles; the wings
carry opposite currents.

References
----------
Heller L, van Hulsteyn DB (1992). Brain stimulation using electromagnetic
sources: theoretical aspects (abstract: the field of an external magnetic dipole
in a spherically symmetric conductor is independent of the conductivity profile).
Sarvas J (1987): magnetic field of a current dipole in a spherical conductor
(named in SimNIBS's analytical_solutions, fields.md section 1.2). The formula
above was re-derived by reciprocity and is verified by the tests, not copied.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy.constants import mu_0 as _mu_0

from phantomlab.exceptions import InputError, Problem
from phantomlab.fields.result import FieldResult

__all__ = ["MU0", "figure8_coil", "tms_efield", "tms_field"]

#: Vacuum permeability in T m / A (``scipy.constants.mu_0``, CODATA).
MU0: float = float(_mu_0)


def tms_efield(
    dipole_pos: ArrayLike,
    dipole_moment: ArrayLike,
    didt: float,
    points: ArrayLike,
    *,
    chunk: int = 200_000,
) -> NDArray[np.float64]:
    """E-field of magnetic dipoles outside a sphere centred at the origin.

    Parameters
    ----------
    dipole_pos : array_like, shape (D, 3)
        Dipole positions in m, outside every field point's sphere
        (``|r0| > |r|``).
    dipole_moment : array_like, shape (D, 3)
        Moments in A m^2 per A of coil current.
    didt : float
        Rate of change of the coil current in A/s.
    points : array_like, shape (P, 3)
        Field points in m, inside the conductor sphere.
    chunk : int
        Maximum number of dipole-point pairs handled at once.

    Returns
    -------
    ndarray, shape (P, 3)
        Induced E-field in V/m.

    Raises
    ------
    InputError
        On wrong shapes or a dipole that is not outside the points.
    """
    r0 = np.atleast_2d(np.asarray(dipole_pos, dtype=float))
    m = np.atleast_2d(np.asarray(dipole_moment, dtype=float))
    p = np.atleast_2d(np.asarray(points, dtype=float))
    problems = []
    if r0.shape[-1] != 3 or m.shape != r0.shape:
        problems.append(
            Problem("dipoles", (r0.shape, m.shape), "(D, 3) positions and moments", "", "shape")
        )
    if p.shape[-1] != 3:
        problems.append(Problem("points", p.shape, "(P, 3)", "", "wrong shape"))
    if not np.isfinite(didt):
        problems.append(Problem("didt", didt, "finite A/s", "", "not finite"))
    if problems:
        raise InputError(problems)
    rmax = float(np.linalg.norm(p, axis=1).max(initial=0.0))
    r0n = np.linalg.norm(r0, axis=1)
    if np.any(r0n <= rmax):
        raise InputError(
            Problem(
                "dipoles",
                f"|r0| = {r0n.min() * 1e3:.2f} mm",
                f"> {rmax * 1e3:.2f} mm (outside the farthest field point)",
                "Heller & van Hulsteyn 1992",
                "dipoles must lie outside the conductor sphere",
            )
        )
    out = np.zeros_like(p)
    step = max(1, chunk // max(len(r0), 1))
    for s in range(0, len(p), step):
        r = p[s : s + step][:, None, :]  # (c, 1, 3)
        a = r0[None, :, :] - r  # (c, D, 3)
        an = np.linalg.norm(a, axis=-1)
        rdot = np.sum(r * r0[None], axis=-1)
        f = an * (r0n * an + r0n**2 - rdot)
        adot = np.sum(a * r0[None], axis=-1)
        c1 = an**2 / r0n + adot / an + 2 * an + 2 * r0n
        c2 = an + 2 * r0n + adot / an
        grad_f = c1[..., None] * r0[None] - c2[..., None] * r
        m_grad = np.sum(m[None] * grad_f, axis=-1)
        term = f[..., None] * np.cross(r, m[None]) - m_grad[..., None] * np.cross(r, r0[None])
        out[s : s + step] = -(MU0 / (4 * np.pi)) * np.sum(term / (f**2)[..., None], axis=1)
    return out * didt


def figure8_coil(
    center: ArrayLike = (0.0, 0.0, 0.095),
    *,
    axis: ArrayLike = (0.0, 0.0, -1.0),
    handle: ArrayLike = (1.0, 0.0, 0.0),
    inner_radius: float = 0.0275,
    outer_radius: float = 0.0435,
    turns: int = 9,
    wing_separation: float | None = None,
    n_angular: int = 24,
    n_radial: int = 4,
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Magnetic-dipole model of a flat figure-8 coil.

    Each wing is ``turns`` concentric circular turns with radii evenly spaced
    between ``inner_radius`` and ``outer_radius``; turn ``j`` of radius ``a_j``
    is a disc of dipoles (``n_radial`` rings x ``n_angular`` sectors) whose
    moments add up to ``pi a_j^2`` (A m^2 per A) along the coil axis. The two
    wings carry opposite currents, so the induced field peaks under the centre, where it
    points perpendicular to the line joining the wing centres (``axis x handle``
    direction, up to the sign of dI/dt).

    The default dimensions (inner/outer winding radius 27.5/43.5 mm, 9 turns per
    wing, wings touching) are **assumed**, chosen to resemble a 70 mm figure-8
    coil; they were not read from a datasheet. Pass measured values for a real coil.

    Parameters
    ----------
    center : array_like, shape (3,)
        Coil centre in m (e.g. just above the scalp).
    axis : array_like, shape (3,)
        Coil normal pointing into the head.
    handle : array_like, shape (3,)
        Direction from the centre to the first wing's centre (made
        perpendicular to ``axis``).
    inner_radius, outer_radius : float
        Radii of the innermost and outermost turn in m.
    turns : int
        Turns per wing.
    wing_separation : float, optional
        Distance between wing centres in m (default ``2 * outer_radius``).
    n_angular, n_radial : int
        Discretisation of each disc.

    Returns
    -------
    positions : ndarray, shape (D, 3)
        Dipole positions in m.
    moments : ndarray, shape (D, 3)
        Dipole moments in A m^2 per A of coil current.
    """
    ax = np.asarray(axis, dtype=float)
    ax = ax / np.linalg.norm(ax)
    h = np.asarray(handle, dtype=float)
    h = h - np.dot(h, ax) * ax
    if np.linalg.norm(h) == 0:
        raise InputError(Problem("handle", handle, "not parallel to axis", "", "degenerate"))
    h = h / np.linalg.norm(h)
    w = np.cross(ax, h)
    sep = 2 * outer_radius if wing_separation is None else float(wing_separation)
    radii = np.linspace(inner_radius, outer_radius, turns)
    pos_list, mom_list = [], []
    for sign, shift in ((1.0, 0.5 * sep), (-1.0, -0.5 * sep)):
        c = np.asarray(center, dtype=float) + shift * h
        for a in radii:
            edges = np.linspace(0.0, a, n_radial + 1)
            rc = 0.5 * (edges[1:] + edges[:-1])
            area = np.pi * (edges[1:] ** 2 - edges[:-1] ** 2) / n_angular
            th = (np.arange(n_angular) + 0.5) * 2 * np.pi / n_angular
            rr, tt = np.meshgrid(rc, th, indexing="ij")
            aa = np.repeat(area[:, None], n_angular, axis=1)
            xy = rr.ravel()[:, None] * (
                np.cos(tt.ravel())[:, None] * h + np.sin(tt.ravel())[:, None] * w
            )
            pos_list.append(c + xy)
            mom_list.append(sign * aa.ravel()[:, None] * ax[None, :])
    return np.vstack(pos_list), np.vstack(mom_list)


def tms_field(
    dipole_pos: ArrayLike,
    dipole_moment: ArrayLike,
    didt: float,
    points: ArrayLike,
    *,
    target: ArrayLike | None = None,
    roi_radius: float = 0.01,
) -> FieldResult:
    """TMS E-field as a :class:`~phantomlab.fields.result.FieldResult`.

    Parameters
    ----------
    dipole_pos, dipole_moment : array_like, shape (D, 3)
        Coil dipoles (m; A m^2 per A), e.g. from :func:`figure8_coil`.
    didt : float
        dI/dt in A/s.
    points : array_like, shape (P, 3)
        Points in m inside the head sphere.
    target : array_like, shape (3,), optional
        Target in m.
    roi_radius : float
        ROI radius in m.

    Returns
    -------
    FieldResult
        Field, magnitude and target summaries.
    """
    pts = np.atleast_2d(np.asarray(points, dtype=float))
    e = tms_efield(dipole_pos, dipole_moment, didt, pts)
    return FieldResult(
        kind="tms",
        points=pts,
        magnitude=np.linalg.norm(e, axis=1),
        efield=e,
        target=None if target is None else np.asarray(target, dtype=float),
        roi_radius=roi_radius,
        montage={"n_dipoles": int(np.atleast_2d(dipole_pos).shape[0]), "didt_A_per_s": didt},
    )
