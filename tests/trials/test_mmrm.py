"""MMRM (unstructured / AR(1) covariance, REML) against R's nlme::gls and analytic cases.

Reference: tests/trials/r_reference/make_reference.R on the committed trial.csv
(a 2-arm, 4-center trial with intermittent missed visits and dropout).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from phantomlab.exceptions import InputError
from phantomlab.trials import analyze, load_design, mmrm, prepare
from phantomlab.trials.mmrm import fit_mmrm, mmrm_design_matrix, satterthwaite_df

REF_DIR = Path(__file__).parent / "r_reference"
REF = json.loads((REF_DIR / "reference.json").read_text())
# our column names -> R's coefficient names
R_NAMES = {
    "(Intercept)": "(Intercept)",
    "arm[active]": "armactive",
    "week[4]": "visit4",
    "week[8]": "visit8",
    "arm[active]:week[4]": "armactive:visit4",
    "arm[active]:week[8]": "armactive:visit8",
    "baseline": "baseline",
    "baseline:week[4]": "visit4:baseline",
    "baseline:week[8]": "visit8:baseline",
    "severity[severe]": "severitysevere",
    "center[B]": "centerB",
    "center[C]": "centerC",
    "center[D]": "centerD",
}


@pytest.fixture(scope="module")
def design():
    return load_design(REF_DIR / "design.yaml")


@pytest.fixture(scope="module")
def data(design):
    return prepare(pd.read_csv(REF_DIR / "trial.csv"), design)


@pytest.mark.parametrize(("cov", "key"), [("unstructured", "mmrm_un"), ("ar1", "mmrm_ar1")])
def test_mmrm_matches_nlme_gls(design, data, cov, key):
    ref = REF[key]
    tab = mmrm(data, design, covariance=cov)
    row = tab.iloc[0]
    assert row["contrast"] == "active - sham"
    assert row["estimate"] == pytest.approx(ref["estimate"], abs=1e-6)
    assert row["se"] == pytest.approx(ref["se"], abs=1e-6)
    # nlme's REML log-likelihood (its optimizer stops ~3e-9 below ours for UN)
    assert tab.attrs["reml_loglik"] == pytest.approx(ref["reml_loglik"], abs=1e-6)
    assert tab.attrs["reml_loglik"] >= ref["reml_loglik"] - 1e-9
    coef = tab.attrs["coefficients"]
    assert set(coef) == set(R_NAMES)
    for ours, theirs in R_NAMES.items():
        assert coef[ours] == pytest.approx(ref["coef"][theirs], abs=1e-5), ours
    np.testing.assert_allclose(tab.attrs["sigma"], ref["sigma"], atol=5e-5)
    assert tab.attrs["converged"] and tab.attrs["n_patients"] == 83


def test_satterthwaite_df_within_emmeans_approximation(design, data):
    # emmeans has only an approximate Satterthwaite for gls (random numerical
    # perturbations): 20 seeded runs gave 66.90 to 68.00 (mean 67.27, SD 0.25)
    runs = np.array(REF["mmrm_un"]["appx_satterthwaite_df_runs"])
    df = mmrm(data, design).iloc[0]["df"]
    assert runs.min() <= df <= runs.max()
    assert abs(df - runs.mean()) < 3 * runs.std(ddof=1)
    assert round(df, 2) == 67.48  # docs/trials.md


def _complete_trial(n=40, t=3, seed=1):
    rng = np.random.default_rng(seed)
    arm = (np.arange(n) % 2).astype(float)
    b = rng.normal(6, 1, n)
    cov = [[1, 0.5, 0.3], [0.5, 1.2, 0.6], [0.3, 0.6, 1.5]]
    y = 1 + 0.7 * b[:, None] - arm[:, None] * np.array([0.3, 0.6, 1.0])
    y = y + rng.multivariate_normal(np.zeros(t), cov, size=n)
    return arm, b, y


def _visitwise_x(arm, b, pid, vidx, t):
    x = np.zeros((len(pid), 3 * t))
    for j in range(t):
        m = vidx == j
        x[m, 3 * j], x[m, 3 * j + 1], x[m, 3 * j + 2] = 1.0, arm[pid[m]], b[pid[m]]
    return x


def test_complete_data_unstructured_is_visitwise_ancova():
    # analytic case: complete data, every regressor interacted with visit, UN covariance
    # -> GLS = OLS per visit, REML Sigma = E'E/(n - 3), Satterthwaite df = n - 3 exactly
    import statsmodels.api as sm

    n, t = 40, 3
    arm, b, y = _complete_trial(n, t)
    pid, vidx = np.repeat(np.arange(n), t), np.tile(np.arange(t), n)
    x = _visitwise_x(arm, b, pid, vidx, t)
    fit = fit_mmrm(y.ravel(), x, pid, vidx, t)
    resid = []
    for j in range(t):
        ols = sm.OLS(y[:, j], np.column_stack([np.ones(n), arm, b])).fit()
        assert fit.beta[3 * j + 1] == pytest.approx(ols.params[1], abs=1e-9)
        assert np.sqrt(fit.cov_beta[3 * j + 1, 3 * j + 1]) == pytest.approx(ols.bse[1], rel=1e-6)
        resid.append(ols.resid)
    e = np.column_stack(resid)
    np.testing.assert_allclose(fit.sigma, e.T @ e / (n - 3), rtol=1e-6)
    c = np.zeros(3 * t)
    c[3 * (t - 1) + 1] = 1.0
    assert satterthwaite_df(fit, c, y.ravel(), x, pid, vidx) == pytest.approx(n - 3, rel=1e-6)


def test_mar_dropout_mmrm_unbiased_completers_biased():
    # science check: dropout depends on the last observed pain (MAR). The MMRM uses the
    # incomplete patients through the likelihood and recovers the true effect (-1.0);
    # the ablation (completers only, the same per-visit model) is biased.
    n, t = 4000, 3
    rng = np.random.default_rng(7)
    arm = (np.arange(n) % 2).astype(float)
    b = rng.normal(6, 1, n)
    sd, lag = np.array([1.0, 1.1, 1.2]), np.abs(np.subtract.outer(range(t), range(t)))
    e = rng.multivariate_normal(np.zeros(t), np.outer(sd, sd) * 0.8**lag, size=n)
    y = 1 + 0.7 * b[:, None] + arm[:, None] * np.array([-0.4, -0.7, -1.0]) + e
    obs = np.ones((n, t), bool)
    for j in range(1, t):
        p = 1 / (1 + np.exp(-(-2.0 + 1.5 * (y[:, j - 1] - 5.0))))
        obs[:, j] = obs[:, j - 1] & (rng.random(n) > p)
    j_arm = 3 * (t - 1) + 1
    pid, vidx = np.nonzero(obs)
    fit = fit_mmrm(y[pid, vidx], _visitwise_x(arm, b, pid, vidx, t), pid, vidx, t)
    se = np.sqrt(fit.cov_beta[j_arm, j_arm])
    assert abs(fit.beta[j_arm] + 1.0) < 2.5 * se
    assert (round(fit.beta[j_arm], 3), round(se, 3)) == (-0.953, 0.042)  # docs/trials.md
    done = obs.all(axis=1)
    keep = done[pid]
    cc = fit_mmrm(
        y[pid, vidx][keep],
        _visitwise_x(arm, b, pid[keep], vidx[keep], t),
        pid[keep],
        vidx[keep],
        t,
    )
    assert round(1 - done.mean(), 2) == 0.32
    assert (round(cc.beta[j_arm], 3), round(np.sqrt(cc.cov_beta[j_arm, j_arm]), 3)) == (
        -0.806,
        0.042,
    )
    bias_cc = abs(cc.beta[j_arm] + 1.0)
    assert bias_cc > 3 * np.sqrt(cc.cov_beta[j_arm, j_arm])
    assert bias_cc > 2 * abs(fit.beta[j_arm] + 1.0)


def test_analyze_with_mmrm_primary(design):
    raw = pd.read_csv(REF_DIR / "trial.csv")
    d = load_design(design.model_dump() | {"analysis": {"primary": "mmrm"}})
    res = analyze(raw, d)
    assert res.primary == "mmrm"
    prim = res.primary_effects
    assert prim.iloc[0]["estimate"] == pytest.approx(REF["mmrm_un"]["estimate"], abs=1e-6)
    assert set(res.effects["analysis"]) == {"change", "ancova", "mixed", "mmrm"}


def test_design_matrix_codes_primary_visit_as_reference(design, data):
    rows, x, names, visits = mmrm_design_matrix(data, design)
    assert visits == [4.0, 8.0, 12.0] and "week[12]" not in " ".join(names)
    assert x.shape == (REF["mmrm_un"]["n_obs"], len(R_NAMES))


def test_too_few_patients_for_unstructured(design, data):
    few = data[data["patient"].isin(sorted(data["patient"].unique())[:16])]
    with pytest.raises(InputError) as exc:
        mmrm(few, design)
    assert len(exc.value.problems) == 1
    assert "too few patients for an MMRM with unstructured covariance" in str(exc.value)


def test_visit_pair_never_observed_together(design, data):
    # nobody seen at both weeks 4 and 12: the unstructured covariance is not estimable
    drop = (data["week"] == 12) & data["patient"].isin(data.loc[data["week"] == 4, "patient"])
    with pytest.raises(InputError, match="try ar1"):
        mmrm(data[~drop], design)


def test_cli_analyses_mmrm_and_bad_name(run):
    args = ["analyze", str(REF_DIR / "trial.csv"), "--design", str(REF_DIR / "design.yaml")]
    out = run(*args, "--analyses", "ancova,mmrm", "--json")
    assert out.returncode == 0, out.stderr
    eff = {r["analysis"]: r for r in json.loads(out.stdout)["effects"]}
    assert eff["mmrm"]["estimate"] == pytest.approx(REF["mmrm_un"]["estimate"], abs=1e-6)
    bad = run(*args, "--analyses", "ancova,anova")
    assert bad.returncode == 2 and "analyses" in bad.stderr
    assert "Traceback" not in bad.stderr + bad.stdout
