"""Realistic template head: FEM solve, pad electrodes, lead field, TI and tDCS optimization.

The geometry and mesh come from :mod:`~phantomlab.fields.head_geometry`
(fsaverage template or a concentric sphere through the same pipeline). The P1
Laplace problem ``div(sigma grad phi) = 0`` with one conductivity per tissue is
assembled with scikit-fem and solved by CG preconditioned with pyamg smoothed
aggregation (relative tolerance 1e-10, SimNIBS's default CG+AMG rtol, fields.md
section 1.6); the stiffness matrix and the AMG hierarchy are built once per head
and reused for every electrode, so a lead field of ``E`` electrodes costs
``E - 1`` preconditioned CG solves.

Electrodes
----------
Positions are MNE's ``fsaverage_1010`` montage (fsaverage surface RAS, m, shipped
in ``data/montages.csv``) cast onto the scalp along the ray from the head centre;
on a sphere head, MNE's ``spherical_1010`` cap. A :class:`Pad` is ``point``,
``circular`` (diameter) or ``rectangular`` (width x height, width along the
scalp's left-right tangent). A pad injects its current with **uniform current
density** over the scalp nodes inside its footprint (nodal areas as weights):
the limit of a gel layer whose resistance dominates the skin's (``assumed``; the
gel and rubber are not meshed, so edge crowding is not modelled).

Targets
-------
``(x, y, z)`` in mm in fsaverage/MNI305 space, or a 10-10 name (the mid-grey-matter
point under that electrode along the ray to the centre).
"""

from __future__ import annotations

import csv
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from importlib import resources
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray
from threadpoolctl import threadpool_limits  # type: ignore[import-untyped]

from phantomlab._optional import require
from phantomlab.exceptions import ConvergenceError, InputError, Problem
from phantomlab.fields.electrodes import get_cap
from phantomlab.fields.head_geometry import (
    HeadMesh,
    LayeredHead,
    mesh_head,
    sphere_head,
    template_head,
)
from phantomlab.fields.optimize import TDCSOptimum, TIOptimum, optimize_tdcs, optimize_ti
from phantomlab.fields.sphere import SphereModel
from phantomlab.fields.ti import max_envelope

__all__ = [
    "HeadLeadField",
    "HeadSolution",
    "Pad",
    "RealisticHead",
    "head_leadfield",
    "load_head",
    "optimize_tdcs_head",
    "optimize_ti_head",
    "solve",
    "target_point",
    "ti_envelope_head",
]

FloatArray = NDArray[np.float64]
_SHAPES = ("point", "circular", "rectangular")


@dataclass(frozen=True)
class Pad:
    """Electrode pad shape and size.

    Parameters
    ----------
    shape : str
        ``"point"``, ``"circular"`` or ``"rectangular"``.
    size : tuple of float
        Diameter (circular) or (width, height) (rectangular) in m; ignored for points.
    """

    shape: str = "circular"
    size: tuple[float, ...] = (0.02,)

    def __post_init__(self) -> None:
        if self.shape not in _SHAPES:
            raise InputError(Problem("pad.shape", self.shape, " | ".join(_SHAPES), "", "unknown"))
        need = {"point": 0, "circular": 1, "rectangular": 2}[self.shape]
        if self.shape != "point" and (
            len(self.size) != need or not all(1e-3 <= s <= 0.1 for s in self.size)
        ):
            raise InputError(
                Problem("pad.size", self.size, f"{need} value(s) in 0.001 to 0.1 m", "", "pad size")
            )


@lru_cache(maxsize=1)
def _fsaverage_1010() -> tuple[tuple[str, ...], FloatArray]:
    text = resources.files("phantomlab.fields").joinpath("data/montages.csv")
    rows = [
        r for r in csv.DictReader(text.read_text("utf-8").splitlines())
        if r["montage"] == "fsaverage_1010"
    ]  # fmt: skip
    pos = np.array([[float(r[k]) for k in "xyz"] for r in rows])
    ok = np.all(np.isfinite(pos), axis=1)
    return tuple(r["name"] for r, k in zip(rows, ok, strict=True) if k), pos[ok]


