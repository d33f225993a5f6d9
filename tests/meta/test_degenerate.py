"""Degenerate input: metafor's answer where it gives one, a clear InputError where it stops.

References: ``metafor_reference/degenerate/degenerate.json``, made by ``degenerate.R``
(R 4.2.2, metafor 3.8-1). Never a ZeroDivisionError, OverflowError, LinAlgError or a
silent NaN (issue #21, point 8).
"""

from __future__ import annotations

import json
import warnings
from pathlib import Path
from typing import Any

import matplotlib
import numpy as np
import pytest

from phantomlab.exceptions import InputError
from phantomlab.meta import MetaAnalysisWarning, confint, funnel, leave1out, regtest, rma, trimfill

matplotlib.use("Agg")

REF = json.loads(
    (Path(__file__).parent / "metafor_reference" / "degenerate" / "degenerate.json").read_text()
)
DATA: dict[str, tuple[list[float], list[float]]] = {
    "vi_1e300": ([0.1, 0.5, 0.3], [1e300] * 3),
    "yi_inf": ([np.inf, 0.5, 0.3], [0.01, 0.01, 0.03]),
    "yi_1e200": ([1e200, -1e200, 3.0], [1.0, 1.0, 1.0]),
    "yi_na": ([np.nan, 0.5, 0.3], [0.01, 0.01, 0.03]),
    "vi_inf_hom": ([0.1, 0.2, 0.3, 0.4], [0.01, 0.02, 0.03, np.inf]),
    "vi_inf_het": ([0.1, 0.5, 0.3, 0.9, 0.2], [0.01, 0.02, 0.03, 0.015, np.inf]),
}
INF_FIT = ([0.1, 0.5, 0.3, 0.9, 0.2, 0.4], [0.01, 0.02, 0.03, 0.015, np.inf, 0.02])
TF: dict[str, tuple[list[float], list[float], str, str | None]] = {
    "trimfill_k2_EE": ([0.1, 0.5], [0.01, 0.02], "EE", None),
    "trimfill_k2_REML": ([0.1, 0.5], [0.01, 0.02], "REML", None),
    "trimfill_k2_DL": ([0.1, 0.5], [0.01, 0.02], "DL", None),
    "trimfill_k2_REML_left": ([0.1, 0.5], [0.01, 0.02], "REML", "left"),
    "trimfill_k2_REML_right": ([0.1, 0.5], [0.01, 0.02], "REML", "right"),
    "trimfill_equal_vi_REML": ([0.1, 0.5, 0.3, 0.2], [0.01] * 4, "REML", None),
    "trimfill_equal_vi_EE": ([0.1, 0.5, 0.3, 0.2], [0.01] * 4, "EE", None),
}


def _compare(res: Any, ref: dict[str, Any]) -> None:
    assert res.estimate == pytest.approx(ref["estimate"], rel=1e-9)
    assert res.se == pytest.approx(ref["se"], rel=1e-9)
    assert res.tau2 == pytest.approx(ref["tau2"], rel=1e-6, abs=1e-12)
    assert res.k == ref["k"]
    for name in ("QE", "I2", "H2"):
        if name in ref:
            want = ref[name]
            want = float(want) if isinstance(want, str) else (np.nan if want is None else want)
            assert getattr(res, name) == pytest.approx(want, rel=1e-9, abs=1e-12, nan_ok=True), name


@pytest.mark.parametrize("name", [k for k in REF if k.rsplit("_", 1)[0] in DATA])
def test_rma_degenerate_matches_metafor(name: str) -> None:
    data, method = name.rsplit("_", 1)
    yi, vi = DATA[data]
    ref = REF[name]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if "error" in ref or data == "yi_inf":
            # metafor stops (or, for EE, returns an infinite estimate): a clear InputError
            with pytest.raises(InputError) as exc:
                rma(yi, vi, method=method)
            assert len(exc.value.problems) == 1
        else:
            _compare(rma(yi, vi, method=method), ref)


@pytest.mark.parametrize("name", list(TF))
def test_trimfill_degenerate_matches_metafor(name: str) -> None:
    yi, vi, method, side = TF[name]
    ref = REF[name]
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no silent divide-by-zero or NaN on the way
        fit = rma(yi, vi, method=method)
        if "error" in ref:
            with pytest.raises(InputError, match="metafor stops"):
                trimfill(fit, side=side)
        else:
            tf = trimfill(fit, side=side)
            assert tf.k0 == ref["k0"] and tf.side == ref["side"]
            assert tf.estimate == pytest.approx(ref["estimate"], rel=1e-9)
            assert tf.se == pytest.approx(ref["se"], rel=1e-8)


def test_infinite_variance_is_kept_with_weight_zero_and_said() -> None:
    """As metafor: the study stays (k and the degrees of freedom count it) with weight 0."""
    with pytest.warns(MetaAnalysisWarning, match="infinite sampling variance"):
        res = rma([0.1, 0.5, 0.3], [np.inf, 0.01, 0.03], method="DL")
    assert res.k == 3 and res.weights[0] == 0.0
    # the estimate is the fit of the two finite studies; only df (and so tau^2) differ
    two = rma([0.5, 0.3], [0.01, 0.03], method="EE")
    assert rma([0.1, 0.5, 0.3], [np.inf, 0.01, 0.03], method="EE").estimate == pytest.approx(
        two.estimate, rel=1e-12
    )


def test_negative_infinite_variance_is_refused() -> None:
    with pytest.raises(InputError, match="not positive"):
        rma([0.1, 0.5, 0.3], [-np.inf, 0.01, 0.03])


def _inf_fit() -> Any:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return rma(*INF_FIT, method="DL")


def test_leave1out_and_confint_with_infinite_variance_match_metafor() -> None:
    fit = _inf_fit()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        l1o = leave1out(fit).to_frame()
        ci = confint(fit).to_frame()
    ref = REF["vi_inf_leave1out_DL"]
    assert l1o["estimate"].to_numpy() == pytest.approx(ref["estimate"], rel=1e-9)
    assert l1o["tau2"].to_numpy() == pytest.approx(ref["tau2"], rel=1e-9)
    assert ci.iloc[0].to_numpy() == pytest.approx(REF["vi_inf_confint_DL"]["tau2"], rel=1e-6)


@pytest.mark.parametrize("what", ["trimfill", "regtest", "funnel"])
def test_functions_metafor_stops_on_refuse_an_infinite_variance(what: str) -> None:
    fit = _inf_fit()
    assert "error" in REF["vi_inf_trimfill_DL"] and "error" in REF["vi_inf_regtest_DL"]
    fn = {"trimfill": trimfill, "regtest": regtest, "funnel": funnel}[what]
    with pytest.raises(InputError, match=f"{what} needs every study's variance"):
        fn(fit)


@pytest.mark.parametrize(
    ("yi", "vi"),
    [
        ([1e154, -1e154, 1.0], [1.0, 1.0, 1.0]),
        ([0.1, 0.2, 0.3], [1e-99, 1e-99, 1e-99]),
        ([0.1, 0.2, 0.3], [1e299, 1e299, 1e299]),
        ([1e-300, 2e-300, 0.0], [1e-99, 1e-98, 1e-97]),
    ],
)
@pytest.mark.parametrize("method", ["EE", "DL", "REML", "ML", "PM", "HS", "SJ", "EB", "HE"])
def test_extreme_values_give_finite_answer_or_input_error(
    yi: list[float], vi: list[float], method: str
) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            res = rma(yi, vi, method=method)
        except InputError:
            return
    assert np.isfinite([res.estimate, res.se, res.tau2]).all()
