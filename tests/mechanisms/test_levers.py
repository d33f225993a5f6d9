"""Levers: any input gives a valid day or one clear InputError (property test)."""

import math

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from phantomlab.exceptions import InputError
from phantomlab.mechanisms import Cohort, Levers, lever_names

COHORT = Cohort(4, "persistence", rng=0)


@settings(max_examples=40, deadline=None)
@given(
    name=st.sampled_from(lever_names()),
    value=st.floats(allow_nan=True, allow_infinity=True, width=64),
)
def test_any_lever_value_gives_result_or_clear_error(name, value):
    lo, hi = Levers.RANGES[name]
    try:
        day = COHORT.acute(Levers(**{name: value}))
    except InputError as exc:
        assert not (math.isfinite(value) and lo <= value <= hi)
        assert exc.problems[0].field == f"levers.{name}"
    else:
        assert lo <= value <= hi
        assert np.all(np.isfinite(day.pain)) and np.all((day.pain >= 0) & (day.pain <= 10))


def test_lever_names_match_ranges():
    assert set(lever_names()) == set(Levers.RANGES)
