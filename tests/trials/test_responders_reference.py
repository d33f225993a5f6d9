"""2x2 responder measures against R (tests/trials/r_reference/responders_reference.R).

R 4.2.2: ``fisher.test`` for the conditional odds ratio and Fisher's p; Newcombe's
method 10 and Koopman's score interval coded by hand in R from the papers'
formulas (PropCIs is not installed), Koopman's restricted MLE maximised
numerically there (closed form here), so the two routes are independent.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from phantomlab.exceptions import InputError
from phantomlab.trials import load_design
from phantomlab.trials.responders import (
    koopman_rr_ci,
    newcombe_rd_ci,
    responder_analysis,
    two_by_two,
    wilson_ci,
)

REF = json.loads((Path(__file__).parent / "r_reference" / "responders_reference.json").read_text())[
    "cases"
]
IDS = [f"{c['r1']}/{c['n1']}-{c['r2']}/{c['n2']}@{c['conf']}" for c in REF]


def _num(v: object) -> float:
    return math.inf if v == "Inf" else float(v)  # type: ignore[arg-type]


@pytest.mark.parametrize("c", REF, ids=IDS)
def test_two_by_two_matches_r(c: dict) -> None:
    res = two_by_two(c["r1"], c["n1"], c["r2"], c["n2"], alpha=1 - c["conf"])
    tol = {"rel": 1e-6, "abs": 1e-9}
    assert res.rd_ci == pytest.approx((c["rd_low"], c["rd_high"]), **tol)
    assert res.fisher_p == pytest.approx(c["fisher_p"], rel=1e-9)
    # exact conditional OR: the same equations solved to 1e-14 in R
    assert res.odds_ratio == pytest.approx(_num(c["or_exact"]), **tol)
    assert res.or_ci == pytest.approx((c["or_exact_low"], _num(c["or_exact_high"])), **tol)
    # fisher.test itself stops uniroot at its default tolerance (~1e-4 on t or 1/t)
    assert res.or_ci == pytest.approx((c["or_low"], _num(c["or_high"])), rel=1e-2)
    if c["rr_low"] is not None:
        assert res.rr_ci == pytest.approx((c["rr_low"], c["rr_high"]), **tol)


def test_newcombe_table_ii_example_and_statsmodels() -> None:
    """56/70 vs 48/80 (Newcombe 1998's first example); statsmodels' 'newcomb' agrees."""
    from statsmodels.stats.proportion import confint_proportions_2indep

    for k in [(56, 70, 48, 80), (9, 10, 3, 10), (0, 15, 4, 16), (20, 20, 7, 9)]:
        ours = newcombe_rd_ci(*k)
        sm = confint_proportions_2indep(*k, method="newcomb", compare="diff")
        assert ours == pytest.approx(tuple(map(float, sm)), abs=1e-12)
        if 0 < k[0] < k[1] and 0 < k[2] < k[3]:  # statsmodels' ratio score CI is
            rr = koopman_rr_ci(*k)  # off at p = 1 (R agrees with ours there, above)
            sm_rr = confint_proportions_2indep(
                *k, method="score", compare="ratio", correction=False
            )
            assert rr == pytest.approx(tuple(map(float, sm_rr)), rel=1e-7)


def test_intervals_contain_estimate_and_wilson_properties() -> None:
    rng = np.random.default_rng(3)
    for _ in range(40):
        n1, n2 = rng.integers(1, 60, 2)
        r1, r2 = rng.integers(0, n1 + 1), rng.integers(0, n2 + 1)
        res = two_by_two(int(r1), int(n1), int(r2), int(n2))
        assert res.rd_ci[0] <= res.risk_difference <= res.rd_ci[1]
        assert -1 <= res.rd_ci[0] and res.rd_ci[1] <= 1
        if 0 < r2 and 0 < r1:
            assert res.rr_ci[0] <= res.risk_ratio <= res.rr_ci[1]
        assert res.or_ci[0] <= res.odds_ratio <= res.or_ci[1]
        lo, hi = wilson_ci(int(r1), int(n1))
        assert 0 <= lo <= r1 / n1 <= hi <= 1
    # wider at a higher level; swapping the groups mirrors the RD and inverts RR/OR
    a, b = two_by_two(12, 40, 5, 40, 0.05), two_by_two(12, 40, 5, 40, 0.01)
    assert b.rd_ci[0] < a.rd_ci[0] and b.rd_ci[1] > a.rd_ci[1]
    s = two_by_two(5, 40, 12, 40)
    assert s.rd_ci == pytest.approx((-a.rd_ci[1], -a.rd_ci[0]), abs=1e-12)
    assert s.rr_ci == pytest.approx((1 / a.rr_ci[1], 1 / a.rr_ci[0]), rel=1e-9)
    assert s.or_ci == pytest.approx((1 / a.or_ci[1], 1 / a.or_ci[0]), rel=1e-7)


def test_no_difference_gives_intervals_around_null() -> None:
    """Ablation: identical arms give RD 0, RR 1, OR 1 and p = 1 (no effect, no signal)."""
    res = two_by_two(15, 40, 15, 40)
    assert res.risk_difference == 0 and res.risk_ratio == 1
    assert res.odds_ratio == pytest.approx(1.0, abs=1e-9)
    assert res.fisher_p == pytest.approx(1.0)
    assert res.rd_ci[0] < 0 < res.rd_ci[1] and res.rr_ci[0] < 1 < res.rr_ci[1]


@pytest.mark.parametrize("bad", [(5, 4, 1, 4), (-1, 4, 1, 4), (1, 0, 1, 4), (1.5, 4, 1, 4)])
def test_bad_counts_one_clear_error(bad: tuple) -> None:
    with pytest.raises(InputError, match="counts"):
        two_by_two(*bad)


def test_responder_table_has_exact_columns() -> None:
    design_small = load_design(
        {
            "arms": [{"name": "sham", "sham": True}, {"name": "active"}],
            "outcome": {"visits": [0, 6], "primary_week": 6},
            "n_per_arm": 20,
        }
    )
    wide = pd.DataFrame(
        {
            "arm": ["active"] * 20 + ["sham"] * 20,
            "baseline": 6.0,
            "reduction": [0.6] * 9 + [0.35] * 4 + [0.0] * 7 + [0.55] * 3 + [0.31] * 3 + [0.1] * 14,
        }
    )
    t = responder_analysis(wide, design_small)
    row = t[(t["threshold"] == 0.3) & (t["arm"] == "active")].iloc[0]
    ref = two_by_two(13, 20, 6, 20)
    assert row["rd_newcombe_low"] == ref.rd_ci[0] and row["or_exact_high"] == ref.or_ci[1]
    assert row["fisher_p"] == ref.fisher_p
    row50 = t[(t["threshold"] == 0.5) & (t["arm"] == "active")].iloc[0]
    assert row50["rr"] == pytest.approx(3.0)
