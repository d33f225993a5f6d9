"""Provenance records for every parameter of the virtual patient.

Each model constant is a :class:`Param`: value, unit, and where the value
comes from. ``kind`` is one of

* ``"source"``: read in a publication (``source`` names it and, where known,
  where in ``shared/research/mechanisms.md`` it is quoted);
* ``"calibrated"``: fitted by PhantomLab to a named target (``source`` names
  the target data, ``note`` the procedure);
* ``"assumed"``: not read anywhere; ``note`` gives the reason for the value.

Modules register their records with :func:`param`; the model card
(:mod:`phantomlab.mechanisms.model_card`) is generated from :data:`REGISTRY`,
never written by hand.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

__all__ = ["KINDS", "REGISTRY", "Param", "param", "value"]

#: Allowed provenance kinds.
KINDS: tuple[str, ...] = ("source", "calibrated", "assumed")

Kind = Literal["source", "calibrated", "assumed"]


@dataclass(frozen=True)
class Param:
    """One model parameter with its provenance.

    Parameters
    ----------
    module : str
        Short name of the model level (``"peripheral"``, ``"spinal"``, ...).
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
    """

    module: str
    name: str
    value: float
    unit: str
    kind: Kind
    source: str
    note: str = ""

    @property
    def key(self) -> str:
        """Return ``"module.name"``."""
        return f"{self.module}.{self.name}"


#: Every registered parameter, keyed by ``"module.name"``.
REGISTRY: dict[str, Param] = {}


def param(
    module: str,
    name: str,
    value: float,
    unit: str,
    kind: Kind,
    source: str = "",
    note: str = "",
) -> float:
    """Register a parameter record and return its value.

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
        Citation or calibration target.
    note : str
        Reason or location.

    Returns
    -------
    float
        ``value``, so that module constants read ``X = param(...)``.

    Raises
    ------
    ValueError
        If the record is malformed (programming error, not user input).
    """
    if kind not in KINDS:
        raise ValueError(f"provenance kind must be one of {KINDS}, got {kind!r}")
    if kind in ("source", "calibrated") and not source:
        raise ValueError(f"{module}.{name}: a {kind} parameter needs a source")
    if kind == "assumed" and not note:
        raise ValueError(f"{module}.{name}: an assumed parameter needs a reason")
    rec = Param(module, name, float(value), unit, kind, source, note)
    REGISTRY[rec.key] = rec
    return float(value)


def value(key: str) -> float:
    """Return the value of a registered parameter ``"module.name"``.

    Parameters
    ----------
    key : str
        Registry key.

    Returns
    -------
    float
        The value.
    """
    return REGISTRY[key].value
