from __future__ import annotations

from typing import Any

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from phantomlab.exceptions import InputError
from phantomlab.optimize import default_space

SPACE = default_space("scs")
values = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-10, 10),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=12),
    st.sampled_from(["2 mA", "300 us", "50 Hz", "3-4", "2 s", "abc mA", "", "1e-3 A"]),
)
keys = st.sampled_from([*SPACE.names, "bogus", ""])


@settings(max_examples=150, deadline=None)
@given(st.dictionaries(keys, values, max_size=6))
def test_validate_and_parse_accept_or_reject_cleanly(point: dict[str, Any]) -> None:
    for f in (SPACE.validate, SPACE.parse):
        try:
            out = f(point)
        except InputError as exc:
            assert exc.problems and all(p.field is not None for p in exc.problems)
        else:
            assert isinstance(out, dict)


@settings(max_examples=60, deadline=None)
@given(st.lists(st.floats(-0.5, 1.5), min_size=SPACE.n_encoded, max_size=SPACE.n_encoded))
def test_decoded_points_are_always_valid(u: list[float]) -> None:
    pts = SPACE.columns_to_points(SPACE.decode_columns(np.array([u])))
    SPACE.validate(pts[0])  # never raises: decoding clips and snaps into the space
    again = SPACE.encode(pts)
    assert np.all((again >= 0) & (again <= 1))
