"""The small unit registry of ``phantomlab._units`` against pint's full default registry.

``as_si``/``format_si``/``convert`` read quantities with a small registry first (the import
budget, docs/architecture.md) and fall back to pint's full registry. These tests check that
the fast path never changes a value: every name the small registry defines, bare, plural and
with every prefix, means the same unit (same dimension, same factor to SI) as in the full
registry, and a unit only the full registry knows is still accepted.
"""

from __future__ import annotations

import sys

import pint
import pytest

from phantomlab import _units
from phantomlab._units import as_si, convert, format_si
from phantomlab.exceptions import UnitError


def _spellings(reg: pint.UnitRegistry) -> list[str]:
    """Every single-token unit spelling the small registry can read: prefix + name (+ s)."""
    prefixes = {""}
    for p in reg._prefixes.values():
        prefixes |= {p.name, *(a for a in (p.symbol, *p.aliases) if a)}
    names: set[str] = set()
    for u in reg._units.values():
        if u.is_base or u.reference is not None or u.name:
            names |= {u.name, *(a for a in (u.symbol, *u.aliases) if a)}
    names -= {"pi", "π", "[]"}
    words = {p + n for p in prefixes for n in names}
    words |= {w + "s" for w in list(words)}  # pint reads plurals
    return sorted(w for w in words if w)


_SI = {"[length]": "m", "[time]": "s", "[current]": "A", "[mass]": "kg"}


def _si(dims: pint.util.UnitsContainer) -> str:
    """The SI unit of a dimension, written with names both registries define."""
    return " * ".join(f"{_SI[d]} ** {p}" for d, p in dims.items()) or "radian / radian"


def test_every_small_spelling_means_the_same_in_pint() -> None:
    small = pint.UnitRegistry(filename=_units.DEFINITIONS)  # fresh: parsing caches "kilohertz"
    full = _units._full()
    checked = 0
    for word in _spellings(small):
        try:
            mine = small.Quantity(1.0, word)
        except (pint.UndefinedUnitError, AttributeError, ValueError):
            continue  # the small registry refuses it: the full one will read it
        theirs = full.Quantity(1.0, word)
        assert str(mine.dimensionality) == str(theirs.dimensionality), word
        si = _si(mine.dimensionality)
        assert mine.to(si).magnitude == pytest.approx(theirs.to(si).magnitude, rel=1e-15), word
        checked += 1
    assert checked > 1000  # the enumeration is not empty


@pytest.mark.parametrize(
    ("text", "unit", "expected"),
    [
        ("2 mA", "A", 0.002),
        ("35 cm^2", "m^2", 0.0035),
        ("200 µs", "s", 2e-4),
        ("300 us", "s", 3e-4),
        ("20 min", "s", 1200.0),
        ("1.5 kohm", "ohm", 1500.0),
        ("10 Hz", "Hz", 10.0),
        ("2 weeks", "s", 1209600.0),
        ("1.5e-3 A/us", "A/s", 1500.0),
    ],
)
def test_as_si_equals_the_full_registry(text: str, unit: str, expected: float) -> None:
    full = _units._full()
    assert as_si(text, unit) == float(full.Quantity(text).to(unit).magnitude)
    assert as_si(text, unit) == pytest.approx(expected, rel=1e-15)


def test_units_only_pint_knows_fall_back_to_the_full_registry() -> None:
    assert as_si("1 inch", "mm") == pytest.approx(25.4)
    assert as_si("0.5 year", "day") == pytest.approx(182.625)
    assert as_si("1 m", "inch") == pytest.approx(1 / 0.0254)  # the target only in pint
    assert as_si("3 d", "h") == pytest.approx(72.0)
    assert convert(1.0, "mile", "km") == pytest.approx(1.609344)
    assert format_si(0.0254, "m", "inch") == "1 inch"


def test_quantities_of_the_public_registry_are_accepted() -> None:
    assert as_si(_units.Q_(2.0, "mA"), "A") == pytest.approx(0.002)
    assert as_si(_units.ureg.Quantity("3 s"), "ms") == pytest.approx(3000.0)


def test_wrong_dimension_and_unknown_units_keep_their_messages() -> None:
    with pytest.raises(UnitError, match="wrong dimension: \\[length\\] is not \\[current\\]"):
        as_si("2 mm", "A")
    with pytest.raises(UnitError, match="cannot parse"):
        as_si("2 blorbs", "A")


def test_pint_is_imported_without_dask() -> None:
    """pint's optional dask support is not loaded by importing the units module."""
    import subprocess

    code = "import phantomlab._units, sys; print('dask' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.stdout.strip() == "False", out.stderr
