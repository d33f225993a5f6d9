"""Electrode caps from MNE's bundled montages and named stimulation targets.

Positions come from the montage files shipped inside the MNE wheel, copied once
into ``data/montages.csv`` by ``tools/make_electrode_data.py`` (exact floats), so
MNE is not needed. The default caps are MNE's ``spherical_1020`` / ``spherical_1010`` /
``spherical_1005`` montages: ideal 10-20-system positions on a sphere centred at
the origin (x right, y anterior, z up; MNE's montage README says they come from
the ``eeg_positions`` package). Projecting them onto the scalp sphere is then a
pure radial scaling. The realistic-head ``colin27_10xx`` and ``fsaverage_1010``
montages can be used too; they are centred on the least-squares sphere fitted
to their positions and then projected radially. The deprecated names
``standard_1020`` / ``standard_1005`` (removed in MNE 1.14) are not used.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources

import numpy as np
from numpy.typing import NDArray

from phantomlab.exceptions import InputError, Problem
from phantomlab.fields.sphere import SphereModel

__all__ = [
    "CAPS",
    "TARGETS",
    "Cap",
    "Target",
    "get_cap",
    "get_target",
    "parse_target",
]

#: Cap name -> MNE montage name (non-deprecated names only).
CAPS: dict[str, str] = {
    "10-20": "spherical_1020",
    "10-10": "spherical_1010",
    "10-05": "spherical_1005",
}
_MONTAGES = {
    "spherical_1020",
    "spherical_1010",
    "spherical_1005",
    "colin27_1020",
    "colin27_1005",
    "fsaverage_1010",
}


@dataclass(frozen=True)
class Cap:
    """Electrode names and positions projected onto a sphere.

    Parameters
    ----------
    name : str
        Cap label (e.g. ``"10-10"``).
    montage : str
        MNE montage it was read from.
    names : tuple of str
        Electrode names.
    positions : ndarray, shape (E, 3)
        Positions in m on the scalp sphere.
    """

    name: str
    montage: str
    names: tuple[str, ...]
    positions: NDArray[np.float64]

    def index(self, name: str) -> int:
        """Return the row of an electrode (case-insensitive).

        Parameters
        ----------
        name : str
            Electrode name, e.g. ``"C3"``.

        Returns
        -------
        int
            Row in :attr:`positions`.

        Raises
        ------
        InputError
            If the cap has no electrode of that name.
        """
        lookup = {n.lower(): i for i, n in enumerate(self.names)}
        i = lookup.get(str(name).strip().lower())
        if i is None:
            shown = ", ".join(self.names[:30]) + (" ..." if len(self.names) > 30 else "")
            raise InputError(
                Problem("electrode", name, f"one of: {shown}", f"MNE {self.montage}", "unknown")
            )
        return i

    def position(self, name: str) -> NDArray[np.float64]:
        """Position (m) of one electrode by name."""
        return np.asarray(self.positions[self.index(name)], dtype=float)

    def __len__(self) -> int:
        return len(self.names)


def _fit_sphere(p: NDArray[np.float64]) -> NDArray[np.float64]:
    """Least-squares sphere centre (algebraic fit |x|^2 = 2 c.x + k)."""
    a = np.column_stack([2 * p, np.ones(len(p))])
    sol = np.linalg.lstsq(a, np.sum(p * p, axis=1), rcond=None)[0]
    return np.asarray(sol[:3])


@lru_cache(maxsize=1)
def _montage_table() -> dict[str, list[tuple[str, tuple[float, float, float]]]]:
    """Channel names and positions (m) of every montage in ``data/montages.csv``."""
    text = resources.files("phantomlab.fields").joinpath("data/montages.csv")
    table: dict[str, list[tuple[str, tuple[float, float, float]]]] = {}
    for row in csv.DictReader(text.read_text(encoding="utf-8").splitlines()):
        xyz = (float(row["x"]), float(row["y"]), float(row["z"]))
        table.setdefault(row["montage"], []).append((row["name"], xyz))
    return table


@lru_cache(maxsize=16)
def _montage_positions(montage: str) -> tuple[tuple[str, ...], NDArray[np.float64]]:
    rows = _montage_table()[montage]
    names = tuple(n for n, _ in rows)
    pos = np.array([p for _, p in rows], dtype=float)
    keep = np.all(np.isfinite(pos), axis=1)
    return tuple(n for n, k in zip(names, keep, strict=True) if k), pos[keep]


def get_cap(name: str = "10-10", model: SphereModel | None = None) -> Cap:
    """Electrode cap projected onto the scalp of a sphere model.

    Parameters
    ----------
    name : str
        ``"10-20"``, ``"10-10"``, ``"10-05"`` or an MNE montage name
        (``spherical_10xx``, ``colin27_1020``, ``colin27_1005``, ``fsaverage_1010``).
    model : SphereModel, optional
        Head model whose outer radius is used; default: a unit-free 90 mm sphere
        (:func:`~phantomlab.fields.sphere.default_model`).

    Returns
    -------
    Cap
        Names and positions (m) on the scalp sphere.

    Raises
    ------
    InputError
        For an unknown cap name.
    """
    from phantomlab.fields.sphere import default_model

    montage = CAPS.get(name, name)
    if montage not in _MONTAGES:
        raise InputError(
            Problem("cap", name, f"one of: {', '.join([*CAPS, *sorted(_MONTAGES)])}", "", "unknown")
        )
    names, pos = _montage_positions(montage)
    if not montage.startswith("spherical"):
        pos = pos - _fit_sphere(pos)
    radius = (model or default_model()).outer_radius
    proj = pos / np.linalg.norm(pos, axis=1, keepdims=True) * radius
    proj.setflags(write=False)
    return Cap(name=name, montage=montage, names=names, positions=proj)


@dataclass(frozen=True)
class Target:
    """A named stimulation target in sphere coordinates (approximate).

    Parameters
    ----------
    name : str
        Identifier.
    position : tuple of float
        Position in m (x right, y anterior, z up; origin at the sphere centre).
    direction : tuple of float
        Unit vector of the field component of interest (e.g. the inward
        cortical normal for an anode-over-target montage).
    note : str
        How the position was chosen.
    """

    name: str
    position: tuple[float, float, float]
    direction: tuple[float, float, float]
    note: str


def _under(name: str, depth_m: float, cap_montage: str = "spherical_1010") -> Target:
    names, pos = _montage_positions(cap_montage)
    u = pos[[n.lower() for n in names].index(name.lower())]
    u = u / np.linalg.norm(u)
    from phantomlab.fields.sphere import default_model

    r = default_model().radii[0] - depth_m  # below the brain surface of the default model
    p = tuple(float(v) for v in u * r)
    return Target(
        name="",
        position=(p[0], p[1], p[2]),
        direction=(float(-u[0]), float(-u[1]), float(-u[2])),
        note=f"{depth_m * 1e3:.0f} mm below the brain surface under {name} (approximate)",
    )


def _targets() -> dict[str, Target]:
    out: dict[str, Target] = {}
    for side, el in (("left", "C3"), ("right", "C4")):
        t = _under(el, 0.005)
        out[f"m1_hand_{side}"] = Target(
            f"m1_hand_{side}",
            t.position,
            t.direction,
            "M1 hand knob, approximated as 5 mm below the brain surface under "
            f"{el} (10-20 convention: C3/C4 overlie the hand area; approximate)",
        )
        t = _under("CP3" if side == "left" else "CP4", 0.005)
        out[f"s1_hand_{side}"] = Target(
            f"s1_hand_{side}",
            t.position,
            t.direction,
            f"S1 hand area, approximated under {'CP3' if side == 'left' else 'CP4'} "
            "(posterior to C3/C4; approximate)",
        )
    for side, sx in (("left", -1.0), ("right", 1.0)):
        out[f"thalamus_{side}"] = Target(
            f"thalamus_{side}",
            (sx * 0.012, -0.010, 0.010),
            (0.0, 0.0, 1.0),
            "thalamus-like deep point 12 mm lateral, 10 mm posterior, 10 mm above the sphere "
            "centre (assumed; a sphere has no anatomy)",
        )
        out[f"insula_{side}"] = Target(
            f"insula_{side}",
            (sx * 0.038, 0.005, 0.005),
            (sx * 1.0, 0.0, 0.0),
            "insula-like point 38 mm lateral, 5 mm anterior, 5 mm above the centre "
            "(assumed; a sphere has no anatomy)",
        )
    return out


#: Named PLP targets in sphere coordinates (approximate; see each ``note``).
TARGETS: dict[str, Target] = {}


def get_target(name: str) -> Target:
    """Return a named target (``m1_hand_left``, ``thalamus_right``, ...).

    Parameters
    ----------
    name : str
        Target name (case-insensitive).

    Returns
    -------
    Target
        The target.

    Raises
    ------
    InputError
        For an unknown name.
    """
    if not TARGETS:
        TARGETS.update(_targets())
    t = TARGETS.get(str(name).strip().lower())
    if t is None:
        raise InputError(
            Problem("target", name, f"one of: {', '.join(TARGETS)} or 'x,y,z' in mm", "", "unknown")
        )
    return t


def parse_target(text: str) -> Target:
    """Parse a target name or ``"x,y,z"`` in mm into a :class:`Target`.

    Parameters
    ----------
    text : str
        A name known to :func:`get_target` or three comma-separated numbers
        (mm, sphere centred at the origin, z up).

    Returns
    -------
    Target
        The target; for coordinates the direction is the inward radial unit
        vector (or +z at the centre).
    """
    parts = [s.strip() for s in str(text).split(",")]
    if len(parts) == 3:
        try:
            xyz = np.array([float(s) for s in parts]) * 1e-3
        except ValueError:
            return get_target(text)
        if not np.all(np.isfinite(xyz)):
            raise InputError(Problem("target", text, "finite x,y,z in mm", "", "not finite"))
        r = float(np.linalg.norm(xyz))
        d = -xyz / r if r > 0 else np.array([0.0, 0.0, 1.0])
        return Target(
            "custom",
            (float(xyz[0]), float(xyz[1]), float(xyz[2])),
            (float(d[0]), float(d[1]), float(d[2])),
            "user coordinates",
        )
    return get_target(text)