def _ray_surface(head: LayeredHead, k: int, dirs: FloatArray) -> FloatArray:
    """Distance from the centre to surface ``k`` along unit ``dirs`` (barycentric)."""
    hits = np.empty(len(dirs))
    d, f = head.directions, head.faces
    for i, u in enumerate(dirs):
        # the face of the icosphere the ray crosses: solve u = a d0 + b d1 + c d2, all >= 0
        m = np.stack([d[f[:, 0]], d[f[:, 1]], d[f[:, 2]]], axis=2)  # (F, 3, 3)
        w = np.linalg.solve(m, np.broadcast_to(u, (len(f), 3))[..., None])[..., 0]
        j = int(np.argmax(w.min(axis=1)))
        ww = w[j] / w[j].sum()
        hits[i] = float(ww @ head.radii[k][f[j]])  # linear in the barycentric weights
    return hits


@dataclass(frozen=True)
class RealisticHead:
    """A meshed head with its electrode cap, ready to solve.

    Parameters
    ----------
    head : LayeredHead
        Surfaces, tissue names and conductivities.
    mesh : HeadMesh
        Tetrahedral mesh.
    names : tuple of str
        Electrode names of the cap.
    electrodes : ndarray, shape (E, 3)
        Electrode centres on the scalp in m.
    """

    head: LayeredHead
    mesh: HeadMesh
    names: tuple[str, ...]
    electrodes: FloatArray
    _system: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)

    def index(self, name: str) -> int:
        """Row of an electrode by name (case-insensitive); raises :class:`InputError`."""
        lookup = {n.lower(): i for i, n in enumerate(self.names)}
        i = lookup.get(str(name).strip().lower())
        if i is None:
            raise InputError(
                Problem("electrode", name, f"one of {', '.join(self.names[:20])} ...", "", "")
            )
        return i

    @property
    def centroids(self) -> FloatArray:
        """Tetrahedron centroids in m, shape (M, 3)."""
        if "cent" not in self._system:
            self._system["cent"] = self.mesh.nodes[self.mesh.tets].mean(axis=1)
        return np.asarray(self._system["cent"])

    def tissue_mask(self, tissues: Sequence[str]) -> NDArray[np.bool_]:
        """Boolean mask over tetrahedra of the named tissues."""
        idx = [self.head.names.index(t) for t in tissues if t in self.head.names]
        return np.isin(self.mesh.tissue, idx)

    def _operators(self) -> dict[str, Any]:
        s = self._system
        if "amg" in s:
            return s
        skfem = require("skfem", extra="fem")
        pyamg = require("pyamg", extra="fem")
        nodes, tets = self.mesh.nodes, self.mesh.tets
        m = skfem.MeshTet(np.ascontiguousarray(nodes.T), np.ascontiguousarray(tets.T))
        basis = skfem.Basis(m, skfem.ElementTetP1())
        helpers = require("skfem.helpers", extra="fem")
        dot, grad = helpers.dot, helpers.grad

        @skfem.BilinearForm
        def laplace(u: Any, v: Any, w: Any) -> Any:
            return w.sigma * dot(grad(u), grad(v))

        sig = np.asarray(self.head.sigma)[self.mesh.tissue]
        k_mat = laplace.assemble(basis, sigma=np.repeat(sig[:, None], basis.X.shape[-1], 1))
        ground = int(np.argmin(np.linalg.norm(nodes - self.head.center, axis=1)))
        keep = np.setdiff1d(np.arange(len(nodes)), [ground])
        k_red = k_mat.tocsr()[keep][:, keep].tocsr()
        # P1 gradient operator: E = -G phi at tet centroids
        x = nodes[tets]
        dmat = np.transpose(x[:, 1:] - x[:, :1], (0, 2, 1))  # columns = edges
        inv = np.linalg.inv(dmat)  # rows: grad of barycentric coords 1..3
        g = np.concatenate([-inv.sum(axis=1, keepdims=True), inv], axis=1)  # (M, 4, 3)
        from scipy import sparse

        rows = (np.arange(len(tets))[:, None, None] * 3 + np.arange(3)[None, None, :]).repeat(
            4, axis=1
        )
        cols = np.broadcast_to(tets[:, :, None], g.shape)
        s["G"] = sparse.csr_matrix(
            (g.ravel(), (rows.ravel(), cols.ravel())), shape=(3 * len(tets), len(nodes))
        )
        s["vol"] = np.abs(np.linalg.det(dmat)) / 6
        s["keep"], s["K"] = keep, k_red
        with threadpool_limits(limits=1):
            s["amg"] = pyamg.smoothed_aggregation_solver(k_red, symmetry="symmetric")
        s["Kfull"] = k_mat.tocsr()
        return s

    def injection(self, name: str, pad: Pad) -> FloatArray:
        """Nodal current weights (sum 1) of one pad centred on electrode ``name``."""
        p = self.electrodes[self.index(name)]
        return self._injection_at(p, pad)

    def _injection_at(self, p: FloatArray, pad: Pad) -> FloatArray:
        mesh = self.mesh
        area = self._nodal_area()
        n = (p - self.head.center) / np.linalg.norm(p - self.head.center)
        rel = mesh.nodes[mesh.scalp] - p
        normal_off = rel @ n
        tang = rel - normal_off[:, None] * n
        near = np.abs(normal_off) < 0.02
        if pad.shape == "circular":
            inside = near & (np.linalg.norm(tang, axis=1) <= pad.size[0] / 2)
        elif pad.shape == "rectangular":
            ex = np.cross([0.0, 0.0, 1.0], n)
            ex = ex / np.linalg.norm(ex) if np.linalg.norm(ex) > 1e-9 else np.array([1.0, 0, 0])
            ey = np.cross(n, ex)
            inside = (
                near
                & (np.abs(tang @ ex) <= pad.size[0] / 2)
                & (np.abs(tang @ ey) <= pad.size[1] / 2)
            )
        else:
            inside = np.zeros(len(rel), dtype=bool)
        w = np.zeros(len(mesh.nodes))
        if inside.sum() < 1:  # point electrode (or pad smaller than the mesh): nearest node
            w[mesh.scalp[np.argmin(np.linalg.norm(rel, axis=1))]] = 1.0
        else:
            idx = mesh.scalp[inside]
            w[idx] = area[idx] / area[idx].sum()
        return w

    def _nodal_area(self) -> FloatArray:
        if "area" not in self._system:
            t = self.mesh.scalp_tris
            x = self.mesh.nodes[t]
            a = 0.5 * np.linalg.norm(np.cross(x[:, 1] - x[:, 0], x[:, 2] - x[:, 0]), axis=1)
            area = np.zeros(len(self.mesh.nodes))
            np.add.at(area, t.ravel(), np.repeat(a / 3, 3))
            self._system["area"] = area
        return np.asarray(self._system["area"])

    def solve_rhs(self, rhs: FloatArray, tol: float = 1e-10) -> tuple[FloatArray, int]:
        """Potentials (V) for nodal currents ``rhs`` (A, summing to 0) and CG iterations."""
        s = self._operators()
        keep = s["keep"]
        b = rhs[keep]
        res: list[float] = []
        # one BLAS thread: CG's vector ops are too small to gain from threads, and
        # oversubscribed threads made solves 10x slower on a loaded 2-core machine (measured)
        with threadpool_limits(limits=1):
            x_red = s["amg"].solve(b, tol=tol, accel="cg", maxiter=2000, residuals=res)
        nb = float(np.linalg.norm(b)) or 1.0
        if not np.linalg.norm(b - s["K"] @ x_red) / nb < max(10 * tol, 1e-8):
            raise ConvergenceError("head FEM: CG did not reach its tolerance")
        x = np.zeros(len(rhs))
        x[keep] = x_red
        return x - x.mean(), len(res)

    def efield(self, phi: FloatArray) -> FloatArray:
        """E-field (V/m) at the tet centroids from nodal potentials, shape (M, 3)."""
        s = self._operators()
        return np.asarray(-(s["G"] @ phi).reshape(-1, 3))


