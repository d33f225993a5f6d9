"""Property tests: any input to rma/escalc gives finite results or one clear InputError."""

from __future__ import annotations

import warnings

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from phantomlab.exceptions import InputError
from phantomlab.meta import MetaAnalysisWarning, rma
from phantomlab.meta.escalc import escalc

_num = st.one_of(
    st.floats(min_value=-1e3, max_value=1e3, allow_nan=False),
    st.just(float("nan")),
    st.just(0.0),
    st.floats(min_value=1e-8, max_value=1e-4),
)
_methods = st.sampled_from(["EE", "DL", "HE", "HS", "SJ", "ML", "REML", "EB", "PM"])


@settings(max_examples=60, deadline=None)
@given(
    y=st.lists(_num, min_size=0, max_size=12),
    v=st.lists(_num, min_size=0, max_size=12),
    method=_methods,
    test=st.sampled_from(["z", "knha"]),
)
def test_rma_any_input_result_or_clear_error(y: list, v: list, method: str, test: str) -> None:
    n = min(len(y), len(v))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", MetaAnalysisWarning)
        try:
            res = rma(y[:n], v[:n], method=method, test=test)
        except InputError as err:
            assert err.problems and all(p.field for p in err.problems)
            return
    assert res.k >= 2
    assert np.isfinite([res.estimate, res.tau2, res.QE, res.I2, res.H2]).all()
    assert res.tau2 >= 0
    assert res.se >= 0 and res.ci_lb <= res.estimate <= res.ci_ub


@settings(max_examples=40, deadline=None)
@given(
    a=st.lists(st.integers(min_value=-2, max_value=30), min_size=1, max_size=6),
    extra=st.integers(min_value=-3, max_value=40),
    measure=st.sampled_from(["RR", "OR", "RD"]),
)
def test_escalc_counts_result_or_clear_error(a: list, extra: int, measure: str) -> None:
    n1 = [x + extra for x in a]
    try:
        out = escalc(measure, ai=a, n1i=n1, ci=a[::-1], n2i=n1[::-1])
    except InputError as err:
        assert err.problems[0].field in {"ai", "ci", "n1i", "n2i", "bi", "di"}
        return
    ok = np.isfinite(out["vi"])
    assert (out["vi"][ok] >= 0).all()


def test_rma_variances_beyond_double_precision_are_a_clear_error() -> None:
    """Found by the property test: v = [1, 1.2e-38] made trace(P) cancel to 0 (ZeroDivision)."""
    for method in ("EE", "DL", "REML"):
        try:
            rma([0.0, 0.0], [1.0, 1.1754943508222875e-38], method=method)
        except InputError as err:
            assert err.problems[0].field == "vi"
            assert "orders of magnitude" in str(err)
        else:
            raise AssertionError("an ill-conditioned variance span must be refused")
    res = rma([0.1, 0.3], [1.0, 1e-12], method="REML")  # 1e12 span: still computable
    assert np.isfinite(res.estimate)
