"""Provenance records of the free parameters of every therapy.

Each parameter is a :class:`TherapyParam`: its value, unit, prior range (the
interval a calibration may explore) and where the value comes from:

* ``"source"``: read in a publication (``source`` names it; the research note
  in ``shared/research`` where it is quoted is given in brackets);
* ``"calibrated"``: set by PhantomLab to reproduce a named target (``source``
  names the target data, ``note`` how);
* ``"assumed"``: not read anywhere; ``note`` gives the reason.

The therapy model card (:func:`model_card`) is generated from
:data:`REGISTRY`, never written by hand.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

__all__ = ["KINDS", "REGISTRY", "TherapyParam", "model_card", "tparam"]

#: Allowed provenance kinds.
KINDS: tuple[str, ...] = ("source", "calibrated", "assumed")

Kind = Literal["source", "calibrated", "assumed"]


@dataclass(frozen=True)
class TherapyParam:
    """One free parameter of a therapy model, with its prior range and provenance.

    Parameters
    ----------
    module : str
        Therapy module (``"scs"``, ``"rtms"``, ...).
    name : str
        Parameter name, unique within its module.
    value : float
        Default value in ``unit``.
    unit : str
        Unit of ``value`` (``"1"`` for dimensionless).
    prior : tuple of float
        ``(low, high)`` range a calibration may explore; contains ``value``.
    kind : {"source", "calibrated", "assumed"}
        Provenance kind.
    source : str
        Citation or calibration target (empty for assumed values).
    note : str
        Reason (assumed), procedure (calibrated) or location (source).
    """

    module: str
    name: str
    value: float
    unit: str
    prior: tuple[float, float]
    kind: Kind
    source: str
    note: str = ""

    @property
    def key(self) -> str:
        """Return ``"module.name"``."""
        return f"{self.module}.{self.name}"


#: Every registered therapy parameter, keyed by ``"module.name"``.
REGISTRY: dict[str, TherapyParam] = {}


def tparam(
    module: str,
    name: str,
    value: float,
    unit: str,
    prior: tuple[float, float],
    kind: Kind,
    source: str = "",
    note: str = "",
) -> TherapyParam:
    """Register a therapy parameter and return its record.

    Parameters
    ----------
    module, name : str
        Where the parameter lives.
    value : float
        Default value.
    unit : str
        Unit.
    prior : tuple of float
        ``(low, high)`` prior range; must contain ``value``.
    kind : {"source", "calibrated", "assumed"}
        Provenance kind.
    source : str
        Citation or calibration target.
    note : str
        Reason or location.

    Returns
    -------
    TherapyParam
        The record (also stored in :data:`REGISTRY`).

    Raises
    ------
    ValueError
        If the record is malformed (a programming error, not user input).
    """
    if kind not in KINDS:
        raise ValueError(f"provenance kind must be one of {KINDS}, got {kind!r}")
    if kind in ("source", "calibrated") and not source:
        raise ValueError(f"{module}.{name}: a {kind} parameter needs a source")
    if kind == "assumed" and not note:
        raise ValueError(f"{module}.{name}: an assumed parameter needs a reason")
    lo, hi = float(prior[0]), float(prior[1])
    if not lo <= float(value) <= hi:
        raise ValueError(f"{module}.{name}: value {value} outside its prior {prior}")
    rec = TherapyParam(module, name, float(value), unit, (lo, hi), kind, source, note)
    REGISTRY[rec.key] = rec
    return rec


def model_card(module: str | None = None) -> str:
    """Markdown table of the therapy parameters (generated, never hand-written).

    Parameters
    ----------
    module : str, optional
        Restrict to one therapy module.

    Returns
    -------
    str
        A Markdown table: parameter, value, unit, prior, kind, source / reason.
    """
    rows = [
        "| parameter | value | unit | prior | kind | source / reason |",
        "|---|---|---|---|---|---|",
    ]
    for key in sorted(REGISTRY):
        p = REGISTRY[key]
        if module is not None and p.module != module:
            continue
        why = "; ".join(s for s in (p.source, p.note) if s).replace("|", "/")
        rows.append(
            f"| `{p.key}` | {p.value:g} | {p.unit} | {p.prior[0]:g}–{p.prior[1]:g} "
            f"| {p.kind} | {why} |"
        )
    return "\n".join(rows)
