"""Provenance records for every parameter of the virtual patient.

Each model constant is a :class:`Param`: value, unit, and where the value
comes from. ``kind`` is one of

* ``"source"``: read in a publication (``source`` names it and, where known,
  where in ``shared/research/mechanisms.md`` it is quoted);
* ``"calibrated"``: fitted by PhantomLab to a named target (``source`` names
  the target data, ``note`` the procedure);
* ``"assumed"``: not read anywhere; ``note`` gives the reason for the value.

Modules register their records with :func:`param`, or, where they are a table,
keep them in ``mechanisms/data/<module>_params.csv`` and register them with
:func:`load_params`; the model card
(:mod:`phantomlab.mechanisms.model_card`) is generated from :data:`REGISTRY`,
never written by hand.
"""

from __future__ import annotations

from importlib import resources

from phantomlab._params import KINDS, Kind, Param, make_param, read_params

__all__ = ["KINDS", "REGISTRY", "Param", "load_params", "param", "value"]


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


def load_params(module: str, filename: str) -> dict[str, float]:
    """Register every parameter of a table in ``mechanisms/data`` and return the values.

    Parameters
    ----------
    module : str
        Module of the records (``"patient"``).
    filename : str
        CSV file in ``phantomlab/mechanisms/data`` (columns of
        :data:`phantomlab._params.PARAM_COLUMNS`).

    Returns
    -------
    dict of str to float
        Value by parameter name, in file order.

    Raises
    ------
    ValueError
        If a record is malformed or already registered (programming error).
    """
    recs = read_params(resources.files("phantomlab.mechanisms") / "data" / filename, module)
    out: dict[str, float] = {}
    for rec in recs:
        if rec.key in REGISTRY:
            raise ValueError(f"{rec.key}: registered twice")
        REGISTRY[rec.key] = rec
        out[rec.name] = rec.value
    return out


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