def load_head(
    kind: str | SphereModel = "template",
    *,
    level: int = 3,
    size: float = 0.01,
    sigma: Mapping[str, float] | None = None,
    cache: bool = True,
) -> RealisticHead:
    """Build (or load from the cache) a meshed head with its 10-10 cap.

    Parameters
    ----------
    kind : str or SphereModel
        ``"template"`` (fsaverage five-tissue head) or a :class:`SphereModel`
        (concentric spheres through the same pipeline).
    level : int
        Icosphere level of the surfaces (3 is the coarse default).
    size : float
        Largest tetrahedron edge inside the shells, m.
    sigma : mapping, optional
        Conductivity overrides by tissue name, S/m.
    cache : bool
        Use the mesh cache.

    Returns
    -------
    RealisticHead
        Mesh, conductivities and electrode positions.
    """
    if isinstance(kind, SphereModel):
        head = sphere_head(kind, level)
        cap = get_cap("10-10", kind)
        names, pos = cap.names, np.asarray(cap.positions, float)
    elif kind == "template":
        head = _template(level)
        names, raw = _fsaverage_1010()
        dirs = raw - head.center
        dirs = dirs / np.linalg.norm(dirs, axis=1, keepdims=True)
        pos = head.center + _ray_surface(head, len(head.names) - 1, dirs)[:, None] * dirs
    else:
        raise InputError(Problem("head", kind, "'template' or a SphereModel", "", "unknown head"))
    if sigma:
        head = head.with_sigma(**dict(sigma))
    mesh = mesh_head(head, size, cache=cache)
    return RealisticHead(head, mesh, tuple(names), pos)


