"""Device profiles: the values a stimulator can actually be programmed to.

A clinician programs a device, not a continuum: amplitude, pulse width and
frequency move in fixed steps and only some contact sets exist. A
:class:`DeviceProfile` states that grid for one device family (a packaged YAML file
under ``optimize/devices/``, or a user's file of the same form); every value carries
its source, a manufacturer manual where one was read, else ``assumed: <reason>``.

:func:`apply_device` puts the grid into a :class:`~phantomlab.optimize.space.ParameterSpace`
(:attr:`Real.grid <phantomlab.optimize.space.Real.grid>`), so every candidate an
optimizer draws is a programmable setting and the policy's safety checks (protocol
rules, side-effect bound) are made at that setting. :func:`snap_inward` is the
safeguard for a point that is still off the grid (a plug-in policy that builds its
own points): it moves to the nearest grid neighbours that pass the safety check,
preferring those no stronger than the suggestion (lower amplitude and pulse width).
"""

from __future__ import annotations

import functools
import itertools
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np

from phantomlab._units import convert
from phantomlab.exceptions import InputError, Problem
from phantomlab.optimize.space import Categorical, ParameterSpace, Real

__all__ = [
    "DEFAULT_DEVICES",
    "DeviceProfile",
    "ParameterGrid",
    "apply_device",
    "device_names",
    "load_device",
    "snap_inward",
]

#: Device profile used when a session names none, per modality.
DEFAULT_DEVICES = {"scs": "scs-generic", "drg": "axium-drg"}

_MAX_VALUES = 100_000


@dataclass(frozen=True)
class ParameterGrid:
    """The programmable values of one continuous parameter.

    Parameters
    ----------
    name : str
        Parameter name (``"amplitude"``).
    unit : str
        Unit the steps are written in (``"mA"``, ``"us"``, ``"Hz"``).
    values : tuple of float
        Programmable values in that unit, ascending.
    safer : str
        ``"lower"`` when lower values are the cautious direction (amplitude, pulse
        width: less charge), else ``""``.
    source : str
        Manual and page the steps were read in, or ``assumed: <reason>``.
    """

    name: str
    unit: str
    values: tuple[float, ...]
    safer: str = ""
    source: str = ""

    def si(self, si_unit: str) -> np.ndarray:
        """Return the values converted to ``si_unit`` (e.g. ``"A"``)."""
        factor = convert(1.0, self.unit, si_unit)
        # 12 significant digits: 200 us is 0.0002 s, not 0.00019999999999999998
        return np.array([float(f"{v * factor:.12g}") for v in self.values])


@dataclass(frozen=True)
class DeviceProfile:
    """The programmable grid of one device family.

    Parameters
    ----------
    name : str
        Profile key (``"scs-generic"``).
    label : str
        Human-readable name.
    modality : str
        Protocol modality the device delivers.
    grids : dict of ParameterGrid
        Per continuous parameter.
    electrodes : int or None
        Contacts per lead.
    contact_sets : tuple of str
        Programmable contact sets (empty: the space's choices are kept).
    sources : dict
        Source of the contact statement and any other field.
    """

    name: str
    label: str
    modality: str
    grids: Mapping[str, ParameterGrid]
    electrodes: int | None = None
    contact_sets: tuple[str, ...] = ()
    sources: Mapping[str, str] = field(default_factory=dict)

    def describe(self) -> list[dict[str, Any]]:
        """One row per parameter: name, unit, number of values, first/last value, source."""
        rows: list[dict[str, Any]] = [
            {
                "name": g.name,
                "unit": g.unit,
                "n_values": len(g.values),
                "low": g.values[0],
                "high": g.values[-1],
                "source": g.source,
            }
            for g in self.grids.values()
        ]
        rows.append(
            {
                "name": "contacts",
                "electrodes": self.electrodes,
                "sets": list(self.contact_sets),
                "source": self.sources.get("contacts", ""),
            }
        )
        return rows


def device_names() -> list[str]:
    """Names of the packaged device profiles."""
    return list(_packaged_names())


