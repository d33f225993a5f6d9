"""Layered star-shaped head geometries and their tetrahedral meshes (gmsh).

A :class:`LayeredHead` is a set of nested closed surfaces that share one
triangulation: an icosphere of unit directions ``d`` seen from a centre ``c``,
with surface ``k`` at ``c + r_k(d) d``. Sharing the triangulation and keeping
``r_0 < r_1 < ... `` in every direction guarantees the surfaces never cross, so
gmsh can fill the shells between them with conforming tetrahedra.

Two builders:

* :func:`template_head` -- the fsaverage template shipped inside the MNE wheel
  (``mne/data/fsaverage/fsaverage-head.fif``: scalp; ``fsaverage-inner_skull-bem.fif``:
  inner skull), cast along the icosphere rays; pial and GM/WM surfaces from the
  MNI152 tissue probability maps bundled in the nilearn wheel; the outer skull
  is assumed (see :data:`DERIVATIONS`). Coordinates are fsaverage surface RAS in m, which is
  MNI305 space; it is used here as "MNI" (MNI305 vs MNI152 differ by a few mm:
  assumed negligible at this mesh resolution).
* :func:`sphere_head` -- constant ``r_k`` from a :class:`SphereModel`: the same
  meshing and FEM pipeline fed a concentric sphere, for the analytic check.

Meshes are cached as ``.npz`` in the user cache folder
(``$PHANTOMLAB_CACHE_DIR`` or ``platformdirs.user_cache_dir("phantomlab")``),
keyed by a hash of the surfaces and the mesh parameters.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from phantomlab._optional import require
from phantomlab.exceptions import InputError, Problem
from phantomlab.fields.sphere import SphereModel

__all__ = [
    "DERIVATIONS",
    "TEMPLATE_SIGMA",
    "HeadMesh",
    "LayeredHead",
    "icosphere",
    "mesh_head",
    "sphere_head",
    "template_head",
]

FloatArray = NDArray[np.float64]

#: Conductivities (S/m) of the template tissues, inside out.
TEMPLATE_SIGMA: dict[str, float] = {
    "wm": 0.126,
    "gm": 0.275,
    "csf": 1.654,
    "skull": 0.010,
    "scalp": 0.465,
}
#: Where :data:`TEMPLATE_SIGMA` comes from.
SIGMA_SOURCE = (
    "SimNIBS utils/mesh_element_properties.py and docs conductivity.rst (WM 0.126, GM 0.275, "
    "CSF 1.654, bone 0.010, scalp 0.465 S/m), citing Wagner et al. 2004; read in "
    "shared/research/fields.md section 1.8"
)
#: How each template surface is obtained (cited, derived or assumed).
DERIVATIONS: dict[str, str] = {
    "scalp": "read: MNE fsaverage-head.fif (outer skin), farthest hit along each ray",
    "inner_skull": "read: MNE fsaverage-inner_skull-bem.fif, hit along each ray",
    "outer_skull": (
        "assumed: inner skull + 0.625 x (scalp - inner skull) along each ray; 0.625 = "
        "skull / (skull + scalp) thickness of MNE make_sphere_model's default shells "
        "(relative radii 0.92/0.97/1.0: 4.5 and 2.7 mm of 90 mm); no outer-skull surface "
        "ships with MNE's fsaverage"
    ),
    "csf": (
        "derived: pial (outer GM) surface = outermost radius along each ray where the MNI152 "
        "2009a sym grey+white tissue probability (nilearn-bundled "
        "mni_icbm152_{gm,wm}_tal_nlin_sym_09a_converted.nii.gz, /255) is >= 0.5; CSF fills "
        "pial to inner skull; clipped to [0.5, 1] x inner skull - 1 mm (MNI152 template vs "
        "fsaverage/MNI305 surfaces differ by a few mm: assumed negligible)"
    ),
    "gm": (
        "derived: GM/WM surface = outermost radius where the MNI152 white-matter probability "
        "is >= 0.5, clipped to [0.3 x inner skull, pial - 1 mm]; radial envelopes (no sulci), "
        "so the GM shell also holds sulcal CSF; both surfaces smoothed by 2 passes of "
        "neighbour averaging on the icosphere (assumed, to keep the mesh well shaped)"
    ),
}


def icosphere(level: int) -> tuple[FloatArray, NDArray[np.intp]]:
    """Return the unit icosphere of ``level`` midpoint subdivisions of an icosahedron.

    Parameters
    ----------
    level : int
        Subdivisions (0: 12 vertices; each level multiplies faces by 4).

    Returns
    -------
    vertices : ndarray, shape (V, 3)
        Unit vectors.
    faces : ndarray, shape (F, 3)
        Outward-oriented triangles.
    """
    t = (1 + 5**0.5) / 2
    v = [
        [-1, t, 0], [1, t, 0], [-1, -t, 0], [1, -t, 0],
        [0, -1, t], [0, 1, t], [0, -1, -t], [0, 1, -t],
        [t, 0, -1], [t, 0, 1], [-t, 0, -1], [-t, 0, 1],
    ]  # fmt: skip
    f = [
        [0, 11, 5], [0, 5, 1], [0, 1, 7], [0, 7, 10], [0, 10, 11],
        [1, 5, 9], [5, 11, 4], [11, 10, 2], [10, 7, 6], [7, 1, 8],
        [3, 9, 4], [3, 4, 2], [3, 2, 6], [3, 6, 8], [3, 8, 9],
        [4, 9, 5], [2, 4, 11], [6, 2, 10], [8, 6, 7], [9, 8, 1],
    ]  # fmt: skip
    verts = [np.array(p, dtype=float) / np.linalg.norm(p) for p in v]
    faces = np.array(f, dtype=np.intp)
    for _ in range(int(level)):
        cache: dict[tuple[int, int], int] = {}

        def mid(a: int, b: int, cache: dict[tuple[int, int], int] = cache) -> int:
            key = (min(a, b), max(a, b))
            if key not in cache:
                p = verts[a] + verts[b]
                verts.append(p / np.linalg.norm(p))
                cache[key] = len(verts) - 1
            return cache[key]

        new = []
        for a, b, c in faces:
            ab, bc, ca = mid(a, b), mid(b, c), mid(c, a)
            new += [[a, ab, ca], [b, bc, ab], [c, ca, bc], [ab, bc, ca]]
        faces = np.array(new, dtype=np.intp)
    return np.array(verts), faces


@dataclass(frozen=True)
class LayeredHead:
    """Nested star-shaped surfaces on one icosphere triangulation.

    Parameters
    ----------
    center : ndarray, shape (3,)
        Centre of the rays in m.
    directions : ndarray, shape (D, 3)
        Unit ray directions (icosphere vertices).
    faces : ndarray, shape (F, 3)
        Triangles of the icosphere.
    radii : ndarray, shape (L, D)
        Outer-surface distance (m) of each layer along each ray, inside out.
    names : tuple of str
        Tissue of each layer (the volume inside surface ``k`` and outside ``k - 1``).
    sigma : tuple of float
        Conductivity (S/m) of each layer.
    sources : tuple of str
        Citations and derivations.
    """

    center: FloatArray
    directions: FloatArray
    faces: NDArray[np.intp]
    radii: FloatArray
    names: tuple[str, ...]
    sigma: tuple[float, ...]
    sources: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        r = np.asarray(self.radii, dtype=float)
        if r.ndim != 2 or r.shape[0] != len(self.names) or r.shape[0] != len(self.sigma):
            raise InputError(
                Problem("radii", r.shape, "(layers, directions)", "", "one row per layer")
            )
        if np.any(np.diff(r, axis=0) <= 0) or np.any(r <= 0):
            raise InputError(
                Problem("radii", "layers", "strictly nested (> 0)", "", "surfaces cross")
            )
        if any(not s > 0 for s in self.sigma):
            raise InputError(Problem("sigma", self.sigma, "> 0 S/m", "", "bad conductivity"))

    def surface(self, k: int) -> FloatArray:
        """Vertices (m) of surface ``k`` (shape (D, 3))."""
        return np.asarray(self.center + self.radii[k][:, None] * self.directions)

    def with_sigma(self, **sigma: float) -> LayeredHead:
        """Return a copy with some conductivities (S/m) replaced by tissue name."""
        for name in sigma:
            if name not in self.names:
                raise InputError(
                    Problem("tissue", name, f"one of {self.names}", "", "unknown tissue")
                )
        new = tuple(float(sigma.get(n, s)) for n, s in zip(self.names, self.sigma, strict=True))
        return LayeredHead(
            self.center, self.directions, self.faces, self.radii, self.names, new, self.sources
        )

    def key(self) -> str:
        """Hash of the geometry (not the conductivities), for mesh caching."""
        h = hashlib.sha256()
        for a in (self.center, self.directions, self.faces, self.radii):
            h.update(np.ascontiguousarray(a).tobytes())
        return h.hexdigest()[:20]


def sphere_head(model: SphereModel, level: int = 3) -> LayeredHead:
    """Build a :class:`LayeredHead` of concentric spheres (the analytic-check geometry).

    Parameters
    ----------
    model : SphereModel
        Radii (m) and conductivities (S/m).
    level : int
        Icosphere subdivision level of the surfaces.

    Returns
    -------
    LayeredHead
        Spheres centred at the origin.
    """
    d, f = icosphere(level)
    radii = np.repeat(np.asarray(model.radii, dtype=float)[:, None], len(d), axis=1)
    names = model.names or tuple(f"shell{i}" for i in range(model.n_shells))
    return LayeredHead(np.zeros(3), d, f, radii, tuple(names), tuple(model.sigma), model.sources)


def _ray_hits(
    center: FloatArray, dirs: FloatArray, verts: FloatArray, tris: NDArray[np.intp]
) -> FloatArray:
    """Farthest positive ray-triangle intersection distance per direction (Moller-Trumbore)."""
    v0, v1, v2 = verts[tris[:, 0]], verts[tris[:, 1]], verts[tris[:, 2]]
    e1, e2 = v1 - v0, v2 - v0
    s = center - v0
    out = np.full(len(dirs), np.nan)
    for lo in range(0, len(dirs), 64):
        d = dirs[lo : lo + 64]
        p = np.cross(d[:, None, :], e2[None])
        det = np.einsum("tk,dtk->dt", e1, p)
        ok = np.abs(det) > 1e-14
        inv = np.where(ok, 1.0 / np.where(ok, det, 1.0), 0.0)
        u = np.einsum("tk,dtk->dt", s, p) * inv
        q = np.cross(s, e1)
        v = np.einsum("dk,tk->dt", d, q) * inv
        t = np.einsum("tk,tk->t", e2, q)[None] * inv
        hit = ok & (u >= 0) & (v >= 0) & (u + v <= 1) & (t > 0)
        tt = np.where(hit, t, -np.inf).max(axis=1)
        out[lo : lo + 64] = np.where(np.isfinite(tt), tt, np.nan)
    return out


@lru_cache(maxsize=4)
def _fsaverage_surfaces() -> tuple[FloatArray, NDArray[np.intp], FloatArray, NDArray[np.intp]]:
    mne = require("mne", extra="head", feature="the template head")
    base = Path(str(mne.__file__)).parent / "data" / "fsaverage"
    head = mne.read_bem_surfaces(base / "fsaverage-head.fif", verbose=False)[0]
    skull = mne.read_bem_surfaces(base / "fsaverage-inner_skull-bem.fif", verbose=False)[0]
    return (
        np.asarray(head["rr"], float),
        np.asarray(head["tris"], np.intp),
        np.asarray(skull["rr"], float),
        np.asarray(skull["tris"], np.intp),
    )


def _fill_missing(dirs: FloatArray, r: FloatArray) -> FloatArray:
    """Replace NaN radii (rays through holes) by the mean of the 6 nearest valid rays."""
    bad = ~np.isfinite(r)
    if bad.any():
        good = np.flatnonzero(~bad)
        cos = dirs[bad] @ dirs[good].T
        nn = np.argsort(-cos, axis=1)[:, :6]
        r = r.copy()
        r[bad] = r[good][nn].mean(axis=1)
    return r


def _neighbours(faces: NDArray[np.intp], n: int) -> list[NDArray[np.intp]]:
    nb: list[set[int]] = [set() for _ in range(n)]
    for a, b, c in faces:
        nb[a] |= {b, c}
        nb[b] |= {a, c}
        nb[c] |= {a, b}
    return [np.fromiter(x, dtype=np.intp) for x in nb]


def _smooth(r: FloatArray, nb: list[NDArray[np.intp]], passes: int = 2) -> FloatArray:
    for _ in range(passes):
        r = np.array([0.5 * r[i] + 0.5 * r[j].mean() for i, j in enumerate(nb)])
    return r


@lru_cache(maxsize=1)
def _mni152_tpm() -> tuple[NDArray[Any], NDArray[Any], FloatArray]:
    nilearn = require("nilearn", extra="head", feature="the template head's GM/WM")
    nib = require("nibabel", extra="head", feature="the template head's GM/WM")
    base = Path(str(nilearn.__file__)).parent / "datasets" / "data"
    gm = nib.load(base / "mni_icbm152_gm_tal_nlin_sym_09a_converted.nii.gz")
    wm = nib.load(base / "mni_icbm152_wm_tal_nlin_sym_09a_converted.nii.gz")
    g = np.asarray(gm.dataobj, dtype=np.float32) / 255
    w = np.asarray(wm.dataobj, dtype=np.float32) / 255
    return g, w, np.asarray(gm.affine, dtype=float)


def _tpm_radii(center: FloatArray, dirs: FloatArray) -> tuple[FloatArray, FloatArray]:
    """Outermost radius (m) along each ray with P(GM+WM) >= 0.5 and with P(WM) >= 0.5."""
    from scipy.ndimage import map_coordinates

    g, w, affine = _mni152_tpm()
    r = np.arange(0.0, 0.12, 5e-4)
    pts = (center[None, None, :] + r[None, :, None] * dirs[:, None, :]) * 1e3
    inv = np.linalg.inv(affine)
    vox = (pts.reshape(-1, 3) @ inv[:3, :3].T + inv[:3, 3]).T
    pg = map_coordinates(g, vox, order=1, cval=0.0).reshape(len(dirs), len(r))
    pw = map_coordinates(w, vox, order=1, cval=0.0).reshape(len(dirs), len(r))

    def outermost(mask: NDArray[np.bool_]) -> FloatArray:
        idx = mask.shape[1] - 1 - np.argmax(mask[:, ::-1], axis=1)
        return np.where(mask.any(axis=1), r[idx], 0.0)

    return outermost(pg + pw >= 0.5), outermost(pw >= 0.5)


def template_head(level: int = 3) -> LayeredHead:
    """Build the fsaverage/MNI152 five-tissue template head (WM, GM, CSF, skull, scalp).

    Parameters
    ----------
    level : int
        Icosphere level of the surfaces (3: 642 vertices per surface, 4: 2562).

    Returns
    -------
    LayeredHead
        Surfaces in fsaverage surface RAS (MNI305) coordinates, m; how each one is
        obtained is in :data:`DERIVATIONS`.
    """
    if not 0 <= level <= 5:
        raise InputError(Problem("level", level, "0 to 5", "", "icosphere level"))
    hv, ht, sv, st = _fsaverage_surfaces()
    center = sv.mean(axis=0)
    d, f = icosphere(level)
    nb = _neighbours(f, len(d))
    r_scalp = _fill_missing(d, _ray_hits(center, d, hv, ht))
    r_is = _fill_missing(d, _ray_hits(center, d, sv, st))
    r_scalp = np.maximum(r_scalp, r_is + 2e-3)  # keep >= 2 mm of scalp+skull (assumed)
    r_os = r_is + 0.625 * (r_scalp - r_is)
    pial, white = _tpm_radii(center, d)
    r_pial = np.clip(_smooth(pial, nb), 0.5 * r_is, r_is - 1e-3)
    r_wm = np.clip(_smooth(white, nb), 0.3 * r_is, r_pial - 1e-3)
    radii = np.vstack([r_wm, r_pial, r_is, r_os, r_scalp])
    names = ("wm", "gm", "csf", "skull", "scalp")
    sources = (SIGMA_SOURCE,) + tuple(f"{k}: {v}" for k, v in DERIVATIONS.items())
    return LayeredHead(center, d, f, radii, names, tuple(TEMPLATE_SIGMA[n] for n in names), sources)


@dataclass(frozen=True)
class HeadMesh:
    """Tetrahedral mesh of a :class:`LayeredHead`.

    Parameters
    ----------
    nodes : ndarray, shape (N, 3)
        Vertices in m.
    tets : ndarray, shape (M, 4)
        Tetrahedra.
    tissue : ndarray, shape (M,)
        Layer index of each tetrahedron.
    scalp : ndarray, shape (S,)
        Node indices on the outer surface.
    scalp_tris : ndarray, shape (T, 3)
        Outer-surface triangles (node indices).
    """

    nodes: FloatArray
    tets: NDArray[np.intp]
    tissue: NDArray[np.intp]
    scalp: NDArray[np.intp]
    scalp_tris: NDArray[np.intp]

    @property
    def n_tets(self) -> int:
        """Number of tetrahedra."""
        return int(len(self.tets))


def _cache_dir() -> Path:
    env = os.environ.get("PHANTOMLAB_CACHE_DIR")
    if env:
        return Path(env)
    try:
        import platformdirs

        return Path(platformdirs.user_cache_dir("phantomlab", appauthor=False))
    except ImportError:  # pragma: no cover - platformdirs is a core dependency
        return Path.home() / ".cache" / "phantomlab"


def mesh_head(head: LayeredHead, size: float = 0.01, *, cache: bool = True) -> HeadMesh:
    """Fill the shells of ``head`` with tetrahedra (gmsh, Delaunay).

    Parameters
    ----------
    head : LayeredHead
        Nested surfaces; their triangles are kept as the mesh's interface faces.
    size : float
        Largest tetrahedron edge in m inside the shells.
    cache : bool
        Read/write the mesh in the user cache folder.

    Returns
    -------
    HeadMesh
        Conforming mesh with one tissue index per tetrahedron.
    """
    if not 5e-4 <= size <= 0.05:
        raise InputError(Problem("size", size, "0.0005 to 0.05 m", "", "mesh edge length"))
    path = _cache_dir() / f"head-{head.key()}-{size:.5f}.npz"
    if cache and path.exists():
        z = np.load(path)
        return HeadMesh(z["nodes"], z["tets"], z["tissue"], z["scalp"], z["scalp_tris"])
    gmsh = require("gmsh", extra="fem")
    n_dir, n_layer = len(head.directions), len(head.names)
    scale = 1e3
    gmsh.initialize(interruptible=False)
    try:
        gmsh.option.setNumber("General.Terminal", 0)
        gmsh.option.setNumber("General.NumThreads", 1)
        gmsh.model.add("head")
        for k in range(n_layer):
            tag = k + 1
            gmsh.model.addDiscreteEntity(2, tag)
            node_tags = np.arange(k * n_dir, (k + 1) * n_dir) + 1
            gmsh.model.mesh.addNodes(2, tag, node_tags, (head.surface(k) * scale).ravel())
            gmsh.model.mesh.addElementsByType(tag, 2, [], (head.faces + k * n_dir + 1).ravel())
        loops = [gmsh.model.geo.addSurfaceLoop([k + 1]) for k in range(n_layer)]
        for k in range(n_layer):
            gmsh.model.geo.addVolume([loops[k]] if k == 0 else [loops[k], loops[k - 1]], k + 1)
        gmsh.model.geo.synchronize()
        gmsh.option.setNumber("Mesh.MeshSizeMax", size * scale)
        gmsh.option.setNumber("Mesh.Algorithm3D", 1)
        gmsh.model.mesh.generate(3)
        tags, coords, _ = gmsh.model.mesh.getNodes()
        nodes = coords.reshape(-1, 3) / scale
        lookup = np.zeros(int(tags.max()) + 1, dtype=np.intp)
        lookup[tags.astype(np.intp)] = np.arange(len(tags))
        tets_l, tis_l = [], []
        for k in range(n_layer):
            types, _, enodes = gmsh.model.mesh.getElements(3, k + 1)
            for t, en in zip(types, enodes, strict=True):
                if t == 4:
                    tt = lookup[np.asarray(en, dtype=np.intp).reshape(-1, 4)]
                    tets_l.append(tt)
                    tis_l.append(np.full(len(tt), k, dtype=np.intp))
    finally:
        gmsh.finalize()
    tets = np.vstack(tets_l)
    used = np.unique(tets)
    remap = np.full(len(nodes), -1, dtype=np.intp)
    remap[used] = np.arange(len(used))
    outer = lookup[(head.faces + (n_layer - 1) * n_dir + 1)]
    mesh = HeadMesh(
        nodes[used], remap[tets], np.concatenate(tis_l), np.unique(remap[outer]), remap[outer]
    )
    if cache:
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp = path.with_suffix(".tmp.npz")
            np.savez_compressed(
                tmp,
                nodes=mesh.nodes,
                tets=mesh.tets,
                tissue=mesh.tissue,
                scalp=mesh.scalp,
                scalp_tris=mesh.scalp_tris,
            )
            tmp.replace(path)
        except OSError:  # read-only or full cache folder: the mesh is still returned
            pass
    return mesh
