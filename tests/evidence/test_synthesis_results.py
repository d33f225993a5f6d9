"""The synthesis results follow the result contract (phantomlab._result.Result)."""

from __future__ import annotations

import pandas as pd
import pytest
from matplotlib.figure import Figure

from phantomlab._result import REPR_MAX, Result
from phantomlab.evidence import GroupResult, SynthesisResult, synthesize
from phantomlab.exceptions import InputError


@pytest.fixture(scope="module")
def result() -> SynthesisResult:
    return synthesize()


def test_synthesis_result_contract(result: SynthesisResult) -> None:
    assert isinstance(result, Result)
    text = repr(result)
    assert len(text) <= REPR_MAX and "\n" not in text  # was thousands of characters
    assert text.startswith("<SynthesisResult: ") and "pooled" in text
    html = result._repr_html_()
    assert "<table" in html and "SynthesisResult" in html
    assert isinstance(result.plot(), Figure)
    with pytest.raises(InputError, match="ax"):
        result.plot(ax=object())


def test_group_result_contract(result: SynthesisResult) -> None:
    for g in result.groups:
        assert isinstance(g, GroupResult) and isinstance(g, Result)
        text = repr(g)
        assert len(text) <= REPR_MAX and "\n" not in text and g.group in text
        frame = g.to_frame()
        assert isinstance(frame, pd.DataFrame) and len(frame) == g.k
        assert list(frame["study_id"]) == [c.study_id for c in g.comparisons]
        assert g.summary().splitlines()[0].startswith(f"{g.outcome} ({g.measure}), {g.group}")
        assert "<table" in g._repr_html_()
    fig = result.group("pain", "rTMS").plot()
    assert isinstance(fig, Figure) and len(fig.axes) == 1


def test_group_frame_matches_comparisons_frame(result: SynthesisResult) -> None:
    g = result.group("pain", "rTMS")
    full = result.comparisons_frame()
    part = full[(full["outcome"] == "pain") & (full["group"] == "rTMS")].drop(
        columns=["outcome", "measure", "group"]
    )
    pd.testing.assert_frame_equal(part.reset_index(drop=True), g.to_frame())
