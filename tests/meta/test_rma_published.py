"""Published metafor outputs (4 decimals) for datasets outside the reference files.

Values as transcribed in shared/research/stats.md from metafor's tests and help
pages: CLASP (DerSimonian & Kacker 2007, Tables 3-4), Viechtbauer (2005)
examples 1 and 2, and the magnesium trials (dat.egger2001).
"""

from __future__ import annotations

import numpy as np
import pytest

from phantomlab.meta import rma
from phantomlab.meta.escalc import escalc

CLASP = dict(
    n1i=[156, 303, 565, 1570, 103, 4659],
    n2i=[74, 303, 477, 1565, 105, 4650],
    ai=[5, 5, 12, 69, 9, 313],
    ci=[8, 17, 9, 94, 11, 352],
)
# estimator: (tau, mu, se)
CLASP_WANT = {
    "PM": (0.3681, -0.3811, 0.2060),
    "HE": (0.4410, -0.4035, 0.2327),
    "DL": (0.2323, -0.3240, 0.1540),
    "EB": (0.3681, -0.3811, 0.2060),
    "ML": (0.0023, -0.1974, 0.0694),
    "REML": (0.1843, -0.2980, 0.1343),
    "HS": (0.1330, -0.2666, 0.1125),
    "SJ": (0.4572, -0.4079, 0.2386),
    "HSk": (0.1644, -0.2863, 0.1259),
    "PMM": (0.4341, -0.4016, 0.2302),
}


@pytest.mark.parametrize("method", list(CLASP_WANT))
def test_clasp_estimators(method: str) -> None:
    es = escalc("OR", **CLASP)
    res = rma(es["yi"], es["vi"], method=method)
    got = (np.sqrt(res.tau2), res.estimate, res.se)
    assert np.round(got, 4).tolist() == list(CLASP_WANT[method])


V1 = (
    [-0.581, 0.530, 0.771, 1.031, 0.553, 0.295, 0.078, 0.573, -0.176, -0.232],
    [0.023, 0.052, 0.060, 0.115, 0.095, 0.203, 0.200, 0.211, 0.051, 0.040],
    # method: (tau2, I2, H2, se_tau2)
    {
        "HS": (0.2282, 77.2284, 4.3914, 0.1328),
        "HE": (0.1484, 68.7988, 3.2050, 0.1234),
        "DL": (0.2768, 80.4447, 5.1137, 0.1841),
        "ML": (0.1967, 74.5098, 3.9231, 0.1255),
        "REML": (0.2232, 76.8399, 4.3178, 0.1464),
        "EB": (0.1920, 74.0511, 3.8537, 0.1330),
        "SJ": (0.1992, 74.7545, 3.9611, 0.0979),
    },
)
V2 = (
    [0.100, -0.162, -0.090, -0.049, -0.046, -0.010, -0.431, -0.261, 0.134, 0.019, 0.175]
    + [0.056, 0.045, 0.103, 0.121, -0.482, 0.290, 0.342],
    [0.016, 0.015, 0.050, 0.050, 0.032, 0.052, 0.036, 0.024, 0.034, 0.033, 0.031]
    + [0.034, 0.039, 0.167, 0.134, 0.096, 0.016, 0.035],
    {
        "HS": (0.0099, 22.9266, 1.2975, 0.0138),
        "HE": (0.0, 0.0, 1.0, 0.0217),
        "DL": (0.0126, 27.5275, 1.3798, 0.0159),
        "ML": (0.0132, 28.4505, 1.3976, 0.0151),
        "REML": (0.0157, 32.0203, 1.4710, 0.0167),
        "EB": (0.0104, 23.7198, 1.3110, 0.0156),
        "SJ": (0.0248, 42.6734, 1.7444, 0.0118),
    },
)


