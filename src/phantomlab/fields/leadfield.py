"""Lead fields of electrode caps and the field of any montage by superposition.

A lead field holds, for every electrode of a cap, the E-field of a unit
current monopole at that electrode (``n = 0`` term removed); any montage whose
currents sum to zero is the weighted sum of rows. Also the simple functions the
therapies call: :func:`tdcs_field_at` and :func:`ti_field_at`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike, NDArray

from phantomlab._validation import check_range, raise_if
from phantomlab.exceptions import InputError, Problem
from phantomlab.fields.electrodes import Cap, get_cap
from phantomlab.fields.result import FieldResult
from phantomlab.fields.sphere import SphereModel, default_model, monopole_fields
from phantomlab.fields.ti import max_envelope

__all__ = [
    "ElectrodeSpec",
    "LeadField",
    "brain_points",
    "compute_leadfield",
    "resolve_electrode",
    "tdcs_field",
    "tdcs_field_at",
    "ti_field",
    "ti_field_at",
]

#: An electrode given by cap name (``"C3"``) or by position in m.
ElectrodeSpec = str | Sequence[float] | NDArray[np.float64]


@dataclass(frozen=True)
class LeadField:
    """Unit-monopole E-fields of every cap electrode at a set of points.

    Parameters
    ----------
    model : SphereModel
        Head model.
    cap : Cap
        Electrode cap.
    points : ndarray, shape (P, 3)
        Points in m.
    efield : ndarray, shape (E, P, 3)
        E-field in V/m per A injected at each electrode.
    potential : ndarray, shape (E, P), optional
        Potential in V per A (if computed).
    """

    model: SphereModel
    cap: Cap
    points: NDArray[np.float64]
    efield: NDArray[np.float64]
    potential: NDArray[np.float64] | None = None

    def currents_vector(self, currents: Mapping[str, float]) -> NDArray[np.float64]:
        """Currents (A) per cap electrode from a ``{name: current}`` mapping.

        Raises
        ------
        InputError
            If the currents do not sum to zero (within 1e-9 A) or a name is unknown.
        """
        vec = np.zeros(len(self.cap))
        for name, cur in currents.items():
            vec[self.cap.index(name)] += float(cur)
        if abs(vec.sum()) > 1e-9 * max(1.0, float(np.abs(vec).sum())):
            raise InputError(
                Problem("currents", dict(currents), "sum to 0 A", "Kirchhoff", "not balanced")
            )
        return vec

    def field(self, currents: Mapping[str, float] | ArrayLike) -> NDArray[np.float64]:
        """E-field (V/m, shape (P, 3)) of a montage given as ``{name: A}`` or a vector."""
        vec = (
            self.currents_vector(currents)
            if isinstance(currents, Mapping)
            else np.asarray(currents, dtype=float)
        )
        return np.asarray(np.tensordot(vec, self.efield, axes=1))

    def pair_field(self, anode: str, cathode: str, current: float) -> NDArray[np.float64]:
        """E-field (V/m) of one bipolar pair with ``current`` A entering at ``anode``."""
        i, j = self.cap.index(anode), self.cap.index(cathode)
        return current * (self.efield[i] - self.efield[j])


def compute_leadfield(
    points: ArrayLike,
    cap: Cap | str = "10-10",
    model: SphereModel | None = None,
    *,
    potential: bool = False,
    rtol: float = 1e-8,
) -> LeadField:
    """Compute the lead field of a cap on a sphere model.

    Parameters
    ----------
    points : array_like, shape (P, 3)
        Points in m.
    cap : Cap or str
        A :class:`Cap` or a cap name for :func:`get_cap`.
    model : SphereModel, optional
        Head model (default :func:`default_model`).
    potential : bool
        Also store potentials.
    rtol : float
        Series truncation tolerance (see :func:`monopole_fields`).

    Returns
    -------
    LeadField
        The lead field.
    """
    model = model or default_model()
    cap_obj = get_cap(cap, model) if isinstance(cap, str) else cap
    pts = np.atleast_2d(np.asarray(points, dtype=float))
    phi, e = monopole_fields(model, pts, cap_obj.positions, rtol=rtol, potential=potential)
    return LeadField(model, cap_obj, pts, e, phi if potential else None)


def resolve_electrode(
    spec: ElectrodeSpec, model: SphereModel, cap: str = "10-10"
) -> tuple[str, NDArray[np.float64]]:
    """Turn an electrode name or position into ``(label, position on the scalp in m)``.

    Parameters
    ----------
    spec : str or sequence of 3 floats
        Cap electrode name (``"C3"``) or a position in m (projected radially).
    model : SphereModel
        Head model.
    cap : str
        Cap to look names up in (falls back to the 10-05 cap for names not in it).

    Returns
    -------
    tuple
        Label and position in m.
    """
    if isinstance(spec, str):
        c = get_cap(cap, model)
        try:
            return spec, c.position(spec)
        except InputError:
            if cap == "10-05":
                raise
            return spec, get_cap("10-05", model).position(spec)
    pos = np.asarray(spec, dtype=float).reshape(-1)
    if pos.shape != (3,) or not np.all(np.isfinite(pos)) or np.linalg.norm(pos) == 0:
        raise InputError(Problem("electrode", spec, "a name or x,y,z (non-zero)", "", "bad"))
    return "xyz", pos / np.linalg.norm(pos) * model.outer_radius


def brain_points(
    model: SphereModel | None = None,
    *,
    spacing: float = 0.004,
    shell: int = 0,
) -> NDArray[np.float64]:
    """Regular cubic grid of points inside one shell (default: the brain).

    Parameters
    ----------
    model : SphereModel, optional
        Head model (default :func:`default_model`).
    spacing : float
        Grid spacing in m.
    shell : int
        Shell index whose outer radius bounds the grid.

    Returns
    -------
    ndarray, shape (P, 3)
        Points in m.
    """
    model = model or default_model()
    r = model.radii[shell]
    ax = np.arange(-r, r + spacing / 2, spacing)
    g = np.stack(np.meshgrid(ax, ax, ax, indexing="ij"), axis=-1).reshape(-1, 3)
    return np.asarray(g[np.linalg.norm(g, axis=1) <= r])


def _check_currents_roi(currents: Mapping[str, float], roi_radius: float) -> None:
    """Raise one InputError for a non-finite current or a non-positive ROI radius."""
    problems: list[Problem] = []
    for name, value in currents.items():
        found = check_range(name, value, unit="A")
        if not found and not np.isfinite(value):
            found = [Problem(name, value, "a finite current (A)", "", "not finite")]
        problems += found
    problems += check_range("roi_radius", roi_radius, low=0.0, low_inclusive=False, unit="m")
    raise_if(problems)


def tdcs_field(
    anode: ElectrodeSpec,
    cathode: ElectrodeSpec,
    current_A: float,
    points: ArrayLike,
    *,
    model: SphereModel | None = None,
    cap: str = "10-10",
    target: ArrayLike | None = None,
    roi_radius: float = 0.01,
) -> FieldResult:
    """Potential and E-field of a bipolar tDCS montage (anode = current source).

    Parameters
    ----------
    anode, cathode : str or sequence of 3 floats
        Electrode names of the cap or positions in m.
    current_A : float
        Current in A entering at the anode (leaving at the cathode).
    points : array_like, shape (P, 3)
        Field points in m.
    model : SphereModel, optional
        Head model (default :func:`default_model`).
    cap : str
        Cap for electrode names.
    target : array_like, shape (3,), optional
        Target in m (for target value, ROI and focality).
    roi_radius : float
        ROI radius in m.

    Returns
    -------
    FieldResult
        Field, potential and target summaries.
    """
    _check_currents_roi({"current": current_A}, roi_radius)
    model = model or default_model()
    la, pa = resolve_electrode(anode, model, cap)
    lc, pc = resolve_electrode(cathode, model, cap)
    if np.allclose(pa, pc):
        raise InputError(Problem("cathode", cathode, "differs from the anode", "", "same place"))
    pts = np.atleast_2d(np.asarray(points, dtype=float))
    phi, e = monopole_fields(model, pts, np.vstack([pa, pc]))
    ef = current_A * (e[0] - e[1])
    return FieldResult(
        kind="tdcs",
        points=pts,
        magnitude=np.linalg.norm(ef, axis=1),
        efield=ef,
        potential=current_A * (phi[0] - phi[1]),
        target=None if target is None else np.asarray(target, dtype=float),
        roi_radius=roi_radius,
        montage={"anode": la, "cathode": lc, "current_A": current_A},
    )


def tdcs_field_at(
    anode: ElectrodeSpec,
    cathode: ElectrodeSpec,
    current_A: float,
    target_xyz_m: ArrayLike,
    *,
    model: SphereModel | None = None,
    cap: str = "10-10",
) -> float:
    """Field magnitude |E| (V/m) at one point for a bipolar tDCS montage.

    This is the function therapies call for "field at the target".

    Parameters
    ----------
    anode, cathode : str or sequence of 3 floats
        Electrode names (``"C3"``, ``"Fp2"``) or positions in m.
    current_A : float
        Current in A.
    target_xyz_m : array_like, shape (3,)
        Target position in m (sphere centred at the origin, z up).
    model : SphereModel, optional
        Head model (default :func:`default_model`).
    cap : str
        Cap for electrode names.

    Returns
    -------
    float
        ``|E|`` in V/m.

    Examples
    --------
    >>> round(tdcs_field_at("C3", "Fp2", 0.002, (-0.04, 0.0, 0.06)), 3)  # doctest: +SKIP
    0.2
    """
    res = tdcs_field(
        anode, cathode, current_A, np.reshape(target_xyz_m, (1, 3)), model=model, cap=cap
    )
    return float(res.magnitude[0])


def ti_field(
    pair1: tuple[ElectrodeSpec, ElectrodeSpec],
    pair2: tuple[ElectrodeSpec, ElectrodeSpec],
    currents_A: tuple[float, float],
    points: ArrayLike,
    *,
    model: SphereModel | None = None,
    cap: str = "10-10",
    target: ArrayLike | None = None,
    roi_radius: float = 0.01,
) -> FieldResult:
    """Maximal TI envelope of two bipolar pairs (Grossman et al. 2017).

    Parameters
    ----------
    pair1, pair2 : tuple
        ``(anode, cathode)`` of each pair, names or positions in m.
    currents_A : tuple of float
        Current amplitude of each pair in A.
    points : array_like, shape (P, 3)
        Points in m.
    model : SphereModel, optional
        Head model.
    cap : str
        Cap for names.
    target : array_like, optional
        Target in m.
    roi_radius : float
        ROI radius in m.

    Returns
    -------
    FieldResult
        ``magnitude`` is the envelope in V/m.
    """
    if len(currents_A) != 2:
        raise InputError(Problem("currents_A", currents_A, "two currents", "", "not a pair"))
    _check_currents_roi(
        {"currents_A[0]": currents_A[0], "currents_A[1]": currents_A[1]}, roi_radius
    )
    model = model or default_model()
    pts = np.atleast_2d(np.asarray(points, dtype=float))
    specs = [pair1[0], pair1[1], pair2[0], pair2[1]]
    labels, pos = zip(*(resolve_electrode(s, model, cap) for s in specs), strict=True)
    _, e = monopole_fields(model, pts, np.vstack(pos), potential=False)
    e1 = currents_A[0] * (e[0] - e[1])
    e2 = currents_A[1] * (e[2] - e[3])
    return FieldResult(
        kind="ti",
        points=pts,
        magnitude=np.asarray(max_envelope(e1, e2), dtype=float),
        target=None if target is None else np.asarray(target, dtype=float),
        roi_radius=roi_radius,
        montage={
            "pair1": f"{labels[0]}-{labels[1]}",
            "pair2": f"{labels[2]}-{labels[3]}",
            "currents_A": tuple(currents_A),
        },
    )


def ti_field_at(
    pair1: tuple[ElectrodeSpec, ElectrodeSpec],
    pair2: tuple[ElectrodeSpec, ElectrodeSpec],
    currents_A: tuple[float, float],
    target_xyz_m: ArrayLike,
    *,
    model: SphereModel | None = None,
    cap: str = "10-10",
) -> float:
    """Maximal TI envelope amplitude (V/m) at one point.

    Parameters
    ----------
    pair1, pair2 : tuple
        ``(anode, cathode)`` names or positions in m.
    currents_A : tuple of float
        Current amplitude of each pair in A.
    target_xyz_m : array_like, shape (3,)
        Target in m.
    model : SphereModel, optional
        Head model.
    cap : str
        Cap for names.

    Returns
    -------
    float
        Envelope amplitude in V/m.
    """
    res = ti_field(pair1, pair2, currents_A, np.reshape(target_xyz_m, (1, 3)), model=model, cap=cap)
    return float(res.magnitude[0])