@functools.lru_cache(maxsize=1)
def _packaged_names() -> tuple[str, ...]:
    folder = resources.files("phantomlab.optimize") / "devices"
    return tuple(sorted(p.name[:-5] for p in folder.iterdir() if p.name.endswith(".yaml")))


def _bad(field_: str, value: Any, limit: str, message: str) -> InputError:
    return InputError(Problem(field_, value, limit, "", message))


def _grid_values(name: str, spec: Mapping[str, Any]) -> tuple[float, ...]:
    if "values" in spec:
        vals = [float(v) for v in spec["values"]]
    else:
        vals = []
        for r in spec.get("ranges") or []:
            lo, hi, step = float(r["low"]), float(r["high"]), float(r["step"])
            if not (np.isfinite([lo, hi, step]).all() and step > 0 and hi >= lo):
                raise _bad(f"{name}.ranges", r, "low <= high, step > 0", "bad range")
            n = int(np.floor((hi - lo) / step + 1e-9)) + 1
            if n > _MAX_VALUES:
                raise _bad(f"{name}.ranges", r, f"<= {_MAX_VALUES} values", "too many steps")
            vals += [round(lo + k * step, 9) for k in range(n)]
    out = tuple(sorted(set(vals)))
    if not out:
        raise _bad(name, spec, "values or ranges", "empty grid")
    return out


def load_device(name: str | Path) -> DeviceProfile:
    """Load a device profile by packaged name or from a YAML file.

    Parameters
    ----------
    name : str or Path
        A packaged profile (:func:`device_names`) or the path of a YAML file of the
        same form.

    Returns
    -------
    DeviceProfile
        The profile.

    Raises
    ------
    InputError
        For an unknown name or a malformed file.
    """
    from phantomlab._yaml import load_file

    key = str(name).strip()
    if key in device_names():
        return _packaged(key)
    if key.endswith((".yaml", ".yml", ".json")) and Path(key).is_file():
        return _profile(key, load_file(key, field="device"))
    raise _bad("device", key, "one of: " + ", ".join(device_names()) + ", or a YAML file",
               "unknown device profile")  # fmt: skip


@functools.lru_cache(maxsize=32)
def _packaged(key: str) -> DeviceProfile:
    """Return a packaged profile, parsed once per process (frozen, so safe to share)."""
    from phantomlab._yaml import load_text

    text = (resources.files("phantomlab.optimize") / "devices" / f"{key}.yaml").read_text()
    return _profile(key, load_text(text, field="device"))


def _profile(key: str, data: Any) -> DeviceProfile:
    """Build a profile from its parsed YAML (``InputError`` if malformed)."""
    if not isinstance(data, dict) or not isinstance(data.get("parameters"), dict):
        raise _bad("device", key, "a mapping with 'parameters'", "malformed device profile")
    try:
        grids = {
            str(k): ParameterGrid(
                str(k),
                str(v["unit"]),
                _grid_values(str(k), v),
                str(v.get("safer", "")),
                str(v.get("source", "")),
            )
            for k, v in data["parameters"].items()
        }
        contacts = data.get("contacts") or {}
        electrodes = contacts.get("electrodes")
        return DeviceProfile(
            name=str(data.get("name", key)),
            label=str(data.get("label", key)),
            modality=str(data.get("modality", "")),
            grids=grids,
            electrodes=None if electrodes is None else int(electrodes),
            contact_sets=tuple(str(c) for c in contacts.get("sets") or ()),
            sources={"contacts": str(contacts.get("source", ""))},
        )
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise _bad("device", key, "the device profile form (see docs/optimize.md)",
                   f"malformed device profile ({exc})") from None  # fmt: skip


