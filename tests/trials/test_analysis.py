"""Analysis numbers against independent hand computations (numpy/scipy) and statsmodels."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from phantomlab.exceptions import InputError
from phantomlab.trials import (
    ParametricTrialModel,
    analyze,
    ancova,
    change_from_baseline,
    consort_counts,
    load_design,
    mixed_model,
    nnt,
    prepare,
    responder_analysis,
    to_wide,
)
from phantomlab.trials.design import example_design


def _design(**kw):
    base = {
        "arms": [{"name": "sham", "sham": True}, {"name": "active"}],
        "outcome": {"visits": [0, 2, 4, 6], "primary_week": 6},
        "n_per_arm": 40,
    }
    base.update(kw)
    return load_design(base)


@pytest.fixture(scope="module")
def multicenter():
    d = example_design("multicenter_sham")
    data = ParametricTrialModel(d).simulate(60, 123)
    return d, data


def test_ancova_matches_hand_normal_equations(multicenter):
    d, data = multicenter
    wide = to_wide(prepare(data, d), d).dropna(subset=["baseline", "primary"])
    res = ancova(wide, d).iloc[0]
    # independent: normal equations with numpy, centers as dummies (center1 = reference)
    x = np.column_stack(
        [
            np.ones(len(wide)),
            (wide["arm"] == "active").to_numpy(float),
            wide["baseline"].to_numpy(float),
        ]
        + [(wide["center"] == f"center{k}").to_numpy(float) for k in (2, 3, 4)]
    )
    y = wide["primary"].to_numpy(float)
    xtx_inv = np.linalg.inv(x.T @ x)
    beta = xtx_inv @ x.T @ y
    dfree = len(y) - x.shape[1]
    s2 = np.sum((y - x @ beta) ** 2) / dfree
    se = np.sqrt(s2 * xtx_inv[1, 1])
    t = stats.t.ppf(0.975, dfree)
    assert res["estimate"] == pytest.approx(beta[1], rel=1e-10)
    assert res["se"] == pytest.approx(se, rel=1e-10)
    assert res["df"] == dfree
    assert res["ci_low"] == pytest.approx(beta[1] - t * se, rel=1e-10)
    assert res["p"] == pytest.approx(2 * stats.t.sf(abs(beta[1] / se), dfree), rel=1e-8)


def test_change_matches_scipy_ttest(multicenter):
    d, data = multicenter
    wide = to_wide(prepare(data, d), d)
    res = change_from_baseline(wide, d).iloc[0]
    a = wide.loc[wide["arm"] == "active", "change"].dropna()
    c = wide.loc[wide["arm"] == "sham", "change"].dropna()
    ref = stats.ttest_ind(a, c, equal_var=True)
    assert res["estimate"] == pytest.approx(a.mean() - c.mean(), rel=1e-12)
    assert res["estimate"] / res["se"] == pytest.approx(ref.statistic, rel=1e-10)
    assert res["p"] == pytest.approx(ref.pvalue, rel=1e-8)


def test_mixed_model_equals_between_within_decomposition():
    """Balanced complete data, random patient intercept: the GLS arm effect at the
    primary visit is (ANCOVA of patient means on arm + baseline) + (difference of
    the arms' mean within-patient deviations at the primary visit), whatever the
    variance components (compound symmetry decouples between and within parts)."""
    d = _design(
        simulation={"dropout": 0.0, "clip": False},
        outcome={"visits": [0, 2, 4, 6], "primary_week": 6, "scale_min": -100, "scale_max": 100},
    )
    data = prepare(ParametricTrialModel(d).simulate(30, 7), d)
    res = mixed_model(data, d).iloc[0]
    post = data[data["week"] > 0]
    means = post.groupby("patient")["pain"].mean()
    dev = post.assign(dev=post["pain"] - post["patient"].map(means))
    wide = to_wide(data, d)
    x = np.column_stack(
        [
            np.ones(len(wide)),
            (wide["arm"] == "active").to_numpy(float),
            wide["baseline"].to_numpy(float),
        ]
    )
    b_between = np.linalg.lstsq(x, means.loc[wide.index].to_numpy(), rcond=None)[0][1]
    at6 = dev[dev["week"] == 6].groupby("arm")["dev"].mean()
    expected = b_between + at6["active"] - at6["sham"]
    assert res["estimate"] == pytest.approx(expected, abs=1e-8)


def test_mixed_model_random_center_matches_statsmodels_formula(multicenter):
    import statsmodels.formula.api as smf

    d, _ = multicenter
    d = d.model_copy(
        update={
            "analysis": d.analysis.model_copy(update={"center": "random"}),
            "simulation": d.simulation.model_copy(update={"center_sd": 1.5}),
        }
    )
    df = prepare(ParametricTrialModel(d).simulate(40, 5), d)
    res = mixed_model(df, d)
    assert res.attrs["converged"]
    base = df[df["week"] == 0].set_index("patient")["pain"]
    post = df[df["week"] > 0].assign(baseline=lambda t: t["patient"].map(base))
    post = post.assign(
        act=(post["arm"] == "active").astype(float),
        wk=pd.Categorical(post["week"], categories=[12.0] + [w for w in range(1, 12)]),
    )
    fit = smf.mixedlm(
        "pain ~ act * C(wk) + baseline",
        post,
        groups="center",
        re_formula="1",
        vc_formula={"patient": "0 + C(patient)"},
    ).fit(reml=True)
    assert fit.converged
    assert res["estimate"].iloc[0] == pytest.approx(fit.fe_params["act"], abs=2e-4)
    assert res["se"].iloc[0] == pytest.approx(fit.bse_fe["act"], rel=2e-3)
    vc = res.attrs["variance_components"]
    assert vc["patient"] == pytest.approx(float(fit.vcomp[0]), rel=1e-2)


def test_nnt_altman_hand_computation():
    # 30/60 vs 15/60 responders: RD = 0.25
    r = nnt(30, 60, 15, 60)
    se = np.sqrt(0.5 * 0.5 / 60 + 0.25 * 0.75 / 60)
    lo, hi = 0.25 - 1.959963984540054 * se, 0.25 + 1.959963984540054 * se
    assert r.risk_difference == pytest.approx(0.25)
    assert r.rd_ci == pytest.approx((lo, hi), rel=1e-10)
    assert r.nnt == pytest.approx(4.0)
    assert r.nnt_ci == pytest.approx((1 / hi, 1 / lo), rel=1e-10)
    assert r.text.startswith("NNTB 4.0 (")
    # second method for the risk-difference CI: statsmodels (Wald)
    from statsmodels.stats.proportion import confint_proportions_2indep

    ci = confint_proportions_2indep(30, 60, 15, 60, method="wald", compare="diff")
    assert r.rd_ci == pytest.approx(ci, rel=1e-10)


def test_nnt_interval_through_infinity():
    r = nnt(12, 40, 10, 40)  # RD = 0.05, CI includes 0 -> NNTB .. inf .. NNTH
    assert r.rd_ci[0] < 0 < r.rd_ci[1]
    assert r.nnt == pytest.approx(20.0)
    assert "inf" in r.text and "NNTH" in r.text
    assert nnt(5, 40, 15, 40).text.startswith("NNTH")
    with pytest.raises(InputError):
        nnt(5, 4, 1, 4)


def _hand_data():
    # 4 patients per arm; sham patients 3 and 4 miss week 6, active patient 8 misses baseline
    rows = []
    base = {1: 8, 2: 6, 3: 5, 4: 7, 5: 8, 6: 6, 7: 10, 8: 5}
    prim = {1: 6, 2: 3, 5: 2, 6: 3, 7: 5, 8: 1}
    for p in range(1, 9):
        arm = "sham" if p <= 4 else "active"
        if p != 8:
            rows.append((p, arm, 0, base[p]))
        rows.append((p, arm, 2, base[p] - 1))
        if p in prim:
            rows.append((p, arm, 6, prim[p]))
    return pd.DataFrame(rows, columns=["patient", "arm", "week", "pain"])


def test_responders_and_consort_by_hand():
    d = _design()
    data = prepare(_hand_data(), d)
    resp = responder_analysis(to_wide(data, d), d).set_index(["threshold", "arm"])
    # reductions: sham 1: 25%, 2: 50%, 3, 4 missing -> non-responders
    # active 5: 75%, 6: 50%, 7: 50%, 8: no baseline -> not counted
    assert resp.loc[(0.3, "sham"), ["responders", "n"]].tolist() == [1, 4]
    assert resp.loc[(0.5, "sham"), ["responders", "n"]].tolist() == [1, 4]
    assert resp.loc[(0.3, "active"), ["responders", "n"]].tolist() == [3, 3]
    assert resp.loc[(0.3, "active"), "risk_difference"] == pytest.approx(1 - 0.25)
    c = consort_counts(data, d)
    assert c.loc["sham"].tolist() == [4, 4, 2, 2, 2, 4]
    assert c.loc["active"].tolist() == [4, 3, 4, 0, 3, 3]
    assert c.loc["total", "allocated"] == 8


def test_responders_exclude_missing():
    d = _design(analysis={"missing_responder": "exclude"})
    data = prepare(_hand_data(), d)
    resp = responder_analysis(to_wide(data, d), d).set_index(["threshold", "arm"])
    assert resp.loc[(0.3, "sham"), ["responders", "n"]].tolist() == [1, 2]


def test_prepare_reports_every_problem():
    d = _design()
    bad = _hand_data()
    bad.loc[0, "arm"] = "placebo"
    bad.loc[1, "pain"] = 11
    bad.loc[2, "week"] = 3
    with pytest.raises(InputError) as ei:
        prepare(bad, d)
    fields = {p.field for p in ei.value.problems}
    assert {"data.arm", "data.pain", "data.week"} <= fields
    with pytest.raises(InputError) as ei:
        prepare(bad.drop(columns="pain"), d)
    assert ei.value.problems[0].field == "data.pain"
    dup = pd.concat([_hand_data(), _hand_data().iloc[:1]])
    with pytest.raises(InputError):
        prepare(dup, d)


def test_crossover_closed_form_and_mixed_model_agree_with_hand_t():
    d = example_design("crossover")
    d = d.model_copy(update={"simulation": d.simulation.model_copy(update={"dropout": 0.0})})
    data = ParametricTrialModel(d).simulate(15, 4)
    res = analyze(data, d)
    e = res.effects.set_index(["analysis", "contrast"])
    piv = data.pivot(index="patient", columns="period", values="pain")
    first = data[data["period"] == 1].set_index("patient")["arm"]
    dd = (piv[1] - piv[2]) / 2
    ab, ba = dd[first == "tdcs"], dd[first == "sham"]
    ref = stats.ttest_ind(ab, ba)
    est = ab.mean() - ba.mean()
    assert e.loc[("crossover", "tdcs - sham"), "estimate"] == pytest.approx(est, rel=1e-10)
    assert e.loc[("crossover", "tdcs - sham"), "p"] == pytest.approx(ref.pvalue, rel=1e-8)
    tot = piv[1] + piv[2]
    carry = stats.ttest_ind(tot[first == "tdcs"], tot[first == "sham"])
    assert e.loc[("crossover", "carry-over"), "p"] == pytest.approx(carry.pvalue, rel=1e-8)
    # complete 2x2 data: the mixed model's treatment estimate is the within-patient one
    assert e.loc[("mixed", "tdcs - sham"), "estimate"] == pytest.approx(est, abs=1e-8)
    assert res.consort.loc["total", "allocated"] == 30


def test_factorial_main_effects_match_hand_fit():
    d = example_design("factorial")
    data = ParametricTrialModel(d).simulate(40, 11)
    res = analyze(data, d, analyses=())
    wide = to_wide(prepare(data, d), d).dropna(subset=["baseline", "primary"])
    lev = {a.name: a.factors for a in d.arms}
    a = np.array([0.5 if lev[s]["mirror"] == "yes" else -0.5 for s in wide["arm"]])
    b = np.array([0.5 if lev[s]["rtms"] == "active" else -0.5 for s in wide["arm"]])
    x = np.column_stack([np.ones(len(a)), a, b, a * b, wide["baseline"].to_numpy(float)])
    beta = np.linalg.lstsq(x, wide["primary"].to_numpy(float), rcond=None)[0]
    e = res.effects.set_index("contrast")["estimate"]
    assert e["mirror: yes - no"] == pytest.approx(beta[1], rel=1e-10)
    assert e["rtms: active - sham"] == pytest.approx(beta[2], rel=1e-10)
    assert e["mirror x rtms"] == pytest.approx(beta[3], rel=1e-10)
    assert res.primary == "factorial"


def test_analyze_result_object(multicenter, tmp_path):
    import matplotlib

    matplotlib.use("Agg")
    d, data = multicenter
    res = analyze(data, d)
    assert set(res.effects["analysis"]) == {"change", "ancova", "mixed"}
    assert res.primary_effects["analysis"].tolist() == ["ancova"]
    text = res.summary()
    assert "CONSORT" in text and "NNT" in text
    assert len(res.to_frame()) == 3
    d2 = res.to_dict()
    assert d2["primary"] == "ancova" and len(d2["consort"]) == 3
    fig = res.plot()
    fig.savefig(tmp_path / "x.png")
    # a simulated effect of -1.5 lies inside the ANCOVA interval for this seed
    row = res.primary_effects.iloc[0]
    assert row["ci_low"] < -1.5 < row["ci_high"] or abs(row["estimate"] + 1.5) < 3 * row["se"]


def test_gls_covariance_matches_hessian_se_at_interior_optimum():
    """Second method for the mixed-model SE: model-based GLS covariance."""
    import statsmodels.api as sm

    from phantomlab.trials.analysis import gls_fe_cov

    rng = np.random.default_rng(3)
    n, t = 60, 4
    pid = np.repeat(np.arange(n), t)
    x = np.column_stack(
        [np.ones(n * t), np.repeat(rng.integers(0, 2, n), t), rng.normal(size=n * t)]
    )
    y = x @ [1.0, -0.5, 0.3] + np.repeat(rng.normal(0, 1.0, n), t) + rng.normal(0, 1.0, n * t)
    model = sm.MixedLM(y, x, pid)
    fit = model.fit(reml=True)
    se = np.sqrt(np.diag(gls_fe_cov(model, fit)))
    np.testing.assert_allclose(se, fit.bse_fe, rtol=1e-3)


def test_nnt_interval_published_examples():
    from phantomlab.trials.analysis import nnt_from_risk_difference

    # Altman 1998 (BMJ 317:1309) as quoted by Newcombe (BMJ rapid response, 1999):
    # ARR CI -5 % to +25 % inverts to NNTB 4 through infinity to NNTH 20.
    r = nnt_from_risk_difference(0.10, -0.05, 0.25)
    assert r.nnt_ci == pytest.approx((4.0, -20.0))
    assert "NNTB 4.0 to inf to NNTH 20.0" in r.text
    # Barrowman 2002 (CMAJ 166:1676): ARR 16.6 % (0.9 % to 32.2 %) -> NNT 6, CI 3.1 to 111.1
    r = nnt_from_risk_difference(0.166, 0.009, 0.322)
    assert round(r.nnt) == 6
    assert r.nnt_ci[0] == pytest.approx(3.1, abs=0.05)
    assert r.nnt_ci[1] == pytest.approx(111.1, abs=0.05)


@pytest.mark.parametrize(
    "rows",
    [
        [],
        [(1, "sham", 0, 5), (2, "active", 0, 6)],
        [(1, "sham", 0, 5), (1, "sham", 6, 4), (2, "active", 0, 6), (2, "active", 6, 5)],
    ],
)
def test_too_few_patients_is_a_clear_error(rows):
    d = _design()
    with pytest.raises(InputError) as ei:
        analyze(pd.DataFrame(rows, columns=["patient", "arm", "week", "pain"]), d)
    assert "too few" in ei.value.problems[0].message


def test_consort_counts_randomized_patients_without_data():
    d = _design()
    alloc = pd.DataFrame(
        {
            "patient": [1, 2, 3, 4, 9, 5, 6, 7, 8, 10],
            "allocation": ["sham"] * 5 + ["active"] * 5,
        }
    )
    res = analyze(_hand_data(), d, allocated=alloc)
    c = res.consort
    assert c.loc["sham", "allocated"] == 5 and c.loc["active", "allocated"] == 5
    assert c.loc["sham", "lost_to_follow_up"] == 3  # patients 3, 4 and 9 (no data at all)
    with pytest.raises(InputError):
        analyze(_hand_data(), d, allocated=alloc.iloc[:3])
    swapped = alloc.assign(allocation=["active"] + ["sham"] * 4 + ["active"] * 5)
    with pytest.raises(InputError) as ei:
        analyze(_hand_data(), d, allocated=swapped)
    assert "ITT" in ei.value.problems[0].message