@lru_cache(maxsize=4)
def _template(level: int) -> LayeredHead:
    return template_head(level)


@dataclass(frozen=True)
class HeadSolution:
    """FEM solution of one montage on a :class:`RealisticHead`.

    Parameters
    ----------
    head : RealisticHead
        The head solved.
    currents : dict
        Electrode name -> current in A.
    potential : ndarray, shape (N,)
        Nodal potential in V (mean removed).
    efield : ndarray, shape (M, 3)
        E-field at the tet centroids in V/m.
    iterations : int
        CG iterations.
    seconds : float
        Solve time (excluding the one-off assembly) in s.
    """

    head: RealisticHead
    currents: dict[str, float]
    potential: FloatArray
    efield: FloatArray
    iterations: int
    seconds: float

    @property
    def magnitude(self) -> FloatArray:
        """|E| at the centroids, V/m."""
        return np.asarray(np.linalg.norm(self.efield, axis=1))

    def percentile(self, q: float, tissues: Sequence[str] = ("gm",)) -> float:
        """Percentile ``q`` of |E| (V/m) over the named tissues."""
        mask = self.head.tissue_mask(tissues)
        return float(np.percentile(self.magnitude[mask], q))

    def summary(self) -> str:
        """Plain-text summary: montage and |E| percentiles per tissue."""
        lines = [f"montage {self.currents} ({self.iterations} CG iterations, {self.seconds:.2f} s)"]
        for t in self.head.head.names:
            e = self.magnitude[self.head.tissue_mask([t])]
            lines.append(
                f"  {t:6s} |E| median {np.median(e):.3f}  p99 {np.percentile(e, 99):.3f} V/m"
            )
        return "\n".join(lines)


def _check_currents(head: RealisticHead, currents: Mapping[str, float]) -> None:
    total = sum(float(c) for c in currents.values())
    if abs(total) > 1e-9 or not currents:
        raise InputError(Problem("currents", dict(currents), "sum to 0 A", "Kirchhoff", ""))
    for name in currents:
        head.index(name)


def solve(
    head: RealisticHead, currents: Mapping[str, float], *, pad: Pad | None = None
) -> HeadSolution:
    """Solve one montage by FEM.

    Parameters
    ----------
    head : RealisticHead
        Meshed head (:func:`load_head`).
    currents : mapping
        Electrode name -> current in A (summing to zero).
    pad : Pad, optional
        Pad shape for every electrode (default: 20 mm circular).

    Returns
    -------
    HeadSolution
        Potentials and E-field.
    """
    pad = pad or Pad()
    _check_currents(head, currents)
    head._operators()
    t0 = time.perf_counter()
    rhs = sum(float(c) * head.injection(n, pad) for n, c in currents.items())
    phi, it = head.solve_rhs(np.asarray(rhs))
    e = head.efield(phi)
    return HeadSolution(head, dict(currents), phi, e, it, time.perf_counter() - t0)


