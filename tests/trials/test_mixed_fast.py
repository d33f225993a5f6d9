"""Closed-form REML of the balanced random-intercept model against statsmodels MixedLM."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

from phantomlab.trials import ParametricTrialModel, load_design, mixed_model, prepare
from phantomlab.trials._mixed import balanced_random_intercept_reml


def _design(center: str = "fixed", **sim):
    return load_design(
        {
            "name": "fast-mixed",
            "arms": [{"name": "sham", "sham": True}, {"name": "a"}, {"name": "b"}],
            "centers": [{"name": f"c{k}"} for k in range(3)],
            "outcome": {
                "visits": [0, 2, 4, 8, 12],
                "primary_week": 12,
                "scale_min": -100,
                "scale_max": 100,
            },
            "analysis": {"primary": "mixed", "center": center},
            "simulation": {"dropout": 0.0, "clip": False, **sim},
        }
    )


def _statsmodels_fit(df: pd.DataFrame, center: bool = True):
    """Independent fit: statsmodels formula interface, tight BFGS convergence."""
    import statsmodels.formula.api as smf

    base = df[df["week"] == 0].set_index("patient")["pain"]
    post = df[df["week"] > 0].assign(baseline=lambda t: t["patient"].map(base))
    formula = "pain ~ C(arm, Treatment('sham')) * C(week, Treatment(12.0)) + baseline"
    if center:
        formula += " + C(center)"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fit = smf.mixedlm(formula, post, groups="patient").fit(reml=True, method="bfgs", gtol=1e-10)
    return fit


@pytest.mark.parametrize(
    ("seed", "sim"),
    [
        (1, {}),
        (2, {"icc": 0.3, "rho": 0.3}),
        (3, {"icc": 0.8, "rho": 0.6, "sd": 1.0}),
        (4, {"icc": 0.05, "rho": 0.0}),
    ],
)
def test_closed_form_equals_statsmodels_interior(seed, sim):
    d = _design(**sim)
    df = prepare(ParametricTrialModel(d).simulate(20, seed), d)
    res = mixed_model(df, d)
    assert res.attrs["method"] == "closed_form"
    fit = _statsmodels_fit(df)  # gtol=1e-10 is below what BFGS certifies: no converged check
    tau2 = float(np.asarray(fit.cov_re)[0, 0])
    assert tau2 > 1e-3  # interior optimum in these data
    for i, arm in enumerate(["a", "b"]):
        key = f"C(arm, Treatment('sham'))[T.{arm}]"
        assert res["estimate"].iloc[i] == pytest.approx(fit.fe_params[key], rel=1e-8)
        assert res["se"].iloc[i] == pytest.approx(fit.bse_fe[key], rel=1e-5)
    vc = res.attrs["variance_components"]
    assert vc["residual"] == pytest.approx(fit.scale, rel=1e-5)
    assert vc["patient"] == pytest.approx(tau2, rel=1e-5)
    # and the statsmodels path of mixed_model itself (default optimizer) agrees closely
    slow = mixed_model(df, d, fast=False)
    assert slow.attrs["method"] == "statsmodels"
    np.testing.assert_allclose(res["estimate"], slow["estimate"], rtol=1e-6)
    np.testing.assert_allclose(res["se"], slow["se"], rtol=1e-3)


def test_closed_form_no_center_term_equals_statsmodels():
    d = _design(center="none")
    df = prepare(ParametricTrialModel(d).simulate(15, 11), d)
    res = mixed_model(df, d)
    assert res.attrs["method"] == "closed_form"
    fit = _statsmodels_fit(df, center=False)
    key = "C(arm, Treatment('sham'))[T.a]"
    assert res["estimate"].iloc[0] == pytest.approx(fit.fe_params[key], rel=1e-8)
    assert res["se"].iloc[0] == pytest.approx(fit.bse_fe[key], rel=1e-5)


def test_patient_variance_at_zero_boundary():
    """No patient effect in the data: REML puts tau2 at 0 and the model is OLS.

    Independent checks: OLS (statsmodels) estimates, SE and scale; statsmodels'
    own REML log-likelihood is highest at tau2 -> 0 (its optimizer can stop
    short of the boundary, so its estimate is not the reference here)."""
    import statsmodels.api as sm
    from statsmodels.regression.mixed_linear_model import MixedLMParams

    rng = np.random.default_rng(0)
    n, t = 60, 4
    arm = np.repeat(rng.integers(0, 2, n), t).astype(float)
    wk = np.tile(np.arange(t), n)
    base = np.repeat(rng.normal(size=n), t)
    x = np.column_stack(
        [np.ones(n * t), arm]
        + [(wk == k).astype(float) for k in range(1, t)]
        + [arm * (wk == k) for k in range(1, t)]
        + [base]
    )
    # negative within-patient correlation: between-patient mean square < within
    e = rng.normal(size=(n, t))
    e -= 0.5 * e.mean(axis=1, keepdims=True)
    y = x @ rng.normal(size=x.shape[1]) + e.ravel()
    fit = balanced_random_intercept_reml(y, x, n)
    assert fit is not None and fit.boundary and fit.tau2 == 0.0
    ols = sm.OLS(y, x).fit()
    np.testing.assert_allclose(fit.params, ols.params, rtol=1e-10)
    np.testing.assert_allclose(np.sqrt(np.diag(fit.cov)), ols.bse, rtol=1e-10)
    assert fit.sigma2 == pytest.approx(ols.scale, rel=1e-12)
    model = sm.MixedLM(y, x, np.repeat(np.arange(n), t))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model.fit(reml=True)  # sets the optimizer state that loglike needs
    ll = [
        model.loglike(
            MixedLMParams.from_components(fe_params=fit.params, cov_re=np.array([[r]])),
            profile_fe=True,
        )
        for r in (1e-10, 1e-3, 1e-2, 0.1)
    ]
    assert ll[0] == max(ll)


def test_boundary_through_mixed_model_matches_ols():
    import statsmodels.formula.api as smf

    d = _design(icc=0.0, rho=0.0)
    for seed in range(30):
        df = prepare(ParametricTrialModel(d).simulate(25, seed), d)
        res = mixed_model(df, d)
        if res.attrs["variance_components"]["patient"] == 0.0:
            break
    else:
        pytest.fail("no data set with tau2 at the boundary")
    base = df[df["week"] == 0].set_index("patient")["pain"]
    post = df[df["week"] > 0].assign(baseline=lambda t: t["patient"].map(base))
    ols = smf.ols(
        "pain ~ C(arm, Treatment('sham')) * C(week, Treatment(12.0)) + baseline + C(center)",
        post,
    ).fit()
    key = "C(arm, Treatment('sham'))[T.a]"
    assert res["estimate"].iloc[0] == pytest.approx(ols.params[key], rel=1e-8)
    assert res["se"].iloc[0] == pytest.approx(ols.bse[key], rel=1e-8)
    assert res.attrs["variance_components"]["residual"] == pytest.approx(ols.scale, rel=1e-10)


@pytest.mark.parametrize(
    ("seed", "sim"),
    [(1, {"dropout": 0.3}), (2, {"dropout": 0.5, "icc": 0.3, "rho": 0.3}), (3, {"dropout": 0.2})],
)
def test_profiled_reml_with_missed_visits_equals_statsmodels(seed, sim):
    d = _design(**sim)
    df = prepare(ParametricTrialModel(d).simulate(20, seed), d)
    res = mixed_model(df, d)
    assert res.attrs["method"] == "profiled_reml"
    assert res.attrs["se_method"] == "hessian"
    fit = _statsmodels_fit(df)
    tau2 = float(np.asarray(fit.cov_re)[0, 0])
    assert tau2 > 1e-3
    for i, arm in enumerate(["a", "b"]):
        key = f"C(arm, Treatment('sham'))[T.{arm}]"
        assert res["estimate"].iloc[i] == pytest.approx(fit.fe_params[key], rel=1e-6)
        # unbalanced: the fixed/variance cross terms of the Hessian matter here
        assert res["se"].iloc[i] == pytest.approx(fit.bse_fe[key], rel=1e-5)
    vc = res.attrs["variance_components"]
    assert vc["residual"] == pytest.approx(fit.scale, rel=1e-5)
    assert vc["patient"] == pytest.approx(tau2, rel=1e-5)


def test_profiled_reml_boundary_is_ols():
    import statsmodels.api as sm

    from phantomlab.trials._mixed import random_intercept_reml

    rng = np.random.default_rng(5)
    n, t = 50, 4
    g = np.repeat(np.arange(n), t)
    x = np.column_stack(
        [np.ones(n * t), np.repeat(rng.integers(0, 2, n), t), rng.normal(size=n * t)]
    )
    e = rng.normal(size=(n, t))
    e -= 0.6 * e.mean(axis=1, keepdims=True)  # negative intra-patient correlation
    y = x @ [1.0, 0.5, -0.2] + e.ravel()
    keep = rng.random(n * t) > 0.2
    fit = random_intercept_reml(y[keep], x[keep], g[keep])
    assert fit is not None and fit.boundary and fit.tau2 == 0.0
    ols = sm.OLS(y[keep], x[keep]).fit()
    np.testing.assert_allclose(fit.params, ols.params, rtol=1e-10)
    np.testing.assert_allclose(np.sqrt(np.diag(fit.cov)), ols.bse, rtol=1e-10)


def test_balanced_and_profiled_paths_agree():
    from phantomlab.trials._mixed import random_intercept_reml

    d = _design()
    df = prepare(ParametricTrialModel(d).simulate(15, 9), d)
    closed = mixed_model(df, d)
    assert closed.attrs["method"] == "closed_form"
    base = df[df["week"] == 0].set_index("patient")["pain"]
    post = df[df["week"] > 0].sort_values(["patient", "week"])
    x = np.column_stack(
        [np.ones(len(post)), (post["arm"] == "a").to_numpy(float)]
        + [(post["arm"] == "b").to_numpy(float), post["patient"].map(base).to_numpy(float)]
        + [(post["week"] == w).to_numpy(float) for w in (2, 4, 8)]
        + [
            ((post["arm"] == a) & (post["week"] == w)).to_numpy(float)
            for a in "ab"
            for w in (2, 4, 8)
        ]
        + [(post["center"] == c).to_numpy(float) for c in ("c1", "c2")]
    )
    prof = random_intercept_reml(post["pain"].to_numpy(float), x, pd.factorize(post["patient"])[0])
    assert prof is not None
    assert prof.params[1] == pytest.approx(closed["estimate"].iloc[0], rel=1e-9)
    assert np.sqrt(prof.cov[1, 1]) == pytest.approx(closed["se"].iloc[0], rel=1e-7)
    assert prof.tau2 == pytest.approx(closed.attrs["variance_components"]["patient"], rel=1e-7)


def _design5(**sim):
    return load_design(
        {
            "name": "nested",
            "arms": [{"name": "sham", "sham": True}, {"name": "a"}, {"name": "b"}],
            "centers": [{"name": f"c{k}"} for k in range(5)],
            "outcome": {
                "visits": [0, 2, 4, 8, 12],
                "primary_week": 12,
                "scale_min": -100,
                "scale_max": 100,
            },
            "analysis": {"primary": "mixed", "center": "random"},
            "simulation": {"clip": False, **sim},
        }
    )


def _nested_statsmodels(df: pd.DataFrame):
    import statsmodels.formula.api as smf

    base = df[df["week"] == 0].set_index("patient")["pain"]
    post = df[df["week"] > 0].assign(baseline=lambda t: t["patient"].map(base))
    return smf.mixedlm(
        "pain ~ C(arm, Treatment('sham')) * C(week, Treatment(12.0)) + baseline",
        post,
        groups="center",
        re_formula="1",
        vc_formula={"patient": "0 + C(patient)"},
    )


@pytest.mark.parametrize(
    ("seed", "sim"),
    [
        (2, {"center_sd": 1.0, "dropout": 0.0}),
        (6, {"center_sd": 1.0, "icc": 0.3, "rho": 0.3}),
    ],
)
def test_random_center_profiled_reml_equals_statsmodels(seed, sim):
    d = _design5(**sim)
    df = prepare(ParametricTrialModel(d).simulate(20, seed), d)
    res = mixed_model(df, d)
    assert res.attrs["method"] == "profiled_reml"
    assert res.attrs["se_method"] == "hessian"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fit = _nested_statsmodels(df).fit(reml=True, method="bfgs", gtol=1e-10)
    center = float(np.asarray(fit.cov_re)[0, 0])
    assert center > 0.1  # interior optimum in these data
    for i, arm in enumerate(["a", "b"]):
        key = f"C(arm, Treatment('sham'))[T.{arm}]"
        assert res["estimate"].iloc[i] == pytest.approx(fit.fe_params[key], rel=1e-6)
        assert res["se"].iloc[i] == pytest.approx(fit.bse_fe[key], rel=1e-5)
    vc = res.attrs["variance_components"]
    assert vc["residual"] == pytest.approx(fit.scale, rel=1e-5)
    assert vc["center"] == pytest.approx(center, rel=1e-5)
    assert vc["patient"] == pytest.approx(float(fit.vcomp[0]), rel=1e-5)


def test_random_center_at_zero_is_the_reml_optimum():
    """No center effect: REML puts the center variance at 0. statsmodels stops short
    there (|grad| > 0); its own REML log-likelihood is higher at our solution."""
    from statsmodels.regression.mixed_linear_model import MixedLMParams

    d = _design5(center_sd=0.0)
    df = prepare(ParametricTrialModel(d).simulate(20, 5), d)
    res = mixed_model(df, d)
    vc = res.attrs["variance_components"]
    assert res.attrs["method"] == "profiled_reml" and vc["center"] == 0.0
    assert res.attrs["se_method"] == "gls"
    model = _nested_statsmodels(df)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fit = model.fit(reml=True)

    def loglike(center: float, patient: float) -> float:
        par = MixedLMParams.from_components(
            fe_params=np.asarray(fit.fe_params),
            cov_re=np.array([[center]]),
            vcomp=np.array([patient]),
        )
        return float(model.loglike(par, profile_fe=True))

    ours = loglike(1e-8, vc["patient"] / vc["residual"])
    theirs = loglike(float(np.asarray(fit.cov_re)[0, 0]) / fit.scale, fit.vcomp[0] / fit.scale)
    assert ours >= theirs
    # and moving the center variance away from 0 only lowers it
    for c in (1e-3, 1e-2, 0.1):
        assert loglike(c, vc["patient"] / vc["residual"]) < ours


def test_fast_false_uses_statsmodels():
    for center in ("random", "fixed"):
        d = _design(center=center)
        df = prepare(ParametricTrialModel(d).simulate(15, 1), d)
        assert mixed_model(df, d, fast=False).attrs["method"] == "statsmodels"


def test_benchmark_trials_fast_path_never_worse_than_statsmodels():
    """On benchmark-sized trials (200 patients, 12 visits, 4 random centers, dropout)
    the fast fit's REML log-likelihood is never below statsmodels' tight fit, and at
    interior optima estimates and SEs agree to 1e-6 relative."""
    from statsmodels.regression.mixed_linear_model import MixedLMParams

    d = load_design(
        {
            "name": "bench",
            "arms": [{"name": "sham", "sham": True}, {"name": "active"}],
            "centers": [{"name": f"center{k}"} for k in range(1, 5)],
            "outcome": {"visits": list(range(13)), "primary_week": 12},
            "analysis": {"primary": "mixed", "center": "random"},
            "simulation": {"effects": {"active": -1.5}},
        }
    )
    sim = ParametricTrialModel(d)
    key = "C(arm, Treatment('sham'))[T.active]"
    for child in np.random.SeedSequence(7).spawn(6):
        df = prepare(sim(100, np.random.default_rng(child)), d)
        res = mixed_model(df, d)
        vc = res.attrs["variance_components"]
        model = _nested_statsmodels(df)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            fit = model.fit(reml=True, method="bfgs", gtol=1e-10)

        def loglike(center: float, patient: float, m=model, f=fit) -> float:
            par = MixedLMParams.from_components(
                fe_params=np.asarray(f.fe_params),
                cov_re=np.array([[max(center, 1e-8)]]),
                vcomp=np.array([patient]),
            )
            return float(m.loglike(par, profile_fe=True))

        s2 = vc["residual"]
        ours = loglike(vc["center"] / s2, vc["patient"] / s2)
        theirs = loglike(float(np.asarray(fit.cov_re)[0, 0]) / fit.scale, fit.vcomp[0] / fit.scale)
        assert ours >= theirs - 1e-8
        if res.attrs["se_method"] == "hessian":
            assert res["estimate"].iloc[0] == pytest.approx(fit.fe_params[key], rel=1e-6)
            assert res["se"].iloc[0] == pytest.approx(fit.bse_fe[key], rel=1e-6)
