"""Units at the boundary: one pint registry, SI floats inside.

Users write quantities as strings (``"2 mA"``, ``"35 cm^2"``, ``"400 us"``) or
pint quantities; :func:`as_si` converts them to a plain ``float`` in the SI unit
requested. A bare number for a dimensional parameter is rejected, so that "2"
can never silently mean 2 A.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

import pint

from phantomlab.exceptions import Problem, UnitError

#: The single pint registry of the package (pint recommends one per package).
ureg: Any = pint.UnitRegistry()
Q_: Any = ureg.Quantity

__all__ = ["Q_", "as_si", "format_si", "ureg"]


@lru_cache(maxsize=256)
def _unit(unit: str) -> Any:
    return ureg.parse_units(unit)


#: Longest text accepted as a quantity ("2 mA", "1.5e-3 A/us"); longer input is refused unparsed.
MAX_QUANTITY_CHARS = 100


def as_si(value: Any, unit: str, *, field: str = "value", allow_bare: bool = False) -> float:
    """Convert a user-written quantity to a float in the SI unit ``unit``.

    Parameters
    ----------
    value : str, pint.Quantity, int or float
        The quantity, e.g. ``"2 mA"``. A bare number is accepted only when
        ``allow_bare`` is true or ``unit`` is dimensionless; it is then taken
        to be in ``unit`` already.
    unit : str
        Target unit in pint syntax, e.g. ``"A"``, ``"m^2"``, ``"s"``, ``"Hz"``.
    field : str
        Name of the field, used in error messages.
    allow_bare : bool
        Accept a bare number as already expressed in ``unit``.

    Returns
    -------
    float
        The magnitude in ``unit``.

    Raises
    ------
    UnitError
        If the value cannot be parsed, has the wrong dimension, or is a bare
        number for a dimensional quantity.

    Examples
    --------
    >>> as_si("2 mA", "A")
    0.002
    >>> as_si("35 cm^2", "m^2")
    0.0035
    """
    target = _unit(unit)
    dimensionless = target.dimensionless
    if isinstance(value, bool):
        raise UnitError(Problem(field, value, f"a quantity in {unit}", "", "not a quantity"))
    if isinstance(value, int | float):
        if allow_bare or dimensionless:
            return float(value)
        raise UnitError(
            Problem(
                field,
                value,
                f"a quantity with a unit, e.g. '{value} {unit}'",
                "",
                "a bare number is ambiguous; write the unit",
            )
        )
    q: Any
    if isinstance(value, str):
        text = value.strip()
        if not text:
            raise UnitError(Problem(field, value, f"a quantity in {unit}", "", "empty quantity"))
        if len(text) > MAX_QUANTITY_CHARS:  # pint's parser slows to minutes on long text
            raise UnitError(
                Problem(
                    field,
                    value,
                    f"a quantity in {unit} of at most {MAX_QUANTITY_CHARS} characters",
                    "",
                    f"{len(text)} characters is too long for a quantity",
                )
            )
        try:
            q = ureg.Quantity(text)
        except Exception as exc:  # pint raises several unrelated types on bad text
            raise UnitError(
                Problem(field, value, f"a quantity in {unit}", "", f"cannot parse ({exc})")
            ) from None
    elif isinstance(value, pint.Quantity):
        q = value
    else:
        raise UnitError(
            Problem(
                field,
                value,
                f"a quantity in {unit}",
                "",
                f"expected a string such as '1 {unit}', got {type(value).__name__}",
            )
        )
    if not isinstance(q, pint.Quantity):  # plain number parsed from a string
        if allow_bare or dimensionless:
            return float(q)
        raise UnitError(
            Problem(
                field,
                value,
                f"a quantity with a unit, e.g. '{value} {unit}'",
                "",
                "a bare number is ambiguous; write the unit",
            )
        )
    try:
        mag = q.to(target).magnitude
    except pint.DimensionalityError:
        raise UnitError(
            Problem(
                field,
                value,
                f"a quantity convertible to {unit}",
                "",
                f"wrong dimension: {q.dimensionality} is not {target.dimensionality}",
            )
        ) from None
    try:
        return float(mag)
    except (TypeError, ValueError):
        raise UnitError(Problem(field, value, f"a scalar in {unit}", "", "not a scalar")) from None


def format_si(value: float, unit: str, display: str, digits: int = 4) -> str:
    """Format an SI float in a clinical display unit.

    Parameters
    ----------
    value : float
        Magnitude in ``unit``.
    unit : str
        The SI unit of ``value``.
    display : str
        The unit to display, e.g. ``"uC"``.
    digits : int
        Significant digits.

    Returns
    -------
    str
        e.g. ``"1.35 uC"``.

    Examples
    --------
    >>> format_si(1.35e-6, "C", "uC")
    '1.35 uC'
    """
    mag = (value * _unit(unit)).to(_unit(display)).magnitude
    return f"{mag:.{digits}g} {display}"
