"""Delta-adjusted tipping-point analysis: analytic properties and an independent refit."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from phantomlab.exceptions import InputError
from phantomlab.trials.imputation import impute_primary, multiple_imputation
from phantomlab.trials.tipping import tipping_point

HERE = Path(__file__).parent / "r_reference"


@pytest.fixture(scope="module")
def trial():
    spec = importlib.util.spec_from_file_location("mi_make_data", HERE / "mi_make_data.py")
    assert spec and spec.loader
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    wide = pd.read_csv(HERE / "mi_trial.csv", dtype={"patient": str}).set_index("patient")
    return wide, mod.design()


def test_delta_zero_is_the_mi_result_and_estimate_is_linear(trial) -> None:
    wide, d = trial
    mi = multiple_imputation(wide, d, m=40, seed=9)
    tp = tipping_point(wide, d, np.linspace(0, 4, 9), imputations=mi.imputations)
    t0 = tp.table[tp.table["delta"] == 0].iloc[0]
    ref = mi.pooled.iloc[0]
    for k in ("estimate", "se", "df", "p"):
        assert t0[k] == pytest.approx(ref[k], rel=1e-12)
    # seed instead of imputations: same draws, same numbers
    tp2 = tipping_point(wide, d, np.linspace(0, 4, 9), m=40, seed=9)
    pd.testing.assert_frame_equal(tp.table, tp2.table)
    # ANCOVA is linear in y: slope = sum of the treatment row of (X'X)^-1 X' over
    # the missing treated patients (independent numpy computation)
    w = mi.imputations.wide
    x = np.column_stack(
        [np.ones(len(w)), (w["arm"] == "active").to_numpy(float), w["baseline"]]
        + [(w["center"] == c).to_numpy(float) for c in ("c2", "c3", "c4")]
    )
    hat_row = np.linalg.solve(x.T @ x, x.T)[1]
    mis_act = mi.imputations.missing & (w["arm"] == "active").to_numpy()
    slope = hat_row[mis_act].sum()
    est = tp.table["estimate"].to_numpy()
    assert np.diff(est) / 0.5 == pytest.approx(np.full(8, slope), rel=1e-9)
    # the treatment effect (negative = less pain) shrinks, p rises monotonically
    assert np.all(np.diff(tp.table["p"]) > 0)


def test_tipping_point_is_where_p_reaches_alpha_by_independent_refit(trial) -> None:
    import statsmodels.api as sm

    wide, d = trial
    imp = impute_primary(wide, d, m=30, seed=4)
    tp = tipping_point(wide, d, m=30, seed=4)
    delta = tp.tipping["active - sham"]
    assert 0 < delta < 5
    # independent: shift, refit each completed set with statsmodels, pool by hand
    w = imp.wide
    act = (w["arm"] == "active").to_numpy()[imp.missing]
    x = sm.add_constant(
        np.column_stack(
            [(w["arm"] == "active").to_numpy(float), w["baseline"]]
            + [(w["center"] == c).to_numpy(float) for c in ("c2", "c3", "c4")]
        )
    )
    q, u = [], []
    for y in imp.completed(delta * act):
        fit = sm.OLS(y, x).fit()
        q.append(fit.params[1])
        u.append(fit.bse[1] ** 2)
    q, u = np.array(q), np.array(u)
    m, dfcom = len(q), fit.df_resid
    b, ubar = q.var(ddof=1), u.mean()
    t = ubar + (1 + 1 / m) * b
    lam = (1 + 1 / m) * b / t
    dfold = (m - 1) / lam**2
    dfobs = (dfcom + 1) / (dfcom + 3) * dfcom * (1 - lam)
    from scipy import stats

    p = 2 * stats.t.sf(abs(q.mean()) / np.sqrt(t), dfold * dfobs / (dfold + dfobs))
    assert p == pytest.approx(d.analysis.alpha, abs=1e-8)


def test_ablation_no_missing_treated_no_tipping(trial) -> None:
    """Switch the mechanism off: with no missing values in the treated arm the shift
    touches nothing, the estimate is flat in delta and there is no tipping point."""
    wide, d = trial
    w = wide[(wide["arm"] == "sham") | wide["primary"].notna()]
    tp = tipping_point(w, d, [0, 1, 2, 5], m=10, seed=1)
    assert np.ptp(tp.table["estimate"]) < 1e-12
    assert np.isnan(tp.tipping["active - sham"])
    assert "whole grid" in tp.notes["active - sham"]
    assert "no tipping point" in tp.summary()


def test_control_shift_moves_the_other_way_and_not_significant_case(trial) -> None:
    wide, d = trial
    a = tipping_point(wide, d, [0, 1], m=20, seed=2)
    b = tipping_point(wide, d, [0, 1], m=20, seed=2, control_shift=1.0)
    # worse pain among control dropouts makes the treated arm look better
    assert b.table["estimate"].iloc[0] < a.table["estimate"].iloc[0]
    # a trial without effect: no tipping point because p >= alpha under MAR
    null = wide.copy()
    null.loc[null["arm"] == "active", "primary"] += 1.75
    n = tipping_point(null, d, [0, 1], m=20, seed=2)
    assert np.isnan(n.tipping["active - sham"]) and "under MAR" in n.notes["active - sham"]
    fig = a.plot()
    assert len(fig.axes) == 2


@pytest.mark.parametrize("bad", [[-1.0, 1.0], [float("nan")], []])
def test_bad_grid_one_clear_error(trial, bad) -> None:
    wide, d = trial
    with pytest.raises(InputError, match="deltas"):
        tipping_point(wide, d, bad, m=5, seed=1)


def test_three_arms_each_contrast_and_center_without_observed(trial) -> None:
    """Two treated arms: one row per contrast and delta; a center whose treated patients
    are all missing is imputed without center (no silent reference-center guess)."""
    from phantomlab.trials import load_design

    wide, _ = trial
    d3 = load_design(
        {
            "arms": [{"name": "sham", "sham": True}, {"name": "active"}, {"name": "b"}],
            "centers": [{"name": f"c{i}"} for i in range(1, 5)],
            "outcome": {"visits": [0, 4, 8], "primary_week": 8},
            "n_per_arm": 40,
        }
    )
    w = wide.copy()
    idx = w.index[w["arm"] == "active"][::2]
    w.loc[idx, "arm"] = "b"
    w.loc[(w["arm"] == "b") & (w["center"] == "c4"), "primary"] = np.nan
    tp = tipping_point(w, d3, [0, 1, 2], m=10, seed=1)
    assert list(tp.table["contrast"].unique()) == ["active - sham", "b - sham"]
    assert len(tp.table) == 6 and np.all(np.isfinite(tp.table["estimate"]))
    for _, t in tp.table.groupby("contrast"):
        assert np.diff(t["estimate"], 2) == pytest.approx([0.0], abs=1e-10)
    # the fallback model: arm b's c4 patients get the baseline-only prediction of arm b
    imp = impute_primary(w, d3, m=3000, seed=2)
    iw = imp.wide
    ob = iw[(iw["arm"] == "b") & ~imp.missing]
    beta = np.polyfit(ob["baseline"], ob["primary"], 1)
    cols = ((iw["arm"] == "b") & (iw["center"] == "c4")).to_numpy()[imp.missing]
    got = imp.values[:, cols].mean(axis=0)
    want = np.polyval(beta, iw.loc[imp.missing].loc[cols, "baseline"].to_numpy())
    sd = imp.values[:, cols].std(axis=0)
    assert np.all(np.abs(got - want) < 4 * sd / np.sqrt(3000))