@pytest.mark.parametrize("example", [V1, V2], ids=["ex1", "ex2"])
def test_viechtbauer2005_examples(example: tuple) -> None:
    y, v, want = example
    for method, (tau2, i2, h2, se_tau2) in want.items():
        res = rma(y, v, method=method)
        assert round(res.tau2, 4) == pytest.approx(tau2, abs=1e-12), method
        assert round(res.I2, 4) == pytest.approx(i2, abs=1e-12), method
        assert round(res.H2, 4) == pytest.approx(h2, abs=1e-12), method
        assert round(res.se_tau2, 4) == pytest.approx(se_tau2, abs=1e-12), method


MAGNESIUM = dict(
    ai=[1, 9, 2, 1, 10, 1, 1, 0, 6, 1, 2, 5, 4, 90, 4, 2216],
    n1i=[40, 135, 200, 48, 150, 59, 25, 22, 76, 27, 89, 23, 130, 1159, 107, 29011],
    ci=[2, 23, 7, 1, 8, 9, 3, 1, 11, 7, 12, 13, 8, 118, 17, 2103],
    n2i=[36, 135, 200, 46, 148, 56, 23, 21, 75, 27, 80, 33, 122, 1157, 108, 29039],
)


def test_magnesium_publication_bias() -> None:
    es = escalc("OR", **MAGNESIUM)
    full = rma(es["yi"], es["vi"])
    assert round(full.regtest().zval, 4) == -4.6686
    rk = full.ranktest()
    assert (round(rk.tau, 4), round(rk.pval, 4)) == (0.15, 0.4503)
    res = rma(es["yi"][:15], es["vi"][:15])  # without ISIS-4
    assert (round(res.tau2, 4), round(res.I2, 2), round(res.QE, 4)) == (0.1911, 38.19, 20.9184)
    assert (round(res.estimate, 4), round(res.se, 4)) == (-0.8745, 0.2080)
    rg = res.regtest()
    assert (round(rg.zval, 4), round(rg.pval, 4), round(rg.limit, 4)) == (-2.8062, 0.0050, -0.1639)
    lm = res.regtest(model="lm")
    assert (round(lm.zval, 4), lm.dfs, round(lm.pval, 4)) == (-3.1783, 13, 0.0073)
    assert (round(lm.limit, 4), round(lm.ci_lb, 4), round(lm.ci_ub, 4)) == (
        -0.1512,
        -0.5130,
        0.2106,
    )


def test_iterated_dl_and_sj_on_bcg() -> None:
    """metafor test_misc_rma_uni: DLIT and SJIT give tau2 = 0.3181 on dat.bcg (log RR)."""
    es = escalc(
        "RR",
        ai=[4, 6, 3, 62, 33, 180, 8, 505, 29, 17, 186, 5, 27],
        bi=[119, 300, 228, 13536, 5036, 1361, 2537, 87886, 7470, 1699, 50448, 2493, 16886],
        ci=[11, 29, 11, 248, 47, 372, 10, 499, 45, 65, 141, 3, 29],
        di=[128, 274, 209, 12619, 5761, 1079, 619, 87892, 7232, 1600, 27197, 2338, 17825],
    )
    for method in ("DLIT", "SJIT"):
        assert round(rma(es["yi"], es["vi"], method=method).tau2, 4) == 0.3181


BCG = dict(
    ai=[4, 6, 3, 62, 33, 180, 8, 505, 29, 17, 186, 5, 27],
    bi=[119, 300, 228, 13536, 5036, 1361, 2537, 87886, 7470, 1699, 50448, 2493, 16886],
    ci=[11, 29, 11, 248, 47, 372, 10, 499, 45, 65, 141, 3, 29],
    di=[128, 274, 209, 12619, 5761, 1079, 619, 87892, 7232, 1600, 27197, 2338, 17825],
)


