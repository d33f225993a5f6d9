"""Property test: any input to the loader gives a protocol or a ProtocolError."""

from __future__ import annotations

from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from phantomlab.exceptions import Problem, ProtocolError
from phantomlab.protocols import MODALITIES, ProtocolBase, load_protocol
from phantomlab.protocols.models import TDCS

FIELDS = sorted({f for cls in MODALITIES.values() for f in cls.model_fields} | {"bogus"})
QUANTITIES = st.sampled_from(
    ["2 mA", "2 s", "35 cm^2", "300 us", "50 Hz", "-1 mA", "0 mA", "1e400 mA", "nan mA"]
    + ["2", "mA", "2 furlongs", "10 kHz", "90 %MT", "C3", "Fp2", "T10", "x" * 70, "", "1**1**9 A"]
)
SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-10, 10**12),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=20),
    QUANTITIES,
)
VALUES = st.recursive(
    SCALARS,
    lambda inner: st.one_of(
        st.lists(inner, max_size=3),
        st.dictionaries(st.sampled_from(FIELDS), inner, max_size=3),
    ),
    max_leaves=8,
)
PROTOCOL_DICTS = st.fixed_dictionaries(
    {"modality": st.one_of(st.sampled_from(list(MODALITIES)), st.text(max_size=8))},
    optional={f: VALUES for f in FIELDS if f != "modality"},
)


def _ok_or_protocol_error(source: Any) -> None:
    try:
        p = load_protocol(source)
    except ProtocolError as exc:
        assert exc.problems and all(isinstance(x, Problem) for x in exc.problems)
        for x in exc.problems:
            assert x.field and x.message
            x.line()
            x.to_dict()
        return
    assert isinstance(p, ProtocolBase)
    p.dose()
    p.check(require_complete=False)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(PROTOCOL_DICTS)
def test_random_dicts(data: dict[str, Any]) -> None:
    _ok_or_protocol_error(data)


@settings(max_examples=150, deadline=None)
@given(st.dictionaries(st.sampled_from(list(TDCS.model_fields)), QUANTITIES, max_size=6))
def test_random_tdcs_quantities(data: dict[str, Any]) -> None:
    _ok_or_protocol_error({"modality": "tdcs", **data})


@settings(max_examples=150, deadline=None)
@given(st.text(max_size=200))
def test_random_text(text: str) -> None:
    if "\n" not in text.strip() and text.strip().lower().endswith((".yaml", ".yml", ".json")):
        return  # treated as a path
    _ok_or_protocol_error(text)


@settings(max_examples=100, deadline=None)
@given(VALUES)
def test_random_values(value: Any) -> None:
    _ok_or_protocol_error(value)
