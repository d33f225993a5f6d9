"""Evaluate a given montage on a head and export it: mesh (meshio), NIfTI (nibabel), figure.

:func:`evaluate_montage` solves a TI montage (two pairs) or an HD/tDCS montage
(``{name: current}``) on a :class:`~phantomlab.fields.head.RealisticHead` and
returns a :class:`MontageEvaluation`; :meth:`MontageEvaluation.to_mesh` writes the
tetrahedral mesh with per-element |E| (and the TI envelope), :meth:`to_nifti`
samples the per-element value on a regular grid (nearest tetrahedron centroid)
in the head's coordinates (fsaverage/MNI305, mm; identity rotation), and
:meth:`plot` draws a coronal or axial slab with the head outline, the
electrodes and the target.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from phantomlab._optional import require
from phantomlab._result import as_figure, new_axes
from phantomlab.exceptions import InputError, Problem
from phantomlab.fields.head import Pad, RealisticHead, solve, ti_envelope_head

__all__ = ["MontageEvaluation", "evaluate_montage"]

FloatArray = NDArray[np.float64]


@dataclass(frozen=True)
class MontageEvaluation:
    """One montage evaluated on a head.

    Parameters
    ----------
    head : RealisticHead
        The head.
    kind : str
        ``"ti"`` or ``"tdcs"``.
    currents : dict
        ``{name: A}`` (tDCS) or the two TI pairs as ``{"pair1": ..., "pair2": ...}``.
    value : ndarray, shape (M,)
        Per-tetrahedron |E| (tDCS) or maximal TI envelope (V/m).
    target : ndarray, shape (3,) or None
        Target in m.
    seconds : float
        FEM solve time in s.
    """

    head: RealisticHead
    kind: str
    currents: dict[str, Any]
    value: FloatArray
    target: FloatArray | None
    seconds: float

    def stats(self, roi_radius: float = 0.01) -> dict[str, float]:
        """|E| or envelope statistics (V/m) in grey matter and around the target."""
        brain = self.head.tissue_mask(("gm", "wm"))
        if not brain.any():
            brain = self.head.mesh.tissue == 0
        out = {
            "brain_median": float(np.median(self.value[brain])),
            "brain_p99": float(np.percentile(self.value[brain], 99)),
            "solve_s": self.seconds,
            "n_tets": float(self.head.mesh.n_tets),
        }
        if self.target is not None:
            d = np.linalg.norm(self.head.centroids - self.target, axis=1)
            roi = brain & (d <= roi_radius)
            if roi.any():
                out["target_mean"] = float(self.value[roi].mean())
        return out

    def to_mesh(self, path: str | Path) -> Path:
        """Write the mesh with ``value`` and ``tissue`` per element (meshio; .msh, .vtu, ...)."""
        meshio = require("meshio", extra="head", feature="mesh export")
        m = meshio.Mesh(
            self.head.mesh.nodes * 1e3,
            [("tetra", self.head.mesh.tets)],
            cell_data={"value": [self.value], "tissue": [self.head.mesh.tissue.astype(np.int32)]},
        )
        m.write(str(path))
        return Path(path)

    def to_nifti(self, path: str | Path, voxel: float = 0.002) -> Path:
        """Sample ``value`` on a regular grid (nearest element centroid) and save a NIfTI.

        Parameters
        ----------
        path : str or Path
            Output ``.nii`` / ``.nii.gz``.
        voxel : float
            Voxel edge in m.

        Returns
        -------
        Path
            The file written (affine in mm, head coordinates).
        """
        nib = require("nibabel", extra="head", feature="NIfTI export")
        from scipy.spatial import cKDTree

        if not 5e-4 <= voxel <= 0.01:
            raise InputError(Problem("voxel", voxel, "0.0005 to 0.01 m", "", "voxel size"))
        lo, hi = self.head.mesh.nodes.min(axis=0), self.head.mesh.nodes.max(axis=0)
        axes = [np.arange(a, b + voxel, voxel) for a, b in zip(lo, hi, strict=True)]
        grid = np.stack(np.meshgrid(*axes, indexing="ij"), axis=-1).reshape(-1, 3)
        tree = cKDTree(self.head.centroids)
        dist, idx = tree.query(grid)
        # outside the head: farther from any centroid than about one element
        vals = np.where(dist < 1.5 * np.cbrt(self._mean_volume()) + voxel, self.value[idx], 0.0)
        vol = vals.reshape([len(a) for a in axes]).astype(np.float32)
        affine = np.diag([voxel * 1e3] * 3 + [1.0])
        affine[:3, 3] = lo * 1e3
        nib.save(nib.Nifti1Image(vol, affine), str(path))
        return Path(path)

    def _mean_volume(self) -> float:
        x = self.head.mesh.nodes[self.head.mesh.tets]
        d = np.transpose(x[:, 1:] - x[:, :1], (0, 2, 1))
        return float(np.mean(np.abs(np.linalg.det(d)) / 6))

    def plot(self, ax: Any = None, *, plane: str = "coronal", slab: float = 0.006) -> Any:
        """Slab of |E| / envelope with head outline, electrodes and target.

        Parameters
        ----------
        ax : matplotlib Axes, optional
            Axes to draw into.
        plane : str
            ``"coronal"`` (x-z through the target) or ``"axial"`` (x-y).
        slab : float
            Half thickness of the slab in m.

        Returns
        -------
        matplotlib.figure.Figure
            The figure.
        """
        if plane not in ("coronal", "axial"):
            raise InputError(Problem("plane", plane, "coronal | axial", "", ""))
        ax = new_axes(ax)
        c = self.head.centroids
        ref = self.target if self.target is not None else self.head.head.center
        cut, (i, j) = (1, (0, 2)) if plane == "coronal" else (2, (0, 1))
        sel = np.abs(c[:, cut] - ref[cut]) <= slab
        sc = ax.scatter(
            c[sel, i] * 1e3, c[sel, j] * 1e3, c=self.value[sel], s=6, cmap="viridis",
            vmax=float(np.percentile(self.value[sel], 99)) if sel.any() else None,
        )  # fmt: skip
        ax.figure.colorbar(sc, ax=ax, label="V/m")
        scalp = self.head.mesh.nodes[self.head.mesh.scalp]
        near = np.abs(scalp[:, cut] - ref[cut]) <= 2 * slab
        ax.scatter(scalp[near, i] * 1e3, scalp[near, j] * 1e3, s=1, c="0.4", label="scalp")
        used = self._electrodes_used()
        for name in used:
            p = self.head.electrodes[self.head.index(name)] * 1e3
            ax.plot(p[i], p[j], "s", color="tab:red", ms=6)
            ax.annotate(name, (p[i], p[j]), fontsize=7)
        if self.target is not None:
            ax.plot(ref[i] * 1e3, ref[j] * 1e3, "*", color="white", mec="k", ms=12, label="target")
        ax.set_aspect("equal")
        ax.set_xlabel("x (mm)")
        ax.set_ylabel(("z" if plane == "coronal" else "y") + " (mm)")
        ax.set_title(f"{self.kind.upper()} {'envelope' if self.kind == 'ti' else '|E|'}")
        return as_figure(ax)

    def _electrodes_used(self) -> list[str]:
        if self.kind == "ti":
            return [*self.currents["pair1"], *self.currents["pair2"]]
        return list(self.currents)


def evaluate_montage(
    head: RealisticHead,
    *,
    currents: Mapping[str, float] | None = None,
    pairs: Sequence[tuple[str, str]] | None = None,
    pair_currents: tuple[float, float] = (1e-3, 1e-3),
    pad: Pad | None = None,
    target: FloatArray | None = None,
) -> MontageEvaluation:
    """Solve a given tDCS/HD montage (``currents``) or a TI montage (``pairs``).

    Parameters
    ----------
    head : RealisticHead
        Meshed head.
    currents : mapping, optional
        ``{name: A}`` summing to zero (tDCS / HD-tDCS).
    pairs : sequence of two (anode, cathode), optional
        TI pairs.
    pair_currents : tuple of float
        TI pair currents in A.
    pad : Pad, optional
        Pad shape.
    target : ndarray, optional
        Target in m (for statistics and the figure).

    Returns
    -------
    MontageEvaluation
        Per-element |E| or TI envelope.
    """
    if (currents is None) == (pairs is None):
        raise InputError(Problem("montage", "", "exactly one of currents / pairs", "", ""))
    if currents is not None:
        sol = solve(head, currents, pad=pad)
        return MontageEvaluation(head, "tdcs", dict(currents), sol.magnitude, target, sol.seconds)
    if pairs is None or len(pairs) != 2 or any(len(p) != 2 for p in pairs):
        raise InputError(Problem("pairs", pairs, "two (anode, cathode) pairs", "", ""))
    s1, s2, env = ti_envelope_head(head, pairs[0], pairs[1], pair_currents, pad=pad)
    cur = {"pair1": tuple(pairs[0]), "pair2": tuple(pairs[1]), "currents": pair_currents}
    return MontageEvaluation(head, "ti", cur, env, target, s1.seconds + s2.seconds)
