"""Thoracic spinal canal volume conductor by FEM, for spinal cord stimulation.

Geometry (all concentric along the cord axis ``z``; ``y`` points dorsally):
vertebral bone out to ``r_bone``, the canal filled with epidural fat, the dura
(a thin shell), CSF, and a circular cord of white matter with a central grey
matter core. The cord is displaced ventrally so that the dorsal CSF layer has
the requested thickness ``d_csf`` (the quantity Holsheimer's SCS studies vary).
An epidural point contact (percutaneous lead contact, monopolar cathode) sits
in the dorsal fat; the current returns through the outer bone surface (0 V).

White matter is anisotropic (σ along the cord axis differs from across it).
Meshed with gmsh, P1 elements assembled by scikit-fem, CG + pyamg, as in
:mod:`phantomlab.fields.fem`. Potentials are interpolated along dorsal-column
and dorsal-root fibre paths for :mod:`phantomlab.fields.cable`.

Conductivities (S/m): white matter 0.6 longitudinal / 0.083 transverse, grey
matter 0.23, epidural fat 0.04, CSF 1.7, vertebral bone 0.02 — Table 1 of a J
Neurosci SCS model paper citing Ladenbauer et al. 2010 (read at
jneurosci.org highwire markup 566991; the paper's authors were not shown on
that page). Dura 0.03 S/m is **assumed**: published SCS models use 0.02-0.6
S/m (Khadka, Wang & Bikson, J Neural Eng 22(3), 2025, abstract); the low end is
taken because the dura is a membrane. Every length is **assumed** (thoracic
canal scale, not read from a source) and is a parameter.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from phantomlab._optional import require
from phantomlab.exceptions import ConvergenceError, InputError, Problem
from phantomlab.fields import cable

__all__ = [
    "SIGMA",
    "SpineGeometry",
    "SpineSolution",
    "fibre_paths",
    "fibre_thresholds",
    "load_threshold_table",
    "recruited_fraction",
    "solve_spine",
]

Arr = NDArray[np.float64]

SIGMA: dict[str, float | tuple[float, float]] = {
    "bone": 0.02,
    "fat": 0.04,
    "dura": 0.03,  # assumed, see module docstring
    "csf": 1.7,
    "white": (0.083, 0.6),  # (transverse, longitudinal)
    "grey": 0.23,
}
TISSUES = ("bone", "fat", "dura", "csf", "white", "grey")


@dataclass(frozen=True)
class SpineGeometry:
    """Lengths of the spinal canal model, mm (all assumed, see module docstring).

    Parameters
    ----------
    d_csf : float
        Dorsal CSF thickness between dura and cord.
    r_cord, r_grey : float
        Cord and grey-matter radii.
    r_dura_in, dura : float
        Inner radius and thickness of the dura.
    r_canal, r_bone : float
        Canal (epidural fat) and outer bone radii.
    length : float
        Model length along the cord.
    contact_depth : float
        Contact centre below (dorsal to) the dura's outer surface, in the fat.
    lateral : float
        Lateral offset of the contact from the midline.
    anisotropic : bool
        ``False`` makes white matter isotropic at its transverse value (ablation).
    """

    d_csf: float = 3.0
    r_cord: float = 4.5
    r_grey: float = 2.0
    r_dura_in: float = 8.0
    dura: float = 0.3
    r_canal: float = 10.0
    r_bone: float = 20.0
    length: float = 60.0
    contact_depth: float = 0.8
    lateral: float = 0.0
    anisotropic: bool = True

    def __post_init__(self) -> None:
        """Check that the layers nest and the cord fits below the requested CSF."""
        probs: list[Problem] = []
        lim = 2 * (self.r_dura_in - self.r_cord) - 0.3  # ventral CSF must stay > 0.3 mm
        if not (0.2 <= self.d_csf <= lim):
            probs.append(Problem("d_csf", self.d_csf, f"0.2-{lim:.1f} mm", "mm", "does not fit"))
        if not (0 < self.r_grey < self.r_cord):
            probs.append(Problem("r_grey", self.r_grey, f"0-{self.r_cord} mm", "mm", "bad"))
        if not (self.r_dura_in + self.dura + self.contact_depth + 0.3 < self.r_canal):
            probs.append(Problem("contact_depth", self.contact_depth, "inside fat", "mm", "bad"))
        if not (self.r_canal < self.r_bone and self.length > 4 * self.r_canal):
            probs.append(Problem("r_bone", self.r_bone, "> r_canal", "mm", "bad nesting"))
        if abs(self.lateral) > self.r_dura_in * 0.6:
            probs.append(Problem("lateral", self.lateral, "|x| < 0.6 r_dura_in", "mm", "bad"))
        if probs:
            raise InputError(probs)

    @property
    def cord_centre_y(self) -> float:
        """Cord centre ``y`` (mm): dorsal cord surface ``d_csf`` below the dura."""
        return self.r_dura_in - self.d_csf - self.r_cord

    @property
    def contact(self) -> Arr:
        """Contact position (mm)."""
        y = self.r_dura_in + self.dura + self.contact_depth
        return np.array([self.lateral, float(np.sqrt(max(y * y - self.lateral**2, 0.0))), 0.0])


@dataclass(frozen=True)
class SpineSolution:
    """FEM solution for 1 A at the contact.

    Parameters
    ----------
    geometry : SpineGeometry
        The model solved.
    nodes : ndarray, shape (N, 3)
        Vertices, mm.
    tets : ndarray, shape (M, 4)
        Tetrahedra.
    tissue : ndarray, shape (M,)
        Index into ``TISSUES`` per tetrahedron.
    potential : ndarray, shape (N,)
        Potential per ampere (V/A), outer bone surface at 0 V.
    probe : Any
        Callable ``points_mm (P, 3) -> V/A`` interpolating the P1 solution.
    source : ndarray, shape (3,)
        Mesh node that carries the current (nearest to the contact), mm.
    """

    geometry: SpineGeometry
    nodes: Arr
    tets: NDArray[np.intp]
    tissue: NDArray[np.intp]
    potential: Arr
    probe: Any
    source: Arr


def _mesh(geo: SpineGeometry, size: float) -> tuple[Arr, NDArray[np.intp]]:
    gmsh = require("gmsh", extra="fem")
    gmsh.initialize(interruptible=False)
    try:
        gmsh.option.setNumber("General.Terminal", 0)
        gmsh.option.setNumber("General.NumThreads", 1)
        gmsh.model.add("spine")
        occ = gmsh.model.occ
        z0, lz = -geo.length / 2, geo.length
        yc = geo.cord_centre_y
        vols = [
            occ.addCylinder(0, 0, z0, 0, 0, lz, geo.r_bone),
            occ.addCylinder(0, 0, z0, 0, 0, lz, geo.r_canal),
            occ.addCylinder(0, 0, z0, 0, 0, lz, geo.r_dura_in + geo.dura),
            occ.addCylinder(0, 0, z0, 0, 0, lz, geo.r_dura_in),
            occ.addCylinder(0, yc, z0, 0, 0, lz, geo.r_cord),
            occ.addCylinder(0, yc, z0, 0, 0, lz, geo.r_grey),
        ]
        occ.fragment([(3, vols[0])], [(3, v) for v in vols[1:]])
        occ.synchronize()
        f = gmsh.model.mesh.field
        box = f.add("Box")
        f.setNumber(box, "VIn", size)
        f.setNumber(box, "VOut", 4 * size)
        f.setNumber(box, "XMin", -geo.r_canal)
        f.setNumber(box, "XMax", geo.r_canal)
        f.setNumber(box, "YMin", -geo.r_canal)
        f.setNumber(box, "YMax", geo.r_canal)
        f.setNumber(box, "ZMin", z0)
        f.setNumber(box, "ZMax", -z0)
        f.setNumber(box, "Thickness", 4.0)
        ball = f.add("Ball")
        c = geo.contact
        for k, name in enumerate(("XCenter", "YCenter", "ZCenter")):
            f.setNumber(ball, name, float(c[k]))
        f.setNumber(ball, "Radius", 3.0)
        f.setNumber(ball, "Thickness", 3.0)
        f.setNumber(ball, "VIn", size / 3)
        f.setNumber(ball, "VOut", 4 * size)
        mn = f.add("Min")
        f.setNumbers(mn, "FieldsList", [box, ball])
        f.setAsBackgroundMesh(mn)
        gmsh.option.setNumber("Mesh.MeshSizeExtendFromBoundary", 0)
        gmsh.option.setNumber("Mesh.MeshSizeFromPoints", 0)
        gmsh.option.setNumber("Mesh.MeshSizeFromCurvature", 0)
        gmsh.option.setNumber("Mesh.Algorithm3D", 1)
        gmsh.model.mesh.generate(3)
        tags, coords, _ = gmsh.model.mesh.getNodes()
        nodes = coords.reshape(-1, 3)
        lookup = np.zeros(int(tags.max()) + 1, dtype=np.intp)
        lookup[tags.astype(np.intp)] = np.arange(len(tags))
        tl = []
        for dim, tag in gmsh.model.getEntities(3):
            types, _, enodes = gmsh.model.mesh.getElements(dim, tag)
            for t, en in zip(types, enodes, strict=True):
                if t == 4:
                    tl.append(lookup[np.asarray(en, dtype=np.intp).reshape(-1, 4)])
    finally:
        gmsh.finalize()
    tets = np.vstack(tl)
    used = np.unique(tets)
    remap = np.full(len(nodes), -1, dtype=np.intp)
    remap[used] = np.arange(len(used))
    return nodes[used], remap[tets]


def _classify(geo: SpineGeometry, cent: Arr) -> NDArray[np.intp]:
    r = np.hypot(cent[:, 0], cent[:, 1])
    rc = np.hypot(cent[:, 0], cent[:, 1] - geo.cord_centre_y)
    t = np.zeros(len(cent), dtype=np.intp)  # bone
    t[r < geo.r_canal] = 1
    t[r < geo.r_dura_in + geo.dura] = 2
    t[r < geo.r_dura_in] = 3
    t[rc < geo.r_cord] = 4
    t[rc < geo.r_grey] = 5
    return t


def solve_spine(
    geo: SpineGeometry,
    *,
    size: float = 1.0,
    tol: float = 1e-9,
    sigma: dict[str, float | tuple[float, float]] | None = None,
) -> SpineSolution:
    """Mesh and solve the canal model for 1 A leaving the contact (monopolar).

    Parameters
    ----------
    geo : SpineGeometry
        Model lengths (mm) and options.
    size : float
        Element size in the canal, mm (4× outside, /3 near the contact).
    tol : float
        Relative CG residual.
    sigma : dict, optional
        Conductivities replacing ``SIGMA`` entries (S/m; white matter as
        ``(transverse, longitudinal)``), e.g. a homogeneous medium for checks.

    Returns
    -------
    SpineSolution
        Potential per ampere and an interpolating probe.

    Raises
    ------
    ConvergenceError
        If CG does not converge.
    """
    if not (0.2 <= size <= 5.0):
        raise InputError(Problem("size", size, "0.2-5 mm", "mm", "bad mesh size"))
    skfem = require("skfem", extra="fem")
    pyamg = require("pyamg", extra="fem")
    nodes, tets = _mesh(geo, size)
    cent = nodes[tets].mean(axis=1)
    tissue = _classify(geo, cent)
    sig_t = np.empty(len(tets))
    sig_l = np.empty(len(tets))
    for k, name in enumerate(TISSUES):
        s = {**SIGMA, **(sigma or {})}[name]
        tr, lo = (float(s), float(s)) if isinstance(s, (int, float)) else s
        if name == "white" and not geo.anisotropic:
            lo = tr
        sig_t[tissue == k] = tr
        sig_l[tissue == k] = lo
    m = skfem.MeshTet(np.ascontiguousarray(nodes.T * 1e-3), np.ascontiguousarray(tets.T))
    basis = skfem.Basis(m, skfem.ElementTetP1())

    @skfem.BilinearForm
    def aniso(u: Any, v: Any, w: Any) -> Any:
        gu, gv = u.grad, v.grad
        return w.st * (gu[0] * gv[0] + gu[1] * gv[1]) + w.sl * gu[2] * gv[2]

    nq = basis.X.shape[-1]
    k_mat = aniso.assemble(
        basis, st=np.repeat(sig_t[:, None], nq, 1), sl=np.repeat(sig_l[:, None], nq, 1)
    ).tocsr()
    r = np.hypot(nodes[:, 0], nodes[:, 1])
    outer = r > geo.r_bone * (1 - 1e-6)
    src = int(np.argmin(np.linalg.norm(nodes - geo.contact, axis=1)))
    b = np.zeros(basis.N)
    b[src] = 1.0
    keep = np.flatnonzero(~outer)
    k_red = k_mat[keep][:, keep].tocsr()
    ml = pyamg.smoothed_aggregation_solver(k_red, symmetry="symmetric")
    x_red = ml.solve(b[keep], tol=tol, accel="cg", maxiter=3000)
    res = np.linalg.norm(b[keep] - k_red @ x_red) / np.linalg.norm(b[keep])
    if not res < max(10 * tol, 1e-7):
        raise ConvergenceError(f"spine FEM CG stopped at relative residual {res:.2e}")
    x = np.zeros(basis.N)
    x[keep] = x_red

    def probe(points_mm: Arr) -> Arr:
        p = np.asarray(points_mm, float).reshape(-1, 3).T * 1e-3
        return np.asarray(basis.probes(p) @ x)

    return SpineSolution(geo, nodes, tets, tissue, x[: len(nodes)], probe, nodes[src])


def fibre_paths(
    geo: SpineGeometry,
    spacing_mm: float,
    n_nodes: int,
    *,
    dc_depth: float = 0.3,
    dc_x: float = 0.0,
) -> tuple[Arr, Arr]:
    """Node positions (mm) of a dorsal-column and a dorsal-root fibre.

    The dorsal-column (DC) fibre runs along the cord ``dc_depth`` below the
    dorsal surface on the midline (under a midline contact). The dorsal-root
    (DR) fibre runs from the lateral canal through the CSF to the dorsal root
    entry zone (45° from the dorsal midline, on the contact's side), reached at
    ``z = 0``, then along the cord inside its surface — a simplified path
    (assumed, not traced from anatomy).

    Parameters
    ----------
    geo : SpineGeometry
        Model geometry.
    spacing_mm : float
        Node spacing (the fibre's internode), mm.
    n_nodes : int
        Nodes per fibre (centred on ``z = 0``).
    dc_depth : float
        Depth of the DC fibre below the dorsal cord surface, mm.
    dc_x : float
        Mediolateral position of the DC fibre, mm (depth measured along ``y``
        from the cord surface at that ``x``).

    Returns
    -------
    dc, dr : ndarray, shape (n_nodes, 3)
        Node positions in mm.
    """
    yc = geo.cord_centre_y
    s = (np.arange(n_nodes) - (n_nodes - 1) / 2) * spacing_mm
    if not abs(dc_x) < 0.8 * geo.r_cord:
        raise InputError(Problem("dc_x", dc_x, f"|x| < {0.8 * geo.r_cord} mm", "mm", "bad"))
    y_top = yc + float(np.sqrt(geo.r_cord**2 - dc_x**2))
    dc = np.column_stack([np.full(n_nodes, dc_x), np.full(n_nodes, y_top - dc_depth), s])
    side = 1.0 if geo.lateral >= 0 else -1.0
    ang = np.pi / 4
    drez = np.array([side * geo.r_cord * np.sin(ang), yc + geo.r_cord * np.cos(ang), 0.0])
    inside = drez - 0.3 * np.array([np.sin(ang) * side, np.cos(ang), 0.0])
    start = np.array([side * (geo.r_dura_in - 0.5), 0.0, -8.0])  # near the lateral dura, caudal
    seg = drez - start
    seg_len = float(np.linalg.norm(seg))
    dr = np.empty((n_nodes, 3))
    for i, si in enumerate(s):
        if si <= 0 and -si <= seg_len:
            dr[i] = drez + seg / seg_len * si  # in the CSF, towards the entry zone
        elif si <= 0:
            dr[i] = start + (si + seg_len) * np.array([0, 0, 1.0])  # root below: along z
        else:
            dr[i] = inside + np.array([0.0, 0.0, si])  # in the cord after entry
    return dc, dr


POP_DIAMETERS = (9.0, 11.0, 13.0, 15.0)  # µm, large Aβ afferents (assumed grid)
POP_X = (-2.0, -1.0, 0.0, 1.0, 2.0)  # mm, mediolateral DC positions (assumed grid)
POP_DEPTH = (0.3, 0.8)  # mm below the dorsal cord surface (assumed grid)


def fibre_thresholds(
    sol: SpineSolution, pulse_ms: float = 0.2, n_nodes: int = 41
) -> list[dict[str, float | str]]:
    """Thresholds (mA, cathodic) of a small DC and DR fibre population in one solution.

    Dorsal-column fibres sit on the ``POP_X`` × ``POP_DEPTH`` grid, dorsal-root
    fibres follow the root path on the contact's side; both take every
    diameter in ``POP_DIAMETERS``. All fibres are solved in one vectorized
    threshold search.

    Parameters
    ----------
    sol : SpineSolution
        FEM solution (V/A).
    pulse_ms : float
        Pulse duration, ms.
    n_nodes : int
        Nodes per fibre.

    Returns
    -------
    list of dict
        One row per fibre: ``kind`` ("dc"/"dr"), ``diameter_um``, ``x_mm``,
        ``depth_mm``, ``threshold_ma`` (``inf`` if above 20 mA).
    """
    rows: list[dict[str, float | str]] = []
    ves, diams = [], []
    for d in POP_DIAMETERS:
        g = cable.fibre_geometry([d])
        step = float(g.deltax[0]) * 1e-3
        for x in POP_X:
            for depth in POP_DEPTH:
                dc, _ = fibre_paths(sol.geometry, step, n_nodes, dc_depth=depth, dc_x=x)
                ves.append(sol.probe(dc))
                diams.append(d)
                rows.append({"kind": "dc", "diameter_um": d, "x_mm": x, "depth_mm": depth})
        _, dr = fibre_paths(sol.geometry, step, n_nodes)
        ves.append(sol.probe(dr))
        diams.append(d)
        rows.append({"kind": "dr", "diameter_um": d, "x_mm": float("nan"), "depth_mm": 0.0})
    g = cable.fibre_geometry(diams)
    th = cable.threshold(g, np.vstack(ves), pulse_ms, lo_a=1e-5, hi_a=0.02, iterations=6)
    for row, t in zip(rows, th, strict=True):
        row["threshold_ma"] = float(t) * 1e3
    return rows


def load_threshold_table() -> dict[str, Arr]:
    """Read the shipped fibre-threshold table (``fields/data/spine_thresholds.csv``).

    Built by ``tools/build_spine_table.py`` (FEM at 1.5 mm elements, 0.2 ms
    cathodic pulse, monopolar epidural contact).

    Returns
    -------
    dict of ndarray
        Columns ``d_csf_mm``, ``lateral_mm``, ``kind`` (str array),
        ``diameter_um``, ``x_mm``, ``depth_mm``, ``threshold_ma``.
    """
    import csv
    from importlib import resources

    text = resources.files("phantomlab.fields").joinpath("data/spine_thresholds.csv").read_text()
    rows = list(csv.DictReader(text.splitlines()))
    out: dict[str, Arr] = {}
    for key in rows[0]:
        vals = [r[key] for r in rows]
        out[key] = np.asarray(vals) if key == "kind" else np.asarray(vals, dtype=float)
    return out


def recruited_fraction(
    amplitude_ma: Arr | float, d_csf_mm: Arr | float, *, kind: str = "dc", lateral_mm: float = 0.0
) -> Arr:
    """Fraction of the DC or DR fibre population recruited, from the shipped table.

    Thresholds are interpolated linearly in ``d_csf`` (clipped to the table's
    2-6 mm) fibre by fibre, so the arguments broadcast over virtual patients.

    Parameters
    ----------
    amplitude_ma : float or ndarray
        Cathodic amplitude, mA.
    d_csf_mm : float or ndarray
        Dorsal CSF thickness, mm.
    kind : {"dc", "dr"}
        Dorsal-column or dorsal-root population.
    lateral_mm : float
        Contact offset; must be a value in the table (0 or 2 mm).

    Returns
    -------
    ndarray
        Recruited fraction in [0, 1], broadcast shape of the inputs.
    """
    tab = load_threshold_table()
    lats = np.unique(tab["lateral_mm"])
    if kind not in ("dc", "dr") or not np.any(np.isclose(lats, lateral_mm)):
        raise InputError(
            Problem("kind/lateral", (kind, lateral_mm), f"dc|dr, lateral in {lats}", "", "bad")
        )
    sel = (tab["kind"] == kind) & np.isclose(tab["lateral_mm"], lateral_mm)
    d_vals = np.unique(tab["d_csf_mm"][sel])
    # thresholds, shape (n_d_csf, n_fibres): rows are written in the same fibre order per case
    th = np.vstack([tab["threshold_ma"][sel & np.isclose(tab["d_csf_mm"], d)] for d in d_vals])
    amp, dcsf = np.broadcast_arrays(
        np.asarray(amplitude_ma, float), np.clip(np.asarray(d_csf_mm, float), d_vals[0], d_vals[-1])
    )
    per_fibre = np.stack([np.interp(dcsf, d_vals, th[:, j]) for j in range(th.shape[1])], axis=-1)
    return np.asarray(np.mean(per_fibre <= amp[..., None], axis=-1))