def apply_device(space: ParameterSpace, device: DeviceProfile) -> ParameterSpace:
    """Return ``space`` restricted to the device's programmable grid.

    Continuous parameters get the grid values inside their bounds; the contact
    choices are restricted to the device's contact sets (when it lists any).

    Parameters
    ----------
    space : ParameterSpace
        The patient's space (bounds applied).
    device : DeviceProfile
        The device profile.

    Returns
    -------
    ParameterSpace
        The space on the grid.

    Raises
    ------
    InputError
        When the device is for another modality, or a parameter has no grid value
        inside its bounds.
    """
    problems: list[Problem] = []
    if device.modality and device.modality != space.modality:
        raise _bad("device", device.name, f"a {space.modality} device",
                   f"profile is for {device.modality}")  # fmt: skip
    params: list[Any] = []
    for p in space.parameters:
        if isinstance(p, Real) and p.name in device.grids:
            g = device.grids[p.name].si(p.unit)
            inside = g[(g >= p.low * (1 - 1e-12)) & (g <= p.high * (1 + 1e-12))]
            if inside.size == 0:
                problems.append(Problem(p.name, f"{p.low:g} to {p.high:g} {p.unit}",
                                        f"a range holding a value of {device.name}", "",
                                        "no programmable value inside the bounds"))  # fmt: skip
                params.append(p)
                continue
            lo, hi = min(p.low, float(inside[0])), max(p.high, float(inside[-1]))
            params.append(replace(p, low=lo, high=hi, grid=tuple(float(x) for x in inside)))
        elif isinstance(p, Categorical) and p.name == "contacts" and device.contact_sets:
            keep = [i for i, c in enumerate(p.choices) if c in device.contact_sets]
            if not keep:
                problems.append(
                    Problem(p.name, list(p.choices), ", ".join(device.contact_sets), "",
                            "no contact set of the device in the space")
                )  # fmt: skip
                params.append(p)
                continue
            pos = None if p.positions is None else tuple(p.positions[i] for i in keep)
            params.append(replace(p, choices=tuple(p.choices[i] for i in keep), positions=pos))
        else:
            params.append(p)
    if problems:
        raise InputError(problems)
    sources = dict(space.sources)
    for name, pg in device.grids.items():
        sources[f"{name}.grid"] = f"{device.name}: {pg.source}"
    return replace(space, parameters=tuple(params), sources=sources)


def snap_inward(
    space: ParameterSpace,
    point: Mapping[str, Any],
    ok: Callable[[dict[str, Any]], bool],
    *,
    safer_lower: tuple[str, ...] = ("amplitude", "pulse_width"),
    believed_safe: Callable[[dict[str, Any]], bool] | None = None,
) -> dict[str, Any] | None:
    """Move an off-grid point to a programmable one that is still safe.

    Candidates are the grid neighbours of every continuous value (below and above).
    A candidate no stronger than ``point`` on the ``safer_lower`` parameters
    (*inward*) needs only ``ok`` (the protocol safety check); one that is stronger
    also needs ``believed_safe`` (the policy's side-effect bound). The nearest
    accepted candidate (on each parameter's own scale) is returned.

    Parameters
    ----------
    space : ParameterSpace
        Space with grids.
    point : mapping
        The point to snap (SI values, choices).
    ok : callable
        ``point -> bool``: passes the protocol safety check.
    safer_lower : tuple of str
        Parameters for which a lower value is the cautious direction.
    believed_safe : callable or None
        ``point -> bool`` for candidates above the suggestion; ``None`` refuses them.

    Returns
    -------
    dict or None
        The snapped point, or ``None`` when no neighbour is acceptable.
    """
    reals = [p for p in space.parameters if isinstance(p, Real)]
    options = [p.neighbours(float(point[p.name])) for p in reals]
    scored: list[tuple[int, float, dict[str, Any]]] = []
    for combo in itertools.product(*options):
        cand = dict(point)
        dist = 0.0
        stronger = False
        for p, v in zip(reals, combo, strict=True):
            cand[p.name] = v
            u = p.encode(np.array([v]))[0, 0] - p.encode(np.array([float(point[p.name])]))[0, 0]
            dist += float(u) ** 2
            stronger |= p.name in safer_lower and v > float(point[p.name]) * (1 + 1e-12)
        scored.append((int(stronger), dist, cand))
    for is_stronger, _, cand in sorted(scored, key=lambda t: (t[1], t[0])):
        if not ok(cand):
            continue
        if is_stronger and (believed_safe is None or not believed_safe(cand)):
            continue
        return cand
    return None
