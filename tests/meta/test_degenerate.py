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

import numpy as np
import pytest

from phantomlab.exceptions import InputError
from phantomlab.meta import rma, trimfill

REF = json.loads(
    (Path(__file__).parent / "metafor_reference" / "degenerate" / "degenerate.json").read_text()
)
DATA: dict[str, tuple[list[float], list[float]]] = {
    "vi_1e300": ([0.1, 0.5, 0.3], [1e300] * 3),
    "yi_inf": ([np.inf, 0.5, 0.3], [0.01, 0.01, 0.03]),
    "yi_1e200": ([1e200, -1e200, 3.0], [1.0, 1.0, 1.0]),
    "yi_na": ([np.nan, 0.5, 0.3], [0.01, 0.01, 0.03]),
}
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


@pytest.mark.parametrize("name", [k for k in REF if not k.startswith("trimfill")])
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


def test_infinite_study_is_not_dropped_silently() -> None:
    with pytest.raises(InputError, match="infinite"):
        rma([0.1, 0.5, 0.3], [np.inf, 0.01, 0.03])


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
