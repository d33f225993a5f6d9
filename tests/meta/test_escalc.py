"""escalc beyond the reference files: zero cells, options, hand formulas, bad input."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy.special import gamma

from phantomlab.exceptions import InputError
from phantomlab.meta.escalc import MEASURES, escalc, hedges_correction


def test_hedges_correction_exact_and_large_m() -> None:
    m = np.array([2.0, 10.0, 50.0])
    exact = gamma(m / 2) / (np.sqrt(m / 2) * gamma((m - 1) / 2))
    np.testing.assert_allclose(hedges_correction(m), exact, rtol=1e-13)
    # no overflow where Gamma() overflows; tends to the approximation 1 - 3/(4m - 1)
    assert hedges_correction(np.array([5000.0]))[0] == pytest.approx(
        1 - 3 / (4 * 5000 - 1), rel=1e-7
    )
    assert np.isnan(hedges_correction(np.array([1.0]))[0])


def test_zero_cells_only0_all_none() -> None:
    d = pd.DataFrame({"ai": [0, 5], "n1i": [20, 20], "ci": [3, 6], "n2i": [21, 19]})
    only0 = escalc("OR", d, ai="ai", n1i="n1i", ci="ci", n2i="n2i")
    # study 1: 1/2 added to all four cells; study 2 untouched
    a, b, c, dd = 0.5, 20.5, 3.5, 18.5
    assert only0["yi"][0] == pytest.approx(np.log(a * dd / (b * c)))
    assert only0["vi"][0] == pytest.approx(1 / a + 1 / b + 1 / c + 1 / dd)
    assert only0["yi"][1] == pytest.approx(np.log(5 * 13 / (15 * 6)))
    allc = escalc("OR", d, ai="ai", n1i="n1i", ci="ci", n2i="n2i", to="all")
    assert allc["yi"][1] == pytest.approx(np.log(5.5 * 13.5 / (15.5 * 6.5)))
    none = escalc("OR", d, ai="ai", n1i="n1i", ci="ci", n2i="n2i", to="none")
    assert np.isnan(none["yi"][0]) and np.isnan(none["vi"][0])
    if0 = escalc("RR", d, ai="ai", n1i="n1i", ci="ci", n2i="n2i", to="if0all")
    assert if0["yi"][1] == pytest.approx(np.log((5.5 / 21) / (6.5 / 20)))
    dz = escalc("RR", ai=[0], bi=[10], ci=[0], di=[12], drop00=True)
    assert np.isnan(dz["yi"][0])


def test_proportions_and_rates_by_hand() -> None:
    out = escalc("PLO", xi=[0, 4], ni=[10, 10])
    assert out["yi"][0] == pytest.approx(np.log(0.5 / 10.5))
    assert out["vi"][1] == pytest.approx(1 / 4 + 1 / 6)
    pr = escalc("PR", xi=[4], mi=[6])
    assert pr["vi"][0] == pytest.approx(0.4 * 0.6 / 10)
    ir = escalc("IRLN", xi=[0, 8], ti=[100.0, 200.0])
    assert ir["yi"][0] == pytest.approx(np.log(0.5 / 100)) and ir["vi"][1] == pytest.approx(1 / 8)
    mn = escalc("MN", mi=[5.0], sdi=[2.0], ni=[16])
    assert mn["vi"][0] == pytest.approx(0.25)
    cor = escalc("COR", ri=[0.5], ni=[21])
    assert cor["vi"][0] == pytest.approx(0.75**2 / 20)
    z = escalc("ZCOR", ri=[0.5, 0.2], ni=[3, 30])
    assert np.isnan(z["vi"][0]) and z["vi"][1] == pytest.approx(1 / 27)


def test_smd_ub_and_smdh() -> None:
    args = dict(m1i=[10.0], sd1i=[2.0], n1i=[12], m2i=[8.0], sd2i=[3.0], n2i=[14])
    ls = escalc("SMD", **args)
    ub = escalc("SMD", vtype="UB", **args)
    assert ub["yi"][0] == ls["yi"][0]
    assert ub["vi"][0] != ls["vi"][0]
    raw = escalc("SMD", correct=False, **args)
    sdp = np.sqrt((11 * 4 + 13 * 9) / 24)
    assert raw["yi"][0] == pytest.approx(2 / sdp)
    smdh = escalc("SMDH", correct=False, **args)
    assert smdh["yi"][0] == pytest.approx(2 / np.sqrt(6.5))


def test_data_kept_and_missing_rows_give_nan() -> None:
    d = pd.DataFrame({"x": [3, None], "n": [10, 12], "id": ["a", "b"]})
    out = escalc("PLO", d, xi="x", ni="n")
    assert list(out.columns) == ["x", "n", "id", "yi", "vi"]
    assert np.isnan(out["yi"][1])
    assert out.attrs["measure"] == "PLO"


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        (dict(measure="XX", ai=[1]), "measure"),
        (dict(measure="RR", ai=[1], bi=[2]), "arguments"),
        (dict(measure="RR", ai=[5], n1i=[3], ci=[1], n2i=[4]), "n1i"),
        (dict(measure="MD", m1i=[1], sd1i=[-1], n1i=[5], m2i=[1], sd2i=[1], n2i=[5]), "sd1i"),
        (dict(measure="ZCOR", ri=[1.5], ni=[10]), "ri"),
        (dict(measure="PLO", xi=[1], ni=[3], foo=[2]), "foo"),
        (dict(measure="PLO", xi="x", ni="n"), "xi"),
        (dict(measure="RR", ai=[1, 2], bi=[1], ci=[1], di=[1]), "arguments"),
        (
            dict(measure="MD", m1i=[1], sd1i=[1], n1i=[5], m2i=[1], sd2i=[1], n2i=[5], vtype="UB"),
            "vtype",
        ),
    ],
)
def test_bad_input(kwargs: dict, field: str) -> None:
    m = kwargs.pop("measure")
    with pytest.raises(InputError) as err:
        escalc(m, **kwargs)
    assert err.value.problems[0].field == field


def test_every_measure_listed_runs() -> None:
    data = dict(
        x1i=[3],
        x2i=[5],
        t1i=[100.0],
        t2i=[120.0],
        ai=[3],
        bi=[7],
        ci=[4],
        di=[6],
        n1i=[10],
        n2i=[10],
        m1i=[5.0],
        m2i=[4.0],
        sd1i=[1.0],
        sd2i=[1.5],
        xi=[3],
        ni=[10],
        ri=[0.3],
        ti=[50.0],
        mi=[4.0],
        sdi=[1.0],
    )
    for m, req in MEASURES.items():
        names = {a for r in req for a in r.split("|")}
        kw = {a: data[a] for a in names if a in data}
        if m in ("PR", "PLN", "PLO", "PAS", "PFT"):
            kw.pop("mi", None)
        out = escalc(m, **kw)
        assert np.isfinite(out["yi"][0]) and out["vi"][0] > 0, m


def test_arcsine_and_rate_measures_by_hand() -> None:
    pft = escalc("PFT", xi=[0, 5], ni=[10, 20])  # add = 0 by default for PFT
    assert pft["yi"][0] == pytest.approx(0.5 * np.arcsin(np.sqrt(1 / 11)))
    assert pft["vi"][1] == pytest.approx(1 / 82)
    pas = escalc("PAS", xi=[5], ni=[20])
    assert pas["yi"][0] == pytest.approx(np.arcsin(0.5)) and pas["vi"][0] == pytest.approx(1 / 80)
    as_ = escalc("AS", ai=[0], n1i=[10], ci=[3], n2i=[10])
    assert as_["yi"][0] == pytest.approx(-np.arcsin(np.sqrt(0.3)))
    irr = escalc("IRR", x1i=[0, 5], t1i=[100, 200], x2i=[3, 4], t2i=[100, 150])
    assert irr["yi"][0] == pytest.approx(np.log(1 / 7)) and irr["vi"][0] == pytest.approx(
        2 + 1 / 3.5
    )
    ird = escalc("IRD", x1i=[2], t1i=[100], x2i=[3], t2i=[100])
    assert ird["yi"][0] == pytest.approx(-0.01) and ird["vi"][0] == pytest.approx(5e-4)
