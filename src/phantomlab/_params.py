"""One provenance record type for every model parameter in PhantomLab.

Each model constant is a :class:`Param`: its value, unit and where the value comes
from. ``kind`` is one of

* ``"source"``: read in a publication (``source`` names it; ``note`` says where);
* ``"calibrated"``: fitted by PhantomLab to named data (``source`` names the target
  data, ``note`` the procedure);
* ``"assumed"``: not read anywhere; ``note`` gives the reason for the value.

A parameter that a calibration may move carries its ``prior`` range. Subpackages keep
their own registries (``dict[str, Param]``) so that each model card lists its own level,
but every registry holds this one type, built and checked by :func:`make_param`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

__all__ = ["KINDS", "Kind", "Param", "make_param", "registry_values"]

#: Allowed provenance kinds.
KINDS: tuple[str, ...] = ("source", "calibrated", "assumed")

Kind = Literal["source", "calibrated", "assumed"]


@dataclass(frozen=True)
class Param:
    """One model parameter with its provenance.

    Parameters
    ----------
    module : str
        Short name of the model part (``"peripheral"``, ``"rtms"``, ``"bci"``, ...).
    name : str
        Parameter name, unique within its module.
    value : float
        Numeric value in ``unit`` (SI unless the unit says otherwise).
    unit : str
        Unit of ``value`` (``"1"`` for dimensionless).
    kind : {"source", "calibrated", "assumed"}
        Provenance kind.
    source : str
        Citation (DOI/PMID), calibration target, or ``""`` for assumed values.
    note : str
        Reason (assumed), procedure (calibrated) or location (source).
    prior : tuple of float or None
        ``(low, high)`` range a calibration may search, or ``None`` for a fixed value.
    """

    module: str
    name: str
    value: float
    unit: str
    kind: Kind
    source: str
    note: str = ""
    prior: tuple[float, float] | None = None

    @property
    def key(self) -> str:
        """Return ``"module.name"``."""
        return f"{self.module}.{self.name}"


def make_param(
    module: str,
    name: str,
    value: float,
    unit: str,
    kind: str,
    source: str = "",
    note: str = "",
    prior: tuple[float, float] | None = None,
) -> Param:
    """Build a checked :class:`Param` (a malformed record is a programming error).

    Parameters
    ----------
    module, name : str
        Where the parameter lives.
    value : float
        Its value.
    unit : str
        Its unit.
    kind : {"source", "calibrated", "assumed"}
        Provenance kind.
    source : str
        Citation or calibration target (required for ``source`` and ``calibrated``).
    note : str
        Reason (required for ``assumed``) or location.
    prior : tuple of float, optional
        ``(low, high)`` calibration range; must contain ``value``.

    Returns
    -------
    Param
        The record.

    Raises
    ------
    ValueError
        If the kind is unknown, a source or reason is missing, or the value lies
        outside its prior.
    """
    if kind not in KINDS:
        raise ValueError(f"{module}.{name}: provenance kind must be one of {KINDS}, got {kind!r}")
    if kind in ("source", "calibrated") and not source:
        raise ValueError(f"{module}.{name}: a {kind} parameter needs a source")
    if kind == "assumed" and not note:
        raise ValueError(f"{module}.{name}: an assumed parameter needs a reason")
    rng: tuple[float, float] | None = None
    if prior is not None:
        rng = (float(prior[0]), float(prior[1]))
        if not rng[0] <= float(value) <= rng[1]:
            raise ValueError(f"{module}.{name}: value {value} outside its prior {rng}")
    return Param(module, name, float(value), unit, kind, source, note, rng)  # type: ignore[arg-type]


def registry_values(*registries: Mapping[str, Any]) -> dict[str, float]:
    """Every parameter value of ``registries``, keyed ``"module.name"`` (for fingerprints).

    Parameters
    ----------
    *registries : mapping of str to Param
        Registries to read (records with ``key`` and ``value``).

    Returns
    -------
    dict of str to float
        Sorted by key.
    """
    out: dict[str, float] = {}
    for reg in registries:
        for p in reg.values():
            out[p.key] = p.value
    return dict(sorted(out.items()))