@dataclass(frozen=True)
class HeadLeadField:
    """Unit-current E-fields of every electrode (reference: the last one).

    Parameters
    ----------
    names : tuple of str
        Electrode names.
    points : ndarray, shape (P, 3)
        Evaluation points (tet centroids of the chosen tissues), m.
    efield : ndarray, shape (E, P, 3)
        E-field (V/m per A) of +1 A at each electrode and -1 A at the reference
        (the reference row is zero), so a pair is ``efield[i] - efield[j]``.
    elements : ndarray, shape (P,)
        Tetrahedron index of each point.
    transfer : ndarray, shape (E, E)
        Potential (V per A) at electrode ``j`` (pad mean) with +1 A at ``i`` and -1 A
        at the reference: reciprocity makes it symmetric.
    seconds : float
        Time of the E - 1 solves, s.
    """

    names: tuple[str, ...]
    points: FloatArray
    efield: FloatArray
    elements: NDArray[np.intp]
    transfer: FloatArray
    seconds: float

    def pair_field(self, anode: str, cathode: str, current: float) -> FloatArray:
        """E-field (V/m) of one pair with ``current`` A entering at ``anode``."""
        i, j = self.names.index(anode), self.names.index(cathode)
        return current * (self.efield[i] - self.efield[j])


def head_leadfield(
    head: RealisticHead,
    *,
    names: Sequence[str] | None = None,
    pad: Pad | None = None,
    tissues: Sequence[str] = ("gm", "wm"),
) -> HeadLeadField:
    """Lead field of the cap (or a subset) at the centroids of the named tissues.

    Parameters
    ----------
    head : RealisticHead
        Meshed head.
    names : sequence of str, optional
        Electrodes (default: the whole cap); the last is the reference.
    pad : Pad, optional
        Pad shape (default 20 mm circular).
    tissues : sequence of str
        Tissues whose tet centroids are the evaluation points (on a sphere head,
        unknown names fall back to the innermost shell).

    Returns
    -------
    HeadLeadField
        Lead field and transfer matrix.
    """
    pad = pad or Pad()
    names = tuple(names) if names is not None else head.names
    if len(names) < 2:
        raise InputError(Problem("names", names, ">= 2 electrodes", "", "lead field"))
    mask = head.tissue_mask(tissues)
    if not mask.any():
        mask = head.mesh.tissue == 0
    elements = np.flatnonzero(mask)
    head._operators()
    t0 = time.perf_counter()
    w = np.stack([head.injection(n, pad) for n in names])
    n_e = len(names)
    ef = np.zeros((n_e, len(elements), 3))
    transfer = np.zeros((n_e, n_e))
    for i in range(n_e - 1):
        phi, _ = head.solve_rhs(w[i] - w[-1])
        ef[i] = head.efield(phi)[elements]
        transfer[i] = w @ phi - w[-1] @ phi
    return HeadLeadField(
        names, head.centroids[elements], ef, elements, transfer, time.perf_counter() - t0
    )


def target_point(head: RealisticHead, target: str | ArrayLike) -> FloatArray:
    """Target position in m from MNI305 mm coordinates or a 10-10 electrode name.

    Parameters
    ----------
    head : RealisticHead
        The head.
    target : str or array_like
        ``(x, y, z)`` in mm, or an electrode name (mid-GM point beneath it).

    Returns
    -------
    ndarray, shape (3,)
        Point in m.
    """
    if isinstance(target, str):
        p = head.electrodes[head.index(target)]
        u = (p - head.head.center) / np.linalg.norm(p - head.head.center)
        names = head.head.names
        k = names.index("gm") if "gm" in names else 0
        r_out = _ray_surface(head.head, k, u[None])[0]
        r_in = _ray_surface(head.head, k - 1, u[None])[0] if k > 0 else 0.8 * r_out
        return np.asarray(head.head.center + 0.5 * (r_out + r_in) * u)
    xyz = np.asarray(target, dtype=float).ravel()
    if xyz.shape != (3,) or not np.all(np.isfinite(xyz)) or np.any(np.abs(xyz) > 200):
        raise InputError(Problem("target", target, "(x, y, z) in mm, |.| <= 200", "", ""))
    return xyz / 1e3


