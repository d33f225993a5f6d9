"""Field results: magnitude and direction at a target, focality, table and plot."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
from numpy.typing import NDArray

from phantomlab._result import Result, as_figure

if TYPE_CHECKING:
    import pandas as pd
    from matplotlib.figure import Figure

__all__ = ["FOCALITY_PERCENTILE", "FieldResult", "focality_ratio"]

#: Off-target percentile of the threshold-free focality ratio (TI-Toolbox's
#: ``focality_tf`` uses the 95th percentile of the non-ROI field; fields.md 2.2).
FOCALITY_PERCENTILE = 95.0


def focality_ratio(
    values: NDArray[np.floating], roi: NDArray[np.bool_], percentile: float = FOCALITY_PERCENTILE
) -> float:
    """Threshold-free focality: ROI mean / off-target high percentile.

    Parameters
    ----------
    values : ndarray, shape (P,)
        Field magnitude (or envelope) in V/m at each point.
    roi : ndarray of bool, shape (P,)
        Target region mask.
    percentile : float
        Off-target percentile (0-100); the value at rank ``ceil(q n)``
        (``numpy`` method ``inverted_cdf``).

    Returns
    -------
    float
        The ratio (dimensionless); ``nan`` if the ROI or off-target set is empty.
    """
    if not roi.any() or roi.all():
        return float("nan")
    off = values[~roi]
    hi = float(np.percentile(off, percentile, method="inverted_cdf"))
    return float(values[roi].mean() / hi) if hi > 0 else float("inf")


@dataclass(frozen=True, repr=False)
class FieldResult(Result):
    """A field (tDCS E-field, TMS E-field or TI envelope) sampled at points.

    Parameters
    ----------
    kind : str
        ``"tdcs"``, ``"tms"`` or ``"ti"``.
    points : ndarray, shape (P, 3)
        Sample points in m.
    magnitude : ndarray, shape (P,)
        ``|E|`` (tDCS/TMS) or the maximal TI envelope, in V/m.
    efield : ndarray, shape (P, 3), optional
        E-field vector in V/m (``None`` for TI).
    potential : ndarray, shape (P,), optional
        Potential in V (tDCS only).
    target : ndarray, shape (3,), optional
        Target position in m.
    roi_radius : float
        Radius of the target region in m (points closer than this are the ROI).
    montage : dict
        Description of the stimulation (electrodes, currents, ...).
    """

    kind: str
    points: NDArray[np.float64]
    magnitude: NDArray[np.float64]
    efield: NDArray[np.float64] | None = None
    potential: NDArray[np.float64] | None = None
    target: NDArray[np.float64] | None = None
    roi_radius: float = 0.01
    montage: dict[str, Any] = field(default_factory=dict)

    @property
    def roi(self) -> NDArray[np.bool_]:
        """Mask of points within ``roi_radius`` of the target (all False without target)."""
        if self.target is None:
            return np.zeros(len(self.points), dtype=bool)
        d = np.linalg.norm(self.points - np.asarray(self.target), axis=1)
        roi = d <= self.roi_radius
        if not roi.any():
            roi[int(np.argmin(d))] = True
        return roi

    @property
    def target_index(self) -> int | None:
        """Index of the sample point nearest the target."""
        if self.target is None:
            return None
        return int(np.argmin(np.linalg.norm(self.points - np.asarray(self.target), axis=1)))

    @property
    def target_magnitude(self) -> float:
        """Field magnitude (V/m) at the sample point nearest the target."""
        i = self.target_index
        return float("nan") if i is None else float(self.magnitude[i])

    @property
    def target_vector(self) -> NDArray[np.float64] | None:
        """E-field vector (V/m) at the point nearest the target (``None`` for TI)."""
        i = self.target_index
        if i is None or self.efield is None:
            return None
        return np.asarray(self.efield[i])

    @property
    def roi_mean(self) -> float:
        """Mean magnitude (V/m) over the ROI."""
        return float(self.magnitude[self.roi].mean()) if self.target is not None else float("nan")

    @property
    def focality(self) -> float:
        """ROI mean / 95th percentile off the ROI (threshold-free)."""
        return focality_ratio(self.magnitude, self.roi)

    def summary(self) -> str:
        """Return a short text summary."""
        lines = [f"FieldResult ({self.kind}), {len(self.points)} points"]
        for k, v in self.montage.items():
            lines.append(f"  {k}: {v}")
        lines.append(
            f"  max |E| = {np.nanmax(self.magnitude):.4g} V/m, "
            f"median = {np.nanmedian(self.magnitude):.4g} V/m"
        )
        if self.target is not None:
            t = np.asarray(self.target) * 1e3
            lines.append(
                f"  target ({t[0]:.1f}, {t[1]:.1f}, {t[2]:.1f}) mm: "
                f"{self.target_magnitude:.4g} V/m; ROI mean ({self.roi_radius * 1e3:.0f} mm) "
                f"{self.roi_mean:.4g} V/m; focality {self.focality:.3g}"
            )
            vec = self.target_vector
            if vec is not None:
                lines.append(f"  E at target = ({vec[0]:.4g}, {vec[1]:.4g}, {vec[2]:.4g}) V/m")
        return "\n".join(lines)

    def to_frame(self) -> pd.DataFrame:
        """Table of ``x_mm, y_mm, z_mm``, magnitude (V/m) and, if known, ``Ex, Ey, Ez, phi_V``."""
        import pandas as pd

        data: dict[str, Any] = {
            "x_mm": self.points[:, 0] * 1e3,
            "y_mm": self.points[:, 1] * 1e3,
            "z_mm": self.points[:, 2] * 1e3,
        }
        if self.potential is not None:
            data["phi_V"] = self.potential
        if self.efield is not None:
            data["Ex"], data["Ey"], data["Ez"] = self.efield.T
        data["envelope" if self.kind == "ti" else "magnitude"] = self.magnitude
        if self.target is not None:
            data["roi"] = self.roi
        return pd.DataFrame(data)

    def plot(self, ax: Any = None, *, slab: float = 0.004) -> Figure:
        """Slice through the target (coronal, x-z) and a top-view map of the upper points.

        Parameters
        ----------
        ax : pair of matplotlib Axes, optional
            The two Axes to draw into (default: a new Figure with two panels).
        slab : float
            Half thickness in m of the slab of points shown in the slice.

        Returns
        -------
        matplotlib.figure.Figure
            The figure (two panels).
        """
        if ax is None:
            from matplotlib.figure import Figure

            axes = Figure(figsize=(10, 4.4)).subplots(1, 2)
        else:
            axes = ax
        fig = as_figure(axes)
        y0 = 0.0 if self.target is None else float(self.target[1])
        sel = np.abs(self.points[:, 1] - y0) <= slab
        label = "TI envelope (V/m)" if self.kind == "ti" else "|E| (V/m)"
        vmax = float(np.nanpercentile(self.magnitude, 99.5))
        ax = axes[0]
        sc = ax.scatter(
            self.points[sel, 0] * 1e3,
            self.points[sel, 2] * 1e3,
            c=self.magnitude[sel],
            s=6,
            cmap="viridis",
            vmin=0,
            vmax=vmax,
        )
        ax.set(xlabel="x (mm)", ylabel="z (mm)", title=f"slice y = {y0 * 1e3:.0f} mm")
        ax.set_aspect("equal")
        fig.colorbar(sc, ax=ax, label=label)
        r = np.linalg.norm(self.points, axis=1)
        top = (self.points[:, 2] > 0) & (r >= 0.97 * r.max())
        ax = axes[1]
        if top.any():
            sc2 = ax.scatter(
                self.points[top, 0] * 1e3,
                self.points[top, 1] * 1e3,
                c=self.magnitude[top],
                s=6,
                cmap="viridis",
                vmin=0,
                vmax=vmax,
            )
            fig.colorbar(sc2, ax=ax, label=label)
        ax.set(xlabel="x (mm)", ylabel="y (mm)", title="outer surface, top view (z > 0)")
        ax.set_aspect("equal")
        if self.target is not None:
            for a, (i, j) in zip(axes, ((0, 2), (0, 1)), strict=True):
                a.plot(self.target[i] * 1e3, self.target[j] * 1e3, "r+", ms=12, mew=2)
        fig.suptitle(f"{self.kind} field (in silico, sphere model)")
        if ax is None:
            fig.tight_layout()
        return fig
