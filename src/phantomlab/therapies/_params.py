"""Provenance records of the free parameters of every therapy.

Each parameter is a :class:`phantomlab._params.Param` (the one provenance record of
PhantomLab): its value, unit, prior range (the interval a calibration may explore) and
where the value comes from:

* ``"source"``: read in a publication (``source`` names it; the research note
  in ``shared/research`` where it is quoted is given in brackets);
* ``"calibrated"``: set by PhantomLab to reproduce a named target (``source``
  names the target data, ``note`` how);
* ``"assumed"``: not read anywhere; ``note`` gives the reason.

The therapy model card (:func:`model_card`) is generated from
:data:`REGISTRY`, never written by hand.
"""

from __future__ import annotations

from phantomlab._params import KINDS, Kind, Param, make_param

__all__ = ["KINDS", "REGISTRY", "model_card", "prior_range", "tparam"]

#: Every registered therapy parameter, keyed by ``"module.name"``.
REGISTRY: dict[str, Param] = {}


def tparam(
    module: str,
    name: str,
    value: float,
    unit: str,
    prior: tuple[float, float],
    kind: Kind,
    source: str = "",
    note: str = "",
) -> Param:
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
    Param
        The record (:func:`phantomlab._params.make_param`, also stored in
        :data:`REGISTRY`).

    Raises
    ------
    ValueError
        If the record is malformed (a programming error, not user input).
    """
    rec = make_param(module, name, value, unit, kind, source, note, prior)
    REGISTRY[rec.key] = rec
    return rec


def prior_range(rec: Param) -> tuple[float, float]:
    """Return the prior range of a therapy parameter (its value alone if it has none).

    Parameters
    ----------
    rec : Param
        A parameter record.

    Returns
    -------
    tuple of float
        ``(low, high)``.
    """
    return rec.prior if rec.prior is not None else (rec.value, rec.value)


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
        lo, hi = prior_range(p)
        rows.append(f"| `{p.key}` | {p.value:g} | {p.unit} | {lo:g}–{hi:g} | {p.kind} | {why} |")
    return "\n".join(rows)
