"""Every result of phantomlab.meta follows the result contract (phantomlab._result.Result)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from matplotlib.figure import Figure

from phantomlab._result import REPR_MAX, Result
from phantomlab.meta import (
    BatchResult,
    ConfintResult,
    InfluenceResult,
    Leave1outResult,
    RanktestResult,
    RegtestResult,
    RMAResult,
    SubgroupResult,
    TrimfillResult,
    confint,
    influence,
    leave1out,
    ranktest,
    regtest,
    rma,
    rma_batch,
    rma_subgroups,
    trimfill,
)

REF = Path(__file__).with_name("metafor_reference")


@pytest.fixture(scope="module")
def bcg() -> pd.DataFrame:
    dat = json.loads((REF / "bcg.json").read_text())
    return pd.DataFrame({"yi": dat["yi"], "vi": dat["vi"]})


def _results(bcg: pd.DataFrame) -> list[Result]:
    y, v = bcg["yi"].to_numpy(), bcg["vi"].to_numpy()
    res = rma(y, v, slab=[f"S{i + 1}" for i in range(len(y))])
    groups = ["a" if i % 2 else "b" for i in range(len(y))]
    batch = rma_batch(np.vstack([y, y[::-1] + 0.1]), np.vstack([v, v]))
    return [
        res,
        rma(y, v, mods=np.arange(len(y), dtype=float)),
        batch,
        confint(res),
        leave1out(res),
        influence(res),
        regtest(res),
        regtest(res, model="lm"),
        ranktest(res),
        trimfill(rma(y, v, method="EE")),
        rma_subgroups(y, v, groups),
    ]


def test_every_result_type_is_covered(bcg: pd.DataFrame) -> None:
    kinds = {type(r) for r in _results(bcg)}
    assert kinds == {
        RMAResult,
        BatchResult,
        ConfintResult,
        Leave1outResult,
        InfluenceResult,
        RegtestResult,
        RanktestResult,
        TrimfillResult,
        SubgroupResult,
    }


def test_result_contract(bcg: pd.DataFrame) -> None:
    for r in _results(bcg):
        name = type(r).__name__
        assert isinstance(r, Result), name
        text = repr(r)
        assert len(text) <= REPR_MAX and "\n" not in text and text.startswith(f"<{name}: "), text
        assert isinstance(r.summary(), str) and r.summary().strip(), name
        assert isinstance(r.to_frame(), pd.DataFrame), name
        html = r._repr_html_()
        assert name in html and "<table" in html, name
        fig = r.plot()
        assert isinstance(fig, Figure), name


def test_rma_plot_is_the_forest_plot(bcg: pd.DataFrame, tmp_path: Path) -> None:
    res = rma(bcg["yi"], bcg["vi"])
    fig = res.plot(path=tmp_path / "f.png")
    assert isinstance(fig, Figure) and (tmp_path / "f.png").stat().st_size > 10_000
    labels = [t.get_text() for t in fig.axes[0].get_yticklabels()]
    assert labels[-1] == "RE Model (REML)" and len(labels) == res.k + 1


def test_repr_is_informative(bcg: pd.DataFrame) -> None:
    res = rma(bcg["yi"], bcg["vi"])
    assert repr(res).startswith("<RMAResult: k = 13, REML, estimate = -0.7145 [-1.0669, -0.3622]")
    assert "k0 = 4 on the right side" in repr(trimfill(rma(bcg["yi"], bcg["vi"], method="EE")))
    assert str(res) == res.summary()  # printing still gives metafor's text