def ti_envelope_head(
    head: RealisticHead,
    pair1: tuple[str, str],
    pair2: tuple[str, str],
    currents: tuple[float, float] = (1e-3, 1e-3),
    *,
    pad: Pad | None = None,
) -> tuple[HeadSolution, HeadSolution, FloatArray]:
    """FEM-solve two TI pairs and return both solutions and the max envelope (V/m).

    Parameters
    ----------
    head : RealisticHead
        Meshed head.
    pair1, pair2 : tuple of str
        (anode, cathode) names of the two pairs.
    currents : tuple of float
        Pair currents in A.
    pad : Pad, optional
        Pad shape.

    Returns
    -------
    tuple
        Solution of pair 1, of pair 2, and the envelope at every tet centroid
        (Grossman et al. 2017 maximum over directions, :func:`max_envelope`).
    """
    s1 = solve(head, {pair1[0]: currents[0], pair1[1]: -currents[0]}, pad=pad)
    s2 = solve(head, {pair2[0]: currents[1], pair2[1]: -currents[1]}, pad=pad)
    return s1, s2, np.asarray(max_envelope(s1.efield, s2.efield), dtype=float)


def _roi(lf: HeadLeadField, target: FloatArray, roi_radius: float) -> NDArray[np.bool_]:
    if not 1e-3 <= roi_radius <= 0.05:
        raise InputError(Problem("roi_radius", roi_radius, "0.001 to 0.05 m", "", ""))
    roi = np.linalg.norm(lf.points - target, axis=1) <= roi_radius
    if not roi.any():
        roi[np.argmin(np.linalg.norm(lf.points - target, axis=1))] = True
    return roi


def optimize_ti_head(
    lf: HeadLeadField,
    target: FloatArray,
    *,
    roi_radius: float = 0.01,
    total_current: float = 4e-3,
    **kwargs: Any,
) -> TIOptimum:
    """Exhaustive two-pair TI search on a head lead field (:func:`optimize_ti`).

    Parameters
    ----------
    lf : HeadLeadField
        Lead field (:func:`head_leadfield`).
    target : ndarray, shape (3,)
        Target in m (:func:`target_point`).
    roi_radius : float
        ROI radius around the target in m.
    total_current : float
        Sum of the two pair currents in A.
    **kwargs
        Passed to :func:`~phantomlab.fields.optimize.optimize_ti`.

    Returns
    -------
    TIOptimum
        Best montage.
    """
    roi = _roi(lf, np.asarray(target, float), roi_radius)
    return optimize_ti(lf.efield, lf.names, roi, total_current=total_current, **kwargs)


def optimize_tdcs_head(
    lf: HeadLeadField,
    target: FloatArray,
    direction: ArrayLike | None = None,
    *,
    roi_radius: float = 0.01,
    **kwargs: Any,
) -> TDCSOptimum:
    """tDCS/HD-tDCS linear program on a head lead field (:func:`optimize_tdcs`).

    Parameters
    ----------
    lf : HeadLeadField
        Lead field.
    target : ndarray, shape (3,)
        Target in m.
    direction : array_like, optional
        Field direction to maximise (default: radially inward at the target).
    roi_radius : float
        ROI radius in m.
    **kwargs
        Passed to :func:`~phantomlab.fields.optimize.optimize_tdcs`.

    Returns
    -------
    TDCSOptimum
        Optimal currents.
    """
    target = np.asarray(target, float)
    roi = _roi(lf, target, roi_radius)
    if direction is None:
        direction = -(target - lf.points.mean(axis=0))
    return optimize_tdcs(lf.efield[:, roi], lf.names, direction, **kwargs)
