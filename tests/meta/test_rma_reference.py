"""Every number of the metafor 3.8-1 reference files, reproduced.

The reference JSON/CSV files (R calls inside each file) are copied from
``shared/reference/metafor`` into ``metafor_reference/`` next to this test.
Tolerances: relative 1e-6 (tau2 of iterative estimators 1e-5, as the issue
asks); in practice the agreement is ~1e-12.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from phantomlab.meta import confint, leave1out, regtest, rma, trimfill
from phantomlab.meta.escalc import escalc

REF = Path(__file__).with_name("metafor_reference")
FILES = sorted(REF.glob("*.json"))
ITERATIVE = {"REML", "ML", "EB", "PM", "SJ"}


def _load(path: Path) -> dict[str, Any]:
    return json.loads(path.read_text())


def _close(got: Any, want: Any, rtol: float = 1e-6, atol: float = 1e-12) -> None:
    np.testing.assert_allclose(
        np.asarray(got, float), np.asarray(want, float), rtol=rtol, atol=atol
    )


def test_reference_files_present() -> None:
    assert len(FILES) == 14


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.stem)
def test_escalc_matches_metafor(path: Path) -> None:
    ref = _load(path)
    if ref["measure"] is None:
        pytest.skip("dataset ships yi/vi")
    data = pd.read_csv(path.with_suffix(".csv")).drop(columns=["yi", "vi"])
    out = escalc(ref["measure"], data, **ref["escalc_args"])
    _close(out["yi"], ref["yi"])
    _close(out["vi"], ref["vi"])


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.stem)
def test_rma_fits_match_metafor(path: Path) -> None:
    ref = _load(path)
    for name, want in ref["fits"].items():
        method, _, test = name.partition("_")
        res = rma(ref["yi"], ref["vi"], method=method, test=test or "z")
        got = res.to_dict()
        for key, value in want.items():
            if value == []:  # metafor gives no prediction interval for EE
                assert got[key] is None, (name, key)
                continue
            rtol = 1e-5 if key == "tau2" and method in ITERATIVE else 1e-6
            _close(got[key], value, rtol=rtol)


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.stem)
def test_confint_regtest_trimfill_leave1out(path: Path) -> None:
    ref = _load(path)
    res = rma(ref["yi"], ref["vi"], method="REML")
    ci = confint(res)
    for key in ("tau2", "I2", "H2"):
        _close(getattr(ci, key), ref["confint_REML"][key])
    rg = regtest(res)
    want = ref["regtest_REML_sei"]
    _close([rg.zval, rg.pval, rg.limit], [want["zval"], want["pval"], want["limit"]])
    tf = trimfill(rma(ref["yi"], ref["vi"], method="EE"))
    want = ref["trimfill_EE"]
    assert tf.k0 == want["k0"]
    assert tf.side == want["side"]
    _close([tf.estimate, tf.se], [want["estimate"], want["se"]])
    l1 = leave1out(res)
    _close(l1.estimate, ref["leave1out_REML"]["estimate"])
    _close(l1.tau2, ref["leave1out_REML"]["tau2"], rtol=1e-5)


@pytest.mark.parametrize(
    "path", [p for p in FILES if "metareg_REML" in _load(p)], ids=lambda p: p.stem
)
def test_metaregression_matches_metafor(path: Path) -> None:
    ref = _load(path)
    want = ref["metareg_REML"]
    mods = want["mods"] if isinstance(want["mods"], list) else [want["mods"]]
    data = pd.read_csv(path.with_suffix(".csv"))
    res = rma(ref["yi"], ref["vi"], mods=data[mods])
    _close(res.coef, want["coef"])
    _close(res.se_coef, want["se"])
    _close(res.tau2, want["tau2"], rtol=1e-5)
    for key in ("I2", "R2", "QM", "QE"):
        _close(getattr(res, key), want[key], rtol=1e-5 if key in ("I2", "R2") else 1e-6)
    assert res.coef_names == ["intrcpt", *mods]


def test_bcg_published_values() -> None:
    """Independent check: dat.bcg numbers printed in metafor's docs (4 d.p., stats.md §1.4-1.5)."""
    ref = _load(REF / "bcg.json")
    res = rma(ref["yi"], ref["vi"])
    assert round(res.se_tau2, 4) == 0.1664
    ml = rma(ref["yi"], ref["vi"], method="ML")
    assert round(ml.se_tau2, 4) == 0.1443
    # REML subgroup by allocation (rma.uni help page)
    data = pd.read_csv(REF / "bcg.csv")
    from phantomlab.meta import rma_subgroups

    sub = rma_subgroups(data["yi"], data["vi"], data["alloc"])
    assert np.round(
        sub.groups.loc["random", ["estimate", "se", "tau2"]].to_numpy(float), 4
    ).tolist() == [
        -0.9710,
        0.2760,
        0.3925,
    ]
    common = rma(data["yi"], data["vi"], mods=data[["alloc"]])
    assert round(common.tau2, 4) == 0.3615
    assert round(common.QM, 4) == 1.7675
    assert common.coef_names == ["intrcpt", "allocrandom", "allocsystematic"]
    # Knapp-Hartung with moderators (JSS 2010 vignette): F(3, 9) = 3.4471
    kh = rma(data["yi"], data["vi"], mods=data[["alloc", "ablat"]], test="knha")
    assert round(kh.QM, 4) == 3.4471
    assert round(kh.se_coef[-1], 4) == 0.0095


def test_predict_matches_published_bcg_values() -> None:
    """metafor docs (stats.md §1.4-1.5): RR 0.4894 (0.3441, 0.6962), PI 0.1546-1.5490."""
    data = pd.read_csv(REF / "bcg.csv")
    res = rma(data["yi"], data["vi"])
    p = res.predict(transf=np.exp).round(4).iloc[0]
    assert [p.pred, p.ci_lb, p.ci_ub, p.pi_lb, p.pi_ub] == [0.4894, 0.3441, 0.6962, 0.1546, 1.5490]
    mr = rma(data["yi"], data["vi"], mods=data[["ablat", "year"]])
    q = mr.predict(newmods=[[10, 1970], [60, 1970]], transf=np.exp).round(4)
    assert q["pred"].tolist() == [0.9345, 0.2303]
    assert [q.pi_lb[0], q.pi_ub[0]] == [0.4179, 2.0899]
    assert np.isnan(rma(data["yi"], data["vi"], method="EE").predict()["pi_lb"][0])
