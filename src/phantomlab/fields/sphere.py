"""Concentric multi-shell sphere head model: analytic potential and E-field.

Point current electrodes on the outer surface of ``N`` concentric shells. The
potential is the Legendre series of Rush & Driscoll generalised to any
number of shells; the radial functions are propagated outward with a
numerically stable logarithmic-derivative recursion instead of raw powers
``r**n``, so thousands of terms can be summed without overflow.

Derivation (used in the code, written out so it can be checked)
---------------------------------------------------------------
In shell ``k`` the potential of one spherical-harmonic degree ``n`` is
``f_n(r) P_n(cos gamma)`` with ``f_n = A r**n + B r**-(n+1)``; the innermost
shell has ``B = 0``. With the logarithmic derivative ``y = r f'/f`` and
``u = B r**-(2n+1) / A``::

    y = (n - (n+1) u) / (1 + u),      u = (n - y) / (y + n + 1),
    u(r2) = u(r1) * (r1 / r2)**(2n+1)           (inside one shell)
    y(r_k+) = sigma_k / sigma_{k+1} * y(r_k-)    (continuity of phi and sigma dphi/dr)
    f(r1) / f(r2) = (r1 / r2)**n * (1 + u(r1)) / (1 + u(r2)).

A unit current entering at the surface point ``a`` gives the boundary condition
``sigma_N dphi/dr (R) = delta(Omega - a) / R**2`` and, expanding the delta
function, the monopole series (the ``n = 0`` term cancels for any montage whose
currents sum to zero)::

    phi(x) = sum_{n>=1} (2n+1) / (4 pi R sigma_N y_n(R)) * f_n(r) / f_n(R) * P_n(x_hat . a_hat).

For a homogeneous sphere this reduces to the closed form
``phi = 1/(4 pi sigma) [2/|x-a| + (1/R) ln(2 / (1 - t mu + D))] - 2/(4 pi sigma R)``
with ``t = r/R``, ``mu = x_hat . a_hat``, ``D = |x - a| / R`` (generating
functions of ``P_n`` and ``P_n / n``). In the outer shell the code subtracts
this singular part from the series and adds it back in closed form, so the
remainder decays geometrically even next to an electrode (convergence
control).

References
----------
Rush S, Driscoll DA. EEG electrode sensitivity -- an application of
reciprocity (the series SimNIBS's ``potential_3layers_surface_electrodes``
cites; shared/research/fields.md section 1.2). The multi-shell recursion below
is derived here from the same boundary-value problem, not copied.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
from numpy.typing import ArrayLike, NDArray

from phantomlab.exceptions import ConvergenceError, InputError, Problem

__all__ = [
    "CONDUCTIVITY_SOURCE",
    "RADII_SOURCE",
    "SphereModel",
    "default_model",
    "homogeneous_monopole",
    "monopole_fields",
]

FloatArray = NDArray[np.float64]

#: Source of the default conductivities (read in shared/research/fields.md section 1.8).
CONDUCTIVITY_SOURCE = (
    "SimNIBS default conductivities (utils/mesh_element_properties.py, docs conductivity.rst), "
    "citing Wagner et al. 2004 (fields.md section 1.8); brain = grey matter 0.275 S/m"
)
#: Source of the default radii (mne.make_sphere_model docstring, mne 1.13.2).
RADII_SOURCE = (
    "MNE-Python make_sphere_model defaults: head radius 90 mm, relative radii "
    "0.90/0.92/0.97/1.0 for brain/CSF/skull/scalp"
)


@dataclass(frozen=True)
class SphereModel:
    """Concentric spheres centred at the origin, listed from the inside out.

    Parameters
    ----------
    radii : tuple of float
        Outer radius of each shell in m, strictly increasing; the last one is
        the scalp surface where electrodes sit.
    sigma : tuple of float
        Conductivity of each shell in S/m (same order), all > 0.
    names : tuple of str
        Tissue name of each shell (defaults to ``shell0``, ``shell1``, ...).
    sources : tuple of str
        Where the radii and conductivities come from (free text citations).

    Raises
    ------
    InputError
        If the shells are inconsistent (lengths, order, non-positive values).
    """

    radii: tuple[float, ...]
    sigma: tuple[float, ...]
    names: tuple[str, ...] = ()
    sources: tuple[str, ...] = field(default=())

    def __post_init__(self) -> None:
        radii = tuple(float(r) for r in self.radii)
        sigma = tuple(float(s) for s in self.sigma)
        problems: list[Problem] = []
        if len(radii) == 0:
            problems.append(Problem("radii", self.radii, "at least one shell", "", "no shells"))
        if len(radii) != len(sigma):
            problems.append(
                Problem(
                    "sigma",
                    self.sigma,
                    f"{len(radii)} values (one per radius)",
                    "",
                    "need one conductivity per shell",
                )
            )
        if any(not math.isfinite(r) or r <= 0 for r in radii) or any(
            b <= a for a, b in zip(radii, radii[1:], strict=False)
        ):
            problems.append(
                Problem("radii", self.radii, "> 0 and strictly increasing (m)", "", "bad radii")
            )
        if any(not math.isfinite(s) or s <= 0 for s in sigma):
            problems.append(Problem("sigma", self.sigma, "> 0 S/m", "", "bad conductivity"))
        names = tuple(self.names) or tuple(f"shell{i}" for i in range(len(radii)))
        if len(names) != len(radii):
            problems.append(Problem("names", self.names, "one per shell", "", "wrong length"))
        if problems:
            raise InputError(problems)
        object.__setattr__(self, "radii", radii)
        object.__setattr__(self, "sigma", sigma)
        object.__setattr__(self, "names", names)
        object.__setattr__(self, "sources", tuple(self.sources))

    @property
    def outer_radius(self) -> float:
        """Scalp radius in m."""
        return self.radii[-1]

    @property
    def n_shells(self) -> int:
        """Number of shells."""
        return len(self.radii)

    def shell_of(self, r: ArrayLike) -> NDArray[np.intp]:
        """Return the shell index of each radius (points on an interface go inside).

        Parameters
        ----------
        r : array_like
            Radii in m.

        Returns
        -------
        ndarray of int
            Index into :attr:`radii`.
        """
        return np.searchsorted(np.asarray(self.radii), np.asarray(r, dtype=float), side="left")

    def sigma_at(self, points: ArrayLike) -> FloatArray:
        """Conductivity (S/m) at each point of an ``(n, 3)`` array in m."""
        p = np.atleast_2d(np.asarray(points, dtype=float))
        idx = np.minimum(self.shell_of(np.linalg.norm(p, axis=1)), self.n_shells - 1)
        return np.asarray(self.sigma)[idx]

    def describe(self) -> str:
        """Return one line per shell: name, outer radius (mm), conductivity."""
        lines = [
            f"{n:>8s}: r <= {r * 1e3:6.1f} mm, sigma = {s:.4g} S/m"
            for n, r, s in zip(self.names, self.radii, self.sigma, strict=True)
        ]
        return "\n".join(lines + [f"sources: {src}" for src in self.sources])


def default_model() -> SphereModel:
    """Four-shell head (brain, CSF, skull, scalp) with cited radii and conductivities.

    Radii 81 / 82.8 / 87.3 / 90 mm are MNE's ``make_sphere_model`` defaults
    (head radius 90 mm times 0.90/0.92/0.97/1.0). Conductivities are the SimNIBS
    defaults (Wagner et al. 2004): grey matter 0.275, CSF 1.654, bone 0.010,
    scalp 0.465 S/m. The brain is treated as homogeneous grey matter (the white
    matter value 0.126 S/m is not used in a sphere without a white-matter shell).

    Returns
    -------
    SphereModel
        The default model.
    """
    head = 0.09
    return SphereModel(
        radii=(0.90 * head, 0.92 * head, 0.97 * head, 1.0 * head),
        sigma=(0.275, 1.654, 0.010, 0.465),
        names=("brain", "csf", "skull", "scalp"),
        sources=(RADII_SOURCE, CONDUCTIVITY_SOURCE),
    )


# ---------------------------------------------------------------------------
# radial functions


@dataclass(frozen=True)
class _Radial:
    """Per-degree shell quantities for degrees ``1..n_max`` (internal)."""

    n: FloatArray  # (N,)
    u_in: FloatArray  # (S, N): u at the inner boundary of each shell (0 for shell 0)
    u_out: FloatArray  # (S, N): u at the outer boundary of each shell
    g_out: FloatArray  # (S, N): f(r_k) / f(R)
    scale: FloatArray  # (N,): (2n+1) / (4 pi R sigma_N y(R))


def _radial(model: SphereModel, n_max: int) -> _Radial:
    n = np.arange(1, n_max + 1, dtype=float)
    radii = np.asarray(model.radii)
    sig = np.asarray(model.sigma)
    s_count = model.n_shells
    u_in = np.zeros((s_count, n.size))
    u_out = np.zeros((s_count, n.size))
    y = n.copy()  # y just inside r_0 (innermost shell: f = r^n)
    for k in range(s_count):
        if k > 0:
            y = sig[k - 1] / sig[k] * y
            u = (n - y) / (y + n + 1.0)
            u_in[k] = u
            u_out[k] = u * (radii[k - 1] / radii[k]) ** (2 * n + 1)
            y = (n - (n + 1.0) * u_out[k]) / (1.0 + u_out[k])
    # g_out[k] = f(r_k)/f(R) = prod_{j>k} f(r_{j-1})/f(r_j)
    g_out = np.ones((s_count, n.size))
    for k in range(s_count - 2, -1, -1):
        j = k + 1
        ratio = (radii[k] / radii[j]) ** n * (1.0 + u_in[j]) / (1.0 + u_out[j])
        g_out[k] = g_out[j] * ratio
    scale = (2 * n + 1) / (4 * np.pi * radii[-1] * sig[-1] * y)
    return _Radial(n=n, u_in=u_in, u_out=u_out, g_out=g_out, scale=scale)


def _coefficients(
    model: SphereModel, rad: _Radial, r: FloatArray, n_terms: int
) -> tuple[FloatArray, FloatArray, FloatArray]:
    """Series coefficients ``c_n(r)``, ``c_n'(r)`` and ``c_n(r)/r`` for points at radii ``r``.

    In the outer shell the homogeneous part is subtracted (see module notes).
    """
    radii = np.asarray(model.radii)
    n = rad.n[:n_terms]
    shell = np.minimum(model.shell_of(r), model.n_shells - 1)
    rr = np.maximum(r, 1e-12 * radii[-1])[:, None]
    c = np.empty((r.size, n_terms))
    dc = np.empty_like(c)
    for k in np.unique(shell):
        sel = shell == k
        rk = radii[k]
        rs = rr[sel]
        if k == 0:
            u = np.zeros((rs.shape[0], n_terms))
        else:
            u = rad.u_in[k, :n_terms] * (radii[k - 1] / rs) ** (2 * n + 1)
        g = rad.g_out[k, :n_terms] * (rs / rk) ** n * (1.0 + u) / (1.0 + rad.u_out[k, :n_terms])
        y = (n - (n + 1.0) * u) / (1.0 + u)
        c[sel] = rad.scale[:n_terms] * g
        dc[sel] = c[sel] * y / rs
        if k == model.n_shells - 1:  # subtract the homogeneous singular part
            hom = (2 * n + 1) / (4 * np.pi * radii[-1] * model.sigma[-1] * n) * (rs / rk) ** n
            c[sel] -= hom
            dc[sel] -= hom * n / rs
    return c, dc, c / rr


def _decay_ratio(model: SphereModel, r: FloatArray) -> FloatArray:
    """Asymptotic geometric decay ratio of the series terms at radius ``r``."""
    radii = np.asarray(model.radii)
    big_r = radii[-1]
    if model.n_shells == 1:  # the closed form is exact; the remainder is zero
        return np.zeros_like(r)
    q = r / big_r
    if model.n_shells > 1:
        outer = model.shell_of(r) >= model.n_shells - 1
        rin = radii[-2]
        q = np.where(outer, rin**2 / (np.maximum(r, rin) * big_r), q)
    return np.clip(q, 0.0, 1.0)


def _terms_needed(q: float, rtol: float, max_terms: int) -> int:
    """Smallest N with q**N * N**2 <= rtol (tangential terms grow like n**2)."""
    if q <= 0.0:
        return 2
    if q >= 1.0:
        return max_terms + 1
    n = 8
    while n <= max_terms and q**n * n * n > rtol:
        n = int(n * 1.25) + 1
    return n


def homogeneous_monopole(
    points: FloatArray, electrodes: FloatArray, radius: float, sigma: float
) -> tuple[FloatArray, FloatArray]:
    """Closed-form potential and E-field of unit surface monopoles, homogeneous sphere.

    The ``n = 0`` term is removed (as in :func:`monopole_fields`), so any
    combination whose currents sum to zero is the exact two-electrode solution.

    Parameters
    ----------
    points : ndarray, shape (P, 3)
        Field points in m, inside the sphere.
    electrodes : ndarray, shape (E, 3)
        Electrode positions in m, on the sphere surface.
    radius : float
        Sphere radius in m.
    sigma : float
        Conductivity in S/m.

    Returns
    -------
    phi : ndarray, shape (E, P)
        Potential in V per A injected.
    efield : ndarray, shape (E, P, 3)
        E-field in V/m per A.
    """
    x = points[None, :, :]
    a = electrodes[:, None, :]
    d = x - a
    dist = np.linalg.norm(d, axis=-1)
    w = 1.0 - np.sum(x * a, axis=-1) / radius**2 + dist / radius
    k = 1.0 / (4 * np.pi * sigma)
    phi = k * (2.0 / dist + np.log(2.0 / w) / radius - 2.0 / radius)
    grad_w = -a / radius**2 + d / (radius * dist[..., None])
    grad = k * (-2.0 * d / dist[..., None] ** 3 - grad_w / (w[..., None] * radius))
    return phi, -grad


def _check_points(model: SphereModel, points: ArrayLike, name: str) -> FloatArray:
    p = np.atleast_2d(np.asarray(points, dtype=float))
    if p.ndim != 2 or p.shape[1] != 3:
        raise InputError(Problem(name, p.shape, "an (n, 3) array in m", "", "wrong shape"))
    if not np.all(np.isfinite(p)):
        raise InputError(Problem(name, "non-finite", "finite coordinates", "", "NaN or inf"))
    r = np.linalg.norm(p, axis=1)
    bad = r > model.outer_radius * (1 + 1e-9)
    if np.any(bad):
        raise InputError(
            Problem(
                name,
                f"{int(bad.sum())} point(s), e.g. r = {r[bad][0] * 1e3:.2f} mm",
                f"r <= {model.outer_radius * 1e3:.2f} mm (inside the head sphere)",
                "",
                "field points must lie inside the sphere",
            )
        )
    return p


def monopole_fields(
    model: SphereModel,
    points: ArrayLike,
    electrodes: ArrayLike,
    *,
    rtol: float = 1e-8,
    max_terms: int = 5000,
    chunk: int = 2048,
    potential: bool = True,
) -> tuple[FloatArray, FloatArray]:
    """Potential and E-field of unit current monopoles on the scalp (lead field).

    Each electrode ``e`` injects +1 A at its position (projected onto the outer
    sphere); the ``n = 0`` term is dropped, so ``sum_e I_e * field_e`` is exact
    for any currents with ``sum_e I_e = 0`` (superposition).

    Parameters
    ----------
    model : SphereModel
        The head model.
    points : array_like, shape (P, 3)
        Field points in m (inside the outer sphere).
    electrodes : array_like, shape (E, 3)
        Electrode positions in m; only their directions are used.
    rtol : float
        Truncation tolerance: terms are summed until the geometric tail bound
        ``q**N * N**2`` of the slowest point of a chunk falls below ``rtol``
        (relative to the leading term).
    max_terms : int
        Hard cap on the number of Legendre terms.
    chunk : int
        Points processed at once (memory is about ``chunk * E * 48`` bytes).
    potential : bool
        Also return the potential (skip it to save time).

    Returns
    -------
    phi : ndarray, shape (E, P)
        Potential in V per A (zeros if ``potential`` is false).
    efield : ndarray, shape (E, P, 3)
        E-field in V/m per A.

    Raises
    ------
    ConvergenceError
        If a point needs more than ``max_terms`` terms (a point on the scalp
        of a one-shell model is fine: it uses the closed form).
    """
    p = _check_points(model, points, "points")
    el = np.atleast_2d(np.asarray(electrodes, dtype=float))
    if el.shape[-1] != 3:
        raise InputError(Problem("electrodes", el.shape, "(n, 3)", "", "wrong shape"))
    el_norm = np.linalg.norm(el, axis=1)
    if np.any(el_norm == 0):
        raise InputError(Problem("electrodes", "origin", "a direction", "", "zero vector"))
    ehat = el / el_norm[:, None]
    big_r = model.outer_radius
    n_el, n_pt = ehat.shape[0], p.shape[0]
    phi_out = np.zeros((n_el, n_pt))
    e_out = np.zeros((n_el, n_pt, 3))
    r_all = np.linalg.norm(p, axis=1)
    order = np.argsort(_decay_ratio(model, r_all))  # similar convergence in one chunk
    q_all = _decay_ratio(model, r_all)
    n_cap = max(_terms_needed(float(q_all.max(initial=0.0)), rtol, max_terms), 2)
    rad = _radial(model, min(n_cap, max_terms))
    for start in range(0, n_pt, chunk):
        idx = order[start : start + chunk]
        pts, r = p[idx], r_all[idx]
        n_terms = _terms_needed(float(q_all[idx].max()), rtol, max_terms)
        if n_terms > max_terms:
            raise ConvergenceError(
                f"Legendre series needs more than max_terms={max_terms} terms at "
                f"r = {r.max() * 1e3:.3f} mm; raise max_terms or move the point off the scalp"
            )
        c, dc, c_over_r = _coefficients(model, rad, r, n_terms)
        rhat = np.where(r[:, None] > 0, pts / np.maximum(r, 1e-300)[:, None], [0.0, 0.0, 1.0])
        mu = np.clip(rhat @ ehat.T, -1.0, 1.0)  # (c, E)
        p_prev = np.ones_like(mu)
        p_cur = mu.copy()
        dp_prev = np.zeros_like(mu)
        dp_cur = np.ones_like(mu)
        acc_phi = np.zeros_like(mu)
        acc_r = np.zeros_like(mu)
        acc_t = np.zeros_like(mu)
        tmp = np.empty_like(mu)
        for i in range(n_terms):  # degree n = i + 1
            nn = i + 1.0
            if potential:
                np.multiply(c[:, i : i + 1], p_cur, out=tmp)
                acc_phi += tmp
            np.multiply(dc[:, i : i + 1], p_cur, out=tmp)
            acc_r += tmp
            np.multiply(c_over_r[:, i : i + 1], dp_cur, out=tmp)
            acc_t += tmp
            # P_{n+1} = ((2n+1) mu P_n - n P_{n-1}) / (n+1);  P'_{n+1} = P'_{n-1} + (2n+1) P_n
            np.multiply(mu, p_cur, out=tmp)
            tmp *= (2 * nn + 1) / (nn + 1)
            p_prev *= nn / (nn + 1)
            np.subtract(tmp, p_prev, out=p_prev)
            p_prev, p_cur = p_cur, p_prev
            dp_prev += (2 * nn + 1) * p_prev
            dp_prev, dp_cur = dp_cur, dp_prev
        # grad phi = acc_r r_hat + acc_t (e_hat - mu r_hat)   (acc_t already divided by r)
        radial = acc_r - acc_t * mu  # (c, E)
        grad = radial.T[:, :, None] * rhat[None, :, :] + acc_t.T[:, :, None] * ehat[:, None, :]
        e_chunk = -grad
        phi_chunk = acc_phi.T
        outer = model.shell_of(r) >= model.n_shells - 1
        if np.any(outer):
            ph_h, e_h = homogeneous_monopole(pts[outer], ehat * big_r, big_r, model.sigma[-1])
            if potential:
                phi_chunk[:, outer] += ph_h
            e_chunk[:, outer] += e_h
        phi_out[:, idx] = phi_chunk
        e_out[:, idx] = e_chunk
    return phi_out, e_out
