"""Target-level convenience: optimise a montage for a named target in one call.

These wrap the lead field, the ROI and the optimisers with documented defaults,
for the CLI and for therapies. The ROI is every evaluation point within
``roi_radius`` of the target.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from phantomlab._validation import check_range, raise_if
from phantomlab.fields.electrodes import get_cap, parse_target
from phantomlab.fields.leadfield import brain_points, compute_leadfield
from phantomlab.fields.optimize import DEFAULT_SPLITS, optimize_tdcs, optimize_ti
from phantomlab.fields.sphere import SphereModel, default_model, monopole_fields

__all__ = ["optimize_tdcs_for_target", "optimize_ti_for_target"]


def _check_roi(roi_radius: float) -> None:
    raise_if(check_range("roi_radius", roi_radius, low=0.0, low_inclusive=False, unit="m"))


def optimize_ti_for_target(
    target: str,
    *,
    cap: str = "10-20",
    total_current: float = 4e-3,
    roi_radius: float = 0.01,
    spacing: float = 0.0048,
    splits: Sequence[float] = DEFAULT_SPLITS,
    model: SphereModel | None = None,
) -> dict[str, Any]:
    """Best TI montage of a cap for a target (exact exhaustive search).

    Parameters
    ----------
    target : str
        Target name (see :data:`~phantomlab.fields.electrodes.TARGETS`) or
        ``"x,y,z"`` in mm.
    cap : str
        Electrode cap.
    total_current : float
        Sum of both pair currents in A.
    roi_radius : float
        ROI radius in m.
    spacing : float
        Brain grid spacing in m (4.8 mm gives about 20,000 points).
    splits : sequence of float
        Fractions of the total current on pair 1.
    model : SphereModel, optional
        Head model (default :func:`default_model`).

    Returns
    -------
    dict
        ``best`` (pairs, currents, ROI mean, P95, focality), ``envelope_at_target``
        (V/m), the search statistics and a text ``summary``.
    """
    _check_roi(roi_radius)
    from phantomlab.fields.leadfield import ti_field_at

    model = model or default_model()
    t = parse_target(target)
    pts = brain_points(model, spacing=spacing)
    lf = compute_leadfield(pts, cap, model)
    roi = np.linalg.norm(pts - np.asarray(t.position), axis=1) <= roi_radius
    if not roi.any():
        roi[int(np.argmin(np.linalg.norm(pts - np.asarray(t.position), axis=1)))] = True
    res = optimize_ti(lf.efield, lf.cap.names, roi, total_current=total_current, splits=splits)
    at = ti_field_at(res.pair1, res.pair2, res.currents, t.position, model=model, cap=cap)
    out = res.to_dict()
    out.update(
        {
            "target": t.name,
            "target_xyz_mm": [v * 1e3 for v in t.position],
            "target_note": t.note,
            "cap": cap,
            "n_electrodes": len(lf.cap),
            "n_points": len(pts),
            "n_roi_points": int(roi.sum()),
            "envelope_at_target_V_per_m": at,
            "summary": res.summary() + f"\n  envelope at the target point: {at:.4g} V/m",
        }
    )
    return out


def optimize_tdcs_for_target(
    target: str,
    *,
    cap: str = "10-10",
    total_current: float = 2e-3,
    max_individual: float = 1e-3,
    direction: Sequence[float] | None = None,
    roi_radius: float = 0.005,
    model: SphereModel | None = None,
) -> dict[str, Any]:
    """LP-optimal tDCS currents of a cap for a target (Saturnino et al. 2019).

    Parameters
    ----------
    target : str
        Target name or ``"x,y,z"`` in mm.
    cap : str
        Electrode cap.
    total_current : float
        Total injected current limit in A.
    max_individual : float
        Per-electrode limit in A.
    direction : sequence of 3 floats, optional
        Field direction to maximise; default the target's (inward normal).
    roi_radius : float
        ROI radius in m (points on a 1 mm grid inside it).
    model : SphereModel, optional
        Head model.

    Returns
    -------
    dict
        Currents per active electrode, target field and a text ``summary``.
    """
    _check_roi(roi_radius)
    model = model or default_model()
    t = parse_target(target)
    c = get_cap(cap, model)
    step = 0.001
    ax = np.arange(-roi_radius, roi_radius + step / 2, step)
    g = np.stack(np.meshgrid(ax, ax, ax, indexing="ij"), -1).reshape(-1, 3)
    g = g[np.linalg.norm(g, axis=1) <= roi_radius] + np.asarray(t.position)
    g = g[np.linalg.norm(g, axis=1) < model.outer_radius]
    _, e = monopole_fields(model, g, c.positions, potential=False)
    d = np.asarray(t.direction if direction is None else direction, dtype=float)
    res = optimize_tdcs(e, c.names, d, total_current=total_current, max_individual=max_individual)
    out = res.to_dict()
    out.update(
        {
            "target": t.name,
            "target_xyz_mm": [v * 1e3 for v in t.position],
            "target_note": t.note,
            "cap": cap,
            "n_roi_points": len(g),
            "summary": res.summary(),
        }
    )
    return out
