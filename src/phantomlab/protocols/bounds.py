"""Bounds of each stated parameter of a modality, for search and design.

The unconditional published limits (:mod:`phantomlab.protocols.safety`) and the range
used in published PLP studies, per field of a modality's protocol class.
"""

from __future__ import annotations

from dataclasses import dataclass

from phantomlab.protocols.registry import model_for
from phantomlab.protocols.rules import QUANTITIES
from phantomlab.protocols.safety import safety_rules

__all__ = ["ParameterBound", "parameter_bounds"]


@dataclass(frozen=True)
class ParameterBound:
    """Bounds of one stated parameter of a modality, for search and design.

    Attributes
    ----------
    field : str
        Field name in the protocol (e.g. ``"current"``).
    quantity : str
        SI-suffixed quantity (e.g. ``"current_A"``).
    safe_low, safe_high : float or None
        Unconditional published limits (SI); ``None`` if none was read.
    safe_source : str
        Citations of the published limits.
    plp_low, plp_high : float or None
        Range used in published PLP studies (SI).
    """

    field: str
    quantity: str
    safe_low: float | None
    safe_high: float | None
    safe_source: str
    plp_low: float | None
    plp_high: float | None


def parameter_bounds(modality: str) -> dict[str, ParameterBound]:
    """Return, per stated parameter of a modality, the published and PLP-study bounds.

    Only rules without conditions on directly stated fields are used (derived
    quantities such as Shannon k or charge per session, and conditional rules such as
    Chen 1997, must still be checked with :func:`check_protocol`).

    Parameters
    ----------
    modality : str
        A modality key, e.g. ``"tdcs"``.

    Returns
    -------
    dict of str to ParameterBound
        Keyed by field name; e.g. ``parameter_bounds("tdcs")["current"].safe_high``
        is 0.004 (A, Bikson et al. 2016).
    """
    cls = model_for(modality)
    fields = cls.model_fields
    out: dict[str, ParameterBound] = {}
    for quantity, (fname, _, _) in {**QUANTITIES, **cls.quantity_units}.items():
        base = fname.split(".")[-1]
        if fname in out:
            continue  # e.g. intensity: its bounds in %MT come first
        if "(derived)" in fname or (base not in fields and fname != "schedule.sessions"):
            continue
        safe_lo = safe_hi = plp_lo = plp_hi = None
        sources: list[str] = []
        for rule in safety_rules():
            concerns = modality in rule.modalities or "*" in rule.modalities
            if not concerns or rule.quantity != quantity or rule.when:
                continue
            upper = rule.comparison in ("<", "<=")
            if rule.severity == "error":
                sources.append(rule.citation)
                if upper:
                    safe_hi = rule.limit if safe_hi is None else min(safe_hi, rule.limit)
                else:
                    safe_lo = rule.limit if safe_lo is None else max(safe_lo, rule.limit)
            elif upper:
                plp_hi = rule.limit
            else:
                plp_lo = rule.limit
        if any(v is not None for v in (safe_lo, safe_hi, plp_lo, plp_hi)):
            out[fname] = ParameterBound(
                fname, quantity, safe_lo, safe_hi, "; ".join(sources), plp_lo, plp_hi
            )
    return out