def test_bcg_trimfill_published() -> None:
    """metafor ``trimfill`` help page (stats.md §1.5)."""
    es = escalc("RR", **BCG)
    tf = rma(es["yi"], es["vi"]).trimfill()
    assert (tf.k0, tf.side, round(tf.se_k0, 4)) == (1, "right", 2.4528)
    assert (round(tf.estimate, 4), round(tf.se, 4), round(tf.fit.tau2, 4)) == (
        -0.6571,
        0.1785,
        0.3313,
    )
    assert (round(tf.fit.I2, 2), round(tf.fit.QE, 4)) == (92.14, 154.675)
    ee = rma(es["yi"], es["vi"], method="EE")
    tf = ee.trimfill()
    np.testing.assert_allclose(
        tf.fit.yi[tf.fill], [0.78929282, 0.85949921, 1.00333667, 1.03884624], atol=5e-9
    )
    assert (round(tf.fit.I2, 2), round(tf.fit.QE, 4), round(tf.fit.zval, 4)) == (
        93.91,
        262.7316,
        -7.6057,
    )
    r0 = ee.trimfill(estimator="R0")
    assert (r0.k0, round(r0.se_k0, 4), round(r0.p_k0, 4)) == (4, 3.1623, 0.0312)
    refit = rma(tf.fit.yi, tf.fit.vi)
    assert (round(refit.tau2, 4), round(refit.estimate, 4)) == (0.7164, -0.3422)


def test_bcg_leave1out_full_table() -> None:
    """metafor ``leave1out`` help page, rows 1, 4 and 8 (stats.md §1.5)."""
    es = escalc("RR", **BCG)
    tab = rma(es["yi"], es["vi"]).leave1out().to_frame().round(4)
    cols = ["estimate", "se", "ci_lb", "ci_ub", "Q", "tau2", "I2"]
    assert tab.iloc[0][cols].tolist() == [
        -0.7071,
        0.19,
        -1.0794,
        -0.3348,
        151.5826,
        0.3362,
        93.2259,
    ]
    assert tab.iloc[3][cols].tolist() == [
        -0.6284,
        0.1766,
        -0.9746,
        -0.2822,
        96.5626,
        0.2628,
        90.4125,
    ]
    assert tab.iloc[7][cols].tolist() == [
        -0.7948,
        0.1799,
        -1.1473,
        -0.4422,
        67.9858,
        0.2732,
        87.0314,
    ]


def test_bcg_influence_published() -> None:
    """metafor ``influence.rma.uni`` help page, REML with ablat + year (stats.md §1.5)."""
    import pandas as pd

    from phantomlab.meta import influence

    es = escalc("RR", **BCG)
    ablat = [44, 55, 42, 52, 13, 44, 19, 13, 27, 42, 18, 33, 33]
    year = [1948, 1949, 1960, 1977, 1973, 1953, 1973, 1980, 1968, 1961, 1974, 1969, 1976]
    res = rma(es["yi"], es["vi"], mods=pd.DataFrame({"ablat": ablat, "year": year}))
    inf = influence(res).to_frame()
    cook = [0.0348, 0.0620, 0.0125, 7.3179, 0.0032, 0.7205, 0.4173, 0.1899, 0.0237, 0.1470]
    cook += [0.0052, 0.0469, 0.4994]
    hat = [0.1725, 0.2367, 0.0487, 0.8082, 0.2483, 0.4061, 0.0766, 0.3627, 0.1030, 0.1310]
    hat += [0.2214, 0.0235, 0.1612]
    assert inf["cook_d"].round(4).tolist() == cook
    assert inf["hat"].round(4).tolist() == hat
    assert (round(inf["rstudent"].iloc[6], 4), round(inf["rstudent"].iloc[12], 4)) == (
        -2.5961,
        2.1302,
    )
    assert (round(inf["weight"].iloc[0], 4), round(inf["weight"].iloc[12], 4)) == (3.3664, 8.0630)
    assert inf["influential"].tolist() == [i == 3 for i in range(13)]
    assert "*" in res.influence().summary()
