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

from phantomlab._params import KINDS, Kind, Param, make_param

__all__ = ["KINDS", "REGISTRY", "Param", "param", "value"]


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
    rec = make_param(module, name, value, unit, kind, source, note)
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
