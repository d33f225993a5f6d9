"""Multiple imputation against R mice 3.15 (tests/trials/r_reference/mi_reference.R).

* Rubin's rules exactly (1e-10): ``mice::pool`` of ``lm`` fits to the 5 data sets
  phantomlab completed, and ``mice::pool.scalar`` on random inputs.
* The whole MI statistically: mice's ``norm`` method within arm (m = 2000) and
  ours (m = 2000, another random stream) agree within Monte Carlo error: the
  pooled estimate within 4 MC standard errors of the difference
  (``sqrt(B/m_R + B/m_py)``, about 0.007 NRS points here), the total SE within 3 %.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from phantomlab.exceptions import InputError
from phantomlab.trials.imputation import (
    ancova_completed,
    impute_primary,
    multiple_imputation,
    rubin_pool,
)

HERE = Path(__file__).parent / "r_reference"
REF = json.loads((HERE / "mi_reference.json").read_text())


def _design():
    import importlib.util

    spec = importlib.util.spec_from_file_location("mi_make_data", HERE / "mi_make_data.py")
    assert spec and spec.loader
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod.design()


def _wide(name: str) -> pd.DataFrame:
    w = pd.read_csv(HERE / name, dtype={"patient": str}).set_index("patient")
    return w


def test_rubin_pool_matches_mice_pool_on_our_completed_data() -> None:
    d = _design()
    done = _wide("mi_completed.csv")
    y = done[[f"y{i}" for i in range(1, 6)]].to_numpy().T
    est, var, dfcom, names = ancova_completed(done, y, d)
    assert names == ["active - sham"]
    got = rubin_pool(est, var, dfcom, 0.05, names).iloc[0]
    ref = REF["pool_completed"]
    i = ref["term"].index("armactive")
    for key in ("estimate", "ubar", "b", "t", "dfcom", "df", "riv", "lambda", "fmi"):
        assert got[key] == pytest.approx(ref[key][i], rel=1e-10), key
    for key in ("ci_low", "ci_high", "p"):
        assert got[key] == pytest.approx(ref[key][i], rel=1e-9), key


@pytest.mark.parametrize("case", REF["pool_scalar"], ids=lambda c: f"m{c['m']}-df{c['dfcom']}")
def test_rubin_pool_matches_mice_pool_scalar(case: dict) -> None:
    dfcom = math.inf if case["dfcom"] == "Inf" else float(case["dfcom"])
    got = rubin_pool(np.array(case["q"]), np.array(case["u"]), dfcom).iloc[0]
    for ours, theirs in [
        ("estimate", "qbar"),
        ("ubar", "ubar"),
        ("b", "b"),
        ("t", "t"),
        ("df", "df"),
        ("riv", "r"),
        ("fmi", "fmi"),
    ]:
        assert got[ours] == pytest.approx(case[theirs], rel=1e-10), ours


def test_whole_mi_agrees_with_mice_within_mc_error() -> None:
    d = _design()
    wide = _wide("mi_trial.csv")
    res = multiple_imputation(wide, d, m=2000, seed=20261208)
    got = res.pooled.iloc[0]
    ref = REF["mice_norm"]
    i = ref["term"].index("armactive")
    mc = math.sqrt(ref["b"][i] / ref["m"] + got["b"] / 2000)
    assert abs(got["estimate"] - ref["estimate"][i]) < 4 * mc
    assert got["se"] == pytest.approx(math.sqrt(ref["t"][i]), rel=0.03)
    assert got["fmi"] == pytest.approx(ref["fmi"][i], abs=0.05)
    assert got["df"] == pytest.approx(ref["df"][i], rel=0.15)


def test_mi_without_missing_is_the_ancova_and_same_seed_same_bits() -> None:
    """No missing values: every imputation is the data, B = 0, and MI equals ancova()."""
    from phantomlab.trials import ancova

    d = _design()
    wide = _wide("mi_trial.csv").dropna(subset=["primary"])
    res = multiple_imputation(wide, d, m=3, seed=1)
    ref = ancova(wide, d).iloc[0]
    got = res.pooled.iloc[0]
    assert got["estimate"] == pytest.approx(ref["estimate"], rel=1e-12)
    assert got["se"] == pytest.approx(ref["se"], rel=1e-12)
    assert got["b"] == pytest.approx(0.0, abs=1e-20)
    full = _wide("mi_trial.csv")
    a = impute_primary(full, d, m=4, seed=5).values
    b = impute_primary(full, d, m=4, seed=5).values
    assert np.array_equal(a, b)
    assert not np.array_equal(a, impute_primary(full, d, m=4, seed=6).values)


def test_imputation_draws_follow_the_posterior_predictive() -> None:
    """Imputed values in an arm have the regression's predictive mean (ablation: the
    between-imputation variance vanishes when the parameter draws are switched off,
    i.e. for a single missing patient with noise-free observed data)."""
    d = _design()
    wide = _wide("mi_trial.csv")
    imp = impute_primary(wide, d, m=4000, seed=3)
    w = imp.wide
    obs = w[~imp.missing & (w["arm"] == "active")]
    x = np.column_stack(
        [np.ones(len(obs)), obs["baseline"]]
        + [(obs["center"] == c).to_numpy(float) for c in ("c2", "c3", "c4")]
    )
    beta = np.linalg.lstsq(x, obs["primary"].to_numpy(), rcond=None)[0]
    mis = w[imp.missing]
    cols = (mis["arm"] == "active").to_numpy()
    xm = np.column_stack(
        [np.ones(len(mis)), mis["baseline"]]
        + [(mis["center"] == c).to_numpy(float) for c in ("c2", "c3", "c4")]
    )[cols]
    mean_imp = imp.values[:, cols].mean(axis=0)
    sd_imp = imp.values[:, cols].std(axis=0)
    assert np.all(np.abs(mean_imp - xm @ beta) < 4 * sd_imp / math.sqrt(4000))
    # exact-fit ablation: a perfectly linear arm leaves no residual, so no spread
    exact = wide.copy()
    act = exact["arm"] == "active"
    exact.loc[act & exact["primary"].notna(), "primary"] = 1.0 + 0.5 * exact["baseline"]
    e = impute_primary(exact, d, m=50, seed=3)
    act_cols = (e.wide["arm"][e.missing] == "active").to_numpy()
    assert e.values[:, act_cols].std(axis=0).max() < 1e-9


def test_bad_input_one_clear_error() -> None:
    d = _design()
    wide = _wide("mi_trial.csv")
    with pytest.raises(InputError, match="imputations"):
        impute_primary(wide, d, m=1)
    few = wide[(wide["arm"] == "sham") | wide["primary"].isna()].copy()
    few = pd.concat([few, wide[(wide["arm"] == "active") & wide["primary"].notna()].head(3)])
    with pytest.raises(InputError, match="too few observed patients to impute"):
        impute_primary(few, d, m=5)
    with pytest.raises(InputError, match="imputations"):
        rubin_pool(np.array([1.0]), np.array([0.1]))


def test_mi_uses_the_stratified_ancova() -> None:
    """With stratification factors (the committed MMRM reference trial, severity x center):
    complete data give the stratified ANCOVA exactly; with its dropout the MI runs and
    its imputation model holds severity (ablation: analysis.strata none changes it)."""
    from phantomlab.trials import analyze, ancova, load_design, prepare, to_wide

    d = load_design(HERE / "design.yaml")
    data = pd.read_csv(HERE / "trial.csv")
    wide = to_wide(prepare(data, d), d)
    assert "severity" in wide.columns and wide["primary"].isna().any()
    full = wide.dropna(subset=["primary"])
    got = multiple_imputation(full, d, m=3, seed=1).pooled.iloc[0]
    ref = ancova(full, d)
    assert ref.attrs["adjusted_for"] == ["severity", "center"]
    assert got["estimate"] == pytest.approx(ref.iloc[0]["estimate"], rel=1e-12)
    assert got["se"] == pytest.approx(ref.iloc[0]["se"], rel=1e-12)
    res = analyze(data, d, analyses=("ancova", "mi"))
    mi = res.effects[res.effects["analysis"] == "mi"].iloc[0]
    assert np.isfinite(mi["estimate"]) and mi["df"] > 0
    # imputed means follow the within-arm regression WITH severity, not the one without
    imp = impute_primary(wide, d, m=4000, seed=2)
    w = imp.wide
    arm = (w["arm"] == "active").to_numpy()
    obs, mis = arm & ~imp.missing, arm & imp.missing

    def design_x(sev: bool) -> np.ndarray:
        cols = [np.ones(len(w)), w["baseline"].to_numpy(float)]
        cols += [(w["severity"] == "severe").to_numpy(float)] if sev else []
        return np.column_stack(cols + [(w["center"] == c).to_numpy(float) for c in "BCD"])

    y = w["primary"].to_numpy(float)
    got = imp.values[:, (w["arm"] == "active").to_numpy()[imp.missing]]
    mc = got.std(axis=0) / np.sqrt(4000)
    for sev, close in ((True, True), (False, False)):
        x = design_x(sev)
        pred = x[mis] @ np.linalg.lstsq(x[obs], y[obs], rcond=None)[0]
        assert bool(np.all(np.abs(got.mean(axis=0) - pred) < 4 * mc)) is close
