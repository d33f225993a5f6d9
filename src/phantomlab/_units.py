"""Units at the boundary: one pint registry, SI floats inside.

Users write quantities as strings (``"2 mA"``, ``"35 cm^2"``, ``"400 us"``) or
pint quantities; :func:`as_si` converts them to a plain ``float`` in the SI unit
requested. A bare number for a dimensional parameter is rejected, so that "2"
can never silently mean 2 A.

The public registry :data:`ureg` (and :data:`Q_`) is pint's full default registry, built on
first use. The light commands (``protocol check``, the optimizer's ``suggest``/``record``)
must start at once (docs/architecture.md, "Import budget"), and building pint's registry of
about a thousand units took a third of ``protocol check``; so :func:`as_si`,
:func:`format_si` and :func:`convert` first read a quantity with a small registry of the
units the project's quantities use (:data:`DEFINITIONS`, copied from pint's
``default_en.txt``), and fall back to the full registry for any unit it does not define:
every unit pint knows is still accepted, with the same value (``tests/core/test_units.py``
checks each name of the small registry, with each prefix, against the full one).
"""

from __future__ import annotations

import sys
from functools import lru_cache
from typing import Any

# pint.compat imports dask at import time whenever dask is installed (0.5 s here), only to
# support Quantities wrapping dask arrays, which PhantomLab never builds. A ``None`` entry in
# sys.modules makes ``importlib.util.find_spec("dask")`` answer "not installed" while pint is
# imported; the entry is removed at once, so ``import dask`` works as before afterwards.
if "pint" not in sys.modules and "dask" not in sys.modules:
    sys.modules["dask"] = None  # type: ignore[assignment]
    try:
        import pint
    finally:
        del sys.modules["dask"]
else:
    import pint

from phantomlab.exceptions import Problem, UnitError

__all__ = ["DEFINITIONS", "Q_", "as_si", "convert", "format_si", "ureg"]

#: The small registry's definitions, each line as in pint 0.25's ``default_en.txt``: the SI
#: prefixes, the base units the project's quantities need and the derived units of current,
#: charge, voltage, impedance, field, frequency, time and area. A symbol that would make a
#: spelling mean something else than in the full registry is left out (then the full one
#: reads it); ``tests/core/test_units.py`` enumerates every spelling to prove none is left.
DEFINITIONS = (
    "quecto- = 1e-30 = q-",
    "ronto- = 1e-27 = r-",
    "yocto- = 1e-24 = y-",
    "zepto- = 1e-21 = z-",
    "atto- =  1e-18 = a-",
    "femto- = 1e-15 = f-",
    "pico- =  1e-12 = p-",
    "nano- =  1e-9  = n-",
    "micro- = 1e-6  = µ- = μ- = u- = mu- = mc-",
    "milli- = 1e-3  = m-",
    "centi- = 1e-2  = c-",
    "deci- =  1e-1  = d-",
    "deca- =  1e+1  = da- = deka-",
    "hecto- = 1e2   = h-",
    "kilo- =  1e3   = k-",
    "mega- =  1e6   = M-",
    "giga- =  1e9   = G-",
    "tera- =  1e12  = T-",
    "peta- =  1e15  = P-",
    "exa- =   1e18",  # not E-: "Eh" is pint's hartree, not an exahour
    "zetta- = 1e21  = Z-",
    "yotta- = 1e24  = Y-",
    "ronna- = 1e27 = R-",
    "quetta- = 1e30 = Q-",
    "meter = [length] = m = metre",
    "second = [time] = s = sec",
    "ampere = [current] = A",  # not amp: pint reads "amps" as attometer per second
    "gram = [mass] = g",
    "percent = 0.01 = %",
    "minute = 60 * second = min",
    "hour = 60 * minute = h = hr",
    "day = 24 * hour",  # not d: "cd", "Td", "yd" are candela, townsend, yard in pint
    "week = 7 * day",
    "hertz = 1 / second = Hz",
    "newton = kilogram * meter / second ** 2 = N",
    "joule = newton * meter = J",
    "watt = joule / second = W",
    "coulomb = ampere * second = C",
    "volt = joule / coulomb = V",
    "ohm = volt / ampere = Ω",
    "siemens = ampere / volt = S = mho",
    "weber = volt * second = Wb",
    "tesla = weber / meter ** 2 = T",
)


@lru_cache(maxsize=1)
def _small() -> Any:
    return pint.UnitRegistry(filename=DEFINITIONS)


@lru_cache(maxsize=1)
def _full() -> Any:
    return pint.UnitRegistry()


def __getattr__(name: str) -> Any:
    """``ureg`` and ``Q_``: the full registry (pint's one per package), built on first use."""
    if name == "ureg":
        return _full()
    if name == "Q_":
        return _full().Quantity
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


ureg: Any  # annotations only: the names resolve through __getattr__
Q_: Any


@lru_cache(maxsize=512)
def _unit_in(registry: Any, unit: str) -> Any:
    return registry.parse_units(unit)


def _unit(unit: str) -> Any:
    """Parse ``unit`` with the small registry, or the full one if the small lacks a name."""
    try:
        return _unit_in(_small(), unit)
    except pint.UndefinedUnitError:
        return _unit_in(_full(), unit)


def _quantity(text: str, target: Any) -> Any:
    """Read ``text`` as a quantity with the small registry, or the full one (as :func:`_unit`).

    A ``target`` unit that only the full registry defines sends ``text`` there directly.
    """
    if target._REGISTRY is _small():
        try:
            return _small().Quantity(text)
        except pint.UndefinedUnitError:
            pass
    return _full().Quantity(text)


def convert(value: float, unit: str, to: str) -> float:
    """Convert a magnitude from one unit to another.

    Parameters
    ----------
    value : float
        Magnitude in ``unit``.
    unit, to : str
        Units in pint syntax, e.g. ``"mA"`` and ``"A"``.

    Returns
    -------
    float
        The magnitude in ``to``.

    Raises
    ------
    pint.UndefinedUnitError, pint.DimensionalityError
        If a unit is unknown or the two differ in dimension.

    Examples
    --------
    >>> convert(2.0, "mA", "A")
    0.002
    """
    try:
        a, b = _unit_in(_small(), unit), _unit_in(_small(), to)
    except pint.UndefinedUnitError:
        a, b = _unit_in(_full(), unit), _unit_in(_full(), to)
    return float((value * a).to(b).magnitude)


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
            q = _quantity(text, target)
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
    if target._REGISTRY is not q._REGISTRY:  # a quantity of another registry (or the full one)
        target = _unit_in(q._REGISTRY, unit)
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
    return f"{convert(value, unit, display):.{digits}g} {display}"
