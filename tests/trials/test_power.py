"""Power: R pwr reference values, simulation vs analytic, batched ANCOVA vs statsmodels."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from phantomlab.exceptions import InputError
from phantomlab.trials import (
    ParametricTrialModel,
    analytic_power,
    batched_ancova,
    load_design,
    parse_n_range,
    power_curve,
    simulated_power,
)
from phantomlab.trials.design import example_design

WIDE = {"scale_min": -100, "scale_max": 100, "visits": [0, 4, 8], "primary_week": 8}


def _design(effect, sd=1.0, rho=0.0, ratio=(1, 1), primary="ancova", **sim):
    return load_design(
        {
            "arms": [
                {"name": "sham", "sham": True, "ratio": ratio[0]},
                {"name": "active", "ratio": ratio[1]},
            ],
            "randomization": {"block_sizes": [sum(ratio)]},
            "outcome": WIDE,
            "analysis": {"primary": primary},
            "simulation": {
                "effects": {"active": effect},
                "sd": sd,
                "rho": rho,
                "icc": max(rho**2, 0.5),
                "dropout": 0.0,
                "clip": False,
                **sim,
            },
        }
    )


# R pwr values (statsmodels test_power.py, research/stats.md section 3.2)
@pytest.mark.parametrize(
    ("d", "n", "ratio", "expected"),
    [
        (1.0, 30, (1, 1), 0.967708258242517),  # pwr.t.test(d=1, n=30)
        (0.1, 20, (1, 1), 0.06095912465411235),  # pwr.t.test(d=0.1, n=20)
        (0.1, 10, (3, 2), 0.0633081832564667),  # pwr.t2n.test(d=0.1, n1=20, n2=30)
    ],
)
def test_analytic_matches_r_pwr(d, n, ratio, expected):
    design = _design(-d, ratio=ratio)
    assert analytic_power(design, n)[0] == pytest.approx(expected, rel=1e-10)


def test_ancova_design_factor_and_change_variance():
    # ANCOVA: residual SD = sd * sqrt(1 - rho^2); rho = 0.6 -> SD 0.8, so effect 0.8 is d = 1
    design = _design(-0.8, rho=0.6)
    assert analytic_power(design, 30)[0] == pytest.approx(0.967708258242517, rel=1e-10)
    # change: Var = sd^2 + bsd^2 - 2 rho sd bsd with sd = bsd = 1, rho = 0.5 -> SD 1
    ch = _design(-1.0, rho=0.5, primary="change", baseline_sd=1.0)
    assert analytic_power(ch, 30)[0] == pytest.approx(0.967708258242517, rel=1e-10)


def test_dropout_scales_n():
    a = analytic_power(_design(-1.0, dropout=0.25), 40)[0]
    assert a == pytest.approx(analytic_power(_design(-1.0), 30)[0], rel=1e-12)


def test_batched_ancova_equals_statsmodels_ols():
    import statsmodels.api as sm

    rng = np.random.default_rng(0)
    r, n = 5, 30
    treat = np.repeat([0.0, 1.0], n // 2)
    base = rng.normal(size=(r, n))
    extra = rng.normal(size=(n, 2))
    y = 0.5 * treat + 0.3 * base + rng.normal(size=(r, n))
    mask = rng.random((r, n)) > 0.2
    est, se, dfree = batched_ancova(y, treat, base, extra, mask)
    for k in range(r):
        m = mask[k]
        x = np.column_stack([np.ones(m.sum()), treat[m], base[k, m], extra[m]])
        fit = sm.OLS(y[k, m], x).fit()
        assert est[k] == pytest.approx(fit.params[1], rel=1e-10)
        assert se[k] == pytest.approx(fit.bse[1], rel=1e-10)
        assert dfree[k] == fit.df_resid


def test_simulated_power_agrees_with_analytic():
    design = _design(-0.45, sd=1.0, rho=0.5, center_sd=0.0)
    n_sims = 4000
    sim = simulated_power(design, [30, 60], n_sims=n_sims, rng=2024)
    ana = analytic_power(design, [30, 60])
    mc = np.sqrt(ana * (1 - ana) / n_sims)
    assert np.all(np.abs(sim - ana) < 4 * mc + 0.005)


def test_type_one_error_under_null():
    design = _design(0.0, sd=2.0, rho=0.5)
    sim = simulated_power(design, 25, n_sims=4000, rng=5)[0]
    assert abs(sim - 0.05) < 4 * np.sqrt(0.05 * 0.95 / 4000)


def test_simulated_power_reproducible():
    design = example_design("multicenter_sham")
    a = simulated_power(design, [20, 40], n_sims=300, rng=9)
    b = simulated_power(design, [20, 40], n_sims=300, rng=9)
    np.testing.assert_array_equal(a, b)


def test_any_simulate_callable_plugs_in():
    design = _design(-1.0, sd=1.0)
    calls = []

    def simulate(n_per_arm: int, rng: np.random.Generator) -> pd.DataFrame:
        calls.append(n_per_arm)
        n = 2 * n_per_arm
        arm = np.repeat(["sham", "active"], n_per_arm)
        base = rng.normal(0, 1, n)
        y = base * 0 + np.where(arm == "active", -1.0, 0.0) + rng.normal(0, 1, n)
        pid = np.arange(n)
        return pd.DataFrame(
            {
                "patient": np.concatenate([pid, pid]),
                "arm": np.concatenate([arm, arm]),
                "week": np.repeat([0.0, 8.0], n),
                "pain": np.concatenate([base, y]),
            }
        )

    sim = simulated_power(design, 30, n_sims=120, rng=1, simulate=simulate)[0]
    assert calls == [30] * 120
    assert abs(sim - 0.9677) < 4 * np.sqrt(0.9677 * 0.0323 / 120) + 0.02
    again = simulated_power(design, 30, n_sims=120, rng=1, simulate=simulate)[0]
    assert sim == again


def test_crossover_power_simulated_vs_analytic():
    design = example_design("crossover")
    design = design.model_copy(
        update={
            "simulation": design.simulation.model_copy(update={"clip": False, "dropout": 0.0}),
            "outcome": design.outcome.model_copy(update={"scale_min": -100, "scale_max": 100}),
        }
    )
    ana = analytic_power(design, 12)[0]
    sim = simulated_power(design, 12, n_sims=300, rng=3)[0]
    assert abs(sim - ana) < 4 * np.sqrt(ana * (1 - ana) / 300) + 0.01


def test_batched_crossover_equals_crossover_analysis():
    from phantomlab.trials import analyze
    from phantomlab.trials.power import crossover_pvalues

    design = example_design("crossover")
    model = ParametricTrialModel(design)
    _, center, arms, y, obs = model.crossover_arrays(10, 6, n_reps=4)
    est, p = crossover_pvalues(arms, y, obs, "sham")
    for r in range(4):
        n = arms.shape[0]
        frame = pd.DataFrame(
            {
                "patient": np.repeat(np.arange(n), 2),
                "arm": arms.ravel(),
                "period": np.tile([1, 2], n),
                "pain": y[r].ravel(),
            }
        )[obs[r].ravel()]
        e = analyze(frame, design, analyses=("crossover",)).effects.set_index("contrast")
        assert est[r] == pytest.approx(e.loc["tdcs - sham", "estimate"], rel=1e-10)
        assert p[r] == pytest.approx(e.loc["tdcs - sham", "p"], rel=1e-8)


def test_factorial_power_fast_path():
    design = example_design("factorial")
    design = design.model_copy(
        update={
            "simulation": design.simulation.model_copy(update={"clip": False, "dropout": 0.0}),
            "outcome": design.outcome.model_copy(update={"scale_min": -100, "scale_max": 100}),
        }
    )
    # effects: mirror main effect = mean(-0.8, -2.0) - mean(0, -1.2) = -0.8
    sim = simulated_power(design, 40, n_sims=2000, rng=4)[0]
    ana = analytic_power(design, 40)[0]
    assert abs(sim - ana) < 4 * np.sqrt(ana * (1 - ana) / 2000) + 0.01


def test_power_result_object(tmp_path):
    import matplotlib

    matplotlib.use("Agg")
    res = power_curve(example_design("multicenter_sham"), [20, 40, 60], n_sims=200, rng=1)
    f = res.to_frame()
    assert list(f.columns) == ["n_per_arm", "analytic", "simulated", "mc_se"]
    assert np.all(np.diff(res.analytic) > 0)
    assert "analytic" in res.summary()
    res.plot().savefig(tmp_path / "p.png")
    assert res.to_dict()["rows"][0]["n_per_arm"] == 20


def test_parse_n_range():
    assert parse_n_range("20:200:20") == list(range(20, 201, 20))
    assert parse_n_range("30") == [30]
    assert parse_n_range("10,20") == [10, 20]
    for bad in ("x", "20:10", "1", "5:10:0", ""):
        with pytest.raises(InputError):
            parse_n_range(bad)


def test_model_moments():
    """The parametric model has the documented SD, correlations and effect."""
    design = _design(-1.0, sd=2.0, rho=0.5, baseline_sd=1.5, center_sd=0.0, placebo_change=0.0)
    s = ParametricTrialModel(design).simulate_arrays(500, 1, n_reps=20)
    b, y = s.baseline, s.y  # y: visits 4, 8 (onset 2 weeks -> full effect)
    ctrl = s.arm == 0
    assert np.std(y[:, ctrl, 1]) == pytest.approx(2.0, rel=0.02)
    assert np.corrcoef(b[:, ctrl].ravel(), y[:, ctrl, 1].ravel())[0, 1] == pytest.approx(
        0.5, abs=0.02
    )
    assert np.corrcoef(y[:, ctrl, 0].ravel(), y[:, ctrl, 1].ravel())[0, 1] == pytest.approx(
        0.5, abs=0.02
    )
    diff = y[:, ~ctrl, 1].mean() - y[:, ctrl, 1].mean()
    assert diff == pytest.approx(-1.0, abs=0.05)


def test_carryover_biases_the_2x2_estimate_by_theory():
    """With carry-over lambda of the active effect into period 2 (none from sham),
    the period-difference estimator has mean effect * (1 - lambda / 2)."""
    from phantomlab.trials.power import crossover_pvalues

    design = example_design("crossover")  # washout 2 weeks
    sim = design.simulation.model_copy(
        update={"clip": False, "dropout": 0.0, "carryover": 0.8, "carryover_half_life": "2 week"}
    )
    design = design.model_copy(
        update={
            "simulation": sim,
            "outcome": design.outcome.model_copy(update={"scale_min": -100, "scale_max": 100}),
        }
    )
    lam = 0.8 * 0.5  # one half-life of washout
    _, _, arms, y, obs = ParametricTrialModel(design).crossover_arrays(20, 1, n_reps=4000)
    est, _ = crossover_pvalues(arms, y, obs, "sham")
    se = est.std(ddof=1) / np.sqrt(est.size)
    assert est.mean() == pytest.approx(-1.2 * (1 - lam / 2), abs=4 * se)
    assert abs(est.mean() + 1.2) > 8 * se  # the bias is real


def test_tiny_trials_count_as_not_significant_but_bad_simulators_fail():
    design = _design(-1.0, dropout=0.9, primary="mixed")
    p = simulated_power(design, 2, n_sims=20, rng=1)[0]
    assert 0.0 <= p < 0.5

    def broken(n_per_arm: int, rng: np.random.Generator) -> pd.DataFrame:
        return pd.DataFrame({"patient": [1], "arm": ["sham"], "week": [0.0]})

    with pytest.raises(InputError):
        simulated_power(design, 10, n_sims=3, rng=1, simulate=broken)


@pytest.mark.slow
def test_mixed_model_power_by_simulation_near_ancova_formula():
    design = _design(-0.6, sd=1.0, rho=0.5, primary="mixed", center_sd=0.0)
    ana = analytic_power(design, 30)[0]
    sim = simulated_power(design, 30, n_sims=200, rng=12)[0]
    assert abs(sim - ana) < 0.12  # the mixed model uses all visits: approximate agreement
