"""Independent check of the sphere solution: finite elements on a meshed layered sphere.

The mesh comes from gmsh (OpenCASCADE spheres fragmented into conforming
shells), the P1 (or P2) Laplace problem ``div(sigma grad phi) = 0`` with point
currents at the two scalp nodes nearest the electrodes is assembled with
scikit-fem, one conductivity per shell, and solved by conjugate gradients
preconditioned with pyamg smoothed aggregation (tolerance 1e-10, as SimNIBS's
default CG+AMG rtol in fields.md section 1.6). One node is grounded; potentials
are compared after removing their mean.

All three packages are pip wheels (gmsh 4.15.2, scikit-fem 12.0.2, pyamg 5.4.1)
and are imported lazily (the ``fem`` extra), so the rest of :mod:`phantomlab.fields`
works without them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from phantomlab._optional import require
from phantomlab.exceptions import ConvergenceError, InputError, Problem
from phantomlab.fields.sphere import SphereModel

__all__ = ["FEMSolution", "mesh_layered_sphere", "solve_fem_tdcs"]


@dataclass(frozen=True)
class FEMSolution:
    """P1/P2 FEM solution of a two-electrode montage on a layered sphere.

    Parameters
    ----------
    nodes : ndarray, shape (N, 3)
        Mesh vertices in m.
    tets : ndarray, shape (M, 4)
        Tetrahedra (vertex indices).
    shell : ndarray, shape (M,)
        Shell index of each tetrahedron.
    potential : ndarray, shape (N,)
        Potential at the vertices in V (one node grounded).
    efield : ndarray, shape (M, 3)
        E-field at the tetrahedron centroids in V/m.
    centroids : ndarray, shape (M, 3)
        Tetrahedron centroids in m.
    anode, cathode : ndarray, shape (3,)
        Positions of the nodes where current enters and leaves.
    iterations : int
        CG iterations.
    order : int
        Element order (1 or 2).
    """

    nodes: NDArray[np.float64]
    tets: NDArray[np.intp]
    shell: NDArray[np.intp]
    potential: NDArray[np.float64]
    efield: NDArray[np.float64]
    centroids: NDArray[np.float64]
    anode: NDArray[np.float64]
    cathode: NDArray[np.float64]
    iterations: int
    order: int

    @property
    def n_tets(self) -> int:
        """Number of tetrahedra."""
        return int(len(self.tets))


def mesh_layered_sphere(
    model: SphereModel, size: float, *, size_outer: float | None = None
) -> tuple[NDArray[np.float64], NDArray[np.intp], NDArray[np.intp]]:
    """Tetrahedral mesh of concentric spheres with conforming interfaces (gmsh).

    Parameters
    ----------
    model : SphereModel
        Radii (m) of the shells.
    size : float
        Target edge length in m.
    size_outer : float, optional
        Edge length at the outer surface (default ``size``).

    Returns
    -------
    nodes : ndarray, shape (N, 3)
        Vertices in m.
    tets : ndarray, shape (M, 4)
        Tetrahedra.
    shell : ndarray, shape (M,)
        Shell index of each tetrahedron.
    """
    gmsh = require("gmsh", extra="fem")

    if not size > 0:
        raise InputError(Problem("size", size, "> 0 m", "", "bad mesh size"))
    scale = 1e3  # mesh in mm for gmsh's tolerances
    gmsh.initialize(interruptible=False)
    try:
        gmsh.option.setNumber("General.Terminal", 0)
        gmsh.option.setNumber("General.NumThreads", 1)
        gmsh.model.add("layered_sphere")
        occ = gmsh.model.occ
        balls = [occ.addSphere(0, 0, 0, r * scale) for r in model.radii]
        occ.fragment([(3, balls[-1])], [(3, b) for b in balls[:-1]])
        occ.synchronize()
        gmsh.option.setNumber("Mesh.MeshSizeMin", 0.3 * size * scale)
        gmsh.option.setNumber("Mesh.MeshSizeMax", size * scale)
        gmsh.option.setNumber("Mesh.MeshSizeFromCurvature", 0)
        if size_outer is not None:
            gmsh.option.setNumber("Mesh.MeshSizeMax", max(size, size_outer) * scale)
        gmsh.option.setNumber("Mesh.Algorithm3D", 1)
        gmsh.model.mesh.generate(3)
        tags, coords, _ = gmsh.model.mesh.getNodes()
        nodes = coords.reshape(-1, 3) / scale
        lookup = np.zeros(int(tags.max()) + 1, dtype=np.intp)
        lookup[tags.astype(np.intp)] = np.arange(len(tags))
        tets_list, shell_list = [], []
        radii = np.asarray(model.radii)
        for dim, tag in gmsh.model.getEntities(3):
            types, _, enodes = gmsh.model.mesh.getElements(dim, tag)
            for t, en in zip(types, enodes, strict=True):
                if t != 4:  # 4-node tetrahedra
                    continue
                tt = lookup[np.asarray(en, dtype=np.intp).reshape(-1, 4)]
                rmax = np.linalg.norm(nodes[tt].reshape(-1, 3), axis=1).max()
                k = int(np.argmin(np.abs(radii - rmax)))
                tets_list.append(tt)
                shell_list.append(np.full(len(tt), k, dtype=np.intp))
    finally:
        gmsh.finalize()
    tets = np.vstack(tets_list)
    used = np.unique(tets)
    remap = np.full(len(nodes), -1, dtype=np.intp)
    remap[used] = np.arange(len(used))
    return nodes[used], remap[tets], np.concatenate(shell_list)


def solve_fem_tdcs(
    model: SphereModel,
    anode: NDArray[np.float64] | Any,
    cathode: NDArray[np.float64] | Any,
    current: float,
    *,
    size: float = 0.008,
    order: int = 1,
    tol: float = 1e-10,
    mesh: tuple[NDArray[np.float64], NDArray[np.intp], NDArray[np.intp]] | None = None,
) -> FEMSolution:
    """Solve a two-point-electrode montage on a meshed layered sphere.

    Parameters
    ----------
    model : SphereModel
        Radii and conductivities.
    anode, cathode : array_like, shape (3,)
        Electrode positions in m; the nearest outer-surface nodes are used.
    current : float
        Current in A entering at the anode.
    size : float
        Mesh edge length in m (ignored if ``mesh`` is given).
    order : int
        1 (linear) or 2 (quadratic) Lagrange elements.
    tol : float
        Relative residual tolerance of CG.
    mesh : tuple, optional
        Output of :func:`mesh_layered_sphere` to reuse.

    Returns
    -------
    FEMSolution
        Vertex potentials and centroid fields.

    Raises
    ------
    ConvergenceError
        If CG does not reach ``tol``.
    """
    pyamg = require("pyamg", extra="fem")
    skfem = require("skfem", extra="fem")
    Basis, MeshTet = skfem.Basis, skfem.MeshTet
    helpers = require("skfem.helpers", extra="fem")
    dot, grad = helpers.dot, helpers.grad

    if order not in (1, 2):
        raise InputError(Problem("order", order, "1 or 2", "", "unsupported element order"))
    nodes, tets, shell = mesh if mesh is not None else mesh_layered_sphere(model, size)
    m = MeshTet(np.ascontiguousarray(nodes.T), np.ascontiguousarray(tets.T))
    elem = skfem.ElementTetP1() if order == 1 else skfem.ElementTetP2()

    @skfem.BilinearForm
    def laplace(u: Any, v: Any, w: Any) -> Any:
        return w.sigma * dot(grad(u), grad(v))

    basis = Basis(m, elem)
    sig = np.asarray(model.sigma)[shell]
    sigma_field = basis.zeros()  # not used: element-wise constant below
    del sigma_field
    sig_qp = np.repeat(sig[:, None], basis.X.shape[-1], axis=1)
    k_mat = laplace.assemble(basis, sigma=sig_qp).tocsr()
    r = np.linalg.norm(nodes, axis=1)
    surf = np.flatnonzero(r > model.outer_radius * (1 - 1e-6))
    b = np.zeros(basis.N)

    def nearest(p: Any) -> int:
        p = np.asarray(p, dtype=float)
        p = p / np.linalg.norm(p) * model.outer_radius
        return int(surf[np.argmin(np.linalg.norm(nodes[surf] - p, axis=1))])

    ia, ic = nearest(anode), nearest(cathode)
    b[ia] += current  # vertex DOFs come first in scikit-fem's numbering
    b[ic] -= current
    ground = int(np.argmin(r))  # centre node
    keep = np.setdiff1d(np.arange(basis.N), [ground])
    k_red = k_mat[keep][:, keep].tocsr()
    ml = pyamg.smoothed_aggregation_solver(k_red, symmetry="symmetric")
    residuals: list[float] = []
    x_red = ml.solve(b[keep], tol=tol, accel="cg", maxiter=2000, residuals=residuals)
    res_norm = np.linalg.norm(b[keep] - k_red @ x_red) / np.linalg.norm(b[keep])
    if not res_norm < max(10 * tol, 1e-8):
        raise ConvergenceError(f"FEM CG stopped at relative residual {res_norm:.2e}")
    x = np.zeros(basis.N)
    x[keep] = x_red
    # E at centroids: -grad phi evaluated by interpolation at the element midpoints
    cent = nodes[tets].mean(axis=1)
    gbasis = Basis(m, elem, intorder=1)
    gfield = gbasis.interpolate(x).grad  # (3, M, nqp)
    efield = -gfield.mean(axis=-1).T
    return FEMSolution(
        nodes=nodes,
        tets=tets,
        shell=shell,
        potential=x[: len(nodes)],
        efield=np.asarray(efield),
        centroids=cent,
        anode=nodes[ia],
        cathode=nodes[ic],
        iterations=len(residuals),
        order=order,
    )
