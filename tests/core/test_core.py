from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from phantomlab._rng import as_generator, spawn
from phantomlab._units import as_si, format_si
from phantomlab._validation import check_in, check_range, raise_if
from phantomlab.exceptions import InputError, UnitError


@pytest.mark.parametrize(
    ("text", "unit", "expected"),
    [
        ("2 mA", "A", 2e-3),
        ("35 cm^2", "m^2", 35e-4),
        ("400 us", "s", 400e-6),
        ("20 min", "s", 1200.0),
        ("10 kHz", "Hz", 1e4),
        ("1.5 uC", "C", 1.5e-6),
    ],
)
def test_as_si_converts(text: str, unit: str, expected: float) -> None:
    assert as_si(text, unit) == pytest.approx(expected, rel=1e-12)


def test_as_si_rejects_wrong_dimension_with_field_name() -> None:
    with pytest.raises(UnitError) as ei:
        as_si("2 s", "A", field="tdcs.current")
    p = ei.value.problems[0]
    assert p.field == "tdcs.current"
    assert "dimension" in p.message


def test_as_si_rejects_bare_number_for_dimensional_quantity() -> None:
    with pytest.raises(UnitError):
        as_si(2, "A")
    with pytest.raises(UnitError):
        as_si("2", "A")
    assert as_si(2, "A", allow_bare=True) == 2.0


@settings(deadline=None)  # the first unknown unit builds pint's full registry (once, ~0.3 s)
@given(st.text(max_size=30))
def test_as_si_any_text_gives_float_or_unit_error(text: str) -> None:
    try:
        v = as_si(text, "A")
    except UnitError:
        return
    assert isinstance(v, float)


def test_format_si() -> None:
    assert format_si(1.35e-6, "C", "uC") == "1.35 uC"


def test_check_range_both_sides() -> None:
    assert check_range("x", 4.0, high=4.0) == []
    (p,) = check_range("x", 4.1, high=4.0, unit="mA", source="Bikson 2016")
    assert p.source == "Bikson 2016" and "<= 4 mA" in p.limit
    (p,) = check_range("x", 1.0, low=1.0, low_inclusive=False)
    assert "below" in p.message


def test_raise_if_collects_all() -> None:
    probs = check_range("a", 5, high=1) + check_in("b", "z", ["x", "y"])
    with pytest.raises(InputError) as ei:
        raise_if(probs)
    assert len(ei.value.problems) == 2


def test_rng_same_seed_same_bits_and_spawn_independent_of_workers() -> None:
    a = as_generator(7).normal(size=5)
    b = as_generator(7).normal(size=5)
    assert np.array_equal(a, b)
    kids1 = [g.normal() for g in spawn(11, 4)]
    kids2 = [g.normal() for g in spawn(11, 4)]
    assert kids1 == kids2
    assert len(set(kids1)) == 4
    with pytest.raises(InputError):
        as_generator(-1)
